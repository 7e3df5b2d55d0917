"""Hostile and odd repositories: srcdiff never runs their code, stays within its limits, escapes.

Each test builds its repository in a temporary directory and checks what a user sees: the exit
status, one clear stderr line, the output, no traceback, no marker file (docs/SAFETY.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srcdiff import limits

ROOT = Path(__file__).resolve().parent.parent
BOUND = 20  # seconds any single command here may take (generous: CI machines are slow)


class Repo:
    """A repository with deterministic commits, built with the user's git (no protections)."""

    def __init__(self, path: Path):
        self.path = path
        self.n = 0
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, env: dict | None = None) -> str:
        e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(self.path.parent),
                 GIT_AUTHOR_NAME="Ann Author", GIT_AUTHOR_EMAIL="ann@example.org",
                 GIT_COMMITTER_NAME="Ann Author", GIT_COMMITTER_EMAIL="ann@example.org")
        self.n += 1
        date = f"2020-01-01T12:{self.n // 60:02d}:{self.n % 60:02d}+00:00"
        e.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date, **(env or {}))
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, env=e,
                              capture_output=True).stdout.decode("utf-8", "replace")

    def write(self, path: str | bytes, data: str | bytes) -> None:
        f = Path(os.fsdecode(self.path)) / os.fsdecode(path)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data.encode() if isinstance(data, str) else data)
        self.git("add", "--", os.fsdecode(path))

    def commit(self, subject: str, tag: str | None = None, **env: str) -> None:
        self.git("commit", "-q", "--allow-empty", "-m", subject, env=env)
        if tag:
            self.git("tag", tag)


def foo_h(members: list[str]) -> str:
    return "#ifndef FOO_H\n#define FOO_H\nstruct foo {\n" + "".join(f"\t{m}\n" for m in members) \
        + "};\n#endif\n"


def run_cli(*args: str, timeout: float = BOUND, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """srcdiff in its own process, killed after TIMEOUT seconds (the test then fails)."""
    e = dict(os.environ, **(env or {}))
    code = "from srcdiff.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          errors="surrogateescape", timeout=timeout, env=e, cwd=cwd,
                          check=False)


def one_error_line(err: str) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("srcdiff: error: "), err
    return lines[0]


# -------------------------------------------------------------------------------------------
# Repository code never runs

TRAPS = {
    "core.fsmonitor": "fsmonitor", "core.pager": "pager", "core.editor": "editor",
    "diff.external": "external", "core.sshCommand": "ssh", "core.askPass": "askpass",
    "filter.evil.smudge": "smudge", "filter.evil.clean": "clean", "filter.evil.process": "process",
    "diff.evil.textconv": "textconv", "diff.evil.command": "diffcmd",
    "credential.helper": "credential", "gpg.program": "gpg", "sequence.editor": "seqeditor",
    "core.alternateRefsCommand": "altrefs", "uploadpack.packObjectsHook": "packhook",
}
HOOKS = ("post-checkout", "pre-commit", "post-commit", "reference-transaction", "post-index-change",
         "pre-auto-gc", "fsmonitor-watchman")


