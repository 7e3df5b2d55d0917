"""extract: find struct/union definitions in a header's text, without parsing C.

Regex scanning plus brace matching; a definition is ``struct|union [attrs] NAME [attrs] {``
or ``typedef struct|union [TAG] {...} NAME;`` (NAME the typedef name of the aggregate). Asked
for enums (``enums=True``), the same shapes with ``enum``, and those only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    """One definition: ``start`` is the offset of the ``struct``/``union`` keyword, ``end`` the
    offset just past the closing brace; ``line`` is the 1-based line of ``start``.
    ``typedef`` is True when NAME is a typedef name; ``tag`` is then the aggregate's own tag
    (None for an anonymous one), and the same body is also listed under the tag."""

    kind: str
    name: str
    line: int
    start: int
    end: int
    typedef: bool = False
    tag: str | None = None

    def body_span(self, text: str) -> tuple[int, int]:
        """(offset after ``{``, offset of ``}``) of the body in TEXT."""
        return text.index("{", self.start) + 1, self.end - 1


_ATTR = r"(?:__attribute__|__attribute|__aligned|__section|__designated_init|__packed|__randomize_layout|__no_randomize_layout|alignas|_Alignas)"
_KEYWORD_RE = re.compile(r"\b(struct|union)\b")
_ENUM_KEYWORD_RE = re.compile(r"\b(enum)\b")
# Words that may sit between the keyword, the tag and the brace: attributes with arguments,
# the kernel's bare annotations, and any other __word that has a name after it
# (``struct __ec_align4 ec_params {``). A lone __word before the brace is the tag itself
# (``struct __kfifo {``, ``struct __sk_buff {``), unless it is a known annotation
# (``struct __packed {`` is anonymous).
_BARE_ATTRS = (r"(?:__packed|__randomize_layout|__no_randomize_layout|__designated_init"
               r"|_*cacheline_aligned\w*|__aligned_largest|__may_alias|__no_const|__user)\b")
_SKIP_RE = re.compile(
    r"\s*(?:" + _ATTR + r"\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)|" + _BARE_ATTRS
    + r"|__\w+(?=\s+[A-Za-z_]))"
)
_NAME_RE = re.compile(r"\s*([A-Za-z_]\w*)")
_TYPEDEF_BEFORE_RE = re.compile(r"\btypedef\s+(?:(?:const|volatile)\s+)*\Z")


def _skip_attrs(text: str, i: int) -> int:
    while True:
        m = _SKIP_RE.match(text, i)
        if not m:
            return i
        i = m.end()


def _brace_pairs(text: str) -> dict[int, int]:
    """Offset of each '{' -> offset just past its matching '}' (strings skipped), one pass:
    matching from every keyword instead is quadratic in the nesting depth."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_RE.finditer(text):
        c = m.group(0)
        if c == "{":
            stack.append(m.start())
        elif c == "}" and stack:
            pairs[stack.pop()] = m.end()
    return pairs


_BRACE_RE = re.compile(r"""[{}]|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""")


def find_definitions(text: str, *, aliases: bool = False, name: str | None = None,
                     enums: bool = False) -> list[Definition]:
    """Every struct/union definition (and typedef'd anonymous one) in comment-stripped TEXT,
    nested ones included, in order of appearance; with ENUMS, every enum definition instead
    (``kind == "enum"``).

    aliases: also list ``typedef struct TAG {...} NAME;`` under NAME (``typedef=True``,
    ``tag="TAG"``) right after its entry under TAG; off, each body is listed once.
    name: only the definitions listed under NAME; the keywords that cannot open one (the
    next word is another plain name, and no ``typedef`` stands just before) are not examined.
    """
    lines = _Lines(text)
    if name is None:
        pairs: _Pairs | _LocalPairs = _Pairs(text)
        keywords: Iterable[re.Match] = (
            _ENUM_KEYWORD_RE.finditer(text) if enums else _keywords(text))
    elif name in text:
        pairs = _LocalPairs(text)  # a few candidates: each brace matched on its own
        keywords = _keywords_for(text, name, enums)
    else:
        return []
    out = [d for m in keywords for d in _at_keyword(text, m, pairs, lines, aliases)]
    return out if name is None else [d for d in out if d.name == name]


def _keywords(text: str) -> list[re.Match]:
    """Every struct/union keyword of TEXT, in order: each word searched for alone (a pattern
    that starts with a literal is searched many times faster than '\b(struct|union)\b')."""
    at = sorted([m.start() for m in _STRUCT_RE.finditer(text)]
                + [m.start() for m in _UNION_RE.finditer(text)])
    # match() checks the word boundary before each (no keyword inside 'mystruct')
    return [k for p in at if (k := _KEYWORD_RE.match(text, p)) is not None]


_STRUCT_RE = re.compile(r"struct\b")
_UNION_RE = re.compile(r"union\b")


def _keywords_for(text: str, name: str, enums: bool = False) -> list[re.Match]:
    """The struct/union keywords of TEXT that may open a definition listed under NAME, in
    order: the next word is NAME (not used as in 'struct NAME *p') or may be an attribute
    (see _SKIP_RE), or 'typedef' stands before it (NAME may follow the body)."""
    # patterns that start with a literal are searched for many times faster than '\b(a|b)';
    # fixed ones: a pattern per name would be compiled again for every name a caller asks
    at = set()
    for rx in (_ENUM_WORD_RE,) if enums else (_STRUCT_WORD_RE, _UNION_WORD_RE):
        for m in rx.finditer(text):
            w = m.group(1)
            if (w == name and not _USE_RE.match(text, m.end(1))) or (
                    w and w.startswith(_MAY_BE_ATTR)):
                at.add(m.start())
    at.update(m.start(1) for m in (_TYPEDEF_ENUM_RE if enums else _TYPEDEF_KEYWORD_RE
                                   ).finditer(text))
    # match() checks the word boundary before each (no keyword inside 'mystruct')
    kw = _ENUM_KEYWORD_RE if enums else _KEYWORD_RE
    return [k for p in sorted(at) if (k := kw.match(text, p)) is not None]


