"""parse: from the bytes of one header to the StructDef of one struct, union or enum in it.

Extract the body, run the body's #if's and member-producing macros, then parse each member
declaration with one shared pycparser CParser (results cached by declaration text).

Canonical type spelling (``Field.type``), produced by ``canonical_type``:

- qualifiers first, in the order ``const volatile restrict _Atomic``; annotations
  (``__iomem``, ``__rcu``, ``__user``, ``__percpu``, ``__aligned(n)``, ``__counted_by(x)``,
  ``__attribute__((...))`` ...), comments and whitespace never appear;
- basic types in one spelling: ``unsigned`` is ``unsigned int``, ``long int`` / ``signed long``
  are ``long``, ``long unsigned int`` is ``unsigned long``, ``short int`` is ``short``,
  ``long long int`` is ``long long``; ``signed char`` stays distinct from ``char``;
- a pointer is `` *`` after the base, qualified pointers ``*const``: ``const char *const *``;
- arrays follow without a space: ``u32[7]``, ``void *[6]``, ``int[2][3]``; a size is the number
  it evaluates to (macros followed through the file and its #include's), else the size as
  written with whitespace normalised (``unsigned long[BITS_TO_LONGS(NR_X)]``); flexible
  arrays are ``[]``;
- functions and pointers to functions or arrays use the C abstract declarator, parameter names
  dropped: ``int (*)(struct file *, int)``, ``char *(*)(void)``, ``int (*)[4]``;
- ``typeof(expr)`` is kept as ``typeof(expr)`` (also for ``__typeof__``);
- an anonymous member aggregate has type ``struct`` or ``union`` and its members in
  ``Field.fields``; a named one ``struct { ... } foo;`` has type ``struct`` (``struct bar`` when
  tagged) and its members too; an enum declared in place is ``enum`` / ``enum tag``.

Names (``Field.name``, tags and typedef names in ``Field.type``) are what the compiler sees:
object-like macros are expanded (``#define rcu_head callback_head`` makes ``struct rcu_head
rcu_head;`` the member ``callback_head`` of type ``struct callback_head``), unless the
expansion does not parse (an accessor #define'd after the struct; where a #define stands in
the file is not tracked). Function-like macros without ``(`` are left alone, as cpp does.

Enums (``kind="enum"``, asked for by name only): one Field per enumerator, ``enumerator`` set,
``type`` its value: the number it evaluates to (an explicit ``= expr`` with its macros and the
earlier enumerators; an implicit one is the previous plus one), else the expression as written
(``PREV + 1`` after an enumerator under another #if). A macro heading an item is expanded
(``__BPF_FUNC_MAPPER(__BPF_ENUM_FN)`` lays out bpf_func_id's enumerators, ``##`` pasting
their names) and what it produces split at its commas.

Guards (``Field.guard``): the #if conditions around the member inside the struct body (relative
to the enclosing aggregate's guard), joined with `` && ``: ``#ifdef X`` and ``defined(X)`` are
written ``X``, ``#ifndef X`` ``!X``, ``#else``/``#elif`` branches add the negation of the earlier
branches' conditions, ``IS_ENABLED(CONFIG_X)`` is kept as written, constant conditions
(``#if 0``, ``#if 1``, and ``#if 1 || X``, ``#if 0 && X``, ``#if 1 ? 2 : X`` whatever X is) are
decided and never written. With a config a condition is decided where the operands that can be
evaluated decide it (``(BITS_PER_LONG > 32) || (PAGE_SIZE >= 65536)`` on a 64-bit machine, even
when PAGE_SIZE needs a macro no header read defines); otherwise both branches stay, guarded,
with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from srcdiff import trace_events
from srcdiff.extract import Definition, find_definitions
from srcdiff.kernel_macros import builtin_macros
from srcdiff.limits import (
    MAX_MACRO_TOKENS,
    MAX_MEMBER_STEPS,
    MAX_NESTING,
    MAX_QUOTE,
    body_too_long,
    quote,
)
from srcdiff.model import PARSER_VERSION, Field, StructDef  # noqa: F401  (re-exported)
from srcdiff.preprocess import (
    Config,
    ExpansionTooLarge,
    ExprError,
    MacroEnv,
    _substitute,
    condition_text,
    condition_value,
    Macro,
    _ARCH_PATH_RE,
    _TARGET_NAMES,
    decode_source,
    default_machine_predefines,
    eval_int,
    expand,
    guard_text,
    is_ident,
    join_tokens,
    logical_lines,
    negate,
    parse_define,
    strip_comments,
    tokenize,
)

# The bounds live in srcdiff.limits (docs/SAFETY.md); local names kept for readability.
_MAX_DEPTH = MAX_NESTING
_MAX_STEPS = MAX_MEMBER_STEPS
_EXPANSION_BUDGET = MAX_MACRO_TOKENS  # tokens produced by member macros per struct

Tok = tuple[str, int, tuple[str, ...]]  # (text, line, guard terms)


def read_struct(
    data: bytes,
    name: str,
    *,
    path: str = "<file>",
    kind: str | None = None,
    config: Config | None = None,
    include_reader: Callable[[str], bytes | None] | None = None,
    arch: str = "x86",
) -> StructDef | None:
    """Definition of struct/union NAME (or of typedef NAME of a struct/union) in DATA.

    kind: "struct", "union" or None (either), or "enum" (enums are read only when asked
    for). Returns None when DATA does not define it (forward
    declarations and uses are not definitions). Never raises on bad content: problems become
    StructDef.warnings ("path:line: reason") and Field(unparsed=text) entries.
    include_reader(repo_relative_path) returns that file's bytes at the same revision or None;
    it is used, on the first name the file cannot answer and within ``preprocess.INCLUDE_BUDGET``
    distinct paths looked up, to follow #include's to the #define's of macros the struct uses
    (member-producing macros, array sizes).
    """
    clean, defs = scan_named(data, name, enums=kind == "enum")
    cands = [d for d in defs if kind is None or d.kind == kind]
    if not cands:
        return None
    try:
        sdef = _read(clean, cands, name, path, config, include_reader, arch)
        nul = _nul_line(data, sdef.line or 1, clean, cands)
        if nul is None:
            return sdef
        return dataclasses.replace(sdef, warnings=sdef.warnings + (
            f"{path}:{nul}: NUL byte ignored, as the compiler does",))
    except RecursionError:
        reason = "nested too deeply"
    except Exception as e:  # noqa: BLE001 - bad content must become a warning, not a traceback
        reason = f"internal error: {type(e).__name__}: {quote(str(e))}"
    d = cands[0]
    a, b = d.body_span(clean)
    return StructDef(
        name, d.kind,
        (Field(None, "?", line=d.line, unparsed=" ".join(clean[a:b].split())[:2000]),),
        path, d.line, (f"{path}:{d.line}: {reason}",),
    )


def _nul_line(data: bytes, first: int, clean: str, cands: list[Definition]) -> int | None:
    """Line of the first NUL byte of DATA inside the definition starting at line FIRST, or None."""
    if b"\0" not in data:
        return None
    d = next((c for c in cands if c.line == first), cands[0])
    last = d.line + clean.count("\n", d.start, d.end)
    at = data.find(b"\0")
    while at >= 0:
        line = data.count(b"\n", 0, at) + 1
        if line > last:
            return None
        if line >= d.line:
            return line
        at = data.find(b"\0", at + 1)
    return None


def canonical_type(node: Any) -> str:
    """Canonical spelling (see module docstring) of a pycparser type node (``Decl.type``)."""
    base, decl = _walk(node, "")
    if not decl:
        return base
    return base + decl if decl[0] == "[" else f"{base} {decl}"


# ---------------------------------------------------------------------------------------------
# File level

class _Scanned:
    """What is known of one file content: its comment-stripped text, every definition in it
    (None until a caller asks for all), and the definitions of the names asked for alone."""

    __slots__ = ("clean", "every", "named", "generated")

    def __init__(self, clean: str):
        self.clean = clean
        self.every: list[Definition] | None = None
        self.named: dict[str, list[Definition]] = {}
        # name -> (text, definitions) of a struct macros generate (trace_events)
        self.generated: dict[str, tuple[str, list[Definition]]] = {}


_scan_cache: dict[bytes, _Scanned] = {}  # by content
_SCAN_CACHE_BYTES = 64 << 20  # whole blobs are kept: bound their summed size, not only count
_scan_cache_size = 0


def _scanned(data: bytes) -> _Scanned:
    key = bytes(data)  # bytes hash is computed once per object and cached by Python
    hit = _scan_cache.get(key)
    if hit is None:
        hit = _Scanned(strip_comments(decode_source(data)))
        global _scan_cache_size
        if len(_scan_cache) > 64 or _scan_cache_size + len(key) > _SCAN_CACHE_BYTES:
            _scan_cache.clear()
            _scan_cache_size = 0
        _scan_cache[key] = hit
        _scan_cache_size += len(key)
    return hit


def scan(data: bytes, enums: bool = False) -> tuple[str, list[Definition]]:
    """(comment-stripped text, every struct/union definition in it) of the header DATA;
    ``typedef struct TAG {...} NAME;`` is listed under TAG and under NAME (``Definition.tag``).
    With ENUMS, every enum definition instead.

    Memoized by content, so callers that read many structs from one file (or ask first which
    structs a blob defines) pay for decoding and scanning once. Never raises on bad content.
    """
    hit = _scanned(data)
    if enums:
        got = hit.named.get("enum *")
        if got is None:
            got = hit.named["enum *"] = find_definitions(hit.clean, aliases=True, enums=True)
        return hit.clean, got
    if hit.every is None:
        hit.every = find_definitions(hit.clean, aliases=True)
    return hit.clean, hit.every


def unclosed_at(data: bytes, name: str, kind: str | None = None) -> int | None:
    """The line of a ``struct NAME {`` (or union; enum with KIND "enum") in DATA whose '{' is
    never closed, or None: why a file that opens a definition defines nothing."""
    kw = rb"enum" if kind == "enum" else rb"(?:struct|union)"
    opened = re.compile(rb"\b" + kw + rb"\s+" + re.escape(name.encode()) + rb"\s*\{")
    m = opened.search(data)
    if not m:
        return None
    depth = 0
    for c in re.findall(r"[{}]", strip_comments(data[m.start():].decode("utf-8", "replace"))):
        depth += 1 if c == "{" else -1
        if depth == 0:
            return None
    return data.count(b"\n", 0, m.start()) + 1


def scan_named(data: bytes, name: str, enums: bool = False) -> tuple[str, list[Definition]]:
    """(comment-stripped text, the definitions scan lists under NAME): from the whole scan
    when there is one, else looking for NAME alone (history reads one struct out of hundreds
    of versions of a file: examining every definition in each would be wasted). With ENUMS,
    the enums named NAME instead.

    A ``trace_event_raw_X`` the file does not define but generates with a TRACE_EVENT macro
    comes with the text that macro call is rewritten into (srcdiff.trace_events)."""
    hit = _scanned(data)
    if enums:
        key = "enum " + name
        defs = hit.named.get(key)
        if defs is None:
            defs = hit.named[key] = find_definitions(hit.clean, aliases=True, name=name,
                                                     enums=True)
        return hit.clean, defs
    if hit.every is not None:
        defs = [d for d in hit.every if d.name == name]
    else:
        defs = hit.named.get(name)
        if defs is None:
            defs = hit.named[name] = find_definitions(hit.clean, aliases=True, name=name)
    if not defs and name.startswith(trace_events.PREFIX):
        return _generated(hit, name)
    return hit.clean, defs


def _generated(hit: _Scanned, name: str) -> tuple[str, list[Definition]]:
    got = hit.generated.get(name)
    if got is None:
        text = trace_events.synthesize(hit.clean, name)
        got = hit.generated[name] = (
            (text, find_definitions(text, aliases=True, name=name)) if text else (hit.clean, []))
    return got


_DIRECTIVE_LINES_RE = re.compile(r"^[ \t\f\v]*#(?:[^\n]*\\\n)*[^\n]*", re.M)


@lru_cache(maxsize=64)
def directives_digest(clean: str) -> str:
    """Digest of the preprocessor lines of the comment-stripped text CLEAN (with the lines a
    backslash continues): two versions of a file with the same digest define the same macros
    under the same conditions."""
    found = _DIRECTIVE_LINES_RE.findall(clean)
    return hashlib.sha1("\n".join(found).encode("utf-8", "surrogatepass")).hexdigest()


class _Ctx:
    def __init__(self, path: str, env: MacroEnv, config: Config | None):
        self.path = path
        self.env = env
        self.config = config
        self.warnings: list[str] = []
        self.dims: dict[tuple[tuple[str, ...], int], str] = {}
        self.budget = _EXPANSION_BUDGET
        self.ambiguous_warned: set[str] = set()
        self.memo: tuple | None = None  # key shared by reads whose members mean the same

    def warn(self, line: int, reason: str) -> None:
        self.warnings.append(f"{self.path}:{line}: {reason}")


def _read(
    clean: str, cands: list[Definition], name: str, path: str, config: Config | None,
    include_reader: Callable[[str], bytes | None] | None, arch: str,
) -> StructDef:
    env = MacroEnv(clean, path, config, include_reader, arch, builtin_macros(config))
    ctx = _Ctx(path, env, config)
    d = cands[0]
    if len(cands) > 1:
        am = _ARCH_PATH_RE.match(path)  # a header under arch/X/ is only compiled for X
        d = _choose(clean, cands, ctx, am.group(1) if am else arch)
    a, b = d.body_span(clean)
    # Members are remembered from the second read of a struct on (a history reads it at many
    # versions); a struct read once pays nothing for it.
    memo = (path, config.fingerprint() if config else "", arch)
    if (memo, name) in _memo_files:
        ctx.memo = memo
    elif len(_memo_files) < 10_000:
        _memo_files.add((memo, name))
    too_long = body_too_long(clean[a:b])
    if too_long:
        return StructDef(name, d.kind, (Field(None, "?", line=d.line, unparsed=" ".join(
            clean[a : a + 2000].split())),), path, d.line, (f"{path}:{d.line}: {too_long}",))
    brace_line = d.line + clean.count("\n", d.start, a)
    toks = _body_tokens(clean[a:b], brace_line, ctx)
    fields = _enumerators(toks, ctx) if d.kind == "enum" else _members(toks, (), ctx, 0)
    return StructDef(name, d.kind, tuple(fields), path, d.line, tuple(ctx.warnings))


def _choose(clean: str, cands: list[Definition], ctx: _Ctx, arch: str) -> Definition:
    """The definition the compiler would see among several (#ifdef'd alternatives): the first
    in a branch that is active (with a config) or not compiled out (#if 0). Without a config,
    alternatives for other machines than ARCH's usual one (``#ifdef __i386__`` on x86) are
    passed over, as they are with a config that names the machine."""
    stack = _CondStack(ctx)
    directives = [(ln, m.group(1), m.group(2)) for ln, s in logical_lines(clean)
                  if "#" in s and (m := _DIRECTIVE_RE.match(s))]
    off = _other_machines(directives, cands, arch) if ctx.config is None else set()
    if len(off) == len(cands):
        off = set()
    k = 0
    for d in cands:
        while k < len(directives) and directives[k][0] < d.line:
            ln, name, rest = directives[k]
            if name == "ifndef" and _guards_include(rest, directives[k + 1 : k + 2]):
                # '#ifndef X_H' + '#define X_H': the include guard holds on first inclusion
                # (as collect_macros reads it), though the file defines X_H itself
                name, rest = "if", "1"
            stack.directive(name, rest, ln)
            k += 1
        if stack.active and d.line not in off:
            others = ", ".join(str(c.line) for c in cands if c is not d)
            ctx.warn(d.line, f"also defined at line(s) {quote(others)}; using line {d.line}")
            return d
    return cands[0]


def _other_machines(directives: list[tuple[int, str, str]], cands: list[Definition], arch: str
                    ) -> set[int]:
    """Lines of the candidates that sit in a branch ARCH's usual machine compiles out, judged
    by the compiler's machine names alone (__i386__, __x86_64__, __LP64__ ...): any other name
    leaves a branch undecided (three-valued: True, False, None)."""
    predefs = default_machine_predefines(arch)
    if not predefs:
        return set()

    def lookup(n: str) -> Macro | None:
        return Macro(n, None, tuple(tokenize(predefs[n]))) if n in predefs else None

    def unknown(n: str) -> bool:
        return n not in _TARGET_NAMES

    def value(d: str, rest: str) -> bool | None:
        toks = tokenize(rest)
        if d in ("ifdef", "ifndef", "elifdef", "elifndef"):
            if not toks or not is_ident(toks[0]):
                return None
            toks = (["defined", toks[0]] if d in ("ifdef", "elifdef")
                    else ["!", "defined", toks[0]])
        return condition_value(toks, lookup, unknown)[0] if toks else None

    def both(a: bool | None, b: bool | None) -> bool | None:
        return False if a is False or b is False else (True if a and b else None)

    frames: list[list[bool | None]] = []  # [enclosing, some earlier branch taken, this one]
    here: bool | None = True
    off: set[int] = set()
    lines = sorted(c.line for c in cands)
    k = 0
    for ln in lines:
        while k < len(directives) and directives[k][0] < ln:
            _l, d, rest = directives[k]
            k += 1
            if d in ("if", "ifdef", "ifndef"):
                v = value(d, rest)
                frames.append([here, v, both(here, v)])
            elif d in ("elif", "elifdef", "elifndef", "else") and frames:
                fr = frames[-1]
                v = True if d == "else" else value(d, rest)
                earlier = fr[1]
                this = both(None if earlier is None else not earlier, v)
                fr[2] = both(fr[0], this)
                fr[1] = True if earlier is True or v is True else (
                    False if earlier is False and v is False else None)
            elif d == "endif" and frames:
                frames.pop()
            else:
                continue
            here = frames[-1][2] if frames else True
        if here is False:
            off.add(ln)
    return off


def _guards_include(rest: str, following: list[tuple[int, str, str]]) -> bool:
    guard = rest.split(None, 1)[:1]
    return bool(guard and following and following[0][1] == "define"
                and following[0][2].split(None, 1)[:1] == guard)


# ---------------------------------------------------------------------------------------------
# Conditionals

_DIRECTIVE_RE = re.compile(r"\s*#\s*([A-Za-z_]+)\s*(.*)", re.S)


def _undecided(d: str, toks: list[str], why: str | None) -> str:
    return f"cannot evaluate #{d} {quote(join_tokens(toks))}: {quote(str(why))}"


class _CondStack:
    """#if nesting inside a struct body: which branch is kept, and the guard terms of it."""

    def __init__(self, ctx: _Ctx):
        self.ctx = ctx
        # frame: [parent_active, negated earlier terms, current term or None, active, taken]
        self.frames: list[list[Any]] = []
        self.active = True
        self.guard: tuple[str, ...] = ()

    def _decide(self, d: str, rest: str, line: int) -> tuple[bool | None, str | None]:
        toks = tokenize(rest)
        if d in ("ifdef", "ifndef"):
            if not toks or not is_ident(toks[0]):
                self.ctx.warn(line, f"malformed #{d} {quote(rest)}")
                return None, None
            toks = ["defined", toks[0]] if d == "ifdef" else ["!", "defined", toks[0]]
        if not toks:
            self.ctx.warn(line, "#if without a condition")
            return None, None
        term = condition_text(toks)
        # Constants decide alone (#if 0, 1 || X, 0 && X): such a condition is never written.
        # Without a config every name is unknown, so only they can; with one, names are looked
        # up and one no file defines is 0, as in cpp: what is left unknown is an operand that
        # cannot be evaluated (a function-like macro no file read defines, ...), and the other
        # operands may still decide (see preprocess.condition_value).
        const, why = condition_value(toks, _no_macro, _every_name)
        if self.ctx.config is None:
            if const is None and not any(is_ident(t) for t in toks):
                # no name in it: the text itself cannot be evaluated
                self.ctx.warn(line, _undecided(d, toks, why))
            return const, term if const is None else None
        if self.ctx.config.host:
            # the host's view: a name the build decides (CONFIG_, generated) is unknown, so
            # the condition stays the member's guard; any other name found nowhere is 0
            env = self.ctx.env
            unknown = env.unknown
            val, why = condition_value(
                toks, lambda n: None if unknown(n) else env.lookup(n), unknown)
            if val is None and any(is_ident(t) and unknown(t) for t in toks):
                return None, term
        else:
            val, why = condition_value(toks, self.ctx.env.lookup)
        if val is None:
            self.ctx.warn(line, _undecided(d, toks, why))
            return None, term
        return val, None if val == const else term

    def directive(self, d: str, rest: str, line: int) -> None:
        self.ctx.env.line = line  # body #define's before this line count, later ones do not
        if d in ("if", "ifdef", "ifndef"):
            val, term = self._decide(d, rest, line)
            act = self.active and val is not False
            self.frames.append([self.active, [], term, act, val is True])
        elif d in ("elif", "else", "elifdef", "elifndef"):
            if not self.frames:
                self.ctx.warn(line, f"#{d} without #if")
                return
            fr = self.frames[-1]
            if fr[2] is not None:
                fr[1].append(negate(fr[2]))
            if fr[4]:
                val, term = False, None  # an earlier branch was taken
            elif d == "else":
                val, term = True, None
            else:
                dd = {"elif": "if", "elifdef": "ifdef", "elifndef": "ifndef"}[d]
                val, term = self._decide(dd, rest, line)
            fr[2] = term
            fr[3] = fr[0] and val is not False
            fr[4] = fr[4] or val is True
        elif d == "endif":
            if not self.frames:
                self.ctx.warn(line, "#endif without #if")
                return
            self.frames.pop()
        else:
            if self.active and d == "define":
                m = parse_define(rest)
                if m is not None:
                    self.ctx.env.define(m, line)
            elif self.active and d == "undef":
                toks = tokenize(rest)
                if toks and is_ident(toks[0]):
                    self.ctx.env.undef(toks[0], line)
            return
        self.active = all(fr[3] for fr in self.frames)
        terms: list[str] = []
        for fr in self.frames:
            terms.extend(fr[1])
            if fr[2] is not None:
                terms.append(fr[2])
        self.guard = tuple(terms)


def _no_macro(name: str) -> None:
    return None


def _every_name(name: str) -> bool:
    return True


def _body_tokens(body: str, first_line: int, ctx: _Ctx) -> list[Tok]:
    stack = _CondStack(ctx)
    out: list[Tok] = []
    for line, s in logical_lines(body, first_line):
        if "#" in s:
            m = _DIRECTIVE_RE.match(s)
            if m:
                stack.directive(m.group(1), m.group(2), line)
                continue
        if not stack.active:
            continue
        g = stack.guard
        out.extend((t, line, g) for t in tokenize(s))
    if stack.frames:
        ctx.warn(first_line, "#if without #endif in the body")
    return out


# ---------------------------------------------------------------------------------------------
# Members

_ANNOTATIONS = frozenset("""
__iomem __rcu __user __percpu __force __bitwise __bitwise__ __private __data_racy __packed
__randomize_layout __no_randomize_layout ____cacheline_aligned ____cacheline_aligned_in_smp
__cacheline_aligned __cacheline_aligned_in_smp ____cacheline_internodealigned_in_smp
__cacheline_internodealigned_in_smp __designated_init __read_mostly __kernel __safe __nocast
__must_check __latent_entropy __maybe_unused __always_unused __used __deprecated
__nonstring __attribute_const__ __ro_after_init __visible __aligned_largest __extension__
__user_ptr __force_data __tagged __exclusive_cache_line __rcu_ptr __noinit __initdata
__noreturn __cold __pure __weak __init __exit __always_inline __noinline __ref __refdata
randomized_struct_fields_start randomized_struct_fields_end
""".split())
_ANNOTATION_CALLS = frozenset("""
__attribute__ __attribute __aligned __counted_by __counted_by_le __counted_by_be __sized_by
__sized_by_le __sized_by_be _Alignas alignas __section __guarded_by __pt_guarded_by __alloc_size
__counted_by_ptr __declspec __releases __acquires __must_hold __cond_acquires __printf __scanf
__assume_aligned __diagnose_as
""".split())
_SPELLING = {
    "__signed__": "signed", "__signed": "signed", "__volatile__": "volatile",
    "__volatile": "volatile", "__const": "const", "__const__": "const",
    "__restrict": "restrict", "__restrict__": "restrict", "__inline": "inline",
    "__inline__": "inline", "__typeof": "typeof", "__typeof__": "typeof", "__auto_type": "int",
}
_QUALS = frozenset("const volatile restrict _Atomic static extern register inline auto".split())
_BASIC = frozenset(
    "void char short int long float double signed unsigned _Bool _Complex __int128".split()
)
_KEYWORDS = _QUALS | _BASIC | frozenset(
    "struct union enum typeof sizeof _Static_assert static_assert __sd_agg".split()
)


def _match(toks: list[str], i: int, end: int | None = None) -> int:
    """Index of the bracket closing toks[i] (or end-1 if unbalanced)."""
    end = len(toks) if end is None else end
    open_, close = toks[i], {"(": ")", "[": "]", "{": "}"}[toks[i]]
    depth = 0
    for j in range(i, end):
        t = toks[j]
        if t == open_:
            depth += 1
        elif t == close:
            depth -= 1
            if depth == 0:
                return j
    return end - 1


def _split_members(toks: list[Tok], sep: str = ";") -> list[list[Tok]]:
    out: list[list[Tok]] = []
    cur: list[Tok] = []
    depth = 0
    for tk in toks:
        t = tk[0]
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth = max(0, depth - 1)
        elif t == sep and depth == 0:
            if cur:
                out.append(cur)
            cur = []
            continue
        cur.append(tk)
    if cur:
        out.append(cur)
    return out


def _members(toks: list[Tok], parent: tuple[str, ...], ctx: _Ctx, depth: int) -> list[Field]:
    out: list[Field] = []
    # Top-level members are remembered across reads: successive versions of a struct share
    # most of their members, and each member costs macro lookups and a pycparser call. A
    # remembered reading is reused only where every macro question it asked gets the same
    # answer; not at all when the body #define's (where they stand matters).
    memo = ctx.memo if depth == 0 and ctx.memo is not None and not ctx.env.local else None
    for mt in _split_members(toks):
        if memo is None:
            out.extend(_member(mt, parent, ctx, depth))
            continue
        first = mt[0][1]
        key = (memo, parent, tuple((t, ln - first, g) for t, ln, g in mt))
        readings = _member_memo.get(key)
        hit = next((r for r in readings if ctx.budget - r[2] > 0 and _same_answers(r[0], ctx.env))
                   , None) if readings else None
        if hit is not None:
            ctx.budget -= hit[2]
            out.extend(_shift_lines(hit[1], first))
            continue
        env, dims = ctx.env, ctx.dims
        rec = ctx.env = _Recorder(env)
        ctx.dims = {}  # sizes worked out for other members asked questions not recorded here
        warned, budget = len(ctx.warnings), ctx.budget
        try:
            got = _member(mt, parent, ctx, depth)
        finally:
            ctx.env, ctx.dims = env, dims
        out.extend(got)
        if len(ctx.warnings) == warned and not env.local and not ctx.ambiguous_warned:
            # only what read cleanly: a warning names a line and would need rewriting
            if len(_member_memo) >= _MEMBER_MEMO_MAX:
                _member_memo.clear()
            readings = _member_memo.setdefault(key, [])
            if len(readings) >= 4:
                readings.pop(0)
            readings.append((rec.asked, tuple(_shift_lines(got, -first)), budget - ctx.budget))
    return out


def _enumerators(toks: list[Tok], ctx: _Ctx) -> list[Field]:
    """The enumerators of an enum body (see the module docstring), in order."""
    out: list[Field] = []
    pending = _split_members(toks, ",")
    pending.reverse()  # a stack: the next item last
    known: dict[str, int] = {}  # earlier enumerators' values, for later expressions
    prev: tuple[str, int | None, tuple[str, ...]] | None = None  # name, value, guard terms
    steps = 0
    while pending:
        item = _strip_annotations(pending.pop())
        if not item:
            continue
        texts = [t[0] for t in item]
        line, g = item[0][1], item[0][2]
        ctx.env.line = line
        guard = guard_text(g) if g else None
        steps += 1
        if steps > _MAX_STEPS or ctx.budget <= 0:
            out.append(_unparsed(_Text(item), "expanded too far", line, guard, ctx))
            break
        t0 = texts[0]
        m = ctx.env.lookup(t0) if is_ident(t0) and t0 not in _KEYWORDS else None
        if m is not None and (m.params is None or (len(texts) > 1 and texts[1] == "(")):
            end = 1 if m.params is None else _match(texts, 1) + 1
            try:
                body = expand(texts[:end], ctx.env.lookup)
            except ValueError:
                out.append(_unparsed(_Text(item), f"cannot expand {quote(t0)}", line, guard, ctx))
                continue
            if body != texts[:end]:
                ctx.budget -= len(body)
                more = _split_members([(t, line, g) for t in body] + item[end:], ",")
                pending.extend(reversed(more))
                continue
        if not is_ident(t0) or (len(texts) > 1 and (texts[1] != "=" or len(texts) < 3)):
            out.append(_unparsed(_Text(item), "not an enumerator", line, guard, ctx))
            continue
        if len(texts) > 1:
            value = _enum_value(texts[2:], known, ctx)
            shown = str(value) if value is not None else join_tokens(texts[2:])
        elif prev is None:
            value, shown = 0, "0"
        elif prev[1] is not None and g[: len(prev[2])] == prev[2]:
            # the previous one is there whenever this one is: its value plus one
            value = prev[1] + 1
            shown = str(value)
        else:
            value, shown = None, f"{prev[0]} + 1"
        if value is not None:
            known[t0] = value
        prev = (t0, value, g)
        out.append(Field(t0, shown, None, guard, line, enumerator=True))
    return out


def _enum_value(expr: list[str], known: dict[str, int], ctx: _Ctx) -> int | None:
    """The value of an enumerator's EXPR (macros, earlier enumerators KNOWN), or None. The
    names left once macros are expanded are enumerators (``#define X X`` after ``X = 1``, as
    uapi headers write them, leaves X)."""
    try:
        toks = expand(expr, ctx.env.lookup)
        return eval_int([str(known[t]) if t in known else t for t in toks], _no_macro)
    except (ExprError, ValueError):
        return None


class _Recorder:
    """The macro environment while one member is read: it notes every question asked and its
    answer, so a later read of the same member text can check its own file answers alike."""

    def __init__(self, env: MacroEnv):
        self._env = env
        self.asked: dict[Any, Any] = {}

    @property
    def local(self) -> dict:
        return self._env.local

    @property
    def line(self) -> int:
        return self._env.line

    @line.setter
    def line(self, value: int) -> None:
        self._env.line = value

    def lookup(self, name: str) -> Any:
        m = self.asked[name] = self._env.lookup(name)
        return m

    def ambiguous(self, name: str) -> bool:
        a = self.asked[("ambiguous", name)] = self._env.ambiguous(name)
        return a



def _same_answers(asked: dict[Any, Any], env: MacroEnv) -> bool:
    # Members of one struct ask the same few questions again and again (a type's macro, a
    # size's): each is answered once per read, once the file's scope has decided what its
    # includes define (before that an answer can still change) and while no #define in the
    # body is in force (the memo of readings is not used then anyway).
    settled = env.settled if env.scope.undecided is None and not env.local else None
    for q, want in asked.items():
        got = settled.get(q, _UNASKED) if settled is not None else _UNASKED
        if got is _UNASKED:
            got = env.lookup(q) if isinstance(q, str) else env.ambiguous(q[1])
            if settled is not None:
                settled[q] = got
        if got != want:
            return False
    return True


_UNASKED = object()


# (file, config, arch; parent guard; member tokens with lines relative to the member's first)
#   -> readings: (questions asked and answers, fields with relative lines, expansion budget used)
_member_memo: dict[tuple, list[tuple[dict, tuple[Field, ...], int]]] = {}
_memo_files: set[tuple] = set()  # ((path, config, arch), struct) read before: memoize its members
_MEMBER_MEMO_MAX = 50_000


def _shift_lines(fields: Any, delta: int) -> list[Field]:
    return [Field(f.name, f.type, f.bits, f.guard, None if f.line is None else f.line + delta,
                  tuple(_shift_lines(f.fields, delta)) if f.fields else (), f.unparsed)
            for f in fields]


def _strip_annotations(mt: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    n = len(mt)
    while i < n:
        t = mt[i][0]
        if t in _ANNOTATIONS:
            i += 1
            continue
        if t in _ANNOTATION_CALLS:
            if i + 1 < n and mt[i + 1][0] == "(":
                i = _match([x[0] for x in mt], i + 1) + 1
            else:
                i += 1
            continue
        sp = _SPELLING.get(t)
        if sp is not None:
            out.append((sp, mt[i][1], mt[i][2]))
        else:
            out.append(mt[i])
        i += 1
    return out


def _member(mt: list[Tok], parent: tuple[str, ...], ctx: _Ctx, depth: int) -> list[Field]:
    """Fields of one member (text up to a ';'). A macro at its head is expanded; when the
    expansion holds several members, the last one is read here again (a loop, not recursion),
    so long lists like ``REG(a) REG(b) ...`` stay cheap."""
    out: list[Field] = []
    rest: list[Tok] | None = mt
    for _ in range(_MAX_STEPS):
        if rest is None:
            return out
        rest = _member_step(rest, parent, ctx, depth, out)
    if rest is not None:
        line = rest[0][1]
        out.append(_unparsed(_Text(rest), "macro expansion does not end", line, None, ctx))
    return out


def _member_step(
    mt: list[Tok], parent: tuple[str, ...], ctx: _Ctx, depth: int, out: list[Field]
) -> list[Tok] | None:
    line, g = mt[0][1], mt[0][2]
    ctx.env.line = line
    rel = g[len(parent):] if g[: len(parent)] == parent else g
    guard = guard_text(rel) if rel else None
    original = _Text(mt)
    if depth > _MAX_DEPTH or ctx.budget <= 0:
        out.append(_unparsed(original, "nested or expanded too deeply", line, guard, ctx))
        return None
    mt = _strip_annotations(mt)
    if not mt:
        return None
    texts = [t[0] for t in mt]
    if texts[0] in ("_Static_assert", "static_assert"):
        return None
    k = 0
    while k < len(texts) and texts[k] in ("const", "volatile"):
        k += 1
    if k < len(texts) and texts[k] in ("struct", "union", "enum"):
        j = k + 1
        tag = None
        if j < len(texts) and is_ident(texts[j]):
            tag = texts[j]
            j += 1
        if j < len(texts) and texts[j] == "{":
            out.extend(_aggregate(mt, texts, k, j, tag, guard, g, line, ctx, depth))
            return None
    t0 = texts[0]
    head_macro = is_ident(t0) and t0 not in _KEYWORDS and (
        len(texts) == 1 or (texts[1] == "(" and (len(texts) < 3 or texts[2] not in ("*", "^")))
    )
    if head_macro:
        m = ctx.env.lookup(t0)
        if m is not None:
            if t0 not in ctx.ambiguous_warned and ctx.env.ambiguous(t0):
                ctx.ambiguous_warned.add(t0)
                ctx.warn(line, f"{quote(t0)} is #define'd differently under #if's that cannot be"
                         " decided here; using the first definition")
            got = _expand_head(texts, m)
            if got is None:
                out.append(_unparsed(original, f"cannot expand {quote(t0)}", line, guard, ctx))
                return None
            body, used = got
            ctx.budget -= len(body)
            # what follows the macro call keeps its own lines (body #define's count by line)
            pieces = _split_members([(t, line, g) for t in body] + mt[used:])
            for p in pieces[:-1]:
                out.extend(_member(p, parent, ctx, depth + 1))
            return pieces[-1] if pieces else None
    named = _expand_names(texts, ctx)
    if named is not texts and ";" in named:
        # an object-like macro that lays out members (``ACPI_STATE_COMMON u32 index;``)
        out.extend(_members([(t, line, g) for t in named], parent, ctx, depth + 1))
        return None
    if named is not texts:
        # an expansion may bring annotations (``#define PACKED __attribute__((packed))``)
        named = [t[0] for t in _strip_annotations([(x, line, g) for x in named])]
        if not named:
            return None
        try:
            decls = _declarators(named, ctx)
        except _Fail:
            # an accessor #define'd after the struct (``#define txdata buffer.txdata``):
            # cpp would not see it here, and we do not track where #define's stand
            decls = None
        if decls is not None:
            out.extend(Field(nm, ty, bits, guard, line) for nm, ty, bits in decls)
            return None
    try:
        decls = _declarators(texts, ctx)
    except _Fail as e:
        try:
            exp = expand(texts, ctx.env.lookup)
        except ValueError:
            exp = texts
        if exp != texts:
            ctx.budget -= len(exp)
            out.extend(_members([(t, line, g) for t in exp], parent, ctx, depth + 1))
            return None
        fields = _without_unknown_word(texts, line, guard, ctx)
        if fields is not None:
            out.extend(fields)
            return None
        reason = f"unknown macro {t0}" if head_macro else e.reason
        out.append(_unparsed(original, reason, line, guard, ctx))
        return None
    out.extend(Field(nm, ty, bits, guard, line) for nm, ty, bits in decls)
    return None


def _without_unknown_word(
    texts: list[str], line: int, guard: str | None, ctx: _Ctx
) -> list[Field] | None:
    """Fields of a declaration that parses once one unknown word is taken out, or None.

    ``TYPE (WORD *name)(...)``: WORD is a calling-convention annotation (``__efiapi``) and is
    dropped. ``WORD TYPE name``: WORD is a macro we cannot see; it becomes an unparsed entry
    of its own and the declaration after it is kept."""
    n = len(texts)
    for i in range(1, n - 3):
        if (texts[i] == "(" and is_ident(texts[i + 1]) and texts[i + 1] not in _KEYWORDS
                and texts[i + 2] == "*" and ctx.env.lookup(texts[i + 1]) is None):
            close = _match(texts, i)
            if close + 1 < n and texts[close + 1] in ("(", "["):
                try:
                    decls = _declarators(texts[: i + 1] + texts[i + 2 :], ctx)
                except _Fail:
                    return None
                return [Field(nm, ty, bits, guard, line) for nm, ty, bits in decls]
            break
    t0 = texts[0]
    if (n > 2 and is_ident(t0) and t0 not in _KEYWORDS and is_ident(texts[1])
            and ctx.env.lookup(t0) is None):
        try:
            decls = _declarators(texts[1:], ctx)
        except _Fail:
            return None
        return [_unparsed(t0, f"unknown macro {t0}", line, guard, ctx)] + [
            Field(nm, ty, bits, guard, line) for nm, ty, bits in decls
        ]
    return None


_NO_EXPAND = frozenset(("[", "typeof"))


def _expand_names(texts: list[str], ctx: _Ctx) -> list[str]:
    """TEXTS with object-like macros used as names (member names, tags, typedef names)
    expanded as cpp would (``#define rcu_head callback_head``). Sizes in ``[]`` and
    ``typeof(...)`` are left as written (they are evaluated or kept on purpose); a
    function-like macro without ``(`` is not a call, so it stays."""
    out: list[str] | None = None
    n = len(texts)
    i = 0
    while i < n:
        t = texts[i]
        if t == ":":
            break  # a bit-field width is a size: evaluated, or kept as written
        if t in _NO_EXPAND:
            j = i + 1 if t == "typeof" and i + 1 < n and texts[i + 1] == "(" else i
            if texts[j] in ("[", "("):
                end = _match(texts, j) + 1
                if out is not None:
                    out.extend(texts[i:end])
                i = end
                continue
        if is_ident(t) and t not in _KEYWORDS and not t.startswith("__sd_"):
            m = ctx.env.lookup(t)
            if m is not None and m.params is None:
                try:
                    exp = expand([t], ctx.env.lookup)
                except ValueError:
                    exp = [t]
                if exp != [t]:
                    if out is None:
                        out = list(texts[:i])
                    ctx.budget -= len(exp)
                    out.extend(exp)
                    i += 1
                    continue
        if out is not None:
            out.append(t)
        i += 1
    if out is None:
        return texts
    out.extend(texts[i:])
    return out


class _Text:
    """The member's source text, joined only when needed (for unparsed entries)."""

    def __init__(self, mt: list[Tok]):
        self.mt = mt

    def __str__(self) -> str:
        return join_tokens(t[0] for t in self.mt)


def _expand_head(texts: list[str], m: Any) -> tuple[list[str], int] | None:
    """One level of expansion of the member's leading macro, and how many tokens the call
    took (arguments are left as written, so sizes keep their macro names when they cannot
    be resolved)."""
    if m.params is None:
        return list(m.body), 1
    if len(texts) < 2 or texts[1] != "(":
        return None
    end = _match(texts, 1)
    if texts[end] != ")":
        return None
    args: list[list[str]] = [[]]
    depth = 0
    for t in texts[2:end]:
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
        if t == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(t)
    body = _substitute(m, args, _no_macro, frozenset(), 0)
    # a macro made of a reference to itself would loop; the depth bound stops it
    return body, end + 1


def _aggregate(
    mt: list[Tok], texts: list[str], k: int, j: int, tag: str | None, guard: str | None,
    g: tuple[str, ...], line: int, ctx: _Ctx, depth: int,
) -> list[Field]:
    kind = texts[k]
    close = _match(texts, j)
    if tag:
        exp_tag = _expand_names([tag], ctx)
        tag = exp_tag[0] if len(exp_tag) == 1 and is_ident(exp_tag[0]) else tag
    agg = kind + (f" {tag}" if tag else "")
    rest = _expand_names(texts[close + 1 :], ctx)
    sub: list[Field] = []
    if kind != "enum":
        sub = _members(mt[j + 1 : close], g, ctx, depth + 1)
    if not rest:
        if kind == "enum" or tag:
            # an enum or tagged struct declared in place with no member name lays out nothing
            return []
        return [Field(None, kind, None, guard, line, tuple(sub))]
    try:
        decls = _declarators(texts[:k] + ["__sd_agg"] + rest, ctx)
    except _Fail as e:
        # an attribute macro after the declarator (``} name ALIGN8;``): expand, drop, retry
        try:
            exp = expand(rest, ctx.env.lookup)
        except ValueError:
            exp = rest
        exp = [t[0] for t in _strip_annotations([(t, line, g) for t in exp])]
        try:
            if exp == rest:
                raise
            decls = _declarators(texts[:k] + ["__sd_agg"] + exp, ctx)
        except _Fail:
            return [_unparsed(join_tokens(texts), e.reason, line, guard, ctx)]
    return [
        Field(nm, ty.replace("__sd_agg", agg), bits, guard, line, tuple(sub))
        for nm, ty, bits in decls
    ]


def _unparsed(text: Any, reason: str, line: int, guard: str | None, ctx: _Ctx) -> Field:
    text = str(text)
    ctx.warn(line, f"{quote(reason, 2 * MAX_QUOTE)}: {quote(text)}")
    return Field(None, "?", None, guard, line, unparsed=text)


# ---------------------------------------------------------------------------------------------
# Declarations through pycparser


class _Fail(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# pycparser is loaded with the first declaration it is asked to read: a run answered from the
# cache, or one whose members the fast path reads, never pays for it
c_ast: Any = None
_PARSER: Any = None


def _cparser() -> Any:
    global _PARSER, c_ast
    if _PARSER is None:
        from pycparser import c_ast as ast_module
        from pycparser.c_parser import CParser

        c_ast = ast_module
        _PARSER = CParser()
    return _PARSER


_decl_cache: dict[str, tuple[tuple[str | None, str, str | None], ...] | str] = {}
_PH_RE = re.compile(r"__sd_([dt])(\d+)")


def _declarators(texts: list[str], ctx: _Ctx) -> list[tuple[str | None, str, int | str | None]]:
    """(name, canonical type, bits) for each declarator of one member declaration."""
    toks, dims, typeofs = _placeholders(texts)
    toks, fname = _anonymise(toks)
    key = " ".join(toks)
    res = _decl_cache.get(key)
    if res is None:
        res = _fast_decl(toks) or _parse_decl(toks)
        if len(_decl_cache) > 200000:
            _decl_cache.clear()
        _decl_cache[key] = res
    if isinstance(res, str):
        raise _Fail(res)

    def sub(m: re.Match[str]) -> str:
        n = int(m.group(2))
        if m.group(1) == "t":
            return f"typeof({join_tokens(typeofs[n])})"
        return _dim_text(dims[n], ctx)

    out: list[tuple[str | None, str, int | str | None]] = []
    for name, tmpl, bits in res:
        if name == "__sd_n":
            name = fname
        ty = _PH_RE.sub(sub, tmpl) if "__sd_" in tmpl else tmpl
        b: int | str | None = None
        if bits is not None:
            bm = _PH_RE.fullmatch(bits)
            b = _dim_text(dims[int(bm.group(2))], ctx) if bm else bits
            if isinstance(b, str) and re.fullmatch(r"-?\d+", b):
                b = int(b)
        out.append((name, ty, b))
    return out


_NOT_PARAM_NAME_BEFORE = frozenset(("struct", "union", "enum", "(", ",")) | _QUALS


def _anonymise(toks: list[str]) -> tuple[list[str], str | None]:
    """Function-pointer member name -> __sd_n and parameter names -> __sd_p, so that members
    of the same shape share one pycparser parse (parameter names are not part of the type)."""
    if "(" not in toks:
        return toks, None
    out = list(toks)
    fname = None
    n = len(out)
    for i in range(n - 3):
        if out[i] == "(" and out[i + 1] == "*" and is_ident(out[i + 2]) and out[i + 3] == ")":
            if fname is None and out[i + 2] not in _KEYWORDS:
                fname = out[i + 2]
                out[i + 2] = "__sd_n"
            break
    if fname is None:
        return toks, None
    depth = 0
    for i in range(i + 4, n):
        t = out[i]
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        elif (depth >= 1 and is_ident(t) and t not in _KEYWORDS and i + 1 < n
              and out[i + 1] in (",", ")", "[") and i > 0
              and (out[i - 1] == "*" or (is_ident(out[i - 1])
                                         and out[i - 1] not in _NOT_PARAM_NAME_BEFORE))):
            out[i] = "__sd_p"
    return out, fname


def _dim_text(toks: list[str], ctx: _Ctx) -> str:
    # with body #define's a size may mean different things on different lines
    key = (tuple(toks), ctx.env.line if ctx.env.local else 0)
    hit = ctx.dims.get(key)
    if hit is None:
        try:
            hit = str(eval_int(list(toks), ctx.env.lookup))
        except ExpansionTooLarge as e:
            ctx.warn(ctx.env.line, f"{e}; size left as written")
            hit = join_tokens(toks)
        except (ExprError, RecursionError):
            hit = join_tokens(toks)
        ctx.dims[key] = hit
    return hit


def _placeholders(texts: list[str]) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Array sizes and bitfield widths become __sd_dN, typeof(...) becomes __sd_tN, so that the
    parse result can be cached by shape and the sizes resolved afterwards."""
    out: list[str] = []
    dims: list[list[str]] = []
    typeofs: list[list[str]] = []
    i = 0
    n = len(texts)
    depth = 0
    while i < n:
        t = texts[i]
        if t == "[":
            j = _match(texts, i)
            inner = texts[i + 1 : j]
            if inner:
                out += ["[", f"__sd_d{len(dims)}", "]"]
                dims.append(inner)
            else:
                out += ["[", "]"]
            i = j + 1
            continue
        if t == "typeof" and i + 1 < n and texts[i + 1] == "(":
            j = _match(texts, i + 1)
            out.append(f"__sd_t{len(typeofs)}")
            typeofs.append(texts[i + 2 : j])
            i = j + 1
            continue
        if t == ":" and depth == 0:
            j = i + 1
            d2 = 0
            while j < n and not (texts[j] == "," and d2 == 0):
                d2 += texts[j] in ("(", "[")
                d2 -= texts[j] in (")", "]")
                j += 1
            out += [":", f"__sd_d{len(dims)}"]
            dims.append(texts[i + 1 : j])
            i = j
            continue
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        out.append(t)
        i += 1
    return out, dims, typeofs


def _type_idents(toks: list[str]) -> set[str]:
    """Identifiers used as type names (typedefs pycparser must be told about)."""
    stubs: set[str] = set()
    _decl_scan(toks, 0, len(toks), stubs)
    return stubs


def _decl_scan(toks: list[str], i: int, end: int, stubs: set[str]) -> None:
    seen = False
    while i < end:
        t = toks[i]
        if t == "_Atomic" and i + 1 < end and toks[i + 1] == "(":
            j = _match(toks, i + 1, end)
            _decl_scan(toks, i + 2, j, stubs)
            seen = True
            i = j + 1
            continue
        if t in _QUALS:
            i += 1
            continue
        if t in _BASIC:
            seen = True
            i += 1
            continue
        if t in ("struct", "union", "enum"):
            seen = True
            i += 1
            if i < end and is_ident(toks[i]):
                i += 1
            continue
        if is_ident(t) and not seen:
            if i + 1 < end and (toks[i + 1] in _BASIC or toks[i + 1] in ("struct", "union")):
                stubs.add("__sd_bad")  # an unknown word before a type: a macro, not a typedef
            stubs.add(t)
            seen = True
            i += 1
            continue
        break
    _declarator_scan(toks, i, end, stubs)


def _declarator_scan(toks: list[str], i: int, end: int, stubs: set[str]) -> None:
    while i < end:
        if toks[i] == "(":
            j = _match(toks, i, end)
            nxt = toks[i + 1] if i + 1 < j else ")"
            if nxt in ("*", "^", "("):
                _declarator_scan(toks, i + 1, j, stubs)
            else:
                start = i + 1
                depth = 0
                for k in range(i + 1, j + 1):
                    t = toks[k]
                    if t in ("(", "["):
                        depth += 1
                    elif t in (")", "]") and k != j:
                        depth -= 1
                    if (t == "," and depth == 0) or k == j:
                        if k > start and toks[start] != "...":
                            _decl_scan(toks, start, k, stubs)
                        start = k + 1
            i = j + 1
            continue
        i += 1


_STAR_QUALS = frozenset(("const", "volatile", "restrict", "_Atomic"))


def _fast_decl(
    toks: list[str], abstract: bool = False
) -> tuple[tuple[str | None, str, str | None], ...] | None:
    """The common declarations (specifiers, then ``*``s, a name, sizes, a width; or a pointer
    to a function whose parameters are such declarations) without pycparser; None for anything
    else. Gives exactly what ``_parse_decl`` would. abstract: a declarator may lack a name
    (parameters)."""
    n = len(toks)
    i = 0
    quals: list[str] = []
    names: list[str] = []
    tagged = None
    while i < n:
        t = toks[i]
        if t in _STAR_QUALS:
            quals.append(t)
        elif t in _BASIC:
            if tagged or (names and not _is_basic_word(names[-1])):
                return None
            names.append(t)
        elif t in ("struct", "union", "enum"):
            if names or tagged or i + 1 >= n or not is_ident(toks[i + 1]):
                return None
            tagged = f"{t} {toks[i + 1]}"
            i += 1
        elif t in _QUALS:
            return None
        elif is_ident(t) and not names and not tagged:
            if i + 1 < n and (is_ident(toks[i + 1]) and toks[i + 1] not in _STAR_QUALS
                              or toks[i + 1] == "*"):
                names.append(t)  # a typedef name: another name or a '*' follows
            else:
                return None
        else:
            break
        i += 1
    if not names and not tagged:
        return None
    base = tagged or _basic(names)
    q = _quals(quals)
    if q:
        base = " ".join(q) + " " + base
    out = []
    while True:
        stars: list[str] = []
        while i < n and toks[i] == "*":
            s = "*"
            i += 1
            sq = []
            while i < n and toks[i] in _STAR_QUALS:
                sq.append(toks[i])
                i += 1
            stars.append(s + " ".join(_quals(sq)))
        star = ""
        for k, s in enumerate(stars):
            star += s
            if len(s) > 1 and k + 1 < len(stars):
                star += " "
        if (i + 4 < n and toks[i] == "(" and toks[i + 1] == "*" and is_ident(toks[i + 2])
                and toks[i + 2] not in _KEYWORDS and toks[i + 3] == ")" and toks[i + 4] == "("):
            # RET (*name)(PARAMS)
            close = _match(toks, i + 4)
            params = _fast_params(toks[i + 5 : close]) if toks[close] == ")" else None
            if params is None:
                return None
            sp = " " if stars and len(stars[-1]) > 1 else ""
            out.append((toks[i + 2], f"{base} {star}{sp}(*)({params})", None))
            i = close + 1
            if i == n:
                return tuple(out)
            if toks[i] != ",":
                return None
            i += 1
            continue
        name = None
        if i < n and is_ident(toks[i]) and toks[i] not in _KEYWORDS:
            name = toks[i]
            i += 1
        dims = ""
        while i + 1 < n and toks[i] == "[":
            if toks[i + 1] == "]":
                dims += "[]"
                i += 2
            elif i + 2 < n and toks[i + 2] == "]":
                dims += f"[{toks[i + 1]}]"
                i += 3
            else:
                return None
        bits = None
        if i + 1 < n and toks[i] == ":":
            bits = toks[i + 1]
            i += 2
        if name is None and (bits is None or stars or dims) and not (abstract and bits is None):
            return None
        decl = star + dims
        ty = base if not decl else (base + decl if decl[0] == "[" else f"{base} {decl}")
        out.append((name, ty, bits))
        if i == n:
            return tuple(out)
        if toks[i] != ",":
            return None
        i += 1


def _fast_params(toks: list[str]) -> str | None:
    """Canonical parameter list of simple parameters (see ``_fast_decl``), or None."""
    if not toks:
        return ""
    if "(" in toks:
        return None
    out: list[str] = []
    start = 0
    for k in range(len(toks) + 1):
        if k == len(toks) or toks[k] == ",":
            p = toks[start:k]
            start = k + 1
            if p == ["..."]:
                out.append("...")
                continue
            r = _fast_decl(p, abstract=True) if p else None
            if r is None or len(r) != 1 or r[0][2] is not None:
                return None
            out.append(r[0][1])
    return ", ".join(out)


def _is_basic_word(w: str) -> bool:
    return w in _BASIC


def _parse_decl(toks: list[str]) -> tuple[tuple[str | None, str, str | None], ...] | str:
    """Parse one member declaration; a string is the reason it could not be parsed."""
    stubs = _type_idents(toks)
    if "__sd_bad" in stubs:
        return "unknown word before the type"
    src = "".join(f"typedef int {s};" for s in sorted(stubs))
    src += "struct __sd_s {" + " ".join(toks) + ";};"
    try:
        ast = _cparser().parse(src, "<member>")
        decls = ast.ext[-1].type.decls or []
        out = []
        for d in decls:
            if d.name is None and d.bitsize is None:
                return "declares no member"
            bits = None
            if d.bitsize is not None:
                bits = d.bitsize.name if isinstance(d.bitsize, c_ast.ID) else str(
                    getattr(d.bitsize, "value", "?"))
            out.append((d.name, canonical_type(d.type), bits))
        if not out:
            return "declares no member"
        return tuple(out)
    except RecursionError:
        return "declaration nested too deeply"
    except Exception as e:  # noqa: BLE001 - pycparser raises several kinds on bad input
        msg = str(e)
        m = re.search(r"before: (.*)", msg)
        return f"cannot parse declaration (before {m.group(1)!r})" if m else (
            f"cannot parse declaration ({msg.split(': ', 1)[-1][:80]})")


# ---------------------------------------------------------------------------------------------
# Canonical types

_QUAL_ORDER = {"const": 0, "volatile": 1, "restrict": 2, "_Atomic": 3}


def _quals(q: list[str]) -> list[str]:
    return sorted(set(q) & _QUAL_ORDER.keys(), key=_QUAL_ORDER.__getitem__)


def _walk(node: Any, inner: str) -> tuple[str, str]:
    while True:
        if isinstance(node, c_ast.PtrDecl):
            q = _quals(node.quals)
            s = "*" + " ".join(q)
            if q and inner and inner[0] not in "[)":
                s += " "
            inner = s + inner
            if isinstance(node.type, (c_ast.ArrayDecl, c_ast.FuncDecl)):
                inner = f"({inner})"
            node = node.type
        elif isinstance(node, c_ast.ArrayDecl):
            dim = "" if node.dim is None else _expr_text(node.dim)
            inner = f"{inner}[{dim}]"
            node = node.type
        elif isinstance(node, c_ast.FuncDecl):
            inner = f"{inner}({_params(node.args)})"
            node = node.type
        elif isinstance(node, c_ast.TypeDecl):
            q = _quals(node.quals)
            base = _base(node.type)
            return (" ".join(q) + " " + base if q else base), inner
        else:
            return _base(node), inner


def _expr_text(node: Any) -> str:
    if isinstance(node, c_ast.ID):
        return node.name
    if isinstance(node, c_ast.Constant):
        return str(node.value)
    from pycparser.c_generator import CGenerator

    return " ".join(CGenerator().visit(node).split())


def _params(pl: Any) -> str:
    if pl is None:
        return ""
    out = []
    for p in pl.params:
        if isinstance(p, c_ast.EllipsisParam):
            out.append("...")
        elif isinstance(p, c_ast.ID):
            out.append(p.name)
        else:
            out.append(canonical_type(p.type))
    return ", ".join(out)


def _base(t: Any) -> str:
    if isinstance(t, c_ast.IdentifierType):
        return _basic(t.names)
    if isinstance(t, (c_ast.Struct, c_ast.Union, c_ast.Enum)):
        kw = {c_ast.Struct: "struct", c_ast.Union: "union", c_ast.Enum: "enum"}[type(t)]
        return f"{kw} {t.name}" if t.name else kw
    return "?"


def _basic(names: list[str]) -> str:
    if len(names) == 1 and names[0] not in ("unsigned", "signed", "short", "long"):
        return names[0]
    s = list(names)
    longs = s.count("long")
    unsigned = "unsigned" in s
    if "char" in s:
        core = "char" if not ("signed" in s) else "signed char"
    elif "short" in s:
        core = "short"
    elif "double" in s:
        core = "long double" if longs else "double"
    elif longs >= 2:
        core = "long long"
    elif longs == 1:
        core = "long"
    elif "__int128" in s:
        core = "__int128"
    elif "float" in s:
        core = "float"
    else:
        core = "int"
    if "_Complex" in s:
        core = "_Complex " + core
    return f"unsigned {core}" if unsigned else core
