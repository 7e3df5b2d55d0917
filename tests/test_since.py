"""srcdiff since: one member's life across releases, as an eBPF author asks it."""

from __future__ import annotations

from tests.test_blame_lines import Project


def kernel(tmp_path) -> tuple[Project, dict[str, str]]:
    p = Project(tmp_path / "linux")
    shas = {}
    p.commit(["int pid", "volatile long state"], "introduce task", "2019-01-01")
    p.git("tag", "v5.0")
    shas["nice"] = p.commit(["int pid", "volatile long state", "int nice"], "add nice",
                            "2020-01-01")
    p.git("tag", "v5.4")
    shas["rename"] = p.commit(["int pid", "unsigned int __state", "int nice"],
                              "sched: Change task_struct::state", "2021-06-11")
    p.git("tag", "v5.14")
    shas["retype"] = p.commit(["long pid", "unsigned int __state", "int nice"], "pid: widen",
                              "2022-01-01")
    p.git("tag", "v5.17")
    return p, shas


def test_since_names_first_release_commit_absences_and_a_rename(tmp_path, srcdiff):
    p, shas = kernel(tmp_path)
    res = srcdiff("since", "server.__state", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["first"]["tag"] == "v5.14" and data["first"]["commit"] == shas["rename"]
    assert data["present"] == ["v5.14", "v5.17"] and data["absent"] == ["v5.0", "v5.4"]
    old = srcdiff("since", "server", "state", "--repo", str(p.path), "--format", "json").json()
    assert old["present"] == ["v5.0", "v5.4"]
    assert [(c["release"], c["change"], c["old"], c["new"], c["commit"]) for c in old["changes"]] \
        == [("v5.14", "renamed", "state", "__state", shas["rename"])]
    text = srcdiff("since", "server.state", "--repo", str(p.path)).out
    assert "renamed" in text and "state -> __state" in text


def test_since_lists_retypes_and_nested_guards(tmp_path, srcdiff):
    p, shas = kernel(tmp_path)
    pid = srcdiff("since", "server.pid", "--repo", str(p.path), "--format", "json").json()
    assert [(c["release"], c["change"], c["old"], c["new"]) for c in pid["changes"]] == [
        ("v5.17", "retyped", "int", "long")]
    (p.path / "server.h").write_text(
        "struct server {\n\tlong pid;\n\tunsigned int __state;\n\tint nice;\n"
        "#ifdef CONFIG_NUMA\n\tint numa_node;\n#endif\n};\n")
    p.git("commit", "-q", "-am", "numa node", date="2022-06-01")
    p.git("tag", "v5.19")
    numa = srcdiff("since", "server.numa_node", "--repo", str(p.path), "--format", "json").json()
    assert numa["guards"] == {"v5.19": "CONFIG_NUMA"}


def test_a_member_no_release_has_is_one_clear_error(tmp_path, srcdiff):
    p, _shas = kernel(tmp_path)
    res = srcdiff("since", "server.nicee", "--repo", str(p.path))
    assert res.code == 2 and res.err.count("\n") == 1
    assert "no member nicee" in res.err and "did you mean nice" in res.err
    res = srcdiff("since", "server", "--repo", str(p.path))
    assert res.code == 2 and "STRUCT.FIELD" in res.err
