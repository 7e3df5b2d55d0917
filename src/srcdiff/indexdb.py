"""indexdb: the index's tables and the questions they answer, with no git and no parser.

What ``srcdiff index`` (srcdiff.index) stores, read back: per release the files that define
something, per blob its definitions (configuration-free, each member with its guard). The
whole-repository questions (``structs --changed``, ``--has``) and the picking of a struct's
file are here so that srcdiff.quick can answer from the index without loading click, GitPython
or pycparser (each heavy import costs a fast answer more than its whole work).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from srcdiff.errors import SrcdiffError
from srcdiff.model import PARSER_VERSION, Field, StructDef

INDEX_VERSION = "5"
# the whole-repository answers' code (structs_changed, structs_having, their JSON): a change
# to either gives their stored answers new keys
ANSWER_VERSION = "1"
KEPT_ANSWERS = 256  # stored answers and parsed configurations kept, each (the newest)
HEADER_SUFFIXES = (".h", ".hh", ".hpp")
SOURCE_ONLY_SUFFIXES = (".c", ".cc", ".cpp", ".inc")
# scope of a release's entry: its headers only, or its sources too
HEADERS, ALL = "headers", "all"


def fingerprint(arch: str) -> str:
    """What determines a stored reading besides the blob: index and parser versions, --arch."""
    return f"i{INDEX_VERSION}|p{PARSER_VERSION}|{arch}"



class Release(NamedTuple):
    """A release as the questions need it (srcdiff.versions.Version has these too)."""

    tag: str
    commit: str


# ---------------------------------------------------------------------------------------------
# The store


class IndexStore:
    """The index's tables in the cache's SQLite file (WAL mode, shared with the cache).

    idx_blob: a blob read (its definitions, zlib-compressed JSON); idx_name: the names each
    blob defines, with what choosing among files needs; idx_release / idx_file: a release
    whose every file is in, and its map path -> blob for the files that define something."""

    def __init__(self, path: Path, fp: str):
        self.path = path
        self.fp = fp
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            row = self.db.execute("SELECT v FROM meta WHERE k='index_schema'").fetchone()
            if row is None or row[0] != INDEX_VERSION:
                self._tx(_drop_tables)  # another layout: its rows are not read, only dropped
            for ddl in (
                "CREATE TABLE IF NOT EXISTS idx_blob (fp TEXT NOT NULL, blob TEXT NOT NULL,"
                " n INTEGER NOT NULL, PRIMARY KEY (fp, blob)) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS idx_name (fp TEXT NOT NULL, blob TEXT NOT NULL,"
                " name TEXT NOT NULL, kind TEXT NOT NULL, alias INTEGER NOT NULL,"
                " nfields INTEGER NOT NULL, members TEXT NOT NULL, guarded INTEGER NOT NULL,"
                " shape TEXT NOT NULL, PRIMARY KEY (fp, blob, name)) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS idx_def (fp TEXT NOT NULL, blob TEXT NOT NULL,"
                " name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (fp, blob, name))",
                "CREATE INDEX IF NOT EXISTS idx_name_by_name ON idx_name (fp, name)",
                "CREATE TABLE IF NOT EXISTS idx_release (fp TEXT NOT NULL, commit_id TEXT NOT NULL,"
                " tag TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (fp, commit_id))",
                "CREATE TABLE IF NOT EXISTS idx_file (fp TEXT NOT NULL, commit_id TEXT NOT NULL,"
                " path TEXT NOT NULL, blob TEXT NOT NULL, PRIMARY KEY (fp, commit_id, path))"
                " WITHOUT ROWID",
                # the releases' files by blob: a struct's files at a release from its name alone
                "CREATE INDEX IF NOT EXISTS idx_file_by_blob ON idx_file (fp, blob, commit_id)",
                # facts about objects and refs that srcdiff.quick needs without git (see there)
                "CREATE TABLE IF NOT EXISTS idx_fact (k TEXT PRIMARY KEY, v TEXT NOT NULL)"
                " WITHOUT ROWID",
                # answers of structs --changed / --has under a key of all that fixes them
                "CREATE TABLE IF NOT EXISTS idx_answer (k TEXT PRIMARY KEY, data BLOB NOT NULL)",
                # parsed .config files by the sha256 of their bytes
                "CREATE TABLE IF NOT EXISTS idx_config (sha TEXT PRIMARY KEY,"
                " fingerprint TEXT NOT NULL, data BLOB NOT NULL)",
            ):
                self.db.execute(ddl)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise SrcdiffError(f"cannot use the index in {path}: {exc}") from None

    @classmethod
    def reader(cls, path: Path, fp: str) -> IndexStore | None:
        """The index in PATH opened read-only, without creating or changing anything; None
        when there is none of this layout (or the file cannot be read)."""
        store = cls.__new__(cls)
        store.path, store.fp = path, fp
        try:
            store.db = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=5)
            row = store.db.execute("SELECT v FROM meta WHERE k='index_schema'").fetchone()
            has = store.db.execute("SELECT count(*) FROM sqlite_master WHERE name='idx_fact'"
                                   ).fetchone()
        except sqlite3.Error:
            return None
        if row is None or row[0] != INDEX_VERSION or not has[0]:
            store.db.close()
            return None
        return store

    def put_facts(self, facts: dict[str, str]) -> None:
        """Keep FACTS (key -> value), in one transaction."""
        if facts:
            self._tx(lambda db: db.executemany("INSERT OR REPLACE INTO idx_fact VALUES (?,?)",
                                               facts.items()))

    def fact(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM idx_fact WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def answer(self, key: str) -> dict | None:
        """The answer stored under KEY (see answer_key), or None."""
        try:
            row = self.db.execute("SELECT data FROM idx_answer WHERE k=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None  # an index from before answers were kept (the table comes on writing)
        return None if row is None else json.loads(zlib.decompress(row[0]))

    def put_answer(self, key: str, data: dict) -> None:
        """Keep DATA under KEY; only the newest KEPT_ANSWERS answers stay."""
        blob = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
        self._tx(lambda db: _put_newest(db, "idx_answer", (key, blob)))

    def config_fingerprint(self, sha: str) -> str | None:
        """Config.fingerprint() of the .config whose bytes hash to SHA, if parsed before."""
        try:
            row = self.db.execute("SELECT fingerprint FROM idx_config WHERE sha=?",
                                  (sha,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def config_values(self, sha: str) -> tuple[tuple[str, str], ...] | None:
        """Config.values of the .config whose bytes hash to SHA, if parsed before."""
        try:
            row = self.db.execute("SELECT data FROM idx_config WHERE sha=?", (sha,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else tuple(map(tuple, json.loads(zlib.decompress(row[0]))))

    def put_config(self, sha: str, config) -> None:
        """Keep CONFIG (a Config.from_file) under SHA, the sha256 of its file's bytes."""
        blob = zlib.compress(json.dumps(config.values, separators=(",", ":")).encode(), 6)
        self._tx(lambda db: _put_newest(db, "idx_config", (sha, config.fingerprint(), blob)))

    def close(self) -> None:
        self.db.close()
        from srcdiff.cache import restamp

        restamp(self.path)

    def _tx(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """WORK in one transaction: all of it is stored, or none."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            work(self.db)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def blobs_read(self) -> dict[str, int]:
        """Every blob stored: blob id -> how many names it defines."""
        return dict(self.db.execute("SELECT blob, n FROM idx_blob WHERE fp=?", (self.fp,)))

    def release_scope(self, commit: str) -> str | None:
        row = self.db.execute("SELECT scope FROM idx_release WHERE fp=? AND commit_id=?",
                              (self.fp, commit)).fetchone()
        return row[0] if row else None

    def put_blobs(self, results: list[tuple[str, str, dict]]) -> None:
        """Store the readings RESULTS ((blob, path, definitions_in)) in one transaction."""
        blobs, names, bodies = [], [], []
        for blob, _path, defs in results:
            blobs.append((self.fp, blob, len(defs)))
            for n, d in defs.items():
                sdef = d["def"]
                flat = _flat_names(sdef["fields"])
                data = zlib.compress(json.dumps(sdef, separators=(",", ":")).encode(), 6)
                names.append((self.fp, blob, n, sdef["kind"], int(d["alias"]), len(flat),
                              " " + " ".join(flat) + " ", int(_guarded(sdef["fields"])),
                              shape(sdef["fields"])))
                bodies.append((self.fp, blob, n, data))

        def work(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO idx_blob VALUES (?,?,?)", blobs)
            db.executemany("INSERT OR REPLACE INTO idx_name VALUES (?,?,?,?,?,?,?,?,?)", names)
            db.executemany("INSERT OR REPLACE INTO idx_def VALUES (?,?,?,?)", bodies)

        self._tx(work)

    def put_release(self, v: Release, scope: str, files: list[tuple[str, str]]) -> None:
        """Release V is complete: its map path -> blob (FILES) and its row, in one transaction."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM idx_file WHERE fp=? AND commit_id=?", (self.fp, v.commit))
            db.executemany("INSERT INTO idx_file VALUES (?,?,?,?)",
                           [(self.fp, v.commit, p, b) for p, b in files])
            db.execute("INSERT OR REPLACE INTO idx_release VALUES (?,?,?,?)",
                       (self.fp, v.commit, v.tag, scope))

        self._tx(work)

    def candidates(self, commit: str, names: Iterable[str] | None = None
                   ) -> dict[str, list[Candidate]]:
        """Per name, the files of release COMMIT that define it (NAMES: only those)."""
        files = self.db.execute("SELECT path, blob FROM idx_file WHERE fp=? AND commit_id=?",
                                (self.fp, commit)).fetchall()
        paths: dict[str, list[str]] = {}
        for path, blob in files:
            paths.setdefault(blob, []).append(path)
        wanted = None if names is None else set(names)
        out: dict[str, list[Candidate]] = {}
        blobs = list(paths)
        for i in range(0, len(blobs), 500):  # well under SQLite's limit on parameters
            chunk = blobs[i : i + 500]
            rows = self.db.execute(
                "SELECT blob, name, kind, alias, nfields, guarded, shape FROM idx_name WHERE"
                f" fp=? AND blob IN ({','.join('?' * len(chunk))})", (self.fp, *chunk))
            for blob, name, kind, alias, nfields, guarded, shp in rows:
                if wanted is None or name in wanted:
                    for path in paths[blob]:
                        out.setdefault(name, []).append(Candidate(
                            path, blob, kind, bool(alias), nfields, bool(guarded), shp))
        return out

    def candidates_of(self, commit: str, name: str) -> list[Candidate]:
        """The files of release COMMIT that define NAME (candidates(COMMIT, [NAME]), found from
        the name: one question does not read the release's whole file list)."""
        rows = self.db.execute("SELECT blob, kind, alias, nfields, guarded, shape FROM idx_name"
                               " INDEXED BY idx_name_by_name WHERE"
                               " fp=? AND name=?", (self.fp, name)).fetchall()
        by_blob = {r[0]: r[1:] for r in rows}
        out: list[Candidate] = []
        blobs = list(by_blob)
        for i in range(0, len(blobs), 500):
            chunk = blobs[i : i + 500]
            files = self.db.execute(
                "SELECT path, blob FROM idx_file WHERE fp=? AND commit_id=? AND"
                f" blob IN ({','.join('?' * len(chunk))})", (self.fp, commit, *chunk))
            for path, blob in files:
                kind, alias, nfields, guarded, shp = by_blob[blob]
                out.append(Candidate(path, blob, kind, bool(alias), nfields, bool(guarded), shp))
        return out

    def names_with_member(self, member: str) -> list[str]:
        """The names some stored definition has a member MEMBER in (flattened)."""
        rows = self.db.execute("SELECT DISTINCT name FROM idx_name WHERE fp=? AND"
                               " instr(members, ?) > 0", (self.fp, f" {member} "))
        return sorted(r[0] for r in rows)

    def definition_json(self, blob: str, name: str) -> dict | None:
        """NAME's stored reading in BLOB, as StructDef JSON (its path: the first file read)."""
        row = self.db.execute("SELECT data FROM idx_def WHERE fp=? AND blob=? AND name=?",
                              (self.fp, blob, name)).fetchone()
        return None if row is None else json.loads(zlib.decompress(row[0]))

    def definitions_json(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """The stored readings of WANTED ((blob, name) pairs) that are stored, by pair: one
        question per blob rather than per pair (a release pair compares thousands)."""
        by_blob: dict[str, set[str]] = {}
        for blob, name in wanted:
            by_blob.setdefault(blob, set()).add(name)
        out: dict[tuple[str, str], dict] = {}
        blobs = list(by_blob)
        for i in range(0, len(blobs), 500):
            chunk = blobs[i : i + 500]
            rows = self.db.execute("SELECT blob, name, data FROM idx_def WHERE fp=? AND"
                                   f" blob IN ({','.join('?' * len(chunk))})", (self.fp, *chunk))
            for blob, name, data in rows:
                if name in by_blob[blob]:
                    out[(blob, name)] = json.loads(zlib.decompress(data))
        return out

    def definition(self, blob: str, name: str, path: str) -> StructDef | None:
        """NAME's stored reading in BLOB, as found in the file PATH."""
        d = self.definition_json(blob, name)
        return None if d is None else replace(StructDef.from_json(d), path=path)


def _drop_tables(db: sqlite3.Connection) -> None:
    for t in ("idx_blob", "idx_name", "idx_def", "idx_release", "idx_file", "idx_fact",
              "idx_answer", "idx_config"):
        db.execute(f"DROP TABLE IF EXISTS {t}")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('index_schema', ?)", (INDEX_VERSION,))


def _put_newest(db: sqlite3.Connection, table: str, row: tuple) -> None:
    """ROW into TABLE (a rowid table: INSERT OR REPLACE gives the newest row the highest
    rowid), and all but the newest KEPT_ANSWERS rows out."""
    db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({','.join('?' * len(row))})", row)
    db.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
               " ORDER BY rowid DESC LIMIT -1 OFFSET ?)", (KEPT_ANSWERS,))


