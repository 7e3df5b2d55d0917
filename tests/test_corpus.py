"""Tests of the bundled demo history: scripts/make_demo_repo.py replaying corpus/.
They check with plain git what a user of the demo repository would see."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_demo_repo.py"
OLD = "drivers/vfio/pci/vfio_pci_private.h"
NEW = "include/linux/vfio_pci_core.h"

RELEASES = ("v4.4 v4.8 v4.10 v4.13 v4.15 v4.18 v5.0 v5.3 v5.4 v5.8 v5.11 v5.13 v5.15 v5.19 "
            "v6.2 v6.5 v6.8").split()
OTHER_TAGS = ["v5.8-rc1", "v5.8-rc3", "v5.15-rc1", "v5.4.1", "v5.4.2"]

# struct vfio_pci_device at v5.4 as the compiler sees it (DepSurf's seed listing).
V54_MEMBERS = [
    ("struct pci_dev *", "pdev"), ("void *[6]", "barmap"), ("bool [6]", "bar_mmap_supported"),
    ("u8 *", "pci_config_map"), ("u8 *", "vconfig"), ("struct perm_bits *", "msi_perm"),
    ("spinlock_t", "irqlock"), ("struct mutex", "igate"), ("struct vfio_pci_irq_ctx *", "ctx"),
    ("int", "num_ctx"), ("int", "irq_type"), ("int", "num_regions"),
    ("struct vfio_pci_region *", "region"), ("u8", "msi_qmax"), ("u8", "msix_bar"),
    ("u16", "msix_size"), ("u32", "msix_offset"), ("u32 [7]", "rbar"), ("bool", "pci_2_3"),
    ("bool", "virq_disabled"), ("bool", "reset_works"), ("bool", "extended_caps"),
    ("bool", "bardirty"), ("bool", "has_vga"), ("bool", "needs_reset"), ("bool", "nointx"),
    ("bool", "needs_pm_restore"), ("struct pci_saved_state *", "pci_saved_state"),
    ("struct pci_saved_state *", "pm_save"), ("struct vfio_pci_reflck *", "reflck"),
    ("int", "refcnt"), ("int", "ioeventfds_nr"), ("struct eventfd_ctx *", "err_trigger"),
    ("struct eventfd_ctx *", "req_trigger"), ("struct list_head", "dummy_resources_list"),
    ("struct mutex", "ioeventfds_lock"), ("struct list_head", "ioeventfds_list"),
]
V58_MEMBERS = V54_MEMBERS + [
    ("struct vfio_pci_vf_token *", "vf_token"), ("struct notifier_block", "nb"),
    ("struct mutex", "vma_lock"), ("struct list_head", "vma_list"),
    ("struct rw_semaphore", "memory_lock"),
]
V513_MEMBERS = [("struct vfio_device", "vdev")] + V58_MEMBERS
FIVE = ["vf_token", "nb", "vma_lock", "vma_list", "memory_lock"]


def _load_script():
    spec = importlib.util.spec_from_file_location("make_demo_repo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(repo: pathlib.Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=check)
    return done.stdout.strip()


def is_ancestor(repo: pathlib.Path, a: str, b: str) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", a, b])
    return done.returncode == 0


def members(repo: pathlib.Path, rev: str, path: str, struct: str) -> list[tuple[str, str]]:
    """(type, name) of each member, normalised the way a compiler would print them."""
    text = git(repo, "show", f"{rev}:{path}")
    body = re.search(r"^struct %s \{\n(.*?)^\};" % struct, text, re.M | re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for decl in filter(None, (d.strip() for d in body.split(";"))):
        decl = decl.replace("__iomem", "").replace("PCI_STD_NUM_BARS", "6")
        m = re.fullmatch(r"(.*?)(\**)\s*(\w+)\s*(\[[^]]+\])?(:\d+)?", " ".join(decl.split()))
        base, stars, name, array, _bits = m.groups()
        out.append((f"{base.strip()} {stars}{array or ''}".strip(), name))
    return out


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> pathlib.Path:
    dest = tmp_path_factory.mktemp("demo") / "linux"
    _load_script().build_demo_repo(dest)
    return dest


def test_release_rc_and_stable_tags_are_annotated(repo):
    for tag in RELEASES + OTHER_TAGS:
        assert git(repo, "cat-file", "-t", tag) == "tag", tag
    assert git(repo, "for-each-ref", "--format=%(taggername) %(taggerdate:short)",
               "refs/tags/v5.4") == "Linus Torvalds 2019-11-24"
    assert git(repo, "for-each-ref", "--format=%(taggername)",
               "refs/tags/v5.4.2") == "Greg Kroah-Hartman"
    assert git(repo, "log", "-1", "--format=%s", "v6.8") == "Linux 6.8"


def test_tags_form_a_dag_with_a_stable_branch(repo):
    assert is_ancestor(repo, "v5.4", "v5.8")
    assert is_ancestor(repo, "v5.4", "v5.4.1")
    assert is_ancestor(repo, "v5.4.1", "v5.4.2")
    assert not is_ancestor(repo, "v5.4.1", "v5.8")
    assert is_ancestor(repo, "v5.8-rc1", "v5.8-rc3") and is_ancestor(repo, "v5.8-rc3", "v5.8")
    assert git(repo, "rev-parse", "linux-5.4.y") == git(repo, "rev-parse", "v5.4.2^{commit}")


def test_main_is_checked_out_at_newest_release(repo):
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "v6.8^{commit}")
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / NEW).is_file() and not (repo / OLD).exists()


def test_commit_count_and_target_header_touched_by_a_minority(repo):
    total = int(git(repo, "rev-list", "--count", "--all"))
    touching = git(repo, "log", "--all", "--format=%h", "--", OLD, NEW,
                   "drivers/vfio/pci/vfio_pci_core.h").split()
    assert 60 <= total <= 120
    assert len(touching) < total / 2


def test_header_moves_at_v5_15(repo):
    assert git(repo, "cat-file", "-t", f"v5.4:{OLD}") == "blob"
    assert git(repo, "cat-file", "-t", f"v5.13:{OLD}") == "blob"
    assert git(repo, "ls-tree", "--name-only", "v5.15", OLD) == ""
    assert git(repo, "cat-file", "-t", f"v5.15:{NEW}") == "blob"
    text = git(repo, "show", f"v5.15:{NEW}")
    assert "struct vfio_pci_core_device {" in text and "vfio_pci_device" not in text
    renames = git(repo, "log", "--format=%s", "-M", "--diff-filter=R", "v5.13..v5.15")
    assert renames.splitlines() == ["vfio/pci: Introduce vfio_pci_core.ko",
                                    "vfio/pci: Rename vfio_pci_private.h to vfio_pci_core.h"]


@pytest.mark.parametrize("rev, expected", [("v5.4", V54_MEMBERS), ("v5.8", V58_MEMBERS),
                                           ("v5.11", V58_MEMBERS), ("v5.13", V513_MEMBERS)])
def test_member_lists_match_depsurf_seed(repo, rev, expected):
    assert members(repo, rev, OLD, "vfio_pci_device") == expected


def test_pci_std_num_bars_is_defined_where_the_header_reaches_it(repo):
    assert "#include <linux/pci.h>" in git(repo, "show", f"v5.4:{OLD}")
    assert "#include <uapi/linux/pci_regs.h>" in git(repo, "show", "v5.4:include/linux/pci.h")
    regs = git(repo, "show", "v5.4:include/uapi/linux/pci_regs.h")
    assert re.search(r"#define PCI_STD_NUM_BARS\s+6\b", regs)


def test_five_members_arrive_between_v5_4_and_v5_8(repo):
    old, new = (git(repo, "show", f"{rev}:{OLD}") for rev in ("v5.4", "v5.8"))
    for name in FIVE:
        pattern = re.compile(r"^\s*struct \w+\s+\*?%s;" % name, re.M)
        assert pattern.search(new) and not pattern.search(old), name


def test_vf_token_comes_through_a_merge_by_its_own_commit(repo):
    merges = git(repo, "log", "--merges", "--format=%s", "v5.4..v5.8").splitlines()
    assert len(merges) == 2 and all(s.startswith("Merge tag 'vfio-v5.") for s in merges)
    adders = git(repo, "log", "--format=%H %an|%s", "-S", "*vf_token;", "v5.4..v5.8", "--", OLD)
    sha, rest = adders.split(" ", 1)
    assert rest == "Alex Williamson|vfio/pci: Introduce VF token"
    mainline = git(repo, "rev-list", "--first-parent", "v5.4..v5.8").split()
    assert sha not in mainline


def test_removed_and_retyped_members_before_v5_4(repo):
    def fields(rev):
        return dict((n, t) for t, n in members(repo, rev, OLD, "vfio_pci_device"))
    assert "msix" in fields("v4.8") and "msix" not in fields("v4.10")
    assert fields("v4.10")["msix_offset"] == "int" and fields("v4.13")["msix_offset"] == "u32"
    # Same size spelled two ways: v5.3 uses PCI_STD_RESOURCE_END + 1 (5 + 1), v5.4 the new name.
    assert "*barmap[PCI_STD_RESOURCE_END + 1];" in git(repo, "show", f"v5.3:{OLD}")
    assert re.search(r"#define PCI_STD_RESOURCE_END\s+5\n", git(repo, "show", "v5.3:include/linux/pci.h"))
    assert fields("v5.4")["barmap"] == "void *[6]"


def test_other_struct_has_config_guards_bitfields_and_union(repo):
    text = git(repo, "show", "v5.4:include/linux/pci.h")
    body = re.search(r"^struct pci_dev \{\n(.*?)^\};", text, re.M | re.S).group(1)
    for needle in ("#ifdef CONFIG_PCI_MSI", "#else", "#if IS_ENABLED(CONFIG_PCI_PRI)",
                   "#ifdef CONFIG_PCIEASPM", "\tunion {", "is_busmaster:1;"):
        assert needle in body, needle
    assert re.search(r"\(\*read\)\(", text)  # struct pci_ops: function-pointer members


def test_ids_are_identical_across_builds_and_user_config(tmp_path, repo):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Someone Else\n[init]\n\tdefaultBranch = x\n")
    env = dict(os.environ, HOME=str(home), GIT_AUTHOR_NAME="X", GIT_COMMITTER_NAME="Y",
               GIT_COMMITTER_DATE="2001-01-01T00:00:00Z")
    env.pop("GIT_CONFIG_GLOBAL", None)
    other = tmp_path / "again"
    subprocess.run([sys.executable, str(SCRIPT), str(other)], cwd=tmp_path, env=env, check=True)
    refs = "for-each-ref", "--format=%(refname) %(objectname)"
    assert git(other, *refs) == git(repo, *refs)


def test_non_empty_destination_is_refused_with_one_line(tmp_path):
    (tmp_path / "keep.txt").write_text("mine\n")
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "not empty" in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine\n"
