"""bpfobj: the struct members a compiled CO-RE BPF program depends on, read from its ELF.

A program built with ``clang -target bpf -g`` records every struct member it reads in the
CO-RE relocations of its ``.BTF.ext`` section: a type id of its own ``.BTF`` and an access
string (``0:2:0``: the pointer itself, then member 2, then that member's member 0). This module
decodes both sections (the format of the kernel's Documentation/bpf/btf.rst and libbpf's
relo_core) into dependencies — ``task_struct.se`` and ``sched_entity.vruntime`` for
``BPF_CORE_READ(t, se.vruntime)`` — each with the relocation kinds that ask for it. Members of
anonymous structs and unions count as members of the struct around them, as srcdiff lists
them. An enum-value relocation (``bpf_core_enum_value_exists(enum bpf_func_id,
BPF_FUNC_loop)``) names an ENUM or ENUM64 type and, as its access string, the enumerator's index
in it: the dependency ``bpf_func_id.BPF_FUNC_loop``. Every read is bounds-checked: a truncated
or hostile object gives one SrcdiffError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from srcdiff.errors import SrcdiffError

BTF_MAGIC = 0xEB9F
# CO-RE relocation kinds (libbpf's enum bpf_core_relo_kind), in the words outputs use
RELO_KINDS = ("field-offset", "field-size", "field-exists", "field-signed", "field-lshift",
              "field-rshift", "type-id-local", "type-id-target", "type-exists", "type-size",
              "enumval-exists", "enumval-value", "type-matches")
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT = range(1, 12)
_FUNC, _FUNC_PROTO, _VAR, _DATASEC, _FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = range(12, 20)
_MODIFIERS = {_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG}
MAX_TYPES = 1_000_000  # a program's BTF has hundreds; more is not a program's
MAX_DEPTH = 64  # typedef/modifier chains and access paths longer than this are a loop


@dataclass(frozen=True)
class BtfType:
    name: str
    kind: int
    size_or_type: int
    members: tuple[tuple[str, int], ...] = ()  # struct/union: (name, type id); enum: (name, 0)
    elem: int = 0  # array: element type id


@dataclass(frozen=True)
class Access:
    """One struct member a relocation reaches: STRUCT.FIELD (FIELD None: the type itself);
    for an enumval- KIND, STRUCT names an enum and FIELD one of its enumerators."""

    struct: str
    field: str | None
    kind: str
    flavored: bool = False  # read through a CO-RE flavor (task_struct___o): a compat path


def dependencies(path: str) -> list[Access]:
    """Every (struct, member, relocation kind) the BPF object at PATH depends on, in the
    order its relocations list them (duplicates removed). SrcdiffError, naming PATH, for a
    file that is not such an object or whose BTF cannot be read."""
    btf, ext = _sections(path)
    try:
        types, strings = _parse_btf(btf)
        relos = _parse_core_relos(ext, strings)
        out: dict[Access, None] = {}
        for type_id, access, kind in relos:
            for a in _accesses(types, type_id, access, kind):
                out[a] = None
        return list(out)
    except (struct.error, IndexError, ValueError, KeyError) as exc:
        raise SrcdiffError(f"{path}: bad BTF ({type(exc).__name__}: {exc})"[:200]) from None


def _sections(path: str) -> tuple[bytes, bytes]:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] not in ("EM_BPF", 247):
                raise SrcdiffError(f"{path}: not a BPF object (machine {elf['e_machine']})")
            btf, ext = elf.get_section_by_name(".BTF"), elf.get_section_by_name(".BTF.ext")
            if btf is None:
                raise SrcdiffError(f"{path}: no .BTF section (build it with clang -target bpf -g)")
            if ext is None:
                raise SrcdiffError(f"{path}: no .BTF.ext section: no CO-RE relocations to read")
            return btf.data(), ext.data()
    except OSError as e:
        raise SrcdiffError(f"{path}: cannot read: {e.strerror or e}") from None
    except SrcdiffError:
        raise
    except (ELFError, Exception) as exc:  # noqa: BLE001 - pyelftools raises many kinds on a
        # corrupt file (its parser's own errors, struct.error, ValueError, ...): all are one
        raise SrcdiffError(f"{path}: not a readable ELF object ({type(exc).__name__}: "
                           f"{exc})"[:200]) from None


def _header(data: bytes, what: str) -> tuple[int, int]:
    """(header length, flags) of a BTF or BTF.ext section, after checking its magic."""
    magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC:
        raise ValueError(f"{what}: magic {magic:#x}, not {BTF_MAGIC:#x} (big-endian objects "
                         "are not read)")
    if version != 1 or hdr_len < 8 or hdr_len > len(data):
        raise ValueError(f"{what}: version {version}, header length {hdr_len}")
    return hdr_len, _flags


def _parse_btf(data: bytes) -> tuple[list[BtfType | None], bytes]:
    hdr_len, _ = _header(data, ".BTF")
    type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
    base = hdr_len
    if base + type_off + type_len > len(data) or base + str_off + str_len > len(data):
        raise ValueError(".BTF: sections past the end")
    strings = data[base + str_off: base + str_off + str_len]
    types: list[BtfType | None] = [None]  # id 0 is void
    pos, end = base + type_off, base + type_off + type_len
    while pos < end:
        if len(types) > MAX_TYPES:
            raise ValueError(".BTF: too many types")
        name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
        pos += 12
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        name = _string(strings, name_off)
        members: tuple = ()
        elem = 0
        if kind in (_INT, _VAR, _DECL_TAG):
            pos += 4
        elif kind == _ARRAY:
            elem, _index, _n = struct.unpack_from("<III", data, pos)
            pos += 12
        elif kind in (_STRUCT, _UNION):
            if pos + 12 * vlen > end:
                raise ValueError(f".BTF: struct {name} has {vlen} members past the end")
            members = tuple((_string(strings, n), t) for n, t, _o in
                            (struct.unpack_from("<III", data, pos + 12 * i) for i in range(vlen)))
            pos += 12 * vlen
        elif kind in (_ENUM, _ENUM64):
            size = 8 if kind == _ENUM else 12  # name_off, val / name_off, lo32, hi32
            if pos + size * vlen > end:
                raise ValueError(f".BTF: enum {name} has {vlen} values past the end")
            members = tuple((_string(strings, struct.unpack_from("<I", data, pos + size * i)[0]), 0)
                            for i in range(vlen))
            pos += size * vlen
        elif kind == _FUNC_PROTO:
            pos += 8 * vlen
        elif kind == _DATASEC:
            pos += 12 * vlen
        elif kind not in (_PTR, _FWD, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _FUNC, _FLOAT,
                          _TYPE_TAG):
            raise ValueError(f".BTF: unknown type kind {kind}")
        if pos > end:
            raise ValueError(".BTF: a type runs past the end")
        types.append(BtfType(name, kind, size_or_type, members, elem))
    return types, strings


def _string(strings: bytes, off: int) -> str:
    if off >= len(strings) and off:
        raise ValueError(f"string offset {off} past the string section")
    end = strings.find(b"\0", off)
    return strings[off: end if end >= 0 else len(strings)].decode("utf-8", "replace")


def _parse_core_relos(data: bytes, strings: bytes) -> list[tuple[int, str, str]]:
    hdr_len, _ = _header(data, ".BTF.ext")
    if hdr_len < 32:
        return []  # an older layout without CO-RE relocations
    core_off, core_len = struct.unpack_from("<II", data, 24)
    pos, end = hdr_len + core_off, hdr_len + core_off + core_len
    if end > len(data):
        raise ValueError(".BTF.ext: CO-RE relocations past the end")
    if core_len == 0:
        return []
    (rec_size,) = struct.unpack_from("<I", data, pos)
    if rec_size < 16:
        raise ValueError(f".BTF.ext: relocation record of {rec_size} bytes")
    pos += 4
    out = []
    while pos < end:
        _sec, num = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + num * rec_size > end:
            raise ValueError(f".BTF.ext: {num} relocations past the end")
        for i in range(num):
            _insn, type_id, access_off, kind = struct.unpack_from("<IIII", data, pos + i * rec_size)
            if kind >= len(RELO_KINDS):
                raise ValueError(f"unknown relocation kind {kind}")
            out.append((type_id, _string(strings, access_off), RELO_KINDS[kind]))
        pos += num * rec_size
    return out


def _resolve(types: list[BtfType | None], tid: int) -> tuple[str, BtfType | None]:
    """TID through typedefs and modifiers: (the name it goes by — a typedef's, where what it
    names has none — and the type it names)."""
    alias = ""
    for _ in range(MAX_DEPTH):
        if tid >= len(types):
            raise ValueError(f"type id {tid} out of range ({len(types) - 1} types)")
        t = types[tid]
        if t is None or t.kind not in _MODIFIERS:
            return (t.name or alias) if t is not None else alias, t
        if t.kind == _TYPEDEF and not alias:
            alias = t.name
        tid = t.size_or_type
    raise ValueError(f"type {tid}: typedef or modifier chain loops")


def _plain(name: str) -> str:
    """NAME without a CO-RE flavor suffix (task_struct___x is task_struct to libbpf)."""
    cut = name.find("___")
    return name[:cut] if cut > 0 else name


def _accesses(types: list[BtfType | None], type_id: int, access: str, kind: str) -> list[Access]:
    """The named struct members a relocation's access string walks through; the enumerator
    an enum-value relocation asks about."""
    name, t = _resolve(types, type_id)
    if kind.startswith("enumval-"):
        if t is None or t.kind not in (_ENUM, _ENUM64) or not name:
            return []  # an anonymous enum: no name to look for in the source
        idx = int(access) if access.isdigit() else -1
        if not 0 <= idx < len(t.members):
            raise ValueError(f"enumerator {access[:40]!r} of enum {name} out of range")
        return [Access(_plain(name), _plain(t.members[idx][0]), kind,
                       _plain(name) != name or _plain(t.members[idx][0]) != t.members[idx][0])]
    if t is None or t.kind not in (_STRUCT, _UNION) or not name:
        return []  # a scalar type, an anonymous root, an enum's type-: not a struct's member
    if kind.startswith("type-"):
        return [Access(_plain(name), None, kind, _plain(name) != name)]
    steps = [int(x) for x in access.split(":") if x != ""][1:]  # the first is the pointer's
    if len(steps) > MAX_DEPTH:
        raise ValueError(f"access string {access[:40]!r} too long")
    out: list[Access] = []
    owner, path, cur = _plain(name), [], t
    flavored = owner != name
    for idx in steps:
        if cur is None:
            break
        if cur.kind == _ARRAY:  # this step indexes the array
            _n, cur = _resolve(types, cur.elem)
            continue
        if cur.kind not in (_STRUCT, _UNION) or idx >= len(cur.members):
            raise ValueError(f"access {access!r} leaves struct {owner}")
        mname, mtype = cur.members[idx]
        if mname:
            path.append(_plain(mname))
            flavored = flavored or _plain(mname) != mname
            out.append(Access(owner, ".".join(path), kind, flavored))
        tname, cur = _resolve(types, mtype)
        if mname and cur is not None and cur.kind in (_STRUCT, _UNION) and tname:
            owner, path = _plain(tname), []  # a struct of its own: its members are its
            flavored = flavored or owner != tname
        # an unnamed struct or union type (a member's inline union, say) keeps the path going:
        # in6_addr's in6_u.u6_addr32
    # only the last member read is what the relocation asks about; the ones on the way are
    # read too (their offsets add up), so they are field-offset dependencies
    return [Access(a.struct, a.field, kind if i == len(out) - 1 else "field-offset", a.flavored)
            for i, a in enumerate(out)]
