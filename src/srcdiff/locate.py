"""locate: which file defines the struct at a revision, and its StructDef there.

Parsing happens once per distinct blob (memory + SQLite cache); the tree is searched with
``git grep`` only where the struct is no longer where it was last seen, and then only among
the files that changed.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, replace

from srcdiff import trace_events
from srcdiff.buildfiles import M4_DIR, build_files_for, build_names_of, include_dirs_of
from srcdiff.cache import Cache
from srcdiff.gitrepo import GitRepo
from srcdiff.indexdb import path_rank as _path_rank
from srcdiff.limits import BlobTooLarge, max_blob_bytes
from srcdiff.model import Field, StructDef
from srcdiff.parse import (
    PARSER_VERSION,
    directives_digest,
    read_struct,
    scan_named,  # comment-stripped text + the definitions of one name, memoized
)
from srcdiff.preprocess import Config

# Blobs read ahead and not parsed yet are held in memory up to this many bytes.
_READ_AHEAD_BYTES = 64 << 20
SOURCE_SUFFIXES = (".h", ".c", ".hh", ".hpp", ".cc", ".cpp", ".inc")
# Where whole-tree searches look, in order: public headers first (most structs people ask
# about live there, and it is a fraction of a kernel tree), then other headers, then sources.
INCLUDE_GLOBS = ("include/*.h",)
HEADER_GLOBS = ("*.h", "*.hh", "*.hpp", ":(exclude)include/*.h")
SOURCE_GLOBS = ("*.c", "*.cc", "*.cpp", "*.inc")


@dataclass(frozen=True)
class Found:
    """The struct NAME at a revision: where, which blob, its definition (None if absent)."""

    name: str
    path: str | None
    blob: str | None
    sdef: StructDef | None
    others: tuple[str, ...] = ()  # other files that also define it


@dataclass
class ReadOptions:
    """What determines how a header is read (part of every cache key)."""

    kind: str | None = None
    config: Config | None = None
    arch: str = "x86"
    pinned_path: str | None = None
    include_dirs: tuple[str, ...] = ()  # -I, repository-relative

    def fingerprint(self) -> str:
        cfg = self.config.fingerprint() if self.config is not None else "-"
        fp = f"{PARSER_VERSION}|{cfg}|{self.arch}|{self.kind or '*'}"
        return fp + "|-I" + ":".join(self.include_dirs) if self.include_dirs else fp

    @property
    def build_include_dirs(self) -> bool:
        """Whether the build files' include path is read (a project read with the host's
        view; a kernel's comes from its Makefiles' variables, never plain)."""
        return self.config is not None and self.config.host


def grep_pattern(name: str, names_re: str | None = None, generated: bool = True,
                 kind: str | None = None) -> str:
    """Extended regex matching a line that may open the definition of NAME (for a
    ``trace_event_raw_X``, also the TRACE_EVENT call that generates it, unless not GENERATED);
    or of any name the extended regex NAMES_RE matches (ordinary definitions only). KIND
    "enum": of an enum NAME instead of a struct or union."""
    n = names_re or re.escape(name)
    keyword = "enum" if kind == "enum" else "(struct|union)"
    pattern = (
        rf"(^|[^A-Za-z0-9_]){keyword}[[:space:]]+([A-Za-z_][A-Za-z0-9_]*[[:space:]]+)*{n}"
        rf"[[:space:]]*(\{{|$)|^[[:space:]]*\}}[[:space:]]*{n}[[:space:]]*;"
    )
    event = trace_events.event_of(name) if names_re is None and kind != "enum" else None
    if event is None or not generated:
        return pattern
    return f"{pattern}|{trace_events.grep_pattern(event)}"


def _line_re(name: str, names_re: str | None = None, kind: str | None = None
             ) -> re.Pattern[str]:
    """grep_pattern(NAME, NAMES_RE, KIND) as a Python (and Perl) regex, for one line of text;
    ordinary definitions only."""
    n = names_re or re.escape(name)
    keyword = "enum" if kind == "enum" else "(?:struct|union)"
    return re.compile(rf"(?:^|[^A-Za-z0-9_]){keyword}\s+(?:[A-Za-z_][A-Za-z0-9_]*\s+)*{n}"
                      rf"\s*(?:\{{|$)|^\s*\}}\s*{n}\s*;")


class StructReader:
    """Reads struct definitions out of blobs, once per (blob, name, options)."""

    def __init__(self, repo: GitRepo, cache: Cache, opts: ReadOptions):
        self.repo = repo
        self.cache = cache
        self.opts = opts
        self.fingerprint = opts.fingerprint()
        self._mem: dict[tuple[str, str], StructDef | None] = {}
        self._data: dict[str, bytes] = {}  # blobs read ahead (prefetch), taken by in_blob
        self._bodies: dict[str, StructDef] = {}  # body key -> definition, decoded once
        self.parsed = 0  # blobs actually parsed in this run (not from cache)

    def in_blob(self, blob: str, name: str, path: str, rev: str, data: bytes | None = None
                ) -> StructDef | None:
        """NAME's definition in BLOB (file PATH at REV, for #include lookups), or None. DATA is
        the blob's content when the caller has read it already."""
        key = (blob, name)
        if key in self._mem:
            return self._mem[key]
        ckey = self._key(blob, name)
        hit = self.cache.get("struct", ckey)
        sdef = None
        if isinstance(hit, dict) and "body" in hit:
            # the blob's definition is a body read before (entries point, bodies are shared)
            body = self._body(hit["body"])
            if body is not None:
                sdef = _rebase(body, hit["line"] - (body.line or 0), path)
            else:
                hit = None  # the body it points to is gone: read the blob again
        if hit is None:
            try:
                if data is None:
                    data = self._data.pop(blob, None)
                if data is None:
                    data = self.repo.read_blob(blob)
            except BlobTooLarge as exc:  # a per-version problem; not cached: the limit can be raised
                sdef = StructDef(name, self.opts.kind or "struct",
                                 (Field(None, "?", unparsed=f"<{exc.size} bytes not read>"),),
                                 path, None, (f"{path}: {exc}",))
                self._mem[key] = sdef
                return sdef
            sdef, ref = self._read(data, name, path, rev)
            self.cache.put("struct", ckey, ref)
        self._mem[key] = sdef
        return sdef

    def _key(self, blob: str, name: str) -> str:
        """Cache key of NAME's reading in BLOB under these options."""
        return f"{blob}|{name}|{self.fingerprint}"

    def _body(self, bkey: str) -> StructDef | None:
        sdef = self._bodies.get(bkey)
        if sdef is None:
            hit = self.cache.get("body", bkey)
            if hit is None:
                return None
            sdef = StructDef.from_json(hit)
            if len(self._bodies) > 4000:
                self._bodies.clear()
            self._bodies[bkey] = sdef
        return sdef

    def prefetch(self, wanted: list[tuple[str, str]]) -> None:
        """Read ahead, in one exchange with git, the blobs of WANTED ((blob, name) pairs) that
        in_blob will have to parse (neither in memory nor in the cache)."""
        want = [(b, n) for b, n in dict.fromkeys(wanted)
                if (b, n) not in self._mem and b not in self._data]
        cached = self.cache.known("struct", [self._key(b, n) for b, n in want])
        todo = [b for b, n in want if self._key(b, n) not in cached]
        if len(todo) < 2:
            return
        held = sum(map(len, self._data.values()))
        for k in range(0, len(todo), 64):
            if held > _READ_AHEAD_BYTES:
                return  # the rest is read when asked for
            got = self.repo.read_blobs(todo[k : k + 64])
            self._data.update(got)
            held += sum(map(len, got.values()))

    def _read(self, data: bytes, name: str, path: str, rev: str
              ) -> tuple[StructDef | None, dict | str]:
        """Parse NAME out of DATA, once per distinct definition text: most commits that touch a
        header change something else in it, so the struct's text (plus the file's directives,
        which can change its meaning) repeats across many blobs. Returns the definition and
        what the blob's cache entry says: "absent", or which body at which line."""
        clean, defs = scan_named(data, name, enums=self.opts.kind == "enum")
        cands = [d for d in defs if self.opts.kind in (None, d.kind)]
        if not cands:
            return None, "absent"
        files = RevFiles(self.repo, rev, self.opts.include_dirs, self.opts.build_include_dirs)
        # the include path the build files give at REV is part of what the text means
        dirs = ""
        if self.opts.build_include_dirs:
            dirs = ":".join(files.include_dirs(path)) + "|" + ",".join(
                sorted(files.build_names(path)))
        h = hashlib.sha1(f"{self.fingerprint}|{name}|{path}|{dirs}".encode(
            "utf-8", "surrogateescape"))
        for d in cands:
            h.update(clean[d.start : d.end].encode("utf-8", "surrogatepass") + b"\0")
        h.update(directives_digest(clean).encode())
        if b"\0" in data:  # read as spaces, but the reading warns: not the same as spaces
            h.update(b"|nul")
        bkey = h.hexdigest()
        ref = {"body": bkey, "line": cands[0].line}
        body = self._body(bkey)
        if body is not None:
            return _rebase(body, cands[0].line - (body.line or 0), path), ref
        sdef = read_struct(
            data,
            name,
            path=path,
            kind=self.opts.kind,
            config=self.opts.config,
            include_reader=files,
            arch=self.opts.arch,
        )
        self.parsed += 1
        if sdef is None:  # cannot happen (scan found it); say absent rather than point nowhere
            return None, "absent"
        self.cache.put("body", bkey, sdef.to_json())
        self._bodies[bkey] = sdef
        return sdef, ref

    def at(self, rev: str, path: str, name: str) -> tuple[str | None, StructDef | None]:
        """(blob id, definition) of NAME in PATH at REV; (None, None) when the file is missing."""
        blob = self.repo.blob_id(rev, path)
        if blob is None:
            return None, None
        return blob, self.in_blob(blob, name, path, rev)

    def search(self, rev: str, name: str, paths: list[str] | None, prefer: str | None) -> Found:
        """Find NAME at REV among PATHS (None: the whole tree, headers first), preferring PREFER."""
        if paths is not None:
            paths = [p for p in paths if p.endswith(SOURCE_SUFFIXES)]
            if not paths:
                return Found(name, None, None, None)
            return self.pick(rev, name, self.repo.grep_files(
                grep_pattern(name, kind=self.opts.kind), rev, paths, word=name), prefer)
        return self.search_many([rev], name)[rev]

    def search_many(self, revs: list[str], name: str,
                    kinds: tuple[tuple[str, ...], ...] = (INCLUDE_GLOBS, HEADER_GLOBS, SOURCE_GLOBS)
                    ) -> dict[str, Found]:
        """NAME at each of REVS (commit ids), searching whole trees, one git grep per group of
        KINDS (file globs), stopping at the first group where some revision defines it."""
        out: dict[str, Found] = {}
        # a trace_event_raw_X may be spelled out, or generated by a macro naming the event X
        event = trace_events.event_of(name) if self.opts.kind != "enum" else None
        words = name if event is None else (name, event)
        for globs in kinds:
            if event is not None and globs == SOURCE_GLOBS:
                # the trace event macros are read from headers only (the kernel's .c files
                # define none: 0 of 6.12's); a whole-tree search of the sources takes seconds
                continue
            hits = self.repo.grep_revs(grep_pattern(name, kind=self.opts.kind), list(revs), globs,
                                       word=words)
            for rev in revs:
                f = self.pick(rev, name, self._written_out(rev, name, hits[rev]), None)
                if f.sdef is None and event is not None:
                    f = self.pick(rev, name, hits[rev], None)
                if f.sdef is not None:
                    out[rev] = f
            if out:
                break
        for rev in revs:
            out.setdefault(rev, Found(name, None, None, None))
        return out

    def _written_out(self, rev: str, name: str, paths: list[str]) -> list[str]:
        """Of PATHS, the files at REV where NAME is spelled out rather than generated by a
        TRACE_EVENT macro (which a struct written out wins over); all PATHS for another name."""
        if trace_events.event_of(name) is None or not paths or self.opts.kind == "enum":
            return paths
        return self.repo.grep_files(grep_pattern(name, generated=False), rev, paths)

    def pick(self, rev: str, name: str, candidates: list[str], prefer: str | None) -> Found:
        """The best of the files CANDIDATES that really define NAME at REV."""
        hits: list[tuple[str, str, StructDef]] = []
        for p in candidates:
            blob, sdef = self.at(rev, p, name)
            if sdef is not None and blob is not None:
                hits.append((p, blob, sdef))
        if not hits:
            return Found(name, None, None, None)
        # among files alike by place, the fullest definition: a trimmed copy of another
        # project's header (iproute2's glibc include/netinet/tcp.h beside the kernel's
        # include/uapi/linux/tcp.h) is not the struct people ask about
        # another architecture's arch/ tree last: the kernel has ~28 struct pt_regs, one per
        # arch/*, and the one meant is --arch's (x86 by default)
        other_arch = (lambda p: p.startswith("arch/")
                      and not p.startswith(f"arch/{self.opts.arch}/"))
        hits.sort(key=lambda h: (other_arch(h[0]), _path_rank(h[0], prefer)[:3],
                                 -len(h[2].flat_fields()), _path_rank(h[0], prefer)[3:]))
        p, blob, sdef = hits[0]
        return Found(name, p, blob, sdef, tuple(h[0] for h in hits[1:]))


