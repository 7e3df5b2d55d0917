"""changes: what the history stage hands between its parts and to outputs.

The kinds of change between two versions of a struct (``Change``, with the commits that made
it), how a history is built (``Options``), and the comparisons every part shares: members by
name (``field_map``), the member changes between two definitions (``diff_structs``), how alike
two definitions are (``similarity``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from srcdiff.cache import Cache
from srcdiff.gitrepo import CommitInfo, GitRepo
from srcdiff.locate import ReadOptions, StructReader
from srcdiff.model import Field, StructDef

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


class Part:
    """A part of the history stage, and what every part reads through: the repository, the
    cache, the one StructReader of the run, and how the history is built."""

    def __init__(self, repo: GitRepo, cache: Cache, reader: StructReader, opts: Options):
        self.repo = repo
        self.cache = cache
        self.reader = reader
        self.opts = opts


def change_to_cache(c: Change) -> dict:
    """A Change as plain JSON (for the cache), commits included."""
    return {
        "kind": c.kind, "field": c.field, "note": c.note,
        "old": None if c.old is None else c.old.to_json(),
        "new": None if c.new is None else c.new.to_json(),
        "commits": [[x.sha, list(x.parents), x.author, x.email, x.date, x.subject, x.upstream,
                     x.upstream_by] for x in c.commits],
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


def _named_unparsed(sdef: StructDef | None, name: str) -> bool:
    """Whether SDEF has a member it could not read whose text names NAME."""
    word = re.compile(r"\b" + re.escape(name) + r"\b")
    return any(f.unparsed is not None and word.search(f.unparsed)
               for f in field_map(sdef).values())


def similarity(a: StructDef, b: StructDef) -> float:
    """Share of members two definitions have in common (by name), 0..1."""
    na, nb = set(field_map(a)), set(field_map(b))
    if not na or not nb:
        return 0.0
    return len(na & nb) / max(len(na), len(nb))


def hash_paths(paths: Iterable[str]) -> str:
    h = hashlib.sha1()
    for p in paths:
        h.update(p.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()
