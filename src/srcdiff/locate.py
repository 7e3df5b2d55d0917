"""locate: which file defines the struct at a revision, and its StructDef there.

Parsing happens once per distinct blob (memory + SQLite cache); the tree is searched with
``git grep`` only where the struct is no longer where it was last seen, and then only among
the files that changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from srcdiff.cache import Cache
from srcdiff.gitrepo import GitRepo
from srcdiff.model import StructDef
from srcdiff.parse import PARSER_VERSION, read_struct
from srcdiff.preprocess import Config

SOURCE_SUFFIXES = (".h", ".c", ".hh", ".hpp", ".cc", ".cpp", ".inc")


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
    warnings: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        cfg = self.config.fingerprint() if self.config is not None else "-"
        return f"{PARSER_VERSION}|{cfg}|{self.arch}|{self.kind or '*'}"


def grep_pattern(name: str) -> str:
    """Extended regex matching a line that may open the definition of NAME."""
    n = re.escape(name)
    return (
        rf"(^|[^A-Za-z0-9_])(struct|union)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*[[:space:]]+)*{n}"
        rf"[[:space:]]*(\{{|$)|^[[:space:]]*\}}[[:space:]]*{n}[[:space:]]*;"
    )


class StructReader:
    """Reads struct definitions out of blobs, once per (blob, name, options)."""

    def __init__(self, repo: GitRepo, cache: Cache, opts: ReadOptions):
        self.repo = repo
        self.cache = cache
        self.opts = opts
        self._fp = opts.fingerprint()
        self._mem: dict[tuple[str, str], StructDef | None] = {}
        self.parsed = 0  # blobs actually parsed in this run (not from cache)

    def in_blob(self, blob: str, name: str, path: str, rev: str) -> StructDef | None:
        """NAME's definition in BLOB (file PATH at REV, for #include lookups), or None."""
        key = (blob, name)
        if key in self._mem:
            return self._mem[key]
        ckey = f"{blob}|{name}|{self._fp}"
        hit = self.cache.get("struct", ckey)
        if hit is not None:
            sdef = None if hit == "absent" else StructDef.from_json(hit)
            if sdef is not None and sdef.path != path:
                sdef = _with_path(sdef, path)
        else:
            data = self.repo.read_blob(blob)
            sdef = read_struct(
                data,
                name,
                path=path,
                kind=self.opts.kind,
                config=self.opts.config,
                include_reader=lambda p, _rev=rev: self.repo.read_file(_rev, p),
                arch=self.opts.arch,
            )
            self.parsed += 1
            self.cache.put("struct", ckey, "absent" if sdef is None else sdef.to_json())
        self._mem[key] = sdef
        return sdef

    def at(self, rev: str, path: str, name: str) -> tuple[str | None, StructDef | None]:
        """(blob id, definition) of NAME in PATH at REV; (None, None) when the file is missing."""
        blob = self.repo.blob_id(rev, path)
        if blob is None:
            return None, None
        return blob, self.in_blob(blob, name, path, rev)

    def search(self, rev: str, name: str, paths: list[str] | None, prefer: str | None) -> Found:
        """Find NAME at REV among PATHS (None: the whole tree), preferring PREFER."""
        if paths is not None:
            paths = [p for p in paths if p.endswith(SOURCE_SUFFIXES)]
            if not paths:
                return Found(name, None, None, None)
        candidates = self.repo.grep_files(grep_pattern(name), rev, paths)
        hits: list[tuple[str, str, StructDef]] = []
        for p in candidates:
            blob, sdef = self.at(rev, p, name)
            if sdef is not None and blob is not None:
                hits.append((p, blob, sdef))
        if not hits:
            return Found(name, None, None, None)
        hits.sort(key=lambda h: _path_rank(h[0], prefer))
        p, blob, sdef = hits[0]
        return Found(name, p, blob, sdef, tuple(h[0] for h in hits[1:]))


def _path_rank(path: str, prefer: str | None) -> tuple:
    # The file seen last, then headers, then the public include/ tree, then shorter paths.
    return (path != prefer, not path.endswith((".h", ".hh", ".hpp")), not path.startswith("include/"),
            path.count("/"), path)


def _with_path(sdef: StructDef, path: str) -> StructDef:
    return StructDef(sdef.name, sdef.kind, sdef.fields, path, sdef.line, sdef.warnings)
