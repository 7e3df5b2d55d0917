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
    extra: int = 0  # int: its encoding word; array: its element count
    kflag: bool = False  # struct/union: bitfield sizes in member offsets; enum: signed
    bitfields: tuple[int, ...] = ()  # struct/union with kflag: each member's bitfield size


@dataclass(frozen=True)
class Shape:
    """What a program reads at a member, from its own BTF: BPF_CORE_READ reads ``size`` bytes
    at the relocated offset, whatever the kernel's member is. ``type`` is the program's
    spelling (``int``, ``__u64``, ``struct list_head *``); ``size`` is None for a bitfield
    (``bits`` its width) or a type of no size; ``signed`` as libbpf's field-signed relocation
    sees it (pointers unsigned; None for a struct, an array, a float); ``integer`` for an int,
    an enum or a bitfield; ``indexed``: array dimensions the access indexes into (``args[1]``
    reads an element of ``args``)."""

    type: str
    size: int | None
    signed: bool | None
    integer: bool = False
    bits: int | None = None
    indexed: int = 0


@dataclass(frozen=True)
class Access:
    """One struct member a relocation reaches: STRUCT.FIELD (FIELD None: the type itself);
    for an enumval- KIND, STRUCT names an enum and FIELD one of its enumerators."""

    struct: str
    field: str | None
    kind: str
    flavored: bool = False  # read through a CO-RE flavor (task_struct___o): a compat path
    shape: Shape | None = None  # the member's type as the program has it (the member read)


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
        kflag = bool(info >> 31)
        members: tuple = ()
        bitfields: tuple = ()
        elem = extra = 0
        if kind in (_INT, _VAR, _DECL_TAG):
            (extra,) = struct.unpack_from("<I", data, pos)
            pos += 4
        elif kind == _ARRAY:
            elem, _index, extra = struct.unpack_from("<III", data, pos)
            pos += 12
        elif kind in (_STRUCT, _UNION):
            if pos + 12 * vlen > end:
                raise ValueError(f".BTF: struct {name} has {vlen} members past the end")
            raw = [struct.unpack_from("<III", data, pos + 12 * i) for i in range(vlen)]
            members = tuple((_string(strings, n), t) for n, t, _o in raw)
            if kflag:  # the offset word: bitfield size in bits 24-31, bit offset below
                bitfields = tuple(o >> 24 for _n, _t, o in raw)
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
        types.append(BtfType(name, kind, size_or_type, members, elem, extra, kflag, bitfields))
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
    read: tuple[int, int] | None = None  # the last named member: (its type id, bitfield size)
    indexed = 0  # array steps after it
    for idx in steps:
        if cur is None:
            break
        if cur.kind == _ARRAY:  # this step indexes the array
            indexed += 1
            _n, cur = _resolve(types, cur.elem)
            continue
        if cur.kind not in (_STRUCT, _UNION) or idx >= len(cur.members):
            raise ValueError(f"access {access!r} leaves struct {owner}")
        mname, mtype = cur.members[idx]
        bits = cur.bitfields[idx] if idx < len(cur.bitfields) else 0
        if mname:
            path.append(_plain(mname))
            flavored = flavored or _plain(mname) != mname
            out.append(Access(owner, ".".join(path), kind, flavored))
            read, indexed = (mtype, bits), 0
        else:
            read = None  # the access reads an unnamed member whole: not the named one's type
        tname, cur = _resolve(types, mtype)
        if mname and cur is not None and cur.kind in (_STRUCT, _UNION) and tname:
            owner, path = _plain(tname), []  # a struct of its own: its members are its
            flavored = flavored or owner != tname
        # an unnamed struct or union type (a member's inline union, say) keeps the path going:
        # in6_addr's in6_u.u6_addr32
    # only the last member read is what the relocation asks about; the ones on the way are
    # read too (their offsets add up), so they are field-offset dependencies
    shape = _shape(types, read[0], read[1], indexed) if read and kind != "field-exists" else None
    return [Access(a.struct, a.field, kind, a.flavored, shape) if i == len(out) - 1
            else Access(a.struct, a.field, "field-offset", a.flavored)
            for i, a in enumerate(out)]


