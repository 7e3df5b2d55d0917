"""versions: the releases of a repository, ordered by version, on their release lines.

Which tags are releases: tags that read as a version number (``v5.4``, ``7.2.0``, ``curl-8_5_0``,
``3.1c``) in the repository's own scheme (the tag prefix most of them share; ``gitgui-0.10``,
``twitter-20100825`` or ``ss-060323`` beside ``v2.40.0`` are left out, and ``srcdiff versions``
says so). Pre-releases (``-rc1``, ``-beta2``) are left out unless asked for.

Order: by version number; a single letter after the number is a patch (tmux ``3.1`` < ``3.1a``
< ``3.2``). Where a project numbered decimally (zlib ``0.71`` < ``0.8``) the tags' dates say so:
within a major version the reading, as integers or as decimals, that agrees with the dates wins.

Release lines: each release's predecessor is the previous release of its line, an ancestor or
not: ``v5.4 -> v5.5`` (mainline), ``v5.4 -> v5.4.1 -> v5.4.2`` (stable), redis ``7.0.0 -> 7.2.0``
although each X.Y.0 sits on a branch of its own, ``v2.6.39 -> v3.0``. It comes from the version
numbers alone, so no walk of the history is needed.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo

# A version-looking tag: optional prefix, numbers separated by . or _ , then the rest.
_VERSION_RE = re.compile(
    r"^(?P<prefix>[A-Za-z][A-Za-z0-9]*?[-_]?|[vV]?)(?P<num>\d+(?:[._]\d+)*)(?P<rest>.*)$"
)
_PRE_RE = re.compile(r"^[-_.]?(?P<pre>rc|alpha|beta|pre|a|b|m)[-_.]?(?P<pren>\d*)$", re.IGNORECASE)
_PRE_RANK = {"m": 0, "alpha": 0, "a": 0, "beta": 1, "b": 1, "pre": 2, "rc": 3}
NOT_RELEASE_SUFFIX = "a suffix after the number that releases do not have"
DATE_NOT_VERSION = "the number reads as a date, not a version"
_FINAL = (9, 0)
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
    date: int = 0  # the commit's date (Unix time), 0 when not known


@dataclass(frozen=True)
class TagReading:
    """What a tag says as a version: its scheme (prefix family), numbers as written, kind."""

    family: str  # the prefix, lower-case, without separators; "" for "v1.2" and "1.2"
    digits: tuple[str, ...]  # the number's components as written ("0", "71")
    pre: tuple[int, int]
    label: str
    why_not: str | None = None  # why this is not a release (None: it reads as one)

    @property
    def is_pre(self) -> bool:
        return self.pre != _FINAL


@dataclass
class VersionSet:
    """Selected versions in version order, and the version DAG over them (edges from each
    version's predecessor on its release line). ``left_out`` lists (tag, why) for tags that look
    like versions but were not selected by default."""

    versions: list[Version]
    parents: dict[str, str | None] = field(default_factory=dict)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    @property
    def graph(self) -> nx.DiGraph:
        g = self.__dict__.get("_graph")
        if g is None:
            import networkx as nx

            g = nx.DiGraph()
            g.add_nodes_from(v.tag for v in self.versions)
            g.add_edges_from((p, t) for t, p in self.parents.items() if p is not None)
            self.__dict__["_graph"] = g
        return g

    def shape_key(self) -> str:
        """The DAG's edges, as a string (part of what a stored history is keyed by)."""
        return ";".join(f"{p}>{t}" for t, p in sorted(self.parents.items()) if p is not None)

    def lines_beside(self) -> bool:
        """Whether some release lines go on beside each other (a version with two
        successors: a line still maintained after the next one began), where releases get
        cherry-picks. (A chain without one can still skip ancestry: redis's X.Y.0 releases
        alone each sit on a branch of their own.)"""
        succ: set[str] = set()
        for _t, p in self.parents.items():
            if p is not None:
                if p in succ:
                    return True
                succ.add(p)
        return False

    def by_tag(self, tag: str) -> Version:
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.versions):
            index = self.__dict__["_index"] = {v.tag: v for v in self.versions}
        return index[tag]

    def parent(self, tag: str) -> str | None:
        return self.parents.get(tag)

    def chain(self, tag: str) -> list[str]:
        """TAG and its predecessors on its release lines, oldest first."""
        out = [tag]
        while (p := self.parent(out[-1])) is not None:
            out.append(p)
        return out[::-1]


