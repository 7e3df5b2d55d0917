"""Release lines: which tags are releases, in what order, and each release's predecessor, on
histories shaped like real projects' (built here, with the dates the projects' tags have)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


class Tagger:
    """A repository whose commits and tags are made at given dates, on given branches."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.n = 0

    def git(self, *args: str, date: str = "2020-01-01") -> str:
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(self.path.parent),
                   GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@example.org",
                   GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@example.org",
                   GIT_AUTHOR_DATE=f"{date}T12:00:00+00:00",
                   GIT_COMMITTER_DATE=f"{date}T12:00:00+00:00")
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, env=env,
                              capture_output=True, text=True).stdout

    def release(self, tag: str, date: str, branch: str | None = None, start: str | None = None):
        """Commit on BRANCH (made from START if new) at DATE and tag it TAG."""
        if branch is not None:
            have = self.git("branch", "--list", branch).strip()
            if have:
                self.git("checkout", "-q", branch)
            else:
                self.git("checkout", "-q", "-b", branch, *([start] if start else []))
        self.n += 1
        (self.path / "f.h").write_text(f"struct s {{ int m{self.n}; }};\n")
        self.git("add", "f.h")
        self.git("commit", "-q", "-m", f"release {tag}", date=date)
        self.git("tag", tag)


def parents(srcdiff, repo: Path, *args: str) -> dict[str, str | None]:
    res = srcdiff("versions", "--repo", str(repo), "--format", "json", *args)
    assert res.code == 0, res.err
    return {v["tag"]: v["parent"] for v in res.json()["versions"]}


def test_redis_like_releases_on_their_own_branches_follow_their_line(tmp_path, srcdiff):
    # unstable is never tagged; each X.Y.0 is cut on a branch of its own, patch releases go
    # on there after the next X.Y.0 is out. Nearest tagged ancestors would make every
    # release's predecessor the first one.
    r = Tagger(tmp_path / "redis")
    r.release("1.0.0", "2019-01-01")
    r.git("checkout", "-q", "-b", "unstable")
    r.release("x1", "2019-03-01")
    r.git("tag", "-d", "x1")
    r.release("7.0.0", "2019-06-01", branch="7.0", start="unstable")
    r.release("7.0.1", "2019-07-01", branch="7.0")
    r.git("checkout", "-q", "unstable")
    (r.path / "g.h").write_text("int g;\n")
    r.git("add", "g.h")
    r.git("commit", "-q", "-m", "work", date="2019-08-01")
    r.release("7.2.0", "2019-09-01", branch="7.2", start="unstable")
    r.release("7.0.2", "2019-10-01", branch="7.0")  # the 7.0 line goes on after 7.2.0
    r.release("7.2.1", "2019-11-01", branch="7.2")
    r.git("tag", "twitter-20100825", "1.0.0")
    got = parents(srcdiff, r.path)
    assert got == {"1.0.0": None, "7.0.0": "1.0.0", "7.0.1": "7.0.0", "7.0.2": "7.0.1",
                   "7.2.0": "7.0.0", "7.2.1": "7.2.0"}
    res = srcdiff("versions", "--repo", str(r.path), "--format", "json")
    assert {"tag": "twitter-20100825", "reason": "the number reads as a date, not a version"} \
        in res.json()["left_out"]
    text = srcdiff("versions", "--repo", str(r.path)).out
    assert "left out, the number reads as a date, not a version: twitter-20100825" in text
    # the lines do not depend on what the cache remembers of earlier runs
    again = srcdiff("versions", "--repo", str(r.path), "--format", "json").out
    fresh = srcdiff("versions", "--repo", str(r.path), "--format", "json", "--no-cache").out
    assert again == res.out == fresh


def test_kernel_like_mainline_and_stable_lines(tmp_path, srcdiff):
    r = Tagger(tmp_path / "linux")
    r.release("v5.3", "2019-09-15")
    r.release("v5.4-rc1", "2019-09-30")
    r.release("v5.4", "2019-11-24")
    r.release("v5.4.1", "2019-11-29", branch="stable-5.4")
    r.git("checkout", "-q", "main")
    r.release("v5.5", "2020-01-26")
    r.release("v5.4.20", "2020-02-14", branch="stable-5.4")
    assert parents(srcdiff, r.path) == {"v5.3": None, "v5.4": "v5.3", "v5.4.1": "v5.4",
                                        "v5.4.20": "v5.4.1", "v5.5": "v5.4"}
    with_rc = parents(srcdiff, r.path, "--include-rc")
    assert with_rc["v5.4-rc1"] == "v5.3" and with_rc["v5.4"] == "v5.4-rc1"


