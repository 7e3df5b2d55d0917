"""Reading a compiled CO-RE BPF program's struct dependencies (BTF and .BTF.ext relocations),
and srcdiff check over them; hostile objects give one clear line."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from srcdiff.bpfobj import Access, Shape, dependencies
from srcdiff.errors import SrcdiffError
from tests.test_blame_lines import Project

DATA = Path(__file__).resolve().parent / "data"
OBJ = DATA / "task.bpf.o"  # built from task.bpf.c by scripts/make-bpf-fixtures
INT, UINT = Shape("int", 4, True, True), Shape("unsigned int", 4, False, True)
EXPECTED = [  # each with what the program reads there (the member on the way to one: nothing)
    Access("task_struct", "pid", "field-offset", shape=INT),
    Access("task_struct", "se", "field-offset"),
    Access("sched_entity", "vruntime", "field-offset", shape=Shape("__u64", 8, False, True)),
    Access("task_struct", "inner", "field-offset", shape=INT),  # in an anonymous struct in it
    # args[1]: the 1 indexes the array, a long of it is read
    Access("syscall_trace_enter", "args", "field-offset",
           shape=Shape("long", 8, True, True, indexed=1)),
    Access("task_struct", "__state", "field-exists"),  # asked about, not read
    Access("task_struct", "__state", "field-offset", shape=UINT),
    Access("task_struct", "state", "field-offset", flavored=True,  # task_struct___o
           shape=Shape("long", 8, True, True)),
    Access("sched_entity", None, "type-exists"),
]


def test_the_relocations_of_a_compiled_program():
    assert dependencies(str(OBJ)) == EXPECTED


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


@pytest.mark.parametrize("name", ["task.bpf.o", "sizes.bpf.o", "enumval.bpf.o"])
def test_mutated_objects_never_traceback(tmp_path, name):  # sizes: bitfields, arrays; enums
    data = (DATA / name).read_bytes()
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


SIZES_OBJ = DATA / "sizes.bpf.o"  # built from sizes.bpf.c by scripts/make-bpf-fixtures


def widget_repo(tmp_path) -> Project:
    """struct widget at v6.1 and v6.12, its members typed as sizes.bpf.c reads them or not."""
    p = Project(tmp_path / "linux")
    (p.path / "widget.h").write_text(
        "struct widget {\n\tlong prio;\n\tint mode:3;\n\tusers_t users;\n\tatomic_t refs;\n"
        "\tchar name[16];\n\tvoid *owner;\n};\n")
    p.git("add", "widget.h")
    p.git("commit", "-q", "-m", "widget", date="2022-12-11")
    p.git("tag", "v6.1")
    (p.path / "widget.h").write_text(
        "struct widget {\n\tint prio;\n\tunsigned int mode:3;\n\tusers_t users;\n\tatomic_t refs;\n"
        "\tchar name[TASK_COMM_LEN];\n\tstruct task_struct *owner;\n};\n")
    p.git("commit", "-q", "-am", "widget: Shrink prio, make mode unsigned", date="2024-11-17")
    p.git("tag", "v6.12")
    return p


def test_a_member_the_program_reads_at_another_size_is_retyped(tmp_path, srcdiff):
    p = widget_repo(tmp_path)
    res = srcdiff("check", str(SIZES_OBJ), "--repo", str(p.path), "--format", "json")
    assert res.code == 1, res.err  # prio and mode read garbage somewhere: a CI job fails
    deps = {d["field"]: d for d in res.json()["dependencies"]}
    # BPF_CORE_READ reads the program's 4 bytes of prio; v6.1's prio is a long
    assert deps["prio"]["releases"] == {"v6.1": "retyped", "v6.12": "present"}
    assert deps["prio"]["sizes"] == {
        "v6.1": {"program": {"type": "int", "bytes": 4, "signed": True},
                 "release": {"type": "long", "bytes": 8, "signed": True}},
        "v6.12": {"program": {"type": "int", "bytes": 4, "signed": True},
                  "release": {"type": "int", "bytes": 4, "signed": True}}}
    # a bitfield: its width CO-RE relocates; its signedness the program sign-extends by
    assert deps["mode"]["releases"] == {"v6.1": "present", "v6.12": "retyped"}
    assert deps["mode"]["sizes"]["v6.12"]["release"] == {
        "type": "unsigned int", "bytes": None, "signed": False, "bits": 3}
    assert deps["mode"]["reads"] == [{"type": "int", "bytes": None, "signed": True, "bits": 3}]
    # an element of name is read: its char is sized, the bound (a macro at v6.12) need not be
    assert deps["name"]["sizes"]["v6.12"]["release"]["type"] == "char"
    # a type srcdiff cannot size is not judged; fixed-size structs and pointers are
    assert deps["users"]["releases"] == {"v6.1": "present", "v6.12": "present"}
    assert deps["users"]["sizes"] == {}
    for name in ("refs", "name", "owner"):
        assert deps[name]["releases"] == {"v6.1": "present", "v6.12": "present"}, name
        assert set(deps[name]["sizes"]) == {"v6.1", "v6.12"}, name
    text = srcdiff("check", str(SIZES_OBJ), "--repo", str(p.path)).out
    assert "widget.prio: fails in 1 of 2 releases" in text
    assert ("  v6.1       the program reads int (4 bytes, signed); the release has long "
            "(8 bytes, signed)") in text
    assert ("  v6.12      the program reads int (3-bit bitfield, signed); the release has "
            "unsigned int (3-bit bitfield, unsigned)") in text
    assert "widget.users: holds in all 2 releases" in text
    md = srcdiff("check", str(SIZES_OBJ), "--repo", str(p.path), "--format", "md").out
    assert "| `widget.prio` | field-offset | ⚠️ retyped | ✅ |" in md
    assert "- `widget.prio` at v6.1: the program reads int (4 bytes, signed); the release has " \
        "long (8 bytes, signed)" in md
    page = srcdiff("check", str(SIZES_OBJ), "--repo", str(p.path), "--format", "html").out
    assert '<section id="sizes">' in page
    assert ("<code>widget.prio</code> at v6.1: the program reads int (4 bytes, signed); the "
            "release has long (8 bytes, signed)</li>") in page


def test_source_types_are_sized_for_x86_64_or_not_at_all():
    from srcdiff.lp64 import CType, resolve

    assert resolve("unsigned long") == resolve("long unsigned int") == CType(8, False, True)
    assert resolve("__s16") == CType(2, True, True) and resolve("pid_t") == CType(4, True, True)
    assert resolve("const struct list_head *") == CType(8, False, False)
    assert resolve("int (*)(struct file *, int)") == CType(8, False, False)
    assert resolve("u32[2][0x3]") == CType(24, None, False)
    assert resolve("kuid_t") == CType(4, None, False)
    assert resolve("unsigned int", 3) == CType(None, False, True)
    assert resolve("char") == CType(1, None, True)  # unsigned since 6.2, signed before
    for unknown in ("enum pid_type", "spinlock_t", "char[TASK_COMM_LEN]", "struct sock",
                    "long double", "long long long", "int[]"):
        assert resolve(unknown) is None, unknown


def _built_here(tmp_path: Path, source: str) -> Path:
    """tests/data/SOURCE compiled as scripts/make-bpf-fixtures does."""
    out = tmp_path / source.replace(".c", ".o")
    arch = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}-linux-gnu",
                    "-c", str(DATA / source), "-o", str(out)], check=True)
    return out


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is absent (Debian package clang)")
@pytest.mark.parametrize("source, expected", [
    ("task.bpf.c", lambda: EXPECTED), ("enumval.bpf.c", lambda: ENUM_EXPECTED),
    ("sizes.bpf.c", lambda: dependencies(str(SIZES_OBJ)))], ids=["task", "enumval", "sizes"])
def test_a_program_built_here_reads_as_its_committed_object(tmp_path, source, expected):
    # the committed objects (for machines without clang) are what clang builds from the sources
    assert dependencies(str(_built_here(tmp_path, source))) == expected()
