"""blame: for each member, the commit and release that introduced it (and removed it).

Walks the version chain that ends at the newest definition, using the changes already
attributed on the history graph's edges; like ``git blame`` but per member, so
reformatting and moves never reset a member's origin.
"""

from __future__ import annotations

from dataclasses import dataclass

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import CommitInfo
from srcdiff.history import ADDED, REMOVED, RENAMED, RETYPED, Builder, Change, History, field_map
from srcdiff.model import Field


@dataclass(frozen=True)
class Origin:
    """A change of one member at one release, with its commit (None if not attributable)."""

    tag: str
    commit: CommitInfo | None
    note: str | None = None

    def to_json(self) -> dict:
        d = {"tag": self.tag, "commit": None, "author": None, "date": None, "subject": None}
        if self.commit is not None:
            d.update(self.commit.to_json())
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class BlameLine:
    field: Field
    introduced: Origin
    removed: Origin | None = None
    last_retyped: Origin | None = None

    def to_json(self) -> dict:
        d = {
            "name": self.field.name,
            "type": self.field.type,
            "guard": self.field.guard,
            "introduced": self.introduced.to_json(),
            "removed": None if self.removed is None else self.removed.to_json(),
            "retyped": None if self.last_retyped is None else self.last_retyped.to_json(),
        }
        if self.field.unparsed is not None:
            d["unparsed"] = self.field.unparsed
        return d


def _origin(tag: str, ch: Change) -> Origin:
    return Origin(tag, ch.commits[-1] if ch.commits else None, ch.note)


def blame(history: History, builder: Builder, include_removed: bool = False,
          at: str | None = None) -> tuple[str, list[BlameLine]]:
    """(tag blamed, one line per member of its definition in order; removed ones after).

    AT names the version to blame (default: the newest where the struct is present); raises
    SrcdiffError when it is not an examined version or the struct is absent there."""
    newest = history.newest_present()
    assert newest is not None  # build_history refuses a struct that is never present
    if at is not None:
        tags = [v.tag for v in history.ordered()]
        if at not in tags:
            raise SrcdiffError(f"--at {at}: not one of the examined versions ({tags[0]}..{tags[-1]})")
        if history.sdef(at) is None:
            raise SrcdiffError(f"--at {at}: struct {history.name} is absent there")
        newest = history.versions.by_tag(at)
    chain = history.versions.chain(newest.tag)
    current: dict[str, tuple[Origin, Origin | None]] = {}
    removed: list[BlameLine] = []
    # Versions before the struct's first appearance in the chain contribute nothing.
    start = next(i for i, t in enumerate(chain) if history.sdef(t) is not None)
    first = chain[start]
    if start == 0:
        node = history.node(first)
        initial = builder.attribute_from_start(node["version"], node["sdef"], node["name"],
                                               node["path"])
    else:
        initial = history.edge_changes(chain[start - 1], first)
    renamed = [c for c in initial if c.kind == RENAMED] if start else []
    earlier = (f"present in struct {renamed[0].old_name} before the rename; --follow for its history"
               if renamed else "not attributed")
    # Every member of the first definition is tracked, so later retypes and removals are seen
    # also for members with no ADDED change of their own (carried over through a rename).
    for key in field_map(history.sdef(first)):
        current[key] = (Origin(first, None, earlier), None)
    for ch in initial:
        if ch.kind == ADDED and ch.new is not None:
            current[ch.new.key()] = (_origin(first, ch), None)
    for a, b in zip(chain[start:], chain[start + 1 :]):
        for ch in history.edge_changes(a, b):
            if ch.kind == ADDED and ch.new is not None:
                current[ch.new.key()] = (_origin(b, ch), None)
            elif ch.kind == REMOVED and ch.old is not None:
                intro = current.pop(ch.old.key(), None)
                if intro is not None:
                    removed.append(BlameLine(ch.old, intro[0], _origin(b, ch), intro[1]))
            elif ch.kind == RETYPED and ch.new is not None:
                intro = current.get(ch.new.key())
                if intro is not None:
                    current[ch.new.key()] = (intro[0], _origin(b, ch))
    lines: list[BlameLine] = []
    for key, f in field_map(history.sdef(newest.tag)).items():
        # .get: a member can still arrive unannounced (the struct renamed away and back).
        intro, retyped = current.get(key, (Origin(first, None, earlier), None))
        lines.append(BlameLine(f, intro, None, retyped))
    if include_removed:
        lines.extend(removed)
    return newest.tag, lines