def read_tag(tag: str, tag_regex: re.Pattern | None = None) -> TagReading | None:
    """What TAG says as a version, or None when it holds no version number at all."""
    text = tag
    if tag_regex is not None:
        m = tag_regex.search(tag)
        if not m:
            return None
        text = m.group(1) if m.groups() else m.group(0)
        if text is None:
            return None
        m2 = _VERSION_RE.match(text) or _VERSION_RE.match("v" + text)
    else:
        m2 = _VERSION_RE.match(text)
    if not m2:
        return None
    digits = tuple(re.split(r"[._]", m2["num"]))
    family = m2["prefix"].lower().rstrip("-_")
    family = "" if family == "v" else family
    rest = m2["rest"]
    label = ".".join(str(int(d)) for d in digits)
    why = None
    pre = _FINAL
    if rest:
        pm = _PRE_RE.match(rest)
        if pm and not (pm["pre"].lower() in ("a", "b", "m") and not pm["pren"] and rest.isalpha()):
            pre = (_PRE_RANK[pm["pre"].lower()], int(pm["pren"] or 0))
            label += f"-{pm['pre'].lower()}{pm['pren']}"
        elif re.fullmatch(r"[a-z]", rest):
            # tmux 3.1a, 3.1b, 3.1c: patch releases after 3.1, a component of their own
            digits += (str(ord(rest) - ord("a") + 1),)
            label = label + rest
        elif re.fullmatch(r"[-_.]\d{1,4}", rest) and tag_regex is None:
            digits += (rest[1:],)  # a build or packaging number (2.6.10-1): one more component
            label += rest
        elif tag_regex is not None and re.fullmatch(r"[-_.]\d+(?:[._]\d+)*", rest):
            digits += tuple(re.split(r"[._]", rest[1:]))  # vendor 4.18.0-305(.10)
            label += rest
        else:
            why = NOT_RELEASE_SUFFIX
    if why is None and len(digits) == 1 and len(digits[0]) >= 6:
        why = DATE_NOT_VERSION
    return TagReading(family, digits, pre, label, why)


def _canonical(nums: tuple[int, ...]) -> tuple[int, ...]:
    """NUMS without trailing zeros, but at least two components: 7.0.0 and 7.0 are one
    version; 5.0 stays (5, 0)."""
    out = list(nums)
    while len(out) > 2 and out[-1] == 0:
        out.pop()
    while len(out) < 2:
        out.append(0)
    return tuple(out)


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


