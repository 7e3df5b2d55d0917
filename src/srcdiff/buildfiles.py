"""buildfiles: the include path a project's build files give, where they spell it plainly.

Read, for a header DIR/x.h, from the ``CMakeLists.txt``, ``Makefile`` and ``Makefile.am`` of DIR
and of each directory above it (nearest first), at the revision being read:

- CMake: the arguments of ``include_directories(...)`` and ``target_include_directories(...)``,
  with ``${VAR}`` replaced by what ``set(VAR ...)`` / ``list(APPEND VAR ...)`` in the same file
  gave it; ``${PROJECT_SOURCE_DIR}``, ``${CMAKE_SOURCE_DIR}``, ``${<name>_SOURCE_DIR}`` are the
  repository root, ``${CMAKE_CURRENT_SOURCE_DIR}``, ``${CMAKE_CURRENT_LIST_DIR}`` the file's
  directory; a relative path is relative to the file's directory.
- Make: ``-I DIR`` / ``-IDIR`` words; ``$(srcdir)`` is the file's directory, ``$(top_srcdir)``
  the root; a relative path is relative to the file's directory.

Anything else (other variables, generator expressions, the build directory, absolute paths,
paths outside the repository) is left out: srcdiff never runs the build.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator

BUILD_FILES = ("CMakeLists.txt", "Makefile", "Makefile.am")
TOP_BUILD_FILES = ("configure.ac", "configure.in", "acinclude.m4")  # at the root only
# autoconf macro files, where configure's checks often AC_DEFINE what headers test
# (curl's m4/curl-confopts.m4 defines NTLM_WB_ENABLED): every *.m4 in this root directory
M4_DIR = "m4"

# The patterns below open with a literal, which re finds quickly; what must come before it
# (the start, a separator, not a word character) is checked on each match (_after): the
# same matches as a pattern that opens with that condition, many times faster on a
# configure.ac or CMakeLists.txt of 100-170 KB, read at every revision where it changed.
_MAKE_D_RE = re.compile(r"-D[ \t]*([A-Za-z_]\w*)")  # after the start, a space, ' " =
_MAKE_SEP_RE = re.compile(r"[\s'\"=]")
# at a line's start (the text read with a newline before it)
_CMAKE_DEFS_RE = re.compile(
    r"\n[ \t]*(?:add_compile_definitions|target_compile_definitions)[ \t]*\(([^()]*)\)", re.I)
_AC_DEFINE_RE = re.compile(r"AC_DEFINE(?:_UNQUOTED)?\(\s*\[?([A-Za-z_]\w*)")  # not after \w
_AC_CHECK_RE = re.compile(r"AC_CHECK_(FUNCS|HEADERS)(?:_ONCE)?\(\s*\[?([^\],)]*)")  # same
_WORD_RE = re.compile(r"\w")

_CMAKE_CALL_RE = re.compile(  # at a line's start, as _CMAKE_DEFS_RE
    r"\n[ \t]*(include_directories|target_include_directories|set|list)[ \t]*\(([^()]*)\)",
    re.I)
_CMAKE_WORD_RE = re.compile(r'"([^"]*)"|([^\s"]+)')
_CMAKE_KEYWORDS = {"PRIVATE", "PUBLIC", "INTERFACE", "SYSTEM", "BEFORE", "AFTER", "APPEND",
                   "PARENT_SCOPE", "CACHE", "PATH", "STRING", "INTERNAL", "FORCE"}
_CMAKE_VAR_RE = re.compile(r"\$\{(\w+)\}")
_MAKE_I_RE = re.compile(r"(?:^|[\s'\"=])-I[ \t]*([^\s'\";]+)")


def cmake_include_dirs(text: str, where: str) -> list[str]:
    """Repository-relative include directories of the CMakeLists.txt TEXT in directory WHERE."""
    text = re.sub(r"#[^\n]*", "", text)
    values: dict[str, list[str]] = {}
    out: list[str] = []
    for m in _CMAKE_CALL_RE.finditer("\n" + text):
        cmd = m.group(1).lower()
        words = [a or b for a, b in _CMAKE_WORD_RE.findall(m.group(2))]
        if cmd == "set" and words:
            values[words[0]] = [w for w in _expand(words[1:], values)
                                if w.upper() not in _CMAKE_KEYWORDS]
        elif cmd == "list" and len(words) >= 2 and words[0].upper() == "APPEND":
            values.setdefault(words[1], []).extend(_expand(words[2:], values))
        elif cmd in ("include_directories", "target_include_directories"):
            args = words[1:] if cmd == "target_include_directories" else words
            for w in _expand(args, values):
                if w.upper() in _CMAKE_KEYWORDS:
                    continue
                d = _cmake_path(w, where)
                if d is not None:
                    out.append(d)
    return list(dict.fromkeys(out))


def _expand(words: list[str], values: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    for w in words:
        m = _CMAKE_VAR_RE.fullmatch(w)
        if m and m.group(1) in values:
            out.extend(values[m.group(1)])
        else:
            out.append(w)
    return out


def _cmake_path(word: str, where: str) -> str | None:
    def sub(m: re.Match[str]) -> str:
        v = m.group(1)
        if v in ("PROJECT_SOURCE_DIR", "CMAKE_SOURCE_DIR") or (
            v.endswith("_SOURCE_DIR") and not v.startswith("CMAKE_")
        ):
            return _ROOT
        if v in ("CMAKE_CURRENT_SOURCE_DIR", "CMAKE_CURRENT_LIST_DIR"):
            return _ROOT + where
        return m.group(0)

    return _plain(_CMAKE_VAR_RE.sub(sub, word), where)


def make_include_dirs(text: str, where: str) -> list[str]:
    """Repository-relative directories of the ``-I`` flags in the Makefile TEXT in WHERE."""
    out: list[str] = []
    text = text.replace("\\\n", " ")
    for m in _MAKE_I_RE.finditer(text):
        w = m.group(1).replace("$(top_srcdir)", _ROOT).replace("${top_srcdir}", _ROOT)
        w = w.replace("$(srcdir)", _ROOT + where).replace("${srcdir}", _ROOT + where)
        d = _plain(w, where)
        if d is not None:
            out.append(d)
    return out


_ROOT = "\0"  # stands for the repository root in a path being resolved


def _plain(path: str, where: str) -> str | None:
    """PATH (a leading _ROOT meaning the repository root) as a repository-relative directory,
    or None when it is not plain (a variable left, absolute, outside the repository)."""
    if not path or "$" in path or "@" in path or path.startswith("/"):
        return None
    if path.startswith(_ROOT):
        p = posixpath.normpath(path[1:].lstrip("/") or ".")
    else:
        p = posixpath.normpath(posixpath.join(where, path))
    if p == ".." or p.startswith("../") or p.startswith("/"):
        return None
    return "" if p == "." else p


def include_dirs_of(build_file: str, text: str) -> list[str]:
    """The include directories BUILD_FILE (a repository path, see BUILD_FILES) gives."""
    where = posixpath.dirname(build_file)
    if posixpath.basename(build_file) in TOP_BUILD_FILES:
        return []
    if posixpath.basename(build_file) == "CMakeLists.txt":
        return cmake_include_dirs(text, where)
    return make_include_dirs(text, where)


def build_names_of(build_file: str, text: str) -> set[str]:
    """The names BUILD_FILE may define for the compiler, depending on how the build is
    configured: ``-D NAME`` flags (Make, CMake's add_definitions), CMake's
    ``add_compile_definitions`` / ``target_compile_definitions``, and in configure.ac (and
    autoconf's macro files, ``*.m4``) ``AC_DEFINE(NAME`` and the ``HAVE_X`` names of
    ``AC_CHECK_FUNCS`` / ``AC_CHECK_HEADERS``."""
    base = posixpath.basename(build_file)
    if base in TOP_BUILD_FILES or base.endswith(".m4"):
        names = {m.group(1) for m in _after(_AC_DEFINE_RE, text, _not_word)}
        for m in _after(_AC_CHECK_RE, text, _not_word):
            names.update("HAVE_" + re.sub(r"\W", "_", w).upper() for w in m.group(2).split())
        return names
    names = {m.group(1) for m in _after(_MAKE_D_RE, text.replace("\\\n", " "), _make_sep)}
    if base == "CMakeLists.txt":
        for args in _CMAKE_DEFS_RE.findall("\n" + re.sub(r"#[^\n]*", "", text)):
            for w in args.split():
                w = w.strip('"').split("=", 1)[0]
                if re.fullmatch(r"[A-Za-z_]\w*", w) and w.upper() not in _CMAKE_KEYWORDS:
                    names.add(w)
    return names


def _after(pattern: re.Pattern[str], text: str, ok: Callable[[str, int], bool]
           ) -> Iterator[re.Match[str]]:
    """The matches of PATTERN in TEXT, left to right and not overlapping, that start where
    ok(TEXT, start) holds: those of a pattern opening with that condition (a rejected match
    is looked for again one character on)."""
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        if ok(text, m.start()):
            yield m
            pos = m.end()
        else:
            pos = m.start() + 1


def _not_word(text: str, pos: int) -> bool:
    """Whether a word may start at POS (regex \\b before a word character)."""
    return pos == 0 or _WORD_RE.match(text, pos - 1) is None


def _make_sep(text: str, pos: int) -> bool:
    """Whether a -D flag may start at POS: the start, or after a space, a quote or '='."""
    return pos == 0 or _MAKE_SEP_RE.match(text, pos - 1) is not None


def build_files_for(path: str) -> list[str]:
    """The build files that may give the include path of the file PATH (and the names its
    build may define), nearest first."""
    parts = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    dirs = ["/".join(parts[:k]) for k in range(len(parts), -1, -1)]
    return [posixpath.join(d, f) if d else f for d in dirs for f in BUILD_FILES] + list(
        TOP_BUILD_FILES)
