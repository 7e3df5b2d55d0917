"""preprocess: the small C preprocessor that srcdiff needs for struct bodies.

Decoding, comment stripping, kernel .config handling, #define collection, macro expansion,
#if expression evaluation and guard spelling, and #include following inside a repository.

Include rules (kernel first, other projects second): ``#include <x/y.h>`` is looked up, in this
order, at ``arch/ARCH/include/x/y.h``, ``include/x/y.h``, ``arch/ARCH/include/uapi/x/y.h``,
``include/uapi/x/y.h`` (the order of the kernel's LINUXINCLUDE), then ``include/asm-generic/y.h``
for ``asm/`` headers the build would generate, then ``x/y.h`` from the repository root;
``#include "y.h"`` is looked up next to the including file first, then as above.

Include budget: the include walk of one file looks up at most ``INCLUDE_BUDGET`` (256) distinct
paths (include_reader calls; a path read or found missing is not asked again in that walk, so a
header that includes the world, or the same missing candidate 1,000 times, costs at most 256),
breadth first (nearest headers first), all at once when the first identifier needs a definition
that the file itself (or the config) does not have; files read are at most as many. A reader
that gives blob ids is asked for an #include's remaining candidates in one exchange, so at most
six ids per path tried. What a file defines is memoized per content hash, so repeated calls
over the same blobs cost a dictionary lookup per file; the include walk of a file is shared by
every read with the same text, path, config, arch and include_reader object (a reader is
assumed to keep returning the same bytes for a path). A reader that can also give blob ids
(``ids(paths)``, ``read_id(blob)``: srcdiff's reader of a git revision) has its walk shared
between revisions wherever every path it tried has the same blob id, and between the files of
one directory with the same #include's (each is looked up from the directory) unless the walk
met the file itself (a walk passes over its own file).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from srcdiff.errors import SrcdiffError
from srcdiff.limits import MAX_EXPANSION_DEPTH, MAX_EXPANSION_TOKENS, MAX_INCLUDE_READS, quote

# paths looked up per include walk, see _included_for; bounds live in srcdiff.limits
INCLUDE_BUDGET = MAX_INCLUDE_READS
_MAX_EXPANSION_DEPTH = MAX_EXPANSION_DEPTH
_MAX_EXPANSION_TOKENS = MAX_EXPANSION_TOKENS

# ---------------------------------------------------------------------------------------------
# Text


def decode_source(data: bytes) -> str:
    """Source bytes as text: UTF-8, else Latin-1 (old headers); CRLF and lone CR become LF, a
    NUL byte a space."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        text = text.replace("\0", " ")  # gcc reads a NUL byte as a space ("null character ignored")
    return text


# Each alternative unrolled (runs of plain characters, then one special): a comment or string
# read a character at a time through an alternation (or a lazy '.*?') cost most of the time of
# scanning a header. A comment ends at the first '*/', or at the end of the text.
_COMMENT_RE = re.compile(
    r"""//[^\n\\]*(?:\\.[^\n\\]*)*|/\*[^*]*(?:\*+[^*/][^*]*)*(?:\*+/|\**\Z)"""
    r"""|"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|'[^'\\\n]*(?:\\.[^'\\\n]*)*'?""", re.S
)


def _comment_sub(m: re.Match[str]) -> str:
    s = m.group(0)
    if s[0] == "/":
        # a comment is one space to the compiler; keep its newlines so line numbers stay right
        return " " + "\n" * s.count("\n")
    return s


def strip_comments(text: str) -> str:
    """TEXT with /* */ and // comments replaced by a space; newlines are kept."""
    if "/" not in text:
        return text
    return _COMMENT_RE.sub(_comment_sub, text)


def logical_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(physical line number, text) per logical line, backslash-newline continuations joined."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = first_line
    for i, line in enumerate(text.split("\n")):
        if not pending:
            start = first_line + i
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        out.append((start, " ".join(pending) if len(pending) > 1 else line))
        pending = []
    if pending:
        out.append((start, " ".join(pending)))
    return out


_TOKEN_RE = re.compile(
    r"""
    [A-Za-z_$][A-Za-z0-9_$]*
  | \.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*
  | "(?:[^"\\\n]|\\.)*"?
  | '(?:[^'\\\n]|\\.)*'?
  | \.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\#\#|[-+*/%&|^!=<>]=
  | \S
    """,
    re.X,
)


def tokenize(text: str) -> list[str]:
    """C tokens of TEXT (identifiers, numbers, strings, punctuators); whitespace dropped."""
    return _TOKEN_RE.findall(text)


def is_ident(tok: str) -> bool:
    c = tok[0]
    return c.isalpha() or c == "_" or c == "$"


_NO_SPACE_AFTER = {"(", "[", "!", "~", "#", "."}
_NO_SPACE_BEFORE = {")", "]", ",", ";", "."}


def join_tokens(toks: Iterable[str]) -> str:
    """Tokens as normalised text: ``BITS_TO_LONGS(64)``, ``N + 1``, ``a[2]``."""
    out: list[str] = []
    prev = ""
    for t in toks:
        if out:
            if prev in _NO_SPACE_AFTER or t in _NO_SPACE_BEFORE:
                pass
            elif t in ("(", "[") and (is_ident(prev) or prev in (")", "]")):
                pass
            elif prev == "*" and t in ("*", ")"):
                pass
            else:
                out.append(" ")
        out.append(t)
        prev = t
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Configuration


_NOT_SET = re.compile(r"#\s*(CONFIG_\w+) is not set")
_CONFIG_LINE = re.compile(r"(CONFIG_\w+)=(.*)")


@dataclass(frozen=True)
class Config:
    """A kernel .config plus -D defines, as the macros the compiler would see; or (``host``)
    the host compiler's view of a project that is not configured by Kconfig.

    ``values`` maps CONFIG_ names to their .config value (``"y"``, ``"m"``, a number or a quoted
    string); ``defines`` maps other -D names to their replacement text; ``undefs`` are -U names
    (predefines and -D's taken away).

    ``host``: gcc on Linux x86-64 (its predefines, see target_predefines) with the -D's and
    -U's on top; a name defined nowhere is undefined, except the names a build generates,
    which stay unknown (their members keep their guard): CONFIG_ names (no .config decides
    them) and the names a template of a generated header lists (see generated_names).
    """

    values: tuple[tuple[str, str], ...] = ()
    defines: tuple[tuple[str, str], ...] = ()
    undefs: tuple[str, ...] = ()
    host: bool = False

    @classmethod
    def for_host(cls) -> Config:
        """The host compiler's view, no -D's: how a project without a .config is read."""
        return cls(host=True)

    @property
    def decides_kconfig(self) -> bool:
        """Whether a CONFIG_ name this config does not set is not set (a .config, or -D's
        given for a kernel tree); a host config leaves CONFIG_ names unknown."""
        return not self.host

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        """Read a kernel .config; raises SrcdiffError naming file:line on a line it cannot read."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise SrcdiffError(f"{p}: cannot read config: {e.strerror or e}") from None
        return cls.from_bytes(data, p)

    @classmethod
    def from_bytes(cls, data: bytes, path: str | Path) -> Config:
        """A kernel .config's bytes DATA read from PATH (named in errors), as from_file."""
        p = Path(path)
        text = data.decode("utf-8", errors="replace")
        values: dict[str, str] = {}
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            m = _NOT_SET.fullmatch(line) if line[0] == "#" else None
            if m:
                values[m.group(1)] = "n"
                continue
            if line.startswith("#"):
                continue
            m = _CONFIG_LINE.fullmatch(line)
            if not m or not _valid_config_value(m.group(2)):
                raise SrcdiffError(f"{p}:{n}: not a .config line: {raw.strip()[:80]!r}")
            values[m.group(1)] = m.group(2)
        return cls(values=tuple(sorted(values.items())))

    @classmethod
    def from_defines(cls, defines: list[str], undefs: list[str] = ()) -> Config:
        """-D style defines: ``["CONFIG_X=y", "FOO", "BAR=3"]``; ``FOO`` means ``FOO=1``;
        UNDEFS: -U names."""
        values: dict[str, str] = {}
        other: dict[str, str] = {}
        for d in defines:
            name, eq, val = d.partition("=")
            name = name.strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise SrcdiffError(f"-D {d}: not a macro name")
            val = val.strip() if eq else "1"
            if name.startswith("CONFIG_") and _valid_config_value(val):
                values[name] = val
            else:
                other[name] = val
        for u in undefs:
            if not re.fullmatch(r"[A-Za-z_]\w*", u.strip()):
                raise SrcdiffError(f"-U {u}: not a macro name")
        return cls(values=tuple(sorted(values.items())), defines=tuple(sorted(other.items())),
                   undefs=tuple(sorted({u.strip() for u in undefs})))

    def merged(self, other: Config) -> Config:
        """This config with OTHER's settings added (OTHER wins on conflicts); whether it is
        the host's view is this config's."""
        v = dict(self.values)
        v.update(other.values)
        d = dict(self.defines)
        d.update(other.defines)
        u = set(self.undefs) - d.keys() - v.keys() | set(other.undefs)
        return Config(values=tuple(sorted(v.items())), defines=tuple(sorted(d.items())),
                      undefs=tuple(sorted(u)), host=self.host)

    def fingerprint(self) -> str:
        """Stable hash of the settings, for cache keys."""
        fp = self.__dict__.get("_fingerprint")
        if fp is None:
            fp = hashlib.sha256(repr((self.values, self.defines, self.undefs, self.host))
                                .encode()).hexdigest()[:16]
            # memoized on the instance: a kernel config is thousands of lines, asked per file
            object.__setattr__(self, "_fingerprint", fp)
        return fp

    def macros(self) -> dict[str, Macro]:
        """The #define's the compiler sees: =y gives X 1, =m gives X_MODULE 1, =n nothing.
        The same dict on every call: callers must not change it."""
        out = self.__dict__.get("_macros")
        if out is None:
            out = self._macros()
            object.__setattr__(self, "_macros", out)
        return out

    def _macros(self) -> dict[str, Macro]:
        out: dict[str, Macro] = {}
        for name, val in self.values:
            if val == "y":
                out[name] = Macro(name, None, ("1",))
            elif val == "m":
                out[name + "_MODULE"] = Macro(name + "_MODULE", None, ("1",))
            elif val != "n":
                out[name] = Macro(name, None, tuple(tokenize(val)))
        machine = _HOST_MACHINE if self.host else dict(self.values)
        for name, val in target_predefines(machine, hosted=self.host).items():
            out[name] = Macro(name, None, tuple(tokenize(val)))
        for name, val in self.defines:
            out[name] = Macro(name, None, tuple(tokenize(val)))
        for name in self.undefs:
            out.pop(name, None)
        return out