def _tags_with_dates(repo: GitRepo) -> dict[str, tuple[str, int]]:
    """Every tag that names a commit: (commit id, the commit's date, Unix time)."""
    out = repo.run_text(
        "for-each-ref", "refs/tags",
        "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(committerdate:unix)"
        "%00%(*objectname)%00%(*objecttype)%00%(*committerdate:unix)",
    )
    tags: dict[str, tuple[str, int]] = {}
    for line in out.splitlines():
        name, otype, oid, date, peeled, ptype, pdate = line.split("\0")
        if otype == "commit":
            tags[name] = (oid, int(date or 0))
        elif otype == "tag" and ptype == "commit":
            tags[name] = (peeled, int(pdate or 0))
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
    """The versions to examine, in version order, on their release lines.

    ``revs`` ("A,B,C") takes explicit revisions in the order given (a line, no tags needed).
    Raises SrcdiffError when nothing matches or a named version/revision does not exist.
    """
    _load_networkx_soon()
    if revs:
        return _explicit_revs(repo, [r.strip() for r in revs.split(",") if r.strip()])
    regex = None
    if tag_regex:
        try:
            regex = re.compile(tag_regex)
        except re.error as exc:
            raise SrcdiffError(f"bad --tag-regex {tag_regex!r}: {exc}") from None
        if regex.groups == 0:
            raise SrcdiffError(f"--tag-regex {tag_regex!r} has no group: put the version in "
                               r"parentheses, e.g. '^curl-(\d+_\d+_\d+)$'")
    all_tags = _tags_with_dates(repo)
    readings = {name: r for name in all_tags if (r := read_tag(name, regex)) is not None}
    if regex is not None and not readings and all_tags:
        raise SrcdiffError(f"--tag-regex {tag_regex!r} matches no tag with a version number "
                           f"(tags look like: {', '.join(sorted(all_tags)[:3])})")
    left_out: list[tuple[str, str]] = []
    scheme = _release_family(readings) if not (tags or regex or versions) else None
    candidates: dict[str, TagReading] = {}
    for name, r in readings.items():
        if r.why_not is not None:
            left_out.append((name, r.why_not))
        elif scheme is not None and r.family != scheme:
            left_out.append((name, f"not the release scheme ({_scheme_text(scheme)})"))
        else:
            candidates[name] = r
    keys = _keys(candidates, {n: all_tags[n][1] for n in candidates})
    chosen = [Version(n, all_tags[n][0], keys[n], r.label, r.is_pre, all_tags[n][1])
              for n, r in candidates.items()]
    line_last = _line_ends(chosen)
    if versions:
        chosen = _pick(chosen, versions, list(all_tags))
    else:
        if tags:
            match = _tag_matcher(tags)
            chosen = [v for v in chosen if match(v.tag)]
            include_rc = include_rc or "rc" in tags  # a pattern naming rc tags wants them
        if not include_rc:
            left_out += [(v.tag, "a pre-release (--include-rc)") for v in chosen if v.is_rc]
            chosen = [v for v in chosen if not v.is_rc]
    chosen.sort(key=lambda v: (v.key, v.tag))
    if not chosen:
        if not all_tags:
            raise SrcdiffError("the repository has no tags: name revisions with --revs A,B,C")
        what = f"matching {tags!r}" if tags else "that look like releases"
        raise SrcdiffError(f"no tags {what} (try --tags PATTERN, --tag-regex or --revs)")
    return VersionSet(chosen, _lines(repo, chosen, line_last, cache), sorted(left_out))


ANCESTRY_QUESTIONS = 4  # asked of git per repository state; the rest follow their majority


def _lines(repo: GitRepo, chosen: list[Version], line_last, cache) -> dict[str, str | None]:
    """release_lines, asking git a few of the ancestry questions it raises.

    Whether a project continues a release line in the next one (zlib, curl: one branch) or
    keeps it beside (redis, the kernel's stable lines) is mostly the project's habit, and each
    question costs a walk (~0.1 s on git.git without a commit-graph). So the newest few
    questions are asked, in parallel, and their majority answers the others: the same tags
    always give the same lines, cache or not. Answers are kept for good (two commits'
    ancestry never changes)."""
    from concurrent.futures import ThreadPoolExecutor

    asked: dict[tuple[str, str], int] = {}
    by_commit = {v.commit: v for v in chosen}

    def record(old: str, new: str) -> bool:
        asked.setdefault((old, new), by_commit[new].date)
        return False

    first = release_lines(chosen, record, line_last)
    if not asked:
        return first
    ask = sorted(asked, key=lambda q: (-asked[q], q))[:ANCESTRY_QUESTIONS]
    known: dict[tuple[str, str], bool] = {}
    todo = []
    for q in ask:
        hit = cache.get("ancestry", f"{q[0]} {q[1]}") if cache is not None else None
        if hit is None:
            todo.append(q)
        else:
            known[q] = hit
    with ThreadPoolExecutor(max_workers=2) as pool:
        for q, yes in zip(todo, pool.map(lambda q: repo.is_ancestor(*q), todo)):
            known[q] = yes
            if cache is not None:
                cache.put("ancestry", f"{q[0]} {q[1]}", yes)
    habit = 2 * sum(known.values()) >= len(known)
    return release_lines(chosen, lambda old, new: known.get((old, new), habit), line_last)


