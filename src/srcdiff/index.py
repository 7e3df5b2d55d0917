"""index: every struct and union of a repository at every selected release, read once per
distinct blob and kept in the cache database, so whole-repository questions are lookups.

What is stored is configuration-free: each definition as srcdiff reads it without a .config
on a Kconfig tree (every #if branch, each member with its guard); a configuration is applied
when a question is asked (``configured``). Per release, the map path -> blob of the files that
define something. Releases share most of their files, so the work is what their *distinct*
blobs cost; a blob is read with the #include's of the first release (in version order) it
appears in — the same blob at a later release whose headers differ is not read again, which is
where the index may differ from ``srcdiff show`` at that release (an array size, a member
macro, that the later release's headers define otherwise).

Atomicity: blobs are committed in batches, each batch in one transaction (a blob's entry and
its definitions together); a release's file map and its "done" row in one transaction once
every blob it needs is in. An interrupted run (Ctrl-C, kill -9) leaves whole batches only, and
a rerun reads only the blobs not stored yet.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.limits import max_blob_bytes
from srcdiff.locate import RevFiles, _path_rank
from srcdiff.model import Field, StructDef
from srcdiff.parse import PARSER_VERSION, read_struct, scan
from srcdiff.versions import Version

INDEX_VERSION = "4"
HEADER_SUFFIXES = (".h", ".hh", ".hpp")
SOURCE_ONLY_SUFFIXES = (".c", ".cc", ".cpp", ".inc")
# scope of a release's entry: its headers only, or its sources too
HEADERS, ALL = "headers", "all"
BATCH_BLOBS = 64  # blobs per committed batch (an interrupted run loses at most one batch)
BATCH_SECONDS = 2.0  # ... or per this much time, whichever comes first
CHUNK_BLOBS = 16  # blobs per work unit sent to a worker
# ... to a Dask worker: a worker lists the tree of each release it reads blobs of (0.5 s for a
# whole kernel tree), so a release's blobs go to few workers, not to every one
CLUSTER_CHUNK_BLOBS = 128


def fingerprint(arch: str) -> str:
    """What determines a stored reading besides the blob: index and parser versions, --arch."""
    return f"i{INDEX_VERSION}|p{PARSER_VERSION}|{arch}"


# ---------------------------------------------------------------------------------------------
# Reading blobs (runs in worker processes)


class TreeFiles(RevFiles):
    """RevFiles whose blob ids come from the release's tree listing in memory (one ``git
    ls-tree`` per release and process) instead of one ``git cat-file`` exchange per #include:
    an include walk asks for up to 256 paths, and the index makes tens of thousands of walks."""

    def __init__(self, repo: GitRepo, rev: str, listing: dict[str, str]):
        super().__init__(repo, rev)
        self.listing = listing  # path -> blob id, blobs within the size limit only

    def ids(self, paths: list[str]) -> list[str | None]:
        get = self.listing.get
        return [get(p) for p in paths]


def tree_listing(repo: GitRepo, commit: str) -> dict[str, tuple[str, int]]:
    """Every blob of COMMIT's tree: path -> (blob id, size). Submodules are left out; a
    symlink is the blob of its text, as ``git cat-file`` gives it for ``rev:path``."""
    out = repo.run_bytes("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
    files: dict[str, tuple[str, int]] = {}
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 4 and parts[1] == b"blob":
            files[path.decode("utf-8", "surrogateescape")] = (parts[2].decode(), int(parts[3]))
    return files


def definitions_in(data: bytes, path: str, reader, arch: str) -> dict[str, dict]:
    """Every struct/union the file DATA (at PATH) defines, read as ``srcdiff show`` reads it
    without a configuration: name -> the StructDef's JSON, plus "alias" (true when the name is
    only a typedef name of the aggregate)."""
    _clean, defs = scan(data)
    names: dict[str, bool] = {}
    for d in defs:
        names[d.name] = names.get(d.name, True) and d.typedef
    out: dict[str, dict] = {}
    for name, alias in names.items():
        sdef = read_struct(data, name, path=path, config=None, include_reader=reader, arch=arch)
        if sdef is not None:
            out[name] = {"alias": alias, "def": sdef.to_json()}
    return out


_worker: dict = {}


def _init_worker(repo_path: str, pool: bool = False) -> None:
    if pool:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _worker["repo"] = GitRepo(repo_path)
    _worker["trees"] = {}
    _worker["path"] = repo_path


def _reader_for(commit: str) -> TreeFiles:
    trees: dict = _worker["trees"]
    got = trees.get(commit)
    if got is None:
        limit = max_blob_bytes()
        listing = {p: b for p, (b, size) in tree_listing(_worker["repo"], commit).items()
                   if size <= limit}
        if len(trees) >= 2:
            trees.clear()
        got = trees[commit] = TreeFiles(_worker["repo"], commit, listing)
    return got


def read_chunk(task: tuple[str, list[tuple[str, str]], str]
               ) -> tuple[list[tuple[str, str, dict]], float]:
    """Work unit: (commit, [(blob, path)], arch) -> ([(blob, path, definitions_in)], CPU
    seconds this process spent on it)."""
    commit, items, arch = task
    t0 = time.process_time()
    reader = _reader_for(commit)
    datas = _worker["repo"].read_blobs([b for b, _p in items])
    out = []
    for blob, path in items:
        data = datas.get(blob)
        out.append((blob, path, {} if data is None else definitions_in(data, path, reader, arch)))
    return out, time.process_time() - t0


_dask_lock = threading.Lock()


def read_chunk_dask(task: tuple[str, list[tuple[str, str]], str], repo_path: str, fp: str
                    ) -> tuple[list[tuple[str, str, dict]], float]:
    """read_chunk on a Dask worker: the repository REPO_PATH as the worker sees it (a path
    every worker can read), opened once per worker process. One chunk at a time per process
    (the parser is one shared pycparser object: a worker's threads take turns). FP is the
    client's fingerprint: a worker with another srcdiff would read otherwise, and says so."""
    import socket

    with _dask_lock:
        host = socket.gethostname()
        if fingerprint(task[2]) != fp:
            raise SrcdiffError(f"Dask worker on {host} runs another srcdiff (reads as "
                               f"{fingerprint(task[2])}, not {fp}): install the same version")
        if _worker.get("path") != repo_path:
            try:
                _init_worker(repo_path)
            except SrcdiffError as exc:
                raise SrcdiffError(f"Dask worker on {host}: {exc}") from None
        return read_chunk(task)


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
                " PRIMARY KEY (fp, blob, name)) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS idx_def (fp TEXT NOT NULL, blob TEXT NOT NULL,"
                " name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (fp, blob, name))",
                "CREATE INDEX IF NOT EXISTS idx_name_by_name ON idx_name (fp, name)",
                "CREATE TABLE IF NOT EXISTS idx_release (fp TEXT NOT NULL, commit_id TEXT NOT NULL,"
                " tag TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (fp, commit_id))",
                "CREATE TABLE IF NOT EXISTS idx_file (fp TEXT NOT NULL, commit_id TEXT NOT NULL,"
                " path TEXT NOT NULL, blob TEXT NOT NULL, PRIMARY KEY (fp, commit_id, path))"
                " WITHOUT ROWID",
            ):
                self.db.execute(ddl)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise SrcdiffError(f"cannot use the index in {path}: {exc}") from None
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
                              " " + " ".join(flat) + " ", int(_guarded(sdef["fields"]))))
                bodies.append((self.fp, blob, n, data))

        def work(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO idx_blob VALUES (?,?,?)", blobs)
            db.executemany("INSERT OR REPLACE INTO idx_name VALUES (?,?,?,?,?,?,?,?)", names)
            db.executemany("INSERT OR REPLACE INTO idx_def VALUES (?,?,?,?)", bodies)

        self._tx(work)

    def put_release(self, v: Version, scope: str, files: list[tuple[str, str]]) -> None:
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
                "SELECT blob, name, kind, alias, nfields, guarded FROM idx_name WHERE fp=? AND"
                f" blob IN ({','.join('?' * len(chunk))})", (self.fp, *chunk))
            for blob, name, kind, alias, nfields, guarded in rows:
                if wanted is None or name in wanted:
                    for path in paths[blob]:
                        out.setdefault(name, []).append(
                            Candidate(path, blob, kind, bool(alias), nfields, bool(guarded)))
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

    def definition(self, blob: str, name: str, path: str) -> StructDef | None:
        """NAME's stored reading in BLOB, as found in the file PATH."""
        d = self.definition_json(blob, name)
        return None if d is None else replace(StructDef.from_json(d), path=path)