def presearch(repo: GitRepo, names: list[str], revs: list[str],
              kinds: tuple[tuple[str, ...], ...] = (INCLUDE_GLOBS, HEADER_GLOBS, SOURCE_GLOBS),
              kind: str | None = None) -> None:
    """Search the trees of REVS for many NAMES at once, ahead of StructReader.search_many
    (which then finds its git grep answers given): per group of KINDS, one git grep for the
    lines that may open a definition of any of them (two without PCRE), instead of two per
    name (a kernel tree takes seconds per grep; `srcdiff check` asks about dozens of
    structs); the revisions side by side. KIND "enum": enums."""
    from concurrent.futures import ThreadPoolExecutor

    left = [n for n in dict.fromkeys(names) if re.fullmatch(r"[A-Za-z_]\w*", n)]
    seen: set[str] = set()
    for globs in kinds:
        if globs == SOURCE_GLOBS:
            # a header may only mention NAME on a line like a definition's (a prototype's
            # `struct NAME` at its end), so every name goes on to the other headers (whose
            # search costs as much for all as for a few); the sources, as many files again,
            # only for the names no header has such a line for, and not for trace event
            # structs (search_many reads those from headers only)
            left = [n for n in left if n not in seen
                    and (kind == "enum" or trace_events.event_of(n) is None)]
        if len(left) < 2:
            return  # one name: search_many's own two greps are as many
        with ThreadPoolExecutor(max_workers=min(len(revs), 4) or 1) as pool:
            per_rev = list(pool.map(lambda r: _defining_files(repo, left, r, globs, kind), revs))
        for rev, hits in zip(revs, per_rev):
            for n in left:
                repo.remember_grep(grep_pattern(n, kind=kind), rev, globs, hits[n])
                if hits[n]:
                    seen.add(n)


