"""srcdiff index --export DIR: the index as Parquet tables (definitions, members, changes)."""

from __future__ import annotations

import sys

import pytest
from test_index import _commit, _two_releases


def _rows(directory, table):
    pq = pytest.importorskip("pyarrow.parquet")
    return pq.read_table(directory / f"{table}.parquet").to_pylist()


def test_export_writes_the_three_tables(srcdiff, tmp_path):
    pytest.importorskip("pyarrow")
    repo = _two_releases(tmp_path)
    _commit(repo, {"include/linux/same.h": "struct same { long a; };\n"}, "v1.2")
    out = tmp_path / "dataset"
    res = srcdiff("index", "--repo", str(repo), "-j", "1", "--export", str(out), "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["export"] == {"directory": str(out), "definitions": 18, "members": 23,
                                    "changes": 7}
    defs = _rows(out, "definitions")
    assert {(r["release"], r["path"], r["name"], r["kind"], r["line"], r["alias"])
            for r in defs if r["release"] == "v1.0"} == {
        ("v1.0", "include/linux/foo.h", "alpha", "struct", 3, False),
        ("v1.0", "include/linux/foo.h", "beta", "struct", 9, False),
        ("v1.0", "include/linux/foo.h", "gamma", "struct", 10, False),
        ("v1.0", "include/linux/foo.h", "anon_t", "struct", 11, True),
        ("v1.0", "include/linux/same.h", "same", "struct", 1, False),
        ("v1.0", "drivers/x.c", "in_c", "struct", 1, False)}
    members = [(r["struct"], r["member"], r["type"], r["guard"], r["position"])
               for r in _rows(out, "members") if r["release"] == "v1.1"]
    assert members[:3] == [("alpha", "x", "int", None, 0), ("alpha", "y", "int", "CONFIG_B", 1),
                           ("alpha", "z", "void *", None, 2)]
    assert ("gamma", "s", "int", None, 0) in members and len(members) == 8
    changes = [(r["from"], r["to"], r["struct"], r["member"], r["change"], r["old_type"],
                r["new_type"]) for r in _rows(out, "changes")]
    assert changes == [
        ("v1.0", "v1.1", "alpha", "z", "added", None, "void *"),
        ("v1.0", "v1.1", "beta", None, "removed", None, None),
        ("v1.0", "v1.1", "delta", None, "added", None, None),
        ("v1.0", "v1.1", "gamma", "s", "retyped", "short", "int"),
        ("v1.0", "v1.1", "gamma", "c", "removed", "char", None),
        ("v1.0", "v1.1", "in_c", "b", "added", None, "int"),
        ("v1.1", "v1.2", "same", "a", "retyped", "int", "long")]
    # the same member changes as structs --changed says
    data = srcdiff("structs", "--repo", str(repo), "--changed", "v1.0", "v1.1",
                   "--format", "json").json()
    for c in data["changed"]:
        for kind in ("added", "removed", "retyped"):
            assert c[kind] == [m for _f, t, s, m, k, _o, _n in changes
                               if t == "v1.1" and s == c["name"] and k == kind]
    # a second export needs a new directory; an empty one will do
    res = srcdiff("index", "--repo", str(repo), "--export", str(out))
    assert res.code == 2 and res.err.count("\n") == 1 and "already exists" in res.err
    (tmp_path / "empty").mkdir()
    assert srcdiff("index", "--repo", str(repo), "--export", str(tmp_path / "empty")).code == 0
    assert len(_rows(tmp_path / "empty", "members")) == 23


def test_without_pyarrow_export_is_one_line_and_nothing_is_done(srcdiff, tmp_path, monkeypatch):
    repo = _two_releases(tmp_path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    res = srcdiff("index", "--repo", str(repo), "--export", str(tmp_path / "out"))
    assert res.code == 2 and res.err == (
        "srcdiff: error: --export needs pyarrow: pip install 'srcdiff[parquet]'\n")
    assert not (tmp_path / "out").exists()
    info = srcdiff("cache", "info", "--format", "json").json()["entries"]
    assert info.get("index-release", 0) == 0  # stopped before indexing


def test_a_failed_export_leaves_nothing_half_written(srcdiff, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    from srcdiff import export

    repo = _two_releases(tmp_path)
    where = tmp_path / "exports"
    where.mkdir()

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_changes", disk_full)  # after a release's rows are written
    res = srcdiff("index", "--repo", str(repo), "-j", "1", "--export", str(where / "out"))
    assert res.code == 2 and res.err == (
        f"srcdiff: error: --export {where / 'out'}: cannot write: No space left on device\n")
    assert list(where.iterdir()) == []


def test_the_api_exports_as_the_command_does(srcdiff, tmp_path):
    pytest.importorskip("pyarrow")
    import srcdiff as sd

    repo = _two_releases(tmp_path)
    cli = srcdiff("index", "--repo", str(repo), "-j", "1", "--export", str(tmp_path / "a"),
                  "--format", "json").json()
    with sd.open(repo, cache_dir=tmp_path / "api-cache") as api:
        got = api.index(jobs=1, export=tmp_path / "b")
    assert {k: v for k, v in got["export"].items() if k != "directory"} == {
        k: v for k, v in cli["export"].items() if k != "directory"}
    for t in ("definitions", "members", "changes"):
        assert _rows(tmp_path / "a", t) == _rows(tmp_path / "b", t)
