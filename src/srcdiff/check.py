"""check: which releases a program's struct dependencies hold in, and why not where they fail.

A dependency list is a text file, one dependency a line: ``task_struct.pid`` (the program
reads that member), ``task_struct.pid int`` (and relies on its type: a retype changes what a
CO-RE read gets), ``task_struct.__state?`` (an existence probe: the program copes without
it), ``task_struct`` (the type must exist); ``enum bpf_func_id.BPF_FUNC_loop`` (an enum's
enumerator; ``enum bpf_func_id.BPF_FUNC_loop?`` a probe, ``enum bpf_func_id.BPF_FUNC_loop 181``
relies on its value, ``enum bpf_func_id`` the enum itself); ``#`` starts a comment. For each
selected release a dependency is ``present``, ``absent`` (the struct has no such member, the
enum no such enumerator), ``no-struct`` (no struct, or for an enum dependency no enum, of that
name), ``retyped`` (another type, or value, than the one given) or ``config-off`` (the member
is there only under a condition the release's configuration, ``--config-at TAG=FILE`` or
``--config``, turns off); an absence a rename began names the new name (``renamed``:
``task_struct.state`` -> ``__state``). A compiled CO-RE BPF object (``clang -target bpf -g``) is
read for the members its CO-RE relocations reach and the enumerators its enum-value
relocations ask about (bpfobj); one only existence relocations ask about is a probe.
Its own BTF says what it reads there (``BPF_CORE_READ`` reads sizeof the program's member at
the relocated offset): where a release's member has another byte size, or another signedness
(an integer read by value, or a bitfield its field-signed/lshift/rshift relocations read), the
member is ``retyped`` there — the read gets garbage silently. A release's type is sized by
lp64; one it does not know is not judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from srcdiff import lp64
from srcdiff.errors import SrcdiffError
from srcdiff.history import History, field_map

PRESENT, ABSENT, NO_STRUCT, RETYPED, CONFIG_OFF = (
    "present", "absent", "no-struct", "retyped", "config-off")
_LINE_RE = re.compile(r"^(enum\s+)?([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*))?(\?)?"
                      r"(?:\s+(.+))?$")


@dataclass(frozen=True)
class Dependency:
    """One line of a dependency list."""

    struct: str
    field: str | None  # None: the type itself
    type: str | None = None  # the type the program relies on, when given
    probe: bool = False  # an existence probe: absence is not a failure
    programs: tuple[str, ...] = ()
    relos: tuple[str, ...] = ()  # a BPF object's CO-RE relocation kinds asking for it
    reads: tuple = ()  # a BPF object's bpfobj.Shape's of it: what the program reads there
    enum: bool = False  # STRUCT names an enum, FIELD one of its enumerators

    @property
    def kinds(self) -> list[str]:
        if self.relos:
            return list(self.relos)
        if self.field is None:
            return ["type-exists"]
        if self.enum:
            return ["enumval-exists"] if self.probe or not self.type else ["enumval-value"]
        if self.probe:
            return ["field-exists"]
        return ["field-offset", "field-type"] if self.type else ["field-offset"]

    @property
    def label(self) -> str:
        """How outputs name it: ``task_struct.pid``, ``struct task_struct``,
        ``enum bpf_func_id.BPF_FUNC_loop``."""
        if self.enum:
            return f"enum {self.struct}.{self.field}" if self.field else f"enum {self.struct}"
        return f"{self.struct}.{self.field}" if self.field else f"struct {self.struct}"


@dataclass
class Result:
    dep: Dependency
    releases: dict[str, str]
    guards: dict[str, str] = field(default_factory=dict)
    changes: list[dict] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # absent tag -> the name it went to
    # tag -> what the program reads and what the release has, where both are known
    sizes: dict[str, dict] = field(default_factory=dict)

    def failed(self) -> list[str]:
        """The releases where the program would not work as written."""
        if self.dep.probe:
            return []
        return [t for t, s in self.releases.items() if s != PRESENT]

    def to_json(self) -> dict:
        d = self.dep
        return {"struct": d.struct, "field": d.field, "enum": d.enum, "type": d.type,
                "kinds": d.kinds,
                "programs": list(d.programs), "releases": self.releases, "guards": self.guards,
                "changes": self.changes, "renamed": self.renamed,
                "reads": [_shape_json(s) for s in d.reads], "sizes": self.sizes,
                "failed": self.failed()}

    def misreads(self) -> dict[str, dict]:
        """The releases retyped for what the program reads: tag -> its "sizes" entry."""
        return {t: e for t, e in self.sizes.items() if self.releases.get(t) == RETYPED}


def read_dependencies(paths: list[str]) -> list[Dependency]:
    """The dependencies the files PATHS list, merged by (struct, field); SrcdiffError naming
    file and line for a line that is not one, and for a compiled object."""
    merged: dict[tuple, Dependency] = {}
    for p in paths:
        try:
            data = Path(p).read_bytes()
        except OSError as e:
            raise SrcdiffError(f"{p}: cannot read: {e.strerror or e}") from None
        if data.startswith(b"\x7fELF"):
            for d in _object_dependencies(p):
                key = (d.enum, d.struct, d.field, None, d.probe)
                old = merged.get(key)
                merged[key] = d if old is None else Dependency(
                    d.struct, d.field, None, d.probe, old.programs + d.programs,
                    tuple(dict.fromkeys(old.relos + d.relos)),
                    tuple(dict.fromkeys(old.reads + d.reads)), d.enum)
            continue
        _merge_lines(data.decode("utf-8", "replace").splitlines(), p, merged)
    if not merged:
        raise SrcdiffError(f"{', '.join(paths)}: no dependency listed")
    return list(merged.values())


def parse_dependency_lines(lines: list[str], where: str) -> list[Dependency]:
    """The dependencies LINES list (as a DEPS.txt's lines; WHERE names them in errors and
    is their "program"), merged by (struct, field)."""
    merged: dict[tuple, Dependency] = {}
    _merge_lines(lines, where, merged)
    if not merged:
        raise SrcdiffError(f"{where}: no dependency listed")
    return list(merged.values())


def _merge_lines(lines: list[str], p: str, merged: dict[tuple, Dependency]) -> None:
    for n, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE_RE.match(line)
        if m is None or (m.group(5) and not m.group(3)) or (  # a type goes with a member
                m.group(1) and m.group(3) and "." in m.group(3)):  # an enumerator is a name
            raise SrcdiffError(f"{p}:{n}: not a dependency (STRUCT.FIELD [TYPE], STRUCT.FIELD?,"
                               f" STRUCT or enum NAME.ENUMERATOR): {line[:80]!r}")
        enum, struct, fld, probe, typ = m.groups()
        key = (bool(enum), struct, fld, typ, bool(probe))
        old = merged.get(key)
        progs = (old.programs if old else ()) + ((p,) if not old or p not in old.programs else ())
        merged[key] = Dependency(struct, fld, typ, bool(probe), progs, (), enum=bool(enum))


def _object_dependencies(path: str) -> list[Dependency]:
    """A compiled CO-RE object's dependencies (bpfobj): one per struct member or type, with
    the relocation kinds asking for it; one that only existence relocations ask for is a
    probe (the program checks before it reads)."""
    from srcdiff.bpfobj import dependencies

    kinds: dict[tuple[bool, str, str | None], list[str]] = {}
    reads: dict[tuple[bool, str, str | None], dict] = {}
    plain: set[tuple[bool, str, str | None]] = set()  # read at least once without a flavor
    for a in dependencies(path):
        key = (a.kind.startswith("enumval-"), a.struct, a.field)
        kinds.setdefault(key, [])
        if a.kind not in kinds[key]:
            kinds[key].append(a.kind)
        if a.shape is not None:
            reads.setdefault(key, {})[a.shape] = None
        if not a.flavored:
            plain.add(key)
    # a probe: only existence relocations ask about it, or it is checked for existence before
    # it is read, or it is read only through a flavor (a compat path an existence check chose)
    return [Dependency(st, f, None,
                       all(k.endswith("-exists") for k in ks)
                       or any(k.endswith("-exists") for k in ks) or (en, st, f) not in plain,
                       (path,), tuple(ks), tuple(reads.get((en, st, f), ())), en)
            for (en, st, f), ks in kinds.items()]


def check(history: History, dep: Dependency, configs: dict[str, object]) -> Result:
    """DEP at every release of HISTORY (read without a configuration, so guards are known; an
    enum dependency's history is the enum's, read with kind "enum"); CONFIGS maps a tag to the
    preprocess.Config its guards are decided with."""
    from srcdiff.since import _changes

    releases, guards, sizes = {}, {}, {}
    for v in history.ordered():
        sdef = history.sdef(v.tag)
        if sdef is None:
            releases[v.tag] = NO_STRUCT
            continue
        if dep.field is None:
            releases[v.tag] = PRESENT
            continue
        f = _member(sdef, dep.field)
        if f is None:
            releases[v.tag] = ABSENT
        elif f.guard and v.tag in configs and not _holds(f.guard, configs[v.tag]):
            releases[v.tag] = CONFIG_OFF
        elif dep.type is not None and " ".join(dep.type.split()) != f.type:
            releases[v.tag] = RETYPED
        else:
            releases[v.tag] = PRESENT
            judged = _judge(dep, f)
            if judged is not None:
                sizes[v.tag], differs = judged
                releases[v.tag] = RETYPED if differs else PRESENT
        if f is not None and f.guard:
            guards[v.tag] = f.guard
    changes = _changes(history, dep.field) if dep.field else []
    return Result(dep, releases, guards, changes, _renamed(history, releases, changes, dep.field),
                  sizes)


_SIGN_KINDS = {"field-signed", "field-lshift", "field-rshift"}


def _judge(dep: Dependency, f) -> tuple[dict, bool] | None:
    """What the program reads at member F (DEP.reads) against F's type: ({"program": ...,
    "release": ...}, whether a read gets another size or signedness than the program's);
    None where no read can be judged (lp64 does not know the type). A size is judged for a
    read of bytes, a signedness for an integer read by value or a bitfield relocations
    shift and sign-extend."""
    first = None
    for shape in dep.reads:
        spelled = lp64.element(f.type, shape.indexed)
        ctype = lp64.resolve(spelled, None if shape.indexed else f.bits) if spelled else None
        if ctype is None:
            continue
        size = shape.size is not None and ctype.size is not None
        sign = (shape.signed is not None and ctype.signed is not None
                and (shape.integer and ctype.integer or bool(_SIGN_KINDS & set(dep.kinds))))
        if not size and not sign:
            continue
        differs = (size and shape.size != ctype.size) or (sign and shape.signed != ctype.signed)
        release = {"type": spelled, "bytes": ctype.size, "signed": ctype.signed}
        if f.bits is not None and not shape.indexed:
            release["bits"] = f.bits
        entry = {"program": _shape_json(shape), "release": release}
        if differs:
            return entry, True
        first = first or entry
    return (first, False) if first else None


def _shape_json(shape) -> dict:
    out = {"type": shape.type, "bytes": shape.size, "signed": shape.signed}
    if shape.bits is not None:
        out["bits"] = shape.bits
    if shape.indexed:
        out["indexed"] = shape.indexed
    return out


def _renamed(history: History, releases: dict[str, str], changes: list[dict],
             name: str | None) -> dict[str, str]:
    """The releases where NAME is absent because a rename took it away: tag -> the new name.
    An absence is followed back along its release line to the edge where it began."""
    into = {(c["from"], c["release"]): c["new"] for c in changes
            if c["change"] == "renamed" and c["old"] == name}
    out: dict[str, str] = {}
    for tag in releases:
        t = tag
        while into and releases.get(t) == ABSENT:
            p = history.versions.parent(t)
            if p is None:
                break
            if (p, t) in into:
                out[tag] = into[(p, t)]
                break
            t = p
    return out


def _member(sdef, dotted: str):
    """The member DOTTED (``in6_u.u6_addr32``: through members of unnamed types) of SDEF."""
    first, *rest = dotted.split(".")
    f = field_map(sdef).get(first)
    for name in rest:
        if f is None:
            return None
        f = next((g for sub in f.fields for g in sub.flatten() if g.name == name), None)
    return f


def _holds(guard: str, config) -> bool:
    """Whether GUARD holds under CONFIG (indexdb.guard_holds: CONFIG_ names decided only)."""
    from srcdiff.indexdb import guard_holds

    return guard_holds(guard, config)