def _defining_files(repo: GitRepo, names: list[str], rev: str, globs: tuple[str, ...],
                    kind: str | None = None) -> dict[str, list[str]]:
    """For each of NAMES, the files of GLOBS at REV with a line that may open its definition
    (grep_pattern: for a trace_event_raw_X, also the macro call generating it), in git's
    order."""
    events = {n: e for n in names if kind != "enum" and (e := trace_events.event_of(n)) is not None}
    pattern = grep_pattern("", "(" + "|".join(names) + ")", kind=kind)
    perl = _line_re("", "(?:" + "|".join(names) + ")", kind).pattern
    if events:
        alt = "|".join(events.values())
        pattern += "|" + trace_events.grep_pattern("", f"({alt})")
        perl += "|" + trace_events.line_re("", f"(?:{alt})").pattern
    if repo.has_pcre is not False:
        # a Perl regex over every file at once reads the tree once (the files holding a name
        # first, then the regex over those, read them twice: 6.7 s against 7.9 s for the
        # kernel's headers outside include/)
        lines = repo.grep_lines(pattern, rev, globs, perl, literal=False)
    else:
        paths = repo.grep_words(names + list(events.values()), rev, globs)
        lines = repo.grep_lines(pattern, rev, paths) if paths else []
    hits: dict[str, list[str]] = {n: [] for n in names}
    res = {n: _line_re(n, kind=kind) for n in names}
    ev_res = {n: trace_events.line_re(e) for n, e in events.items()}
    for path, text in lines:
        for n in names:
            if hits[n] and hits[n][-1] == path:
                continue
            e = events.get(n)
            if (n in text and res[n].search(text)) or (
                    e is not None and e in text and ev_res[n].search(text)):
                hits[n].append(path)
    return hits


