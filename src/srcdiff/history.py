"""history: the struct at every version, the changes between versions, and their commits.

Builds one networkx DiGraph per run: nodes are versions (with the StructDef or absent),
edges go from a version's nearest tagged ancestor to it and carry the changes, each
attributed to the commit that made it by replaying the commits in between that touched the file.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from srcdiff.cache import Cache
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import CommitInfo, GitRepo
from srcdiff.limits import BlobTooLarge
from srcdiff.locate import (
    HEADER_GLOBS,
    INCLUDE_GLOBS,
    SOURCE_GLOBS,
    SOURCE_SUFFIXES,
    Found,
    ReadOptions,
    StructReader,
)
from srcdiff.model import Field, StructDef
from srcdiff.parse import scan
from srcdiff.versions import Version, VersionSet

# Change kinds, in the words outputs use.
ADDED, REMOVED, RETYPED, GUARD = "added", "removed", "retyped", "guard"
STRUCT_ADDED, STRUCT_REMOVED, MOVED, RENAMED = "struct-added", "struct-removed", "moved", "renamed"

DEFAULT_RENAME_THRESHOLD = 0.6


@dataclass(frozen=True)
class Change:
    """One difference between two versions of the struct, with the commits that made it.

    ``field`` is the member name (None for whole-struct changes); ``old``/``new`` are the
    member before/after (None when absent). ``commits`` is empty when the change could not be
    attributed; ``note`` then says why.
    """

    kind: str
    field: str | None
    old: Field | None = None
    new: Field | None = None
    commits: tuple[CommitInfo, ...] = ()
    note: str | None = None
    old_name: str | None = None  # renamed/moved: struct name and path before/after
    new_name: str | None = None
    old_path: str | None = None
    new_path: str | None = None

    def to_json(self, frm: str | None, to: str) -> dict:
        return {
            "from": frm,
            "to": to,
            "kind": self.kind,
            "field": self.field,
            "old_type": None if self.old is None else self.old.type,
            "new_type": None if self.new is None else self.new.type,
            "old_guard": None if self.old is None else self.old.guard,
            "new_guard": None if self.new is None else self.new.guard,
            "old_name": self.old_name,
            "new_name": self.new_name,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "commits": [c.to_json() for c in self.commits],
            "note": self.note,
        }


@dataclass(frozen=True)
class Options:
    """How to build the history (one place for every knob)."""

    name: str
    read: ReadOptions = field(default_factory=ReadOptions)
    first_parent: bool = False
    follow: bool = False
    rename_threshold: float = DEFAULT_RENAME_THRESHOLD


def change_to_cache(c: Change) -> dict:
    """A Change as plain JSON (for the cache), commits included."""
    return {
        "kind": c.kind, "field": c.field, "note": c.note,
        "old": None if c.old is None else c.old.to_json(),
        "new": None if c.new is None else c.new.to_json(),
        "commits": [[x.sha, list(x.parents), x.author, x.email, x.date, x.subject] for x in c.commits],
        "names": [c.old_name, c.new_name, c.old_path, c.new_path],
    }


def change_from_cache(d: dict) -> Change:
    return Change(
        d["kind"], d["field"],
        None if d["old"] is None else Field.from_json(d["old"]),
        None if d["new"] is None else Field.from_json(d["new"]),
        tuple(CommitInfo(x[0], tuple(x[1]), *x[2:]) for x in d["commits"]),
        d["note"], *d["names"],
    )


_field_maps: dict[int, tuple[StructDef, dict[str, Field]]] = {}


def field_map(sdef: StructDef | None) -> dict[str, Field]:
    """Members by name, anonymous aggregates flattened (what layouts compare on). Do not
    modify the result: it is shared by every caller asking about the same definition."""
    if sdef is None:
        return {}
    hit = _field_maps.get(id(sdef))
    if hit is not None and hit[0] is sdef:
        return hit[1]
    out: dict[str, Field] = {}
    for f in sdef.flat_fields():
        out.setdefault(f.key(), f)
    if len(_field_maps) > 100_000:
        _field_maps.clear()
    _field_maps[id(sdef)] = (sdef, out)  # holding SDEF keeps its id from being reused
    return out


def _same(a: Field, b: Field) -> bool:
    return a.type == b.type and str(a.bits) == str(b.bits) and a.unparsed == b.unparsed


def diff_structs(a: StructDef | None, b: StructDef | None) -> list[Change]:
    """Member changes from A to B (either may be absent), in B's member order."""
    fa, fb = field_map(a), field_map(b)
    out: list[Change] = []
    for k, f in fb.items():
        old = fa.get(k)
        if old is None:
            out.append(Change(ADDED, f.name, None, f))
        elif not _same(old, f):
            out.append(Change(RETYPED, f.name, old, f))
        elif old.guard != f.guard:
            out.append(Change(GUARD, f.name, old, f))
    for k, f in fa.items():
        if k not in fb:
            out.append(Change(REMOVED, f.name, f, None))
    return out


def is_complete(sdef: StructDef) -> bool:
    """No warning and no unparsed member anywhere in SDEF."""
    def ok(fields) -> bool:
        return all(f.unparsed is None and ok(f.fields) for f in fields)

    return not sdef.warnings and ok(sdef.fields)


