"""moves: where a struct went between two versions (moved to another file, renamed), and
where it came from, commit by commit.

A ``Tracer`` walks the commits that touched the struct's file (through the CommitWalk) to the
one after which the file no longer defines it, then looks in the files that commit changed:
the same name elsewhere is a move; a new struct sharing most members is a rename.
"""

from __future__ import annotations

from srcdiff.cache import Cache
from srcdiff.changes import (
    MOVED,
    RENAMED,
    Change,
    Options,
    Part,
    change_from_cache,
    change_to_cache,
    similarity,
)
from srcdiff.commits import CommitWalk
from srcdiff.gitrepo import GitRepo
from srcdiff.limits import BlobTooLarge
from srcdiff.locate import SOURCE_SUFFIXES, Found, StructReader
from srcdiff.model import StructDef
from srcdiff.parse import scan
from srcdiff.versions import Version


class Tracer(Part):
    """Moves and renames between versions, remembered per run and in the cache."""

    def __init__(self, repo: GitRepo, cache: Cache, reader: StructReader, opts: Options,
                 walks: CommitWalk):
        super().__init__(repo, cache, reader, opts)
        self.walks = walks
        self._traces: dict[str, object] = {}

    def trace_cached(self, a: Version, b: Version, fa: Found) -> list[Change]:
        """The moves and renames of FA's struct from A towards B (cached by commits and options)."""
        key = f"fwd|{a.commit}|{b.commit}|{fa.name}|{fa.path}|{self.walks.hfp}|{self.opts.rename_threshold}"
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
            commits = self.walks.walk(b.commit, start, [path], first_parent=False)
            self.walks.read_ahead(commits, [(name, path)])
            gone = None
            for sha in commits:
                if self.walks.state_at(sha, [(name, path)], b.commit) is None:
                    parents = self.walks.parents(sha)
                    if parents and self.walks.state_at(parents[0], [(name, path)], b.commit) is not None:
                        gone = sha
                        break
            if gone is None:
                return events
            info = self.repo.commit_info(gone)
            parent = info.parents[0]
            before = self.walks.state_at(parent, [(name, path)], b.commit)
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
            enums = self.reader.opts.kind == "enum"
            other_names = ({d.name for d in scan(other_data, enums)[1]} if other_data is not None
                           else set())
            try:
                data = self.repo.read_blob(blob)
            except BlobTooLarge:
                continue  # a file over the size limit is not read, so cannot be the other end
            for d in scan(data, enums)[1]:
                if d.name == skip or d.name in other_names:
                    continue
                cand = self.reader.in_blob(blob, d.name, p, look, data)
                if cand is None:
                    continue
                score = similarity(ref, cand)
                if score >= self.opts.rename_threshold and (best is None or score > best[0]):
                    best = (score, d.name, p)
        return None if best is None else (best[1], best[2])

    def trace_back_cached(self, a: Version, b: Version, fb: Found):
        """(events, (name, path) at A) of FB's struct traced back from B to A (cached)."""
        key = f"back|{a.commit}|{b.commit}|{fb.name}|{fb.path}|{self.walks.hfp}|{self.opts.rename_threshold}"
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

    def _copied_from(self, rev: str, name: str, path: str) -> Found:
        """NAME at REV in a file of PATH's name elsewhere (the nearest by path first): a header
        copied to a new place before the old one was emptied (iproute2's include/linux/tcp.h
        and include/uapi/linux/tcp.h), which the commit adding the copy did not change."""
        base = path.rsplit("/", 1)[-1]
        files = self.repo.run_text("ls-tree", "-r", "-z", "--name-only", rev).split("\0")
        same = [f for f in files if f != path and f.rsplit("/", 1)[-1] == base]
        if not same:
            return Found(name, None, None, None)

        def shared_tail(f: str) -> int:
            n = 0
            for x, y in zip(reversed(f.split("/")), reversed(path.split("/"))):
                if x != y:
                    break
                n += 1
            return n

        same.sort(key=lambda f: -shared_tail(f))
        return self.reader.pick(rev, name, same[:8], same[0])

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
            commits = self.walks.walk(end, a.commit, [path], first_parent=False)
            self.walks.read_ahead(commits, [(name, path)])
            appear = None
            for sha in reversed(commits):
                if self.walks.state_at(sha, [(name, path)], b.commit) is None:
                    continue
                parents = self.walks.parents(sha)
                if parents and self.walks.state_at(parents[0], [(name, path)], b.commit) is None:
                    appear = sha
                    break
            if appear is None:
                return events, None
            info = self.repo.commit_info(appear)
            parent = info.parents[0]
            changed = self.repo.changed_paths(parent, appear)
            moved = self.reader.search(parent, name, changed, None)
            if moved.sdef is None:
                moved = self._copied_from(parent, name, path)
            if moved.sdef is not None and moved.path != path:
                events.insert(0, Change(MOVED, None, commits=(info,), old_name=name, new_name=name,
                                        old_path=moved.path, new_path=path))
                path, end = moved.path, parent
                continue
            after = self.walks.state_at(appear, [(name, path)], b.commit)
            best = self._counterpart(parent, appear, changed, after, name)
            if best is None:
                return events, None
            events.insert(0, Change(RENAMED, None, commits=(info,), old_name=best[0],
                                    new_name=name, old_path=best[1], new_path=path))
            (name, path), end = best, parent
        return events, None
