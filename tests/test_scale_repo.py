"""Tests for scripts/make-scale-repo: the Linux-shaped benchmark history it builds.

Each test builds (or reuses) a --small repository in a temporary directory and checks it with git.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make-scale-repo"
OLD_PATH = "drivers/vfio/pci/vfio_pci_private.h"
NEW_PATH = "include/linux/vfio_pci_core.h"


def build(dest: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(dest), "--small", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def is_ancestor(repo: Path, a: str, b: str) -> bool:
    rc = subprocess.run(
        ["git", "-C", str(repo), "merge-base", "--is-ancestor", a, b], check=False
    ).returncode
    assert rc in (0, 1)
    return rc == 0


def member_names(text: str, struct: str) -> list[str]:
    """Member names of `struct NAME { ... };` in header text, read with a regex."""
    m = re.search(r"^struct " + struct + r" \{\n(.*?)^\};", text, re.DOTALL | re.MULTILINE)
    assert m, f"struct {struct} not found"
    body = re.sub(r"/\*.*?\*/", "", m.group(1))
    return re.findall(r"(\w+)(?:\[\w+\])?;", body)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict, str]:
    root = tmp_path_factory.mktemp("scale")
    repo = root / "repo"
    summary = build(repo)
    truth = json.loads((root / "repo-truth.json").read_text())
    return repo, truth, summary


def test_counts_match_the_small_profile(small):
    repo, truth, summary = small
    assert int(git(repo, "rev-list", "--all", "--count")) == 5000
    assert len(git(repo, "tag").split()) == 100
    assert int(git(repo, "rev-list", "--merges", "--count", "master")) > 50
    assert len(git(repo, "ls-tree", "-r", "--name-only", "master").split()) >= 1000
    assert "commits         5000" in summary and "tags            100" in summary
    assert truth["counts"]["commits"] == 5000 and len(truth["tags"]) == 100


def test_tags_form_a_dag_with_stable_branches(small):
    repo, truth, _ = small
    tags = git(repo, "tag").split()
    assert "v3.1-rc1" in tags and "v3.1" in tags and "v3.1.1" in tags
    assert is_ancestor(repo, "v3.1", "v3.1.1")
    assert is_ancestor(repo, "v3.1", "v3.2")
    # A stable release is a side branch: the next mainline release does not contain it.
    assert not is_ancestor(repo, "v3.1.1", "v3.2")
    assert truth["tags"]["v3.1.1"]["parent"] == "v3.1"
    assert truth["tags"]["v3.2-rc1"]["parent"] == "v3.1"


def test_target_header_history_length(small):
    repo, truth, summary = small
    n = int(git(repo, "rev-list", "--count", "master", "--", OLD_PATH, NEW_PATH))
    assert n == 150 == truth["counts"]["target_touches_mainline"]
    assert "target touches  150 on master" in summary
    # Most commits touching the header also have other reasons to exist.
    assert int(git(repo, "rev-list", "--count", "master")) > 20 * n


def test_struct_is_moved_once_and_renamed_once(small):
    repo, truth, _ = small
    kinds = [c["kind"] for c in truth["changes"] if c["branch"] == "master"]
    assert kinds.count("create") == kinds.count("move") == kinds.count("rename") == 1
    assert {"add", "remove", "retype"} <= set(kinds)
    eras = [(e["struct"], e["path"]) for e in truth["eras"]]
    assert eras == [
        ("vfio_pci_device", OLD_PATH),
        ("vfio_pci_device", NEW_PATH),
        ("vfio_pci_core_device", NEW_PATH),
    ]
    move = next(c for c in truth["changes"] if c["kind"] == "move")
    # The move was made on a topic branch: the merge that brought it in is a descendant.
    assert move["merge"] and is_ancestor(repo, move["commit"], move["merge"])
    assert not is_ancestor(repo, move["commit"], f"{move['merge']}^1")
    assert git(
        repo,
        "diff-tree",
        "--no-commit-id",
        "--name-status",
        "-r",
        move["commit"],
        "--",
        OLD_PATH,
        NEW_PATH,
    ).split() == ["D", OLD_PATH, "A", NEW_PATH]


def test_truth_agrees_with_git_show(small):
    repo, truth, _ = small
    present = [t for t, v in truth["tags"].items() if v["struct"]]
    assert truth["tags"]["v3.0"]["struct"] is None
    # The first, middle and last tags with the struct, plus one stable tag.
    stable = next(t for t in present if truth["tags"][t]["branch"] != "master")
    for tag in (present[0], present[len(present) // 2], present[-1], stable):
        t = truth["tags"][tag]
        text = git(repo, "show", f"{tag}:{t['path']}")
        assert member_names(text, t["struct"]) == [m["name"] for m in t["members"]], tag
        assert git(repo, "rev-parse", f"{tag}^{{commit}}").strip() == t["commit"]


def test_each_member_change_is_made_by_its_commit(small):
    repo, truth, _ = small
    changes = [c for c in truth["changes"] if c["kind"] in ("add", "remove")][:6]
    assert changes
    for c in changes:
        after = member_names(git(repo, "show", f"{c['commit']}:{c['path']}"), c["struct"])
        before = member_names(git(repo, "show", f"{c['commit']}^:{c['path']}"), c["struct"])
        if c["kind"] == "add":
            assert c["member"] in after and c["member"] not in before
        else:
            assert c["member"] in before and c["member"] not in after


def test_same_arguments_give_the_same_commit_ids(small, tmp_path):
    repo, _, _ = small
    # A second process (with another str hash seed) must reproduce every ref exactly.
    build(tmp_path / "again", "--bare")
    assert git(tmp_path / "again", "show-ref") == git(repo, "show-ref")


def test_each_change_first_appears_at_its_tag(small):
    repo, truth, _ = small
    picked = [c for c in truth["changes"] if c["kind"] in ("move", "rename")]
    picked += [c for c in truth["changes"] if c["branch"] != "master"][:2]
    picked += truth["changes"][::40]
    for c in picked:
        tag = truth["tags"][c["tag"]]
        assert is_ancestor(repo, c["commit"], c["tag"]), c
        if tag["parent"]:
            assert not is_ancestor(repo, c["commit"], tag["parent"]), c
