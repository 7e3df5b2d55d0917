"""Crash safety of the cache: kill -9 mid-run, two runs at once, a file cut mid-page.

Each test runs the CLI as a separate process on a generated Linux-shaped history and compares
with a clean run: same output, no error, at most one warning (docs/SAFETY.md).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["log", "vfio_pci_core_device", "--follow", "--include-rc", "--format", "json"]


@pytest.fixture(scope="module")
def scale(tmp_path_factory) -> Path:
    """A small scale repository (6,000 commits, 120 tags): a cold log takes a second or two."""
    dest = tmp_path_factory.mktemp("scale") / "repo"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make-scale-repo"), "--commits", "6000",
                    "--tags", "120", "--files", "400", "--target-touches", "240", str(dest)],
                   check=True, capture_output=True)
    return dest


def cmd(repo: Path, cache: Path) -> list[str]:
    return [sys.executable, "-c", "from srcdiff.cli import main; main()", *ARGS,
            "--repo", str(repo), "--cache-dir", str(cache)]


def run(repo: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd(repo, cache), capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture(scope="module")
def clean_run(scale, tmp_path_factory) -> tuple[str, float]:
    """(output, seconds) of a cold run into an empty cache."""
    t0 = time.monotonic()
    res = run(scale, tmp_path_factory.mktemp("clean"))
    assert res.returncode == 0 and res.stderr == "", res.stderr
    return res.stdout, time.monotonic() - t0


@pytest.fixture(scope="module")
def clean_out(clean_run) -> str:
    return clean_run[0]


def test_kill_9_during_a_cold_run(scale, clean_run, tmp_path):
    clean_out, seconds = clean_run
    cache = tmp_path / "cache"
    killed = 0
    # Early and late in a cold run (fractions of a measured one, so machine speed does not
    # matter): each kill leaves a different partial cache behind.
    for fraction in (0.5, 0.8):
        p = subprocess.Popen(cmd(scale, cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(seconds * fraction)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        res = run(scale, cache)
        assert res.returncode == 0, res.stderr
        assert res.stderr == ""  # a killed writer leaves nothing to warn about (WAL rollback)
        assert res.stdout == clean_out
    assert killed >= 1, "every run finished before the kill: the repository is too small"


def test_two_runs_at_once_share_repository_and_cache(scale, clean_out, tmp_path):
    cache = tmp_path / "cache"
    # both cold: each writes batches the other may read mid-run
    procs = [subprocess.Popen(cmd(scale, cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert err == ""
        assert out == clean_out


def test_truncated_cache_gives_one_warning_and_is_rebuilt(scale, clean_out, tmp_path):
    cache = tmp_path / "cache"
    assert run(scale, cache).returncode == 0
    db = cache / "cache.sqlite"
    for suffix in ("-wal", "-shm"):  # the run checkpointed at close; keep only the main file
        Path(str(db) + suffix).unlink(missing_ok=True)
    size = db.stat().st_size
    assert size > 3 * 4096, size
    with open(db, "r+b") as f:
        f.truncate(size // 2 + 1000)  # cut in the middle of a page
    res = run(scale, cache)
    assert res.returncode == 0
    warnings = res.stderr.splitlines()
    assert len(warnings) == 1 and "cache" in warnings[0] and "rebuild" in warnings[0], res.stderr
    assert res.stdout == clean_out
