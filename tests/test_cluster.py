"""srcdiff index --scheduler: the same work units on a Dask cluster give the same database."""

from __future__ import annotations

import json
import sqlite3
import sys
import zlib

import pytest
from test_index import _commit, _two_releases

TABLES = {
    "idx_blob": "SELECT blob, n FROM idx_blob",
    "idx_name": "SELECT blob, name, kind, alias, nfields, members, guarded FROM idx_name",
    "idx_def": "SELECT blob, name, data FROM idx_def",
    "idx_release": "SELECT commit_id, tag, scope FROM idx_release",
    "idx_file": "SELECT commit_id, path, blob FROM idx_file",
}


def _tables(cache_dir):
    """Every index table as a sorted list of rows (definitions decompressed)."""
    with sqlite3.connect(cache_dir / "cache.sqlite") as db:
        out = {t: sorted(db.execute(q).fetchall()) for t, q in TABLES.items()}
    out["idx_def"] = [(b, n, json.loads(zlib.decompress(d))) for b, n, d in out["idx_def"]]
    return out


def _many(tmp_path):
    repo = _two_releases(tmp_path)
    _commit(repo, {f"include/linux/h{i}.h": f"struct s{i} {{ int a; long b{i}; }};\n"
                   for i in range(60)}, "v1.2")
    return repo


def test_an_index_on_a_dask_cluster_is_the_process_pools(srcdiff, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from srcdiff import index

    monkeypatch.setattr(index, "CLUSTER_CHUNK_BLOBS", 8)  # several chunks a release
    repo = _many(tmp_path)
    pool = srcdiff("index", "--repo", str(repo), "-j", "2", "--cache-dir", str(tmp_path / "pool"),
                   "--format", "json")
    assert pool.code == 0, pool.err
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        res = srcdiff("index", "--repo", str(repo), "--scheduler", cluster.scheduler_address,
                      "--cache-dir", str(tmp_path / "dask"), "--format", "json")
    assert res.code == 0 and res.err == "", res.err
    a, b = pool.json(), res.json()
    assert b["jobs"] == 2  # the cluster's worker threads
    assert (b["blobs"], b["read"], b["definitions"]) == (a["blobs"], a["read"], a["definitions"])
    assert a["read"] == 65  # 9 chunks at v1.2, on 2 workers
    ta, tb = _tables(tmp_path / "pool"), _tables(tmp_path / "dask")
    assert len(ta["idx_def"]) == 71 and ta == tb
    changed = ("structs", "--repo", str(repo), "--changed", "v1.1", "v1.2", "--format", "json")
    assert (srcdiff(*changed, "--cache-dir", str(tmp_path / "pool")).json()
            == srcdiff(*changed, "--cache-dir", str(tmp_path / "dask")).json())


def test_a_worker_that_cannot_read_the_repository_is_one_line(srcdiff, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from srcdiff import cluster

    repo = _two_releases(tmp_path)
    real = cluster.run_on_dask

    def elsewhere(repo_path, *a, **k):  # the workers see no repository at that path
        return real(str(tmp_path / "not-shared"), *a, **k)

    monkeypatch.setattr(cluster, "run_on_dask", elsewhere)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as c:
        res = srcdiff("index", "--repo", str(repo), "--scheduler", c.scheduler_address)
    assert res.code == 2 and res.err.count("\n") == 1
    assert res.err.startswith("srcdiff: error: Dask worker on ") and "not-shared" in res.err


def test_without_dask_the_scheduler_is_one_line(srcdiff, tmp_path, monkeypatch):
    repo = _two_releases(tmp_path)
    monkeypatch.setitem(sys.modules, "distributed", None)
    res = srcdiff("index", "--repo", str(repo), "--scheduler", "local")
    assert res.code == 2 and res.err == (
        "srcdiff: error: --scheduler needs dask's distributed: pip install 'srcdiff[dask]'\n")


def test_no_scheduler_there_is_one_line(srcdiff, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from srcdiff import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    repo = _two_releases(tmp_path)
    res = srcdiff("index", "--repo", str(repo), "--scheduler", "tcp://127.0.0.1:1")
    assert res.code == 2 and res.err.count("\n") == 1
    assert res.err.startswith("srcdiff: error: --scheduler tcp://127.0.0.1:1: cannot connect")
