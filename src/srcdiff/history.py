"""history: the struct at every version, the changes between versions, and their commits.

Builds one networkx DiGraph per run: nodes are versions (with the StructDef or absent), edges
go from each version's predecessor on its release line to it and carry the changes, each
attributed to the commit that made it. The parts, one job each, plain data between them:
versions.py (release lines), spread.py (the struct at every version), moves.py (moves and
renames), commits.py (commit walks and the struct at a commit), attribution.py (the changes
on an edge and their commits). Their shared vocabulary is in changes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from srcdiff.attribution import Attributor
from srcdiff.cache import Cache
from srcdiff.changes import (  # noqa: F401 - the names outputs import from here
    ADDED,
    DEFAULT_RENAME_THRESHOLD,
    GUARD,
    MOVED,
    REMOVED,
    RENAMED,
    RETYPED,
    STRUCT_ADDED,
    STRUCT_REMOVED,
    Change,
    Options,
    change_from_cache,
    change_to_cache,
    diff_structs,
    field_map,
    hash_paths,
    similarity,
)
from srcdiff.commits import CommitWalk
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.locate import Found, StructReader
from srcdiff.model import StructDef
from srcdiff.moves import Tracer
from srcdiff.spread import Locator
from srcdiff.versions import Version, VersionSet


@dataclass
class History:
    """The built graph plus what outputs need to walk it."""

    name: str
    versions: VersionSet
    graph: nx.DiGraph
    warnings: list[str]

    @property
    def incomplete(self) -> bool:
        """True when some version has a member srcdiff could not parse (what exit status 1
        means; a warning that leaves no unparsed member does not count)."""
        return any(d["sdef"] is not None and d["sdef"].has_unparsed()
                   for _t, d in self.graph.nodes(data=True))

    def paths(self) -> list[str]:
        """The files the struct is defined in at the examined versions."""
        return sorted({d["path"] for _t, d in self.graph.nodes(data=True) if d["path"]})

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
    """Builds a History for one struct from its parts: locating it at every version
    (spread.Locator), the changes on each edge with their commits (attribution.Attributor),
    both reading commits through one CommitWalk and moves through one Tracer."""

    def __init__(self, repo: GitRepo, versions: VersionSet, opts: Options, cache: Cache,
                 progress: Callable[[str, int, int], None] | None = None):
        self.repo = repo
        self.versions = versions
        self.opts = opts
        self.cache = cache
        self.reader = StructReader(repo, cache, opts.read)
        self.progress = progress or (lambda what, done, total: None)
        self.warnings: list[str] = []
        self.walks = CommitWalk(repo, cache, self.reader, opts, versions)
        self.tracer = Tracer(repo, cache, self.reader, opts, self.walks)
        self.locator = Locator(repo, cache, self.reader, opts, versions, self.walks, self.tracer,
                               self.progress)
        self.attribution = Attributor(repo, cache, self.reader, opts, self.walks, self.tracer)

    def search(self, v: Version, name: str) -> Found:
        """NAME at V, searching V's whole tree."""
        return self.locator.search(v, name)

    def attribute_from_start(self, v: Version, sdef: StructDef, name: str, path: str
                             ) -> list[Change]:
        """Every member of SDEF (NAME in PATH at V, the first version examined) with the commit
        that added it, looking at the whole history before V."""
        return self.attribution.attribute_from_start(v, sdef, name, path)

    def _history_key(self) -> str:
        o = self.opts
        parts = ["h3", o.name, self.walks.hfp, str(o.read.pinned_path), str(o.first_parent), str(o.follow),
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
            self.walks.stop_walks()

    def _build_walking(self) -> History:
        vs = self.versions
        order = {v.tag: i for i, v in enumerate(vs.versions)}
        found = self.locator.locate_all()
        import networkx as nx  # loaded by now, by the version DAG's thread

        topo = list(nx.lexicographical_topological_sort(vs.graph, key=order.__getitem__))
        self.repo.prime_commits([vs.by_tag(t).commit for t in topo])  # their dates, at once
        g = nx.DiGraph()
        for tag in topo:
            f = found[tag]
            g.add_node(tag, version=vs.by_tag(tag), sdef=f.sdef, name=f.name, path=f.path,
                       blob=f.blob, notes=[], before=None,
                       date=self.repo.commit_info(vs.by_tag(tag).commit).date)
        self.warnings.extend(self.locator.located_warnings(topo, found))
        for a, b in vs.graph.edges:
            g.add_edge(a, b, changes=[])
        edges = sorted(vs.graph.edges, key=lambda e: (order[e[1]], order[e[0]]))
        self.walks.prefetch_commits(edges, found)
        # which edges the cache knows, in a few queries rather than one per edge
        self.cache.known("edge", [self.attribution.edge_key(vs.by_tag(a), vs.by_tag(b), found[a], found[b])
                                  for a, b in edges])
        for i, (a, b) in enumerate(edges):
            changes = self.attribution.edge_cached(vs.by_tag(a), vs.by_tag(b), found[a], found[b])
            g.edges[a, b]["changes"] = changes
            # What outputs say about an absence: where the struct went (at B) or what it was
            # called (at A), read off the moves and renames on the edge.
            ways = [c for c in changes if c.kind in (RENAMED, MOVED)]
            if ways and found[b].sdef is None:
                g.nodes[b]["notes"].extend(ways)
            if ways and found[a].sdef is None:
                g.nodes[a]["before"] = (ways[0].old_name, ways[0].old_path)
            self.progress("attribute", i + 1, len(edges))
        self._name_picks(g, found)
        self.cache.flush()
        return History(self.opts.name, vs, g, self.warnings)

    def _name_picks(self, g: nx.DiGraph, found: dict[str, Found]) -> None:
        """Where release lines go on beside each other (a version with two successors), a
        commit that reached a release by a cherry-pick whose message names no original is
        given one: the commit with its subject and author in the newest release's history of
        the struct's files (one git log). A kernel stable commit names its own."""
        vs = self.versions
        if not vs.lines_beside():
            return
        newest = next((v for v in reversed(vs.versions) if found[v.tag].sdef is not None), None)
        if newest is None:
            return
        from dataclasses import replace

        from srcdiff.backport import history_of, same_in

        paths = sorted({f.path for f in found.values() if f.path})
        own = history_of(self.repo, self.cache, newest.commit, paths)
        commits = {c.sha: c for _a, _b, d in g.edges(data=True) for ch in d["changes"]
                   for c in ch.commits if c.upstream is None}
        same = same_in(self.repo, commits.values(), own)
        if not same:
            return
        for _a, _b, d in g.edges(data=True):
            d["changes"] = [replace(ch, commits=tuple(
                replace(c, upstream=same[c.sha], upstream_by="subject") if c.sha in same else c
                for c in ch.commits)) for ch in d["changes"]]


def build_history(repo: GitRepo, versions: VersionSet, opts: Options, cache: Cache,
                  progress=None, require: bool = True) -> tuple[History, Builder]:
    """Locate NAME at every version and attribute each change. Raises SrcdiffError when the
    struct is found at no version (with close names when some exist), if REQUIRE."""
    b = Builder(repo, versions, opts, cache, progress)
    if repo.is_shallow():
        cut = ", ".join(c[:12] for c in repo.shallow_boundary()[:3])
        b.warnings.append(f"shallow clone: history stops at {cut}; changes made before it cannot "
                          "be attributed (git fetch --unshallow fixes this)")
    h = b.build()
    if require and all(h.sdef(v.tag) is None for v in versions.versions):
        raise SrcdiffError(_not_found_message(repo, versions, opts.name, opts.read.kind))
    return h, b


def _not_found_message(repo: GitRepo, versions: VersionSet, name: str,
                       kind: str | None = None) -> str:
    """The one-line error for NAME found at no version of VERSIONS: with close names (a
    misspelling), and why where srcdiff can tell (a '{' never closed, a file git calls binary)."""
    import difflib
    import re

    from srcdiff.parse import scan_named, unclosed_at

    vs = versions.versions
    newest = vs[-1]
    # Close names among the structs/unions defined at the newest, middle and oldest versions.
    # A tree of at most 5,000 headers (curl, redis, git: a few hundred) is searched in all of
    # them (~0.1 s); a larger one (the kernel: 25,000, every file of three trees would take
    # half a minute, for a hint) in include/ and in the files whose path has a word of NAME in
    # it (a misspelt vfio_pci_devic: paths with vfio, pci or devic).
    files = repo.run_text("ls-tree", "-r", "-z", "--name-only", newest.commit).split("\0")
    small = sum(f.endswith(".h") for f in files) <= 5000
    words_re = "enum" if kind == "enum" else "(struct|union)"
    pattern = rf"{words_re}[[:space:]]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\{{"
    words = dict.fromkeys(w for w in re.split(r"[_0-9]+", name) if len(w) >= 3)
    where = ["*.h" if small else "include/*.h", *(f"*{w}*.[ch]" for w in words)]
    out = ""
    for v in dict.fromkeys([vs[-1], vs[len(vs) // 2], vs[0]]):
        out += repo.run_text("grep", "-h", "-o", "-I", "-E", "--no-textconv", "-e", pattern,
                             v.commit, "--", *where, ok_codes=(0, 1))
    # NAME itself shows up when its definition is broken: never "did you mean NAME?"
    names = sorted({m.group(2) for m in re.finditer(r"(struct|union|enum)\s+(\w+)", out)} - {name})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""

    # Why the newest version has no definition although a file opens one: a '{' never closed,
    # or a file with NUL bytes, which git grep (and so srcdiff's search) takes for binary.
    why = ""
    kw = rb"enum" if kind == "enum" else rb"(?:struct|union)"
    opened = re.compile(rb"\b" + kw + rb"\s+" + re.escape(name.encode()) + rb"\s*\{")
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
            if not scan_named(data, name, enums=kind == "enum")[1]:
                continue  # binary indeed: what looks like the struct does not read as one
            nul = data.count(b"\n", 0, data.index(b"\0")) + 1
            why = (f"; {path} has it but holds NUL bytes (line {nul}), so git takes the file for "
                   f"binary and it is not searched: --path {path} reads it")
            break
        line = unclosed_at(data, name, kind)
        if line is not None:
            what = m.group(0).split(b"{")[0].decode().strip()
            why = f"; {what} at {path}:{line}: '{{' never closed"
            break
    span = f"{vs[0].tag}..{newest.tag}" if len(vs) > 1 else newest.tag
    what = "enum" if kind == "enum" else "struct"
    return f"{what} {name} is not defined at any examined version ({span}){why}{hint}"
