"""The result cache behind the srcdiff command: a repeated command is answered without
loading the pipeline, and anything that could change the answer is noticed."""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# srcdiff ends its process itself once the answer is out (atexit handlers still run)
PROBE = (
    "import atexit, sys; import srcdiff.fast as f\n"
    "atexit.register(lambda: sys.stderr.write('\\nLOADED=%s\\n' % ('networkx' in sys.modules)))\n"
    "f.main()\n"
)


@pytest.fixture
def repo(tmp_path) -> Path:
    dest = tmp_path / "linux"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_repo.py"), str(dest)],
                   check=True, capture_output=True)
    return dest


def run(repo: Path, cache: Path, *args: str):
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(cache))
    p = subprocess.run([sys.executable, "-c", PROBE, *args, "--repo", str(repo)],
                       check=False, capture_output=True, text=True, env=env)
    err, _, loaded = p.stderr.rpartition("\nLOADED=")
    return p.returncode, p.stdout, err, loaded.strip() == "True"


def test_repeated_command_is_answered_from_the_store(repo, tmp_path):
    cache = tmp_path / "cache"
    first = run(repo, cache, "log", "vfio_pci_device", "--format", "json")
    second = run(repo, cache, "log", "vfio_pci_device", "--format", "json")
    assert first[0] == second[0] == 0
    assert first[1] == second[1] and first[2] == second[2]
    assert first[3] is True and second[3] is False  # the pipeline was not even imported


def test_a_new_tag_or_an_edited_config_changes_the_answer(repo, tmp_path):
    cache = tmp_path / "cache"
    before = run(repo, cache, "versions", "--format", "json")
    env = dict(os.environ, GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org")
    subprocess.run(["git", "-C", str(repo), "tag", "v7.0"], check=True, env=env)
    after = run(repo, cache, "versions", "--format", "json")
    assert '"v7.0"' in after[1] and '"v7.0"' not in before[1]

    config = tmp_path / "config"
    config.write_text("CONFIG_PCI_MSI=y\n")
    msi = run(repo, cache, "show", "pci_dev", "--at", "v5.8", "--config", str(config))
    config.write_text("# CONFIG_PCI_MSI is not set\n")
    nomsi = run(repo, cache, "show", "pci_dev", "--at", "v5.8", "--config", str(config))
    assert "msi_list" in msi[1] and "msi_list" not in nomsi[1]
    assert "msi_unused" in nomsi[1]


def test_errors_are_not_stored(repo, tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):
        code, out, err, loaded = run(repo, cache, "blame", "vfio_pci_devic")
        assert code == 2 and out == "" and "did you mean vfio_pci_device" in err
        assert loaded is True


def _nearest_earlier_tag(repo: Path, tag: str, include_rc: bool) -> str | None:
    """The tag git names for TAG's parent commit (git describe), or None if none precedes."""
    args = ["git", "-C", str(repo), "describe", "--tags", "--abbrev=0"]
    if not include_rc:
        args += ["--exclude", "*-rc*"]
    p = subprocess.run(args + [f"{tag}^"], check=False, capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def test_release_lines_agree_with_git_describe_where_releases_are_ancestors(repo, tmp_path, srcdiff):
    # The entry point and the in-process CLI give the same versions and history; release lines
    # come from version numbers alone, and on the demo history (every release descends from its
    # predecessor) each one is the tag git describes the release's parent commit by.
    for args, include_rc in ((("versions", "--include-rc"), True),
                             (("log", "vfio_pci_device", "--follow"), False)):
        code, out, err, _loaded = run(repo, tmp_path / "cache", *args, "--format", "json")
        inproc = srcdiff(*args, "--format", "json", "--repo", str(repo))
        assert code == inproc.code and out == inproc.out, err
        assert code == 0, err
        parents = {v["tag"]: v["parent"] for v in json.loads(out)["versions"]}
        # the stable releases hang off v5.4, one after the other; mainline goes on from v5.4
        assert parents["v5.4.2"] == "v5.4.1" and parents["v5.4.1"] == "v5.4"
        assert parents["v5.8-rc1" if include_rc else "v5.8"] == "v5.4"
        # and every parent is the tag git describes the release's parent commit by
        assert parents == {t: _nearest_earlier_tag(repo, t, include_rc) for t in parents}, args


def test_a_profiler_still_gets_its_results(repo, tmp_path):
    """srcdiff ends its process itself once the answer is out, except under a profiler or a
    coverage tool, which write their results as the interpreter ends."""
    prof = tmp_path / "run.prof"
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "srcdiff.fast",
                        "log", "vfio_pci_device", "--repo", str(repo)],
                       check=False, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "struct vfio_pci_device" in p.stdout
    assert pstats.Stats(str(prof)).total_calls > 0
