"""fast: the ``srcdiff`` entry point; answers a repeated command from the result cache.

A command's output is fully determined by its arguments, the working directory, the
repository's refs (objects never change under a ref that does not move), the shallow
boundary, the contents of the files it names (configs), a few environment variables and
srcdiff's own code. When all of these are as in an earlier run, the stored output is printed
without loading git, pycparser or networkx: tens of milliseconds instead of a second.
Anything else falls through to the full pipeline (srcdiff.cli), whose output is then stored.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import sqlite3
import sys

COMMANDS = {"log", "blame", "diff", "changelog", "show", "report", "graph", "versions", "since", "check"}
# Options that make a run unfit to store or to answer from the store.
NOT_CACHED = {"--no-cache", "-o", "--output", "--stats", "-h", "--help", "--version"}
ENV = ("SRCDIFF_MAX_BLOB_MB", "SRCDIFF_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "NO_COLOR", "TERM")
MAX_STORED = 64 * 1024 * 1024  # outputs larger than this are not kept
MAX_OUTPUTS = 256  # stored outputs kept (every fetch moves the refs: older keys never match)


def _reply(code: int | str | None, out: str, err: str) -> None:
    """Print an answer found without the full pipeline and exit with its status."""
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.stdout.flush()
    sys.exit(code)


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in ("show", "structs") and not any(
            a in NOT_CACHED or a.startswith("--output=") for a in argv):
        from srcdiff.quick import answer

        got = answer(argv)  # from the index, when it covers the question
        if got is not None:
            code, out, err = got
            _reply(code, out, err)
    key, cache_dir = _key(argv)
    if key is not None:
        hit = _lookup(cache_dir, key)
        if hit is not None:
            code, err, out = hit
            _reply(code, out, err)
    try:
        from srcdiff.cli import main as cli_main
    except ImportError as exc:  # GitPython refuses to load when no git can be run
        sys.stderr.write(f"srcdiff: error: cannot start: {str(exc).splitlines()[0]}\n")
        sys.exit(2)

    if key is None:
        try:
            cli_main()
        except SystemExit as exc:
            _exit(exc.code)
        return
    out, err = _Tee(sys.stdout, keep_all=True), _Tee(sys.stderr, keep_all=False)
    sys.stdout, sys.stderr = out, err
    code: int | str | None = 0
    try:
        cli_main(args=argv, prog_name="srcdiff")
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdout, sys.stderr = out.real, err.real
    # Not stored: a run whose output could not be written whole (a closed pipe), or whose
    # cache complained (the warning is about this run, not about the answer).
    cache_mod = sys.modules.get("srcdiff.cache")
    if (code in (0, 1, None) and not (out.broken or err.broken)
            and not getattr(cache_mod, "troubled", False)):
        _store(cache_dir, key, code or 0, err.text(), out.text())
    _exit(code)


def _exit(code: int | str | None) -> None:
    """sys.exit(CODE) without the interpreter's teardown: what is registered to run at exit
    runs (the version walk stopped, git processes closed, the cache's last words), the output
    is flushed, and the process ends. Freeing a history run's objects one by one took a
    quarter of a second, after the answer was printed. Under a profiler or a coverage tool
    the usual exit is kept: they write their results as the interpreter ends."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader gone (srcdiff log | head): as for a closed pipe, not an error
    os._exit(status)


def _option(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1 :]
    return None


def _key(argv: list[str]) -> tuple[str | None, str | None]:
    """(result key, cache directory), or (None, None) when this run must not use the store."""
    if not argv or argv[0] not in COMMANDS:
        return None, None
    if any(a in NOT_CACHED or a.startswith("--output=") for a in argv):
        return None, None
    from srcdiff.paths import default_cache_dir

    cache_dir = _option(argv, "--cache-dir") or default_cache_dir()
    repo = _option(argv, "--repo") or os.getcwd()
    h = hashlib.sha256()

    def add(label: str, value: str | bytes) -> None:
        data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
        h.update(label.encode() + b"\0" + len(data).to_bytes(8, "big") + data)

    add("argv", "\0".join(argv))
    add("cwd", os.getcwd())
    add("tty", f"{sys.stdout.isatty()}")
    for name in ENV:
        add(name, os.environ.get(name, "\1"))
    add("code", _code_identity())
    try:
        common = _common_dir(repo)
        found = (common, _refs_state(common)) if common is not None else _ask_git(repo)
    except OSError:
        return None, None
    if found is None:
        return None, None  # not a repository, no refs, no git: the full path says why
    common, refs = found
    add("refs", refs)
    add("repo", common)
    shallow = os.path.join(common, "shallow")
    add("shallow", _read(shallow) if os.path.isfile(shallow) else b"")
    # Files the command names (configs, -D files): their contents, not their names, count.
    for a in argv:
        spec = a.split("=", 1)[-1]
        for part in sorted({a, spec, a.split("@", 1)[0], spec.split("@", 1)[0]}):
            try:
                if part and os.path.isfile(part):
                    add("file:" + part, _read(part))
            except OSError:
                return None, None
    return h.hexdigest(), cache_dir


def _ask_git(repo: str) -> tuple[str, bytes] | None:
    """(common git dir, refs) from git itself, for worktrees and GIT_DIR set-ups."""
    import subprocess

    from srcdiff.safegit import git_env

    env = git_env()
    try:
        refs = subprocess.run(["git", "-C", repo, "show-ref", "--head"], capture_output=True,
                              env=env, check=True, timeout=30).stdout
        common = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True, env=env, check=True, timeout=30,
        ).stdout.strip().decode("utf-8", "surrogateescape")
    except (OSError, subprocess.SubprocessError):
        return None
    return common, refs


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _common_dir(start: str) -> str | None:
    """The git directory holding refs and 'shallow' for the repository around START, found
    with a few stat calls; None when that takes git's own rules (worktrees, GIT_DIR, ...)."""
    if any(v in os.environ for v in ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE")):
        return None
    d = os.path.realpath(start)
    while True:
        dotgit = os.path.join(d, ".git")
        if os.path.isdir(dotgit) and os.path.isfile(os.path.join(dotgit, "HEAD")):
            return None if os.path.exists(os.path.join(dotgit, "commondir")) else dotgit
        if os.path.exists(dotgit):
            return None  # a worktree's .git file: let git say where it points
        if all(os.path.exists(os.path.join(d, n)) for n in ("HEAD", "objects", "refs")):
            return d  # a bare repository
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _refs_state(gitdir: str) -> bytes:
    """A fingerprint of every ref and HEAD: any ref update rewrites one of these files, so
    their sizes and modification times change (no git process needed)."""
    parts = [b"HEAD:" + _read(os.path.join(gitdir, "HEAD"))]
    stack = [os.path.join(gitdir, n) for n in ("packed-refs", "refs", "reftable", "info/grafts")]
    while stack:
        p = stack.pop()
        try:
            if os.path.isdir(p):
                with os.scandir(p) as it:
                    for e in it:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            st = e.stat()
                            parts.append(f"{e.path}:{st.st_size}:{st.st_mtime_ns}".encode(
                                "utf-8", "surrogateescape"))
                continue
            st = os.stat(p)
        except FileNotFoundError:
            continue
        parts.append(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode("utf-8", "surrogateescape"))
    return b"\n".join(sorted(parts))


def _code_identity() -> str:
    """Changes whenever any module of this installed srcdiff changes."""
    here = os.path.dirname(os.path.abspath(__file__))
    parts = []
    with os.scandir(here) as it:
        for e in sorted(it, key=lambda e: e.name):
            if e.name.endswith(".py"):
                st = e.stat()
                parts.append(f"{e.name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


def _lookup(cache_dir: str, key: str) -> tuple[int, str, str] | None:
    path = os.path.join(cache_dir, "cache.sqlite")
    if not os.path.isfile(path):
        return None
    try:
        from pathlib import Path

        db = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT code, err, out FROM outputs WHERE k=?", (key,)).fetchone()
        finally:
            db.close()
        return (int(row[0]), row[1], row[2]) if row else None
    except sqlite3.Error:
        return None  # a damaged cache is the full path's business: it warns and rebuilds


def _store(cache_dir: str, key: str, code: int, err: str, out: str) -> None:
    """Keep this run's output under KEY, in the cache the run itself opened (and checked);
    only the newest MAX_OUTPUTS outputs are kept."""
    if len(out) + len(err) > MAX_STORED:
        return
    path = os.path.join(cache_dir, "cache.sqlite")
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?)", (key, code, err, out))
                db.execute("DELETE FROM outputs WHERE rowid NOT IN "
                           "(SELECT rowid FROM outputs ORDER BY rowid DESC LIMIT ?)", (MAX_OUTPUTS,))
        finally:
            db.close()
    except sqlite3.Error:
        return  # the answer was printed; not keeping it only costs the next run its shortcut
    from pathlib import Path

    from srcdiff.cache import restamp  # loaded already: the run used the cache

    restamp(Path(path))


class _Tee(io.TextIOBase):
    """Writes through to REAL and keeps a copy. With keep_all False (stderr) it keeps only
    srcdiff's own lines: a progress bar's escape sequences are never stored."""

    def __init__(self, real, keep_all: bool):
        self.real = real
        self.keep_all = keep_all
        self.parts: list[str] = []
        self.broken = False  # a write or flush failed: what was kept is not what was shown

    def write(self, s: str) -> int:
        try:
            self.real.write(s)
        except OSError:
            self.broken = True
            raise
        if self.keep_all or "\x1b" not in s:
            self.parts.append(s)
        return len(s)

    def flush(self) -> None:
        try:
            self.real.flush()
        except OSError:
            self.broken = True
            raise

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    @property
    def buffer(self):
        return self.real.buffer

    def text(self) -> str:
        return "".join(self.parts)


if __name__ == "__main__":
    main()
