"""report: DepSurf's per-release view, from source (Regular group, pairwise diffs, configuration groups).

Builds plain report data from a History (plus optional named configurations read at one
release) and renders it as text, Markdown or JSON; html.py draws the same data as HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from srcdiff.cache import Cache
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.history import (
    ADDED,
    GUARD,
    REMOVED,
    RETYPED,
    Change,
    History,
    diff_structs,
    field_map,
)
from srcdiff.locate import ReadOptions
from srcdiff.model import Field, StructDef
from srcdiff.render import absent_note, change_text, clean, code, commit_text, md, md_commit

OK, WARN = "✅", "⚠️"


@dataclass(frozen=True)
class VersionEntry:
    """One release in the Regular group: the definition, or why it is absent."""

    tag: str
    label: str
    commit: str
    parent: str | None
    name: str | None
    path: str | None
    sdef: StructDef | None
    note: str  # absent: renamed/moved explanation, else ""

    @property
    def present(self) -> bool:
        return self.sdef is not None


@dataclass(frozen=True)
class PairEntry:
    """Two consecutive releases (an edge of the version graph) and what changed between them."""

    old: str
    new: str
    old_label: str
    new_label: str
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class ConfigSpec:
    """A named configuration: ``NAME=FILE[@ARCH]`` on the command line."""

    name: str
    file: Path
    arch: str | None = None


@dataclass(frozen=True)
class ConfigEntry:
    """The struct under one named configuration at the group's release."""

    name: str
    file: str
    arch: str
    sdef: StructDef | None
    path: str | None
    error: str | None = None  # why it is absent under this configuration

    @property
    def present(self) -> bool:
        return self.sdef is not None


@dataclass(frozen=True)
class ConfigGroup:
    """Every named configuration at one release, each compared with the first."""

    rev: str
    commit: str
    struct: str
    entries: tuple[ConfigEntry, ...]

    def pairs(self) -> list[tuple[ConfigEntry, ConfigEntry, list[Change]]]:
        base = self.entries[0]
        return [(base, e, diff_structs(base.sdef, e.sdef)) for e in self.entries[1:]]


@dataclass
class Report:
    """Everything every report format shows."""

    struct: str
    versions: list[VersionEntry]
    pairs: list[PairEntry]
    configs: ConfigGroup | None
    warnings: list[str]
    history: History = field(repr=False)


# -- building ---------------------------------------------------------------------------


def build_report(history: History, configs: ConfigGroup | None = None) -> Report:
    """The report data of HISTORY (and of a configuration group, if given)."""
    labels = {v.tag: v.label for v in history.ordered()}
    versions = []
    for v in history.ordered():
        node = history.node(v.tag)
        sdef = node["sdef"]
        versions.append(VersionEntry(
            tag=v.tag, label=v.label, commit=v.commit, parent=history.versions.parent(v.tag),
            name=node["name"] if sdef is not None else None,
            path=node["path"] if sdef is not None else None, sdef=sdef,
            note="" if sdef is not None else absent_note(history, v.tag)))
    pairs = []
    for a, b in history.edges_in_order():  # DepSurf's order
        if history.sdef(a) is None and history.sdef(b) is None and not history.edge_changes(a, b):
            continue  # absent on both ends: nothing to compare (DepSurf lists no such pair)
        pairs.append(PairEntry(a, b, labels[a], labels[b], tuple(history.edge_changes(a, b))))
    return Report(history.name, versions, pairs, configs, list(history.warnings), history)


_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def parse_config_spec(text: str) -> ConfigSpec | None:
    """``NAME=FILE[@ARCH]`` as a ConfigSpec; None when TEXT is a plain FILE (no NAME=).

    A value is a plain file when it has no ``=``, when what precedes ``=`` is not a simple
    name, or when the whole value names an existing file. ``@ARCH`` is split off only when
    the full remainder is not an existing file.
    """
    name, eq, rest = text.partition("=")
    if not eq or not _NAME_RE.match(name) or Path(text).is_file():
        return None
    if not rest:
        raise SrcdiffError(f"--config {text}: no file after {name}=")
    arch = None
    path, at, a = rest.rpartition("@")
    if at and path and re.fullmatch(r"[A-Za-z0-9_]+", a) and not Path(rest).is_file():
        rest, arch = path, a
    return ConfigSpec(name, Path(rest), arch)