def _drop_tables(db: sqlite3.Connection) -> None:
    for t in ("idx_blob", "idx_name", "idx_def", "idx_release", "idx_file"):
        db.execute(f"DROP TABLE IF EXISTS {t}")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('index_schema', ?)", (INDEX_VERSION,))


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


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class IndexStats:
    releases: list[str] = field(default_factory=list)
    up_to_date: int = 0  # of those, indexed before (in the scope asked for or a wider one)
    files: int = 0  # files of the selected releases within scope
    blobs: int = 0  # distinct blobs among them
    stored: int = 0  # of those, already in the index before this run
    read: int = 0  # read by this run
    bodies: int = 0  # definitions read by this run
    too_large: int = 0  # blobs over the size limit, not read
    cpu: float = 0.0  # CPU seconds the readers spent
    seconds: float = 0.0
    jobs: int = 1

    def to_json(self) -> dict:
        return {"releases": self.releases, "up_to_date": self.up_to_date,
                "files": self.files, "blobs": self.blobs,
                "stored_before": self.stored, "read": self.read, "definitions": self.bodies,
                "too_large": self.too_large, "jobs": self.jobs,
                "seconds": round(self.seconds, 3), "cpu_seconds": round(self.cpu, 3)}


def in_scope(path: str, scope: str) -> bool:
    return path.endswith(HEADER_SUFFIXES) or (scope == ALL and path.endswith(SOURCE_ONLY_SUFFIXES))


