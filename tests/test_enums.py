"""Enums (--kind enum): enumerators per release, with their guards and the commits that added
them, read through the macros that lay them out; and check on enum dependencies."""

from __future__ import annotations

import os
import subprocess

BPF_H_1 = """\
#ifndef _UAPI_BPF_H
#define _UAPI_BPF_H
#define ___FUNC_MAPPER(FN, ctx...) \\
	FN(unspec, 0, ##ctx) \\
	FN(map_lookup, 1, ##ctx) \\
	/* */
#define __ENUM_FN(x, y) FUNC_ ## x = y,
enum func_id {
	___FUNC_MAPPER(__ENUM_FN)
	__FUNC_MAX_ID,
};
#undef __ENUM_FN

struct func_user {
	enum func_id id;
};

enum colour {
	RED,
	GREEN = 4,
#ifdef CONFIG_BLUE
	BLUE,
#endif
	BLACK,
};
#endif
"""
BPF_H_2 = BPF_H_1.replace("\tFN(map_lookup, 1, ##ctx) \\\n",
                          "\tFN(map_lookup, 1, ##ctx) \\\n\tFN(loop, 2, ##ctx) \\\n")


def _kernel(tmp_path):
    """A Kconfig tree: v1 with func_id's unspec and map_lookup, v2 adds loop (one commit)."""
    repo = tmp_path / "k"
    (repo / "include/uapi/linux").mkdir(parents=True)
    (repo / "Kconfig").write_text("")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)

    git("init", "-q", "-b", "main")
    for tag, text, subject in (("v1", BPF_H_1, "bpf: helpers"), ("v2", BPF_H_2, "bpf: add loop")):
        (repo / "include/uapi/linux/bpf.h").write_text(text)
        git("add", "-A")
        git("commit", "-q", "-m", subject)
        git("tag", tag)
    return repo


def test_show_an_enum_laid_out_by_a_mapper_macro(tmp_path, srcdiff):
    repo = _kernel(tmp_path)
    r = srcdiff("show", "func_id", "--kind", "enum", "--repo", str(repo), "--format", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["kind"] == "enum" and data["path"] == "include/uapi/linux/bpf.h"
    assert [(f["name"], f["type"]) for f in data["fields"]] == [
        ("FUNC_unspec", "0"), ("FUNC_map_lookup", "1"), ("FUNC_loop", "2"),
        ("__FUNC_MAX_ID", "3")]
    colour = srcdiff("show", "colour", "--kind", "enum", "--repo", str(repo), "--format", "json")
    fields = {f["name"]: f for f in colour.json()["fields"]}
    assert [(n, f["type"], f["guard"]) for n, f in fields.items()] == [
        ("RED", "0", None), ("GREEN", "4", None), ("BLUE", "5", "CONFIG_BLUE"),
        ("BLACK", "BLUE + 1", None)]  # 5 or 6, as CONFIG_BLUE has it
    text = srcdiff("show", "func_id", "--kind", "enum", "--repo", str(repo)).out
    assert "enum func_id {" in text and "\tFUNC_loop = 2," in text
    # without --kind enum, a name is a struct's or a union's, as before
    r = srcdiff("show", "func_id", "--repo", str(repo))
    assert r.code == 2 and "struct func_id is not defined" in r.err
    r = srcdiff("show", "func_user", "--kind", "enum", "--repo", str(repo))
    assert r.code == 2 and "enum func_user is not defined" in r.err


def test_since_and_log_name_the_commit_that_added_an_enumerator(tmp_path, srcdiff):
    repo = _kernel(tmp_path)
    r = srcdiff("since", "func_id.FUNC_loop", "--kind", "enum", "--repo", str(repo),
                "--format", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["first"]["tag"] == "v2" and data["first"]["subject"] == "bpf: add loop"
    assert data["present"] == ["v2"] and data["absent"] == ["v1"]
    log = srcdiff("log", "func_id", "--kind", "enum", "--repo", str(repo), "--format", "json")
    changes = {(c["kind"], c["field"]) for c in log.json()["changes"]}
    assert ("added", "FUNC_loop") in changes
    assert ("retyped", "__FUNC_MAX_ID") in changes  # its value went from 2 to 3


def test_check_an_enum_dependency_per_release(tmp_path, srcdiff):
    repo = _kernel(tmp_path)
    off = tmp_path / "config-off"
    off.write_text("# CONFIG_BLUE is not set\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("enum func_id.FUNC_loop\nenum colour.BLUE\nenum func_id.FUNC_map_lookup 1\n"
                    "enum func_id.FUNC_nope?\nfunc_user.id\nenum func_user.id\n")
    r = srcdiff("check", str(deps), "--repo", str(repo), "--format", "json",
                "--config-at", f"v1={off}")
    assert r.code == 1, r.err
    got = {(d["enum"], d["struct"], d["field"]): d for d in r.json()["dependencies"]}
    assert got[(True, "func_id", "FUNC_loop")]["releases"] == {"v1": "absent", "v2": "present"}
    assert got[(True, "func_id", "FUNC_loop")]["kinds"] == ["enumval-exists"]
    assert got[(True, "func_id", "FUNC_loop")]["changes"][0]["subject"] == "bpf: add loop"
    assert got[(True, "colour", "BLUE")]["releases"] == {"v1": "config-off", "v2": "present"}
    assert got[(True, "colour", "BLUE")]["guards"] == {"v1": "CONFIG_BLUE", "v2": "CONFIG_BLUE"}
    assert got[(True, "func_id", "FUNC_map_lookup")]["releases"] == {
        "v1": "present", "v2": "present"}
    assert got[(True, "func_id", "FUNC_nope")]["releases"] == {"v1": "absent", "v2": "absent"}
    assert got[(False, "func_user", "id")]["releases"] == {"v1": "present", "v2": "present"}
    # a struct's name is no enum's
    assert got[(True, "func_user", "id")]["releases"] == {"v1": "no-struct", "v2": "no-struct"}
    text = srcdiff("check", str(deps), "--repo", str(repo), "--config-at", f"v1={off}").out
    assert "enum func_id.FUNC_loop: fails in 1 of 2 releases" in text
    assert "enum func_id.FUNC_nope (existence probe): holds in all 2 releases" in text
    bad = tmp_path / "bad.txt"
    bad.write_text("enum func_id.a.b\n")
    r = srcdiff("check", str(bad), "--repo", str(repo))
    assert r.code == 2 and f"{bad}:1:" in r.err and "enum NAME.ENUMERATOR" in r.err


def test_text_outputs_name_an_enum_as_an_enum(tmp_path, srcdiff):
    repo = _kernel(tmp_path)
    log = srcdiff("log", "func_id", "--kind", "enum", "--repo", str(repo)).out
    assert log.startswith("enum func_id\n") and "+ FUNC_loop = 2" in log
    diff = srcdiff("diff", "func_id", "v1", "v2", "--kind", "enum", "--repo", str(repo)).out
    assert diff.startswith("enum func_id: v1 -> v2\n")
    blame = srcdiff("blame", "func_id", "--kind", "enum", "--repo", str(repo)).out
    assert blame.startswith("enum func_id at v2")
    assert any(ln.startswith("FUNC_loop = 2") and "v2" in ln for ln in blame.splitlines())
    r = srcdiff("since", "func_id.FUNC_lop", "--kind", "enum", "--repo", str(repo))
    assert r.code == 2 and "enum func_id has no member FUNC_lop" in r.err
    assert "did you mean FUNC_loop" in r.err
