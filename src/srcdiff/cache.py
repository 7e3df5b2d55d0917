"""cache: parsed results kept between runs in one SQLite file, keyed by content.

A key names everything that determines its value (blob id, struct name, parser version,
config fingerprint), so an entry is never stale; a damaged file is detected and rebuilt.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
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
        self._pending: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
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
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
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
        # A torn or foreign file fails here rather than giving wrong answers later.
        check = db.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        return db

    def _rebuild(self) -> sqlite3.Connection | None:
        assert self.path is not None
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

    def get(self, ns: str, key: str) -> Any | None:
        """The JSON value stored under (NS, KEY), or None."""
        hit = self._mem.get((ns, key))
        if hit is not None or self._db is None:
            return hit
        try:
            with self._lock:
                row = self._db.execute("SELECT v FROM kv WHERE ns=? AND k=?", (ns, key)).fetchone()
            if row is None:
                return None
            value = json.loads(row[0])
        except (sqlite3.DatabaseError, ValueError) as exc:
            if _is_busy(exc):
                return None  # another run is writing: compute this one instead
            self._warn(f"cache {self.path} is damaged ({exc}); rebuilding it")
            with self._lock:
                self._db = self._rebuild()
            return None
        self._mem[(ns, key)] = value
        return value

    def has(self, ns: str, key: str) -> bool:
        """Whether a value is stored under (NS, KEY), without decoding it."""
        if (ns, key) in self._mem:
            return True
        if self._db is None:
            return False
        try:
            with self._lock:
                row = self._db.execute("SELECT 1 FROM kv WHERE ns=? AND k=?", (ns, key)).fetchone()
        except sqlite3.DatabaseError:
            return False  # get() reports a damaged cache; here it only means "not known"
        return row is not None

    def put(self, ns: str, key: str, value: Any) -> None:
        self._mem[(ns, key)] = value
        if self._db is not None:
            self._pending.append((ns, key, json.dumps(value, separators=(",", ":"))))
            if len(self._pending) >= 500:
                self.flush()

    def flush(self) -> None:
        """Commit pending writes in one transaction (all or nothing)."""
        if self._db is None or not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?,?,?)", batch)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as exc:
            self._warn(f"could not write cache {self.path} ({exc}); results are not cached")

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def info(self) -> dict[str, Any]:
        """Location, size and entry counts per namespace."""
        out: dict[str, Any] = {"path": str(self.path) if self.path else None, "entries": {}}
        if self._db is None or self.path is None:
            return out
        for ns, n in self._db.execute("SELECT ns, count(*) FROM kv GROUP BY ns"):
            out["entries"][ns] = n
        out["entries"]["output"] = self._db.execute("SELECT count(*) FROM outputs").fetchone()[0]
        size = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                size += p.stat().st_size
        out["bytes"] = size
        return out

    def clear(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.execute("DELETE FROM kv")
                self._db.execute("DELETE FROM outputs")
                self._db.execute("VACUUM")
        self._mem.clear()
        self._pending.clear()