class RevFiles:
    """The files of one revision, as #include's read them: one at a time (``files(path)``), or
    their blob ids many at once (``ids``) and contents by id (``read_id``), which lets the
    preprocessor reuse what it read at another revision where the ids are the same."""

    def __init__(self, repo: GitRepo, rev: str, dirs: tuple[str, ...] = (),
                 build_files: bool = False):
        self.repo = repo
        self.rev = rev
        self.dirs = dirs  # -I
        self.build_files = build_files  # also the include path the build files give
        self._dirs_of: dict[str, tuple[list[str], frozenset[str]]] = {}

    # equal readers share what a file sees through its #include's (preprocess._scope_for)
    def __eq__(self, other: object) -> bool:
        return isinstance(other, RevFiles) and (self.repo, self.rev, self.dirs, self.build_files
                                                ) == (other.repo, other.rev, other.dirs,
                                                      other.build_files)

    def __hash__(self) -> int:
        return hash((id(self.repo), self.rev))

    def include_dirs(self, path: str) -> list[str]:
        """The include path of the file PATH: the -I directories, then what the build files
        of its directory and those above it give (srcdiff.buildfiles), nearest first."""
        return list(dict.fromkeys(list(self.dirs) + self._build(path)[0]))

    def build_names(self, path: str) -> frozenset[str]:
        """The names the build files of PATH may define for the compiler (-D flags,
        configure.ac's AC_DEFINE ..., srcdiff.buildfiles.build_names_of)."""
        return self._build(path)[1]

    def _build(self, path: str) -> tuple[list[str], frozenset[str]]:
        d = posixpath.dirname(path)
        got = self._dirs_of.get(d)
        if got is None:
            dirs: list[str] = []
            names: set[str] = set()
            if self.build_files:
                files = build_files_for(path)
                for f, blob in zip(files, self.ids(files)):
                    if blob is not None:
                        bd, bn = _build_info(f, blob, self.repo)
                        dirs += bd
                        names |= bn
                names |= self._m4_names()
            got = self._dirs_of[d] = (dirs, frozenset(names))
        return got

    def _m4_names(self) -> frozenset[str]:
        """The names the autoconf macro files in M4_DIR (m4/*.m4) may AC_DEFINE, read once per
        distinct directory (its tree id)."""
        h = self.repo.path_headers(self.rev, [M4_DIR])[0]
        if h is None or h[1] != "tree":
            return frozenset()
        got = _m4_memo.get(h[0])
        if got is None:
            names: set[str] = set()
            listing = self.repo.run_text("ls-tree", "-z", h[0])
            for entry in listing.split("\0"):
                meta, _tab, name = entry.partition("\t")
                parts = meta.split()
                if len(parts) == 3 and parts[1] == "blob" and name.endswith(".m4"):
                    names |= _build_info(f"{M4_DIR}/{name}", parts[2], self.repo)[1]
            if len(_m4_memo) > 200:
                _m4_memo.clear()
            got = _m4_memo[h[0]] = frozenset(names)
        return got

    def __call__(self, path: str) -> bytes | None:
        return self.repo.read_file(self.rev, path)

    def ids(self, paths: list[str]) -> list[str | None]:
        """Blob id of each of PATHS (None: missing, not a blob, or over the size limit)."""
        limit = max_blob_bytes()
        return [h[0] if h is not None and h[1] == "blob" and h[2] <= limit else None
                for h in self.repo.path_headers(self.rev, paths)]

    def read_id(self, blob: str) -> bytes:
        return self.repo.read_object_raw(blob)


