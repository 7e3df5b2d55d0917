"""cache: parsed results kept between runs in one SQLite file, keyed by content.

A key names everything that determines its value (blob id, struct name, parser version,
config fingerprint), so an entry is never stale; a damaged file is detected and rebuilt.

Damage is looked for in two places. An open runs ``PRAGMA quick_check`` (which reads the
whole file: 0.2-0.3 s at 550 MB) only when the file is not as srcdiff left it: each clean close
writes the file's size, times and inode to a side file (``cache.sqlite-clean``), and an open
that finds them unchanged skips the check. Writes through SQLite by anyone keep the file
consistent; what the side file catches is a change SQLite did not make (a truncated or
overwritten file, a copy, a restore). Damage that leaves those unchanged (a bad disk
sector), or that comes while a run has the file open, is met by a read or a write instead:
SQLite then raises "database disk image is malformed", and get/has/flush/info/clear warn
once and rebuild, as an open does.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from srcdiff import paths

SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    """$SRCDIFF_CACHE_DIR, else $XDG_CACHE_HOME/srcdiff, else ~/.cache/srcdiff."""
    return Path(paths.default_cache_dir())


def _is_busy(exc: Exception) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


def _is_damage(exc: Exception) -> bool:
    """Whether a failed write means the file is damaged (not busy, full or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return True
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg or "no such table" in msg


STAMP_SUFFIX = "-clean"


def _file_state(path: Path) -> dict[str, int] | None:
    """What the side file records of the cache file: any write to it changes one of these."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino, "dev": st.st_dev}


def _read_stamp(path: Path) -> dict[str, int] | None:
    try:
        with open(str(path) + STAMP_SUFFIX, encoding="utf-8") as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _write_stamp(path: Path, state: dict[str, int]) -> bool:
    """Record STATE as the file's state after a clean close; atomic (a reader sees the old
    side file or the new one, never half of one)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + STAMP_SUFFIX + ".", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, str(path) + STAMP_SUFFIX)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def _drop_stamp(path: Path) -> None:
    _stamped.pop(str(path), None)
    try:
        os.unlink(str(path) + STAMP_SUFFIX)
    except OSError:
        pass


# Side files this process wrote, and what it wrote in them. A run's result is stored in the
# file after its Cache is closed (srcdiff.fast._store, through SQLite), which then calls
# restamp: a side file still holding what this process wrote is brought up to date, so that
# write does not cost the next run a full check.
_stamped: dict[str, dict[str, int]] = {}


def restamp(path: Path) -> None:
    """After this process wrote PATH through SQLite outside a Cache (the result store):
    record its new state, unless another run has changed or dropped the side file since."""
    state = _stamped.get(str(path))
    if state is None or _read_stamp(path) != state:
        return
    now = _file_state(path)
    if now is not None and now != state and _write_stamp(path, now):
        _stamped[str(path)] = now


# Set when any Cache of this process warned (damaged, busy, unwritable): such a run's output
# describes that run, and the result store (fast.py) must not replay it.
troubled = False


