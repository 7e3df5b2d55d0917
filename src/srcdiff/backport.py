"""backport: which commit a cherry-pick or backport came from.

A commit that reached a release line by cherry-pick usually says so in its message: git's own
``(cherry picked from commit X)``, the kernel stable trees' ``commit X upstream.`` and
``[ Upstream commit X ]``. ``upstream_of`` reads that (it is kept on every CommitInfo). Where
the message says nothing, ``originals`` looks for the same change among the other line's
commits: first by patch-id (the same diff, ``git patch-id --stable``), then by subject and
author.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from srcdiff.gitrepo import CommitInfo, GitRepo

_TRAILERS = (
    re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)"),
    re.compile(r"^commit ([0-9a-f]{40}) upstream\.?\s*$", re.MULTILINE),
    re.compile(r"^\[\s*[Uu]pstream commit ([0-9a-f]{7,40})\s*\]", re.MULTILINE),
)


def upstream_of(message: str) -> str | None:
    """The commit a message says it was cherry-picked or backported from (the last such
    mention: a chain of picks names the newest pick last), or None."""
    found = None
    best = -1
    for rx in _TRAILERS:
        for m in rx.finditer(message):
            if m.start() > best:
                best, found = m.start(), m.group(1)
    return found


def originals(repo: GitRepo, commits: Iterable[CommitInfo], this: str, other: str,
              paths: list[str]) -> dict[str, tuple[str, str]]:
    """For each of COMMITS (on THIS side, not in OTHER) whose message names no upstream
    commit: (the commit of OTHER ^THIS touching PATHS that made the same change, how it was
    matched: "patch-id" or "subject"). One git log and one git patch-id per side."""
    want = {c.sha: c for c in commits if c.upstream is None}
    if not want or not paths:
        return {}
    mine = _patch_ids(repo, this, other, paths)
    theirs = _patch_ids(repo, other, this, paths)
    by_id = {pid: sha for sha, pid in theirs.items()}
    out: dict[str, tuple[str, str]] = {}
    for sha in want:
        pid = mine.get(sha)
        if pid is not None and pid in by_id:
            out[sha] = (by_id[pid], "patch-id")
    rest = [c for s, c in want.items() if s not in out]
    if rest:
        log = repo.run_text("log", "--no-show-signature", "--format=%x01%H%x00%an%x00%s", other,
                            f"^{this}", "--", *paths)
        by_subject: dict[tuple[str, str], str] = {}
        for rec in log.split("\x01")[1:]:
            sha, author, subject = rec.rstrip("\n").split("\0", 2)
            by_subject.setdefault((author, plain_subject(subject)), sha)
        for c in rest:
            hit = by_subject.get((c.author, plain_subject(c.subject)))
            if hit is not None:
                out[c.sha] = (hit, "subject")
    return out


def history_of(repo: GitRepo, cache, commit: str, paths: list[str]) -> list[tuple[str, str, str]]:
    """(sha, author, subject) of every commit in COMMIT's history touching PATHS, newest
    first (one git log, remembered)."""
    from srcdiff.changes import hash_paths

    key = commit + "|" + hash_paths(paths)
    own = cache.get("history-commits", key) if cache is not None else None
    if own is None:
        out = repo.run_text("log", "--no-show-signature", "--format=%x01%H%x00%an%x00%s", commit,
                            "--", *paths)
        own = [rec.rstrip("\n").split("\0", 2) for rec in out.split("\x01")[1:]]
        if cache is not None:
            cache.put("history-commits", key, own)
    return [tuple(x) for x in own]


def same_in(repo: GitRepo, commits: Iterable[CommitInfo], own: list[tuple[str, str, str]]
            ) -> dict[str, str]:
    """For each of COMMITS not among OWN ((sha, author, subject), newest first: a release's
    history of the struct's files), the commit of OWN that made the same change: the one its
    message names, else the newest with the same subject and author."""
    shas = {sha for sha, _a, _s in own}
    by_subject: dict[tuple[str, str], str] = {}
    for sha, author, subject in own:
        by_subject.setdefault((author, plain_subject(subject)), sha)
    out: dict[str, str] = {}
    for c in commits:
        if c.sha in shas:
            continue
        if c.upstream is not None:
            hit = next((s for s in shas if s.startswith(c.upstream)), None)
            if hit is not None:
                out[c.sha] = hit
                continue
        hit = by_subject.get((c.author, plain_subject(c.subject)))
        if hit is not None:
            out[c.sha] = hit
    return out


def with_upstream(c: CommitInfo, found: dict[str, tuple[str, str]]) -> CommitInfo:
    """C with the original commit FOUND gives it (unchanged when none)."""
    hit = found.get(c.sha)
    return c if hit is None else replace(c, upstream=hit[0], upstream_by=hit[1])


def plain_subject(subject: str) -> str:
    """A subject as backports keep it: without [PATCH …], 'Backport:' or stable prefixes."""
    s = re.sub(r"^(\[[^\]]*\]\s*)+", "", subject.strip())
    s = re.sub(r"^(backport|cherry-pick|revert)\s*:\s*", "", s, flags=re.IGNORECASE)
    return s.strip().lower()


def _patch_ids(repo: GitRepo, new: str, old: str, paths: list[str]) -> dict[str, str]:
    """commit -> patch-id (of its diff to PATHS) for the commits in OLD..NEW touching PATHS."""
    patches = repo.run_bytes("log", "--no-show-signature", "-p", "--no-color", "--no-ext-diff",
                             "--no-textconv", "--no-renames", "--format=commit %H", new,
                             f"^{old}", "--", *paths)
    if not patches.strip():
        return {}
    ids = repo.run_bytes("patch-id", "--stable", input=patches).decode("ascii", "replace")
    out = {}
    for line in ids.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1]] = parts[0]
    return out