# a keyword and the word after it (looked at, not consumed: it may be the next keyword)
_STRUCT_WORD_RE = re.compile(r"struct\b(?=\s*(\w*))")
# what may stand between a keyword and its tag (see _SKIP_RE)
_MAY_BE_ATTR = ("_", "alignas", "cacheline_aligned")
_USE_RE = re.compile(r"\s*[*;,)]")  # 'struct NAME *p', '(struct NAME)': a use, not a definition
_UNION_WORD_RE = re.compile(r"union\b(?=\s*(\w*))")
_TYPEDEF_KEYWORD_RE = re.compile(r"typedef\s+(?:(?:const|volatile)\s+)*(struct|union)\b")
_ENUM_WORD_RE = re.compile(r"enum\b(?=\s*(\w*))")
_TYPEDEF_ENUM_RE = re.compile(r"typedef\s+(?:(?:const|volatile)\s+)*(enum)\b")


class _Lines:
    """Line numbers of offsets, counted incrementally for offsets met in order."""

    def __init__(self, text: str):
        self.text = text
        self.line, self.at = 1, 0

    def of(self, offset: int) -> int:
        if offset < self.at:
            self.line, self.at = 1, 0
        self.line += self.text.count("\n", self.at, offset)
        self.at = offset
        return self.line


class _Pairs:
    """Brace pairs of a text, worked out on first use."""

    def __init__(self, text: str):
        self.text = text
        self._pairs: dict[int, int] | None = None

    def get(self, i: int) -> int:
        if self._pairs is None:
            self._pairs = _brace_pairs(self.text)
        return self._pairs.get(i, -1)


class _LocalPairs:
    """Brace pairs found one at a time, for a few braces of a large text: what _brace_pairs
    gives, read from the start of the brace's line (a string never spans lines in
    _BRACE_RE, so the whole-file reading starts every line afresh too; braces before a '{'
    do not change where it closes)."""

    def __init__(self, text: str):
        self.text = text

    def get(self, i: int) -> int:
        depth = 0
        for m in _BRACE_RE.finditer(self.text, self.text.rfind("\n", 0, i) + 1):
            if depth == 0 and m.start() != i:
                if m.end() > i:
                    return -1  # the '{' at I is inside a string
                continue
            c = m.group(0)
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return m.end()
        return -1


def _defines_macro(text: str, name: str) -> bool:
    """Whether TEXT #define's NAME (a bare __word before a body is then an attribute)."""
    return re.search(r"^[ \t]*#[ \t]*define[ \t]+" + re.escape(name) + r"\b", text, re.MULTILINE) is not None


def _at_keyword(text: str, m: re.Match, pairs: _Pairs | _LocalPairs, lines: _Lines, aliases: bool
                ) -> list[Definition]:
    """The definition whose ``struct``/``union`` keyword is M (and its typedef name with
    ALIASES), or [] when M does not open one."""
    kind = m.group(1)
    i = _skip_attrs(text, m.end())
    name = None
    nm = _NAME_RE.match(text, i)
    word = nm.group(1) if nm and not nm.group(1).startswith("__attribute") else None
    if word is not None:
        # 'struct __ec_align4 {' where the file #define's __ec_align4: an attribute macro
        if not (word.startswith("__") and _defines_macro(text, word)):
            name = word
        i = _skip_attrs(text, nm.end())
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i >= len(text) or text[i] != "{":
        return []
    if name is None and not _TYPEDEF_BEFORE_RE.search(text, max(0, m.start() - 64), m.start()):
        return []  # an anonymous aggregate that is not typedef'd has no name to find
    end = pairs.get(i)
    if end < 0:
        return []
    is_typedef = False
    if name is None:
        name = _typedef_name(text, m.start(), end)
        if name is None:
            return []
        is_typedef = True
    line = lines.of(m.start())
    out = [Definition(kind, name, line, m.start(), end, is_typedef)]
    if aliases and not is_typedef:
        alias = _typedef_name(text, m.start(), end)
        if alias is not None and alias != name:
            out.append(Definition(kind, alias, line, m.start(), end, True, name))
    return out


_TYPEDEF_NAME_RE = re.compile(r"\s*([A-Za-z_]\w*)\s*[;,\[]")


def _typedef_name(text: str, start: int, end: int) -> str | None:
    """NAME of ``typedef struct ... {...} NAME;`` for the aggregate at START..END, or None."""
    if not _TYPEDEF_BEFORE_RE.search(text, max(0, start - 64), start):
        return None
    tm = _TYPEDEF_NAME_RE.match(text, _skip_attrs(text, end))
    return tm.group(1) if tm else None


def defines_struct(data: bytes, name: str) -> bool:
    """Whether DATA may define struct/union NAME (or typedef NAME of an anonymous one).

    A regex over the raw bytes: never misses a definition that ``find_definitions`` finds,
    may rarely say yes for something that is not one.
    """
    bname = name.encode()
    if bname not in data:
        return False
    n = re.escape(bname)
    if re.search(rb"\b(?:struct|union)\b[^;{}]*?\b" + n + rb"\b[^;{}]*\{", data):
        return True
    return re.search(rb"\}[^;{}]*\b" + n + rb"\s*[;,\[]", data) is not None
