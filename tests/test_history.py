"""History, attribution and CLI behaviour on small repositories built inline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HEADER = """/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _FOO_H
#define _FOO_H
#define NBUF 4

struct foo {
{body}
};

#endif
"""


class Repo:
    """A tiny repository with deterministic commits."""

    def __init__(self, path: Path):
        self.path = path
        self.n = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(self.path.parent),
                   GIT_AUTHOR_NAME="Ann Author", GIT_AUTHOR_EMAIL="ann@example.org",
                   GIT_COMMITTER_NAME="Ann Author", GIT_COMMITTER_EMAIL="ann@example.org")
        if args[0] in ("commit", "merge", "tag"):
            self.n += 1
            date = f"2020-01-{self.n:02d}T12:00:00+00:00"
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, env=env,
                              capture_output=True, text=True).stdout

    def write(self, path: str, text: str) -> None:
        f = self.path / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        self.git("add", path)

    def header(self, members: list[str], path: str = "include/foo.h", name: str = "foo") -> None:
        body = "\n".join("\t" + m for m in members)
        self.write(path, HEADER.replace("{body}", body).replace("struct foo", f"struct {name}"))

    def commit(self, subject: str) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", subject)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def small(tmp_path) -> Repo:
    """v1.0 -> v1.1 -> v1.2 mainline, a stable v1.0.1, and a merged topic branch."""
    r = Repo(tmp_path / "small")
    r.header(["int a;", "char *b;"])
    r.write("README", "demo\n")
    r.commit("foo: introduce struct foo")
    r.git("tag", "-a", "v1.0", "-m", "v1.0")
    r.git("checkout", "-q", "-b", "stable", "v1.0")
    r.write("README", "demo stable\n")
    r.commit("README: stable fix")
    r.git("tag", "-a", "v1.0.1", "-m", "v1.0.1")
    r.git("checkout", "-q", "main")
    r.header(["int a;", "char *b;", "long c[NBUF];"])
    r.commit("foo: add c")
    r.git("checkout", "-q", "-b", "topic")
    r.header(["int a;", "char *b;", "long c[NBUF];", "void *d;"])
    r.commit("foo: add d on a topic branch")
    r.git("checkout", "-q", "main")
    r.write("other.c", "int x;\n")
    r.commit("other: unrelated")
    r.git("merge", "-q", "--no-ff", "topic", "-m", "Merge branch 'topic'")
    r.git("tag", "-a", "v1.1", "-m", "v1.1")
    r.header(["unsigned int a;", "long c[NBUF];", "void *d;"])
    r.commit("foo: make a unsigned, drop b")
    r.git("tag", "-a", "v1.2", "-m", "v1.2")
    return r


def test_log_versions_form_a_dag_with_stable_branch(small, srcdiff):
    res = srcdiff("log", "foo", "--repo", str(small.path), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    parents = {v["tag"]: v["parent"] for v in data["versions"]}
    assert parents == {"v1.0": None, "v1.0.1": "v1.0", "v1.1": "v1.0", "v1.2": "v1.1"}
    assert all(v["present"] for v in data["versions"])


def test_attribution_looks_through_merges(small, srcdiff):
    res = srcdiff("blame", "foo", "--repo", str(small.path), "--format", "json", "--all")
    assert res.code == 0, res.err
    fields = {f["name"]: f for f in res.json()["fields"]}
    assert fields["d"]["introduced"]["subject"] == "foo: add d on a topic branch"
    assert fields["d"]["introduced"]["tag"] == "v1.1"
    assert fields["c"]["introduced"]["subject"] == "foo: add c"
    assert fields["a"]["introduced"]["subject"] == "foo: introduce struct foo"
    assert fields["a"]["retyped"]["subject"] == "foo: make a unsigned, drop b"
    assert fields["b"]["removed"]["subject"] == "foo: make a unsigned, drop b"
    assert fields["b"]["removed"]["tag"] == "v1.2"
    assert fields["c"]["type"] == "long[4]"


def test_first_parent_blames_the_merge(small, srcdiff):
    res = srcdiff("blame", "foo", "--repo", str(small.path), "--format", "json", "--first-parent")
    assert res.code == 0, res.err
    fields = {f["name"]: f for f in res.json()["fields"]}
    assert fields["d"]["introduced"]["subject"] == "Merge branch 'topic'"
    merges = small.git("rev-list", "--merges", "main").split()
    assert len(merges) == 1
    assert fields["d"]["introduced"]["commit"] == merges[0]
    assert fields["d"]["introduced"]["tag"] == "v1.1"


def test_diff_lists_changes_with_commits(small, srcdiff):
    res = srcdiff("diff", "foo", "v1.0", "v1.2", "--repo", str(small.path), "--format", "json")
    assert res.code == 0, res.err
    got = {(c["kind"], c["field"], c["old_type"], c["new_type"]) for c in res.json()["changes"]}
    assert got == {
        ("added", "c", None, "long[4]"),
        ("added", "d", None, "void *"),
        ("retyped", "a", "int", "unsigned int"),
        ("removed", "b", "char *", None),
    }
    text = srcdiff("diff", "foo", "v1.0", "v1.2", "--repo", str(small.path)).out
    assert "+ void *d" in text and "foo: add d on a topic branch" in text


def test_rename_and_move_are_traced(tmp_path, srcdiff):
    r = Repo(tmp_path / "ren")
    r.header(["int a;", "int b;", "int c;"])
    r.commit("add foo")
    r.git("tag", "v1")
    (r.path / "include" / "linux").mkdir()
    r.git("mv", "include/foo.h", "include/linux/foo_core.h")
    r.commit("move foo.h to include/linux")
    r.git("tag", "v2")
    r.header(["int a;", "int b;", "int c;"], path="include/linux/foo_core.h", name="foo_core")
    r.commit("rename struct foo to foo_core")
    r.git("tag", "v3")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    versions = {v["tag"]: v for v in res.json()["versions"]}
    assert versions["v2"]["path"] == "include/linux/foo_core.h"
    assert not versions["v3"]["present"]
    assert "renamed to foo_core" in versions["v3"]["note"]
    kinds = [(c["to"], c["kind"], [(k["commit"], k["subject"]) for k in c["commits"]])
             for c in res.json()["changes"]]
    assert kinds == [
        ("v2", "moved", [(r.git("rev-parse", "v2").strip(), "move foo.h to include/linux")]),
        ("v3", "renamed", [(r.git("rev-parse", "v3").strip(), "rename struct foo to foo_core")])]
    rename = next(c for c in res.json()["changes"] if c["kind"] == "renamed")
    assert rename["commits"][0]["subject"] == "rename struct foo to foo_core"
    followed = srcdiff("log", "foo", "--repo", str(r.path), "--follow", "--format", "json").json()
    assert [v["name"] for v in followed["versions"]] == ["foo", "foo", "foo_core"]
    text = srcdiff("log", "foo", "--repo", str(r.path), "--short").out
    assert "v3: absent (renamed to foo_core by " in text
    assert "rename struct foo to foo_core), in include/linux/foo_core.h)" in text


def one_error_line(res) -> str:
    """The message of a usage error: exit 2, nothing on stdout, one 'srcdiff: error: ' line."""
    assert res.code == 2 and res.out == ""
    assert res.err.count("\n") == 1 and res.err.endswith("\n")
    assert res.err.startswith("srcdiff: error: ")
    return res.err[len("srcdiff: error: "):-1]


def test_not_a_repository(tmp_path, srcdiff):
    res = srcdiff("log", "foo", "--repo", str(tmp_path))
    assert res.code == 2
    assert res.err.count("\n") == 1 and "not a git repository" in res.err
    assert "Traceback" not in res.err
    assert one_error_line(res) == f"not a git repository: {tmp_path}"
    missing = tmp_path / "missing"
    res = srcdiff("log", "foo", "--repo", str(missing))
    assert one_error_line(res) == f"not a git repository: {missing} (no such directory)"


def test_unknown_struct_suggests_close_names(small, srcdiff):
    res = srcdiff("blame", "fooo", "--repo", str(small.path))
    assert res.code == 2 and res.out == ""
    assert res.err.count("\n") == 1
    assert "fooo" in res.err and "did you mean foo" in res.err
    assert one_error_line(res) == ("struct fooo is not defined at any examined version "
                                   "(v1.0..v1.2) (did you mean foo?)")


def test_unknown_tag_suggests_close_tags(small, srcdiff):
    res = srcdiff("diff", "foo", "v1.0", "v1.3", "--repo", str(small.path))
    assert res.code == 2 and res.err.count("\n") == 1
    assert "unknown revision or tag: v1.3" in res.err and "v1.2" in res.err
    # the three mainline tags are the close ones, nearest first
    assert one_error_line(res) == "unknown revision or tag: v1.3 (did you mean v1.2, v1.1, v1.0?)"
    res = srcdiff("log", "foo", "--repo", str(small.path), "--versions", "1.0,1.5")
    assert res.code == 2 and "1.5" in res.err
    # by prefix: a suggestion of the close versions may follow (none is given today)
    assert one_error_line(res).startswith("unknown revision or tag: 1.5")


def test_repository_without_tags_needs_revs(tmp_path, srcdiff):
    r = Repo(tmp_path / "notags")
    r.header(["int a;"])
    first = r.commit("one")
    r.header(["int a;", "int b;"])
    r.commit("two")
    res = srcdiff("log", "foo", "--repo", str(r.path))
    assert res.code == 2 and "--revs" in res.err
    res = srcdiff("log", "foo", "--repo", str(r.path), "--revs", f"{first},HEAD", "--format", "json")
    assert res.code == 0
    assert [c["field"] for c in res.json()["changes"]] == ["b"]


def test_bare_clone_and_shallow_clone(small, tmp_path, srcdiff):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(small.path), str(bare)], check=True)
    res = srcdiff("blame", "foo", "--repo", str(bare), "--format", "json")
    assert res.code == 0, res.err
    full = srcdiff("blame", "foo", "--repo", str(small.path), "--format", "json",
                   "--cache-dir", str(tmp_path / "cache-full"))  # not answered from bare's run
    assert full.code == 0, full.err
    assert res.json() == full.json()
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-single-branch",
                    "file://" + str(small.path), str(shallow)], check=True)
    res = srcdiff("blame", "foo", "--repo", str(shallow), "--format", "json")
    assert res.code == 0, res.err
    # Every tagged commit is a boundary of this clone (its parents are cut), so no change can
    # be pinned to a commit: each commit the full clone blames is a boundary or not there.
    boundary = set((shallow / ".git" / "shallow").read_text().split())
    present = set(subprocess.run(["git", "-C", str(shallow), "rev-list", "--all"], check=True,
                                 capture_output=True, text=True).stdout.split())
    events = ("introduced", "retyped", "removed")
    full_events = {(f["name"], e): f[e] for f in full.json()["fields"] for e in events
                   if f[e] is not None}
    assert set(full_events) == {("a", "introduced"), ("a", "retyped"), ("c", "introduced"),
                                ("d", "introduced")}
    assert all(ev["commit"] in boundary or ev["commit"] not in present
               for ev in full_events.values())
    got = res.json()["fields"]
    assert [f["name"] for f in got] == [f["name"] for f in full.json()["fields"]]
    got_events = {(f["name"], e): f[e] for f in got for e in events if f[e] is not None}
    assert {k: ev["tag"] for k, ev in got_events.items()} == {
        k: ev["tag"] for k, ev in full_events.items()}
    for key, ev in got_events.items():
        assert ev["commit"] is None and ev["subject"] is None and ev["author"] is None, key
        assert "(shallow clone)" in ev["note"], key


def test_cache_is_rebuilt_when_garbage(small, tmp_path, srcdiff):
    cache_dir = tmp_path / "c"
    first = srcdiff("log", "foo", "--repo", str(small.path), "--cache-dir", str(cache_dir),
                    "--format", "json")
    assert first.code == 0
    (cache_dir / "cache.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        p = cache_dir / f"cache.sqlite{suffix}"
        if p.exists():
            p.unlink()
    again = srcdiff("log", "foo", "--repo", str(small.path), "--cache-dir", str(cache_dir),
                    "--format", "json")
    assert again.code == 0
    assert again.json() == first.json()
    assert "rebuilding" in again.err
    third = srcdiff("log", "foo", "--repo", str(small.path), "--cache-dir", str(cache_dir),
                    "--format", "json")
    assert third.json() == first.json() and third.err == ""


def test_shallow_clone_says_where_history_is_cut(small, tmp_path, srcdiff):
    shallow = tmp_path / "shallow2"
    subprocess.run(["git", "clone", "-q", "--depth", "2", "--no-single-branch",
                    "file://" + str(small.path), str(shallow)], check=True)
    res = srcdiff("log", "foo", "--repo", str(shallow))
    assert res.code == 0
    boundary = (shallow / ".git" / "shallow").read_text().split()[0]
    assert "shallow clone: history stops at " + boundary[:12] in res.err


def test_worktree_and_detached_head(small, tmp_path, srcdiff):
    wt = tmp_path / "wt"
    small.git("worktree", "add", "-q", "--detach", str(wt), "v1.1")
    res = srcdiff("blame", "foo", "--repo", str(wt), "--format", "json")
    assert res.code == 0, res.err
    assert {f["name"] for f in res.json()["fields"]} == {"a", "c", "d"}
    small.git("checkout", "-q", "--detach", "v1.0")
    res = srcdiff("show", "foo", "--repo", str(small.path), "--format", "json")
    assert [f["name"] for f in res.json()["fields"]] == ["a", "b"]


def test_non_kernel_version_schemes(tmp_path, srcdiff):
    r = Repo(tmp_path / "curl")
    for i, tag in enumerate(["curl-7_9_0", "curl-7_10_0", "curl-8_5_0"]):
        r.header(["int a;"] + [f"int m{j};" for j in range(i)])
        r.commit(f"release {tag}")
        r.git("tag", tag)
    r.git("tag", "not-a-release")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert [v["tag"] for v in res.json()["versions"]] == ["curl-7_9_0", "curl-7_10_0", "curl-8_5_0"]
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json",
                  "--tag-regex", r"^curl-(\d+_\d+)_0$", "--versions", "7.10,8.5")
    assert [v["tag"] for v in res.json()["versions"]] == ["curl-7_10_0", "curl-8_5_0"]
    res = srcdiff("log", "foo", "--repo", str(r.path), "--tags", "curl-8*", "--format", "json")
    assert [v["tag"] for v in res.json()["versions"]] == ["curl-8_5_0"]


def test_a_changed_define_retypes_the_member_it_sizes(tmp_path, srcdiff):
    # The member's text never changes; only the #define above it does. The retype must show,
    # with the commit that changed the #define.
    r = Repo(tmp_path / "define")
    r.header(["int a;", "long c[NBUF];"])
    r.commit("foo: introduce struct foo")
    r.git("tag", "v1.0")
    r.write("include/foo.h", (r.path / "include/foo.h").read_text().replace("NBUF 4", "NBUF 8"))
    r.commit("foo: grow NBUF")
    r.git("tag", "v1.1")
    r.write("include/foo.h", (r.path / "include/foo.h").read_text().replace("NBUF 8", "NBUF 4"))
    r.commit("foo: shrink NBUF again")
    r.git("tag", "v1.2")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    types = {v["tag"]: {f["name"]: f["type"] for f in v["fields"]} for v in res.json()["versions"]}
    assert [types[t]["c"] for t in ("v1.0", "v1.1", "v1.2")] == ["long[4]", "long[8]", "long[4]"]
    for a, b, subject in (("v1.0", "v1.1", "foo: grow NBUF"), ("v1.1", "v1.2", "foo: shrink NBUF again")):
        changes = srcdiff("diff", "foo", a, b, "--repo", str(r.path), "--format", "json").json()["changes"]
        assert [(c["kind"], c["field"], c["commits"][0]["subject"]) for c in changes] == [
            ("retyped", "c", subject)]


def test_sizes_follow_a_macro_changed_in_an_included_header(tmp_path, srcdiff):
    r = Repo(tmp_path / "include")
    text = ("#include <linux/sizes.h>\n#define OWN 2\nstruct foo {\n\tchar name[FOO_LEN];\n"
            "\tint own[OWN];\n{more}};\n")
    r.write("include/linux/sizes.h", "#define FOO_LEN 8\n")
    r.write("include/foo.h", text.replace("{more}", ""))
    r.commit("foo: introduce struct foo")
    r.git("tag", "v1.0")
    r.write("include/linux/sizes.h", "#define FOO_LEN 16\n")
    r.commit("sizes: longer names")
    r.write("include/foo.h", text.replace("{more}", "\tint e;\n"))
    r.commit("foo: add e")
    r.git("tag", "v1.1")
    r.write("include/linux/sizes.h", "#define FOO_LEN 32\n")
    r.write("include/foo.h", text.replace("{more}", "\tint e;\n\tint f;\n"))
    r.commit("foo: add f, names longer still")
    r.git("tag", "v1.2")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    types = {v["tag"]: {f["name"]: f["type"] for f in v["fields"]} for v in res.json()["versions"]}
    assert [types[t]["name"] for t in ("v1.0", "v1.1", "v1.2")] == ["char[8]", "char[16]", "char[32]"]
    assert {types[t]["own"] for t in types} == {"int[2]"}


def test_a_struct_deleted_and_recreated_elsewhere_is_found_on_both_sides(tmp_path, srcdiff):
    """Neither the newest nor the oldest release has it: the releases between are searched one
    tree at a time, and one whose tree was not searched is searched after all where spreading
    from the first find says absent (here: after the struct came back in another header). The
    answer is what one search of all of them would give."""
    r = Repo(tmp_path / "r")
    r.write("README", "demo\n")
    for i in range(10):
        if i == 1:
            r.header(["int a;"], path="include/a.h")
        if i == 4:
            r.git("rm", "-q", "include/a.h")
        if i == 5:
            r.header(["int a;", "long b;"], path="include/linux/b.h")
        if i == 9:
            r.git("rm", "-q", "include/linux/b.h")
        r.write("README", f"demo {i}\n")
        r.commit(f"release {i}")
        r.git("tag", "-a", f"v1.{i}", "-m", f"v1.{i}")
    res = srcdiff("log", "foo", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    where = {v["tag"]: v["path"] if v["present"] else None for v in res.json()["versions"]}
    b = "include/linux/b.h"
    assert where == {"v1.0": None, "v1.1": "include/a.h", "v1.2": "include/a.h",
                     "v1.3": "include/a.h", "v1.4": None, "v1.5": b, "v1.6": b, "v1.7": b,
                     "v1.8": b, "v1.9": None}
