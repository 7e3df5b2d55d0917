"""compare: the struct at one revision (show) and between two revisions (diff).

Works on any two revisions, tags or not: a diff is a history of two versions joined by one
edge, so moves, renames (--follow) and attribution behave exactly as in ``log``.
"""

from __future__ import annotations

from srcdiff.cache import Cache
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.history import Builder, Change, History, Options, _not_found_message, build_history
from srcdiff.locate import Found, ReadOptions
from srcdiff.versions import VersionSet, revision_version


def struct_at(repo: GitRepo, cache: Cache, name: str, rev: str, read: ReadOptions) -> tuple[str, Found]:
    """(commit id, where and how NAME is defined at REV). Raises SrcdiffError if it is not."""
    v = revision_version(repo, rev)
    b = Builder(repo, VersionSet([v]), Options(name=name, read=read), cache)
    if read.pinned_path:
        blob, sdef = b.reader.at(v.commit, read.pinned_path, name)
        found = Found(name, read.pinned_path, blob, sdef)
    else:
        found = b._search(v, name)
    if found.sdef is None:
        raise SrcdiffError(_not_found_message(repo, VersionSet([v]), name))
    return v.commit, found


def diff_revisions(repo: GitRepo, cache: Cache, opts: Options, old: str, new: str
                   ) -> tuple[History, list[Change]]:
    """The two-version history of OPTS.name from OLD to NEW and the changes on its edge."""
    if old == new:
        raise SrcdiffError(f"nothing to compare: {old} and {new} are the same revision")
    va, vb = revision_version(repo, old, 0), revision_version(repo, new, 1)
    history, _builder = build_history(repo, VersionSet([va, vb], {va.tag: None, vb.tag: va.tag}),
                                      opts, cache)
    return history, history.edge_changes(va.tag, vb.tag)