def config_group(repo: GitRepo, cache: Cache, history: History, specs: list[ConfigSpec],
                 base: ReadOptions, rev: str | None = None) -> ConfigGroup:
    """The struct under each configuration in SPECS at REV (default: the newest release where
    it is present), read from the file that defines it there. Raises SrcdiffError when REV
    does not exist or a config file cannot be read."""
    from srcdiff.compare import struct_at
    from srcdiff.preprocess import Config

    name, pinned = history.name, base.pinned_path
    if rev is None:
        newest = history.newest_present()
        assert newest is not None  # build_history refuses a struct present nowhere
        rev = newest.tag
    tags = {v.tag for v in history.ordered()}
    if rev in tags and history.sdef(rev) is not None:
        # The same struct and file as the Regular group shows at that release.
        name, pinned = history.node(rev)["name"], history.node(rev)["path"]
    commit = repo.resolve(rev)
    if commit is None:
        raise SrcdiffError(f"--at {rev}: unknown revision or tag")
    extra = base.config  # -D defines given on the command line apply to every configuration
    entries = []
    for spec in specs:
        cfg = Config.from_file(spec.file)
        if extra is not None:
            cfg = cfg.merged(extra)
        arch = spec.arch or base.arch
        read = replace(base, config=cfg, arch=arch, pinned_path=pinned)
        try:
            _sha, found = struct_at(repo, cache, name, rev, read)
            entries.append(ConfigEntry(spec.name, str(spec.file), arch, found.sdef, found.path))
        except SrcdiffError as exc:
            entries.append(ConfigEntry(spec.name, str(spec.file), arch, None, None, str(exc)))
    cache.flush()
    return ConfigGroup(rev, commit, name, tuple(entries))


# -- lifetimes (the chart in the HTML report; also in JSON) --------------------------------

ABSENT, PRESENT, NEW, TYPE, GUARDED, GONE, NOSTRUCT = (
    "absent", "present", "added", "retyped", "guard", "removed", "no-struct")


@dataclass(frozen=True)
class Cell:
    """A member at one release: its state there and the change (with commit) that led to it."""

    state: str  # one of ABSENT, PRESENT, NEW, TYPE, GUARDED, GONE, NOSTRUCT
    field: Field | None
    change: Change | None = None


def member_order(history: History) -> list[str]:
    """Member keys of every release, each new one placed after its predecessor in the release
    that introduced it, so the rows read like the struct."""
    order: list[str] = []
    for v in history.ordered():
        prev = None
        for k in field_map(history.sdef(v.tag)):
            if k not in order:
                order.insert(order.index(prev) + 1 if prev is not None else 0, k)
            prev = k
    return order


def lifetimes(history: History) -> tuple[list[str], dict[str, list[Cell]]]:
    """(member keys, per key one Cell per release in version order)."""
    keys = member_order(history)
    rows: dict[str, list[Cell]] = {k: [] for k in keys}
    for v in history.ordered():
        sdef = history.sdef(v.tag)
        fields = field_map(sdef)
        parent = history.versions.parent(v.tag)
        by_key: dict[str, Change] = {}
        if parent is not None:
            for ch in history.edge_changes(parent, v.tag):
                f = ch.new or ch.old
                if f is not None:
                    by_key[f.key()] = ch
        pfields = field_map(history.sdef(parent)) if parent is not None else {}
        for k in keys:
            f, ch = fields.get(k), by_key.get(k)
            if sdef is None:
                state = NOSTRUCT
            elif f is None:
                state = GONE if (ch is not None and ch.kind == REMOVED) or k in pfields else ABSENT
            elif ch is not None and ch.kind == ADDED and parent is not None:
                state = NEW
            elif ch is not None and ch.kind == RETYPED:
                state = TYPE
            elif ch is not None and ch.kind == GUARD:
                state = GUARDED
            else:
                state = PRESENT
            rows[k].append(Cell(state, f, ch))
    return keys, rows


# -- text -------------------------------------------------------------------------------


def _definition_header(e: VersionEntry) -> str:
    assert e.sdef is not None
    where = f"  /* {e.path}:{e.sdef.line} */" if e.path else ""
    return f"{e.label}: {OK} {e.sdef.kind} {e.name} {{{where}"


def _absent_text(label: str, note: str) -> str:
    return f"{label}: Absent {WARN}" + (f" ({note})" if note else "")


