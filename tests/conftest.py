"""Shared fixtures: the demo repository built from corpus/, and a way to run srcdiff."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from srcdiff.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_repo(tmp_path_factory) -> Path:
    """The demo kernel-like history, built once per test session."""
    dest = tmp_path_factory.mktemp("demo") / "linux"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_repo.py"), str(dest)],
                   check=True, capture_output=True)
    return dest


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def srcdiff(tmp_path, monkeypatch):
    """Run the srcdiff CLI in-process; the cache lives in this test's temporary directory."""
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))

    def run(*args: str) -> Result:
        r = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout
