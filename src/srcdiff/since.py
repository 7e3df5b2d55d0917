"""since: one member's life across the examined releases — since which release and commit it
exists, where it is absent, how it changed (retyped, renamed, under another guard).

Read off the same history as blame and log: the first release is the earliest by date whose
struct has the member, its commit the one blame names; a rename is a removal and an addition
on one edge made by one commit that made no other such change (``task_struct.state`` ->
``__state``, v5.14).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srcdiff.blame import Origin, blame
from srcdiff.errors import SrcdiffError
from srcdiff.history import ADDED, GUARD, REMOVED, RETYPED, Builder, History, field_map


@dataclass
class Since:
    """What `since` reports of one member."""

    struct: str
    field: str
    first: Origin | None
    present: list[str]
    absent: list[str]
    guards: dict[str, str]  # tag -> the condition the member needs there
    changes: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"struct": self.struct, "field": self.field,
                "first": None if self.first is None else self.first.to_json(),
                "present": self.present, "absent": self.absent, "guards": self.guards,
                "changes": self.changes}


def split_member(spec: str, member: str | None) -> tuple[str, str]:
    """(struct, member) from STRUCT.FIELD, or from STRUCT and FIELD given apart."""
    if member is not None:
        return spec, member
    struct, dot, name = spec.partition(".")
    if not dot or not struct or not name:
        raise SrcdiffError(f"since: name a member as STRUCT.FIELD or STRUCT FIELD, not {spec!r}")
    return struct, name


def since(history: History, builder: Builder, name: str) -> Since:
    """NAME's life in HISTORY. SrcdiffError when no examined release has such a member."""
    order = history.ordered()
    present, absent, guards = [], [], {}
    for v in order:
        f = field_map(history.sdef(v.tag)).get(name)
        (present if f is not None else absent).append(v.tag)
        if f is not None and f.guard:
            guards[v.tag] = f.guard
    if not present:
        raise SrcdiffError(_no_member_message(history, name))
    _tag, lines = blame(history, builder, include_removed=True)
    first = next((ln.introduced for ln in lines if ln.field.name == name), None)
    return Since(history.name, name, first, present, absent, guards, _changes(history, name))


def _changes(history: History, name: str) -> list[dict]:
    """Each change of NAME on an edge of the version graph, oldest release first; a removal
    and an addition that are the only ones one commit made on one edge are a rename."""
    out = []
    for a, b in history.edges_in_order():
        changes = history.edge_changes(a, b)
        for ch in changes:
            if ch.field != name or ch.kind not in (ADDED, REMOVED, RETYPED, GUARD):
                continue
            commit = ch.commits[-1] if ch.commits else None
            entry = {"release": b, "from": a, "change": ch.kind,
                     "commit": commit.sha if commit else None,
                     "subject": commit.subject if commit else None,
                     "old": _what(ch.old, ch.kind), "new": _what(ch.new, ch.kind)}
            if ch.kind in (ADDED, REMOVED) and commit is not None:
                # a rename: the commit removed exactly one member and added exactly one here
                by_commit = [c for c in changes if c.kind in (ADDED, REMOVED)
                             and c.commits and c.commits[-1].sha == commit.sha]
                other = ADDED if ch.kind == REMOVED else REMOVED
                twins = [c for c in by_commit if c.kind == other]
                twin = twins[0] if len(by_commit) == 2 and len(twins) == 1 else None
                if twin is not None:
                    entry["change"] = "renamed"
                    entry["old"], entry["new"] = ((name, twin.field) if ch.kind == REMOVED
                                                  else (twin.field, name))
            out.append(entry)
    return out


def _what(f, kind: str) -> str | None:
    if f is None:
        return None
    return f.guard if kind == GUARD else f.type


def _no_member_message(history: History, name: str) -> str:
    import difflib

    names = sorted({k for t in history.ordered() for k in field_map(history.sdef(t.tag))
                    if not k.startswith(("?", "<"))})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    vs = history.ordered()
    from srcdiff.render import kind_word

    return (f"{kind_word(history)} {history.name} has no member {name} at any examined "
            f"version ({vs[0].tag}..{vs[-1].tag}){hint}")
