"""Acceptance tests on the demo history (corpus/): what a user sees from each command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import git

SEED = Path(__file__).parent / "data" / "vfio_pci_device-depsurf.txt"
HEADER = "drivers/vfio/pci/vfio_pci_private.h"
NEW_IN_58 = ["vf_token", "nb", "vma_lock", "vma_list", "memory_lock"]


def seed_definitions() -> dict[str, list[str]]:
    """Member declarations per release in DepSurf's view (the compiler's), normalised."""
    text = SEED.read_text()
    out: dict[str, list[str]] = {}
    for m in re.finditer(r"^(\d+\.\d+): ✅struct vfio_pci_device \{\n(.*?)\n\};", text, re.DOTALL | re.MULTILINE):
        out.setdefault(m.group(1), [_norm(line.rstrip(";")) for line in m.group(2).splitlines()])
    return out


def _norm(decl: str) -> str:
    return re.sub(r"\*\s+", "*", " ".join(decl.split()))


def decls(version: dict) -> list[str]:
    from srcdiff.model import format_decl

    return [_norm(format_decl(f["type"], f["name"], f.get("bits"))) for f in version["fields"]]


@pytest.fixture
def log_json(demo_repo, srcdiff):
    res = srcdiff("log", "vfio_pci_device", "--repo", str(demo_repo), "--format", "json")
    assert res.code == 0, res.err
    return res.json()


def test_log_matches_the_compiler_view_of_the_seed(log_json):
    seed = seed_definitions()
    assert set(seed) == {"5.4", "5.8", "5.11", "5.13"}
    versions = {v["tag"]: v for v in log_json["versions"]}
    for label, members in seed.items():
        v = versions["v" + label]
        assert v["present"] and v["path"] == HEADER
        assert decls(v) == members, label


def test_log_lists_releases_and_absence_after_the_rename(log_json):
    tags = [v["tag"] for v in log_json["versions"]]
    for t in ["v4.4", "v4.8", "v5.4", "v5.4.1", "v5.8", "v5.13", "v5.15", "v6.8"]:
        assert t in tags
    assert "v5.8-rc1" not in tags  # rc tags only with --include-rc
    present = {v["tag"]: v["present"] for v in log_json["versions"]}
    assert [t for t in tags if not present[t]] == ["v5.15", "v5.19", "v6.2", "v6.5", "v6.8"]
    note = next(v["note"] for v in log_json["versions"] if v["tag"] == "v5.15")
    assert "renamed to vfio_pci_core_device" in note


def test_log_text_says_what_changed_and_who(demo_repo, srcdiff):
    res = srcdiff("log", "vfio_pci_device", "--repo", str(demo_repo))
    assert res.code == 0
    assert "v5.4 -> v5.8:" in res.out
    assert "+ struct rw_semaphore memory_lock" in res.out
    assert "v5.15: absent (renamed to vfio_pci_core_device" in res.out
    assert "\tstruct vfio_device vdev;" in res.out  # definitions are shown per release


def _adding_commit(repo: Path, member: str, old: str, new: str) -> str:
    """The commit that added MEMBER's line, by plain git (the oracle)."""
    out = git(repo, "log", "--format=%H", f"-G[[:space:]*]{member};", f"{old}..{new}", "--", HEADER)
    return out.split()[-1]


def test_blame_names_commit_and_release_of_new_members(demo_repo, srcdiff):
    res = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["struct"] == "vfio_pci_device"
    fields = {f["name"]: f for f in data["fields"]}
    for member in NEW_IN_58:
        intro = fields[member]["introduced"]
        assert intro["tag"] == "v5.8"
        assert intro["commit"] == _adding_commit(demo_repo, member, "v5.4", "v5.8")
        parents = git(demo_repo, "rev-list", "--parents", "-n1", intro["commit"]).split()
        assert len(parents) == 2, "a merge must not be blamed"
        assert intro["author"] and intro["date"] and intro["subject"]
    vdev = fields["vdev"]["introduced"]
    assert vdev["tag"] == "v5.13"
    assert vdev["commit"] == _adding_commit(demo_repo, "vdev", "v5.11", "v5.13")
    assert data["fields"][0]["name"] == "vdev"  # in the order of the definition


def test_blame_text_and_removed_members(demo_repo, srcdiff):
    res = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--all")
    assert res.code == 0
    vf = next(line for line in res.out.splitlines() if "vf_token" in line)
    assert "v5.8" in vf and "vfio/pci: Introduce VF token" in vf
    assert "removed in" in res.out