_build_memo: dict[tuple[str, str], tuple[list[str], frozenset[str]]] = {}
_m4_memo: dict[str, frozenset[str]] = {}  # tree id of m4/ -> the names its files may define


def _build_info(path: str, blob: str, repo: GitRepo) -> tuple[list[str], frozenset[str]]:
    """(include directories, names it may define) of the build file PATH (blob BLOB), read
    once per blob."""
    key = (path, blob)
    got = _build_memo.get(key)
    if got is None:
        try:
            text = repo.read_object_raw(blob).decode("utf-8", "replace")
        except Exception:  # an unreadable build file gives nothing
            text = ""
        if len(_build_memo) > 2000:
            _build_memo.clear()
        got = _build_memo[key] = (include_dirs_of(path, text),
                                  frozenset(build_names_of(path, text)))
    return got


def _rebase(sdef: StructDef, delta: int, path: str) -> StructDef:
    """SDEF moved DELTA lines down (same text found at another place of a file)."""
    if delta == 0:
        return _with_path(sdef, path)

    def shift(fields: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(replace(f, line=None if f.line is None else f.line + delta,
                             fields=shift(f.fields)) for f in fields)

    return StructDef(sdef.name, sdef.kind, shift(sdef.fields), path,
                     None if sdef.line is None else sdef.line + delta, sdef.warnings)


def _with_path(sdef: StructDef, path: str) -> StructDef:
    return StructDef(sdef.name, sdef.kind, sdef.fields, path, sdef.line, sdef.warnings)