def shape(fields: list[dict]) -> str:
    """A digest of stored members FIELDS without their lines: two definitions of one shape
    have the same members, types, widths and guards, so a question that compares members
    (structs --changed) can tell them alike without loading either."""
    def strip(fs: list[dict]) -> list:
        return [[f.get("name"), f.get("type"), f.get("bits"), f.get("guard"), f.get("unparsed"),
                 f.get("enumerator"), strip(f.get("fields") or [])] for f in fs]
    return hashlib.sha1(json.dumps(strip(fields), separators=(",", ":")).encode()).hexdigest()[:20]


def _guarded(fields: list[dict]) -> bool:
    return any(f.get("guard") or _guarded(f.get("fields", ())) for f in fields)


def _flat_names(fields: list[dict]) -> list[str]:
    out: list[str] = []
    for f in fields:
        if f.get("name") is None and f.get("fields") and f.get("unparsed") is None:
            out += _flat_names(f["fields"])
        elif f.get("name"):
            out.append(f["name"])
    return out


@dataclass(frozen=True)
class Candidate:
    """A file that defines a name at a release."""

    path: str
    blob: str
    kind: str
    alias: bool
    nfields: int
    guarded: bool  # some member, at any depth, has a guard
    shape: str  # digest of the members as compared (see shape()): equal shapes, equal answers



