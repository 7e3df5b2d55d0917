"""versions: the releases of a repository, ordered by version, and the DAG between them.

Tags are ordered by their version number (not by date); each version's parent is its nearest
tagged ancestor, so a stable branch (v5.4 -> v5.4.1 -> v5.4.2) sits beside mainline (v5.4 -> v5.5).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo

# A release-looking tag: optional prefix, numbers separated by . or _ , optional -rcN.
_VERSION_RE = re.compile(
    r"^(?P<prefix>[A-Za-z][A-Za-z0-9]*?[-_]?|[vV]?)"
    r"(?P<num>\d+(?:[._]\d+)*)"
    r"(?:[-_.]?(?P<pre>rc|alpha|beta|a|b|pre)[-_.]?(?P<pren>\d*))?$"
)
_PRE_RANK = {"alpha": 0, "a": 0, "beta": 1, "b": 1, "pre": 2, "rc": 3}
_REGEX_CHARS = set("^$()+\\|{")


@dataclass(frozen=True, order=True)
class VersionKey:
    """Sort key: numbers, then pre-releases before the release itself."""

    nums: tuple[int, ...]
    pre: tuple[int, int]  # (rank, n); a final release is (9, 0)


@dataclass(frozen=True)
class Version:
    """One release: its tag, the commit it names, its sort key and a short label."""

    tag: str
    commit: str
    key: VersionKey
    label: str
    is_rc: bool = False


@dataclass
class VersionSet:
    """Selected versions in version order, and the version DAG over them (edges parent ->
    child, by tag). The DAG may still be computing in the background when this is made."""

    versions: list[Version]
    _graph: nx.DiGraph | Future | None = None

    @property
    def graph(self) -> nx.DiGraph:
        if self._graph is None:
            import networkx as nx

            self._graph = nx.DiGraph()
            self._graph.add_nodes_from(v.tag for v in self.versions)
        elif isinstance(self._graph, Future):
            self._graph = self._graph.result()
        return self._graph

    def graph_pending(self) -> bool:
        """Whether the DAG is still being computed (asking for it now would wait)."""
        return isinstance(self._graph, Future) and not self._graph.done()

    def shape_key(self) -> str:
        """What determines the DAG: 'dag' when it comes from the tags' own ancestry (a function
        of the tag -> commit map), else its edges as given."""
        if isinstance(self._graph, Future):
            return "dag"
        return ";".join(f"{a}>{b}" for a, b in sorted(self.graph.edges))

    def by_tag(self, tag: str) -> Version:
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.versions):
            index = self.__dict__["_index"] = {v.tag: v for v in self.versions}
        return index[tag]

    def parent(self, tag: str) -> str | None:
        preds = list(self.graph.predecessors(tag))
        return preds[0] if preds else None

    def chain(self, tag: str) -> list[str]:
        """TAG and its ancestors in the version DAG, oldest first."""
        out = [tag]
        while (p := self.parent(out[-1])) is not None:
            out.append(p)
        return out[::-1]


def parse_version(tag: str, tag_regex: re.Pattern | None = None) -> tuple[VersionKey, str, bool] | None:
    """(sort key, label, is_rc) for a release-looking TAG, else None."""
    text = tag
    if tag_regex is not None:
        m = tag_regex.search(tag)
        if not m:
            return None
        text = m.group(1) if m.groups() else m.group(0)
        m2 = _VERSION_RE.match(text) or _VERSION_RE.match("v" + text)
    else:
        m2 = _VERSION_RE.match(text)
    if not m2:
        return None
    nums = tuple(int(x) for x in re.split(r"[._]", m2["num"]))
    pre = m2["pre"]
    if pre:
        key = VersionKey(nums, (_PRE_RANK[pre.lower()], int(m2["pren"] or 0)))
    else:
        key = VersionKey(nums, (9, 0))
    label = ".".join(map(str, nums)) + (f"-{pre}{m2['pren']}" if pre else "")
    return key, label, bool(pre)


def _tag_matcher(pattern: str) -> Callable[[str], bool]:
    """--tags PATTERN as a test of a tag name: a regex when it has regex characters, else a
    glob. SrcdiffError for a regex that does not compile."""
    if any(c in _REGEX_CHARS for c in pattern):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise SrcdiffError(f"bad --tags pattern {pattern!r}: {exc}") from None
        return lambda tag: rx.search(tag) is not None
    return lambda tag: fnmatch.fnmatchcase(tag, pattern)


def list_tags(repo: GitRepo) -> dict[str, str]:
    """Every tag that names a commit, mapped to that commit id."""
    out = repo.run_text(
        "for-each-ref", "refs/tags", "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(*objecttype)"
    )
    tags: dict[str, str] = {}
    for line in out.splitlines():
        name, otype, oid, peeled, ptype = line.split("\0")
        if otype == "commit":
            tags[name] = oid
        elif otype == "tag" and ptype == "commit":
            tags[name] = peeled
    return tags


def select_versions(
    repo: GitRepo,
    *,
    tags: str | None = None,
    include_rc: bool = False,
    versions: str | None = None,
    tag_regex: str | None = None,
    revs: str | None = None,
    cache=None,
) -> VersionSet:
    """The versions to examine, in version order, with their DAG.

    ``revs`` ("A,B,C") takes explicit revisions in the order given (a line, no tags needed).
    Raises SrcdiffError when nothing matches or a named version/revision does not exist.
    """
    if revs:
        return _explicit_revs(repo, [r.strip() for r in revs.split(",") if r.strip()])
    regex = None
    if tag_regex:
        try:
            regex = re.compile(tag_regex)
        except re.error as exc:
            raise SrcdiffError(f"bad --tag-regex {tag_regex!r}: {exc}") from None
    all_tags = list_tags(repo)
    chosen: list[Version] = []
    for name, sha in all_tags.items():
        parsed = parse_version(name, regex)
        if parsed is None:
            continue
        key, label, is_rc = parsed
        chosen.append(Version(name, sha, key, label, is_rc))
    if versions:
        wanted = [w.strip() for w in versions.split(",") if w.strip()]
        by_label: dict[str, Version] = {}
        for v in chosen:
            by_label.setdefault(v.label, v)
            by_label.setdefault(v.tag, v)
        picked = []
        for w in wanted:
            v = by_label.get(w) or by_label.get(w.lstrip("vV"))
            if v is None:
                raise SrcdiffError(_unknown_tag_message(w, list(dict.fromkeys([*all_tags, *by_label]))))
            picked.append(v)
        _no_repeats([v.tag for v in picked], "--versions")
        chosen = picked
    else:
        if tags:
            match = _tag_matcher(tags)
            chosen = [v for v in chosen if match(v.tag)]
            include_rc = include_rc or "rc" in tags  # a pattern naming rc tags wants them
        if not include_rc:
            chosen = [v for v in chosen if not v.is_rc]
    chosen.sort(key=lambda v: (v.key, v.tag))
    if not chosen:
        if not all_tags:
            raise SrcdiffError(
                "the repository has no tags: name revisions with --revs A,B,C"
            )
        what = f"matching {tags!r}" if tags else "that look like releases"
        raise SrcdiffError(f"no tags {what} (try --tags PATTERN, --tag-regex or --revs)")
    # The DAG needs a walk of the whole history: let it run while the caller starts searching,
    # on a daemon thread, so a run that ends early (an error) does not wait for it.
    future: Future = Future()

    def walk() -> None:
        try:
            future.set_result(_version_graph(repo, chosen, all_tags, cache))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the graph
            future.set_exception(exc)

    threading.Thread(target=walk, daemon=True, name="srcdiff-version-dag").start()
    return VersionSet(chosen, future)


def revision_version(repo: GitRepo, rev: str, i: int = 0) -> Version:
    """REV (any revision git names) as the I-th of an explicit list of versions."""
    sha = repo.resolve(rev)
    if sha is None:
        raise SrcdiffError(_unknown_tag_message(rev, list(list_tags(repo))))
    return Version(rev, sha, VersionKey((i,), (9, 0)), rev)


def _explicit_revs(repo: GitRepo, revs: list[str]) -> VersionSet:
    _no_repeats(revs, "--revs")
    out = [revision_version(repo, r, i) for i, r in enumerate(revs)]
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(v.tag for v in out)
    g.add_edges_from((a.tag, b.tag) for a, b in pairwise(out))
    return VersionSet(out, g)


def _no_repeats(names: list[str], option: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise SrcdiffError(f"{option} names {n} twice")
        seen.add(n)


def _unknown_tag_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown revision or tag: {name}{hint}"


def _version_graph(repo: GitRepo, chosen: list[Version], all_tags: dict[str, str], cache=None
                   ) -> nx.DiGraph:
    """Edge from each version's nearest tagged ancestor to it (one history walk)."""
    # networkx takes ~0.2 s to load: loaded here, on the walk's thread, while the main
    # thread waits on git for its first searches
    import networkx as nx

    g = nx.DiGraph()
    order = {v.tag: i for i, v in enumerate(chosen)}
    for v in chosen:
        g.add_node(v.tag)
    by_commit: dict[str, list[str]] = {}
    for v in chosen:
        by_commit.setdefault(v.commit, []).append(v.tag)
    # Several tags on one commit: a chain in version order, the lowest one carries the commit.
    for same in by_commit.values():
        same.sort(key=order.__getitem__)
        for a, b in pairwise(same):
            g.add_edge(a, b)
    if len(by_commit) < 2:
        return g
    # The DAG of every tag (early.TAG_DAG, often started before srcdiff finished loading);
    # the chosen versions' edges are read off it, looking through the tags not chosen.
    import hashlib

    from srcdiff import early

    key = hashlib.sha1("\n".join(sorted(f"{t} {c}" for t, c in all_tags.items())).encode()
                       ).hexdigest()
    parents = cache.get("tagdag", key) if cache is not None else None
    walk = early.take_tag_dag(str(repo.common_dir))
    if parents is not None and walk is not None:
        early.drop(walk)
    elif parents is None:
        if walk is not None:
            out, _ = walk.communicate()
            text = out.decode("utf-8", "surrogateescape") if walk.returncode == 0 else None
        else:
            text = None
        if text is None:
            text = repo.run_text(*early.TAG_DAG)
        parents = {}
        for line in text.splitlines():
            parts = line.split()
            if parts:
                parents[parts[0]] = parts[1:]
        if cache is not None:
            cache.put("tagdag", key, parents)

    def tagged_ancestors(sha: str) -> set[str]:
        # Nearest tagged commits behind SHA, looking through untagged merge joints.
        found: set[str] = set()
        stack, seen = list(parents.get(sha, [])), set()
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            if p in by_commit:
                found.add(p)
            else:
                stack.extend(parents.get(p, []))
        return found

    for sha, tags_here in by_commit.items():
        if sha not in parents:
            continue
        cands = tagged_ancestors(sha)
        if not cands:
            continue
        # Nearest: highest version among them that is not itself below the tag.
        best = max(cands, key=lambda c: order[by_commit[c][-1]])
        g.add_edge(by_commit[best][-1], tags_here[0])
    return g