def _through(types: list[BtfType | None], tid: int) -> int:
    """TID through typedefs and modifiers: the id of the type it names."""
    for _ in range(MAX_DEPTH):
        if tid >= len(types):
            raise ValueError(f"type id {tid} out of range ({len(types) - 1} types)")
        t = types[tid]
        if t is None or t.kind not in _MODIFIERS:
            return tid
        tid = t.size_or_type
    raise ValueError(f"type {tid}: typedef or modifier chain loops")


def _shape(types: list[BtfType | None], tid: int, bits: int, indexed: int) -> Shape | None:
    """What a read of a member of type TID (a bitfield of BITS bits when not 0) gets, after
    INDEXED array steps into it; None where the access indexes something not an array."""
    for _ in range(indexed):
        t = types[_through(types, tid)]
        if t is None or t.kind != _ARRAY:
            return None
        tid = t.elem
    spelled = _spelling(types, tid)
    t = types[_through(types, tid)]
    if t is not None and t.kind == _INT and not bits and 0 < (t.extra & 0xFF) < 8 * t.size_or_type:
        bits = t.extra & 0xFF  # an old-style bitfield: an int type of fewer bits than bytes
    signed: bool | None = None
    integer = t is not None and t.kind in (_INT, _ENUM, _ENUM64)
    if t is not None and t.kind == _INT:
        signed = bool((t.extra >> 24) & 1)  # BTF_INT_SIGNED in the encoding bits 24-27
    elif t is not None and t.kind in (_ENUM, _ENUM64):
        signed = t.kflag
    elif t is not None and t.kind == _PTR:
        signed = False  # as libbpf's field-signed relocation has it
    if bits:
        return Shape(spelled, None, signed, True, bits, indexed)
    return Shape(spelled, _size(types, tid), signed, integer, None, indexed)


def _size(types: list[BtfType | None], tid: int) -> int | None:
    """The byte size of type TID (arrays: element size times count); None for void, a
    forward declaration, a function, and an array of no elements (a flexible one: what is
    read of it is an element at an index the relocation does not give)."""
    count = 1
    for _ in range(MAX_DEPTH):
        t = types[_through(types, tid)]
        if t is None or (t.kind == _ARRAY and t.extra == 0):
            return None
        if t.kind == _ARRAY:
            count *= t.extra
            tid = t.elem
            continue
        if t.kind == _PTR:
            return 8 * count
        if t.kind in (_INT, _ENUM, _ENUM64, _STRUCT, _UNION, _FLOAT):
            return t.size_or_type * count
        return None
    raise ValueError(f"type {tid}: array of arrays too deep")


def _spelling(types: list[BtfType | None], tid: int) -> str:
    """Type TID as C spells it, roughly: ``__u64``, ``struct list_head *``, ``char[16]``."""
    stars, dims = "", ""
    for _ in range(MAX_DEPTH):
        t = types[tid] if tid < len(types) else None
        if t is None:
            base = "void"
        elif t.kind in (_CONST, _VOLATILE, _RESTRICT, _TYPE_TAG):
            tid = t.size_or_type
            continue
        elif t.kind == _PTR:
            stars += "*"
            tid = t.size_or_type
            continue
        elif t.kind == _ARRAY and not stars:
            dims += f"[{t.extra}]"
            tid = t.elem
            continue
        elif t.kind in (_STRUCT, _UNION, _ENUM, _ENUM64, _FWD):
            word = {_STRUCT: "struct", _UNION: "union", _FWD: "struct"}.get(t.kind, "enum")
            base = f"{word} {t.name}" if t.name else word
        elif t.kind in (_FUNC_PROTO, _ARRAY):
            base = "function" if t.kind == _FUNC_PROTO else "array"
        else:
            base = t.name or "?"
        return base + (f" {stars}" if stars else "") + dims
    raise ValueError(f"type {tid}: chain too deep")
