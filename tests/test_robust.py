"""Edge cases of reading a repository and of the result store: each gives one clear line or
the right answer, never a traceback, a hang or a stored wrong answer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from srcdiff.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@example.org",
           GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@example.org", GIT_CONFIG_NOSYSTEM="1")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=ENV).stdout


def make_repo(path: Path) -> Path:
    """v1.0: struct foo {int a;}; v1.1 adds b; v1.2 adds c (each a commit of its own)."""
    git(path.parent, "init", "-q", "-b", "main", str(path))
    members = ["int a;"]
    for tag, extra in (("v1.0", None), ("v1.1", "long b;"), ("v1.2", "char c;")):
        if extra:
            members.append(extra)
        (path / "include").mkdir(exist_ok=True)
        (path / "include" / "foo.h").write_text("struct foo {\n\t" + "\n\t".join(members) + "\n};\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"foo: {extra or 'introduce'}")
        git(path, "tag", tag)
    return path


def srcdiff_cmd(*args: str, cache: Path, **popen) -> subprocess.CompletedProcess:
    """The srcdiff entry point as users run it (result store included)."""
    return subprocess.run([sys.executable, "-m", "srcdiff.fast", *args],
                          env=dict(ENV, SRCDIFF_CACHE_DIR=str(cache)), **popen)


def test_a_worktree_of_a_shallow_clone_is_known_to_be_shallow(tmp_path):
    src = make_repo(tmp_path / "src")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-single-branch",
                    "file://" + str(src), str(clone)], check=True, env=ENV)
    wt = tmp_path / "wt"
    git(clone, "worktree", "add", "-q", "--detach", str(wt))
    boundary = (clone / ".git" / "shallow").read_text().split()
    repo = GitRepo(wt)
    assert repo.is_shallow() and repo.shallow_boundary() == boundary
    res = srcdiff_cmd("log", "foo", "--repo", str(wt), cache=tmp_path / "c",
                      capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"shallow clone: history stops at {boundary[0][:12]}" in res.stderr


def test_missing_long_names_are_answered_without_a_hang(tmp_path):
    repo = GitRepo(make_repo(tmp_path / "r"))
    names = [f"HEAD:d{i}/" + "x" * 3000 for i in range(300)] + ["HEAD:include/foo.h"]
    got: list = []
    t = threading.Thread(target=lambda: got.extend(repo.headers(names)), daemon=True)
    t.start()
    t.join(timeout=30)  # a deadlocked exchange fails here instead of hanging the suite
    assert not t.is_alive(), "git cat-file exchange hung"
    assert got[:-1] == [None] * 300 and got[-1][1] == "blob"


def test_versions_named_twice_and_bad_patterns_are_one_line_errors(tmp_path):
    r = make_repo(tmp_path / "r")
    for args, says in ((["--revs", "v1.0,v1.1,v1.0"], "--revs names v1.0 twice"),
                       (["--versions", "1.0,1.1,v1.0"], "--versions names v1.0 twice"),
                       (["--tags", "v(1"], "bad --tags pattern 'v(1'")):
        res = srcdiff_cmd("log", "foo", "--repo", str(r), *args, cache=tmp_path / "c",
                          capture_output=True, text=True)
        assert res.returncode == 2 and res.stdout == "", (args, res.stderr)
        assert res.stderr.splitlines() == [res.stderr.strip()]
        assert res.stderr.startswith("srcdiff: error: ") and says in res.stderr


def test_an_unusable_blob_limit_falls_back_to_the_default(tmp_path, monkeypatch):
    from srcdiff import limits

    for raw in ("inf", "1e400", "nan", "-3"):
        monkeypatch.setenv(limits.MAX_BLOB_ENV, raw)
        assert limits.max_blob_bytes() == limits.MAX_BLOB_BYTES


def test_a_run_cut_short_by_a_closed_pipe_is_not_replayed(tmp_path):
    r = make_repo(tmp_path / "r")
    cache = tmp_path / "c"
    # its reader gone at once: the run cannot print its answer
    proc = subprocess.Popen([sys.executable, "-m", "srcdiff.fast", "log", "foo", "--repo", str(r)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(ENV, SRCDIFF_CACHE_DIR=str(cache)))
    proc.stdout.close()
    proc.wait(timeout=60)
    full = srcdiff_cmd("log", "foo", "--repo", str(r), cache=cache, capture_output=True, text=True)
    assert full.returncode == 0 and "char c" in full.stdout and "v1.2" in full.stdout


def test_a_cache_warning_is_not_replayed(tmp_path):
    r = make_repo(tmp_path / "r")
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "cache.sqlite").write_bytes(os.urandom(8192))
    runs = [srcdiff_cmd("log", "foo", "--repo", str(r), cache=cache, capture_output=True,
                        text=True) for _ in range(3)]
    assert [x.returncode for x in runs] == [0, 0, 0]
    assert "rebuilding it" in runs[0].stderr
    assert runs[1].stderr == runs[2].stderr == ""
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout


def test_the_result_store_keeps_only_the_newest_outputs(tmp_path):
    import sqlite3

    from srcdiff import fast
    from srcdiff.cache import Cache

    Cache(tmp_path).close()  # the schema, as a run creates it
    for i in range(fast.MAX_OUTPUTS + 40):
        fast._store(str(tmp_path), f"key{i}", 0, "", f"out{i}")
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    keys = {k for (k,) in db.execute("SELECT k FROM outputs")}
    db.close()
    assert keys == {f"key{i}" for i in range(40, fast.MAX_OUTPUTS + 40)}
    assert fast._lookup(str(tmp_path), f"key{fast.MAX_OUTPUTS + 39}") == (0, "", f"out{fast.MAX_OUTPUTS + 39}")


def test_a_mistyped_version_number_gets_suggestions(tmp_path):
    r = make_repo(tmp_path / "r")
    res = srcdiff_cmd("log", "foo", "--repo", str(r), "--versions", "1.0,1.3", cache=tmp_path / "c",
                      capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    line = res.stderr.strip()
    assert line.startswith("srcdiff: error: unknown revision or tag: 1.3 (did you mean ")
    named = line.split("did you mean ", 1)[1].rstrip("?)").split(", ")
    assert "1.2" in named and len(named) == len(set(named))


class _Terminal:
    """A stand-in for stderr on a terminal, keeping what is written."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def text(self) -> str:
        return "".join(self.parts)


def test_the_progress_bar_shows_while_a_long_step_blocks(monkeypatch):
    """A step that blocks for long (a whole-tree search of a kernel tree takes seconds) shows
    the bar while it runs: it appears DELAY after the start, from a timer, not only at the next
    update. A run that ends sooner shows nothing."""
    import time

    from srcdiff import cli

    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(cli.Progress, "DELAY", 0.05)
    bar = cli.Progress(quiet=False)
    bar("search trees", 0, 2)
    deadline = time.monotonic() + 5
    while "search trees" not in err.text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the search, blocking: no update comes meanwhile
    bar.close()
    assert "search trees" in err.text() and "0/2" in err.text()

    quick = _Terminal()
    monkeypatch.setattr(sys, "stderr", quick)
    monkeypatch.setattr(cli.Progress, "DELAY", 30.0)
    bar = cli.Progress(quiet=False)
    bar("locate", 1, 2)
    bar.close()
    assert quick.text() == ""
