"""model: the plain data passed between stages.

Frozen dataclasses only; every stage takes and returns these. ``to_json`` gives
the shapes documented in DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The version of the reading rules (srcdiff.parse and what it calls): part of every key under
# which a reading is stored, so a change to them reads everything again. Bump on any change.
PARSER_VERSION = "13"


@dataclass(frozen=True)
class Field:
    """One member of a struct or union.

    ``name`` is None for an anonymous struct/union member, whose members are in
    ``fields``. ``type`` is the canonical spelling (see ``parse.canonical_type``):
    e.g. ``"struct pci_dev *"``, ``"void *[6]"``, ``"int (*)(struct file *, int)"``,
    ``"union"`` for an anonymous union. ``bits`` is the bitfield width, if any.
    ``guard`` is the preprocessor condition under which the member exists
    (``"CONFIG_NUMA && !CONFIG_PREEMPT_RT"``) or None when unconditional.
    ``unparsed`` holds the member's source text when it could not be parsed
    (then ``type`` is ``"?"`` and ``name`` may be None). An enum's enumerator is a Field
    with ``enumerator`` set and its value in ``type`` (``"181"``, or the expression as written
    where it cannot be worked out).
    """

    name: str | None
    type: str
    bits: int | str | None = None
    guard: str | None = None
    line: int | None = None
    fields: tuple[Field, ...] = ()
    unparsed: str | None = None
    enumerator: bool = False

    @property
    def decl(self) -> str:
        """The member as C-like text: ``struct pci_dev *pdev``, ``u32 rbar[7]``; an
        enumerator ``BPF_FUNC_loop = 181``."""
        if self.unparsed is not None:
            return self.unparsed
        if self.enumerator:
            return f"{self.name} = {self.type}"
        return format_decl(self.type, self.name, self.bits)

    def key(self) -> str:
        """Identity used to match a member across versions."""
        if self.name is not None:
            return self.name
        if self.unparsed is not None:
            return "?" + " ".join(self.unparsed.split())
        inner = ",".join(f.key() for f in self.fields)
        return f"<anon {self.type}:{inner}>"

    def flatten(self) -> list[Field]:
        """Named members, with anonymous aggregates expanded into their members."""
        if self.name is None and self.fields and self.unparsed is None:
            out: list[Field] = []
            for f in self.fields:
                out.extend(f.flatten())
            return out
        return [self]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "guard": self.guard}
        if self.bits is not None:
            d["bits"] = self.bits
        if self.line is not None:
            d["line"] = self.line
        if self.fields:
            d["fields"] = [f.to_json() for f in self.fields]
        if self.unparsed is not None:
            d["unparsed"] = self.unparsed
        if self.enumerator:
            d["enumerator"] = True
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> Field:
        return Field(
            name=d.get("name"),
            type=d["type"],
            bits=d.get("bits"),
            guard=d.get("guard"),
            line=d.get("line"),
            fields=tuple(Field.from_json(x) for x in d.get("fields", ())),
            unparsed=d.get("unparsed"),
            enumerator=bool(d.get("enumerator")),
        )


@dataclass(frozen=True)
class StructDef:
    """A struct, union or enum definition as found in one file version.

    ``kind`` is ``"struct"``, ``"union"`` or ``"enum"`` (its fields are its enumerators);
    ``line`` is the 1-based line of the definition's first line in ``path``. ``warnings``
    lists problems met while reading it (each names file, line and reason).
    """

    name: str
    kind: str
    fields: tuple[Field, ...]
    path: str | None = None
    line: int | None = None
    warnings: tuple[str, ...] = ()

    def flat_fields(self) -> list[Field]:
        out: list[Field] = []
        for f in self.fields:
            out.extend(f.flatten())
        return out

    def has_unparsed(self) -> bool:
        """Whether some member, at any depth, could not be parsed (``Field.unparsed``). A
        warning alone (a macro left unevaluated, say) does not make a definition incomplete."""
        todo = list(self.fields)
        while todo:
            f = todo.pop()
            if f.unparsed is not None:
                return True
            todo.extend(f.fields)
        return False

    def render(self) -> str:
        """C-like text of the definition, one member a line, nested aggregates indented."""
        lines = [f"{self.kind} {self.name} {{"]
        _render_fields(self.fields, lines, 1)
        lines.append("};")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "struct": self.name,
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "fields": [f.to_json() for f in self.fields],
            "warnings": list(self.warnings),
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> StructDef:
        return StructDef(
            name=d["struct"],
            kind=d["kind"],
            fields=tuple(Field.from_json(x) for x in d["fields"]),
            path=d.get("path"),
            line=d.get("line"),
            warnings=tuple(d.get("warnings", ())),
        )


def format_decl(ctype: str, name: str | None, bits: int | str | None = None) -> str:
    """Put a member name into a canonical type: ``("u32 [7]", "rbar") -> "u32 rbar[7]"``.

    Canonical types mark where the name goes only implicitly: before the first
    ``[`` for arrays, inside ``(*)`` for pointers to functions or arrays.
    """
    nm = name or ""
    if "(*" in ctype:
        # The name goes right after the stars: int (*name)(int), int (*name[4])(int).
        k = ctype.index("(*") + 1
        while k < len(ctype) and ctype[k] in "* ":
            k += 1
        decl = ctype[:k] + nm + ctype[k:]
    elif "[" in ctype:
        i = ctype.index("[")
        base = ctype[:i].rstrip()
        sep = "" if base.endswith("*") else " "
        decl = f"{base}{sep}{nm}{ctype[i:]}"
    else:
        sep = "" if ctype.endswith("*") or not nm else " "
        decl = f"{ctype}{sep}{nm}"
    if bits is not None:
        decl += f" : {bits}"
    return decl.strip()


def _render_fields(fields: tuple[Field, ...], lines: list[str], depth: int) -> None:
    pad = "\t" * depth
    for f in fields:
        guard = f"\t/* if {f.guard} */" if f.guard else ""
        # an aggregate declared in place: members, or none at all ('struct { } e;' is not 'struct e;')
        if f.unparsed is None and (f.fields or f.type in ("struct", "union")):
            head = f.type if f.name is None else f.type.split("{")[0].strip()
            lines.append(f"{pad}{head} {{")
            _render_fields(f.fields, lines, depth + 1)
            tail = f" {f.name}" if f.name else ""
            lines.append(f"{pad}}}{tail};{guard}")
        elif f.unparsed is not None:
            lines.append(f"{pad}{f.unparsed}\t/* unparsed */{guard}")
        elif f.enumerator:
            lines.append(f"{pad}{f.decl},{guard}")
        else:
            lines.append(f"{pad}{f.decl};{guard}")
