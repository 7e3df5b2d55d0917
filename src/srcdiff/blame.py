"""blame: for each member, the commit and release that introduced it (and removed it).

Walks the version chain that ends at the newest definition, using the changes already
attributed on the history graph's edges; like ``git blame`` but per member, so
reformatting and moves never reset a member's origin.
"""

from __future__ import annotations

from dataclasses import dataclass

from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import CommitInfo
from srcdiff.history import (
    ADDED,
    REMOVED,
    RENAMED,
    RETYPED,
    Builder,
    Change,
    History,
    field_map,
)
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
        at = next((v.tag for v in history.ordered() if at in (v.label, "v" + v.label)), at) \
            if at not in tags else at  # a label, as --versions takes (7.88.1 for curl-7_88_1)
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
    # A member carried over through a rename came to a struct of this name with the renaming
    # commit (who gave the struct a member of that name); the note says where it was before.
    by_rename = renamed[0].commits[-1] if renamed and renamed[0].commits else None
    # Every member of the first definition is tracked, so later retypes and removals are seen
    # also for members with no ADDED change of their own (carried over through a rename).
    for key in field_map(history.sdef(first)):
        current[key] = (Origin(first, by_rename, earlier), None)
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
    # The release that first had a member is the earliest by date among all examined ones
    # (a stable release can have a backport before the next mainline release has it).
    first_seen = _first_seen(history)

    def dated(o: Origin, key: str) -> Origin:
        tag = first_seen.get(key, o.tag)
        return o if tag == o.tag else Origin(tag, o.commit, o.note)

    lines: list[BlameLine] = []
    now = field_map(history.sdef(newest.tag))
    for key, f in now.items():
        # .get: a member can still arrive unannounced (the struct renamed away and back).
        intro, retyped = current.get(key, (Origin(first, by_rename, earlier), None))
        lines.append(BlameLine(f, dated(intro, key), None, retyped))
    if include_removed:
        gone = {ln.field.key() for ln in removed}
        lines.extend(BlameLine(ln.field, dated(ln.introduced, ln.field.key()), ln.removed,
                               ln.last_retyped) for ln in removed if ln.field.key() not in now)
        # members of releases off the blamed one's line (a stable release's own member, say)
        lines.extend(_removed_elsewhere(history, set(now) | gone, first_seen, newest.tag))
    return newest.tag, _as_in_history_of(builder, history, newest, lines)


def _as_in_history_of(builder: Builder, history: History, v, lines: list[BlameLine]
                      ) -> list[BlameLine]:
    """LINES with each introducing commit as V's own history has it. Release lines need not be
    ancestors of each other (redis's X.Y.0 each on a branch of its own), so the commit that
    brought a member to an earlier release can be a cherry-pick V never had: it is replaced by
    the original in V's history (named by the pick's message, else the newest commit with the
    same subject and author), and the note names the pick."""
    from srcdiff.backport import history_of, same_in

    picked = {ln.introduced.commit.sha: ln.introduced.commit for ln in lines
              if ln.introduced.commit is not None}
    if not picked:
        return lines
    own = history_of(builder.repo, builder.cache, v.commit, history.paths())
    same = same_in(builder.repo, picked.values(), own)
    if not same:
        return lines
    out_lines = []
    for ln in lines:
        c = ln.introduced.commit
        if c is not None and c.sha in same:
            note = f"reached {ln.introduced.tag} as {c.sha[:12]}, a cherry-pick {v.tag} does not have"
            ln = BlameLine(ln.field, Origin(ln.introduced.tag, builder.repo.commit_info(same[c.sha]),
                                            note), ln.removed, ln.last_retyped)
        out_lines.append(ln)
    return out_lines


def _first_seen(history: History) -> dict[str, str]:
    """For each member key, the earliest release (by date, then version) that has it."""
    order = {v.tag: i for i, v in enumerate(history.ordered())}
    out: dict[str, str] = {}
    vs = history.versions
    for tag in sorted(order, key=lambda t: (vs.by_tag(t).date, history.node(t)["date"] or "",
                                            order[t])):
        for key in field_map(history.sdef(tag)):
            out.setdefault(key, tag)
    return out


def _removed_elsewhere(history: History, known: set[str], first_seen: dict[str, str], at: str
                       ) -> list[BlameLine]:
    """Members some examined release had that are not in KNOWN (the definition at AT and what
    its line removed): each with the change that added it and the one that removed it, found
    on any edge of the version graph; a member only another line ever had is "removed" at AT,
    with no commit, and says which release had it last."""
    added: dict[str, Origin] = {}
    gone: dict[str, tuple[Origin, object]] = {}
    for a, b in history.edges_in_order():
        for ch in history.edge_changes(a, b):
            if ch.kind == ADDED and ch.new is not None:
                added.setdefault(ch.new.key(), _origin(b, ch))
            elif ch.kind == REMOVED and ch.old is not None:
                gone.setdefault(ch.old.key(), (_origin(b, ch), ch.old))
    last_seen: dict[str, str] = {}
    for v in history.ordered():
        for key in field_map(history.sdef(v.tag)):
            last_seen[key] = v.tag
    out = []
    for key, tag in first_seen.items():
        if key in known:
            continue
        intro = added.get(key, Origin(tag, None, "not attributed"))
        removal = gone.get(key)
        if removal is None:
            note = f"only on another release line (last in {last_seen[key]}); {at} never had it"
            removal = (Origin(at, None, note), field_map(history.sdef(last_seen[key]))[key])
        out.append(BlameLine(removal[1], Origin(tag, intro.commit, intro.note), removal[0]))
    return out
