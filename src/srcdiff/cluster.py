"""cluster: the index's work units on a Dask cluster instead of the local process pool.

The same function reads the same chunks (index.read_chunk, through read_chunk_dask); only who
runs it changes. dask's distributed is an optional dependency (``pip install 'srcdiff[dask]'``),
imported here only, when ``srcdiff index --scheduler`` asks for it. The workers open the
repository by its path: on a cluster, a path every worker reads (a shared filesystem, or a
clone at the same path on each machine), with the same srcdiff installed.
"""

from __future__ import annotations

from collections.abc import Iterator

from srcdiff.errors import SrcdiffError

CONNECT_TIMEOUT = "20s"  # how long to try to reach a scheduler


def _distributed():
    """dask's distributed; SrcdiffError saying how to install it when missing."""
    try:
        import distributed
    except ImportError:
        raise SrcdiffError("--scheduler needs dask's distributed: pip install 'srcdiff[dask]'"
                           ) from None
    return distributed


def run_on_dask(repo_path: str, tasks: list, scheduler: str, jobs: int, fp: str, stats
                ) -> Iterator[tuple[list, float]]:
    """Results of TASKS (index.read_chunk's), in any order, from the cluster whose scheduler
    is at SCHEDULER ("local": a LocalCluster of JOBS one-thread processes on this machine).
    STATS.jobs is set to the cluster's worker threads."""
    distributed = _distributed()
    from srcdiff.index import read_chunk_dask

    cluster = None
    try:
        if scheduler == "local":
            cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1,
                                               processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise SrcdiffError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
    try:
        threads = sum(client.nthreads().values())
        if not threads:
            raise SrcdiffError(f"--scheduler {scheduler}: the cluster has no worker")
        stats.jobs = threads
        futures = client.map(read_chunk_dask, tasks, repo_path=repo_path, fp=fp, pure=False)
        for fut in distributed.as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
