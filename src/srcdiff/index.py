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
from collections.abc import Callable
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