def test_diff_lists_exactly_the_five_added_members(demo_repo, srcdiff):
    res = srcdiff("diff", "vfio_pci_device", "v5.4", "v5.8", "--repo", str(demo_repo),
                  "--format", "json")
    assert res.code == 0, res.err
    changes = res.json()["changes"]
    assert {c["kind"] for c in changes} == {"added"}
    got = {c["field"]: c["new_type"] for c in changes}
    assert got == {
        "vf_token": "struct vfio_pci_vf_token *",
        "nb": "struct notifier_block",
        "vma_lock": "struct mutex",
        "vma_list": "struct list_head",
        "memory_lock": "struct rw_semaphore",
    }
    assert all(len(c["commits"]) == 1 for c in changes)
    text = srcdiff("diff", "vfio_pci_device", "v5.4", "v5.8", "--repo", str(demo_repo)).out
    assert text.count("\n+ ") == 5


def test_changelog_is_markdown_newest_first(demo_repo, srcdiff):
    res = srcdiff("changelog", "vfio_pci_device", "--repo", str(demo_repo))
    assert res.code == 0
    heads = re.findall(r"^## (v[\d.]+)", res.out, re.MULTILINE)
    assert heads[0] == "v6.8" and heads[-1] == "v4.4"
    v58 = res.out.split("## v5.8")[1].split("## ")[0]
    assert "Added `struct vfio_pci_vf_token *vf_token`" in v58
    assert "vfio/pci: Introduce VF token" in v58


def test_follow_continues_under_the_new_name(demo_repo, srcdiff):
    res = srcdiff("log", "vfio_pci_device", "--repo", str(demo_repo), "--follow", "--format", "json")
    names = {v["tag"]: v["name"] for v in res.json()["versions"]}
    assert names["v5.13"] == "vfio_pci_device"
    assert names["v5.15"] == names["v6.8"] == "vfio_pci_core_device"
    paths = {v["tag"]: v["path"] for v in res.json()["versions"]}
    assert paths["v5.15"] == "include/linux/vfio_pci_core.h"
    back = srcdiff("blame", "vfio_pci_core_device", "--repo", str(demo_repo), "--follow",
                   "--format", "json").json()
    fields = {f["name"]: f for f in back["fields"]}
    assert fields["vf_token"]["introduced"]["tag"] == "v5.8"
    assert fields["pdev"]["introduced"]["tag"] == "v4.4"


def test_blame_names_the_struct_as_it_is_at_the_blamed_version(demo_repo, srcdiff):
    """Asked by its old name with --follow, blame shows the definition under the name and in
    the file it has at the newest version; "struct" stays the name asked for."""
    res = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--follow")
    assert res.code == 0, res.err
    assert res.out.splitlines()[0] == ("struct vfio_pci_core_device at v6.8 "
                                       "(include/linux/vfio_pci_core.h), followed from "
                                       "struct vfio_pci_device")
    data = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--follow",
                   "--format", "json").json()
    assert (data["struct"], data["name"], data["at"]) == ("vfio_pci_device",
                                                         "vfio_pci_core_device", "v6.8")
    assert data["path"] == "include/linux/vfio_pci_core.h"
    old = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--at", "v5.8")
    assert old.out.splitlines()[0] == ("struct vfio_pci_device at v5.8 "
                                       "(drivers/vfio/pci/vfio_pci_private.h)")