def in_scope(path: str, scope: str) -> bool:
    return path.endswith(HEADER_SUFFIXES) or (scope == ALL and path.endswith(SOURCE_ONLY_SUFFIXES))




# ---------------------------------------------------------------------------------------------
# Questions


def configured(sdef: StructDef, config) -> StructDef:
    """SDEF with the members whose guard CONFIG turns off left out (check._holds: a
    configuration decides CONFIG_ names only); the guards of nested members are relative to
    their aggregate's."""
    holds = _holds_memo(config)

    def keep(fields: tuple[Field, ...]) -> tuple[Field, ...]:
        out = []
        for f in fields:
            if f.guard and not holds(f.guard):
                continue
            out.append(replace(f, fields=keep(f.fields)) if f.fields else f)
        return tuple(out)

    return replace(sdef, fields=keep(sdef.fields))


def guard_holds(guard: str, config) -> bool:
    """Whether GUARD (an #if condition) holds under CONFIG. A configuration decides CONFIG_
    names only; a guard that hangs on another name (one a header defines, such as
    __UAPI_DEF_IN6_ADDR_ALT) and is not decided without it holds."""
    from srcdiff.preprocess import condition_value, tokenize

    value, _why = condition_value(tokenize(guard), config.macros().get,
                                  unknown=lambda n: not n.startswith("CONFIG_"))
    return value is not False


