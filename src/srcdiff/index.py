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

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.indexdb import (  # noqa: F401  (the questions live there; re-exported)
    ALL,
    HEADER_SUFFIXES,
    HEADERS,
    INDEX_VERSION,
    SOURCE_ONLY_SUFFIXES,
    Candidate,
    IndexStore,
    configured,
    fingerprint,
    in_scope,
    member_changes,
    member_map,
    pick,
    structs_changed,
    structs_having,
)
from srcdiff.limits import max_blob_bytes
from srcdiff.locate import RevFiles
from srcdiff.parse import read_struct, scan
from srcdiff.versions import Version

BATCH_BLOBS = 64  # blobs per committed batch (an interrupted run loses at most one batch)
BATCH_SECONDS = 2.0  # ... or per this much time, whichever comes first
CHUNK_BLOBS = 16  # blobs per work unit sent to a worker
# ... to a Dask worker: a worker lists the tree of each release it reads blobs of (0.5 s for a
# whole kernel tree), so a release's blobs go to few workers, not to every one
CLUSTER_CHUNK_BLOBS = 128


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


def release_files(repo: GitRepo, commits: list[str], scope: str
                  ) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Per commit of COMMITS: its files within SCOPE (path -> blob id, as tree_listing has
    them) and the paths that differ from the previous commit's. The first tree is listed
    whole, each next one as its difference from the previous (``git diff-tree``): neighbouring
    releases share most of their files, and their maps then share their strings too (900
    releases of a 10,000-file tree: 6M entries, listed whole in 75 s of git)."""
    files: dict[str, str] = {}
    prev = None
    for commit in commits:
        if prev is None:
            out = repo.run_bytes("ls-tree", "-r", "-z", "--full-tree", commit)
            changed = _ls_tree_files(out, scope)
            files = dict(changed)
            changed_paths = list(files)
        else:
            out = repo.run_bytes("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id",
                                 prev, commit)
            files = dict(files)
            changed_paths = []
            for path, blob in _diff_tree_files(out, scope):
                if blob is None:
                    files.pop(path, None)
                else:
                    files[path] = blob
                    changed_paths.append(path)
        prev = commit
        yield files, changed_paths


def _ls_tree_files(out: bytes, scope: str) -> list[tuple[str, str]]:
    """(path, blob) of each blob in ``ls-tree -r -z`` output OUT within SCOPE (no submodules;
    a symlink is the blob of its text)."""
    files = []
    for rec in out.split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob":
            p = path.decode("utf-8", "surrogateescape")
            if in_scope(p, scope):
                files.append((p, parts[2].decode()))
    return files


def _diff_tree_files(out: bytes, scope: str, all_paths: bool = False
                     ) -> Iterator[tuple[str, str | None]]:
    """(path, new blob, or None where the path holds no blob any more) of each change within
    SCOPE (ALL_PATHS: of every file) in ``diff-tree -r -z --no-renames`` output OUT."""
    recs = out.split(b"\0")
    for i in range(0, len(recs) - 1, 2):
        meta = recs[i].split()
        path = recs[i + 1].decode("utf-8", "surrogateescape")
        if len(meta) < 5 or not (all_paths or in_scope(path, scope)):
            continue
        new_mode, new_id, status = meta[1], meta[3].decode(), meta[4]
        gone = status.startswith(b"D") or new_mode in (b"000000", b"160000", b"040000")
        yield path, None if gone else new_id


def _headers(repo: GitRepo, blobs: list[str]) -> list[tuple[str, str, int] | None]:
    """repo.headers of BLOBS, asked a thousand at a time."""
    out: list[tuple[str, str, int] | None] = []
    for i in range(0, len(blobs), 1000):
        out += repo.headers(blobs[i : i + 1000])
    return out


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
    _worker["last"] = None  # (commit, tree_listing) listed last: the next is its difference
    _worker["path"] = repo_path


def _reader_for(commit: str) -> TreeFiles:
    trees: dict = _worker["trees"]
    got = trees.get(commit)
    if got is None:
        limit = max_blob_bytes()
        listing = {p: b for p, (b, size) in _worker_listing(commit).items() if size <= limit}
        if len(trees) >= 2:
            trees.clear()
        got = trees[commit] = TreeFiles(_worker["repo"], commit, listing)
    return got


def _worker_listing(commit: str) -> dict[str, tuple[str, int]]:
    """tree_listing of COMMIT in a worker: as the difference from the tree it listed last,
    when it has one (a worker reads for release after release: a whole ``ls-tree -r -l`` each
    time was most of its time on a 900-release history), the sizes of the changed blobs
    asked from ``git cat-file``."""
    repo: GitRepo = _worker["repo"]
    last = _worker.get("last")
    if last is None:
        files = tree_listing(repo, commit)
    else:
        files = dict(last[1])
        out = repo.run_bytes("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id",
                             last[0], commit)
        new = []
        for path, blob in _diff_tree_files(out, ALL, all_paths=True):
            if blob is None:
                files.pop(path, None)
            else:
                new.append((path, blob))
        ids = list(dict.fromkeys(b for _p, b in new))
        heads = dict(zip(ids, _headers(repo, ids)))
        for path, blob in new:
            head = heads[blob]
            if head is None:  # not in the repository: ls-tree -l could not size it either
                files.pop(path, None)
            else:
                files[path] = (blob, head[2])
    _worker["last"] = (commit, files)
    return files


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
    answer_kept: bool = False  # structs: answered from the index's stored answer (not in JSON)
    cpu: float = 0.0  # CPU seconds the readers spent
    seconds: float = 0.0
    jobs: int = 1

    def to_json(self) -> dict:
        return {"releases": self.releases, "up_to_date": self.up_to_date,
                "files": self.files, "blobs": self.blobs,
                "stored_before": self.stored, "read": self.read, "definitions": self.bodies,
                "too_large": self.too_large, "jobs": self.jobs,
                "seconds": round(self.seconds, 3), "cpu_seconds": round(self.cpu, 3)}


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
    maps: list[dict[str, str] | None] = []  # per release: path -> blob (None once stored)
    seen: set[str] = set()
    too_large: set[str] = set()
    work_versions = [v for v in versions if store.release_scope(v.commit) not in (scope, ALL)]
    stats.releases = [v.tag for v in versions]
    stats.up_to_date = len(versions) - len(work_versions)
    listings = release_files(repo, [v.commit for v in work_versions], scope)
    for k, (v, (files, changed)) in enumerate(zip(work_versions, listings)):
        stats.files += len(files)
        maps.append(files)
        # a blob new to this run is at changed paths only (the previous release's are seen):
        # its first appearance is the first such path in path order, as a sorted listing has it
        first: dict[str, str] = {}
        for p in sorted(changed):
            b = files[p]
            if b not in seen:
                first.setdefault(b, p)
        seen.update(first)
        fresh = [b for b in first if b not in done]
        for b, head in zip(fresh, _headers(repo, fresh)):
            if head is not None and head[2] > limit:
                too_large.add(b)
            else:
                todo[b] = (v.commit, first[b])
        pending = set(files.values()).difference(done).difference(too_large)
        for b in pending:
            needs.setdefault(b, []).append(k)
        waiting.append(len(pending))
    stats.blobs = len(seen)
    stats.stored = len(seen & done.keys())
    stats.too_large = len(too_large)
    if stats.too_large and warn is not None:
        warn(f"{stats.too_large} file(s) over the {limit >> 20} MiB limit on files read are not"
             " indexed (set SRCDIFF_MAX_BLOB_MB to raise it)")

    def finish_release(k: int) -> None:
        files = maps[k]
        maps[k] = None
        store.put_release(work_versions[k], scope,
                          sorted((p, b) for p, b in files.items() if done.get(b)))

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


def record_facts(repo: GitRepo, store: IndexStore) -> None:
    """What srcdiff.quick needs to resolve names without git, kept in the index: each tag's
    object -> its commit (an annotated tag's ref holds the tag object), and whether HEAD's
    commit has a Kconfig at the top (how ``show`` reads without --config). Object ids never
    change meaning, so these facts never go stale."""
    facts: dict[str, str] = {}
    out = repo.run_text("for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname)"
                        " %(*objecttype)", "refs/tags")
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 2 and p[1] == "commit":
            facts[f"peel:{p[0]}"] = p[0]
        elif len(p) == 4 and p[1] == "tag" and p[3] == "commit":
            facts[f"peel:{p[0]}"] = p[2]
    head = repo.resolve("HEAD")
    if head is not None:
        facts[f"kconfig:{head}"] = "1" if repo.blob_id(head, "Kconfig") is not None else "0"
    store.put_facts(facts)


def refs_state(repo: GitRepo) -> str | None:
    """srcdiff.quick's digest of every ref of REPO (None where it cannot read them alone)."""
    from srcdiff.quick import Refs

    try:
        return Refs(str(repo.common_dir)).state()
    except Exception:  # noqa: BLE001 - then the quick path does not answer: no harm
        return None


def record_facts_if_indexed(repo: GitRepo, cache_path: Path | None, arch: str) -> None:
    """record_facts, when the cache at CACHE_PATH holds an index (``show`` keeps them so
    that the next question about HEAD or a new tag is answered from it)."""
    from srcdiff.indexdb import IndexStore as Store

    if cache_path is None or not cache_path.is_file():
        return
    probe = Store.reader(cache_path, fingerprint(arch))
    if probe is None:
        return
    indexed = probe.db.execute("SELECT 1 FROM idx_release LIMIT 1").fetchone()
    probe.db.close()
    if indexed:
        store = IndexStore(cache_path, fingerprint(arch))
        try:
            record_facts(repo, store)
        finally:
            store.close()
