"""srcdiff check: which releases a program's struct dependencies hold in, and why not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def deps(tmp_path, text: str):
    f = tmp_path / "deps.txt"
    f.write_text(text)
    return str(f)


def test_each_dependency_per_release_with_the_reason_and_commit(demo_repo, srcdiff, tmp_path):
    d = deps(tmp_path, "vfio_pci_device.vf_token   # read by the program\n"
                       "vfio_pci_device.msix?\n"
                       "vfio_pci_device.pdev struct pci_dev *\n"
                       "vfio_pci_device.pdev long\n")
    res = srcdiff("check", d, "--repo", str(demo_repo), "--versions", "5.4,5.8,5.15",
                  "--format", "json")
    assert res.code == 1, res.err  # vf_token is missing somewhere: a CI job fails
    data = res.json()
    assert data["versions"] == ["v5.4", "v5.8", "v5.15"]
    got = {(x["field"], x["type"]): x for x in data["dependencies"]}
    token = got[("vf_token", None)]
    assert token["releases"] == {"v5.4": "absent", "v5.8": "present", "v5.15": "no-struct"}
    assert token["kinds"] == ["field-offset"] and token["programs"] == [d]
    assert token["changes"][0]["subject"] == "vfio/pci: Introduce VF token"
    assert got[("msix", None)]["kinds"] == ["field-exists"]
    assert got[("pdev", "struct pci_dev *")]["releases"]["v5.8"] == "present"
    assert got[("pdev", "long")]["releases"]["v5.8"] == "retyped"
    text = srcdiff("check", d, "--repo", str(demo_repo), "--versions", "5.4,5.8,5.15").out
    assert "vfio_pci_device.vf_token: fails in 2 of 3 releases" in text
    assert "vfio_pci_device.msix (existence probe): holds in all 3 releases" in text


def test_a_member_a_release_configures_out_is_config_off(demo_repo, srcdiff, tmp_path):
    msi, nomsi = tmp_path / "msi", tmp_path / "nomsi"
    msi.write_text("CONFIG_PCI_MSI=y\n")
    nomsi.write_text("# CONFIG_PCI_MSI is not set\n")
    d = deps(tmp_path, "pci_dev.msi_list\n")
    res = srcdiff("check", d, "--repo", str(demo_repo), "--versions", "5.4,5.8", "--format", "json",
                  "--config", str(nomsi), "--config-at", f"v5.8={msi}")
    assert res.code == 1, res.err
    dep = res.json()["dependencies"][0]
    assert dep["releases"] == {"v5.4": "config-off", "v5.8": "present"}
    assert dep["guards"] == {"v5.4": "CONFIG_PCI_MSI", "v5.8": "CONFIG_PCI_MSI"}
    ok = srcdiff("check", d, "--repo", str(demo_repo), "--versions", "5.4,5.8",
                 "--config", str(msi))
    assert ok.code == 0, ok.err


def test_bad_input_is_one_clear_line(demo_repo, srcdiff, tmp_path):
    bad = deps(tmp_path, "vfio_pci_device.vf_token\nthis is not a dependency\n")
    res = srcdiff("check", bad, "--repo", str(demo_repo))
    assert res.code == 2 and res.err.count("\n") == 1 and f"{bad}:2:" in res.err
    elf = tmp_path / "prog.bpf.o"
    elf.write_bytes(b"\x7fELF" + b"\0" * 60)
    res = srcdiff("check", str(elf), "--repo", str(demo_repo))
    assert res.code == 2 and "not a readable ELF object" in res.err and res.err.count("\n") == 1
    res = srcdiff("check", str(tmp_path / "missing.txt"), "--repo", str(demo_repo))
    assert res.code == 2 and "cannot read" in res.err
    good = deps(tmp_path, "vfio_pci_device.vf_token\n")
    res = srcdiff("check", good, "--repo", str(demo_repo), "--config-at", "v9.9=/dev/null")
    assert res.code == 2 and "--config-at v9.9" in res.err


def test_the_matrix_in_markdown(demo_repo, srcdiff, tmp_path):
    d = deps(tmp_path, "vfio_pci_device.vf_token\n")
    res = srcdiff("check", d, "--repo", str(demo_repo), "--versions", "5.4,5.8,5.15",
                  "--format", "md")
    assert "| dependency | kinds | v5.4 | v5.8 | v5.15 |" in res.out
    assert "| `vfio_pci_device.vf_token` | field-offset | ❌ absent | ✅ | ❌ no struct |" in res.out
    assert "- `vfio_pci_device.vf_token` added in v5.8: 96934abb6b30 vfio/pci: Introduce VF token" \
        in res.out


def test_a_configuration_decides_config_names_only(tmp_path):
    # in6_addr's u6_addr32 sits under __UAPI_DEF_IN6_ADDR_ALT, which a header defines: a
    # .config cannot turn it off
    from srcdiff.check import _holds
    from srcdiff.preprocess import Config

    cfg = tmp_path / "config"
    cfg.write_text("CONFIG_A=y\n# CONFIG_B is not set\n")
    config = Config.from_file(cfg)
    assert _holds("CONFIG_A", config) and not _holds("CONFIG_B", config)
    assert _holds("__UAPI_DEF_IN6_ADDR_ALT", config)
    assert _holds("CONFIG_A && __UAPI_DEF_IN6_ADDR_ALT", config)
    assert not _holds("CONFIG_B && __UAPI_DEF_IN6_ADDR_ALT", config)


def _commit_all(repo: Path, tag: str | None = None) -> str:
    """The files written under REPO as the first commit of a new repository there (tagged
    TAG): its id."""
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent), GIT_AUTHOR_NAME="A",
               GIT_AUTHOR_EMAIL="a@example.org", GIT_COMMITTER_NAME="A",
               GIT_COMMITTER_EMAIL="a@example.org")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                              capture_output=True, text=True).stdout

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "files")
    if tag:
        git("tag", tag)
    return git("rev-parse", "HEAD").strip()


PTRACE_H = """\
#ifndef _ASM_X86_PTRACE_H
#define _ASM_X86_PTRACE_H
#ifdef __i386__
struct pt_regs {
	unsigned long bx;
	unsigned long cx;
};
#else /* __i386__ */
struct pt_regs {
	unsigned long r15;
	unsigned long r8;
#ifdef CONFIG_X86_DEBUG
	unsigned long dbg;
#endif
};
#endif
#endif
"""


def test_without_a_config_the_usual_machine_of_the_arch_is_read(tmp_path, srcdiff):
    # x86's ptrace.h has one pt_regs for __i386__ and one for x86-64; without a .config a
    # kernel is read for x86-64 (what distributions build, what CO-RE programs meet), and
    # CONFIG_ names keep their guards
    repo = tmp_path / "k"
    (repo / "arch/x86/include/asm").mkdir(parents=True)
    (repo / "Kconfig").write_text("")
    (repo / "arch/x86/include/asm/ptrace.h").write_text(PTRACE_H)
    _commit_all(repo, "v6.1")
    r = srcdiff("show", "pt_regs", "--at", "v6.1", "--repo", str(repo), "--format", "json")
    assert r.code == 0, r.err
    fields = {f["name"]: f for f in r.json()["fields"]}
    assert list(fields) == ["r15", "r8", "dbg"]
    assert fields["dbg"]["guard"] == "CONFIG_X86_DEBUG"
    deps = tmp_path / "deps.txt"
    deps.write_text("pt_regs.r8\npt_regs.bx\n")
    r = srcdiff("check", str(deps), "--repo", str(repo), "--format", "json")
    status = {d["field"]: d["releases"]["v6.1"] for d in r.json()["dependencies"]}
    assert status == {"r8": "present", "bx": "absent"} and r.code == 1


def test_many_structs_are_searched_for_at_once_with_the_same_answers(tmp_path):
    # check asks about dozens of structs: their trees are searched for all of them in one go
    # (locate.presearch), and what is found is what searching one name at a time finds
    from srcdiff.cache import Cache
    from srcdiff.gitrepo import GitRepo
    from srcdiff.locate import ReadOptions, StructReader, presearch

    repo = tmp_path / "k"
    (repo / "include/linux").mkdir(parents=True)
    (repo / "kernel").mkdir()
    (repo / "include/linux/a.h").write_text(
        "struct alpha {\n\tint a;\n};\n/* struct beta { in a comment */\nstruct beta;\n")
    (repo / "include/linux/b.h").write_text("typedef struct {\n\tint b;\n} beta;\n")
    (repo / "kernel/ring.c").write_text("struct gamma {\n\tlong g;\n};\n")
    (repo / "kernel/other.c").write_text("static struct alpha x; /* alpha gamma */\n")
    rev = _commit_all(repo)
    names = ["alpha", "beta", "gamma", "delta"]

    def found(batch: bool) -> tuple[dict, int]:
        r = GitRepo(repo)
        reader = StructReader(r, Cache(None), ReadOptions())
        if batch:
            presearch(r, names, [rev])
        before = r.commands
        out = {}
        for n in names:
            f = reader.search_many([rev], n)[rev]
            out[n] = (f.path, [x.name for x in f.sdef.fields] if f.sdef else None)
        return out, r.commands - before

    one_by_one, greps = found(False)
    at_once, after = found(True)
    assert at_once == one_by_one == {
        "alpha": ("include/linux/a.h", ["a"]), "beta": ("include/linux/b.h", ["b"]),
        "gamma": ("kernel/ring.c", ["g"]), "delta": (None, None)}
    assert after < greps


def test_a_git_without_perl_regexes_is_searched_with_extended_ones(tmp_path):
    # presearch asks git grep for a Perl regex (faster on long alternations); a git built
    # without PCRE refuses it, and the same lines come from the extended regex
    from srcdiff.gitrepo import GitRepo

    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.h").write_text("struct alpha {\n\tint a;\n};\nstruct beta {\n};\n")
    rev = _commit_all(repo)
    r = GitRepo(repo)
    want = [("a.h", "struct alpha {"), ("a.h", "struct beta {")]
    assert r.grep_lines("struct (alpha|beta)", rev, ["a.h"], r"struct (?:alpha|beta)") == want
    # a pattern git's PCRE refuses stands for a git without it: the extended regex answers
    assert r.grep_lines("struct (alpha|beta)", rev, ["a.h"], r"struct (?<!") == want
    assert r.grep_lines("struct (alpha|beta)", rev, ["a.h"], r"struct (?:alpha|beta)") == want