def _pick(chosen: list[Version], versions: str, all_tags: list[str]) -> list[Version]:
    """--versions LIST: exactly these, by tag or label (SrcdiffError for one that is unknown)."""
    wanted = [w.strip() for w in versions.split(",") if w.strip()]
    by_label: dict[str, Version] = {}
    for v in sorted(chosen, key=lambda v: (v.is_rc, v.key, v.tag)):
        by_label.setdefault(v.label, v)
        by_label.setdefault(v.tag, v)
    picked = []
    for w in wanted:
        v = by_label.get(w) or by_label.get(w.lstrip("vV"))
        if v is None:
            raise SrcdiffError(_unknown_tag_message(w, list(dict.fromkeys([*all_tags, *by_label]))))
        picked.append(v)
    _no_repeats([v.tag for v in picked], "--versions")
    return picked


def _release_family(readings: dict[str, TagReading]) -> str | None:
    """The tag prefix most release-looking tags share: the repository's release scheme."""
    count = Counter(r.family for r in readings.values() if r.why_not is None)
    if not count:
        return None
    return max(count, key=lambda f: (count[f], f == ""))


def _scheme_text(family: str) -> str:
    return f"most release tags are '{family}-X.Y'" if family else "most release tags are 'vX.Y' or 'X.Y'"


