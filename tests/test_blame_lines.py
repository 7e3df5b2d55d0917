"""Blame as users read it, on branchy release lines: the commit that gave the struct a member
of that name, the earliest release that had it, and every member some release had."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HEADER = "#ifndef S_H\n#define S_H\nstruct server {\n%s};\n#endif\n"


class Project:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, date: str = "2020-01-01") -> str:
        stamp = f"{date}T12:00:00+00:00"
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(self.path.parent),
                   GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@example.org", GIT_COMMITTER_NAME="A",
                   GIT_COMMITTER_EMAIL="a@example.org", GIT_AUTHOR_DATE=stamp,
                   GIT_COMMITTER_DATE=stamp)
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, env=env,
                              capture_output=True, text=True).stdout

    def commit(self, members: list[str], subject: str, date: str) -> str:
        (self.path / "server.h").write_text(HEADER % "".join(f"    {m};\n" for m in members))
        self.git("add", "server.h")
        self.git("commit", "-q", "--allow-empty", "-m", subject, date=date)
        return self.git("rev-parse", "HEAD").strip()


def blame(srcdiff, p: Project) -> dict[str, dict]:
    res = srcdiff("blame", "server", "--repo", str(p.path), "--all", "--format", "json")
    assert res.code == 0, res.err
    return {f["name"]: f for f in res.json()["fields"]}


def test_an_added_member_is_credited_to_its_addition_not_to_a_later_retype(tmp_path, srcdiff):
    p = Project(tmp_path / "git")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    added = p.commit(["int a", "unsigned reverse:2"], "add reverse", "2020-02-01")
    retyped = p.commit(["int a", "unsigned reverse:1"], "reverse: one bit is enough", "2020-03-01")
    p.git("tag", "v1.1")
    fields = blame(srcdiff, p)
    assert fields["reverse"]["introduced"]["commit"] == added != retyped
    assert fields["reverse"]["introduced"]["tag"] == "v1.1"


def test_release_branches_keep_each_release_on_its_line(tmp_path, srcdiff):
    # redis: unstable is never tagged; X.Y.0 is cut on a branch of its own, whose patch releases
    # can add (and drop) members of their own. Every member keeps its own commit and release.
    p = Project(tmp_path / "redis")
    base = p.commit(["int db"], "initial server", "2009-03-22")
    p.git("tag", "1.0.0")
    p.git("checkout", "-q", "-b", "unstable")
    clients = p.commit(["int db", "int clients"], "add clients", "2019-01-01")
    p.git("checkout", "-q", "-b", "7.0")
    p.commit(["int db", "int clients"], "7.0.0", "2019-02-01")
    p.git("tag", "7.0.0")
    lua = p.commit(["int db", "int clients", "int lua_oom"], "7.0: lua_oom", "2019-03-01")
    p.git("tag", "7.0.1")
    p.git("checkout", "-q", "unstable")
    el = p.commit(["int db", "int clients", "int el"], "add el", "2019-04-01")
    p.git("checkout", "-q", "-b", "7.2")
    p.commit(["int db", "int clients", "int el"], "7.2.0", "2019-05-01")
    p.git("tag", "7.2.0")
    fields = blame(srcdiff, p)
    assert {n: (f["introduced"]["commit"], f["introduced"]["tag"]) for n, f in fields.items()} == {
        "db": (base, "1.0.0"), "clients": (clients, "7.0.0"), "el": (el, "7.2.0"),
        "lua_oom": (lua, "7.0.1")}
    # 7.2.0 never had it: it is gone at 7.2.0, by no commit of 7.2.0's line
    assert fields["lua_oom"]["removed"]["tag"] == "7.2.0"
    assert fields["lua_oom"]["removed"]["commit"] is None
    assert "7.0.1" in fields["lua_oom"]["removed"]["note"]
    assert fields["el"]["removed"] is None
    res = srcdiff("log", "server", "--repo", str(p.path), "--format", "json")
    assert {v["tag"]: v["parent"] for v in res.json()["versions"]} == {
        "1.0.0": None, "7.0.0": "1.0.0", "7.0.1": "7.0.0", "7.2.0": "7.0.0"}


def test_the_first_release_is_the_earliest_by_date(tmp_path, srcdiff):
    # A stable release got the member (a backport) before the next mainline release.
    p = Project(tmp_path / "linux")
    p.commit(["int a"], "introduce server", "2019-11-01")
    p.git("tag", "v5.4")
    p.git("checkout", "-q", "-b", "stable")
    p.commit(["int a", "int fix"], "add fix (backport)", "2019-12-01")
    p.git("tag", "v5.4.1")
    p.git("checkout", "-q", "main")
    upstream = p.commit(["int a", "int fix"], "add fix", "2019-11-20")
    p.commit(["int a", "int fix"], "Linux 5.5", "2020-01-26")
    p.git("tag", "v5.5")
    p.git("checkout", "-q", "stable")
    p.commit(["int a", "int fix"], "Linux 5.4.20", "2020-02-14")
    p.git("tag", "v5.4.20")
    fields = blame(srcdiff, p)
    assert fields["fix"]["introduced"]["tag"] == "v5.4.1"
    assert fields["fix"]["introduced"]["commit"] == upstream  # v5.5's own line: the original


def test_a_long_range_credits_the_addition_among_many_commits(tmp_path, srcdiff):
    # Many commits between two releases touch the file; the ones naming the member decide.
    p = Project(tmp_path / "nginx")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    members = ["int a"]
    for i in range(12):
        members.append(f"int pad{i}")
        commit = p.commit(members, f"add pad{i}", f"2020-02-{i + 1:02d}")
        if i == 3:
            members.append("unsigned flag:2")
            added = p.commit(members, "add flag", "2020-02-20")
    members[members.index("unsigned flag:2")] = "unsigned flag:1"
    p.commit(members, "flag: one bit", "2020-03-01")
    p.git("tag", "v1.1")
    fields = blame(srcdiff, p)
    assert fields["flag"]["introduced"]["commit"] == added
    assert fields["pad11"]["introduced"]["commit"] == commit
    assert fields["flag"]["retyped"] is None  # retyped within the range: not a retype between releases


def test_path_names_the_file_and_moves_are_still_followed(tmp_path, srcdiff):
    # libgit2 moved src/repository.h to src/libgit2/repository.h; --path names the new file.
    p = Project(tmp_path / "libgit2")
    first = p.commit(["int a", "int b"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    p.git("mv", "server.h", "old.h")
    p.git("commit", "-q", "-m", "keep it in old.h", date="2020-01-05")
    p.git("tag", "v1.1")
    p.git("mv", "old.h", "server.h")
    p.git("commit", "-q", "-m", "move old.h to server.h", date="2020-02-01")
    p.git("tag", "v1.2")
    res = srcdiff("blame", "server", "--repo", str(p.path), "--path", "server.h", "--format", "json")
    assert res.code == 0, res.err
    fields = {f["name"]: f for f in res.json()["fields"]}
    assert fields["a"]["introduced"]["commit"] == first and fields["a"]["introduced"]["tag"] == "v1.0"
    log = srcdiff("log", "server", "--repo", str(p.path), "--path", "server.h", "--format", "json")
    assert all(v["present"] for v in log.json()["versions"])
    assert {v["tag"]: v["path"] for v in log.json()["versions"]}["v1.1"] == "old.h"


def test_a_file_renamed_away_and_back_within_a_range_does_not_take_the_credit(tmp_path, srcdiff):
    # curl's bundle: the struct's file renamed and renamed back between two releases; the
    # member added while it lived in the other file keeps its own commit.
    p = Project(tmp_path / "curl")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    p.git("mv", "server.h", "conn.h")
    p.git("commit", "-q", "-m", "rename server.h to conn.h", date="2020-02-01")
    (p.path / "conn.h").write_text((p.path / "conn.h").read_text().replace(
        "int a;", "int a;\n    int m;"))
    p.git("commit", "-q", "-am", "add m", date="2020-02-02")
    added = p.git("rev-parse", "HEAD").strip()
    p.git("mv", "conn.h", "server.h")
    p.git("commit", "-q", "-m", "Revert the rename", date="2020-03-01")
    p.git("tag", "v1.1")
    fields = blame(srcdiff, p)
    assert fields["m"]["introduced"]["commit"] == added
    assert fields["a"]["introduced"]["subject"] == "introduce server"


def test_a_member_unreadable_on_one_side_of_a_merge_is_credited_to_that_side(tmp_path, srcdiff):
    # tmux modes: a macro the member uses is unknown on one side of a merge; the merge then
    # reads it, but it did not add the member.
    p = Project(tmp_path / "tmux")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    p.git("checkout", "-q", "-b", "topic")
    added = p.commit(["int a", "MODES(int) modes"], "add modes", "2020-01-02")
    p.git("checkout", "-q", "main")
    (p.path / "modes.h").write_text("#define MODES(t) t\n")
    text = (HEADER % "    int a;\n").replace("#define S_H\n", '#define S_H\n#include "modes.h"\n')
    (p.path / "server.h").write_text(text)
    p.git("add", "modes.h", "server.h")
    p.git("commit", "-q", "-m", "modes.h", date="2020-01-03")
    p.git("merge", "-q", "--no-edit", "topic", date="2020-01-04")
    p.git("tag", "v1.1")
    fields = blame(srcdiff, p)
    assert fields["modes"]["type"] == "int"
    assert fields["modes"]["introduced"]["commit"] == added


def test_a_merge_of_a_side_where_the_struct_was_still_in_its_old_file(tmp_path, srcdiff):
    # libgit2's grafts: added on a branch where repository.h had not moved yet; the merge into
    # the branch that moved it is not the commit that added the member.
    p = Project(tmp_path / "libgit2")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    p.git("checkout", "-q", "-b", "topic")
    added = p.commit(["int a", "int grafts"], "repo: load grafts on open", "2020-01-02")
    p.git("checkout", "-q", "main")
    (p.path / "src").mkdir()
    p.git("mv", "server.h", "src/server.h")
    p.git("commit", "-q", "-m", "move server.h to src/", date="2020-01-03")
    p.git("tag", "v1.1")  # moved by this release; the topic branch still has the old file
    p.git("merge", "-q", "--no-edit", "topic", date="2020-01-04")
    assert "int grafts" in (p.path / "src/server.h").read_text()
    p.git("tag", "v1.2")
    fields = blame(srcdiff, p)
    assert fields["grafts"]["introduced"]["commit"] == added


def test_a_member_that_reached_an_earlier_release_by_cherry_pick_names_the_blamed_ones_commit(
        tmp_path, srcdiff):
    # redis: 4.0.0 got 'active defragmentation' as a cherry-pick on its own branch; 4.2.0, cut
    # later from unstable, has the original. Blame at 4.2.0 names the commit 4.2.0 has.
    p = Project(tmp_path / "redis")
    p.commit(["int db"], "initial server", "2016-01-01")
    p.git("tag", "3.2.0")
    p.git("checkout", "-q", "-b", "unstable")
    p.commit(["int db", "int other"], "unrelated work", "2016-06-01")
    p.git("checkout", "-q", "-b", "4.0", "3.2.0")
    p.git("checkout", "-q", "unstable")
    original = p.commit(["int db", "int other", "int defrag"], "active memory defragmentation",
                        "2016-12-01")
    p.git("checkout", "-q", "4.0")
    pick = p.commit(["int db", "int defrag"], "active memory defragmentation", "2016-12-02")
    p.git("tag", "4.0.0")
    p.git("checkout", "-q", "-b", "4.2", "unstable")
    p.commit(["int db", "int other", "int defrag"], "4.2.0", "2017-06-01")
    p.git("tag", "4.2.0")
    fields = blame(srcdiff, p)
    assert fields["defrag"]["introduced"]["tag"] == "4.0.0"
    assert fields["defrag"]["introduced"]["commit"] == original != pick
    assert pick[:12] in fields["defrag"]["introduced"]["note"]


def test_a_header_copied_to_a_new_place_before_the_old_one_was_emptied(tmp_path, srcdiff):
    # iproute2: include/uapi/linux/tcp.h added beside include/linux/tcp.h (and a glibc copy in
    # include/netinet/tcp.h), the old one emptied later. Members keep their first commit.
    p = Project(tmp_path / "iproute2")
    for f, members in (("include/linux/tcp.h", "int a; int b;"), ("include/netinet/tcp.h", "int a;")):
        (p.path / f).parent.mkdir(parents=True, exist_ok=True)
        (p.path / f).write_text(f"struct tcp_info {{ {members} }};\n")
        p.git("add", f)
    p.git("commit", "-q", "-m", "add tcp headers", date="2010-01-01")
    first = p.git("rev-parse", "HEAD").strip()
    p.git("tag", "v1.0")
    (p.path / "include/uapi/linux").mkdir(parents=True)
    (p.path / "include/uapi/linux/tcp.h").write_text("struct tcp_info { int a; int b; int c; };\n")
    p.git("add", "include/uapi/linux/tcp.h")
    p.git("commit", "-q", "-m", "update kernel headers: add uapi", date="2013-01-01")
    copied = p.git("rev-parse", "HEAD").strip()
    p.git("tag", "v2.0")
    (p.path / "include/linux/tcp.h").write_text("/* moved to uapi */\n")
    p.git("commit", "-q", "-am", "drop the old header's copy", date="2013-02-01")
    p.git("tag", "v3.0")
    res = srcdiff("blame", "tcp_info", "--repo", str(p.path), "--path", "include/uapi/linux/tcp.h",
                  "--all", "--format", "json")
    assert res.code == 0, res.err
    fields = {f["name"]: f["introduced"] for f in res.json()["fields"]}
    assert (fields["b"]["commit"], fields["b"]["tag"]) == (first, "v1.0")
    assert (fields["c"]["commit"], fields["c"]["tag"]) == (copied, "v2.0")


def test_a_version_whose_definition_never_closes_says_so(tmp_path, srcdiff):
    p = Project(tmp_path / "broken")
    p.commit(["int a"], "introduce server", "2020-01-01")
    p.git("tag", "v1.0")
    (p.path / "server.h").write_text("#ifndef S_H\n#define S_H\nstruct server {\n    int a;\n")
    p.git("commit", "-q", "-am", "lose the end of the struct", date="2020-02-01")
    p.git("tag", "v1.1")
    p.commit(["int a", "int b"], "mend it", "2020-03-01")
    p.git("tag", "v1.2")
    res = srcdiff("log", "server", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    present = {v["tag"]: v["present"] for v in res.json()["versions"]}
    assert present == {"v1.0": True, "v1.1": False, "v1.2": True}
    assert "v1.1: struct server at server.h:3: '{' never closed" in res.err
