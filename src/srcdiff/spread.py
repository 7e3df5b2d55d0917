"""spread: the struct at every version — where it is defined, and its definition.

Locating works outwards from anchors: versions where a search of the whole tree found the
struct (the newest and oldest, a few between only if both lack it; with --path, the versions
where that file defines it). From there each step to a neighbouring version on the version
graph costs a blob lookup, and a trace through the commits (moves.py) when the struct left its
file; whole trees are never searched again. The price, documented in the README: a struct
deleted and later re-created in a different file is found only on the side of the nearest
anchor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from srcdiff.cache import Cache
from srcdiff.changes import RENAMED, Options, Part
from srcdiff.commits import CommitWalk
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.locate import (
    HEADER_GLOBS,
    INCLUDE_GLOBS,
    SOURCE_GLOBS,
    Found,
    StructReader,
    presearch,
)
from srcdiff.moves import Tracer
from srcdiff.parse import unclosed_at
from srcdiff.versions import Version, VersionSet


class Locator(Part):
    """Finds the struct at every version of a VersionSet."""

    def __init__(self, repo: GitRepo, cache: Cache, reader: StructReader, opts: Options,
                 versions: VersionSet, walks: CommitWalk, tracer: Tracer,
                 progress: Callable[[str, int, int], None]):
        super().__init__(repo, cache, reader, opts)
        self.versions = versions
        self.walks = walks
        self.tracer = tracer
        self.progress = progress
        self._primed: set[tuple[str, str]] = set()  # (name, path) looked up at every version
        self._searched = self._to_search = 0  # whole-tree searches done, and at most (progress)
        self._notes: dict[str, str] = {}  # tag -> why the struct reads as absent there

    def locate_all(self) -> dict[str, Found]:
        """The struct at every version: Found (file, blob, definition) or absent, by tag."""
        vs = self.versions
        name = self.opts.name
        pinned = self.opts.read.pinned_path
        if pinned:
            return self._locate_pinned(name, pinned)
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
        absent = {v.tag: Found(name, None, None, None) for v in vs.versions}
        if not anchors:
            return absent
        best = dict(absent)
        for _t, f in anchors:
            self._prime(f.name, f.path)
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

    def _locate_pinned(self, name: str, pinned: str) -> dict[str, Found]:
        """--path FILE: the struct is looked for in FILE instead of searching trees; from the
        versions where FILE defines it, moves and renames are followed as without --path."""
        vs = self.versions
        self._prime(name, pinned)
        best = {v.tag: Found(name, None, None, None) for v in vs.versions}
        for v in reversed(vs.versions):
            if best[v.tag].sdef is not None:
                continue
            blob, sdef = self.reader.at(v.commit, pinned, name)
            if sdef is None:
                continue
            for t, ft in self._spread(v.tag, Found(name, pinned, blob, sdef)).items():
                if best[t].sdef is None:
                    best[t] = ft
        return best

    def presearch(self, names: list[str]) -> None:
        """Ahead of locating each of NAMES (one Builder each), search the first two trees
        locate_all looks in for all of them at once (locate.presearch); names already located
        there (the cache) are left out."""
        vs = self.versions
        tags = list(dict.fromkeys([vs.versions[-1].tag, vs.versions[0].tag]))
        kinds = (INCLUDE_GLOBS, HEADER_GLOBS)
        todo = [n for n in names if any(
            self.cache.get("located", self._located_key(vs.by_tag(t), n, kinds)) is None
            for t in tags)]
        presearch(self.repo, todo, [vs.by_tag(t).commit for t in tags],
                  (INCLUDE_GLOBS, HEADER_GLOBS, SOURCE_GLOBS), self.reader.opts.kind)

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
                self.walks.walk_soon(vs.by_tag(a), vs.by_tag(b), out[a], out[b])
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
            self._why_absent(y, fx, blob)
        return None

    def _why_absent(self, v: Version, fx: Found, blob: str) -> None:
        """Note, for V's warning, a definition of FX's struct in its file that never closes
        (the version reads as absent, and should not do so without a word)."""
        try:
            line = unclosed_at(self.repo.read_blob(blob), fx.name, self.reader.opts.kind)
        except SrcdiffError:  # over the size limit: nothing to say from it
            return
        if line is not None:
            what = self.reader.opts.kind or "struct"
            self._notes[v.tag] = (f"{what} {fx.name} at {fx.path}:{line}: '{{' never closed; "
                                  "read as absent")

    def _step_forward(self, x: Version, y: Version, fx: Found, kx: list[tuple[str, str]]):
        """From X to its child Y."""
        near = self._step_near(y, fx, kx)
        if near is not None:
            return near
        name, path = fx.name, fx.path
        seen = [(name, path)]
        for ev in self.tracer.trace_cached(x, y, fx):
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
        events, pred = self.tracer.trace_back_cached(y, x, fx)
        if pred is not None and (pred[0] == fx.name or self.opts.follow):
            hit = self._recheck(y, [pred])
            if hit is not None:
                return hit, [(hit.name, hit.path)]
        seen = [(fx.name, fx.path)] + [(e.old_name, e.old_path) for e in events
                                       if e.old_name == fx.name]
        return Found(fx.name, None, None, None), seen

    def located_warnings(self, topo, found) -> list[str]:
        """Per-version warnings: other files defining the struct, reading problems, why absent."""
        out = []
        for tag in topo:
            f = found[tag]
            if f.others:
                out.append(f"{tag}: {f.name} is also defined in {', '.join(f.others)}; using {f.path}")
            for w in (f.sdef.warnings if f.sdef else ()):
                out.append(f"{tag}: {w}")
            if f.sdef is None and tag in self._notes:
                out.append(f"{tag}: {self._notes[tag]}")
        return out

    def search(self, v: Version, name: str) -> Found:
        """NAME at V, searching V's whole tree (remembered per commit)."""
        hit = self._probe([v.tag], name)
        return hit[0][1] if hit else Found(name, None, None, None)
