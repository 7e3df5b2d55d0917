"""export: the index as Parquet tables, for people who analyse it with DuckDB, pandas or Spark.

Three files in one directory, written per release (a row group each) so that memory stays
that of one release whatever the history's length:

- definitions.parquet: every struct and union definition of every file of every exported
  release (release, commit, path, name, kind, line, alias: a typedef name of the aggregate);
- members.parquet: per release and struct, the members of the definition ``srcdiff show``
  would take (index.pick), flattened through unnamed aggregates as ``structs --changed``
  compares them, each with its type, bit width, guard (with those of the unnamed aggregates
  around it, joined by ``&&``), position (0, 1, ...) and line; no configuration applied;
- changes.parquet: per release and its predecessor on its release line (both exported): the
  structs added and removed (member null) and the members added, removed and retyped, with
  the old and new type, as ``structs --changed`` finds them without a configuration.

pyarrow is an optional dependency (``pip install 'srcdiff[parquet]'``), imported here only.
The tables are written in a new directory beside the target and renamed into place at the end:
a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from srcdiff.errors import SrcdiffError
from srcdiff.index import IndexStore, in_scope, member_map, pick
from srcdiff.versions import Version

TABLES = ("definitions", "members", "changes")
ROW_GROUP = 200_000  # rows written at once (fewer: what a release has left at its end)


def pyarrow_modules():
    """(pyarrow, pyarrow.parquet); SrcdiffError saying how to install them when missing."""
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise SrcdiffError("--export needs pyarrow: pip install 'srcdiff[parquet]'") from None
    return pyarrow, pq


def check_target(directory: Path) -> None:
    """SrcdiffError unless DIRECTORY can be made: it does not exist, or is an empty directory."""
    if directory.exists() and not (directory.is_dir() and not any(directory.iterdir())):
        raise SrcdiffError(f"--export {directory}: already exists; give a new or empty directory")


def export(store: IndexStore, versions: list[Version], parents: dict[str, str | None],
           directory: Path, arch: str) -> dict:
    """Write the tables for the indexed releases among VERSIONS (PARENTS: tag -> its
    predecessor's tag) into DIRECTORY; the rows written per table."""
    pa, pq = pyarrow_modules()
    directory = Path(directory)
    check_target(directory)
    parent_dir = directory.resolve().parent
    try:
        parent_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent_dir))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # as mkdir would make it (mkdtemp's is private)
    except OSError as exc:
        raise SrcdiffError(f"--export {directory}: cannot write: {exc.strerror or exc}") from None
    try:
        counts = _write(store, versions, parents, tmp, arch, pa, pq)
        if directory.exists():
            directory.rmdir()  # empty (check_target): rename replaces no data
        tmp.rename(directory)
    except OSError as exc:
        raise SrcdiffError(f"--export {directory}: cannot write: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"directory": str(directory), **counts}


def _schemas(pa) -> dict:
    s, i, b = pa.string(), pa.int32(), pa.bool_()
    return {
        "definitions": pa.schema([("release", s), ("commit", s), ("path", s), ("name", s),
                                  ("kind", s), ("line", i), ("alias", b)]),
        "members": pa.schema([("release", s), ("struct", s), ("path", s), ("member", s),
                              ("type", s), ("bits", s), ("guard", s), ("position", i),
                              ("line", i)]),
        "changes": pa.schema([("from", s), ("to", s), ("struct", s), ("member", s),
                              ("change", s), ("old_type", s), ("new_type", s)]),
    }


def _write(store: IndexStore, versions: list[Version], parents: dict[str, str | None],
           tmp: Path, arch: str, pa, pq) -> dict[str, int]:
    schemas = _schemas(pa)
    writers = {t: pq.ParquetWriter(tmp / f"{t}.parquet", schemas[t]) for t in TABLES}
    counts = dict.fromkeys(TABLES, 0)
    rows = {t: {c: [] for c in schemas[t].names} for t in TABLES}

    def flush(t: str, at_least: int = 1) -> None:
        n = len(rows[t][schemas[t].names[0]])
        if n >= at_least:
            writers[t].write_table(pa.table(rows[t], schema=schemas[t]))
            counts[t] += n
            rows[t] = {c: [] for c in schemas[t].names}

    defs = _Definitions(store)
    picked: dict[str, dict[str, tuple[str, str]]] = {}  # tag -> struct -> (path, blob)
    children = Counter(parents.get(v.tag) for v in versions)  # kept while a successor is to come
    try:
        for v in versions:
            scope = store.release_scope(v.commit)
            if scope is None:
                continue  # not indexed
            cands = store.candidates(v.commit)
            chosen = {}
            for name, cs in cands.items():
                real = [c for c in cs if not c.alias and in_scope(c.path, scope)]
                if real:
                    c = pick(real, arch)
                    chosen[name] = (c.path, c.blob)
            for name, cs in sorted(cands.items()):
                for c in sorted(cs, key=lambda c: c.path):
                    keep = chosen.get(name, (None, None))[1] == c.blob
                    _add(rows["definitions"], release=v.tag, commit=v.commit, path=c.path,
                         name=name, kind=c.kind, line=defs.line(c.blob, name, keep),
                         alias=c.alias)
            for name in sorted(chosen):
                path, blob = chosen[name]
                for pos, m in enumerate(_members(defs.fields(blob, name))):
                    _add(rows["members"], release=v.tag, struct=name, path=path, position=pos, **m)
                flush("members", ROW_GROUP)
            parent = parents.get(v.tag)
            if parent in picked:
                _changes(rows["changes"], parent, v.tag, picked[parent], chosen, defs)
            children[parent] -= 1
            if children[parent] <= 0:
                picked.pop(parent, None)
            if children[v.tag] > 0:
                picked[v.tag] = chosen
            for t in TABLES:
                flush(t, ROW_GROUP)
            defs.next_release()
        for t in TABLES:
            flush(t)
    finally:
        for w in writers.values():
            w.close()
    return counts


def _add(cols: dict[str, list], **row) -> None:
    for k, v in row.items():
        cols[k].append(v)


class _Definitions:
    """Stored definitions by (blob, name), read once while the release that reads them and
    the next one need them (consecutive releases share most of their files): the line of
    every one, the members of those a release picks."""

    def __init__(self, store: IndexStore):
        self.store = store
        self.lines: tuple[dict, dict] = ({}, {})  # (this release's, the previous one's)
        self.kept: tuple[dict, dict] = ({}, {})

    def _read(self, blob: str, name: str) -> dict:
        d = self.store.definition_json(blob, name)
        return d if d is not None else {"fields": [], "line": None}

    def line(self, blob: str, name: str, keep: bool) -> int | None:
        """The definition's line; KEEP: its members will be asked for too."""
        key = (blob, name)
        for lines, kept in zip(self.lines, self.kept, strict=True):
            if key in lines and (not keep or key in kept):
                self.lines[0][key] = lines[key]
                if keep:
                    self.kept[0][key] = kept[key]
                return lines[key]
        d = self._read(blob, name)
        self.lines[0][key] = d.get("line")
        if keep:
            self.kept[0][key] = d["fields"]
        return d.get("line")

    def fields(self, blob: str, name: str) -> list[dict]:
        """The definition's members (as stored)."""
        key = (blob, name)
        for kept in self.kept:
            if key in kept:
                self.kept[0][key] = kept[key]
                return kept[key]
        f = self._read(blob, name)["fields"]
        self.kept[0][key] = f
        return f

    def next_release(self) -> None:
        self.lines = ({}, self.lines[0])
        self.kept = ({}, self.kept[0])


def _members(fields: list[dict], guard: str | None = None) -> list[dict]:
    """FIELDS flattened through unnamed aggregates (as index.member_map), in order."""
    out = []
    for f in fields:
        g = _joined(guard, f.get("guard"))
        sub = f.get("fields")
        if f.get("name") is None and sub and f.get("unparsed") is None:
            out += _members(sub, g)
            continue
        name = f.get("name")
        if name is None:
            name = "?" + " ".join((f.get("unparsed") or f["type"]).split())
        out.append({"member": name, "type": f.get("unparsed") or f["type"],
                    "bits": None if f.get("bits") is None else str(f["bits"]), "guard": g,
                    "line": f.get("line")})
    return out


def _joined(outer: str | None, inner: str | None) -> str | None:
    if outer and inner:
        return f"({outer}) && ({inner})"
    return outer or inner


def _changes(cols: dict[str, list], a: str, b: str, pa_: dict[str, tuple[str, str]],
             pb: dict[str, tuple[str, str]], defs: _Definitions) -> None:
    """The rows of changes from release A to B (structs by name: (path, blob))."""
    for name in sorted(pa_.keys() | pb.keys()):
        if name not in pa_ or name not in pb:
            _add(cols, **{"from": a, "to": b, "struct": name, "member": None,
                          "change": "added" if name in pb else "removed",
                          "old_type": None, "new_type": None})
            continue
        if pa_[name][1] == pb[name][1]:
            continue  # the same text, read the same way
        ma = member_map(defs.fields(pa_[name][1], name), None)
        mb = member_map(defs.fields(pb[name][1], name), None)
        for k, m in mb.items():
            old = ma.get(k)
            if old is None:
                change = "added"
            elif old[1] != m[1] or str(old[2]) != str(m[2]) or old[3] != m[3]:
                change = "retyped"
            else:
                continue
            _add(cols, **{"from": a, "to": b, "struct": name, "member": m[0] or k,
                          "change": change, "old_type": _type(old), "new_type": _type(m)})
        for k, m in ma.items():
            if k not in mb:
                _add(cols, **{"from": a, "to": b, "struct": name, "member": m[0] or k,
                              "change": "removed", "old_type": _type(m), "new_type": None})


def _type(m) -> str | None:
    """A member_map entry's type as written: the text of an unparsed one, ``: N`` for bits."""
    if m is None:
        return None
    text = m[3] if m[3] is not None else m[1]
    return f"{text} : {m[2]}" if m[2] is not None else text
