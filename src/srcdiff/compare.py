"""compare: the struct at one revision (show) and between two revisions (diff).

Works on any two revisions, tags or not: a diff is a history of two versions joined by one
edge, so moves, renames (--follow) and attribution behave exactly as in ``log``.
"""

from __future__ import annotations

from srcdiff.cache import Cache
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.history import (
    ADDED,
    Builder,
    Change,
    History,
    Options,
    _not_found_message,
    build_history,
    field_map,
)
from srcdiff.locate import Found, ReadOptions
from srcdiff.versions import Version, VersionKey, VersionSet, revision_version


def struct_at(repo: GitRepo, cache: Cache, name: str, rev: str, read: ReadOptions) -> tuple[str, Found]:
    """(commit id, where and how NAME is defined at REV). Raises SrcdiffError if it is not."""
    v = revision_version(repo, rev)
    b = Builder(repo, VersionSet([v]), Options(name=name, read=read), cache)
    if read.pinned_path:
        blob, sdef = b.reader.at(v.commit, read.pinned_path, name)
        found = Found(name, read.pinned_path, blob, sdef)
    else:
        found = b.search(v, name)
    if found.sdef is None:
        raise SrcdiffError(_not_found_message(repo, VersionSet([v]), name, read.kind))
    return v.commit, found


def diff_revisions(repo: GitRepo, cache: Cache, opts: Options, old: str, new: str
                   ) -> tuple[History, list[Change]]:
    """The two-version history of OPTS.name from OLD to NEW and the changes on its edge; when
    NEW is on another line, each commit that came to it by cherry-pick or backport names its
    original."""
    if old == new:
        raise SrcdiffError(f"nothing to compare: {old} and {new} are the same revision")
    va, vb = revision_version(repo, old, 0), revision_version(repo, new, 1)
    history, _builder = build_history(repo, VersionSet([va, vb], {va.tag: None, vb.tag: va.tag}),
                                      opts, cache)
    return history, _with_originals(repo, history, va.commit, vb.commit)


def _with_originals(repo: GitRepo, history: History, a: str, b: str) -> list[Change]:
    """The changes from A to B, each commit that came to B's line by cherry-pick or backport
    naming its original on A's line (from its message, else by patch-id or subject)."""
    va, vb = history.ordered()
    changes = history.edge_changes(va.tag, vb.tag)
    if repo.is_ancestor(a, b):
        return changes  # one line: nothing on B's side came from A's
    return _naming_originals(repo, changes, b, a, history.paths())


def backported(repo: GitRepo, cache: Cache, opts: Options, history: History) -> list[Change]:
    """For the two-version HISTORY of a diff (OLD, NEW): the members NEW has in common with OLD
    that came to NEW's line after the two lines parted (a vendor kernel's backports from
    mainline): the additions between their merge base and NEW of members OLD has too, each
    commit naming its original on OLD's line where found. Empty when OLD is an ancestor of NEW
    (one line) or they share no history."""
    va, vb = history.ordered()
    if repo.is_ancestor(va.commit, vb.commit):
        return []
    base = repo.run_text("merge-base", va.commit, vb.commit, ok_codes=(0, 1)).split()
    if not base:
        return []
    fork = Version(base[0], base[0], VersionKey((0,), (9, 0)), base[0][:12])
    h, _b = build_history(repo, VersionSet([fork, vb], {fork.tag: None, vb.tag: fork.tag}), opts,
                          cache, require=False)
    have, at_old = field_map(h.sdef(vb.tag)), field_map(history.sdef(va.tag))
    added = [ch for ch in h.edge_changes(fork.tag, vb.tag)
             if ch.kind == ADDED and ch.new is not None and ch.new.key() in have
             and ch.new.key() in at_old]
    return _naming_originals(repo, added, vb.commit, va.commit, h.paths())


def _naming_originals(repo: GitRepo, changes: list[Change], this: str, other: str,
                      paths: list[str]) -> list[Change]:
    """CHANGES with each commit (on THIS side) naming its original among OTHER's commits."""
    from dataclasses import replace

    from srcdiff.backport import originals, with_upstream

    found = originals(repo, [c for ch in changes for c in ch.commits], this, other, paths)
    return [replace(ch, commits=tuple(with_upstream(c, found) for c in ch.commits))
            for ch in changes]
