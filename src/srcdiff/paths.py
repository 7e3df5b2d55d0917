"""paths: where srcdiff keeps its cache (no imports beyond os: the fast path needs it first)."""

from __future__ import annotations

import os


def default_cache_dir() -> str:
    """$SRCDIFF_CACHE_DIR, else $XDG_CACHE_HOME/srcdiff, else ~/.cache/srcdiff."""
    env = os.environ.get("SRCDIFF_CACHE_DIR")
    if env:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache"), "srcdiff")