_holds_memos: dict[int, tuple[object, dict[str, bool]]] = {}


def _holds_memo(config) -> Callable[[str], bool]:
    """check._holds under CONFIG, once per guard text (a whole tree asks the same few
    thousand guards again and again)."""
    hit = _holds_memos.get(id(config))
    if hit is None or hit[0] is not config:
        hit = _holds_memos[id(config)] = (config, {})
    memo = hit[1]

    def holds(guard: str) -> bool:
        v = memo.get(guard)
        if v is None:
            v = memo[guard] = guard_holds(guard, config)
        return v

    return holds


def path_rank(path: str, prefer: str | None) -> tuple:
    """How a file ranks among those defining a struct: the file seen last (PREFER), then
    headers, then the public include/ tree, then shorter paths."""
    return (path != prefer, not path.endswith((".h", ".hh", ".hpp")), not path.startswith("include/"),
            path.count("/"), path)


def pick(cands: list[Candidate], arch: str) -> Candidate:
    """The file ``srcdiff show`` would take among CANDS: public headers (include/) first, then
    other headers, then sources (its whole-tree search goes by these groups); within one, as
    StructReader.pick: another architecture's arch/ last, then by place, the fullest
    definition first, then by path."""

    def group(p: str) -> int:
        if p.startswith("include/") and p.endswith(".h"):
            return 0
        return 1 if p.endswith(HEADER_SUFFIXES) else 2

    def other_arch(p: str) -> bool:
        return p.startswith("arch/") and not p.startswith(f"arch/{arch}/")

    def rank(c: Candidate) -> tuple:
        place = path_rank(c.path, None)
        return (group(c.path), other_arch(c.path), place[:3], -c.nfields, place[3:])

    return min(cands, key=rank)


