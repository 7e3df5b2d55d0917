"""srcdiff check --format html: the dependency × release matrix as a page, read back as a
browser would parse it (html.parser), on a small repository each test builds."""

from __future__ import annotations

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

HOSTILE = "<script>alert(1)</script> sched: make pid long & \"wide\""


def _git(repo: Path, *args: str, n: int = 0) -> str:
    date = f"2021-01-01T12:00:{n:02d}+00:00"
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent),
               GIT_AUTHOR_NAME="Ann Author", GIT_AUTHOR_EMAIL="ann@example.org",
               GIT_COMMITTER_NAME="Ann Author", GIT_COMMITTER_EMAIL="ann@example.org",
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def _sched(*members: str) -> str:
    return "struct task_struct {\n" + "".join(f"\t{m}\n" for m in members) + "};\n"


# Each step: (tag or None, subject, {path: text}); v1.0 .. v2.0 make every status appear once.
STEPS = [
    ("v1.0", "sched: task_struct", {
        "Kconfig": "# kernel-like: guards are kept, the configurations decide them\n",
        "include/sched.h": _sched("long state;", "int pid;", "#ifdef CONFIG_NUMA",
                                  "int numa_node;", "#endif", "int flags;")}),
    (None, "sched: rename state to __state", {
        "include/sched.h": _sched("unsigned int __state;", "int pid;", "#ifdef CONFIG_NUMA",
                                  "int numa_node;", "#endif", "int flags;")}),
    ("v1.1", "mm: mm_struct", {"include/mm.h": "struct mm_struct {\n\tvoid *pgd;\n};\n"}),
    ("v1.2", HOSTILE, {
        "include/sched.h": _sched("unsigned int __state;", "long pid;", "#ifdef CONFIG_NUMA",
                                  "int numa_node;", "#endif", "int flags;")}),
    ("v2.0", "sched: drop flags", {
        "include/sched.h": _sched("unsigned int __state;", "long pid;", "#ifdef CONFIG_NUMA",
                                  "int numa_node;", "#endif")}),
]

WANT = {  # dependency -> status at v1.0, v1.1, v1.2, v2.0 as the page shows it
    "task_struct.state": ["present", "renamed", "renamed", "renamed"],
    "task_struct.__state": ["absent", "present", "present", "present"],
    "task_struct.pid": ["present", "present", "retyped", "retyped"],
    "task_struct.numa_node": ["config-off", "present", "present", "present"],
    "mm_struct.pgd": ["no-struct", "present", "present", "present"],
    "task_struct.flags": ["present", "present", "present", "absent"],
}
TAGS = ["v1.0", "v1.1", "v1.2", "v2.0"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("check-html") / "linux"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for n, (tag, subject, files) in enumerate(STEPS):
        for path, text in files.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text)
            _git(repo, "add", path)
        _git(repo, "commit", "-q", "-m", subject, n=n)
        if tag:
            _git(repo, "tag", tag)
    return repo


@pytest.fixture
def programs(tmp_path) -> tuple[str, str, str]:
    """Two dependency lists (the second's name needs escaping) and a configuration for v1.0."""
    a = tmp_path / "sched.txt"
    a.write_text("task_struct.state\ntask_struct.__state?\ntask_struct.pid int\n"
                 "task_struct.numa_node\nmm_struct.pgd\n")
    b = tmp_path / "b<i>flags.txt"
    b.write_text("task_struct.flags\ntask_struct.pid int\n")
    nonuma = tmp_path / "config-1.0"
    nonuma.write_text("# CONFIG_NUMA is not set\n")
    return str(a), str(b), str(nonuma)


