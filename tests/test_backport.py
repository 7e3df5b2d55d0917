"""Cherry-picks and backports: a change that reached a line by cherry-pick names its original,
and a diff across two lines says which members came by backport."""

from __future__ import annotations

from srcdiff.backport import upstream_of
from tests.test_blame_lines import Project


def test_the_messages_that_name_an_original():
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert upstream_of(f"fix it\n\n(cherry picked from commit {sha})\n") == sha
    assert upstream_of(f"fix it\n\ncommit {sha} upstream.\n\nbody\n") == sha
    assert upstream_of(f"fix it\n\n[ Upstream commit {sha} ]\n") == sha
    assert upstream_of("fix it\n\nSee commit 0123456789ab for the cause.\n") is None


def test_a_diff_across_lines_names_the_backports_and_their_originals(tmp_path, srcdiff):
    p = Project(tmp_path / "linux")
    p.commit(["int a"], "introduce server", "2018-08-12")
    p.git("tag", "v4.18")
    up_x = p.commit(["int a", "int x"], "server: add x", "2019-01-01")
    up_y = p.commit(["int a", "int x", "int y"], "server: add y", "2019-02-01")
    up_z = p.commit(["int a", "int x", "int y", "int z"], "server: add z", "2019-03-01")
    p.git("tag", "v5.8")
    p.git("checkout", "-q", "-b", "vendor", "v4.18")
    p.git("cherry-pick", "-x", up_x, date="2020-01-01")  # says where it came from
    p.git("cherry-pick", up_y, date="2020-01-02")  # says nothing: the same diff
    own = p.commit(["int a", "int x", "int y", "int vendor_only", "int z"], "server: add z",
                   "2020-01-03")  # says nothing, another diff: the same subject and author
    p.git("tag", "4.18.0-305")
    res = srcdiff("diff", "server", "v5.8", "4.18.0-305", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert [(c["kind"], c["field"]) for c in data["changes"]] == [("added", "vendor_only")]
    ported = {c["field"]: c["commits"][0] for c in data["backported"]}
    assert set(ported) == {"x", "y", "z"}
    assert ported["x"]["upstream"] == {"commit": up_x, "found_by": "trailer"}
    assert ported["y"]["upstream"] == {"commit": up_y, "found_by": "patch-id"}
    assert ported["z"]["upstream"] == {"commit": up_z, "found_by": "subject"}
    assert ported["z"]["commit"] == own
    text = srcdiff("diff", "server", "v5.8", "4.18.0-305", "--repo", str(p.path)).out
    assert "(backports):" in text and f"[backport of {up_x[:12]}]" in text
    # on one line there is nothing to port
    same = srcdiff("diff", "server", "v4.18", "v5.8", "--repo", str(p.path), "--format", "json")
    assert same.json()["backported"] == []


def test_log_names_the_original_of_a_pick_on_a_release_branch(tmp_path, srcdiff):
    # redis picks fixes onto its release branches without -x: the change on 7.0.0 -> 7.0.1
    # names the unstable commit with its subject and author
    p = Project(tmp_path / "redis")
    p.commit(["int db"], "initial server", "2022-01-01")
    p.git("checkout", "-q", "-b", "7.0")
    p.commit(["int db"], "7.0.0", "2022-04-27")
    p.git("tag", "7.0.0")
    p.git("checkout", "-q", "main")
    up = p.commit(["int db", "int fix"], "Fix crash in CLIENT KILL (#1234)", "2022-05-01")
    p.git("checkout", "-q", "7.0")
    pick = p.commit(["int db", "int fix"], "Fix crash in CLIENT KILL (#1234)", "2022-05-02")
    p.git("tag", "7.0.1")
    p.git("checkout", "-q", "-b", "7.2", "main")
    p.commit(["int db", "int fix"], "7.2.0", "2023-08-15")
    p.git("tag", "7.2.0")
    data = srcdiff("log", "server", "--repo", str(p.path), "--format", "json").json()
    on_branch = [c for c in data["changes"] if c["to"] == "7.0.1" and c["field"] == "fix"]
    assert on_branch and on_branch[0]["commits"][0]["commit"] == pick
    assert on_branch[0]["commits"][0]["upstream"] == {"commit": up, "found_by": "subject"}
    text = srcdiff("log", "server", "--repo", str(p.path)).out
    assert f"[backport of {up[:12]}]" in text
