"""trace_events: the ``struct trace_event_raw_<name>`` the kernel's TRACE_EVENT macros generate.

No header spells these structs out: include/trace/trace_events.h (stage 1,
include/trace/stages/stage1_struct_define.h since 5.18) turns each
``TRACE_EVENT(name, TP_PROTO(..), TP_ARGS(..), TP_STRUCT__entry(..), ..)`` or
``DECLARE_EVENT_CLASS(name, ..)`` into::

    struct trace_event_raw_<name> { struct trace_entry ent; <entries> char __data[]; };

(``DEFINE_EVENT(class, name, ..)`` makes none: its events use ``trace_event_raw_<class>``).
eBPF programs read them as tracepoint contexts, so srcdiff reads them too: where a file defines
no ``struct trace_event_raw_X``, ``synthesize`` rewrites the macro call for X in the file's
comment-stripped text into that struct, at the call's place and each member on its entry's
line, so the rest of srcdiff (preprocess, parse, history, attribution) reads it as any other.
The #if's around the call (not the file's include guard), and around the #define of a
header's own name for the macro, are repeated inside the body, so the members carry their
guard. The entry macros are the kernel's stage-1 table (``_MEMBERS``); an entry made by any
other macro is left as written, for the parser to expand or show unparsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PREFIX = "trace_event_raw_"

# The macros that generate a struct, and which argument is TP_STRUCT__entry (0-based).
_EVENT_MACROS = {
    "TRACE_EVENT": 3,
    "TRACE_EVENT_FN": 3,
    "TRACE_EVENT_CONDITION": 4,
    "TRACE_EVENT_FN_COND": 4,
    "DECLARE_EVENT_CLASS": 3,
}


def _dyn(prefix: str, item: int) -> Callable[[list[str]], str]:
    return lambda a: f"u32 {prefix}{a[item]};"


# Entry macro -> (number of arguments, the member it declares): stage1_struct_define.h.
_MEMBERS: dict[str, tuple[int, Callable[[list[str]], str]]] = {
    "__field": (2, lambda a: f"{a[0]} {a[1]};"),
    "__field_ext": (3, lambda a: f"{a[0]} {a[1]};"),
    "__field_struct": (2, lambda a: f"{a[0]} {a[1]};"),
    "__field_struct_ext": (3, lambda a: f"{a[0]} {a[1]};"),
    "__array": (3, lambda a: f"{a[0]} {a[1]}[{a[2]}];"),
    "__dynamic_array": (3, _dyn("__data_loc_", 1)),
    "__string": (2, _dyn("__data_loc_", 0)),
    "__string_len": (3, _dyn("__data_loc_", 0)),
    "__vstring": (3, _dyn("__data_loc_", 0)),
    "__bitmask": (2, _dyn("__data_loc_", 0)),
    "__cpumask": (1, _dyn("__data_loc_", 0)),
    "__sockaddr": (2, _dyn("__data_loc_", 0)),
    "__rel_dynamic_array": (3, _dyn("__rel_loc_", 1)),
    "__rel_string": (2, _dyn("__rel_loc_", 0)),
    "__rel_string_len": (3, _dyn("__rel_loc_", 0)),
    "__rel_bitmask": (2, _dyn("__rel_loc_", 0)),
    "__rel_cpumask": (1, _dyn("__rel_loc_", 0)),
    "__rel_sockaddr": (2, _dyn("__rel_loc_", 0)),
}

_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_DIRECTIVE_RE = re.compile(r"^[ \t]*#[ \t]*(\w+)[ \t]*(.*)$")
# a header's own name for one of the macros (sched.h):
# #define DECLARE_EVENT_CLASS_SCHEDSTAT DECLARE_EVENT_CLASS
_ALIAS_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(\w+)[ \t]*$", re.M)


def event_of(name: str) -> str | None:
    """The event (or event class) whose macros generate struct NAME, or None for any other."""
    event = name[len(PREFIX):] if name.startswith(PREFIX) else ""
    return event if _IDENT_RE.fullmatch(event) else None


def grep_pattern(event: str, events_re: str | None = None) -> str:
    """Extended regex matching the line that opens the macro call generating EVENT's struct
    (or the struct of any event the extended regex EVENTS_RE matches)."""
    # [A-Z_]*: also a header's own name for one of them (_ALIAS_RE); synthesize tells
    return (r"(^|[^A-Za-z0-9_])[A-Z_]*(TRACE_EVENT|DECLARE_EVENT_CLASS)[A-Z_]*[[:space:]]*"
            rf"\([[:space:]]*{events_re or re.escape(event)}[[:space:]]*(,|$)")


def line_re(event: str, events_re: str | None = None) -> re.Pattern[str]:
    """grep_pattern(EVENT, EVENTS_RE) as a Python (and Perl) regex, for one line of text."""
    return re.compile(r"(?:^|[^A-Za-z0-9_])[A-Z_]*(?:TRACE_EVENT|DECLARE_EVENT_CLASS)[A-Z_]*\s*"
                      rf"\(\s*{events_re or re.escape(event)}\s*(?:,|$)")


def synthesize(clean: str, name: str) -> str | None:
    """CLEAN (a comment-stripped header) with the first macro call generating struct NAME
    rewritten into that struct's definition, lines kept where the call leaves room; None when
    NAME is not a trace event struct or CLEAN has no such call."""
    event = event_of(name)
    if event is None or event not in clean:
        return None
    macros = dict(_EVENT_MACROS)
    alias_guards: dict[str, list[list[str]]] = {}
    for a in _ALIAS_RE.finditer(clean):  # sched.h's DECLARE_EVENT_CLASS_SCHEDSTAT
        if a.group(2) in _EVENT_MACROS and a.group(1) not in macros:
            macros[a.group(1)] = _EVENT_MACROS[a.group(2)]
            alias_guards[a.group(1)] = _guards(clean, a.start())
    call = re.compile(rf"\b({'|'.join(macros)})\s*\(\s*{re.escape(event)}\s*,")
    for m in call.finditer(clean):
        if _in_directive(clean, m.start()):
            continue  # a #define of the macro itself (include/trace/trace_events.h)
        args, end = _arguments(clean, m.end(1))
        tstruct = macros[m.group(1)]
        if end is None:
            return None  # never closes: nor would a later call (and each would scan to the end)
        if len(args) <= tstruct:
            continue
        while end < len(clean) and clean[end] in " \t":
            end += 1
        if clean.startswith(";", end):
            end += 1
        entries = _entries(clean, *args[tstruct])
        guards = alias_guards.get(m.group(1), []) + _guards(clean, m.start())
        body = _layout(clean, m.start(), end, name, entries, guards)
        return clean[: m.start()] + body + clean[end:]
    return None


# ---------------------------------------------------------------------------------------------
# Reading the call


def _in_directive(text: str, at: int) -> bool:
    """Whether offset AT of TEXT is on a preprocessor line (or its continuations)."""
    start = text.rfind("\n", 0, at) + 1
    while True:
        if text[start:at].lstrip().startswith("#"):
            return True
        if start < 2 or text[start - 2] != "\\":
            return False
        at = start - 1
        start = text.rfind("\n", 0, at) + 1


def _arguments(text: str, at: int) -> tuple[list[tuple[int, int]], int | None]:
    """The top-level arguments, as (start, end) spans, of the parenthesised list opening at or
    after offset AT, and the offset just past its ')' (None when it never closes)."""
    at = text.index("(", at)
    args: list[tuple[int, int]] = []
    depth, start, i, n = 0, at + 1, at, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            i = _skip_literal(text, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((start, i))
                return args, i + 1
        elif c == "," and depth == 1:
            args.append((start, i))
            start = i + 1
        i += 1
    return args, None


def _skip_literal(text: str, i: int) -> int:
    """Offset past the string or character literal opening at I (or past its line)."""
    q, i = text[i], i + 1
    while i < len(text) and text[i] not in (q, "\n"):
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _entries(text: str, a: int, b: int) -> list[tuple[int, str]]:
    """(offset, member declaration) of each entry of the TP_STRUCT__entry(...) in TEXT[A:B]."""
    m = re.compile(r"\s*TP_STRUCT__entry\s*\(").match(text, a, b)
    if m is None:
        return [(a, text[a:b].strip() + ";")] if text[a:b].strip() else []
    args, end = _arguments(text, m.end() - 1)
    if end is None or end > b:
        return []
    a, b = args[0][0], args[-1][1]  # the entries, commas between macros included
    out: list[tuple[int, str]] = []
    i = a
    while i < b:
        while i < b and text[i] in " \t\n\r\f\v;,":
            i += 1
        if i >= b:
            break
        m = _IDENT_RE.match(text, i)
        j = m.end() if m else i + 1
        k = j
        while k < b and text[k] in " \t\n":
            k += 1
        if m and k < b and text[k] == "(":
            spans, close = _arguments(text, k)
            close = min(close or b, b)
            out.append((i, _member(m.group(), [text[s:e].strip() for s, e in spans],
                                   text[i:close])))
            i = close
        else:  # not an entry macro: taken as written up to the next ';'
            end = text.find(";", i, b)
            end = b if end < 0 else end + 1
            out.append((i, text[i:end].strip().rstrip(";") + ";"))
            i = end
    return out


def _member(macro: str, args: list[str], written: str) -> str:
    """The declaration the entry MACRO(ARGS) makes, or WRITTEN itself for another macro."""
    known = _MEMBERS.get(macro)
    if known is None or len(args) != known[0] or not all(args):
        return " ".join(written.split()) + ";"
    return known[1](args)


def _guards(text: str, at: int) -> list[list[str]]:
    """The #if chains open at offset AT of TEXT, outermost first, each as the directive lines
    that lead to the branch AT is in (``["#ifdef CONFIG_X", "#else"]``); the file's include
    guard (``#ifndef X`` then ``#define X``, or anything naming TRACE_HEADER_MULTI_READ, which
    every trace header opens with) is left out: it is how the header is read, not a condition."""
    stack: list[list[str]] = []
    dropped: list[bool] = []
    pending: str | None = None  # the name an #ifndef just opened, for the include guard test
    lines = text[:at].split("\n")
    k = 0
    while k < len(lines):
        line = lines[k]
        while line.endswith("\\") and k + 1 < len(lines):
            k += 1
            line = line[:-1] + " " + lines[k]
        k += 1
        d = _DIRECTIVE_RE.match(line)
        if d is None:
            continue
        what, rest = d.group(1), " ".join(d.group(2).split())
        if what == "define" and pending and stack and rest.split("(")[0].split(" ")[0] == pending:
            dropped[-1] = True
        pending = rest if what == "ifndef" else None
        if what in ("if", "ifdef", "ifndef"):
            stack.append([f"#{what} {rest}"])
            dropped.append("TRACE_HEADER_MULTI_READ" in rest)
        elif what in ("elif", "else", "elifdef", "elifndef") and stack:
            stack[-1].append(f"#{what} {rest}".rstrip())
        elif what == "endif" and stack:
            stack.pop()
            dropped.pop()
    return [chain for chain, off in zip(stack, dropped) if not off]


def _layout(text: str, start: int, end: int, name: str, entries: list[tuple[int, str]],
            guards: list[list[str]]) -> str:
    """The definition of NAME to put in place of TEXT[START:END]: each member on the line of its
    entry, as many lines as the call had while they suffice (more only when they do not)."""
    first = text.count("\n", 0, start)
    rows: list[list[str]] = [[] for _ in range(text.count("\n", start, end) + 1)]
    cur = 0

    def put(piece: str, line: int | None = None, own: bool = False) -> None:
        nonlocal cur
        if line is not None:
            cur = max(cur, line)
        if own and rows[cur]:
            cur += 1
        while len(rows) <= cur:
            rows.append([])
        rows[cur].append(piece)
        if own:
            cur += 1
            while len(rows) <= cur:
                rows.append([])

    put(f"struct {name} {{")
    for chain in guards:
        for directive in chain:
            put(directive, own=True)
    put("struct trace_entry ent;")
    for at, decl in entries:
        put(decl, text.count("\n", 0, at) - first)
    put("char __data[];")
    for _chain in guards:
        put("#endif", own=True)
    put("};")
    return "\n".join(" ".join(r) for r in rows)