def build_index(repo: GitRepo, versions: list[Version], store: IndexStore, *, arch: str = "x86",
                scope: str = ALL, jobs: int | None = None,
                progress: Callable[[str, int, int], None] | None = None,
                warn: Callable[[str], None] | None = None,
                scheduler: str | None = None) -> IndexStats:
    """Index the releases VERSIONS that are not yet (in SCOPE); returns what it did. The blobs
    are read by a pool of JOBS processes, or with SCHEDULER (a Dask scheduler's address, or
    "local" for a LocalCluster of JOBS processes) by a Dask cluster's workers."""
    t0 = time.perf_counter()
    stats = IndexStats(jobs=jobs or os.cpu_count() or 1)
    progress = progress or (lambda what, done, total: None)
    done = store.blobs_read()
    limit = max_blob_bytes()
    todo: dict[str, tuple[str, str]] = {}  # blob -> (commit, path) of its first appearance
    needs: dict[str, list[int]] = {}  # blob not read yet -> releases waiting for it
    waiting: list[int] = []  # per release: blobs it still waits for
    maps: list[list[tuple[str, str]]] = []
    seen: set[str] = set()
    too_large: set[str] = set()
    work_versions = [v for v in versions if store.release_scope(v.commit) not in (scope, ALL)]
    stats.releases = [v.tag for v in versions]
    stats.up_to_date = len(versions) - len(work_versions)
    for k, v in enumerate(work_versions):
        files = [(p, b, s) for p, (b, s) in tree_listing(repo, v.commit).items()
                 if in_scope(p, scope)]
        stats.files += len(files)
        maps.append([])
        waiting.append(0)
        for p, b, size in sorted(files):
            maps[k].append((p, b))
            if size > limit:
                too_large.add(b)
            elif b not in done:
                todo.setdefault(b, (v.commit, p))
                needs.setdefault(b, []).append(k)
                waiting[k] += 1
            seen.add(b)
    stats.blobs = len(seen)
    stats.stored = len(seen & done.keys())
    stats.too_large = len(too_large)
    if stats.too_large and warn is not None:
        warn(f"{stats.too_large} file(s) over the {limit >> 20} MiB limit on files read are not"
             " indexed (set SRCDIFF_MAX_BLOB_MB to raise it)")

    def finish_release(k: int) -> None:
        v = work_versions[k]
        store.put_release(v, scope, [(p, b) for p, b in maps[k] if done.get(b)])

    for k in range(len(work_versions)):
        if waiting[k] == 0:
            finish_release(k)
    tasks: list[tuple[str, list[tuple[str, str]], str]] = []
    by_commit: dict[str, list[tuple[str, str]]] = {}
    for b, (c, p) in todo.items():
        by_commit.setdefault(c, []).append((b, p))
    size = CHUNK_BLOBS if scheduler is None else CLUSTER_CHUNK_BLOBS
    for c, items in by_commit.items():
        items.sort(key=lambda bp: bp[1])  # by path: neighbours include alike
        tasks += [(c, items[i : i + size], arch) for i in range(0, len(items), size)]
    total = len(todo)
    pending: list[tuple[str, str, dict]] = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal pending, last
        if not pending:
            return
        store.put_blobs(pending)
        for b, _p, defs in pending:
            done[b] = len(defs)
            for k in needs.get(b, ()):
                waiting[k] -= 1
                if waiting[k] == 0:
                    finish_release(k)
        pending = []
        last = time.monotonic()

    progress("indexing", 0, total)
    if scheduler is not None and tasks:
        from srcdiff.cluster import run_on_dask

        run = run_on_dask(str(repo.git_dir), tasks, scheduler, stats.jobs, store.fp, stats)
    else:
        run = _run(repo, tasks, stats.jobs)
    for results, cpu in run:
        stats.cpu += cpu
        pending += results
        stats.read += len(results)
        stats.bodies += sum(len(d) for _b, _p, d in results)
        progress("indexing", stats.read, total)
        if len(pending) >= BATCH_BLOBS or time.monotonic() - last > BATCH_SECONDS:
            flush()
    flush()
    stats.seconds = time.perf_counter() - t0
    return stats