def test_show_json_contract(demo_repo, srcdiff):
    res = srcdiff("show", "vfio_pci_device", "--at", "v5.8", "--repo", str(demo_repo),
                  "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert {"struct", "kind", "rev", "commit", "path", "line", "fields"} <= set(data)
    assert data["path"] == HEADER and data["rev"] == "v5.8"
    assert data["commit"] == git(demo_repo, "rev-parse", "v5.8^{commit}").strip()
    line = git(demo_repo, "show", f"v5.8:{HEADER}").splitlines()[data["line"] - 1]
    assert line.startswith("struct vfio_pci_device {")
    first = data["fields"][0]
    assert {"name", "type", "guard"} <= set(first)
    assert first == {**first, "name": "pdev", "type": "struct pci_dev *", "guard": None}


@pytest.mark.parametrize("cmd", [
    ["log", "vfio_pci_device"],
    ["blame", "vfio_pci_device", "--all"],
    ["diff", "vfio_pci_device", "v5.4", "v5.8"],
    ["changelog", "vfio_pci_device"],
    ["show", "vfio_pci_core_device"],
])
def test_every_json_output_parses_with_documented_keys(demo_repo, srcdiff, cmd):
    res = srcdiff(*cmd, "--repo", str(demo_repo), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["struct"] == cmd[1]
    if cmd[0] in ("log", "changelog"):
        for v in data["versions"]:
            assert {"tag", "present", "path", "fields"} <= set(v)
        for c in data["changes"]:
            assert {"from", "to", "kind", "field", "old_type", "new_type", "commits"} <= set(c)
    if cmd[0] == "blame":
        for f in data["fields"]:
            assert {"name", "type", "introduced", "removed"} <= set(f)
            assert {"commit", "tag", "author", "date", "subject"} <= set(f["introduced"])


def test_guards_of_config_members_are_reported(demo_repo, srcdiff):
    res = srcdiff("show", "pci_dev", "--at", "v5.4", "--repo", str(demo_repo), "--format", "json")
    assert res.code == 0, res.err
    flat = {}

    def walk(fields):
        for f in fields:
            if f["name"] is None:
                walk(f.get("fields", []))
            else:
                flat[f["name"]] = f

    walk(res.json()["fields"])
    assert flat["msi_list"]["guard"] == "CONFIG_PCI_MSI"
    assert flat["msi_unused"]["guard"] == "!CONFIG_PCI_MSI"
    assert "CONFIG_PCI_PRI" in flat["pri_reqs_alloc"]["guard"]
    assert "CONFIG_PCI_ATS" in flat["pri_reqs_alloc"]["guard"]
    assert flat["is_busmaster"]["bits"] == 1


def test_errors_are_one_line_with_exit_2(demo_repo, tmp_path, srcdiff):
    cases = [
        (["log", "vfio_pci_device", "--repo", str(tmp_path)], "not a git repository"),
        (["blame", "vfio_pci_devic", "--repo", str(demo_repo)], "did you mean vfio_pci_device"),
        (["diff", "vfio_pci_device", "v5.4", "v5.9", "--repo", str(demo_repo)], "v5.8"),
    ]
    for args, expect in cases:
        res = srcdiff(*args)
        assert res.code == 2, args
        assert res.err.count("\n") == 1 and expect in res.err, res.err
        assert "Traceback" not in res.err and res.out == ""


def test_changelog_range_and_absence_reason(demo_repo, srcdiff):
    res = srcdiff("changelog", "vfio_pci_device", "--repo", str(demo_repo), "--since", "v5.4",
                  "--until", "v5.15")
    heads = re.findall(r"^## (v[\d.]+)", res.out, re.MULTILINE)
    assert heads[0] == "v5.15" and heads[-1] == "v5.4"
    assert "struct absent: renamed to vfio\\_pci\\_core\\_device" in res.out
    data = srcdiff("changelog", "vfio_pci_device", "--repo", str(demo_repo), "--since", "v5.4",
                   "--until", "v5.15", "--format", "json").json()
    assert data["versions"][0]["tag"] == "v5.4" and data["versions"][-1]["tag"] == "v5.15"
    bad = srcdiff("changelog", "vfio_pci_device", "--repo", str(demo_repo), "--since", "v5.5")
    assert bad.code == 2 and "v5.5" in bad.err


def test_diff_across_the_rename(demo_repo, srcdiff):
    plain = srcdiff("diff", "vfio_pci_device", "v5.13", "v5.15", "--repo", str(demo_repo),
                    "--format", "json").json()["changes"]
    assert [c["kind"] for c in plain] == ["moved", "renamed", "moved"]
    assert plain[1]["new_name"] == "vfio_pci_core_device"
    followed = srcdiff("diff", "vfio_pci_device", "v5.13", "v6.2", "--repo", str(demo_repo),
                       "--follow", "--format", "json").json()["changes"]
    kinds = {(c["kind"], c["field"]) for c in followed}
    assert ("renamed", None) in kinds and ("added", "pm_wake_eventfd_ctx") in kinds
    assert ("removed", "refcnt") in kinds
    assert not any(c["kind"] == "removed" and c["field"] == "pdev" for c in followed)


def test_versions_lists_the_dag(demo_repo, srcdiff):
    data = srcdiff("versions", "--repo", str(demo_repo), "--include-rc", "--format", "json").json()
    parents = {r["tag"]: r["parent"] for r in data["versions"]}
    assert parents["v5.4.1"] == "v5.4" and parents["v5.8-rc1"] == "v5.4"
    assert parents["v5.8"] == "v5.8-rc3" and parents["v4.4"] is None
    assert [r["tag"] for r in data["versions"]].index("v5.8-rc1") < \
        [r["tag"] for r in data["versions"]].index("v5.8")


def test_blame_at_an_older_release(demo_repo, srcdiff):
    data = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--at", "v5.4",
                   "--format", "json").json()
    assert data["at"] == "v5.4"
    names = [f["name"] for f in data["fields"]]
    assert "vf_token" not in names and "msix" not in names and names[0] == "pdev"
    res = srcdiff("blame", "vfio_pci_device", "--repo", str(demo_repo), "--at", "v6.8")
    assert res.code == 2 and "absent" in res.err