# arch symbol of a .config -> (macros the compiler predefines for it, whether it is big-endian
# by default); the 64-bit variants add their own
_ARCH_PREDEFINES: dict[str, tuple[dict[str, str], bool]] = {
    "CONFIG_X86_64": ({"__x86_64__": "1", "__x86_64": "1", "__amd64__": "1"}, False),
    "CONFIG_X86_32": ({"__i386__": "1", "__i386": "1"}, False),
    "CONFIG_ARM64": ({"__aarch64__": "1"}, False),
    "CONFIG_ARM": ({"__arm__": "1"}, False),
    "CONFIG_RISCV": ({"__riscv": "1"}, False),
    "CONFIG_LOONGARCH": ({"__loongarch__": "1"}, False),
    "CONFIG_S390": ({"__s390__": "1"}, True),
    "CONFIG_PPC": ({"__powerpc__": "1", "__PPC__": "1"}, True),
    "CONFIG_MIPS": ({"__mips__": "1"}, True),
    "CONFIG_SPARC": ({"__sparc__": "1"}, True),
}

# arch symbol -> the byte-order names its compiler predefines (big-endian, little-endian)
_ENDIAN_NAMES = {"CONFIG_ARM64": ("__AARCH64EB__", "__AARCH64EL__"),
                 "CONFIG_ARM": ("__ARMEB__", "__ARMEL__")}


# the machine a project without a .config is read for: the host's (gcc 12 on Linux x86-64)
_HOST_MACHINE = {"CONFIG_X86_64": "y", "CONFIG_64BIT": "y", "CONFIG_CC_IS_GCC": "y",
                 "CONFIG_GCC_VERSION": "120200"}

# what gcc predefines in a hosted (userspace) build on Linux, beyond the machine: the system,
# the C dialect (gcc's default, gnu17), the sizes of the other basic types
_HOSTED_PREDEFINES = {
    "__linux__": "1", "__linux": "1", "__gnu_linux__": "1", "__unix__": "1", "__unix": "1",
    "__ELF__": "1", "__STDC__": "1", "__STDC_HOSTED__": "1", "__STDC_VERSION__": "201710L",
    "__GNUC_MINOR__": "2", "__GNUC_PATCHLEVEL__": "0", "__SIZEOF_INT__": "4",
    "__SIZEOF_SHORT__": "2", "__SIZEOF_LONG_LONG__": "8", "__SIZEOF_FLOAT__": "4",
    "__SIZEOF_DOUBLE__": "8", "__SIZEOF_WCHAR_T__": "4", "__SSE__": "1", "__SSE2__": "1",
    # and the C library's (glibc's <features.h>, <endian.h>), which every program includes;
    # not __BIG_ENDIAN, which the kernel's headers test with #ifdef for a big-endian machine
    "__GLIBC__": "2", "__WORDSIZE": "64", "__BYTE_ORDER": "1234", "__FLOAT_WORD_ORDER": "1234",
}