def _keys(readings: dict[str, TagReading], dates: dict[str, int]) -> dict[str, VersionKey]:
    """Sort keys. Within one major version, components after the first are read as integers,
    or as decimal fractions (zlib 0.71 < 0.8) when that reading agrees better with the dates."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, r in readings.items():
        groups.setdefault((r.family, str(int(r.digits[0]))), []).append(name)
    out: dict[str, VersionKey] = {}
    for names in groups.values():
        def as_int(n: str) -> VersionKey:
            r = readings[n]
            return VersionKey(_canonical(tuple(int(d) for d in r.digits)), r.pre)

        width = Counter()
        for n in names:
            for i, d in enumerate(readings[n].digits[1:], 1):
                width[i] = max(width[i], len(d))

        def as_decimal(n: str) -> VersionKey:
            r = readings[n]
            nums = [int(r.digits[0])] + [int(d.ljust(width[i], "0"))
                                         for i, d in enumerate(r.digits[1:], 1)]
            return VersionKey(_canonical(tuple(nums)), r.pre)

        key = as_int
        if any(len(readings[n].digits[i]) != width[i] for n in names
               for i in range(1, len(readings[n].digits))):
            # decimals only when clearly better: stable branches make either reading disagree
            # with the dates somewhat
            if 2 * _disorder(names, as_decimal, dates) < _disorder(names, as_int, dates):
                key = as_decimal
        for n in names:
            out[n] = key(n)
    return out


def _disorder(names: list[str], key: Callable[[str], VersionKey], dates: dict[str, int]) -> int:
    """How many neighbours, in the order KEY gives, were released in the opposite order."""
    ordered = sorted(names, key=lambda n: (key(n), n))
    return sum(1 for a, b in pairwise(ordered) if dates[a] > dates[b])


def _line_ends(versions: list[Version]) -> dict[tuple[int, ...], int]:
    """For each release line, the date of its newest final release, on it or on a line
    branching from it."""
    out: dict[tuple[int, ...], int] = {}
    for v in versions:
        if not v.is_rc:
            for k in range(1, len(v.key.nums)):
                out[v.key.nums[:k]] = max(out.get(v.key.nums[:k], 0), v.date)
    return out


def release_lines(chosen: list[Version], is_ancestor: Callable[[str, str], bool] | None = None,
                  line_last: dict[tuple[int, ...], int] | None = None) -> dict[str, str | None]:
    """Each version's predecessor on its release line (CHOSEN in version order).

    A version's line is its number less the last component (5.4.2 is on 5.4's line, 5.5 on
    5's). The predecessor is the newest earlier version of the same line or of a line above
    it. An earlier version on another line counts as the release that line branched from
    (5.4.3 counts as 5.4 when 5.5 looks for its predecessor: stable lines go on beside
    mainline), unless this version continued that line (zlib 1.1.4 before 1.2.0; git 1.7.12
    before 1.8.0): the line had no release after this version's date (LINE_LAST, from
    _line_ends over every release tag) and its release is an ancestor of this version
    (IS_ANCESTOR(older commit, newer commit), asked of the newest earlier version only, a
    climb at a time; without it, the dates decide)."""
    finals: dict[tuple[int, ...], Version] = {}
    for v in chosen:
        if not v.is_rc:
            finals.setdefault(v.key.nums, v)
    parents: dict[str, str | None] = {}
    for i, v in enumerate(chosen):
        line = v.key.nums[:-1]
        best: Version | None = None
        for w in reversed(chosen[:i]):
            if best is not None and (w.key, w.tag) < (best.key, best.tag):
                break  # climbing only goes to older versions: none can beat BEST now
            if w.key == v.key:
                continue
            c = w
            newest = best is None  # only the newest earlier version may have been continued
            while not _on_line_of(c.key.nums[:-1], line) and len(c.key.nums) > 2:
                fork = c.key.nums[: _common(c.key.nums, line) + 1]  # where C's line leaves V's
                if (newest and line_last is not None and line_last.get(fork, 0) <= v.date
                        and (is_ancestor is None or is_ancestor(c.commit, v.commit))):
                    break  # V continued C's line
                root = finals.get(_canonical(c.key.nums[:-1]))  # the release C's line left from
                if root is None:
                    break
                c = root
            if best is None or (c.key, c.tag) > (best.key, best.tag):
                best = c
        if best is None and i > 0 and chosen[i - 1].key == v.key:
            best = chosen[i - 1]  # two tags for one version: a chain, in tag order
        parents[v.tag] = best.tag if best is not None else None
    return parents


def _common(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Length of the common prefix of A and B."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _on_line_of(w_line: tuple[int, ...], v_line: tuple[int, ...]) -> bool:
    """Whether a version on line W_LINE is on line V_LINE or on a line above it."""
    return v_line[: len(w_line)] == w_line


def _load_networkx_soon() -> None:
    """networkx takes ~0.2 s to load: load it on a thread while the caller starts on git."""
    threading.Thread(target=lambda: __import__("networkx"), daemon=True,
                     name="srcdiff-load-networkx").start()


def revision_version(repo: GitRepo, rev: str, i: int = 0) -> Version:
    """REV (any revision git names) as the I-th of an explicit list of versions."""
    sha = repo.resolve(rev)
    if sha is None:
        # a release's label, as --versions takes them (7.88.1 for curl-7_88_1)
        tags = _tags_with_dates(repo)
        labels = {r.label: (t, c) for t, (c, _d) in sorted(tags.items())
                  if (r := read_tag(t)) is not None and r.why_not is None}
        hit = labels.get(rev) or labels.get(rev.lstrip("vV"))
        if hit is None:
            raise SrcdiffError(_unknown_tag_message(rev, list(tags)))
        return Version(hit[0], hit[1], VersionKey((i,), _FINAL), rev)
    return Version(rev, sha, VersionKey((i,), _FINAL), rev)


def _explicit_revs(repo: GitRepo, revs: list[str]) -> VersionSet:
    _no_repeats(revs, "--revs")
    out = [revision_version(repo, r, i) for i, r in enumerate(revs)]
    parents = {out[0].tag: None} | {b.tag: a.tag for a, b in pairwise(out)}
    return VersionSet(out, parents)


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
