"""attribution: the changes on one edge of the version graph, each with the commit that
made it.

The commit of a change is the last commit between the two versions, touching the struct's
file, whose version of the struct has the change while no parent's does (for an added member:
has a member of that name). The commits whose diff names the member are read first; every
commit only when none of them qualifies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from srcdiff.cache import Cache
from srcdiff.changes import (
    ADDED,
    GUARD,
    MOVED,
    RENAMED,
    RETYPED,
    STRUCT_ADDED,
    STRUCT_REMOVED,
    Change,
    Options,
    Part,
    _named_unparsed,
    _same,
    change_from_cache,
    change_to_cache,
    diff_structs,
    field_map,
)
from srcdiff.commits import CommitWalk
from srcdiff.gitrepo import DIRECTIVES, CommitInfo, GitRepo
from srcdiff.locate import Found, StructReader
from srcdiff.model import StructDef
from srcdiff.moves import Tracer
from srcdiff.versions import Version


# From this many commits in a range, the commits whose diff names a member are found first
# (one git log -p); below it, reading every commit's state costs less than that process.
MENTIONS_FROM = 8


class Attributor(Part):
    """Changes on version-graph edges, with their commits, remembered in the cache."""

    def __init__(self, repo: GitRepo, cache: Cache, reader: StructReader, opts: Options,
                 walks: CommitWalk, tracer: Tracer):
        super().__init__(repo, cache, reader, opts)
        self.walks = walks
        self.tracer = tracer

    def edge_cached(self, a: Version, b: Version, fa: Found, fb: Found) -> list[Change]:
        """_edge, remembered by everything that determines it (commits, blobs, options)."""
        if fa.sdef is None and fb.sdef is None:
            return []
        key = self.edge_key(a, b, fa, fb)
        hit = self.cache.get("edge", key)
        if hit is not None:
            return [change_from_cache(c) for c in hit]
        changes = self._edge(a, b, fa, fb)
        self.cache.put("edge", key, [change_to_cache(c) for c in changes])
        return changes

    def edge_key(self, a: Version, b: Version, fa: Found, fb: Found) -> str:
        """What determines the changes on the edge A -> B (the cache key)."""
        o = self.opts
        return "|".join(map(str, ("v3", a.commit, b.commit, fa.name, fa.path, fa.blob, fb.name,
                                  fb.path, fb.blob, self.walks.hfp, o.first_parent, o.rename_threshold)))

    def _edge(self, a: Version, b: Version, fa: Found, fb: Found) -> list[Change]:
        """The changes from A to B: moves and renames on the way, the struct appearing or going,
        and member changes, each with its commit."""
        changes: list[Change] = []
        ident_a = (fa.name, fa.path) if fa.sdef is not None else None
        ident_b = (fb.name, fb.path) if fb.sdef is not None else None
        if ident_a is None and ident_b is None:
            return []
        trace: list[Change] = []
        if ident_a is None:
            # Appears under this name: was it renamed from a struct present at A?
            back, pred = self.tracer.trace_back_cached(a, b, fb)
            if pred is not None:
                blob, sdef = self.reader.at(a.commit, pred[1], pred[0])
                fa = Found(pred[0], pred[1], blob, sdef)
                ident_a = pred
                trace = back
        elif ident_b is None or ident_a != ident_b:
            trace = self.tracer.trace_cached(a, b, fa)
        # Every (name, path) the struct had on the way from A to B, oldest first.
        idents: list[tuple[str, str]] = []
        for i in [ident_a, *((c.new_name, c.new_path) for c in trace), ident_b]:
            if i is not None and i[1] and i not in idents:
                idents.append(i)
        if ident_b is None:
            # Gone under this name: say where it went, if anywhere.
            changes.extend(c for c in trace if c.kind in (RENAMED, MOVED))
            if not any(c.kind == RENAMED for c in trace):
                # Removed outright: the commit after which no traced identity defines it.
                gone = self._attribute_presence(a, b, idents, present=False)
                changes.append(Change(STRUCT_REMOVED, None, commits=gone[0], note=gone[1],
                                      old_name=fa.name, old_path=fa.path))
            return changes
        if ident_a is None:
            came = self._attribute_presence(a, b, idents, present=True)
            changes.append(Change(STRUCT_ADDED, None, commits=came[0], note=came[1],
                                  new_name=fb.name, new_path=fb.path))
            # Members it came with are "added" too, each with its own commit (blame needs them).
        else:
            changes.extend(c for c in trace if c.kind in (RENAMED, MOVED))
            if fb.path != fa.path and not any(c.kind == MOVED for c in trace):
                changes.append(Change(MOVED, None, old_path=fa.path, new_path=fb.path,
                                      old_name=fa.name, new_name=fb.name,
                                      note="commit not found"))
        member_changes = diff_structs(fa.sdef, fb.sdef)
        if member_changes:
            changes.extend(self._attribute(a, b, member_changes, idents))
        return changes

    def _find_commit(self, commits: list[str], idents, wanted: Callable[[StructDef | None], bool],
                     inc: str, likely: set[str] | None = None,
                     lacks: Callable[[str], bool] | None = None, old: str | None = None,
                     depth: int = 0) -> tuple[tuple[CommitInfo, ...], str | None]:
        """The last commit in COMMITS whose state satisfies WANTED while no parent's did.

        LIKELY, when given, holds the commits whose diff mentions the member: the last of
        those that qualifies is the answer (a member named in the source comes or goes with a
        line naming it), found by reading a few states instead of every commit's; when none
        qualifies (a member made by a macro, a merge) every commit is looked at. LACKS(sha),
        when given, says cheaply that a parent cannot satisfy WANTED (its files do not even
        have the member's name in them), so it need not be read. A commit that only brought
        the struct back from another file (renamed away and back within the range: OLD..)
        is looked through: the search goes on in that file's commits."""
        if likely:
            for sha in reversed([c for c in commits if c in likely]):
                if sha in self.walks.shallow or not wanted(self.walks.state_at(sha, idents, inc)):
                    continue
                parents = self.walks.parents(sha)
                if parents and all((lacks is not None and lacks(p))
                                   or not wanted(self.walks.state_at(p, idents, inc)) for p in parents):
                    return self._unless_moved_in(sha, idents, wanted, inc, old, depth)
        for sha in reversed(commits):
            if not wanted(self.walks.state_at(sha, idents, inc)):
                continue
            if sha in self.walks.shallow:
                # Its parents are not in this clone: it may only have inherited the state.
                return (), ("history is cut here (shallow clone); the commit that made this "
                            "change may be before it, and is not in this clone")
            parents = self.walks.parents(sha)
            if not parents:
                return (self.repo.commit_info(sha),), None
            if all(not wanted(self.walks.state_at(p, idents, inc)) for p in parents):
                return self._unless_moved_in(sha, idents, wanted, inc, old, depth)
        if self.walks.shallow:
            return (), "history is cut here (shallow clone); the commit is not in this clone"
        return (), "no single commit in the range made this change"

    def _unless_moved_in(self, sha: str, idents, wanted, inc: str, old: str | None, depth: int
                         ) -> tuple[tuple[CommitInfo, ...], str | None]:
        """SHA, found to make a change; unless, for a parent that had the struct in no file of
        IDENTS, SHA brought it in from another file whose version already has the change (a
        file renamed away and back; a merge of a side where the struct was still in its old
        file): then the commit that made the change there."""
        name = idents[0][0]
        if depth >= 5 or self.opts.first_parent:
            return (self.repo.commit_info(sha),), None
        for parent in self.walks.parents(sha):
            if self.walks.state_at(parent, idents, inc) is not None:
                continue
            moved = self.reader.search(parent, name, self.repo.changed_paths(parent, sha), None)
            if moved.sdef is None or (name, moved.path) in idents or not wanted(moved.sdef):
                continue
            commits = self.walks.walk(parent, old, [moved.path], first_parent=False)
            return self._find_commit(commits, [(name, moved.path)], wanted, inc, old=old,
                                     depth=depth + 1)
        return (self.repo.commit_info(sha),), None

    def _attribute(self, a: Version | None, b: Version, changes: list[Change], idents
                   ) -> list[Change]:
        commits = self.walks.commits(a, b, idents)
        self.repo.prime_commits(commits)  # the one blamed for each change is among them
        mentions = (self.walks.mentions(a, b, idents, changes)
                    if len(commits) > MENTIONS_FROM else {})
        if not mentions:
            self.walks.read_ahead(commits, idents)
        out = []
        for ch in changes:
            key = ch.field if ch.field is not None else (ch.old or ch.new).key()
            final = ch.new

            def wanted(sdef, key=key, final=final, kind=ch.kind):
                cur = field_map(sdef).get(key)
                if final is None:
                    return sdef is not None and cur is None
                if kind == ADDED:
                    # who gave the struct a member of that name, as users read blame; a
                    # later retype in the same range is not the addition, nor is a merge of a
                    # side where the member was there but could not be read
                    return cur is not None or _named_unparsed(sdef, key)
                return cur is not None and _same(cur, final) and cur.guard == final.guard

            likely = mentions.get(ch.field)
            if likely is not None and ch.kind in (RETYPED, GUARD):
                # a member's type or guard also changes through a #define, #if or typedef
                likely = likely | mentions[DIRECTIVES]
            lacks = (functools.partial(self.walks.lacks_word, idents=idents, word=ch.field)
                     if likely and ch.kind == ADDED else None)
            found, note = self._find_commit(commits, idents, wanted, b.commit, likely, lacks,
                                            a.commit if a else None)
            out.append(Change(ch.kind, ch.field, ch.old, ch.new, found, note))
        return out

    def _attribute_presence(self, a: Version, b: Version, idents, present: bool):
        commits = self.walks.commits(a, b, idents)
        self.walks.read_ahead(commits, idents)
        return self._find_commit(commits, idents, lambda s: (s is not None) == present, b.commit)

    def attribute_from_start(self, v: Version, sdef: StructDef, name: str, path: str
                             ) -> list[Change]:
        """Attribute every member of SDEF (NAME in PATH at V, the first version examined) to the
        commit that added it, looking at the whole history before V."""
        return self._attribute(None, v, diff_structs(None, sdef), [(name, path)])