def similarity(a: StructDef, b: StructDef) -> float:
    """Share of members two definitions have in common (by name), 0..1."""
    na, nb = set(field_map(a)), set(field_map(b))
    if not na or not nb:
        return 0.0
    return len(na & nb) / max(len(na), len(nb))


@dataclass
class History:
    """The built graph plus what outputs need to walk it."""

    name: str
    versions: VersionSet
    graph: nx.DiGraph
    warnings: list[str]

    @property
    def incomplete(self) -> bool:
        """True when some version's definition could not be read completely."""
        return any(d["sdef"] is not None and not is_complete(d["sdef"])
                   for _t, d in self.graph.nodes(data=True))

    def node(self, tag: str) -> dict:
        return self.graph.nodes[tag]

    def sdef(self, tag: str) -> StructDef | None:
        return self.graph.nodes[tag]["sdef"]

    def edge_changes(self, a: str, b: str) -> list[Change]:
        return self.graph.edges[a, b]["changes"]

    def ordered(self) -> list[Version]:
        return list(self.versions.versions)

    def newest_present(self) -> Version | None:
        for v in reversed(self.versions.versions):
            if self.sdef(v.tag) is not None:
                return v
        return None

    def edges_in_order(self) -> list[tuple[str, str]]:
        """Version-graph edges ordered by their newer end, then their older end."""
        order = {v.tag: i for i, v in enumerate(self.versions.versions)}
        return sorted(self.graph.edges, key=lambda e: (order[e[1]], order[e[0]]))


