"""commits: the commits between two versions that touched the struct's files, and the struct
as each of them has it.

One ``CommitWalk`` per history: it runs path-limited ``git log`` walks (in the background while
versions are still being located), remembers each commit's parents and the blob each path had,
and reads the struct at any commit through the shared StructReader. Attribution and tracing
ask it; neither runs git walks of its own.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor

from srcdiff.cache import Cache
from srcdiff.changes import (
    ADDED,
    GUARD,
    REMOVED,
    RETYPED,
    Change,
    Options,
    Part,
    diff_structs,
    hash_paths,
)
from srcdiff.gitrepo import GitRepo
from srcdiff.limits import BlobTooLarge
from srcdiff.locate import Found, StructReader
from srcdiff.model import StructDef
from srcdiff.versions import Version, VersionSet


class CommitWalk(Part):
    """Commit walks and the struct's state at commits, for one history."""

    def __init__(self, repo: GitRepo, cache: Cache, reader: StructReader, opts: Options,
                 versions: VersionSet):
        super().__init__(repo, cache, reader, opts)
        self.versions = versions
        self.shallow = set(repo.shallow_boundary())
        self._states: dict[tuple, StructDef | None] = {}
        self._blobs: dict[tuple[str, str], str | None] = {}  # (commit, path) -> blob id
        self._parents_of: dict[str, tuple[str, ...]] = {}
        # commit walks started while locating (touch key -> Future of commits_touching)
        self._walks: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None
        # What history is visible is part of every attribution key: a shallow clone may see less.
        self.hfp = reader.fingerprint + "|" + (hash_paths(sorted(self.shallow)) if self.shallow
                                               else "full")

    def state_at(self, sha: str, idents: list[tuple[str, str]], inc: str) -> StructDef | None:
        """The struct at commit SHA, under the last of IDENTS ((name, path), oldest first) that
        defines it there. Between two versions, the #include'd headers are read as at the newer one, INC:
        the commits walked are those of the struct's own file, and one reading of the
        includes then serves every commit of the range. (A struct text already read is not
        read again anyway: readings are shared by blob and by definition text.)"""
        key = (sha, tuple(idents))
        if key not in self._states:
            self._states[key] = self._state_at_uncached(sha, idents, inc)
        return self._states[key]

    def _state_at_uncached(self, sha: str, idents: list[tuple[str, str]], inc: str
                           ) -> StructDef | None:
        # newest first: where two files define it at once (a header copied to its new place
        # before the old one is emptied), the one it is moving to is the struct
        for name, path in reversed(idents):
            if path is None:
                continue
            key = (sha, path)
            # known from a commit walk: no object look-up needed
            blob = self._blobs[key] if key in self._blobs else self.repo.blob_id(sha, path)
            sdef = None if blob is None else self.reader.in_blob(blob, name, path, inc)
            if sdef is not None:
                return sdef
        return None

    def walk(self, new: str, old: str | None, paths: list[str], first_parent: bool) -> list[str]:
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

    def walk_soon(self, va: Version, vb: Version, fa: Found, fb: Found) -> None:
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

    def stop_walks(self) -> None:
        """Cancel the background walks not yet needed and wait for the pool (end of a build)."""
        for fut in self._walks.values():
            fut.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._walks.clear()

    def prefetch_commits(self, edges: list[tuple[str, str]], found: dict[str, Found]) -> None:
        """Start the commit walks of the edges whose walk locating did not start already (an
        edge between versions that different anchors reached); _commits takes them all."""
        vs = self.versions
        for a, b in edges:
            self.walk_soon(vs.by_tag(a), vs.by_tag(b), found[a], found[b])

    def _touch_key(self, a: Version | None, b: Version, paths: list[str]) -> str:
        return f"{a.commit if a else '-'}|{b.commit}|{int(self.opts.first_parent)}|{self.hfp}|{'|'.join(paths)}"

    def commits(self, a: Version | None, b: Version, idents) -> list[str]:
        """Commit ids of A..B touching the files of IDENTS, parents first (walked once, cached)."""
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

    def parents(self, sha: str) -> tuple[str, ...]:
        """SHA's parents, as attribution follows them (the first only with --first-parent)."""
        parents = self._parents_of.get(sha)
        if parents is None:
            parents = self.repo.commit_info(sha).parents
        return parents[:1] if self.opts.first_parent else parents

    def read_ahead(self, commits: list[str], idents) -> None:
        """Fetch in one exchange the blobs _find_commit may parse for COMMITS."""
        want = []
        for sha in commits:
            for at in (sha, *self._parents_of.get(sha, ())[:1]):
                for name, path in idents:
                    blob = self._blobs.get((at, path))
                    if blob is not None:
                        want.append((blob, name))
        self.reader.prefetch(want)

    def lacks_word(self, sha: str, idents, word: str) -> bool:
        """Whether none of the files of IDENTS at commit SHA has WORD in it: then the struct
        there has no member of that name (a name a macro makes is found by the full scan,
        which _find_commit falls back to)."""
        rx = re.compile(rb"\b" + re.escape(word.encode()) + rb"\b")
        for _name, path in idents:
            key = (sha, path)
            blob = self._blobs[key] if key in self._blobs else self.repo.blob_id(sha, path)
            if blob is None:
                continue
            try:
                if rx.search(self.repo.read_blob(blob)):
                    return False
            except BlobTooLarge:
                return False
        return True

    def mentions(self, a: Version | None, b: Version, idents, changes: list[Change]
                  ) -> dict[str, set[str]]:
        """Commits of the range whose diff names each changed member, and those changing a
        directive or a typedef (remembered)."""
        names = sorted({c.field for c in changes
                        if c.kind in (ADDED, REMOVED, RETYPED, GUARD) and c.field})
        paths = sorted({p for _n, p in idents if p})
        if not names or not paths:
            return {}
        key = "v2|" + self._touch_key(a, b, paths) + "|" + hash_paths(names)
        hit = self.cache.get("mentions", key)
        if hit is None:
            found = self.repo.commits_mentioning(b.commit, a.commit if a else None, paths, names,
                                                 self.opts.first_parent)
            hit = {n: sorted(s) for n, s in found.items()}
            self.cache.put("mentions", key, hit)
        return {n: set(s) for n, s in hit.items()}
