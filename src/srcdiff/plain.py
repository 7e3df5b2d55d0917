"""plain: the outputs that need no history: escaping, JSON text, warnings, ``show`` and
``structs``.

Imports nothing heavy (no click, git, networkx or parser), so the answers srcdiff.quick gives
from the index are rendered by the very code the full commands use.
"""

from __future__ import annotations

import json
import re
from typing import Any

from srcdiff.model import StructDef

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_C1 = re.compile(r"[\x7f-\x9f]")


def clean(text: str | None) -> str:
    """TEXT with control characters (ANSI escapes included) made visible and harmless; tab and
    newline are kept. Idempotent: what it writes (``\\x1b``) holds no control character."""
    if not text:
        return ""
    return _CTRL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def dumps(obj: Any, pretty: bool | None = None) -> str:
    """JSON text: indented for a person at a terminal, compact (and ten times faster) in a pipe."""
    if pretty is None:
        import sys

        pretty = sys.stdout.isatty()
    if pretty:
        text = json.dumps(obj, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return json_c1(text)


def json_c1(text: str) -> str:
    """JSON TEXT (from json.dumps) with DEL and the C1 controls written as \\uXXXX: json
    leaves them raw (\\x9b is a terminal's CSI). Outside strings JSON text is printable
    ASCII, so each one found is inside a string, where \\uXXXX is its escape."""
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def warning_line(msg: str) -> str:
    """A warning as srcdiff prints it on stderr (without the newline)."""
    return f"srcdiff: warning: {clean(msg)}"


_VERSION_WARNING_RE = re.compile(r"(?P<ver>[^:\s]+): (?P<path>[^:]+):(?P<line>\d+): (?P<why>.*)\Z",
                                 re.S)
_UNKNOWN_MACRO_RE = re.compile(r"unknown macro (\w+)")


def merge_warnings(warnings: list[str]) -> list[str]:
    """WARNINGS with the same problem at many versions ("VERSION: path:line: reason", the line
    aside) said once, at the first version, with how many more have it: an unknown macro once
    per macro and file, whatever member uses it."""
    groups: dict[tuple[str, ...], list[str]] = {}
    first: dict[tuple[str, ...], str] = {}
    for w in dict.fromkeys(warnings):
        m = _VERSION_WARNING_RE.match(w)
        if m is None:
            key: tuple[str, ...] = (w,)
        else:
            um = _UNKNOWN_MACRO_RE.match(m["why"])
            key = (m["path"], um.group(0) if um else m["why"])
        first.setdefault(key, w)
        groups.setdefault(key, []).append(m["ver"] if m else "")
    out = []
    for key, w in first.items():
        vers = list(dict.fromkeys(groups[key]))
        if len(vers) > 1:
            w += f" (also at {len(vers) - 1} more version{'s' if len(vers) > 2 else ''}, to {vers[-1]})"
        out.append(w)
    return out


# -- show -----------------------------------------------------------------------------


def show_json(sdef: StructDef, rev: str, commit: str) -> dict:
    d = sdef.to_json()
    return {"struct": sdef.name, "kind": sdef.kind, "rev": rev, "commit": commit,
            "path": sdef.path, "line": sdef.line, "fields": d["fields"], "warnings": d["warnings"]}


def show_text(sdef: StructDef, rev: str, commit: str) -> str:
    head = f"# {rev} ({commit[:12]}) {sdef.path}:{sdef.line}"
    return clean(head + "\n" + sdef.render())


# -- structs ----------------------------------------------------------------------------


def render_changed(data: dict) -> str:
    """``structs --changed`` as text: the counts, then one line per struct."""
    ch = data["changed"]
    lines = [f"{data['from']} -> {data['to']}: {len(data['added'])} added, "
             f"{len(data['removed'])} removed, {len(ch)} changed"]
    lines += [f"  + {n}" for n in data["added"]]
    lines += [f"  - {n}" for n in data["removed"]]
    for c in ch:
        parts = [f"+{m}" for m in c["added"]] + [f"-{m}" for m in c["removed"]] + [
            f"~{m}" for m in c["retyped"]]
        lines.append(f"  ~ {c['name']}: {' '.join(parts)}")
    return clean("\n".join(lines))


def render_having(data: dict) -> str:
    """``structs --has`` as text: one line per struct, with the releases (and types)."""
    tags = data["versions"]
    lines = [f"{len(data['structs'])} struct(s) with a member {data['field']} "
             f"in {len(tags)} release(s)"]
    for s in data["structs"]:
        rel = s["releases"]
        types = sorted(set(rel.values()))
        where = "all releases" if len(rel) == len(tags) else ", ".join(t for t in tags if t in rel)
        lines.append(f"  {s['name']}: {where} ({'; '.join(types)})")
    return clean("\n".join(lines))