class Builder:
    """Builds a History for one struct; all repository reads go through one StructReader."""

    def __init__(self, repo: GitRepo, versions: VersionSet, opts: Options, cache: Cache,
                 progress: Callable[[str, int, int], None] | None = None):
        self.repo = repo
        self.versions = versions
        self.opts = opts
        self.cache = cache
        self.reader = StructReader(repo, cache, opts.read)
        self.progress = progress or (lambda what, done, total: None)
        self.warnings: list[str] = []
        self._shallow = set(repo.shallow_boundary())
        self._traces: dict[str, object] = {}
        self._states: dict[tuple, StructDef | None] = {}
        self._blobs: dict[tuple[str, str], str | None] = {}  # (commit, path) -> blob id
        self._parents_of: dict[str, tuple[str, ...]] = {}
        self._primed: set[tuple[str, str]] = set()  # (name, path) looked up at every version
        self._searched = self._to_search = 0  # whole-tree searches done, and at most (progress)
        # commit walks started while locating (touch key -> Future of commits_touching)
        self._walks: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None
        # What history is visible is part of every attribution key: a shallow clone may see less.
        self._hfp = self.reader.fingerprint + "|" + (hash_paths(sorted(self._shallow)) if self._shallow else "full")

    # -- locate the struct at every version ------------------------------------------

    def _history_key(self) -> str:
        o = self.opts
        parts = [o.name, self._hfp, str(o.read.pinned_path), str(o.first_parent), str(o.follow),
                 str(o.rename_threshold)]
        parts += [f"{v.tag}={v.commit}" for v in self.versions.versions]
        parts.append(self.versions.shape_key())
        return hash_paths(parts)

    def build(self) -> History:
        """The whole history; a run that asks exactly what an earlier one asked reads it back."""
        key = self._history_key()
        hit = self.cache.get("history", key)
        if hit is not None:
            return self._history_from_cache(hit)
        before = len(self.warnings)
        h = self._build()
        data = self._history_to_cache(h)
        data["warnings"] = h.warnings[before:]
        self.cache.put("history", key, data)
        self.cache.flush()
        return h

    def _history_to_cache(self, h: History) -> dict:
        nodes = {}
        for tag, d in h.graph.nodes(data=True):
            # a definition read from a blob is stored by reference: the reader's cache has it
            # (by blob, then by definition text), and most versions share a few texts
            read = d["sdef"] is not None and d["blob"] is not None
            nodes[tag] = {"sdef": d["sdef"].to_json() if d["sdef"] and not read else None,
                          "read": read, "name": d["name"],
                          "path": d["path"], "blob": d["blob"], "before": d["before"],
                          "date": d["date"], "notes": [change_to_cache(c) for c in d["notes"]]}
        edges = [[a, b, [change_to_cache(c) for c in d["changes"]]]
                 for a, b, d in h.graph.edges(data=True)]
        return {"nodes": nodes, "edges": edges, "warnings": h.warnings}

    def _history_from_cache(self, data: dict) -> History:
        import networkx as nx

        vs = self.versions
        g = nx.DiGraph()
        order = {v.tag: i for i, v in enumerate(vs.versions)}
        for tag in sorted(data["nodes"], key=order.__getitem__):
            d = data["nodes"][tag]
            if d.get("read"):
                sdef = self.reader.in_blob(d["blob"], d["name"], d["path"], vs.by_tag(tag).commit)
            else:
                sdef = StructDef.from_json(d["sdef"]) if d["sdef"] else None
            g.add_node(tag, version=vs.by_tag(tag), sdef=sdef,
                       name=d["name"], path=d["path"], blob=d["blob"],
                       before=tuple(d["before"]) if d["before"] else None, date=d["date"],
                       notes=[change_from_cache(c) for c in d["notes"]])
        for a, b, changes in data["edges"]:
            g.add_edge(a, b, changes=[change_from_cache(c) for c in changes])
        self.warnings.extend(data["warnings"])
        return History(self.opts.name, vs, g, self.warnings)

    def _build(self) -> History:
        try:
            return self._build_walking()
        finally:
            self._stop_walks()

    def _build_walking(self) -> History:
        vs = self.versions
        order = {v.tag: i for i, v in enumerate(vs.versions)}
        found = self._locate_all()
        import networkx as nx  # loaded by now, by the version DAG's thread

        topo = list(nx.lexicographical_topological_sort(vs.graph, key=order.__getitem__))
        self.repo.prime_commits([vs.by_tag(t).commit for t in topo])  # their dates, at once
        g = nx.DiGraph()
        for tag in topo:
            f = found[tag]
            g.add_node(tag, version=vs.by_tag(tag), sdef=f.sdef, name=f.name, path=f.path,
                       blob=f.blob, notes=[], before=None,
                       date=self.repo.commit_info(vs.by_tag(tag).commit).date)
        self.warnings.extend(self._located_warnings(topo, found))
        for a, b in vs.graph.edges:
            g.add_edge(a, b, changes=[])
        edges = sorted(vs.graph.edges, key=lambda e: (order[e[1]], order[e[0]]))
        self._prefetch_commits(edges, found)
        # which edges the cache knows, in a few queries rather than one per edge
        self.cache.known("edge", [self._edge_key(vs.by_tag(a), vs.by_tag(b), found[a], found[b])
                                  for a, b in edges])
        for i, (a, b) in enumerate(edges):
            changes = self._edge_cached(vs.by_tag(a), vs.by_tag(b), found[a], found[b])
            g.edges[a, b]["changes"] = changes
            # What outputs say about an absence: where the struct went (at B) or what it was
            # called (at A), read off the moves and renames on the edge.
            ways = [c for c in changes if c.kind in (RENAMED, MOVED)]
            if ways and found[b].sdef is None:
                g.nodes[b]["notes"].extend(ways)
            if ways and found[a].sdef is None:
                g.nodes[a]["before"] = (ways[0].old_name, ways[0].old_path)
            self.progress("attribute", i + 1, len(edges))
        self.cache.flush()
        return History(self.opts.name, vs, g, self.warnings)

    # Locating works outwards from anchors: versions where a search of the whole tree found
    # the struct. From there each step to a neighbouring version costs a blob lookup, and a
    # path-limited commit walk when the struct left its file; whole trees are never searched
    # again. The price, documented in the README: a struct deleted and later re-created in a
    # different file is found only on the side of the nearest anchor.
    def _locate_all(self) -> dict[str, Found]:
        vs = self.versions
        name = self.opts.name
        pinned = self.opts.read.pinned_path
        if pinned:
            out = {}
            for i, v in enumerate(vs.versions):
                blob, sdef = self.reader.at(v.commit, pinned, name)
                out[v.tag] = Found(name, pinned if sdef else None, blob, sdef)
                self.progress("locate", i + 1, len(vs.versions))
            return out
        newest = vs.versions[-1].tag
        probes = [newest, vs.versions[0].tag]
        n = len(vs.versions)
        probes += [vs.versions[(k * n) // 7].tag for k in range(1, 7)]
        probes = list(dict.fromkeys(probes))
        # Headers of the newest and oldest trees first; then of a few between; then sources.
        anchors: list[tuple[str, Found]] = []
        pending: list[str] = []
        later: tuple[tuple[str, ...], ...] = ()  # the kind of file the pending ones are searched in
        self._to_search = len(probes)
        for kinds in ((INCLUDE_GLOBS, HEADER_GLOBS), (SOURCE_GLOBS,)):
            anchors = self._probe(probes[:2], name, kinds)
            # The versions between: a kind of file at a time, as one search of them all would
            # (the first kind where any defines it), each kind one tree at a time.
            for globs in () if anchors else kinds:
                anchors, pending = self._probe_each(probes[2:], name, (globs,))
                if anchors:
                    later = (globs,)
                    break
            if anchors:
                break
        # Only now is the version DAG needed (its walk ran while the trees were searched).
        absent = {v.tag: Found(name, None, None, None) for v in vs.versions}
        if not anchors:
            return absent
        best = dict(absent)
        for _t, f in anchors:
            self._prime(f.name, f.path)
        self._read_while_waiting(anchors)
        for tag, f in anchors:
            if best[tag].sdef is not None:
                continue  # reached from an earlier anchor already: spreading again finds the same
            for t, ft in self._spread(tag, f).items():
                if best[t].sdef is None:
                    best[t] = ft
        # The versions between that were not searched: only where spreading found nothing (the
        # struct deleted and re-created elsewhere, say) is the whole tree searched after all.
        for t in pending:
            if best[t].sdef is not None:
                continue
            for tag, f in self._probe([t], name, later):
                for t2, ft in self._spread(tag, f).items():
                    if best[t2].sdef is None:
                        best[t2] = ft
        return best

    def _probe_each(self, tags: list[str], name: str, kinds: tuple[tuple[str, ...], ...]
                    ) -> tuple[list[tuple[str, Found]], list[str]]:
        """Search the trees of TAGS one at a time, in order, up to the first that defines NAME:
        (its anchors, the tags after it). A whole-tree search of a large tree takes seconds, and
        spreading from the first anchor usually reaches the others' versions anyway."""
        for k, t in enumerate(tags):
            found = self._probe([t], name, kinds)
            if found:
                return found, tags[k + 1 :]
        return [], []

    def _probe(self, tags: list[str], name: str,
               kinds: tuple[tuple[str, ...], ...] = (INCLUDE_GLOBS, HEADER_GLOBS, SOURCE_GLOBS)
               ) -> list[tuple[str, Found]]:
        """(tag, Found) for each of TAGS whose files of KINDS define NAME (one git grep each)."""
        vs = self.versions
        result: dict[str, Found] = {}
        todo = []
        for t in tags:
            hit = self.cache.get("located", self._located_key(vs.by_tag(t), name, kinds))
            if hit is None:
                todo.append(t)
            elif hit["path"] is None:
                result[t] = Found(name, None, None, None)
            else:
                blob, sdef = self.reader.at(vs.by_tag(t).commit, hit["path"], name)
                result[t] = Found(name, hit["path"], blob, sdef, tuple(hit["others"]))
        if todo:
            self._to_search = max(self._to_search, self._searched + len(todo))
            self.progress("search trees", self._searched, self._to_search)
            found = self.reader.search_many([vs.by_tag(t).commit for t in todo], name, kinds)
            self._searched += len(todo)
            self.progress("search trees", self._searched, self._to_search)
            for t in todo:
                f = found[vs.by_tag(t).commit]
                self.cache.put("located", self._located_key(vs.by_tag(t), name, kinds),
                               {"path": f.path, "others": list(f.others)})
                result[t] = f
        return [(t, result[t]) for t in tags if result[t].sdef is not None]

    def _prime(self, name: str, path: str | None) -> None:
        """Most versions have the struct where it was found (at an anchor, or after a move or
        rename): look PATH up at every version, and read its blobs, in one exchange with git
        each, once per (NAME, PATH)."""
        if not path or (name, path) in self._primed:
            return
        self._primed.add((name, path))
        revs = [v.commit for v in self.versions.versions]
        self.repo.prime_blob_ids(revs, path)
        self.reader.prefetch([(b, name) for r in revs
                              if (b := self.repo.blob_id(r, path)) is not None])

    def _read_while_waiting(self, anchors: list[tuple[str, Found]]) -> None:
        """While the version DAG's walk is still running, read the struct at the versions
        nearest each anchor in its file: what spreading from the anchor reads first."""
        vs = self.versions
        index = {v.tag: i for i, v in enumerate(vs.versions)}
        for tag, f in anchors:
            k = index[tag]
            for v in sorted(vs.versions, key=lambda v: abs(index[v.tag] - k)):
                if not vs.graph_pending():
                    return
                blob = self.repo.blob_id(v.commit, f.path)
                if blob is not None:
                    self.reader.in_blob(blob, f.name, f.path, v.commit)

    def _located_key(self, v: Version, name: str, kinds) -> str:
        return f"{v.commit}|{name}|{self.reader.fingerprint}|{kinds}"

    def _spread(self, start: str, f0: Found) -> dict[str, Found]:
        """The struct at every version, stepping along version-graph edges from START."""
        vs = self.versions
        order = {v.tag: i for i, v in enumerate(vs.versions)}
        out = {start: f0}
        known: dict[str, list[tuple[str, str]]] = {start: [(f0.name, f0.path)]}
        queue = deque([start])
        while queue:
            x = queue.popleft()
            nbrs = [(y, True) for y in vs.graph.successors(x)] + \
                   [(y, False) for y in vs.graph.predecessors(x)]
            for y, forward in sorted(nbrs, key=lambda t: order[t[0]]):
                if y in out:
                    continue
                vx, vy = vs.by_tag(x), vs.by_tag(y)
                if forward:
                    fy, ky = self._step_forward(vx, vy, out[x], known[x])
                else:
                    fy, ky = self._step_back(vx, vy, out[x], known[x])
                out[y], known[y] = fy, ky
                a, b = (x, y) if forward else (y, x)
                self._walk_soon(vs.by_tag(a), vs.by_tag(b), out[a], out[b])
                queue.append(y)
                self.progress("locate", len(out), len(vs.versions))
        return out

    def _recheck(self, v: Version, idents: list[tuple[str, str]]) -> Found | None:
        for n, p in idents:
            self._prime(n, p)
            blob, sdef = self.reader.at(v.commit, p, n)
            if sdef is not None:
                return Found(n, p, blob, sdef)
        return None

    def _step_near(self, y: Version, fx: Found, kx: list[tuple[str, str]]):
        """The struct at Y when it is where it was at the neighbour X (or, absent at X, where
        it was last seen); None when it left that file."""
        if fx.sdef is None:
            hit = self._recheck(y, kx)
            return (hit, [(hit.name, hit.path)]) if hit else (Found(fx.name, None, None, None), kx)
        self._prime(fx.name, fx.path)
        blob = self.repo.blob_id(y.commit, fx.path)
        if blob is not None:
            sdef = fx.sdef if blob == fx.blob else self.reader.in_blob(blob, fx.name, fx.path, y.commit)
            if sdef is not None:
                return Found(fx.name, fx.path, blob, sdef), [(fx.name, fx.path)]
        return None

    def _step_forward(self, x: Version, y: Version, fx: Found, kx: list[tuple[str, str]]):
        """From X to its child Y."""
        near = self._step_near(y, fx, kx)
        if near is not None:
            return near
        name, path = fx.name, fx.path
        seen = [(name, path)]
        for ev in self._trace_cached(x, y, fx):
            if ev.kind == RENAMED and not self.opts.follow:
                break
            name, path = ev.new_name, ev.new_path
            seen.append((name, path))
        hit = self._recheck(y, [(name, path)]) if (name, path) != (fx.name, fx.path) else None
        if hit is not None:
            return hit, [(hit.name, hit.path)]
        return Found(fx.name, None, None, None), [i for i in seen if i[0] == fx.name] or kx

    def _step_back(self, x: Version, y: Version, fx: Found, kx: list[tuple[str, str]]):
        """From child X to its parent Y."""
        near = self._step_near(y, fx, kx)
        if near is not None:
            return near
        events, pred = self._trace_back_cached(y, x, fx)
        if pred is not None and (pred[0] == fx.name or self.opts.follow):
            hit = self._recheck(y, [pred])
            if hit is not None:
                return hit, [(hit.name, hit.path)]
        seen = [(fx.name, fx.path)] + [(e.old_name, e.old_path) for e in events
                                       if e.old_name == fx.name]
        return Found(fx.name, None, None, None), seen

    def _located_warnings(self, topo, found) -> list[str]:
        out = []
        for tag in topo:
            f = found[tag]
            if f.others:
                out.append(f"{tag}: {f.name} is also defined in {', '.join(f.others)}; using {f.path}")
            for w in (f.sdef.warnings if f.sdef else ()):
                out.append(f"{tag}: {w}")
        return out

    def _search(self, v: Version, name: str) -> Found:
        """NAME at V, searching V's whole tree (remembered per commit)."""
        hit = self._probe([v.tag], name)
        return hit[0][1] if hit else Found(name, None, None, None)

    # -- changes on one edge ----------------------------------------------------------

    def _edge_cached(self, a: Version, b: Version, fa: Found, fb: Found) -> list[Change]:
        """_edge, remembered by everything that determines it (commits, blobs, options)."""
        if fa.sdef is None and fb.sdef is None:
            return []
        key = self._edge_key(a, b, fa, fb)
        hit = self.cache.get("edge", key)
        if hit is not None:
            return [change_from_cache(c) for c in hit]
        changes = self._edge(a, b, fa, fb)
        self.cache.put("edge", key, [change_to_cache(c) for c in changes])
        return changes

    def _edge_key(self, a: Version, b: Version, fa: Found, fb: Found) -> str:
        o = self.opts
        return "|".join(map(str, ("v2", a.commit, b.commit, fa.name, fa.path, fa.blob, fb.name,
                                  fb.path, fb.blob, self._hfp, o.first_parent, o.rename_threshold)))

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
            back, pred = self._trace_back_cached(a, b, fb)
            if pred is not None:
                blob, sdef = self.reader.at(a.commit, pred[1], pred[0])
                fa = Found(pred[0], pred[1], blob, sdef)
                ident_a = pred
                trace = back
        elif ident_b is None or ident_a != ident_b:
            trace = self._trace_cached(a, b, fa)
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

    def _state_at(self, sha: str, idents: list[tuple[str, str]], inc: str) -> StructDef | None:
        """The struct at commit SHA, under the first of IDENTS ((name, path)) that defines it
        there. Between two versions, the #include'd headers are read as at the newer one, INC:
        the commits walked are those of the struct's own file, and one reading of the
        includes then serves every commit of the range. (A struct text already read is not
        read again anyway: readings are shared by blob and by definition text.)"""
        key = (sha, tuple(idents))
        if key not in self._states:
            self._states[key] = self._state_at_uncached(sha, idents, inc)
        return self._states[key]

    def _state_at_uncached(self, sha: str, idents: list[tuple[str, str]], inc: str
                           ) -> StructDef | None:
        for name, path in idents:
            if path is None:
                continue
            key = (sha, path)
            # known from a commit walk: no object look-up needed
            blob = self._blobs[key] if key in self._blobs else self.repo.blob_id(sha, path)
            sdef = None if blob is None else self.reader.in_blob(blob, name, path, inc)
            if sdef is not None:
                return sdef
        return None

    def _walk(self, new: str, old: str | None, paths: list[str], first_parent: bool) -> list[str]:
        """Commit ids of OLD..NEW touching PATHS (parents first), remembering their blobs."""
        return self._learn(self.repo.commits_touching(new, old, paths, first_parent), paths)

    def _learn(self, walked: list[list], paths: list[str]) -> list[str]:
        for sha, parents, blobs in walked:
            self._parents_of[sha] = tuple(parents)
            if not blobs:
                continue  # a merge: its blobs are looked up when needed
            for p in paths:
                before, after = blobs.get(p, (Ellipsis, Ellipsis))
                if after is Ellipsis:
                    continue  # this path did not change here (another of PATHS did)
                self._blobs[(sha, p)] = after
                if parents:
                    self._blobs[(parents[0], p)] = before
        return [w[0] for w in walked]

    def _walk_soon(self, va: Version, vb: Version, fa: Found, fb: Found) -> None:
        """Start, in the background, the commit walk attribution will need on the edge A -> B
        (the struct changed in place): git walks on one core while locating parses on the
        other."""
        if (fa.sdef is None or fb.sdef is None or (fa.name, fa.path) != (fb.name, fb.path)
                or fa.blob == fb.blob or not diff_structs(fa.sdef, fb.sdef)):
            return
        key = self._touch_key(va, vb, [fa.path])
        if key in self._walks or self.cache.has("touch", key):
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2)
        self._walks[key] = self._pool.submit(self.repo.commits_touching, vb.commit, va.commit,
                                             [fa.path], self.opts.first_parent)

    def _walked(self, key: str) -> list | None:
        """The result of a walk started by _walk_soon, stored in the cache; None if none."""
        fut = self._walks.pop(key, None)
        if fut is None:
            return None
        walked = fut.result()
        self.cache.put("touch", key, walked)
        return walked

    def _stop_walks(self) -> None:
        for fut in self._walks.values():
            fut.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._walks.clear()

    def _prefetch_commits(self, edges: list[tuple[str, str]], found: dict[str, Found]) -> None:
        """Start the commit walks of the edges whose walk locating did not start already (an
        edge between versions that different anchors reached); _commits takes them all."""
        vs = self.versions
        for a, b in edges:
            self._walk_soon(vs.by_tag(a), vs.by_tag(b), found[a], found[b])

    def _touch_key(self, a: Version | None, b: Version, paths: list[str]) -> str:
        return f"{a.commit if a else '-'}|{b.commit}|{int(self.opts.first_parent)}|{self._hfp}|{'|'.join(paths)}"

    def _commits(self, a: Version | None, b: Version, idents) -> list[str]:
        paths = sorted({p for _n, p in idents if p})
        if not paths:
            return []
        key = self._touch_key(a, b, paths)
        hit = self._walked(key)
        if hit is None:
            hit = self.cache.get("touch", key)
        if hit is None:
            hit = self.repo.commits_touching(b.commit, a.commit if a else None, paths,
                                             self.opts.first_parent)
            self.cache.put("touch", key, hit)
        return self._learn(hit, paths)

    def _parents(self, sha: str) -> tuple[str, ...]:
        parents = self._parents_of.get(sha)
        if parents is None:
            parents = self.repo.commit_info(sha).parents
        return parents[:1] if self.opts.first_parent else parents

    def _find_commit(self, commits: list[str], idents, wanted: Callable[[StructDef | None], bool],
                     inc: str) -> tuple[tuple[CommitInfo, ...], str | None]:
        """The last commit in COMMITS whose state satisfies WANTED while no parent's did."""
        for sha in reversed(commits):
            if not wanted(self._state_at(sha, idents, inc)):
                continue
            if sha in self._shallow:
                # Its parents are not in this clone: it may only have inherited the state.
                return (), ("history is cut here (shallow clone); the commit that made this "
                            "change may be before it, and is not in this clone")
            parents = self._parents(sha)
            if not parents:
                return (self.repo.commit_info(sha),), None
            if all(not wanted(self._state_at(p, idents, inc)) for p in parents):
                return (self.repo.commit_info(sha),), None
        if self._shallow:
            return (), "history is cut here (shallow clone); the commit is not in this clone"
        return (), "no single commit in the range made this change"

    def _read_ahead(self, commits: list[str], idents) -> None:
        """Fetch in one exchange the blobs _find_commit may parse for COMMITS."""
        want = []
        for sha in commits:
            for at in (sha, *self._parents_of.get(sha, ())[:1]):
                for name, path in idents:
                    blob = self._blobs.get((at, path))
                    if blob is not None:
                        want.append((blob, name))
        self.reader.prefetch(want)

    def _attribute(self, a: Version | None, b: Version, changes: list[Change], idents
                   ) -> list[Change]:
        commits = self._commits(a, b, idents)
        self._read_ahead(commits, idents)
        self.repo.prime_commits(commits)  # the one blamed for each change is among them
        out = []
        for ch in changes:
            key = ch.field if ch.field is not None else (ch.old or ch.new).key()
            final = ch.new

            def wanted(sdef, key=key, final=final):
                cur = field_map(sdef).get(key)
                if final is None:
                    return sdef is not None and cur is None
                return cur is not None and _same(cur, final) and cur.guard == final.guard

            found, note = self._find_commit(commits, idents, wanted, b.commit)
            out.append(Change(ch.kind, ch.field, ch.old, ch.new, found, note))
        return out

    def _attribute_presence(self, a: Version, b: Version, idents, present: bool):
        commits = self._commits(a, b, idents)
        self._read_ahead(commits, idents)
        return self._find_commit(commits, idents, lambda s: (s is not None) == present, b.commit)

    def _trace_cached(self, a: Version, b: Version, fa: Found) -> list[Change]:
        key = f"fwd|{a.commit}|{b.commit}|{fa.name}|{fa.path}|{self._hfp}|{self.opts.rename_threshold}"
        if key not in self._traces:
            hit = self.cache.get("trace", key)
            if hit is None:
                events = self._trace(a, b, fa)
                self.cache.put("trace", key, [change_to_cache(c) for c in events])
            else:
                events = [change_from_cache(c) for c in hit]
            self._traces[key] = events
        return self._traces[key]

    def _trace(self, a: Version, b: Version, fa: Found) -> list[Change]:
        """Follow the struct from A towards B through moves and renames, commit by commit."""
        name, path = fa.name, fa.path
        start = a.commit
        events: list[Change] = []
        for _ in range(20):  # bounded: a struct rarely moves more than a few times per release
            commits = self._walk(b.commit, start, [path], first_parent=False)
            self._read_ahead(commits, [(name, path)])
            gone = None
            for sha in commits:
                if self._state_at(sha, [(name, path)], b.commit) is None:
                    parents = self._parents(sha)
                    if parents and self._state_at(parents[0], [(name, path)], b.commit) is not None:
                        gone = sha
                        break
            if gone is None:
                return events
            info = self.repo.commit_info(gone)
            parent = info.parents[0]
            before = self._state_at(parent, [(name, path)], b.commit)
            changed = self.repo.changed_paths(parent, gone)
            moved = self.reader.search(gone, name, changed, None)
            if moved.sdef is not None:
                events.append(Change(MOVED, None, commits=(info,), old_name=name, new_name=name,
                                     old_path=path, new_path=moved.path))
                path, start = moved.path, gone
                continue
            best = self._counterpart(gone, parent, changed, before, name)
            if best is None:
                return events
            new_name, new_path = best
            events.append(Change(RENAMED, None, commits=(info,), old_name=name, new_name=new_name,
                                 old_path=path, new_path=new_path))
            name, path, start = new_name, new_path, gone
        return events

    def _counterpart(self, look: str, other: str, changed: list[str], ref: StructDef | None,
                     skip: str) -> tuple[str, str] | None:
        """(name, path) of a struct defined at LOOK in one of CHANGED, not defined in that file
        at OTHER, sharing most of REF's members: the other end of a rename."""
        if ref is None:
            return None
        best: tuple[float, str, str] | None = None
        for p in changed:
            if not p.endswith(SOURCE_SUFFIXES):
                continue
            blob = self.repo.blob_id(look, p)
            if blob is None:
                continue
            other_data = self.repo.read_file(other, p)
            other_names = {d.name for d in scan(other_data)[1]} if other_data is not None else set()
            try:
                data = self.repo.read_blob(blob)
            except BlobTooLarge:
                continue  # a file over the size limit is not read, so cannot be the other end
            for d in scan(data)[1]:
                if d.name == skip or d.name in other_names:
                    continue
                cand = self.reader.in_blob(blob, d.name, p, look, data)
                if cand is None:
                    continue
                score = similarity(ref, cand)
                if score >= self.opts.rename_threshold and (best is None or score > best[0]):
                    best = (score, d.name, p)
        return None if best is None else (best[1], best[2])

    def _trace_back_cached(self, a: Version, b: Version, fb: Found):
        key = f"back|{a.commit}|{b.commit}|{fb.name}|{fb.path}|{self._hfp}|{self.opts.rename_threshold}"
        if key not in self._traces:
            hit = self.cache.get("trace", key)
            if hit is None:
                events, pred = self._trace_back(a, b, fb)
                self.cache.put("trace", key, {"events": [change_to_cache(c) for c in events],
                                              "pred": pred})
            else:
                events = [change_from_cache(c) for c in hit["events"]]
                pred = tuple(hit["pred"]) if hit["pred"] else None
            self._traces[key] = (events, pred)
        return self._traces[key]

    def _trace_back(self, a: Version, b: Version, fb: Found
                    ) -> tuple[list[Change], tuple[str, str] | None]:
        """Follow the struct from B back towards A through moves and renames. Returns the
        events (oldest first) and the (name, path) it had at A, or None if it was not there."""
        name, path = fb.name, fb.path
        end = b.commit
        events: list[Change] = []
        for _ in range(20):
            if self.reader.at(a.commit, path, name)[1] is not None:
                return events, (name, path)
            commits = self._walk(end, a.commit, [path], first_parent=False)
            self._read_ahead(commits, [(name, path)])
            appear = None
            for sha in reversed(commits):
                if self._state_at(sha, [(name, path)], b.commit) is None:
                    continue
                parents = self._parents(sha)
                if parents and self._state_at(parents[0], [(name, path)], b.commit) is None:
                    appear = sha
                    break
            if appear is None:
                return events, None
            info = self.repo.commit_info(appear)
            parent = info.parents[0]
            changed = self.repo.changed_paths(parent, appear)
            moved = self.reader.search(parent, name, changed, None)
            if moved.sdef is not None and moved.path != path:
                events.insert(0, Change(MOVED, None, commits=(info,), old_name=name, new_name=name,
                                        old_path=moved.path, new_path=path))
                path, end = moved.path, parent
                continue
            after = self._state_at(appear, [(name, path)], b.commit)
            best = self._counterpart(parent, appear, changed, after, name)
            if best is None:
                return events, None
            events.insert(0, Change(RENAMED, None, commits=(info,), old_name=best[0],
                                    new_name=name, old_path=best[1], new_path=path))
            (name, path), end = best, parent
        return events, None

    # -- blame ------------------------------------------------------------------------

    def attribute_from_start(self, v: Version, sdef: StructDef, name: str, path: str
                             ) -> list[Change]:
        """Attribute every member of SDEF (NAME in PATH at V, the first version examined) to the
        commit that added it, looking at the whole history before V."""
        return self._attribute(None, v, diff_structs(None, sdef), [(name, path)])


def hash_paths(paths: Iterable[str]) -> str:
    h = hashlib.sha1()
    for p in paths:
        h.update(p.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def build_history(repo: GitRepo, versions: VersionSet, opts: Options, cache: Cache,
                  progress=None) -> tuple[History, Builder]:
    """Locate NAME at every version and attribute each change. Raises SrcdiffError when the
    struct is found at no version (with close names when some exist)."""
    b = Builder(repo, versions, opts, cache, progress)
    if repo.is_shallow():
        cut = ", ".join(c[:12] for c in repo.shallow_boundary()[:3])
        b.warnings.append(f"shallow clone: history stops at {cut}; changes made before it cannot "
                          "be attributed (git fetch --unshallow fixes this)")
    h = b.build()
    if all(h.sdef(v.tag) is None for v in versions.versions):
        raise SrcdiffError(_not_found_message(repo, versions, opts.name))
    return h, b


def _not_found_message(repo: GitRepo, versions: VersionSet, name: str) -> str:
    """The one-line error for NAME found at no version of VERSIONS: with close names (a
    misspelling), and why where srcdiff can tell (a '{' never closed, a file git calls binary)."""
    import difflib
    import re

    from srcdiff.parse import scan_named
    from srcdiff.preprocess import strip_comments

    vs = versions.versions
    newest = vs[-1]
    # Close names among the structs/unions defined at the newest, middle and oldest versions.
    # A tree of at most 5,000 headers (curl, redis, git: a few hundred) is searched in all of
    # them (~0.1 s); a larger one (the kernel: 25,000, every file of three trees would take
    # half a minute, for a hint) in include/ and in the files whose path has a word of NAME in
    # it (a misspelt vfio_pci_devic: paths with vfio, pci or devic).
    files = repo.run_text("ls-tree", "-r", "-z", "--name-only", newest.commit).split("\0")
    small = sum(f.endswith(".h") for f in files) <= 5000
    pattern = r"(struct|union)[[:space:]]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\{"
    words = dict.fromkeys(w for w in re.split(r"[_0-9]+", name) if len(w) >= 3)
    where = ["*.h" if small else "include/*.h", *(f"*{w}*.[ch]" for w in words)]
    out = ""
    for v in dict.fromkeys([vs[-1], vs[len(vs) // 2], vs[0]]):
        out += repo.run_text("grep", "-h", "-o", "-I", "-E", "--no-textconv", "-e", pattern,
                             v.commit, "--", *where, ok_codes=(0, 1))
    # NAME itself shows up when its definition is broken: never "did you mean NAME?"
    names = sorted({m.group(2) for m in re.finditer(r"(struct|union)\s+(\w+)", out)} - {name})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""

    # Why the newest version has no definition although a file opens one: a '{' never closed,
    # or a file with NUL bytes, which git grep (and so srcdiff's search) takes for binary.
    why = ""
    opened = re.compile(rb"\b(?:struct|union)\s+" + re.escape(name.encode()) + rb"\s*\{")
    listed = repo.run_text("grep", "-l", "-z", "-a", "-F", "-w", "--no-textconv", "-e", name,
                           newest.commit, "--", *(["*.[ch]"] if small else where),
                           ok_codes=(0, 1))
    for hit in listed.split("\0")[:20]:
        path = hit.split(":", 1)[1] if ":" in hit else hit
        blob = repo.blob_id(newest.commit, path) if path else None
        try:
            data = repo.read_blob(blob) if blob else b""
        except SrcdiffError:  # over the size limit: no reason to give from it
            continue
        m = opened.search(data)
        if not m:
            continue
        if b"\0" in data:
            if not scan_named(data, name)[1]:
                continue  # binary indeed: what looks like the struct does not read as one
            nul = data.count(b"\n", 0, data.index(b"\0")) + 1
            why = (f"; {path} has it but holds NUL bytes (line {nul}), so git takes the file for "
                   f"binary and it is not searched: --path {path} reads it")
            break
        text = strip_comments(data[m.start() :].decode("utf-8", "replace"))
        depth = 0
        for c in re.findall(r"[{}]", text):
            depth += 1 if c == "{" else -1
            if depth == 0:
                break
        if depth > 0:
            line = data.count(b"\n", 0, m.start()) + 1
            what = m.group(0).split(b"{")[0].decode().strip()
            why = f"; {what} at {path}:{line}: '{{' never closed"
            break
    span = f"{vs[0].tag}..{newest.tag}" if len(vs) > 1 else newest.tag
    return f"struct {name} is not defined at any examined version ({span}){why}{hint}"