def _comparable(cands: list[Candidate], scope: str) -> list[Candidate]:
    return [c for c in cands if in_scope(c.path, scope)]


def answer_key(store: IndexStore, question: list, releases: list[Release],
               scopes: list[str | None], fingerprints: dict[str, str]) -> str:
    """The key of a whole-repository answer: QUESTION (its kind and arguments), per release
    its label, commit, scope in the index and configuration (FINGERPRINTS: tag ->
    Config.fingerprint(), for the releases read with one), the index's
    fingerprint (index and parser versions, arch) and ANSWER_VERSION. Each is content (a
    commit id, a hash of settings), so what is stored under a key is never stale."""
    rel = [[r.tag, r.commit, s, fingerprints.get(r.tag)] for r, s in zip(releases, scopes)]
    text = json.dumps([ANSWER_VERSION, store.fp, question, rel])
    return hashlib.sha256(text.encode()).hexdigest()


def remembered(store: IndexStore, key: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
    """(The answer stored under KEY, True), else (COMPUTE(), False) after storing it."""
    got = store.answer(key)
    if got is not None:
        return got, True
    data = compute()
    store.put_answer(key, data)
    return data, False


def structs_changed(store: IndexStore, a: Release, b: Release, configs: dict[str, object],
                    arch: str, scope: str) -> dict:
    """The structs added, removed and changed (members added, removed, retyped, as
    changes.diff_structs finds them) from A to B; CONFIGS: tag -> the configuration its guards
    are decided with. Typedef names of an aggregate (``typedef struct {...} foo_t``) are left
    out: each aggregate counts once, by its tag."""
    ca, cb = store.candidates(a.commit), store.candidates(b.commit)

    def tags(c: dict[str, list[Candidate]]) -> dict[str, Candidate]:
        out = {}
        for name, cs in c.items():
            real = [x for x in _comparable(cs, scope) if not x.alias]
            if real:
                out[name] = pick(real, arch)
        return out

    pa, pb = tags(ca), tags(cb)
    cfa, cfb = configs.get(a.tag), configs.get(b.tag)
    same_config = (cfa is None and cfb is None) or (
        cfa is not None and cfb is not None and cfa.fingerprint() == cfb.fingerprint())
    ha = None if cfa is None else _holds_memo(cfa)
    hb = None if cfb is None else _holds_memo(cfb)
    changed = []
    # Members of one shape compare alike under one configuration, and under any two when
    # they have no guard: such pairs are passed over without loading either definition.
    pairs = [(name, pa[name], pb[name]) for name in sorted(pa.keys() & pb.keys())
             if not (pa[name].shape == pb[name].shape and (same_config or not pa[name].guarded))]
    defs = store.definitions_json([(c.blob, name) for name, x, y in pairs for c in (x, y)])
    for name, x, y in pairs:
        da, db = defs.get((x.blob, name)), defs.get((y.blob, name))
        if da is None or db is None:
            continue
        row = member_changes(member_map(da["fields"], ha), member_map(db["fields"], hb))
        if row["added"] or row["removed"] or row["retyped"]:
            changed.append({"name": name, **row})
    return {"from": a.tag, "to": b.tag,
            "added": sorted(pb.keys() - pa.keys()), "removed": sorted(pa.keys() - pb.keys()),
            "changed": changed}


Member = tuple  # (name, type, bits, unparsed)


def member_map(fields: list[dict], holds: Callable[[str], bool] | None) -> dict[str, Member]:
    """Members by key, from stored JSON, as changes.field_map gives them of the definition
    ``configured`` leaves (anonymous aggregates flattened, the first of a key kept), without
    building StructDefs: a whole tree compares tens of thousands of them."""
    out: dict[str, Member] = {}
    _flat_into(fields, holds, out)
    return out


def _kept(fields: list[dict], holds: Callable[[str], bool] | None) -> list[dict]:
    if holds is None:
        return fields
    return [f for f in fields if not f.get("guard") or holds(f["guard"])]


def _flat_into(fields: list[dict], holds, out: dict[str, Member]) -> None:
    for f in _kept(fields, holds):
        sub = f.get("fields")
        if f.get("name") is None and sub and f.get("unparsed") is None:
            _flat_into(sub, holds, out)
            continue
        out.setdefault(_json_key(f, holds), (f.get("name"), f["type"], f.get("bits"),
                                             f.get("unparsed")))


def _json_key(f: dict, holds) -> str:
    """Field.key() of the stored member F."""
    if f.get("name") is not None:
        return f["name"]
    if f.get("unparsed") is not None:
        return "?" + " ".join(f["unparsed"].split())
    inner = ",".join(_json_key(g, holds) for g in _kept(f.get("fields", ()), holds))
    return f"<anon {f['type']}:{inner}>"


def member_changes(ma: dict[str, Member], mb: dict[str, Member]) -> dict[str, list[str]]:
    """Member names added, removed and retyped from MA to MB (changes.diff_structs's kinds;
    a change of guard alone is none of them)."""
    row: dict[str, list[str]] = {"added": [], "removed": [], "retyped": []}
    for k, m in mb.items():
        old = ma.get(k)
        if old is None:
            row["added"].append(m[0] if m[0] is not None else k)
        elif old[1] != m[1] or str(old[2]) != str(m[2]) or old[3] != m[3]:
            row["retyped"].append(m[0] if m[0] is not None else k)
    row["removed"] = [m[0] if m[0] is not None else k for k, m in ma.items() if k not in mb]
    return row


def structs_having(store: IndexStore, member: str, versions: list[Release],
                   configs: dict[str, object], arch: str) -> dict:
    """The structs that have a member MEMBER (flattened through unnamed aggregates), and in
    which of VERSIONS, with its type there."""
    names = store.names_with_member(member)
    found: dict[str, dict[str, str]] = {}
    for v in versions:
        scope = store.release_scope(v.commit) or HEADERS
        for name, cs in store.candidates(v.commit, names).items():
            cs = _comparable(cs, scope)
            if not cs:
                continue
            c = pick(cs, arch)
            sdef = store.definition(c.blob, name, c.path)
            if sdef is None:
                continue
            if v.tag in configs:
                sdef = configured(sdef, configs[v.tag])
            f = next((f for f in sdef.flat_fields() if f.key() == member), None)
            if f is not None:
                found.setdefault(name, {})[v.tag] = f.type
    return {"field": member, "versions": [v.tag for v in versions],
            "structs": [{"name": n, "releases": found[n]} for n in sorted(found)]}