def test_a_line_that_ended_is_continued_by_the_next_release(tmp_path, srcdiff):
    # zlib: 1.1.0 .. 1.1.4, then 1.2.0 from 1.1.4 (no 1.1.x after it): 1.1.4 precedes 1.2.0.
    # Its early versions are decimal: 0.71 < 0.79 < 0.8 < 0.9 < 0.91, as their dates say.
    r = Tagger(tmp_path / "zlib")
    for tag, date in (("v0.71", "1995-04-14"), ("v0.79", "1995-04-28"), ("v0.8", "1995-04-29"),
                      ("v0.9", "1995-04-30"), ("v0.91", "1995-05-02"), ("v1.1.0", "1998-02-24"),
                      ("v1.1.4", "2002-03-11"), ("v1.2.0", "2003-03-09"), ("v1.2.2", "2004-10-03"),
                      ("v1.2.11", "2017-01-15")):
        r.release(tag, date)
    res = srcdiff("versions", "--repo", str(r.path), "--format", "json")
    rows = res.json()["versions"]
    assert [v["tag"] for v in rows] == ["v0.71", "v0.79", "v0.8", "v0.9", "v0.91", "v1.1.0",
                                        "v1.1.4", "v1.2.0", "v1.2.2", "v1.2.11"]
    got = {v["tag"]: v["parent"] for v in rows}
    assert got["v1.2.0"] == "v1.1.4" and got["v1.1.0"] == "v0.91" and got["v0.8"] == "v0.79"


def test_letter_suffixes_are_patch_releases(tmp_path, srcdiff):
    r = Tagger(tmp_path / "tmux")
    for i, tag in enumerate(["3.0", "3.0a", "3.1", "3.1a", "3.1b", "3.1c", "3.2", "3.2-rc2"]):
        r.release(tag, f"2020-0{1 + i}-01")
    got = parents(srcdiff, r.path)
    assert list(got) == ["3.0", "3.0a", "3.1", "3.1a", "3.1b", "3.1c", "3.2"]
    assert got == {"3.0": None, "3.0a": "3.0", "3.1": "3.0a", "3.1a": "3.1", "3.1b": "3.1a",
                   "3.1c": "3.1b", "3.2": "3.1c"}


def test_tags_of_another_scheme_are_left_out_unless_asked_for(tmp_path, srcdiff):
    r = Tagger(tmp_path / "git")
    for i, tag in enumerate(["v2.39.0", "gitgui-0.10.0", "v2.40.0", "gitgui-0.11.0", "v2.41.0",
                             "ss-060323", "v2.42.0-scripting"]):
        r.release(tag, f"2021-0{1 + i}-01")
    assert list(parents(srcdiff, r.path)) == ["v2.39.0", "v2.40.0", "v2.41.0"]
    res = srcdiff("versions", "--repo", str(r.path), "--format", "json")
    reasons = {x["tag"]: x["reason"] for x in res.json()["left_out"]}
    assert reasons["gitgui-0.11.0"].startswith("not the release scheme")
    assert reasons["v2.42.0-scripting"] == "a suffix after the number that releases do not have"
    assert set(reasons) == {"gitgui-0.10.0", "gitgui-0.11.0", "ss-060323", "v2.42.0-scripting"}
    assert list(parents(srcdiff, r.path, "--tags", "gitgui-*")) == ["gitgui-0.10.0", "gitgui-0.11.0"]


@pytest.mark.parametrize("regex", [r"^curl-\d+_\d+_\d+$", r"^nomatch-(.*)$"])
def test_a_tag_regex_without_a_version_group_or_match_is_one_clear_error(tmp_path, srcdiff, regex):
    r = Tagger(tmp_path / "curl")
    r.release("curl-8_5_0", "2023-12-06")
    res = srcdiff("versions", "--repo", str(r.path), "--tag-regex", regex)
    assert res.code == 2 and res.err.count("\n") == 1 and "--tag-regex" in res.err
    assert ("no group" in res.err) == ("nomatch" not in regex)


def test_labels_that_versions_takes_are_taken_by_at_and_diff_too(tmp_path, srcdiff):
    r = Tagger(tmp_path / "curl")
    r.release("curl-7_88_1", "2023-02-20")
    r.release("curl-8_0_0", "2023-03-20")
    res = srcdiff("diff", "s", "7.88.1", "8.0.0", "--repo", str(r.path), "--format", "json")
    assert res.code == 0, res.err
    assert [(c["kind"], c["field"]) for c in res.json()["changes"]] == [
        ("added", "m2"), ("removed", "m1")]
    res = srcdiff("blame", "s", "--repo", str(r.path), "--at", "7.88.1", "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["at"] == "curl-7_88_1"
    res = srcdiff("show", "s", "--repo", str(r.path), "--at", "8.0.0", "--format", "json")
    assert res.code == 0 and [f["name"] for f in res.json()["fields"]] == ["m2"]
