"""early: the one slow git walk a history needs, started before the rest of srcdiff loads.

The version DAG comes from one walk of the whole history (``git log --simplify-by-decoration``
over the tags). On a large repository that walk takes as long as everything else together, so
the entry point (fast.py) starts it first, while Python is still importing, and the versions
stage takes its output when it needs it. Kept free of heavy imports, like fast.py.
"""

from __future__ import annotations

import atexit
import os
import subprocess

from srcdiff.safegit import git_env

# Every tag-decorated commit (plus the merges joining them) with its parents rewritten to the
# nearest kept ancestors: the tag DAG of every tag in one walk.
TAG_DAG = ["log", "--no-show-signature", "--simplify-by-decoration", "--decorate-refs=refs/tags/",
           "--format=%H %P", "--tags"]

_started: dict[str, subprocess.Popen] = {}


def start_tag_dag(git_dir: str) -> None:
    """Start the tag-DAG walk in the repository whose (common) git directory is GIT_DIR."""
    key = os.path.realpath(git_dir)
    if key in _started:
        return
    try:
        _started[key] = subprocess.Popen(
            ["git", "--git-dir", key, "--no-replace-objects", *TAG_DAG],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=git_env(), cwd=key)
    except OSError:
        pass  # no git: the full path says so


def take_tag_dag(git_dir: str) -> subprocess.Popen | None:
    """The walk started for GIT_DIR, if any (the caller reads it or calls drop)."""
    return _started.pop(os.path.realpath(git_dir), None)


def drop(proc: subprocess.Popen) -> None:
    """Stop a walk whose answer is not needed (it was in the cache)."""
    proc.kill()
    proc.communicate()


@atexit.register
def _stop_all() -> None:
    for proc in _started.values():
        if proc.poll() is None:
            drop(proc)
    _started.clear()
