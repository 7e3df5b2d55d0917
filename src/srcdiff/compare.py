"""compare: the struct at one revision (show) and between two revisions (diff).

Works on any two revisions, tags or not; changes are attributed like history edges.
"""

from __future__ import annotations

from srcdiff.cache import Cache
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.history import Builder, Change, Options, diff_structs
from srcdiff.locate import Found, ReadOptions
from srcdiff.versions import Version, VersionKey, VersionSet, _unknown_tag_message, list_tags


def _version(repo: GitRepo, rev: str) -> Version:
    sha = repo.resolve(rev)
    if sha is None:
        raise SrcdiffError(_unknown_tag_message(rev, list(list_tags(repo))))
    return Version(rev, sha, VersionKey((0,), (9, 0)), rev)


def _builder(repo: GitRepo, cache: Cache, name: str, read: ReadOptions, versions: list[Version],
             first_parent: bool = False) -> Builder:
    return Builder(repo, VersionSet(versions), Options(name=name, read=read, first_parent=first_parent),
                   cache)


def _find(b: Builder, v: Version, name: str, prefer: Found | None = None) -> Found:
    if b.opts.read.pinned_path:
        blob, sdef = b.reader.at(v.commit, b.opts.read.pinned_path, name)
        return Found(name, b.opts.read.pinned_path if sdef else None, blob, sdef)
    if prefer is not None and prefer.path:
        blob, sdef = b.reader.at(v.commit, prefer.path, name)
        if sdef is not None:
            return Found(name, prefer.path, blob, sdef)
    return b._search(v, name)


def struct_at(repo: GitRepo, cache: Cache, name: str, rev: str, read: ReadOptions) -> tuple[str, Found]:
    """(commit id, where and how NAME is defined at REV). Raises SrcdiffError if it is not."""
    v = _version(repo, rev)
    b = _builder(repo, cache, name, read, [v])
    found = _find(b, v, name)
    if found.sdef is None:
        from srcdiff.history import _not_found_message

        msg = _not_found_message(repo, VersionSet([v]), name)
        raise SrcdiffError(msg)
    return v.commit, found


def diff_revisions(repo: GitRepo, cache: Cache, name: str, old: str, new: str, read: ReadOptions,
                   first_parent: bool = False) -> tuple[list[Change], list[str]]:
    """Member changes of NAME from OLD to NEW with their commits, and warnings."""
    va, vb = _version(repo, old), _version(repo, new)
    b = _builder(repo, cache, name, read, [va, vb], first_parent)
    fb = _find(b, vb, name)
    fa = _find(b, va, name, prefer=fb)
    if fa.sdef is None and fb.sdef is None:
        from srcdiff.history import _not_found_message

        raise SrcdiffError(_not_found_message(repo, VersionSet([va, vb]), name))
    warnings = [f"{v.tag}: {w}" for v, f in ((va, fa), (vb, fb)) if f.sdef for w in f.sdef.warnings]
    idents = [(f.name, f.path) for f in (fa, fb) if f.path]
    idents = list(dict.fromkeys(idents))
    changes = diff_structs(fa.sdef, fb.sdef)
    out = b._attribute(va, vb, changes, idents) if changes else []
    cache.flush()
    return out, warnings
