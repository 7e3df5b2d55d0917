"""Reading a compiled CO-RE BPF program's struct dependencies (BTF and .BTF.ext relocations),
and srcdiff check over them; hostile objects give one clear line."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from srcdiff.bpfobj import Access, dependencies
from srcdiff.errors import SrcdiffError
from tests.test_blame_lines import Project

DATA = Path(__file__).resolve().parent / "data"
OBJ = DATA / "task.bpf.o"  # built from task.bpf.c by scripts/make-bpf-fixtures
EXPECTED = [
    Access("task_struct", "pid", "field-offset"),
    Access("task_struct", "se", "field-offset"),
    Access("sched_entity", "vruntime", "field-offset"),
    Access("task_struct", "inner", "field-offset"),  # a member of an anonymous struct in it
    Access("syscall_trace_enter", "args", "field-offset"),  # args[1]: the 1 indexes the array
    Access("task_struct", "__state", "field-exists"),
    Access("task_struct", "__state", "field-offset"),
    Access("task_struct", "state", "field-offset", flavored=True),  # task_struct___o
    Access("sched_entity", None, "type-exists"),
]


def test_the_relocations_of_a_compiled_program():
    assert dependencies(str(OBJ)) == EXPECTED


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is absent (Debian package clang)")
def test_a_program_built_here_reads_the_same(tmp_path):
    out = tmp_path / "task.bpf.o"
    arch = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}-linux-gnu",
                    "-c", str(DATA / "task.bpf.c"), "-o", str(out)], check=True)
    assert dependencies(str(out)) == EXPECTED


def test_check_over_releases_from_the_program(tmp_path, srcdiff):
    p = Project(tmp_path / "linux")
    (p.path / "sched.h").write_text(
        "struct sched_entity { unsigned long long vruntime; };\n"
        "struct task_struct { int pid; long state; struct sched_entity se; };\n")
    p.git("add", "sched.h")
    p.git("commit", "-q", "-m", "sched", date="2020-01-01")
    p.git("tag", "v5.10")
    (p.path / "sched.h").write_text(
        "struct sched_entity { unsigned long long vruntime; };\n"
        "struct task_struct { int pid; unsigned int __state; struct sched_entity se;\n"
        "\tstruct { int inner; }; };\n")
    p.git("commit", "-q", "-am", "sched: Change task_struct::state", date="2021-06-11")
    p.git("tag", "v5.14")
    res = srcdiff("check", str(OBJ), "--repo", str(p.path), "--format", "json")
    assert res.code == 1, res.err  # inner is missing at v5.10
    deps = {(d["struct"], d["field"]): d for d in res.json()["dependencies"]}
    assert deps[("task_struct", "inner")]["releases"] == {"v5.10": "absent", "v5.14": "present"}
    # checked for existence before it is read: a probe, its absence is no failure
    assert deps[("task_struct", "__state")]["kinds"] == ["field-exists", "field-offset"]
    assert deps[("task_struct", "__state")]["releases"]["v5.10"] == "absent"
    # read only through a flavor (the compat path): a probe too; present where it exists
    assert deps[("task_struct", "state")]["releases"] == {"v5.10": "present", "v5.14": "absent"}
    failing = {k for k, d in deps.items() if "absent" in d["releases"].values()
               or "no-struct" in d["releases"].values()}
    assert failing == {("task_struct", "inner"), ("task_struct", "__state"),
                       ("task_struct", "state"), ("syscall_trace_enter", "args")}
    text = srcdiff("check", str(OBJ), "--repo", str(p.path)).out
    assert "task_struct.state (existence probe): holds in all 2 releases" in text
    assert "task_struct.inner: fails in 1 of 2 releases" in text
    assert deps[("sched_entity", "vruntime")]["releases"] == {"v5.10": "present", "v5.14": "present"}
    assert deps[("task_struct", "pid")]["programs"] == [str(OBJ)]


def test_not_an_object_or_not_bpf_or_without_btf_is_one_line(tmp_path):
    text = tmp_path / "x.o"
    text.write_bytes(b"\x7fELF not really")
    with pytest.raises(SrcdiffError, match="not a readable ELF"):
        dependencies(str(text))
    host = shutil.which("true") or "/bin/true"
    with pytest.raises(SrcdiffError, match="not a BPF object"):
        dependencies(host)


ENUM_OBJ = DATA / "enumval.bpf.o"  # built from enumval.bpf.c by scripts/make-bpf-fixtures
ENUM_EXPECTED = [
    Access("func_id", "FUNC_loop", "enumval-exists"),
    Access("colour", "BLUE", "enumval-value"),
    Access("colour", "WHITE", "enumval-exists", flavored=True),  # enum colour___o, WHITE___o
]


def test_the_enum_value_relocations_of_a_compiled_program():
    assert dependencies(str(ENUM_OBJ)) == ENUM_EXPECTED


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is absent (Debian package clang)")
def test_an_enum_program_built_here_reads_the_same(tmp_path):
    out = tmp_path / "enumval.bpf.o"
    arch = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}-linux-gnu",
                    "-c", str(DATA / "enumval.bpf.c"), "-o", str(out)], check=True)
    assert dependencies(str(out)) == ENUM_EXPECTED


def test_check_enum_values_over_releases_from_the_program(tmp_path, srcdiff):
    from tests.test_enums import _kernel

    repo = _kernel(tmp_path)  # v1: func_id without FUNC_loop; v2 adds it
    res = srcdiff("check", str(ENUM_OBJ), "--repo", str(repo), "--format", "json")
    deps = {(d["struct"], d["field"]): d for d in res.json()["dependencies"]}
    assert all(d["enum"] for d in deps.values())
    assert deps[("func_id", "FUNC_loop")]["releases"] == {"v1": "absent", "v2": "present"}
    assert deps[("func_id", "FUNC_loop")]["changes"][0]["subject"] == "bpf: add loop"
    assert deps[("colour", "BLUE")]["releases"] == {"v1": "present", "v2": "present"}
    assert deps[("colour", "BLUE")]["kinds"] == ["enumval-value"]
    assert deps[("colour", "WHITE")]["releases"] == {"v1": "absent", "v2": "absent"}
    # enumval-exists relocations are probes: the program runs where they are absent
    assert res.code == 0, res.err
    text = srcdiff("check", str(ENUM_OBJ), "--repo", str(repo)).out
    assert "enum func_id.FUNC_loop (existence probe): holds in all 2 releases" in text
    assert "  absent     v1" in text


@pytest.mark.parametrize("obj", [OBJ, ENUM_OBJ], ids=["task", "enumval"])
def test_mutated_objects_never_traceback(tmp_path, obj):
    data = obj.read_bytes()
    rng = random.Random(13)
    target = tmp_path / "m.bpf.o"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(400):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        if rng.random() < 0.2:
            del b[rng.randrange(len(b)):]  # truncated
        target.write_bytes(bytes(b))
        try:
            got = dependencies(str(target))
            assert isinstance(got, list)
            outcomes["read"] += 1
        except SrcdiffError as e:
            assert "\n" not in str(e) and len(str(e)) <= 200
            outcomes["refused"] += 1
    assert outcomes["read"] and outcomes["refused"]