def report_text(rep: Report, definitions: bool = True) -> str:
    """DepSurf's layout: Regular definitions, then Regular pairs, then the config group.
    Control characters are made visible once, in the whole result."""
    out = [f"struct {rep.struct}", "", "Regular"]
    for e in rep.versions:
        if e.sdef is None:
            out.append(_absent_text(e.label, e.note))
        elif definitions:
            out.append(_definition_header(e))
            out.extend(clean(e.sdef.render()).splitlines()[1:])  # cleaned before splitlines
        else:
            out.append(f"{e.label}: {OK} {e.name} in {e.path}:{e.sdef.line} "
                       f"({len(e.sdef.flat_fields())} members)")
    out += ["", "Regular"]
    for p in rep.pairs:
        out.append(f"{p.old_label} and {p.new_label} {WARN if p.changes else OK}")
        for ch in p.changes:
            out.append(f"    {change_text(ch)}")
            out.append(f"        {commit_text(ch)}")
    if rep.configs is not None:
        g = rep.configs
        out += ["", f"Config (at {g.rev})"]
        for c in g.entries:
            if c.sdef is None:
                out.append(_absent_text(c.name, c.error or ""))
            elif definitions:
                out.append(f"{c.name}: {OK} {c.sdef.kind} {g.struct} {{"
                           f"  /* {c.file}, arch {c.arch} */")
                out.extend(clean(c.sdef.render()).splitlines()[1:])
            else:
                out.append(f"{c.name}: {OK} ({len(c.sdef.flat_fields())} members)")
        out += ["", "Config"]
        for base, other, changes in g.pairs():
            out.append(f"{base.name} and {other.name} {WARN if changes else OK}")
            out.extend(f"    {change_text(ch)}" for ch in changes)
    return clean("\n".join(out))


# -- Markdown ---------------------------------------------------------------------------


def _md_code(text: str) -> list[str]:
    return ["```c", *clean(text).splitlines(), "```"]


def report_md(rep: Report, commit_template: str | None = None, definitions: bool = True) -> str:
    """Markdown: a section per group, a code block per definition, a bullet per change."""
    out = [f"# struct {code(rep.struct)}", "", "## Regular: definitions", ""]
    for e in rep.versions:
        if e.sdef is None:
            out += [f"- **{md(e.label)}**: Absent {WARN}" + (f" — {md(e.note)}" if e.note else "")]
            continue
        out += [f"- **{md(e.label)}**: {OK} {code(f'{e.path}:{e.sdef.line}')}"]
        if definitions:
            out += ["", *("  " + ln for ln in _md_code(e.sdef.render())), ""]
    out += ["", "## Regular: consecutive releases", ""]
    for p in rep.pairs:
        out.append(f"### {md(p.old_label)} and {md(p.new_label)} {WARN if p.changes else OK}")
        out.append("")
        for ch in p.changes:
            out.append(f"- {code(change_text(ch))} — {md_commit(ch, commit_template)}")
        if p.changes:
            out.append("")
    if rep.configs is not None:
        g = rep.configs
        out += [f"## Config (at {md(g.rev)})", ""]
        for c in g.entries:
            if c.sdef is None:
                out.append(f"- **{md(c.name)}**: Absent {WARN}" + (f" — {md(c.error)}" if c.error else ""))
            else:
                out.append(f"- **{md(c.name)}**: {OK} {code(c.file)}, arch {code(c.arch)}")
        out.append("")
        for base, other, changes in g.pairs():
            out.append(f"### {md(base.name)} and {md(other.name)} {WARN if changes else OK}")
            out.append("")
            out += [f"- {code(change_text(ch))}" for ch in changes]
            if changes:
                out.append("")
    return clean("\n".join(out).rstrip() + "\n")


# -- JSON -------------------------------------------------------------------------------


def _sdef_json(sdef: StructDef | None) -> list | None:
    return [f.to_json() for f in sdef.fields] if sdef is not None else None


def report_json(rep: Report) -> dict:
    """Versions, pairs (each change with its commits) and the config group, as plain data."""
    keys, rows = lifetimes(rep.history)
    tags = [e.tag for e in rep.versions]
    obj: dict = {
        "struct": rep.struct,
        "versions": [{
            "tag": e.tag, "label": e.label, "commit": e.commit, "parent": e.parent,
            "present": e.present, "name": e.name, "path": e.path,
            "line": e.sdef.line if e.sdef else None, "fields": _sdef_json(e.sdef),
            "note": e.note or None,
        } for e in rep.versions],
        "pairs": [{
            "from": p.old, "to": p.new, "from_label": p.old_label, "to_label": p.new_label,
            "identical": p.identical, "changes": [ch.to_json(p.old, p.new) for ch in p.changes],
        } for p in rep.pairs],
        "lifetimes": [{
            "member": k, "states": dict(zip(tags, (c.state for c in rows[k]))),
            "guards": sorted({c.field.guard for c in rows[k] if c.field is not None and c.field.guard}),
        } for k in keys],
        "configs": None,
        "warnings": rep.warnings,
    }
    if rep.configs is not None:
        g = rep.configs
        obj["configs"] = {
            "at": g.rev, "commit": g.commit, "struct": g.struct,
            "entries": [{"name": c.name, "file": c.file, "arch": c.arch, "present": c.present,
                         "path": c.path, "fields": _sdef_json(c.sdef), "error": c.error}
                        for c in g.entries],
            "pairs": [{"base": b.name, "other": o.name, "identical": not chs,
                       "changes": [ch.to_json(b.name, o.name) for ch in chs]}
                      for b, o, chs in g.pairs()],
        }
    return obj
