"""The Python API (srcdiff.open): the same answers as the commands' --format json, errors as
SrcdiffError with the command's line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_index import FOO_1, _commit, _repo, _two_releases

import srcdiff as sd
from srcdiff.errors import SrcdiffError


def test_import_srcdiff_loads_nothing_heavy():
    code = ("import sys, srcdiff; heavy = sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('git', 'pycparser', 'networkx', 'click', 'rich') or m == 'srcdiff.api');"
            " print(heavy); print(srcdiff.open.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[]", "srcdiff.api"]


def test_every_question_answers_as_the_commands_json(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha.z\nalpha.y\ngamma.s int\nbeta.l?\n")
    cfg = tmp_path / "off.config"
    cfg.write_text("# CONFIG_B is not set\n")
    r = ["--repo", str(repo), "--format", "json"]
    with sd.open(repo, cache_dir=tmp_path / "api-cache") as api:
        pairs = [
            (api.versions(), ("versions",)),
            (api.show("alpha", at="v1.0"), ("show", "alpha", "--at", "v1.0")),
            (api.log("alpha"), ("log", "alpha")),
            (api.blame("gamma", all=True), ("blame", "gamma", "--all")),
            (api.since("alpha.z"), ("since", "alpha.z")),
            (api.since("gamma", "s"), ("since", "gamma", "s")),
            (api.check([deps], config_at={"v1.1": cfg}),
             ("check", str(deps), "--config-at", f"v1.1={cfg}")),
            (api.structs_changed("v1.0", "v1.1", config_at={"v1.1": str(cfg)}),
             ("structs", "--changed", "v1.0", "v1.1", "--config-at", f"v1.1={cfg}")),
            (api.structs_has("s"), ("structs", "--has", "s")),
        ]
        for got, args in pairs:
            res = srcdiff(*args, *r)
            assert res.code in (0, 1), (args, res.err)
            assert got == res.json(), args
        # already indexed by the structs questions: the API's index reads nothing
        stats = api.index(jobs=1)
        assert (stats["releases"], stats["up_to_date"], stats["read"]) == (["v1.0", "v1.1"], 2, 0)


def test_check_takes_dependency_lines_and_says_what_fails(tmp_path):
    repo = _two_releases(tmp_path)
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha.z\n")
    with sd.open(repo, cache=False) as api:
        from_lines = api.check(["alpha.z", "beta.l?", "gamma.s int"])
        from_file = api.check(str(deps))  # a string naming a file is that file
    assert from_lines["versions"] == ["v1.0", "v1.1"]
    by = {(d["struct"], d["field"]): d for d in from_lines["dependencies"]}
    assert by["alpha", "z"]["releases"] == {"v1.0": "absent", "v1.1": "present"}
    assert by["alpha", "z"]["failed"] == ["v1.0"]
    assert by["beta", "l"]["failed"] == []  # a probe: its absence is no failure
    assert by["gamma", "s"]["releases"] == {"v1.0": "retyped", "v1.1": "present"}
    assert from_file["dependencies"][0]["releases"] == by["alpha", "z"]["releases"]


def test_options_select_releases_and_read_as_the_commands_do(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    _commit(repo, {"include/linux/foo.h": FOO_1}, "v2.0")
    cfg = tmp_path / "on.config"
    cfg.write_text("CONFIG_B=y\n")
    with sd.open(repo, cache=False, tags="v1.*", config=cfg) as api:
        log = api.log("alpha")
    cli = srcdiff("log", "alpha", "--repo", str(repo), "--tags", "v1.*", "--config", str(cfg),
                  "--format", "json").json()
    assert log == cli and [v["tag"] for v in log["versions"]] == ["v1.0", "v1.1"]
    assert [f["name"] for f in log["versions"][0]["fields"]] == ["x", "y"]
    with sd.open(repo, cache=False, versions=["1.0", "2.0"]) as api:
        assert [v["tag"] for v in api.versions()["versions"]] == ["v1.0", "v2.0"]


@pytest.mark.parametrize("call, args", [
    (lambda api: api.log("nosuch"), ("log", "nosuch")),
    (lambda api: api.since("alpha.nosuch"), ("since", "alpha.nosuch")),
    (lambda api: api.show("alpha", at="v7"), ("show", "alpha", "--at", "v7")),
    (lambda api: api.structs_changed("v1.0", "v1.0"), ("structs", "--changed", "v1.0", "v1.0")),
    (lambda api: api.structs_has("y", config_at={"v9": "x"}),
     ("structs", "--has", "y", "--config-at", "v9=x")),
])
def test_errors_are_srcdifferror_with_the_commands_line(srcdiff, tmp_path, call, args):
    repo = _two_releases(tmp_path)
    res = srcdiff(*args, "--repo", str(repo))
    assert res.code == 2 and res.err.startswith("srcdiff: error: ")
    with sd.open(repo, cache_dir=tmp_path / "api-cache") as api, \
            pytest.raises(SrcdiffError) as exc:
        call(api)
    assert f"srcdiff: error: {exc.value}\n" == res.err


def test_open_errors(tmp_path):
    with pytest.raises(sd.SrcdiffError, match="not a git repository"):
        sd.open(tmp_path / "nowhere")
    repo = _repo(tmp_path)
    with pytest.raises(SrcdiffError, match="cannot read|no such"):
        sd.open(repo, config=tmp_path / "missing.config")
    with pytest.raises(SrcdiffError, match="inside the repository"):
        sd.open(repo, include_dirs=["../x"])
    _commit(repo, {"include/linux/a.h": "struct a { int x; };\n"}, "v1.0")
    with sd.open(repo, cache=False) as api, pytest.raises(SrcdiffError, match="drop --no-cache"):
        api.index()