def target_predefines(values: dict[str, str], hosted: bool = False) -> dict[str, str]:
    """What the compiler defines for the machine a kernel .config builds for: architecture,
    word size, byte order (and the kernel's own __LITTLE/BIG_ENDIAN_BITFIELD, which follow
    from it), compiler. Empty when VALUES names no architecture (a few -D's, not a .config):
    then such names stay undecided, as without a config. HOSTED: a userspace build on Linux
    (a project read with the host's view, Config.host), which adds the system's and the C
    dialect's names."""
    on = {k for k, v in values.items() if v == "y"}
    arches = [a for a in _ARCH_PREDEFINES if a in on]
    if not arches:
        return {}
    out: dict[str, str] = {}
    big = False
    for a in arches:
        names, big_default = _ARCH_PREDEFINES[a]
        out.update(names)
        big = big or big_default
    wide = "CONFIG_64BIT" in on
    if wide:
        out.update({"__LP64__": "1", "_LP64": "1"})
        if "CONFIG_S390" in on:
            out["__s390x__"] = "1"
        if "CONFIG_PPC" in on:
            out.update({"__powerpc64__": "1", "__PPC64__": "1"})
    else:
        out.update({"__ILP32__": "1", "_ILP32": "1"})
    out["__CHAR_BIT__"] = "8"
    out["__SIZEOF_LONG__"] = out["__SIZEOF_POINTER__"] = out["__SIZEOF_SIZE_T__"] = (
        "8" if wide else "4")
    if "CONFIG_CPU_BIG_ENDIAN" in on:
        big = True
    elif "CONFIG_CPU_LITTLE_ENDIAN" in on:
        big = False
    out.update({"__ORDER_LITTLE_ENDIAN__": "1234", "__ORDER_BIG_ENDIAN__": "4321"})
    if big:
        out.update({"__BYTE_ORDER__": "__ORDER_BIG_ENDIAN__", "__BIG_ENDIAN": "4321",
                    "__BIG_ENDIAN_BITFIELD": ""})
    else:
        out.update({"__BYTE_ORDER__": "__ORDER_LITTLE_ENDIAN__", "__LITTLE_ENDIAN": "1234",
                    "__LITTLE_ENDIAN_BITFIELD": ""})
    # arm's compilers name the byte order too, and arm64's <asm/byteorder.h> picks the
    # kernel's big- or little-endian definitions by __AARCH64EB__
    for sym, (be, le) in _ENDIAN_NAMES.items():
        if sym in arches:
            out[be if big else le] = "1"
    if "CONFIG_CC_IS_CLANG" in on:
        out.update({"__clang__": "1", "__GNUC__": "4"})
    elif "CONFIG_CC_IS_GCC" in on:
        ver = values.get("CONFIG_GCC_VERSION", "")
        out["__GNUC__"] = str(int(ver) // 10000) if ver.isdigit() and int(ver) >= 10000 else "4"
    if hosted:
        out.update(_HOSTED_PREDEFINES)
    return out


# the machine a kernel tree is read for without a .config, by --arch: the variant
# distributions build (64-bit where there is one), whose BTF CO-RE programs meet
_DEFAULT_MACHINE = {"x86": ("CONFIG_X86_64", True), "arm64": ("CONFIG_ARM64", True),
                    "arm": ("CONFIG_ARM", False), "riscv": ("CONFIG_RISCV", True),
                    "s390": ("CONFIG_S390", True), "powerpc": ("CONFIG_PPC", True),
                    "loongarch": ("CONFIG_LOONGARCH", True)}


def default_machine_predefines(arch: str) -> dict[str, str]:
    """What the compiler predefines for ARCH's usual machine (x86: x86-64), for choosing among
    a header's per-machine alternatives (``#ifdef __i386__ struct pt_regs {…} #else …``) when
    no .config names the machine; empty for an arch not listed."""
    sym, wide = _DEFAULT_MACHINE.get(arch, (None, False))
    if sym is None:
        return {}
    return target_predefines({sym: "y", **({"CONFIG_64BIT": "y"} if wide else {})})


# what target_predefines may define: with a config that names the machine, one of these it
# does not define is not defined (the compiler's other predefines are not modelled)
_TARGET_NAMES = frozenset(
    [n for names, _ in _ARCH_PREDEFINES.values() for n in names]
    + ["__LP64__", "_LP64", "__ILP32__", "_ILP32", "__s390x__", "__powerpc64__", "__PPC64__"]
    + ["__CHAR_BIT__", "__SIZEOF_LONG__", "__SIZEOF_POINTER__", "__SIZEOF_SIZE_T__"]
    + ["__BYTE_ORDER__"] + [n for pair in _ENDIAN_NAMES.values() for n in pair]
    + list(_HOSTED_PREDEFINES)
)


def _has_target(config: Config | None) -> bool:
    """Whether CONFIG names the machine (a kernel .config: target_predefines gives its
    word size), so that word sizes follow it rather than the 64-bit default."""
    return config is not None and "__SIZEOF_POINTER__" in config.macros()


def _valid_config_value(v: str) -> bool:
    return bool(re.fullmatch(r'[ymn]|-?\d+|0[xX][0-9a-fA-F]+|"(?:[^"\\]|\\.)*"', v))


# ---------------------------------------------------------------------------------------------
# Macros


@dataclass(frozen=True)
class Macro:
    """One #define: PARAMS is None for an object-like macro; VARIADIC names the ... parameter."""

    name: str
    params: tuple[str, ...] | None
    body: tuple[str, ...]
    variadic: str | None = None


def parse_define(rest: str) -> Macro | None:
    """The macro of a ``#define`` line, given the text after ``define``; None if malformed."""
    m = _DEFINE_NAME_RE.match(rest)
    if not m:
        return None
    name = m.group(1)
    if not m.group(2):
        return Macro(name, None, tuple(tokenize(rest[m.end() :])))
    close = rest.find(")", m.end())
    if close < 0:
        return None
    params: list[str] = []
    variadic = None
    for p in rest[m.end() : close].split(","):
        p = p.strip()
        if not p:
            continue
        if p == "...":
            variadic = "__VA_ARGS__"
            params.append(variadic)
        elif p.endswith("..."):
            variadic = p[:-3].strip()
            params.append(variadic)
        else:
            params.append(p)
    return Macro(name, tuple(params), tuple(tokenize(rest[close + 1 :])), variadic)


def _collect_args(toks: list[str], i: int) -> tuple[list[list[str]], int] | None:
    """Arguments of a call whose '(' is toks[i]; returns (args, index after ')')."""
    depth = 0
    args: list[list[str]] = [[]]
    j = i
    while j < len(toks):
        t = toks[j]
        if t == "(":
            depth += 1
            if depth > 1:
                args[-1].append(t)
        elif t == ")":
            depth -= 1
            if depth == 0:
                return args, j + 1
            args[-1].append(t)
        elif t == "," and depth == 1:
            args.append([])
        else:
            args[-1].append(t)
        j += 1
    return None


class _ExpansionLimit(ValueError):
    """A macro whose expansion runs past the bounds (a macro bomb: ``#define A1 A0 A0`` ...)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what
        self.macro: str | None = None

    def __str__(self) -> str:
        return f"macro {quote(self.macro)} {self.what}" if self.macro else self.what


def expand(
    toks: list[str],
    lookup: Callable[[str], Macro | None],
    disabled: frozenset[str] = frozenset(),
    _depth: int = 0,
) -> list[str]:
    """TOKS with macros expanded (function-like with arguments, # and ##).

    A macro is not expanded inside its own expansion. Expansion is bounded: at most
    MAX_EXPANSION_DEPTH nested expansions and MAX_EXPANSION_TOKENS tokens produced and macros
    expanded in all (so a macro doubling at each of 40 levels stops after ~20,000 steps, not
    2^40); past the bounds ValueError is raised, naming the macro of TOKS that ran over.
    """
    return _expand(toks, lookup, disabled, _depth, [0])


def _expand(
    toks: list[str], lookup: Callable[[str], Macro | None], disabled: frozenset[str],
    depth: int, spent: list[int],
) -> list[str]:
    if depth > _MAX_EXPANSION_DEPTH:
        raise _ExpansionLimit(f"nests more than {_MAX_EXPANSION_DEPTH} expansions deep")
    out: list[str] = []
    i = 0
    n = len(toks)
    while i < n:
        # one step per token produced and per macro expanded (an empty macro costs a step too)
        spent[0] += 1
        if spent[0] > _MAX_EXPANSION_TOKENS:
            raise _ExpansionLimit(f"expands to more than {_MAX_EXPANSION_TOKENS:,} tokens")
        t = toks[i]
        if is_ident(t) and t not in disabled:
            m = lookup(t)
            if m is not None:
                try:
                    if m.params is None:
                        out.extend(_expand(list(m.body), lookup, disabled | {t}, depth + 1, spent))
                        i += 1
                        continue
                    if i + 1 < n and toks[i + 1] == "(":
                        got = _collect_args(toks, i + 1)
                        if got is not None:
                            args, j = got
                            body = _substitute(m, args, lookup, disabled, depth, spent)
                            out.extend(_expand(body, lookup, disabled | {t}, depth + 1, spent))
                            i = j
                            continue
                except _ExpansionLimit as e:
                    if e.macro is None and depth == 0:
                        e.macro = t
                    raise
        out.append(t)
        i += 1
    return out


def _substitute(
    m: Macro, args: list[list[str]], lookup: Callable[[str], Macro | None],
    disabled: frozenset[str], depth: int, spent: list[int] | None = None,
) -> list[str]:
    """M's body with ARGS substituted (arguments macro-expanded unless # or ## use them)."""
    spent = [0] if spent is None else spent
    params = m.params or ()
    if len(args) == 1 and not args[0] and not params:
        args = []
    amap: dict[str, list[str]] = {}
    for k, p in enumerate(params):
        if p == m.variadic:
            rest: list[str] = []
            for a in args[k:]:
                if rest or a is not args[k]:
                    rest.append(",")
                rest.extend(a)
            amap[p] = rest
            break
        amap[p] = args[k] if k < len(args) else []
    expanded: dict[str, list[str]] = {}
    body = m.body
    out: list[str] = []
    i = 0
    while i < len(body):
        t = body[i]
        if t == "#" and i + 1 < len(body) and body[i + 1] in amap:
            out.append('"' + join_tokens(amap[body[i + 1]]).replace('"', '\\"') + '"')
            i += 2
            continue
        if t == "##" and out and i + 1 < len(body):
            nxt = body[i + 1]
            right = amap[nxt] if nxt in amap else [nxt]
            left = out.pop()
            if left == "__sd_empty":
                left = ""
            if left == "," and nxt == m.variadic and not right:
                # GNU ", ## __VA_ARGS__" drops the comma when nothing follows
                i += 2
                continue
            pasted = left + (right[0] if right else "")
            out.extend(tokenize(pasted) if pasted else [])
            out.extend(right[1:])
            i += 2
            continue
        if t in amap:
            pasting = i + 1 < len(body) and body[i + 1] == "##"
            if pasting:
                out.extend(amap[t] or ["__sd_empty"])
            else:
                if t not in expanded:
                    expanded[t] = _expand(amap[t], lookup, disabled, depth + 1, spent)
                out.extend(expanded[t])
            i += 1
            continue
        out.append(t)
        i += 1
    return [x for x in out if x != "__sd_empty"]


# ---------------------------------------------------------------------------------------------
# Expressions (#if conditions, array sizes, bitfield widths)


class ExprError(Exception):
    """An expression that cannot be evaluated to an integer."""


class ExpansionTooLarge(ExprError):
    """An expression whose macros expand past the bounds (see expand); names the macro."""


# LP64 sizes: the arches srcdiff reads kernels for are 64-bit unless told otherwise (a
# config naming a 32-bit machine: its __SIZEOF_LONG__, __SIZEOF_POINTER__, see _WORD_SIZED)
_SIZEOF = {
    "char": 1, "signed char": 1, "unsigned char": 1, "_Bool": 1, "bool": 1,
    "short": 2, "unsigned short": 2, "int": 4, "unsigned int": 4, "unsigned": 4,
    "long": 8, "unsigned long": 8, "long long": 8, "unsigned long long": 8,
    "float": 4, "double": 8, "long double": 16,
    "u8": 1, "s8": 1, "__u8": 1, "__s8": 1, "u16": 2, "s16": 2, "__u16": 2, "__s16": 2,
    "__le16": 2, "__be16": 2, "u32": 4, "s32": 4, "__u32": 4, "__s32": 4, "__le32": 4,
    "__be32": 4, "u64": 8, "s64": 8, "__u64": 8, "__s64": 8, "__le64": 8, "__be64": 8,
    "size_t": 8, "ssize_t": 8, "uint8_t": 1, "uint16_t": 2, "uint32_t": 4, "uint64_t": 8,
    "int8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8, "void *": 8, "char *": 8,
    "unsigned long int": 8, "long int": 8, "long unsigned int": 8,
}

# types as wide as a long or a pointer: the predefine that gives their size for the machine
_WORD_SIZED = {
    "long": "__SIZEOF_LONG__", "unsigned long": "__SIZEOF_LONG__",
    "long int": "__SIZEOF_LONG__", "unsigned long int": "__SIZEOF_LONG__",
    "long unsigned int": "__SIZEOF_LONG__", "signed long": "__SIZEOF_LONG__",
    "size_t": "__SIZEOF_SIZE_T__", "ssize_t": "__SIZEOF_SIZE_T__",
    "ptrdiff_t": "__SIZEOF_POINTER__", "uintptr_t": "__SIZEOF_POINTER__",
    "intptr_t": "__SIZEOF_POINTER__", "void *": "__SIZEOF_POINTER__",
    "char *": "__SIZEOF_POINTER__",
}

_BINARY = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}

_INT_RE = re.compile(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)[uUlL]*\Z")


def _int_literal(t: str) -> int | None:
    m = _INT_RE.match(t)
    if not m:
        if len(t) >= 3 and t[0] == "'" and t[-1] == "'":
            body = t[1:-1]
            if len(body) == 1:
                return ord(body)
            esc = {"\\n": 10, "\\t": 9, "\\0": 0, "\\\\": 92, "\\'": 39, '\\"': 34, "\\r": 13}
            if body in esc:
                return esc[body]
        return None
    s = m.group(1)
    if s[:2] in ("0x", "0X"):
        return int(s, 16)
    if s[:2] in ("0b", "0B"):
        return int(s[2:], 2)
    if len(s) > 1 and s[0] == "0":
        return int(s, 8)
    return int(s)


# An operand that cannot be evaluated stands for any value: the evaluator below is
# three-valued, None for such an operand, and an operator whose known operands decide it is
# decided anyway (C's 1 || X is 1, 0 && X is 0, c ? a : b needs only the chosen arm).
_UNKNOWN_TOK = " unknown"  # a token no source text gives: defined(X) with X unknown


def _never(name: str) -> bool:
    return False


def _no_lookup(name: str) -> Macro | None:
    return None


class _Evaluator:
    """Pratt evaluator over already-expanded tokens, three-valued: a value is an int or None
    (cannot be evaluated: an unknown name, a function-like macro no file read defines, a
    division by zero, an unknown sizeof); ``||``, ``&&`` and ``?:`` are decided by their known
    operands where those decide them, any other operator on None is None. The first reason
    for a None is kept in ``why``. Text that does not parse raises ExprError.

    unknown(name): whether an identifier left after expansion cannot be evaluated; one that
    is not (cpp's undefined name) is 0. None: every such identifier is unknown (integer
    constant expressions: array sizes, bitfield widths)."""

    def __init__(self, toks: list[str], unknown: Callable[[str], bool] | None,
                 lookup: Callable[[str], Macro | None] = _no_lookup):
        self.t = toks
        self.i = 0
        self.unknown = unknown
        self.lookup = lookup  # for the machine's word size (__SIZEOF_LONG__ ...)
        self.why: str | None = None

    def cannot(self, why: str) -> None:
        if self.why is None:
            self.why = why

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        if self.i >= len(self.t):
            raise ExprError("unexpected end of expression")
        tok = self.t[self.i]
        self.i += 1
        return tok

    def parse(self) -> int | None:
        v = self.ternary()
        if self.i != len(self.t):
            raise ExprError(f"unexpected {self.t[self.i]!r}")
        return v

    def ternary(self) -> int | None:
        c = self.binary(1)
        if self.peek() == "?":
            self.take()
            a = self.ternary()
            if self.take() != ":":
                raise ExprError("expected ':'")
            b = self.ternary()
            if c is None:
                return a if a is not None and a == b else None
            return a if c else b
        return c

    def binary(self, minprec: int) -> int | None:
        left = self.unary()
        while True:
            op = self.peek()
            prec = _BINARY.get(op or "")
            if prec is None or prec < minprec:
                return left
            self.take()
            right = self.binary(prec + 1)
            left = self.apply(op or "", left, right)

    def apply(self, op: str, a: int | None, b: int | None) -> int | None:
        if op == "||":
            if a or b:  # a known non-zero operand decides it
                return 1
            return None if a is None or b is None else 0
        if op == "&&":
            if a == 0 or b == 0:  # a known zero operand decides it (None == 0 is False)
                return 0
            return None if a is None or b is None else 1
        if a is None or b is None:
            return None
        try:
            return _apply(op, a, b)
        except ExprError as e:
            self.cannot(str(e))
            return None

    def unary(self) -> int | None:
        t = self.take()
        if t in ("!", "~", "-", "+"):
            v = self.unary()
            if v is None or t == "+":
                return v
            return int(not v) if t == "!" else ~v if t == "~" else -v
        if t == "(":
            # a cast to an integer type is transparent for the sizes kernels use
            j = self.i
            while j < len(self.t) and self.t[j] != ")" and is_ident(self.t[j]) and (
                self.t[j] in _TYPE_WORDS or self.t[j] in _SIZEOF
            ):
                j += 1
            if j > self.i and j < len(self.t) and self.t[j] == ")":
                self.i = j + 1
                return self.unary()
            v = self.ternary()
            if self.take() != ")":
                raise ExprError("expected ')'")
            return v
        if t == "sizeof":
            return self.sizeof()
        if t == _UNKNOWN_TOK:
            return None  # why: set where the token was made
        v = _int_literal(t)
        if v is not None:
            return v
        if is_ident(t):
            if self.peek() == "(":
                # a function-like macro no file read defines: cpp would stop, the build would
                # not, so some header defines it; its value is unknown
                close = self._close(self.i)
                self.i = close + 1
                self.cannot(f"unknown function-like macro {t}")
                return None
            if self.unknown is None or self.unknown(t):
                self.cannot(f"unknown identifier {t}")
                return None
            return 0
        raise ExprError(f"unexpected {t!r}")

    def _close(self, i: int) -> int:
        depth = 0
        for j in range(i, len(self.t)):
            if self.t[j] == "(":
                depth += 1
            elif self.t[j] == ")":
                depth -= 1
                if depth == 0:
                    return j
        raise ExprError("expected ')'")

    def sizeof(self) -> int | None:
        if self.take() != "(":
            raise ExprError("sizeof without parentheses")
        words: list[str] = []
        while self.peek() not in (")", None):
            words.append(self.take())
        self.take()
        key = " ".join(w for w in words if w not in ("const", "volatile", "struct"))
        key = re.sub(r"\s*\*$", " *", key)
        word = "__SIZEOF_POINTER__" if key.endswith("*") else _WORD_SIZED.get(key)
        if word is not None:
            m = self.lookup(word)
            if m is not None and m.params is None and len(m.body) == 1:
                v = _int_literal(m.body[0])
                if v:
                    return v
            return 8
        if key in _SIZEOF:
            return _SIZEOF[key]
        self.cannot(f"sizeof({key}) unknown")
        return None


_TYPE_WORDS = {"unsigned", "signed", "int", "long", "short", "char", "const", "volatile"}


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero")
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return q if op == "/" else a - q * b
    if op in ("<<", ">>") and not 0 <= b < 4096:
        raise ExprError("shift out of range")
    return {
        "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
        ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
        "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
        "*": lambda: a * b,
    }[op]()


_KCONFIG_TESTS = ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE")


def _resolve_defined(
    toks: list[str], lookup: Callable[[str], Macro | None], unknown: Callable[[str], bool],
    whys: list[str],
) -> list[str]:
    """Replace defined(X), IS_ENABLED(X) & co. by 0/1 before expansion, as cpp does; by the
    unknown token where that depends on a name unknown(name) says cannot be evaluated (its
    reason appended to WHYS)."""
    out: list[str] = []
    i = 0
    n = len(toks)

    def one(name: str) -> bool | None:  # defined as 1 / not / unknown
        if not is_ident(name):
            # the option already expanded (IS_ENABLED(CONFIG_X) in a macro's body, with
            # linux/kconfig.h not read): the kernel's __is_defined(x) is 1 for x = 1 alone
            return name == "1"
        m = lookup(name)
        if m is None and unknown(name):
            whys.append(f"{name} unknown")
            return None
        return _is_one(m)

    while i < n:
        t = toks[i]
        if t == "defined":
            if i + 1 < n and toks[i + 1] == "(" and i + 3 < n and toks[i + 3] == ")":
                name, i = toks[i + 2], i + 4
            elif i + 1 < n and is_ident(toks[i + 1]):
                name, i = toks[i + 1], i + 2
            else:
                raise ExprError("malformed defined")
            if lookup(name) is not None:
                out.append("1")
            elif unknown(name):
                whys.append(f"{name} unknown")
                out.append(_UNKNOWN_TOK)
            else:
                out.append("0")
            continue
        if t in _KCONFIG_TESTS and i + 3 < n and toks[i + 1] == "(" and toks[i + 3] == ")":
            name = toks[i + 2]
            y, m = one(name), one(name + "_MODULE")
            if t == "IS_BUILTIN":
                val = y
            elif t == "IS_MODULE":
                val = m
            else:  # built in or a module: three-valued or
                val = True if y or m else None if y is None or m is None else False
            out.append(_UNKNOWN_TOK if val is None else "1" if val else "0")
            i += 4
            continue
        out.append(t)
        i += 1
    return out


def _is_one(m: Macro | None) -> bool:
    return m is not None and m.params is None and list(m.body) == ["1"]


def condition_value(
    toks: list[str], lookup: Callable[[str], Macro | None],
    unknown: Callable[[str], bool] = _never,
) -> tuple[bool | None, str | None]:
    """Value of an #if expression: (True or False, None) when decided, (None, the reason)
    when not. Names are looked up with LOOKUP; one it does not define is 0 as in cpp, unless
    unknown(name) says it cannot be evaluated (a header not read may define it). An operand
    that cannot be evaluated (such a name, a function-like macro nobody defines, a division
    by zero ...) leaves the condition undecided only where the other operands do not decide
    it: ``1 || X``, ``0 && X``, ``1 ? 2 : X`` are decided whatever X is. This is the one
    evaluator of #if's: in struct bodies (srcdiff.parse) and in headers (collect_macros)."""
    why = _plainly_unknown(toks, lookup, unknown)
    if why is not None:
        return None, why
    whys: list[str] = []
    try:
        resolved = _resolve_defined(toks, lookup, unknown, whys)
        try:
            expanded = expand(resolved, lookup)
        except ValueError as e:
            return None, str(e)
        expanded = _resolve_defined(expanded, lookup, unknown, whys)
        ev = _Evaluator(expanded, unknown, lookup)
        v = ev.parse()
    except ExprError as e:
        return None, str(e)
    if v is None:
        return None, ev.why or (whys[0] if whys else "cannot be evaluated")
    return bool(v), None


def _plainly_unknown(
    toks: list[str], lookup: Callable[[str], Macro | None], unknown: Callable[[str], bool]
) -> str | None:
    """The quick answer for most #if's of a header read without a config
    (``#if defined(CONFIG_X)``, ``#if IS_ENABLED(CONFIG_X) && ...`` is not one): where TOKS has
    no operator an operand can decide (``||``, ``&&``, ``?:``), no macro to expand and no type
    name, one unknown name makes it unknown; the reason, or None where this does not say."""
    why = None
    for i, t in enumerate(toks):
        if t in ("||", "&&", "?"):
            return None
        if not is_ident(t) or t == "defined" or t in _KCONFIG_TESTS:
            continue
        if t == "sizeof" or t in _TYPE_WORDS or t in _SIZEOF or lookup(t) is not None:
            return None
        if i >= 2 and toks[i - 1] == "(" and toks[i - 2] in _KCONFIG_TESTS:
            # IS_MODULE(X) tests X_MODULE, IS_ENABLED(X) both
            mod = t + "_MODULE"
            if lookup(mod) is not None or not unknown(mod):
                return None
        if why is None and unknown(t):
            why = f"{t} unknown"
    return why


def eval_condition(toks: list[str], lookup: Callable[[str], Macro | None]) -> bool:
    """Value of an #if expression; undefined identifiers are 0 as in cpp. Raises ExprError
    when it cannot be decided (see condition_value)."""
    val, why = condition_value(toks, lookup)
    if val is None:
        raise ExprError(why or "cannot be evaluated")
    return val


def eval_int(toks: list[str], lookup: Callable[[str], Macro | None]) -> int:
    """Value of an integer constant expression (array size, bitfield width): the evaluator of
    #if's with every name left after expansion unknown. Raises ExprError when undecided,
    ExpansionTooLarge when its macros expand past the bounds."""
    try:
        expanded = expand(toks, lookup)
    except _ExpansionLimit as e:
        raise ExpansionTooLarge(str(e)) from None
    except ValueError as e:
        raise ExprError(str(e)) from None
    ev = _Evaluator(expanded, None, lookup)
    v = ev.parse()
    if v is None:
        raise ExprError(ev.why or "cannot be evaluated")
    return v


def condition_text(toks: list[str]) -> str:
    """Readable guard text: ``defined(X)`` and ``defined X`` become ``X``; spacing normalised."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "defined":
            if i + 3 < len(toks) and toks[i + 1] == "(" and toks[i + 3] == ")":
                out.append(toks[i + 2])
                i += 4
                continue
            if i + 1 < len(toks) and is_ident(toks[i + 1]):
                out.append(toks[i + 1])
                i += 2
                continue
        out.append(t)
        i += 1
    return join_tokens(out)


def negate(term: str) -> str:
    """``!X`` for a simple term, X for ``!X``, ``!(A && B)`` otherwise."""
    if re.fullmatch(r"!?[A-Za-z_]\w*(\([^()]*\))?", term):
        return term[1:] if term.startswith("!") else "!" + term
    if term.startswith("!(") and _balanced_whole(term[1:]):
        return term[2:-1]
    return f"!({term})"


def _balanced_whole(s: str) -> bool:
    depth = 0
    for k, c in enumerate(s):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and k != len(s) - 1:
            return False
    return s.startswith("(") and depth == 0


def guard_text(terms: Iterable[str]) -> str | None:
    """Terms joined with ``&&``; terms holding ``||`` or ``?`` are parenthesised."""
    parts = []
    for t in terms:
        atomic = _balanced_whole(t) or (t.startswith("!(") and _balanced_whole(t[1:]))
        if ("||" in t or "?" in t) and not atomic:
            t = f"({t})"
        parts.append(t)
    return " && ".join(parts) if parts else None


# ---------------------------------------------------------------------------------------------
# Files: #define's and #include's


_INCLUDE_RE = re.compile(r'\s*[<"]([^>"]+)[>"]')


@dataclass(frozen=True)
class FileMacros:
    """What one file contributes: its #define's (first one wins) and its #include's.

    A define is kept as the text after its name's ``#define`` until first asked for
    (``macro``): a header defines hundreds of names and a struct needs a few."""

    defines: dict[str, Macro | str]
    includes: tuple[tuple[str, bool], ...]  # (name, quoted)
    # names #define'd more than once under #if's this file alone cannot decide
    ambiguous: frozenset[str] = frozenset()
    # whether some of those #if's test names the included headers may define
    includes_decide: bool = False
    # names #define'd (once) only under #if's this file alone cannot decide
    uncertain: frozenset[str] = frozenset()
    # those of them whose #if's test names the included headers (or the machine) may define
    outside: frozenset[str] = frozenset()

    def macro(self, name: str) -> Macro | None:
        """The #define of NAME in this file, or None."""
        return _resolve(self.defines, name)


def _resolve(defines: dict[str, Macro | str], name: str) -> Macro | None:
    v = defines.get(name)
    if v is None or v.__class__ is Macro:
        return v  # type: ignore[return-value]
    m = parse_define(v)  # type: ignore[arg-type]
    defines[name] = m  # type: ignore[assignment]
    return m


# a '#', its directive name and the rest of the logical line; whether the '#' starts a
# logical line is checked after (a regex anchored at line starts is tried at every offset)
_HASH_RE = re.compile(r"#[^\S\n]*([A-Za-z_]+)[^\S\n]*((?:[^\\\n]|\\[\s\S])*)")
_DEFINE_NAME_RE = re.compile(r"\s*([A-Za-z_]\w*)(\()?")


def _directives(text: str) -> list[tuple[str, str]]:
    """(directive, rest of its logical line) for each directive line of TEXT, in order."""
    out: list[tuple[str, str]] = []
    if "#" not in text:
        return out
    rfind = text.rfind
    for m in _HASH_RE.finditer(text):
        pos = m.start()
        ls = rfind("\n", 0, pos) + 1
        if ls < pos and not text[ls:pos].isspace():
            continue  # not the first thing on its line
        if ls >= 2 and text[ls - 2] == "\\":
            continue  # a continuation of the line before
        rest = m.group(2)
        if "\\\n" in rest:
            rest = rest.replace("\\\n", " ")
        out.append((m.group(1), rest))
    return out


_directives_cache: dict[bytes, tuple[list[tuple[str, str]], bytes]] = {}


def _directives_of(text: str) -> tuple[list[tuple[str, str]], bytes]:
    """(_directives(TEXT), a digest of them), once per text: a host config's include walks
    read the same headers again with other neighbours (_settle), and reads each version
    of the struct's own file with its includes' (_Scope._decide_with_includes)."""
    tkey = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
    got = _directives_cache.get(tkey)
    if got is None:
        dirs = _directives(text)
        if len(_directives_cache) > 2000:
            _directives_cache.clear()
        got = _directives_cache[tkey] = (
            dirs, hashlib.sha1(repr(dirs).encode("utf-8", "surrogatepass")).digest())
    return got


# keyed by a digest of the directives, so the cache holds what files define, not the files
_file_cache: dict[tuple[bytes, str], FileMacros] = {}

# macros a kernel build always has; the rest of the compiler's predefines do not matter here
_PREDEFINED = {"__KERNEL__": Macro("__KERNEL__", None, ("1",))}
_NO_PREDEFINED: dict[str, Macro] = {}


def _predefined(config: Config | None) -> dict[str, Macro]:
    """The kernel build's own predefines; none for a project read with the host's view."""
    return _NO_PREDEFINED if config is not None and config.host else _PREDEFINED


def collect_macros(
    text: str, config: Config | None,
    external: Callable[[str], Macro | None] | None = None, external_complete: bool = True,
    included: bool = False, unsure: Callable[[str], bool] | None = None,
) -> FileMacros:
    """The #define's and #include's of a comment-stripped file, conditionals evaluated.

    In #if's, a CONFIG_ name the config does not set is 0 (unknown without a config), a name
    the file does not define is unknown (a header it includes may define it). A condition with
    an unknown operand is decided where its other operands decide it (``1 || X``, ``0 && X``:
    see condition_value), else both its branches are read (the first #define of a name wins).
    external(name): the #define of NAME in the headers the file includes; with it, a name
    found nowhere counts as undefined (as in cpp), except CONFIG_ names without a config and
    ``__X__`` names (compiler predefines, not modelled). Memoized then by the answers
    external and unsure gave (a reading is reused where they answer the same). With
    external_complete False, a name external does not give stays unknown as without it: then
    only what external (and the file, the config) does define decides.
    included: the file is read for a file that #include's it, which sees what it leaves
    defined at its end: an #undef outside #if's that cannot be decided drops the name also
    without a config (a file's own structs see every #define, an #undef only with a config).
    unsure(name): with external, names that stay unknown although external does not give
    them (a host config: the names a build generates, those defined under #if's of their own
    that cannot be decided).
    """
    # the reading depends on the directive lines alone: versions of a file that differ
    # elsewhere (a struct's members) share it
    dirs, digest = _directives_of(text)
    key = (digest, config.fingerprint() if config else "", included)
    if external is None:
        hit = _file_cache.get(key)
        if hit is not None:
            return hit
        fm = _collect(dirs, config, None, True, included, None)
        if len(_file_cache) > 16000:
            _file_cache.clear()
        _file_cache[key] = fm
        return fm
    # with external, also on what external and unsure answer: one made before
    # is reused where each name it asked them about gets the same answer now (the include
    # walks of nearby revisions read the same headers with mostly the same neighbours)
    akey = (*key, external_complete, unsure is not None)
    earlier = _answered.get(akey)
    if earlier:
        for k, (asked, asked_unsure, fm) in enumerate(earlier):
            if all(external(n) == m for n, m in asked.items()) and (
                unsure is None or all(unsure(n) == u for n, u in asked_unsure.items())
            ):
                earlier.insert(0, earlier.pop(k))
                return fm
    asked: dict[str, Macro | None] = {}
    asked_unsure: dict[str, bool] = {}

    def ext(name: str) -> Macro | None:
        m = external(name)
        asked.setdefault(name, m)
        return m

    def uns(name: str) -> bool:
        u = unsure(name)  # type: ignore[misc]
        asked_unsure.setdefault(name, u)
        return u

    fm = _collect(dirs, config, ext, external_complete, included,
                  uns if unsure is not None else None)
    if earlier is None:
        if len(_answered) > 2000:  # up to 16,000 readings, as many as _file_cache holds
            _answered.clear()
        earlier = _answered[akey] = []
    earlier.insert(0, (asked, asked_unsure, fm))
    del earlier[_ANSWERED_PER_TEXT:]
    return fm


# readings with an external lookup (see collect_macros), the answers they asked for first
_answered: dict[tuple[object, ...], list[tuple[dict[str, Macro | None], dict[str, bool],
                                               FileMacros]]] = {}
_ANSWERED_PER_TEXT = 8


def _collect(
    dirs: list[tuple[str, str]], config: Config | None,
    external: Callable[[str], Macro | None] | None, external_complete: bool, included: bool,
    unsure: Callable[[str], bool] | None,
) -> FileMacros:
    """collect_macros's reading of a file's directives DIRS (_directives), not memoized."""
    cfg = config.macros() if config else {}
    predefined = _predefined(config)
    defines: dict[str, Macro | str] = {}
    includes: list[tuple[str, bool]] = []

    def lookup(name: str) -> Macro | None:
        m = _resolve(defines, name) or cfg.get(name) or predefined.get(name)
        if m is None and external is not None and _decidable_outside(name, config):
            m = external(name)
        return m

    # stack of (parent active, this branch active, some branch taken or unknown-taken)
    # plus: some condition of this #if chain so far could not be decided
    # plus: whether the includes could decide one of those conditions
    stack: list[list[bool]] = []
    active = True
    uncertain: set[str] = set()
    decidable: set[str] = set()
    ambiguous: set[str] = set()
    includes_decide = False
    # with external: whether a name it does not give counts as undefined (cpp) or unknown
    seen = external if external_complete else None
    for k, (d, rest) in enumerate(dirs):
        if d in ("if", "ifdef", "ifndef"):
            val = _file_condition(d, rest, lookup, config, seen, unsure) if active else False
            if val is None and d == "ifndef" and k + 1 < len(dirs) and dirs[k + 1][0] == "define":
                # the include-guard idiom: #ifndef X / #define X
                guard = rest.split(None, 1)[:1]
                if guard and dirs[k + 1][1].split(None, 1)[:1] == guard:
                    val = True
            outside = val is None and _outside_names(d, rest, lookup, config)
            stack.append([active, val is not False, val is True, val is None, outside])
            active = active and val is not False
        elif d == "elif" and stack:
            fr = stack[-1]
            val = (_file_condition("if", rest, lookup, config, seen, unsure)
                   if fr[0] and not fr[2] else False)
            fr[1] = val is not False
            fr[2] = fr[2] or val is True
            fr[3] = fr[3] or val is None
            fr[4] = fr[4] or (val is None and _outside_names("if", rest, lookup, config))
            active = fr[0] and fr[1]
        elif d == "else" and stack:
            fr = stack[-1]
            fr[1] = not fr[2]
            active = fr[0] and fr[1]
        elif d == "endif" and stack:
            active = stack.pop()[0]
        elif not active:
            continue
        elif d == "define":
            dm = _DEFINE_NAME_RE.match(rest)
            # a function-like define without ')' is malformed and defines nothing
            if dm and (not dm.group(2) or ")" in rest[dm.end():]):
                name = dm.group(1)
                undecided = any(fr[3] for fr in stack)
                if name not in defines:
                    defines[name] = rest
                    if undecided:
                        uncertain.add(name)
                        if any(fr[3] and fr[4] for fr in stack):
                            decidable.add(name)
                            includes_decide = True
                elif (undecided or name in uncertain) and defines[name] != rest:
                    ambiguous.add(name)
                    includes_decide = includes_decide or any(fr[4] for fr in stack)
        elif d == "undef" and (
            config is not None or (included and not any(fr[3] for fr in stack))
        ):
            defines.pop(rest.strip(), None)
        elif d == "include":
            im = _INCLUDE_RE.match(rest)
            if im:
                includes.append((im.group(1).strip(), rest.lstrip().startswith('"')))
    return FileMacros(defines, tuple(includes), frozenset(ambiguous), includes_decide,
                      frozenset(uncertain - ambiguous), frozenset(decidable - ambiguous))


# names a kernel build never defines, so #ifdef's on them are decidable in a header alone
_NEVER_DEFINED = frozenset(
    "__cplusplus __ASSEMBLY__ __ASSEMBLER__ __GENKSYMS__ __CHECKER__".split()
)


def _file_condition(
    d: str, rest: str, lookup: Callable[[str], Macro | None], config: Config | None,
    external: Callable[[str], Macro | None] | None = None,
    undecided: Callable[[str], bool] | None = None,
) -> bool | None:
    """True/False when decidable from the file alone, None when unknown (read both branches):
    a name the file does not define may come from a header it includes."""
    toks = tokenize(rest)
    if d in ("ifdef", "ifndef"):
        if not toks:
            return None
        val = _known_defined(toks[0], lookup, config, external is not None, undecided)
        if val is None:
            return None
        return val if d == "ifdef" else not val
    # A name the file does not define may come from a header it includes: unknown, not cpp's
    # 0. So is a name met only in an expansion: ``#define USE_X (NR_CPUS >= 4)`` and then
    # ``#if USE_X`` cannot be decided in a file that does not define NR_CPUS (cpp's 0 would
    # drop what the includes may well turn on). The operands that are known may still decide.
    includes_seen = external is not None

    def unknown(name: str) -> bool:
        return _known_defined(name, lookup, config, includes_seen, undecided) is None

    return condition_value(toks, lookup, unknown)[0]


def _outside_names(
    d: str, rest: str, lookup: Callable[[str], Macro | None], config: Config | None
) -> bool:
    """Whether an undecided condition tests a name the included headers could define."""
    toks = tokenize(rest)
    if d in ("ifdef", "ifndef"):
        toks = toks[:1]
    return any(is_ident(t) and t not in ("defined", *_KCONFIG_TESTS) and lookup(t) is None
               and _decidable_outside(t, config) for t in toks)


def _decidable_outside(name: str, config: Config | None) -> bool:
    """Whether the included headers decide NAME (else only a config or the compiler can)."""
    if name.startswith("CONFIG_"):
        return False  # the config decides, or nobody does
    if config is not None and config.host:
        return True  # the host's predefines are all known: the rest only headers define
    return not (len(name) > 4 and name.startswith("__") and name.endswith("__"))


def _known_defined(
    name: str, lookup: Callable[[str], Macro | None], config: Config | None,
    includes_seen: bool = False, undecided: Callable[[str], bool] | None = None,
) -> bool | None:
    if lookup(name) is not None:
        return True
    if name in _NEVER_DEFINED or (
        config is not None and config.decides_kconfig and name.startswith("CONFIG_")
    ):
        return False
    if name in _TARGET_NAMES and _has_target(config):
        return False  # the compiler defines it for some machines, not this one
    if undecided is not None and undecided(name):
        return None  # a build generates it, or defines it under #if's it decides
    if includes_seen and _decidable_outside(name, config):
        return False  # looked up through the includes and found nowhere
    return None


_bytes_cache: dict[tuple[bytes, str], FileMacros] = {}  # keyed by a digest of the content


def _macros_of_bytes(data: bytes, config: Config | None, blob: str | None = None
                     ) -> FileMacros:
    """What the header DATA defines for a file that includes it. BLOB: DATA's blob id, under
    which a host config's _settle finds the comment-stripped text it reads again."""
    key = (hashlib.sha1(data).digest(), config.fingerprint() if config else "")
    fm = _bytes_cache.get(key)
    if fm is None:
        if len(_bytes_cache) > 4000:
            _bytes_cache.clear()
        text = strip_comments(decode_source(data))
        fm = _bytes_cache[key] = collect_macros(text, config, included=True)
        if blob is not None and config is not None and config.host and (
            fm.uncertain or fm.ambiguous
        ):
            _keep_stripped(blob, text)
    return fm


def include_candidates(name: str, quoted: bool, from_path: str, arch: str,
                       dirs: tuple[str, ...] = ()) -> list[str]:
    """Repository paths that ``#include`` NAME may refer to, in search order; DIRS: the
    include path (-I, the build files'), searched after the including file's directory."""
    out: list[str] = []
    if quoted:
        out.append(posixpath.normpath(posixpath.join(posixpath.dirname(from_path), name)))
    out += [posixpath.normpath(posixpath.join(d, name)) for d in dirs]
    out += [
        f"arch/{arch}/include/{name}", f"include/{name}",
        f"arch/{arch}/include/uapi/{name}", f"include/uapi/{name}",
    ]
    if name.startswith("asm/"):
        out.append("include/asm-generic/" + name[4:])
    out.append(name)
    return [p for p in dict.fromkeys(out) if not p.startswith("../")]


# suffixes of the template a build turns into a header (config.h.in, git2_features.h.in,
# curl_config.h.cmake, zconf.h.cmakein)
TEMPLATE_SUFFIXES = (".in", ".cmake", ".cmakein")
_TEMPLATE_NAME_RE = re.compile(r"^[ \t]*#[ \t]*(?:cmakedefine01|cmakedefine|define|undef)[ \t]+"
                               r"([A-Za-z_]\w*)", re.M)


def generated_names(template: bytes) -> frozenset[str]:
    """The names a header template (``config.h.in``, ``*.h.cmake``) leaves to the build:
    every name it #define's, #undef's or #cmakedefine's."""
    return frozenset(_TEMPLATE_NAME_RE.findall(decode_source(template)))


class _Scope:
    """What one file sees: its own #define's, the config, then what its #include's define
    (read breadth first within the budget, see _included_for), shared by every read of that
    file with the same text, path, config, reader and arch."""

    def __init__(
        self, text: str, path: str, config: Config | None,
        reader: Callable[[str], bytes | None] | None, arch: str, builtins: dict[str, Macro],
    ):
        fm = collect_macros(text, config)
        self.defines: dict[str, Macro | str] = dict(fm.defines)
        self.config_macros = config.macros() if config else {}
        self.builtins = builtins
        self.config = config
        # a header under arch/X/ is only ever compiled for X
        am = _ARCH_PATH_RE.match(path)
        arch = am.group(1) if am else arch
        self.answers: dict[str, Macro | None] = {}
        self._own_ambiguous = set(fm.ambiguous)
        self._own_uncertain = set(fm.uncertain)
        self.host = config is not None and config.host
        # the includes are read on the first question the file itself cannot answer
        self._inc: _Included | None = None if reader else _NOTHING
        self._reading = (path, fm.includes, config, arch, reader)
        # the project's own prefix, from the file's name (ngx_http_request.h: NGX_)
        stem = posixpath.basename(path).split("_", 1)
        self._prefix = stem[0].upper() + "_" if len(stem) == 2 and len(stem[0]) >= 2 else None
        # alternatives under #if's the file cannot decide: decided with the #define's of the
        # included headers (e.g. __LITTLE_ENDIAN) and the built-in ones for the machine, as
        # the compiler does, once one is asked for
        self.undecided: FileMacros | None = fm if fm.includes_decide or (
            self.host and (fm.uncertain or fm.ambiguous)) else None
        self.text = text

    @property
    def inc(self) -> _Included:
        if self._inc is None:
            self._inc = _included_for(*self._reading)
        return self._inc

    def is_ambiguous(self, name: str) -> bool:
        return name in self._own_ambiguous or name in self.inc.ambiguous

    def is_unknown(self, name: str) -> bool:
        """With a host config: whether the build decides whether NAME is defined (a CONFIG_
        name no -D sets, a name a generated header's template lists, one defined only under
        #if's on such names), so that a condition on it stays a guard."""
        m = self.lookup(name)
        if name in self.defines:
            return name in self._own_uncertain or name in self._own_ambiguous
        if name in self.config_macros:
            return False
        inc = self.inc
        if name in inc.uncertain or name in inc.ambiguous or name in inc.generated:
            return True
        return m is None and (name.startswith("CONFIG_") or self._build_named(name))

    def _build_named(self, name: str) -> bool:
        """Whether NAME, defined nowhere, is the project's own (ngx_http_request.h's
        NGX_HTTP_CACHE): a project tests its own names where its build sets them (nginx's
        configure writes them into a header it generates, with no template to read)."""
        return self._prefix is not None and name.startswith(self._prefix)

    def _decide_with_includes(self) -> None:
        fm, self.undecided = self.undecided, None
        assert fm is not None
        inc, builtins = self.inc, self.builtins
        if self.host:
            # names no file defines are undefined, as for the compiler; those the includes
            # define only under #if's they could not decide, or the build generates, unknown
            unsure = inc.uncertain | inc.ambiguous | inc.generated

            def is_unsure(n: str) -> bool:
                return n in unsure or (self._build_named(n) and _resolve(inc.defines, n) is None
                                       and n not in builtins)

            fm2 = collect_macros(
                self.text, self.config,
                lambda n: None if is_unsure(n) else _resolve(inc.defines, n) or builtins.get(n),
                unsure=is_unsure)
            self.defines = dict(fm2.defines)
            self._own_ambiguous = set(fm2.ambiguous)
            self._own_uncertain = set(fm2.uncertain)
            self.answers.clear()
            return
        fm2 = collect_macros(self.text, self.config,
                             lambda n: _resolve(inc.defines, n) or builtins.get(n))
        # a name the includes leave undefined may come from the .c file's includes: then the
        # first reading (with its warning) is kept, not dropped ...
        top = dict(fm.defines)
        top.update(fm2.defines)
        gone = fm.defines.keys() - fm2.defines.keys()
        if gone:
            # ... unless what the includes (the config, the machine) do define rules it out:
            # read once more with every name they do not define (or define under #if's of
            # their own that cannot be decided) unknown
            sure = builtins if _has_target(self.config) else _NO_BUILTINS

            def known(n: str) -> Macro | None:
                if n in inc.ambiguous or n in inc.uncertain:
                    return None
                return _resolve(inc.defines, n) or sure.get(n)

            fm3 = collect_macros(self.text, self.config, known, external_complete=False)
            for n in gone - fm3.defines.keys():
                del top[n]
        self.defines = top
        own = (set(fm.ambiguous) - fm2.defines.keys()) | set(fm2.ambiguous)
        self._own_ambiguous = own & top.keys()
        self.answers.clear()

    def lookup(self, name: str) -> Macro | None:
        if self.undecided is not None and (
            self.host or name in self.undecided.ambiguous or name in self.undecided.outside
        ):
            self._decide_with_includes()
        hit = self.answers.get(name, _UNSET)
        if hit is not _UNSET:
            return hit  # type: ignore[return-value]
        m = _resolve(self.defines, name) or self.config_macros.get(name)
        if m is None and not (self.config is not None and self.config.decides_kconfig
                              and name.startswith("CONFIG_")):
            # with a config a CONFIG_ name is decided by the config alone: absent is not set
            m = _resolve(self.inc.defines, name)
        if m is None:
            m = _predefined(self.config).get(name) or self.builtins.get(name)
        self.answers[name] = m
        return m


@dataclass
class _Included:
    """What a file's #include's define, read breadth first within the budget, and what that
    depended on: every path tried, in order, and the blob id it had (None: missing)."""

    tried: tuple[str, ...]
    ids: tuple[str | None, ...]
    defines: dict[str, Macro | str]
    ambiguous: frozenset[str]
    # names whose first #define sits under #if's its file could not decide
    uncertain: frozenset[str] = frozenset()
    # names the templates of generated headers list (a host config only, see _included_for)
    generated: frozenset[str] = frozenset()
    walked_from: str = ""  # the file whose #include's these are
    met_self: bool = False  # the walk met that file again (and passed over it)


_NOTHING = _Included((), (), {}, frozenset())  # a file read without a reader of includes


_included: dict[tuple[object, ...], list[_Included]] = {}
_macros_by_id: dict[tuple[str, str], FileMacros] = {}


def _included_for(path: str, includes: list[tuple[str, bool]], config: Config | None, arch: str,
                  reader) -> _Included:
    """What the #include's (INCLUDES) of the file PATH define, read breadth first (nearest
    headers first) within INCLUDE_BUDGET paths looked up; the first #define of a name wins.
    Each path is looked up once per walk: a candidate already found missing is skipped and one
    already read ends the search for that #include, at no cost, and ``tried`` lists each path
    once.

    A reader that gives blob ids (``ids(paths)``, ``read_id(blob)``: srcdiff's reader of a git
    revision) has its reading shared: an earlier one is reused where every path it tried has
    the same blob id, checked in one exchange. Any other reader is asked file by file. A
    reader with ``include_dirs(path)`` gives the include path of PATH (include_candidates).

    With a host config: a quoted #include found nowhere is looked for as a template
    (TEMPLATE_SUFFIXES) next to the including file and in the include path, and the names
    the template lists are the build's (``generated``); then the files whose #define's hang
    on #if's they could not decide alone are read again, with the names no file read
    defines undefined (as for the compiler), until that settles (see _settle)."""
    cfp = config.fingerprint() if config else ""
    dirs = tuple(reader.include_dirs(path)) if hasattr(reader, "include_dirs") else ()
    host = config is not None and config.host
    # the names the build files may define (-D flags, AC_DEFINE ...) are the build's too
    built = reader.build_names(path) if host and hasattr(reader, "build_names") else frozenset()
    # files of one directory with the same #include's walk alike (each #include is looked up
    # from the directory), unless the walk meets the file itself: shared, checked below
    key = (posixpath.dirname(path), tuple(includes), cfp, arch, dirs, built)
    by_id = hasattr(reader, "ids")
    known: dict[str, str | None] = {}

    def ids(paths: list[str]) -> None:
        need = [p for p in dict.fromkeys(paths) if p not in known]
        if need:
            try:
                got = reader.ids(need)
            except Exception:  # a broken reader must not stop parsing; treat as missing
                got = [None] * len(need)
            known.update(zip(need, got))

    def fetch(cand: str) -> tuple[str | None, FileMacros | None]:
        """(blob id if known, what CAND defines), (_, None) when it cannot be read."""
        if by_id:
            blob = known[cand]
            return blob, None if blob is None else _macros_of_id(blob, reader, config, cfp)
        try:
            data = reader(cand)
        except Exception:  # a broken reader must not stop parsing; treat as missing
            data = None
        return None, None if data is None else _macros_of_bytes(data, config)

    earlier = _included.get(key, []) if by_id else []
    for k, inc in enumerate(earlier):
        if inc.walked_from != path and (inc.met_self or path in inc.tried):
            continue  # the walks differ where one meets its own file (it passes over itself)
        ids(list(inc.tried))
        if all(known[p] == b for p, b in zip(inc.tried, inc.ids)):
            earlier.insert(0, earlier.pop(k))
            return inc
    queue = deque((path, n, q) for n, q in includes)
    seen = {path}  # files read (and the file itself)
    missing: set[str] = set()  # candidates looked up in this walk and not there
    tried: list[str] = []
    tried_ids: list[str | None] = []
    met_self = False
    defines: dict[str, Macro | str] = {}
    ambiguous: set[str] = set()
    uncertain: set[str] = set()
    generated: set[str] = set(built)
    read: list[tuple[str, str | None, FileMacros]] = []  # (path, blob id, what it defines)
    tables: list[dict[str, Macro | str]] = []  # their #define's, in walk order
    # the budget counts paths looked up (each one once: a path read or found missing is not
    # asked again), so it bounds both the reader's work and the reuse check; files read are
    # at most as many
    while queue and len(tried) < INCLUDE_BUDGET:
        from_path, name, quoted = queue.popleft()
        # the candidates still to look up, in order: none after one already read (the
        # #include names that file), none already known missing
        cands: list[str] = []
        for cand in include_candidates(name, quoted, from_path, arch, dirs):
            if cand in seen:
                met_self = met_self or cand == path
                if cand != from_path:
                    break
                continue
            if cand not in missing:
                cands.append(cand)
        del cands[INCLUDE_BUDGET - len(tried):]
        if by_id and cands:
            ids(cands)  # one exchange for an #include's candidates
        for cand in cands:
            blob, fm = fetch(cand)
            tried.append(cand)
            tried_ids.append(blob if fm is not None else None)
            if fm is None:
                missing.add(cand)
                continue
            seen.add(cand)
            read.append((cand, blob, fm))
            tables.append(fm.defines)
            queue.extend((cand, n, q) for n, q in fm.includes)
            ambiguous.update(fm.ambiguous)
            break
        else:
            if host and quoted and cands:
                # found nowhere: a header the build generates? its template says what from
                temps = [c + sfx for c in include_candidates(name, True, from_path, arch, dirs)
                         [: 1 + len(dirs)] for sfx in TEMPLATE_SUFFIXES]
                temps = [t for t in temps if t not in missing][: INCLUDE_BUDGET - len(tried)]
                if by_id and temps:
                    ids(temps)
                for t in temps:
                    blob, names = _template_names(t, reader, by_id, known)
                    tried.append(t)
                    tried_ids.append(blob)
                    if names is None:
                        missing.add(t)
                        continue
                    generated.update(names)
                    break
    # the first #define of a name wins: merged last to first, each table in one C-level
    # update (a loop over every name of every file read cost more than the rest of a read)
    for table in reversed(tables):
        defines.update(table)
    if any(fm.uncertain for _p, _b, fm in read):
        # a name uncertain in a file counts unless a file read before it defines the name
        first: dict[str, int] = {}
        for k in range(len(tables) - 1, -1, -1):
            first.update(dict.fromkeys(tables[k], k))
        for k, (_p, _b, fm) in enumerate(read):
            uncertain.update(n for n in fm.uncertain if first.get(n, k) >= k)
    if host and read and any(fm.uncertain or fm.ambiguous for _p, _b, fm in read):
        defines, ambiguous, uncertain = _settle(read, config, reader, by_id, generated)
    inc = _Included(tuple(tried), tuple(tried_ids), defines, frozenset(ambiguous),
                    frozenset(uncertain), frozenset(generated), path, met_self)
    if not by_id:
        return inc
    # a reading of a kernel header's includes holds tens of thousands of names: keep few
    if sum(map(len, _included.values())) >= _INCLUDED_MAX:
        _included.clear()
        earlier = []
    earlier.insert(0, inc)
    del earlier[4:]
    _included[key] = earlier
    return inc


_INCLUDED_MAX = 32  # include readings kept, all files together
_generated_by_id: dict[str, frozenset[str]] = {}


def _template_names(path: str, reader, by_id: bool, known: dict[str, str | None]
                    ) -> tuple[str | None, frozenset[str] | None]:
    """(blob id if known, the names the template at PATH lists), (_, None) when missing."""
    try:
        if by_id:
            blob = known.get(path)
            if blob is None:
                return None, None
            names = _generated_by_id.get(blob)
            if names is None:
                if len(_generated_by_id) > 1000:
                    _generated_by_id.clear()
                names = _generated_by_id[blob] = generated_names(reader.read_id(blob))
            return blob, names
        data = reader(path)
    except Exception:  # a broken reader must not stop parsing; treat as missing
        return None, None
    return None, None if data is None else generated_names(data)


_SETTLE_PASSES = 4
# comment-stripped texts of the headers _settle reads again, by blob id, up to a size
_stripped_by_id: dict[str, str] = {}
_STRIPPED_CHARS = 32 << 20
_stripped_chars = 0


def _keep_stripped(blob: str, text: str) -> None:
    global _stripped_chars
    if _stripped_chars + len(text) > _STRIPPED_CHARS:
        _stripped_by_id.clear()
        _stripped_chars = 0
    if blob not in _stripped_by_id:
        _stripped_by_id[blob] = text
        _stripped_chars += len(text)


def _settle(read: list[tuple[str, str | None, FileMacros]], config: Config, reader,
            by_id: bool, generated: set[str]
            ) -> tuple[dict[str, Macro | str], set[str], set[str]]:
    """The #define's of the files READ (in walk order) for a host config, where a name no file
    defines is undefined: the files with #define's under #if's they could not decide alone
    are read again with what the others define, a name defined only under such #if's (or
    generated) left unknown, until nothing changes (at most _SETTLE_PASSES times). Returns
    (defines, ambiguous, uncertain) as _included_for keeps them."""
    texts: dict[int, str] = {}
    for k, (p, blob, fm) in enumerate(read):
        if fm.uncertain or fm.ambiguous:
            text = _stripped_by_id.get(blob) if by_id else None
            if text is None:
                try:
                    data = reader.read_id(blob) if by_id else reader(p)
                except Exception:  # a broken reader must not stop parsing; keep the first reading
                    continue
                if data is None:
                    continue
                text = strip_comments(decode_source(data))
                if by_id:
                    _keep_stripped(blob, text)
            texts[k] = text
    fms = [fm for _p, _b, fm in read]

    def merge() -> tuple[dict[str, Macro | str], set[str], set[str]]:
        defines: dict[str, Macro | str] = {}
        ambiguous: set[str] = set()
        uncertain: set[str] = set()
        for fm in fms:
            uncertain.update(k for k in fm.uncertain if k not in defines)
            for k, v in fm.defines.items():
                defines.setdefault(k, v)
            ambiguous.update(fm.ambiguous)
        return defines, ambiguous, uncertain

    merged = merge()
    for _ in range(_SETTLE_PASSES):
        defines, ambiguous, uncertain = merged
        unsure = ambiguous | uncertain | generated

        def external(n: str, defines=defines, unsure=unsure) -> Macro | None:
            return None if n in unsure else _resolve(defines, n)

        for k, text in texts.items():
            fms[k] = collect_macros(text, config, external, included=True,
                                    unsure=unsure.__contains__)
        again = merge()
        if again[0].keys() == defines.keys() and again[2] == uncertain:
            return again
        merged = again
    return merged


def _macros_of_id(blob: str, reader, config: Config | None, cfp: str) -> FileMacros | None:
    fm = _macros_by_id.get((blob, cfp))
    if fm is None:
        try:
            data = reader.read_id(blob)
        except Exception:  # a broken reader must not stop parsing; treat as missing
            return None
        if len(_macros_by_id) > 4000:
            _macros_by_id.clear()
        fm = _macros_by_id[(blob, cfp)] = _macros_of_bytes(data, config, blob)
    return fm


_UNSET = object()
_ARCH_PATH_RE = re.compile(r"arch/([^/]+)/")
_scopes: dict[tuple[object, ...], _Scope] = {}


def _scope_for(
    text: str, path: str, config: Config | None,
    reader: Callable[[str], bytes | None] | None, arch: str, builtins: dict[str, Macro],
) -> _Scope:
    key = (text, path, config.fingerprint() if config else "", reader, arch, id(builtins))
    sc = _scopes.get(key)
    if sc is None:
        if len(_scopes) >= 16:
            _scopes.clear()  # keys hold readers (and their repositories): keep few
        sc = _scopes[key] = _Scope(text, path, config, reader, arch, builtins)
    return sc


_NO_BUILTINS: dict[str, Macro] = {}


class MacroEnv:
    """Macro definitions visible from one file: its own, then the config, then its includes,
    then the built-in table. #define's met in a struct body (``define``/``undef``) stay in
    this env alone."""

    def __init__(
        self,
        text: str,
        path: str,
        config: Config | None,
        include_reader: Callable[[str], bytes | None] | None,
        arch: str,
        builtins: dict[str, Macro] | None = None,
    ):
        self.scope = _scope_for(
            text, path, config, include_reader, arch, builtins if builtins else _NO_BUILTINS
        )
        # body #define/#undef history per name: (line, macro or None for #undef), in order
        self.local: dict[str, list[tuple[int, Macro | None]]] = {}
        # the line being read: a body #define counts from its line on (like cpp)
        self.line = 1 << 30
        # answers to macro questions once they cannot change (parse._same_answers)
        self.settled: dict = {}

    def define(self, m: Macro, line: int = 0) -> None:
        """A #define met inside the struct body itself, at LINE."""
        self.local.setdefault(m.name, []).append((line, m))

    def undef(self, name: str, line: int = 0) -> None:
        """An #undef met inside the struct body itself, at LINE."""
        self.local.setdefault(name, []).append((line, None))

    def _local(self, name: str) -> tuple[bool, Macro | None]:
        hist = self.local.get(name)
        if hist:
            for ln, m in reversed(hist):
                if ln <= self.line:
                    return True, m
        return False, None

    def lookup(self, name: str) -> Macro | None:
        if self.local:
            found, m = self._local(name)
            if found:
                return m
        return self.scope.lookup(name)

    def ambiguous(self, name: str) -> bool:
        """Whether NAME has other #define's under #if's that could not be decided (the first
        one read is used)."""
        return self.scope.is_ambiguous(name) and not self._local(name)[0]

    def unknown(self, name: str) -> bool:
        """With a host config: whether the build decides whether NAME is defined (see
        _Scope.is_unknown); a #define or #undef in the struct body decides it."""
        return not self._local(name)[0] and self.scope.is_unknown(name)