class Cache:
    """Key/value store of JSON values in namespaces. ``Cache(None)`` keeps nothing.

    Writes are batched and committed atomically by ``flush`` (also at close); a reader
    never sees half a batch. Several processes may use one file at once (WAL mode).
    """

    def __init__(self, directory: Path | None, warn=None):
        self._mem: dict[tuple[str, str], Any] = {}
        self._absent: set[tuple[str, str]] = set()  # not stored when known() asked
        self._pending: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._rebuilt = False  # this Cache has warned about damage and rebuilt the file once
        self._clean = True  # no error but "busy" met in the open file: close may vouch for it
        self.full_checks = 0  # opens that ran quick_check (the side file did not match)
        say = warn or (lambda msg: print(f"srcdiff: warning: {msg}", file=sys.stderr))

        def _warn(msg: str) -> None:
            global troubled
            troubled = True
            say(msg)

        self._warn = _warn
        self.path: Path | None = None
        if directory is None:
            return
        self.path = Path(directory) / "cache.sqlite"
        _stamped.pop(str(self.path), None)  # in use again: its close says whether it is clean
        try:
            self._db = self._open_patiently()
        except OSError as exc:  # no such directory, read-only file system: nothing to rebuild
            self._warn(f"cannot use cache {self.path} ({exc.strerror or exc}); running without it")
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):  # another run holds it for longer than we wait: not damage
                self._warn(f"cache {self.path} is busy ({exc}); running without it")
            else:
                self._warn(f"cache {self.path} is unusable ({exc}); rebuilding it")
                self._db = self._rebuild()

    def _open_patiently(self) -> sqlite3.Connection:
        """_open, retried while another process holds the file (creating tables, switching to
        WAL): a busy database is never mistaken for a damaged one."""
        for attempt in range(50):
            try:
                return self._open()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # As srcdiff left it (a clean close recorded this state), read before SQLite touches it.
        state = _file_state(self.path)
        trusted = state is not None and state == _read_stamp(self.path)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,"
                " PRIMARY KEY (ns, k)) WITHOUT ROWID"
            )
            # Whole outputs of earlier commands (srcdiff.fast), stored raw: read back unparsed.
            db.execute(
                "CREATE TABLE IF NOT EXISTS outputs (k TEXT PRIMARY KEY, code INTEGER NOT NULL,"
                " err TEXT NOT NULL, out TEXT NOT NULL)"
            )
            row = db.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
            if row is None:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                db.execute("DELETE FROM kv")
                db.execute("DELETE FROM outputs")
                db.execute("UPDATE meta SET v=? WHERE k='schema'", (str(SCHEMA_VERSION),))
            if not trusted:
                # Changed by something other than srcdiff (or never closed cleanly): a torn
                # or foreign file fails here rather than giving wrong answers later.
                self.full_checks += 1
                check = db.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self) -> sqlite3.Connection | None:
        assert self.path is not None
        self._rebuilt = True
        _drop_stamp(self.path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                Path(str(self.path) + suffix).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                return None
        try:
            return self._open()
        except (sqlite3.DatabaseError, OSError) as exc:
            self._warn(f"cannot use cache {self.path} ({exc}); running without it")
            return None

    def _damaged(self, db: sqlite3.Connection | None, exc: Exception) -> None:
        """DB met damage (EXC): warn once and rebuild the file. Later damage in the same
        Cache (a failing disk) stops it using the file, without a second warning."""
        with self._lock:
            if db is None or self._db is not db:
                return  # another thread met it first and has dealt with it
            self._clean = False
            try:
                db.close()
            except sqlite3.Error:
                pass
            self._db = None
            if self._rebuilt:
                return
            self._warn(f"cache {self.path} is damaged ({exc}); rebuilding it")
            self._db = self._rebuild()
            self._clean = self._db is not None  # a new file, no error met in it yet

    def _read_rows(self, sql: str, params: tuple = (), busy_raises: bool = False
                   ) -> list[tuple] | None:
        """Rows of one statement; None when there is no file to read, another run is writing
        it (busy: the caller computes instead; raised with BUSY_RAISES), or it is damaged
        (warned and rebuilt)."""
        db = None
        try:
            with self._lock:
                db = self._db
                if db is None:
                    return None
                return db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                if busy_raises:
                    raise
            else:
                self._damaged(db, exc)
            return None

    def get(self, ns: str, key: str) -> Any | None:
        """The JSON value stored under (NS, KEY), or None."""
        hit = self._mem.get((ns, key))
        if hit is not None or self._db is None or (ns, key) in self._absent:
            return hit
        db = self._db
        rows = self._read_rows("SELECT v FROM kv WHERE ns=? AND k=?", (ns, key))
        if not rows:
            return None
        try:
            value = json.loads(rows[0][0])
        except ValueError as exc:  # a value SQLite kept but that is not what srcdiff wrote
            self._damaged(db, exc)
            return None
        self._mem[(ns, key)] = value
        return value

    def has(self, ns: str, key: str) -> bool:
        """Whether a value is stored under (NS, KEY), without decoding it."""
        if (ns, key) in self._mem:
            return True
        if self._db is None or (ns, key) in self._absent:
            return False
        return bool(self._read_rows("SELECT 1 FROM kv WHERE ns=? AND k=?", (ns, key)))

    def known(self, ns: str, keys: list[str]) -> set[str]:
        """Which of KEYS have a value stored under NS, asked in a few queries instead of one
        per key; get and has answer the others without asking again (a value another run
        stores meanwhile is only computed twice)."""
        out = {k for k in keys if (ns, k) in self._mem}
        ask = [k for k in dict.fromkeys(keys) if k not in out and (ns, k) not in self._absent]
        for i in range(0, len(ask), 500):  # well under SQLite's limit on parameters
            chunk = ask[i : i + 500]
            rows = self._read_rows(
                f"SELECT k FROM kv WHERE ns=? AND k IN ({','.join('?' * len(chunk))})",
                (ns, *chunk))
            if rows is None:
                break  # no file, busy or damaged: the rest are looked up one by one, or computed
            found = {r[0] for r in rows}
            out |= found
            self._absent.update((ns, k) for k in chunk if k not in found)
        return out

    def put(self, ns: str, key: str, value: Any) -> None:
        self._mem[(ns, key)] = value
        if self._db is not None:
            self._pending.append((ns, key, json.dumps(value, separators=(",", ":"))))
            if len(self._pending) >= 500:
                self.flush()

    def _write(self, batch: list[tuple[str, str, str]]) -> sqlite3.Connection | None:
        """Commit BATCH in one transaction (all or nothing); the connection written to."""
        with self._lock:
            db = self._db
            if db is None:
                return None
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR REPLACE INTO kv VALUES (?,?,?)", batch)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                exc.srcdiff_db = db  # type: ignore[attr-defined]
                raise
        return db

    def flush(self) -> None:
        """Commit pending writes in one transaction (all or nothing). A batch that meets
        damage goes whole into the rebuilt file."""
        if self._db is None or not self._pending:
            return
        batch, self._pending = self._pending, []
        for _attempt in range(2):
            try:
                self._write(batch)
                return
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    self._clean = False
                    self._warn(f"could not write cache {self.path} ({exc}); results are not cached")
                    return
                self._damaged(getattr(exc, "srcdiff_db", None), exc)

    def close(self) -> None:
        self.flush()
        with self._lock:
            db, self._db = self._db, None
        if db is None:
            return
        db.close()  # the last connection to close checkpoints the WAL into the file
        assert self.path is not None
        if not self._clean:
            _drop_stamp(self.path)  # the next open checks the whole file
            return
        state = _file_state(self.path)
        if state is not None and _write_stamp(self.path, state):
            _stamped[str(self.path)] = state

    def _query(self, sql: str) -> list[tuple]:
        """All rows of SQL; damage met warns, rebuilds and answers from the rebuilt file; busy
        is raised (cache info/clear say so)."""
        for _attempt in range(2):
            rows = self._read_rows(sql, busy_raises=True)
            if rows is not None:
                return rows
        return []

    def info(self) -> dict[str, Any]:
        """Location, size and entry counts per namespace."""
        out: dict[str, Any] = {"path": str(self.path) if self.path else None, "entries": {}}
        if self._db is None or self.path is None:
            return out
        for ns, n in self._query("SELECT ns, count(*) FROM kv GROUP BY ns"):
            out["entries"][ns] = n
        out["entries"]["output"] = sum(n for (n,) in self._query("SELECT count(*) FROM outputs"))
        for table, what in (("idx_release", "index-release"), ("idx_blob", "index-file")):
            if self._query(f"SELECT 1 FROM sqlite_master WHERE name='{table}'"):
                rows = self._query(f"SELECT count(*) FROM {table}")
                out["entries"][what] = sum(n for (n,) in rows)
        size = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                size += p.stat().st_size
        out["bytes"] = size
        return out

    def clear(self) -> None:
        if self._db is not None:
            self._query("DELETE FROM kv")
            self._query("DELETE FROM outputs")
            for (table,) in self._query("SELECT name FROM sqlite_master WHERE type='table'"
                                        " AND name LIKE 'idx\\_%' ESCAPE '\\'"):
                self._query(f"DELETE FROM {table}")  # srcdiff index's tables
            self._query("VACUUM")
        self._mem.clear()
        self._pending.clear()
