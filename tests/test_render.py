"""Outputs on small repositories built inline, and the renderers called directly."""

from __future__ import annotations

import json
import re

import pytest
from test_history import Repo

from srcdiff import render


def test_dumps_escapes_c1_controls_and_stays_valid_json():
    obj = {"subject": "a\x7fb\x85c\x9bd\x9fe é → \x1b", "k\x90": 1}
    for pretty in (True, False):
        text = render.dumps(obj, pretty=pretty)
        assert not any("\x7f" <= ch <= "\x9f" for ch in text), text
        assert "\\u007f" in text and "\\u009b" in text and "\\u0090" in text
        assert "é → " in text  # other non-ASCII stays readable
        assert json.loads(text) == obj


@pytest.fixture
def renamed(tmp_path) -> tuple[Repo, dict[str, str]]:
    """struct bar {a, b} at v1, renamed to foo {a, b, c} at v2; a becomes long at v3; b goes at v4."""
    r = Repo(tmp_path / "renamed")
    shas = {}
    r.header(["int a;", "int b;"], name="bar")
    shas["v1"] = r.commit("bar: introduce")
    r.git("tag", "v1")
    r.header(["int a;", "int b;", "int c;"])
    shas["v2"] = r.commit("bar: rename to foo, add c")
    r.git("tag", "v2")
    r.header(["long a;", "int b;", "int c;"])
    shas["v3"] = r.commit("foo: widen a")
    r.git("tag", "v3")
    r.header(["long a;", "int c;"])
    shas["v4"] = r.commit("foo: drop b")
    r.git("tag", "v4")
    return r, shas


def test_blame_keeps_retypes_of_members_carried_through_a_rename(renamed, srcdiff):
    r, shas = renamed
    res = srcdiff("blame", "foo", "--repo", str(r.path), "--format", "json", "--all")
    assert res.code == 0, res.err
    fields = {f["name"]: f for f in res.json()["fields"]}
    assert fields["a"]["retyped"] is not None
    assert fields["a"]["retyped"]["commit"] == shas["v3"] and fields["a"]["retyped"]["tag"] == "v3"
    # the renaming commit gave struct foo its member a; the note says where it was before
    assert fields["a"]["introduced"]["tag"] == "v2" and fields["a"]["introduced"]["commit"] == shas["v2"]
    assert "before the rename" in fields["a"]["introduced"]["note"]
    assert "b" in fields, "a member carried through the rename and then removed is listed"
    assert fields["b"]["removed"]["commit"] == shas["v4"] and fields["b"]["retyped"] is None
    assert fields["c"]["introduced"]["commit"] == shas["v2"] and fields["c"]["retyped"] is None
    at3 = srcdiff("blame", "foo", "--repo", str(r.path), "--format", "json", "--at", "v3").json()
    assert {f["name"]: f["removed"] for f in at3["fields"]} == {"a": None, "b": None, "c": None}


def test_changelog_names_an_absent_first_version_once(renamed, srcdiff):
    r, _shas = renamed
    res = srcdiff("changelog", "foo", "--repo", str(r.path))
    assert res.code == 0, res.err
    line = next(ln for ln in res.out.splitlines() if ln.startswith("_first version examined"))
    assert line == "_first version examined; struct absent: it is struct bar in include/foo.h here_"


def test_clean_is_idempotent_and_keeps_tab_and_newline():
    s = "".join(map(chr, range(0xA0))) + "é\u2028"
    once = render.clean(s)
    assert render.clean(once) == once
    assert "\t" in once and "\n" in once
    assert not any(ch < " " and ch not in "\t\n" or "\x7f" <= ch <= "\x9f" for ch in once)


EVIL_PATH = "include/\x1b[31mred.h"


@pytest.fixture
def evil_path(tmp_path) -> Repo:
    """struct foo moved to a path holding an ANSI escape at v2, renamed to foo_core at v3."""
    r = Repo(tmp_path / "evilpath")
    r.header(["int a;", "int b;"])
    r.commit("foo: introduce")
    r.git("tag", "v1")
    r.git("mv", "include/foo.h", EVIL_PATH)
    r.commit("foo: move")
    r.git("tag", "v2")
    r.header(["int a;", "int b;"], path=EVIL_PATH, name="foo_core")
    r.commit("foo: rename")
    r.git("tag", "v3")
    return r