@pytest.fixture
def evil(tmp_path) -> tuple[Repo, Path]:
    """A repository whose config, included config, attributes and hooks run scripts that each
    leave a marker file in MARKERS; the same traps fire under plain git (see the control test)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()

    def script(name: str) -> str:
        p = bin_dir / name
        p.write_text(f"#!/bin/sh\ntouch '{markers}/{name}'\ncat\n")
        p.chmod(0o755)
        return str(p)

    r = Repo(tmp_path / "evil")
    r.write("include/foo.h", foo_h(["int a;"]))
    r.write(".gitattributes", "*.h filter=evil diff=evil\n*.c filter=evil diff=evil\n")
    r.commit("foo: introduce", tag="v1.0")
    r.write("include/foo.h", foo_h(["int a;", "long b;"]))
    r.commit("foo: add b", tag="v1.1")
    r.write("include/foo.h", foo_h(["long b;"]))
    r.commit("foo: drop a", tag="v1.2")
    for key, name in TRAPS.items():
        r.git("config", key, script(name))
    for key in ("protocol.allow", "protocol.file.allow", "protocol.ext.allow"):
        r.git("config", key, "always")
    r.git("config", "remote.origin.url", f"ext::{script('ext-remote')} %S")
    r.git("config", "filter.evil.required", "true")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for h in HOOKS:
        (hooks / h).symlink_to(script("hook-" + h))
    r.git("config", "core.hooksPath", str(hooks))
    for h in HOOKS:  # and the default hooks directory, in case hooksPath is overridden
        (r.path / ".git" / "hooks" / h).symlink_to(script("githook-" + h))
    # includeIf pulls in a second config file that arms fsmonitor through another route
    included = tmp_path / "included.config"
    included.write_text(f"[core]\n\tfsmonitor = {script('fsmonitor-included')}\n"
                        f"\tpager = {script('pager-included')}\n")
    r.git("config", f"includeIf.gitdir:{r.path}/.git.path", str(included))
    r.git("config", "include.path", str(included))
    return r, markers


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime in ns, size) of every file and directory under ROOT, .git included."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_mtime_ns, st.st_size)
    return out


def test_traps_fire_under_plain_git(evil, tmp_path):
    """Control: the traps are live, so their absence after srcdiff means something."""
    r, markers = evil
    plain = dict(os.environ, HOME=str(tmp_path))

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(r.path), *args], capture_output=True, check=False,
                       env=plain)

    git("status")
    git("diff", "v1.0", "v1.2")
    (r.path / "include" / "foo.h").unlink()
    git("checkout", "--", "include/foo.h")
    git("checkout", "-q", "-b", "trap")
    fired = {p.name for p in markers.iterdir()}
    assert "fsmonitor-included" in fired  # includeIf is honoured by git
    assert {"external", "smudge"} <= fired or {"process"} <= fired
    assert any(f.startswith(("hook-", "githook-")) for f in fired)


COMMANDS = [
    ["log", "foo"], ["log", "foo", "--format", "json"], ["log", "foo", "--format", "md"],
    ["blame", "foo", "--all"], ["diff", "foo", "v1.0", "v1.2"], ["changelog", "foo"],
    ["show", "foo"], ["show", "foo", "--at", "v1.1", "--path", "include/foo.h"],
    ["report", "foo"], ["report", "foo", "--format", "html"], ["graph", "foo"],
    ["versions"],
]


def test_no_command_runs_repository_code_or_touches_the_tree(evil, srcdiff, monkeypatch, tmp_path):
    r, markers = evil
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PAGER", str(tmp_path / "bin" / "pager"))  # a pager from the env, too
    before = tree_state(r.path)
    for args in COMMANDS:
        res = srcdiff(*args, "--repo", str(r.path))
        assert res.code == 0, (args, res.err)
        assert res.out.strip(), args
        assert "Traceback" not in res.err
        assert sorted(p.name for p in markers.iterdir()) == [], args
        assert tree_state(r.path) == before, args
    # and from inside the work tree, without --repo (the repository is discovered)
    monkeypatch.chdir(r.path / "include")
    res = srcdiff("blame", "foo")
    assert res.code == 0, res.err
    assert sorted(p.name for p in markers.iterdir()) == []
    assert tree_state(r.path) == before


# -------------------------------------------------------------------------------------------
# Limits


def test_limits_agree_with_the_parser():
    from srcdiff import parse, preprocess

    assert limits.MAX_NESTING == parse._MAX_DEPTH
    assert limits.MAX_MEMBER_STEPS == parse._MAX_STEPS
    assert limits.MAX_MACRO_TOKENS == parse._EXPANSION_BUDGET
    assert limits.MAX_INCLUDE_READS == preprocess.INCLUDE_BUDGET
    assert limits.MAX_EXPANSION_DEPTH == preprocess._MAX_EXPANSION_DEPTH
    assert limits.MAX_EXPANSION_TOKENS == preprocess._MAX_EXPANSION_TOKENS


def test_limit_helpers(monkeypatch):
    assert limits.human_size(100 * 1024 * 1024) == "100.0 MiB"
    monkeypatch.setenv(limits.MAX_BLOB_ENV, "1.5")
    assert limits.max_blob_bytes() == 1536 * 1024
    monkeypatch.setenv(limits.MAX_BLOB_ENV, "lots")
    assert limits.max_blob_bytes() == limits.MAX_BLOB_BYTES
    assert limits.body_too_long("int a;\n" * 10) is None
    assert "100,000-line limit" in limits.body_too_long("\n" * limits.MAX_STRUCT_LINES)


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> Repo:
    """v1: struct foo in a small header; v2: the same header grown to 100 MiB."""
    r = Repo(tmp_path_factory.mktemp("huge") / "repo")
    r.write("include/foo.h", foo_h(["int a;"]))
    r.commit("foo: small", tag="v1")
    line = b"#define FILLER_REGISTER_0123456789_MASK 0x0123456789abcdefULL /* filler */\n"
    filler = line * (100 * 1024 * 1024 // len(line) + 1)
    r.write("include/foo.h", foo_h(["int a;", "int b;"]).encode() + filler)
    r.commit("foo: grow the header", tag="v2")
    return r


def test_100mb_header_is_not_read(huge, tmp_path):
    t0 = time.monotonic()
    res = run_cli("show", "foo", "--at", "v2", "--repo", str(huge.path), "--no-cache")
    assert time.monotonic() - t0 < 10
    # a per-version problem: the version is shown unread, with one warning; exit 1 (incomplete)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    line = res.stderr.splitlines()[0]
    assert line.startswith("srcdiff: warning: ")
    assert "include/foo.h" in line and "100.0 MiB" in line and "32.0 MiB limit" in line
    assert limits.MAX_BLOB_ENV in line
    assert "bytes not read" in res.stdout
    # the version before it is still read, and raising the limit reads the big one
    res = run_cli("show", "foo", "--at", "v1", "--repo", str(huge.path), "--no-cache")
    assert res.returncode == 0 and "int a;" in res.stdout
    res = run_cli("log", "foo", "--repo", str(huge.path), "--no-cache", "--format", "json")
    assert res.returncode == 1 and "100.0 MiB" in res.stderr and "Traceback" not in res.stderr
    versions = __import__("json").loads(res.stdout)["versions"]
    assert [f["name"] for f in versions[0]["fields"]] == ["a"]


def test_blob_limit_can_be_raised(tmp_path):
    r = Repo(tmp_path / "r")
    r.write("include/foo.h", foo_h(["int a;", "int b;"]) + "/* pad */\n" * 120_000)
    r.commit("foo", tag="v1")
    small = run_cli("show", "foo", "--repo", str(r.path), "--no-cache",
                    env={limits.MAX_BLOB_ENV: "1"})
    assert small.returncode == 1 and "1.0 MiB limit" in small.stderr
    big = run_cli("show", "foo", "--repo", str(r.path), "--no-cache",
                  env={limits.MAX_BLOB_ENV: "4"})
    assert big.returncode == 0 and "int b;" in big.stdout


def test_10000_nested_braces_in_bounded_time(tmp_path):
    r = Repo(tmp_path / "r")
    body = "struct {\n" * 10_000 + "int x;\n" + "};\n" * 10_000
    r.write("include/foo.h", "struct foo {\n\tint a;\n" + body + "};\n")
    r.commit("deep", tag="v1")
    res = run_cli("show", "foo", "--repo", str(r.path), "--no-cache", "--format", "json",
                  timeout=5)  # raises TimeoutExpired (a failure) past the bound
    assert res.returncode == 1, res.stderr
    assert "nested" in res.stderr and "Traceback" not in res.stderr
    fields = __import__("json").loads(res.stdout)["fields"]
    assert fields[0]["name"] == "a"


def test_million_line_struct_in_bounded_time(tmp_path):
    r = Repo(tmp_path / "r")
    members = "".join(f"\tint m{i};\n" for i in range(1_000_000))
    r.write("include/foo.h", "struct foo {\n" + members + "};\n")
    r.commit("wide", tag="v1")
    res = run_cli("show", "foo", "--repo", str(r.path), "--no-cache", timeout=10)
    assert res.returncode == 1, res.stderr
    assert "100,000-line limit" in res.stderr and "Traceback" not in res.stderr


def test_binary_file_named_h(tmp_path, srcdiff):
    r = Repo(tmp_path / "r")
    junk = bytes(range(256)) * 64
    r.write("include/blob.h", junk + b"struct foo { int hidden; };\n" + junk)
    r.write("include/foo.h", foo_h(["int a;"]))
    r.commit("add a binary .h", tag="v1")
    res = srcdiff("show", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["path"] == "include/foo.h"  # git grep -I skips binary files
    pinned = srcdiff("show", "foo", "--repo", str(r.path), "--path", "include/blob.h")
    assert pinned.code == 2 and "not defined" in one_error_line(pinned.err)


def test_symlinked_header_is_not_followed(tmp_path, srcdiff):
    outside = tmp_path / "outside.h"
    outside.write_text(foo_h(["int secret_outside;"]))
    r = Repo(tmp_path / "r")
    r.write("include/real.h", foo_h(["int a;"]))
    (r.path / "include" / "escape.h").symlink_to(outside)
    (r.path / "include" / "alias.h").symlink_to("real.h")
    (r.path / "include" / "etc.h").symlink_to("/etc/passwd")
    r.git("add", "include")
    r.commit("links", tag="v1")
    res = srcdiff("show", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["path"] == "include/real.h"
    assert "secret_outside" not in res.out
    for link in ("include/escape.h", "include/etc.h"):
        res = srcdiff("show", "foo", "--repo", str(r.path), "--path", link)
        assert res.code == 2 and "secret_outside" not in res.out + res.err
        assert "not defined" in one_error_line(res.err)


def test_submodule_is_skipped(tmp_path, srcdiff):
    r = Repo(tmp_path / "r")
    r.write("include/foo.h", foo_h(["int a;"]))
    r.write(".gitmodules", '[submodule "sub"]\n\tpath = sub\n\turl = ext::sh -c touch% /tmp/x\n')
    r.commit("one", tag="v1")
    head = r.git("rev-parse", "HEAD").strip()
    r.git("update-index", "--add", "--cacheinfo", f"160000,{head},sub")
    r.git("update-index", "--add", "--cacheinfo", f"160000,{head},include/sub.h")
    r.write("include/foo.h", foo_h(["int a;", "int b;"]))
    r.commit("two", tag="v2")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    assert [c["field"] for c in res.json()["changes"]] == ["b"]
    res = srcdiff("show", "foo", "--repo", str(r.path), "--path", "include/sub.h")
    assert res.code == 2 and "not defined" in one_error_line(res.err)


def test_non_utf8_paths_and_contents(tmp_path):
    r = Repo(tmp_path / "r")
    path = b"include/caf\xe9.h"
    text = foo_h(["int a; /* r\xe9sum\xe9 */", "char pad; // na\xefve"]).encode("latin-1")
    r.write(path, text)
    r.commit("latin-1 header", tag="v1")
    r.write(path, text.replace(b"int a;", b"int a; long b;"))
    r.commit("add b \xe9", tag="v2")
    for fmt in ("text", "json", "md"):
        res = run_cli("log", "foo", "--repo", str(r.path), "--format", fmt, "--no-cache")
        assert "Traceback" not in res.stderr, res.stderr
        assert res.returncode == 0 and res.stderr == "", res.stderr
        assert ("caf" in res.stdout or fmt == "md") and ("long b" in res.stdout or fmt == "json")
    res = run_cli("blame", "foo", "--repo", str(r.path), "--format", "json", "--no-cache")
    data = __import__("json").loads(res.stdout)
    assert res.returncode == 0
    assert {f["name"] for f in data["fields"]} == {"a", "b", "pad"}
    b = next(f for f in data["fields"] if f["name"] == "b")
    assert b["introduced"]["tag"] == "v2" and b["introduced"]["subject"].startswith("add b")


# -------------------------------------------------------------------------------------------
# Escapes in text output

EVIL_SUBJECT = "foo: add b \x1b[2J\x1b]0;pwned\x07 \x1b[31mred\x1b[0m\rover\x08\x00"
EVIL_AUTHOR = "Mallory \x1b[5mblink\x1b[0m\x9b31m"


def test_control_characters_in_commits_are_escaped(tmp_path, srcdiff):
    r = Repo(tmp_path / "r")
    r.write("include/foo.h", foo_h(["int a;"]))
    r.commit("foo: introduce", tag="v1")
    r.write("include/foo.h", foo_h(["int a;", "long b;"]))
    msg = tmp_path / "msg"
    msg.write_bytes(EVIL_SUBJECT.replace("\x00", "").encode() + b"\n")
    r.git("commit", "-q", "-F", str(msg), env={"GIT_AUTHOR_NAME": EVIL_AUTHOR})
    r.git("tag", "v2")
    for args in (["log", "foo"], ["log", "foo", "--format", "md"], ["blame", "foo"],
                 ["diff", "foo", "v1", "v2"], ["changelog", "foo"], ["report", "foo"],
                 ["report", "foo", "--format", "md"], ["graph", "foo"], ["show", "foo"]):
        res = srcdiff(*args, "--repo", str(r.path))
        assert res.code == 0, (args, res.err)
        for bad in ("\x1b", "\x07", "\r", "\x08", "\x9b"):
            assert bad not in res.out, (args, bad)
            assert bad not in res.err, (args, bad)
        if args[0] in ("log", "blame", "diff", "changelog", "report"):
            assert "x1b" in res.out and "red" in res.out, args


def test_blobs_read_ahead_leave_one_over_the_limit_unread(huge):
    from srcdiff.gitrepo import GitRepo

    repo = GitRepo(huge.path)
    big, small = repo.blob_id("v2", "include/foo.h"), repo.blob_id("v1", "include/foo.h")
    t0 = time.monotonic()
    got = repo.read_blobs([big, small, "0" * 40, big, small])
    assert time.monotonic() - t0 < 2
    assert list(got) == [small] and b"int a;" in got[small] and len(got[small]) < 1000
    # the exchange stays in step afterwards
    assert repo.read_blobs([small]) == {small: got[small]}


# -------------------------------------------------------------------------------------------
# Hostile headers


def test_macro_bomb_in_an_array_size_is_cut_short(tmp_path):
    # A39 would be 2^39 tokens; 2^23 of them took 12.5 s before expansion had a budget
    bomb = "#define A0 x\n" + "".join(f"#define A{i} A{i - 1} A{i - 1}\n" for i in range(1, 40))
    r = Repo(tmp_path / "r")
    r.write("include/foo.h", bomb + foo_h(["int a;", "char buf[A39];", "int b;"]))
    r.commit("bomb", tag="v1")
    t0 = time.monotonic()
    res = run_cli("show", "foo", "--repo", str(r.path), "--no-cache", "--format", "json",
                  timeout=10)
    assert time.monotonic() - t0 < 3  # ~0.5 s, most of it starting Python
    assert res.returncode == 0, res.stderr  # every member read; the size is shown as written
    fields = __import__("json").loads(res.stdout)["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [
        ("a", "int"), ("buf", "char[A39]"), ("b", "int")]
    warnings = res.stderr.splitlines()
    assert len(warnings) == 1, res.stderr
    assert "macro A39 expands to more than 20,000 tokens" in warnings[0]
    assert "include/foo.h:" in warnings[0] and len(warnings[0]) < 200


def test_empty_macro_bomb_is_cut_short_too():
    from srcdiff.preprocess import ExpansionTooLarge, Macro, eval_int

    # expands to nothing at all, after 2^40 steps: the budget counts macros expanded as well
    macros = {"E": Macro("E", None, ())}
    macros.update({f"B{i}": Macro(f"B{i}", None, (f"B{i - 1}", f"B{i - 1}") if i > 1
                                  else ("E", "E")) for i in range(1, 41)})
    def hung(*_):
        raise TimeoutError("expansion not bounded")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        t0 = time.monotonic()
        with pytest.raises(ExpansionTooLarge, match="macro B40 expands to more than"):
            eval_int(["B40", "+", "1"], macros.get)
        assert time.monotonic() - t0 < 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_warning_without_unparsed_member_exits_0(tmp_path):
    # curl's BIT(x): #define'd one way when the build defines a name, another way otherwise;
    # srcdiff says which it used, and every member is read, so the status is 0 (1 means a
    # member was not parsed). HAVE_BOOL_T is the build's to decide: config.h.in lists it.
    r = Repo(tmp_path / "r")
    r.write("lib/config.h.in", "#undef HAVE_BOOL_T\n")
    r.write("lib/setup.h", '#include "config.h"\n#ifdef HAVE_BOOL_T\n#define BIT(x) bool x\n'
            "#else\n#define BIT(x) unsigned int x:1\n#endif\n")
    r.write("lib/foo.h", '#include "setup.h"\n' + foo_h(["int a;", "BIT(flag);"]))
    r.commit("one", tag="v1")
    r.write("lib/foo.h", '#include "setup.h"\n' + foo_h(["int a;", "BIT(flag);", "int b;"]))
    r.commit("two", tag="v2")
    for cmd in ("show", "log", "blame"):
        res = run_cli(cmd, "foo", "--repo", str(r.path), "--no-cache")
        assert "BIT is #define'd differently" in res.stderr, (cmd, res.stderr)
        assert res.returncode == 0, (cmd, res.stderr)
    # a member not parsed still makes it 1
    r.write("lib/foo.h", '#include "setup.h"\n' + foo_h(["int a;", "BIT(flag);", "int b c d;"]))
    r.commit("three", tag="v3")
    res = run_cli("log", "foo", "--repo", str(r.path), "--no-cache")
    assert res.returncode == 1 and "int b c d" in res.stdout, res.stderr


def test_warnings_quote_at_most_80_characters(tmp_path):
    deep = "struct {\n" * 5_000 + "int x;\n" + "};\n" * 5_000  # 25 KB of nesting
    junk = "int " + " ".join(f"w{i}" for i in range(3_000)) + ";"  # 20 KB member, no parse
    cond = "#if " + "1 + " * 3_000 + "\nint c;\n#endif"  # 12 KB condition, no value
    r = Repo(tmp_path / "r")
    r.write("include/foo.h", foo_h(["int a;", deep, junk, cond, "int z;"]))
    r.commit("hostile", tag="v1")
    res = run_cli("show", "foo", "--repo", str(r.path), "--no-cache", "--format", "json")
    assert res.returncode == 1, res.stderr
    warnings = res.stderr.splitlines()
    assert len(warnings) == 3, res.stderr
    assert all(len(w) < 200 and "…" in w for w in warnings), res.stderr
    assert any("nested or expanded too deeply: struct { struct {" in w for w in warnings)
    assert any("int w0 w1 w2" in w for w in warnings)
    assert any("cannot evaluate #if 1 + 1 +" in w for w in warnings)
    # the output keeps the member's whole text; only the warning is cut short
    fields = __import__("json").loads(res.stdout)["fields"]
    assert any(len(f.get("unparsed") or "") > 10_000 and "w2999" in f["unparsed"] for f in fields)
    assert fields[-1]["name"] == "z"


def test_nul_bytes_are_read_as_the_compiler_reads_them(tmp_path, srcdiff):
    # a stray NUL makes git call the file binary (git grep -I skips it); gcc ignores it
    r = Repo(tmp_path / "r")
    r.write("lib/foo.h", foo_h(["int a;"]))
    r.commit("one", tag="v1")
    r.write("lib/foo.h", foo_h(["int a;\0", "int b;"]).encode())
    r.commit("two", tag="v2")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    assert [(c["field"], c["kind"]) for c in res.json()["changes"]] == [("b", "added")]
    assert "v2: lib/foo.h:4: NUL byte ignored" in res.err
    # found nowhere by the tree search: the error says why and what to do, not just "absent"
    res = srcdiff("show", "foo", "--repo", str(r.path), "--at", "v2")
    line = one_error_line(res.err)
    assert res.code == 2 and "lib/foo.h has it but holds NUL bytes (line 4)" in line
    assert "--path lib/foo.h reads it" in line
    res = srcdiff("show", "foo", "--repo", str(r.path), "--at", "v2", "--path", "lib/foo.h",
                  "--format", "json")
    assert res.code == 0 and [f["name"] for f in res.json()["fields"]] == ["a", "b"], res.err
    assert "NUL byte ignored" in res.err


def test_unclosed_brace_is_named_not_suggested(tmp_path, srcdiff):
    r = Repo(tmp_path / "r")
    r.write("include/open.h", "struct opener {\n\tint x;\n};\n\nstruct open {\n\tint a;\n")
    r.commit("broken", tag="v1")
    res = srcdiff("show", "open", "--repo", str(r.path))
    line = one_error_line(res.err)
    assert res.code == 2 and "struct open at include/open.h:5: '{' never closed" in line
    assert "did you mean open?" not in line and "did you mean open," not in line


def test_did_you_mean_outside_include(tmp_path, srcdiff):
    # redis: src/server.h, no include/ directory, no word of the misspelt name in the path
    r = Repo(tmp_path / "r")
    r.write("src/server.h", "struct redisServer {\n\tint hz;\n};\nstruct client {\n\tint fd;\n};\n")
    r.write("src/util.c", "int x;\n")
    r.commit("one", tag="1.0.0")
    for typo, meant in (("redisServr", "redisServer"), ("clinet", "client")):
        res = srcdiff("blame", typo, "--repo", str(r.path))
        line = one_error_line(res.err)
        assert res.code == 2 and f"(did you mean {meant}" in line, line