def _run(repo: GitRepo, tasks: list, jobs: int):
    """Results of TASKS (read_chunk), in any order: in this process for one job, else from a
    pool of JOBS processes (started fresh: nothing of this process's state is shared)."""
    if not tasks:
        return
    if jobs <= 1 or len(tasks) == 1:
        _init_worker(str(repo.git_dir))
        for t in tasks:
            yield read_chunk(t)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(min(jobs, len(tasks)), _init_worker, (str(repo.git_dir), True))
    try:
        yield from pool.imap_unordered(read_chunk, tasks)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


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


_holds_memos: dict[int, tuple[object, dict[str, bool]]] = {}


def _holds_memo(config) -> Callable[[str], bool]:
    """check._holds under CONFIG, once per guard text (a whole tree asks the same few
    thousand guards again and again)."""
    from srcdiff.check import _holds

    hit = _holds_memos.get(id(config))
    if hit is None or hit[0] is not config:
        hit = _holds_memos[id(config)] = (config, {})
    memo = hit[1]

    def holds(guard: str) -> bool:
        v = memo.get(guard)
        if v is None:
            v = memo[guard] = _holds(guard, config)
        return v

    return holds


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
        place = _path_rank(c.path, None)
        return (group(c.path), other_arch(c.path), place[:3], -c.nfields, place[3:])

    return min(cands, key=rank)


def _comparable(cands: list[Candidate], scope: str) -> list[Candidate]:
    return [c for c in cands if in_scope(c.path, scope)]


def structs_changed(store: IndexStore, a: Version, b: Version, configs: dict[str, object],
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
    for name in sorted(pa.keys() & pb.keys()):
        x, y = pa[name], pb[name]
        if x.blob == y.blob and (same_config or not x.guarded):
            continue  # the same text read the same way, and no configuration tells them apart
        da, db = store.definition_json(x.blob, name), store.definition_json(y.blob, name)
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


def structs_having(store: IndexStore, member: str, versions: list[Version],
                   configs: dict[str, object], arch: str) -> dict:
    """The structs that have a member MEMBER (flattened through unnamed aggregates), and in
    which of VERSIONS, with its type there."""
    from srcdiff.changes import field_map

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
            f = field_map(sdef).get(member)
            if f is not None:
                found.setdefault(name, {})[v.tag] = f.type
    return {"field": member, "versions": [v.tag for v in versions],
            "structs": [{"name": n, "releases": found[n]} for n in sorted(found)]}
