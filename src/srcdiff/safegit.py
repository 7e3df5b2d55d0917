"""safegit: the environment every git process srcdiff starts runs with.

Kept free of heavy imports: the fast path (fast.py) starts git before anything else is loaded.
"""

from __future__ import annotations

import os

# Config forced on every git process: nothing the repository configures may run here
# (fsmonitor, hooks, pagers, external diff, textconv, credential helpers, lazy fetches).
_SAFE_CONFIG = {
    "core.fsmonitor": "false",
    "core.hooksPath": os.devnull,
    "core.pager": "cat",
    "core.editor": "true",
    "core.sshCommand": "false",
    "core.askPass": "",
    "credential.helper": "",
    "diff.external": "",
    "protocol.allow": "never",
    "uploadpack.packObjectsHook": "",
    "core.untrackedCache": "false",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "fetch.prune": "false",
}

_SAFE_ENV = {
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_EXTERNAL_DIFF": "",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


def safe_git_env() -> dict[str, str]:
    """Environment additions that neutralise repository-controlled commands."""
    env = dict(_SAFE_ENV)
    env["GIT_CONFIG_COUNT"] = str(len(_SAFE_CONFIG))
    for i, (k, v) in enumerate(_SAFE_CONFIG.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = k
        env[f"GIT_CONFIG_VALUE_{i}"] = v
    return env


def git_env() -> dict[str, str]:
    """The whole environment for a git process srcdiff starts: this one's, made safe."""
    return {**os.environ, **safe_git_env()}