class Page(HTMLParser):
    """The matrix (program -> dependency -> [cell attributes]), the footer's failure counts,
    the "What changed" items' text, and every attribute value seen."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, dict[str, list[dict]]] = {}
        self.row_class: dict[str, str] = {}
        self.fails: list[str] = []
        self.changes: list[str] = []
        self.tags: list[str] = []
        self.program_labels: list[str] = []
        self.texts: list[str] = []
        self.scripts = 0
        self._program = self._dep = None
        self._in = None  # "fails", "li", "label" while inside one
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "tbody":
            self._program = a["data-program"]
            self.rows[self._program] = {}
        elif tag == "tr" and "data-dep" in a:
            self._dep = a["data-dep"]
            self.rows[self._program][self._dep] = []
            self.row_class[self._dep] = a["class"]
        elif tag == "th" and "data-tag" in a:
            self.tags.append(a["data-tag"])
        elif tag == "td" and "data-status" in a:
            self.rows[self._program][self._dep].append(a)
        elif tag == "td" and "fails" in a.get("class", ""):
            self._in, self._text = "fails", ""
        elif tag == "li":
            self._in, self._text = "li", ""
        elif tag == "tr" and a.get("class") == "program":
            self._in, self._text = "label", ""

    def handle_endtag(self, tag):
        if self._in == "fails" and tag == "td":
            self.fails.append(self._text)
        elif self._in == "li" and tag == "li":
            self.changes.append(self._text)
        elif self._in == "label" and tag == "th":
            self.program_labels.append(self._text)
        else:
            return
        self._in = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._in:
            self._text += data


def check_page(srcdiff, kernel, programs, *extra: str):
    a, b, nonuma = programs
    res = srcdiff("check", a, b, "--repo", str(kernel), "--config-at", f"v1.0={nonuma}",
                  "--format", "html", *extra)
    assert res.code == 1, res.err  # some dependency fails somewhere: exit status as before
    return res, Page(res.out)


def test_each_cell_has_its_status_grouped_by_program(srcdiff, kernel, programs):
    a, b, _ = programs
    _res, page = check_page(srcdiff, kernel, programs)
    assert page.tags == TAGS
    assert list(page.rows) == [a, b]
    assert list(page.rows[a]) == ["task_struct.state", "task_struct.__state", "task_struct.pid",
                                  "task_struct.numa_node", "mm_struct.pgd"]
    assert list(page.rows[b]) == ["task_struct.pid", "task_struct.flags"]
    for prog in (a, b):
        for dep, cells in page.rows[prog].items():
            assert [c["data-tag"] for c in cells] == TAGS
            assert [c["data-status"] for c in cells] == WANT[dep], dep
    assert "probe" in page.row_class["task_struct.__state"].split()
    assert "probe" not in page.row_class["task_struct.state"].split()
    # per release, the dependencies that fail (each once; the probe does not count)
    assert page.fails == ["2", "1", "2", "3"]
    assert [t.split(" ")[0] for t in page.program_labels] == ["sched.txt", "b<i>flags.txt"]


def test_cells_and_list_name_the_change_the_release_and_the_commit(srcdiff, kernel, programs):
    a, _b, _ = programs
    _res, page = check_page(srcdiff, kernel, programs)
    rename = _git(kernel, "rev-parse", "v1.1~1")[:12]
    state = page.rows[a]["task_struct.state"]
    assert "changed" in state[1]["class"].split() and "changed" not in state[2]["class"].split()
    assert state[1]["title"].splitlines() == [
        "task_struct.state @ v1.1: renamed to __state",
        f"task_struct.state: renamed state → __state in v1.1 by {rename} sched: rename state "
        "to __state"]
    numa = page.rows[a]["task_struct.numa_node"][0]["title"]
    assert "needs #if CONFIG_NUMA" in numa
    mm, retype, flags = (_git(kernel, "rev-parse", t)[:12] for t in ("v1.1", "v1.2", "v2.0"))
    assert page.changes == [  # each once, though pid is in both programs; none for numa_node
        f"task_struct.state: renamed state → __state in v1.1 by {rename} sched: rename state to"
        " __state",
        f"task_struct.__state: renamed state → __state in v1.1 by {rename} sched: rename state to"
        " __state",
        f"task_struct.pid: retyped int → long in v1.2 by {retype} {HOSTILE}",
        f"task_struct.flags: removed in v2.0 by {flags} sched: drop flags",
        f"mm_struct.pgd: added in v1.1 by {mm} mm: mm_struct"]


def test_everything_from_the_repository_is_escaped(srcdiff, kernel, programs):
    a, _b, _ = programs
    res, page = check_page(srcdiff, kernel, programs)
    # the hostile subject is text in the page, never markup; the page runs no script at all
    assert page.scripts == 0 and "<script>" not in res.out and "<i>" not in res.out
    retype = _git(kernel, "rev-parse", "v1.2")[:12]
    assert f"task_struct.pid: retyped int → long in v1.2 by {retype} {HOSTILE}" in page.changes
    assert HOSTILE in page.rows[a]["task_struct.pid"][2]["title"]
    # self-contained: no resource is fetched, and without --commit-url nothing links out
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in res.out
    assert not re.search(r"\b(src|href)=", res.out)


def test_commit_links_and_output_file(srcdiff, kernel, programs, tmp_path):
    out = tmp_path / "check.html"
    url = "https://example.org/c/{sha}?a=1&b=2"
    res, _page = check_page(srcdiff, kernel, programs, "--commit-url", url, "-o", str(out))
    assert res.out == ""
    page = out.read_text()
    links = re.findall(r'<a class="commit" href="([^"]+)"', page)
    assert len(links) == len(Page(page).changes) == 5
    sha = _git(kernel, "rev-parse", "v2.0")
    assert f"https://example.org/c/{sha}?a=1&amp;b=2" in links


def test_json_names_where_a_rename_took_the_member(srcdiff, kernel, programs):
    a = programs[0]
    res = srcdiff("check", a, "--repo", str(kernel), "--format", "json")
    assert res.code == 1
    state = next(d for d in res.json()["dependencies"] if d["field"] == "state")
    assert state["releases"] == {"v1.0": "present", "v1.1": "absent", "v1.2": "absent",
                                 "v2.0": "absent"}
    assert state["renamed"] == {"v1.1": "__state", "v1.2": "__state", "v2.0": "__state"}


def test_exit_status_is_the_same_in_every_format(srcdiff, kernel, tmp_path):
    holds, fails = tmp_path / "holds.txt", tmp_path / "fails.txt"
    holds.write_text("task_struct.pid\ntask_struct.__state?\n")
    fails.write_text("task_struct.flags\n")
    for fmt in ("text", "json", "md", "html"):
        for deps, code in ((holds, 0), (fails, 1)):
            res = srcdiff("check", str(deps), "--repo", str(kernel), "--format", fmt)
            assert res.code == code, (fmt, deps.name, res.err)
    res = srcdiff("check", str(holds), "--repo", str(kernel), "--format", "html",
                  "-o", str(tmp_path / "no" / "such" / "dir.html"))
    assert res.code == 2 and res.err.startswith("srcdiff: error: ") and res.err.count("\n") == 1