def test_control_characters_in_paths_never_reach_the_terminal(evil_path, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import srcdiff.cli_report  # noqa: F401  (registers report and graph)
    from srcdiff.cli import main

    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    raw = []
    for args in (["log", "foo"], ["log", "foo", "--short"], ["log", "foo", "--format", "md"],
                 ["diff", "foo", "v1", "v3"], ["diff", "foo", "v1", "v2"], ["show", "foo", "--at", "v2"],
                 ["changelog", "foo"], ["blame", "foo"], ["report", "foo"], ["report", "foo", "--short"],
                 ["report", "foo", "--format", "md"], ["graph", "foo"]):
        # color=True: click strips ANSI sequences from what is not a terminal, which would hide
        # a raw escape here; a user's terminal gets the text as written.
        res = CliRunner().invoke(main, [*args, "--repo", str(evil_path.path)], color=True,
                                 catch_exceptions=False)
        assert res.exit_code == 0, (args, res.stderr)
        if "\x1b" in res.stdout + res.stderr:
            raw.append(" ".join(args))
        elif args[0] != "blame":
            assert re.search(r"x1b\\?\[31mred\.h", res.stdout), (args, res.stdout)  # made visible
    assert raw == [], raw


def test_html_lists_commits_in_time_order_across_utc_offsets(tmp_path, srcdiff):
    r = Repo(tmp_path / "offsets")
    r.header(["int a;"])
    r.commit("foo: introduce")
    r.git("tag", "v1")
    # 05:00 UTC, then 08:00 UTC: as strings, "...T10:00+05:00" sorts after "...T08:00+00:00".
    r.header(["int a;", "int b;"])
    r.git("commit", "-q", "-m", "foo: add b", "--date", "2020-02-01T10:00:00+05:00")
    east = r.git("rev-parse", "HEAD").strip()
    r.header(["int a;", "int b;", "int c;"])
    r.git("commit", "-q", "-m", "foo: add c", "--date", "2020-02-01T08:00:00+00:00")
    west = r.git("rev-parse", "HEAD").strip()
    r.git("tag", "v2")
    page = srcdiff("report", "foo", "--repo", str(r.path), "--format", "html").out
    table = page.split('<section id="commits">')[1]
    assert f'id="c-{east}"' in table and f'id="c-{west}"' in table
    assert table.index(f'id="c-{east}"') < table.index(f'id="c-{west}"')


def test_graphml_json_attributes_stay_json_with_c1_controls(tmp_path, srcdiff):
    import networkx as nx

    path = "include/csi\x9b.h"
    r = Repo(tmp_path / "c1")
    r.header(["int a;"])
    r.commit("foo: introduce")
    r.git("tag", "v1")
    r.git("mv", "include/foo.h", path)
    r.commit("foo: move")
    r.git("tag", "v2")
    res = srcdiff("graph", "foo", "--repo", str(r.path), "--format", "graphml")
    assert res.code == 0, res.err
    assert "\x9b" not in res.out
    g = nx.parse_graphml(res.out)
    changes = json.loads(g.edges["v1", "v2"]["changes"])
    assert changes[0]["kind"] == "moved" and changes[0]["new_path"] == path


def test_a_long_first_paragraph_is_one_short_line_in_text(tmp_path, srcdiff):
    # converted CVS history: the whole log is one paragraph of many lines (~2,000 characters)
    r = Repo(tmp_path / "cvs")
    r.header(["int a;"])
    r.commit("foo: introduce")
    r.git("tag", "v1")
    r.header(["int a;", "int b;"])
    words = " ".join(f"word{i}" for i in range(300))
    long_cut = "Added b to foo for the new driver\n" + "\n".join(
        words[k : k + 70] for k in range(0, len(words), 70))
    r.git("commit", "-q", "-m", long_cut)
    r.git("tag", "v2")
    r.header(["int a;", "int b;", "int c;"])
    sentence = "Add c. " + "More text follows on many lines " * 60
    r.git("commit", "-q", "-m", sentence.replace("lines ", "lines\n"))
    r.git("tag", "v3")
    for fmt in ("text", "md"):
        for cmd in ("log", "blame", "changelog"):
            if fmt == "md" and cmd == "blame":
                continue
            out = srcdiff(cmd, "foo", "--repo", str(r.path), "--format", fmt).out
            assert "word0 word1" in out and "word290" not in out, (cmd, fmt)
            assert "…" in out and max(map(len, out.splitlines())) < 200, (cmd, fmt, out)
            assert "Add c." in out and "More text" not in out, (cmd, fmt)
    subjects = [c["commits"][-1]["subject"] for c in
                srcdiff("log", "foo", "--repo", str(r.path), "--format", "json").json()["changes"]]
    assert subjects[0].startswith("Added b to foo") and "word299" in subjects[0]  # JSON: whole
    assert subjects[1].startswith("Add c. More text") and len(subjects[1]) > 1000
