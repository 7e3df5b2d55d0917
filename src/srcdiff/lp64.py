"""lp64: the byte size and signedness of a member's type as srcdiff spells it, on x86-64.

``check`` compares what a compiled program reads at a member (bpfobj.Shape, from its BTF)
with the member's type in a release's source. This resolves that source spelling —
``unsigned long``, ``__u8``, ``pid_t``, ``struct list_head *``, ``char[16]``, ``atomic_t`` —
to (size, signed) under x86-64's LP64 model (what distributions build and CO-RE programs meet):
C's basic types, the kernel's fixed-width and byte-order integers, the typedefs whose
definition is the same in every release on x86-64, a few small structs of fixed layout,
pointers, and arrays of a known element with numeric bounds. Anything else — an enum (its size
is its values'), a struct whose size a configuration changes (``spinlock_t``), an array bound
given by a macro, plain ``char`` (signed on x86 before 6.2, unsigned since the kernel builds
with -funsigned-char) — is unknown: no judgement, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CType:
    """A type's size in bytes (None: a bitfield's) and signedness (None: not an integer, or
    not known); an integer is one whose value a read interprets (an int, a bool, a typedef of
    one; pointers are unsigned, as libbpf has them, but no integers)."""

    size: int | None
    signed: bool | None
    integer: bool


# the kernel's typedefs of integers, as defined for x86-64 in every release read: name -> the
# basic type (include/uapi/asm-generic/int-ll64.h, posix_types.h, linux/types.h)
_TYPEDEFS = {
    **{f"{p}{n}": f"{'unsigned' if s == 'u' else 'signed'} {b}"
       for n, b in (("8", "char"), ("16", "short"), ("32", "int"), ("64", "long long"))
       for s in "us" for p in (s, f"__{s}")},
    **{f"{'u' if s == 'unsigned' else ''}int{n}_t": f"{s} {b}"
       for n, b in (("8", "char"), ("16", "short"), ("32", "int"), ("64", "long long"))
       for s in ("unsigned", "signed")},
    **{f"u_int{n}_t": f"unsigned {b}"
       for n, b in (("8", "char"), ("16", "short"), ("32", "int"), ("64", "long long"))},
    "__be16": "unsigned short", "__le16": "unsigned short", "__sum16": "unsigned short",
    "__be32": "unsigned int", "__le32": "unsigned int", "__wsum": "unsigned int",
    "__be64": "unsigned long long", "__le64": "unsigned long long",
    "bool": "_Bool",
    "size_t": "unsigned long", "__kernel_size_t": "unsigned long",
    "ssize_t": "long", "__kernel_ssize_t": "long", "ptrdiff_t": "long",
    "__kernel_ptrdiff_t": "long", "uintptr_t": "unsigned long", "__kernel_ulong_t": "unsigned long",
    "__kernel_long_t": "long", "loff_t": "long long", "__kernel_loff_t": "long long",
    "off_t": "long", "__kernel_off_t": "long", "pid_t": "int", "__kernel_pid_t": "int",
    "uid_t": "unsigned int", "gid_t": "unsigned int", "__kernel_uid32_t": "unsigned int",
    "__kernel_gid32_t": "unsigned int", "projid_t": "unsigned int", "umode_t": "unsigned short",
    "dev_t": "unsigned int", "__kernel_dev_t": "unsigned int", "ino_t": "unsigned long",
    "__kernel_ino_t": "unsigned long", "time64_t": "long long", "ktime_t": "long long",
    "__kernel_time64_t": "long long", "sector_t": "unsigned long long",
    "blkcnt_t": "unsigned long long", "pgoff_t": "unsigned long", "gfp_t": "unsigned int",
    "fmode_t": "unsigned int", "slab_flags_t": "unsigned int", "clockid_t": "int",
    "__kernel_clockid_t": "int", "key_serial_t": "int",
    # 64-bit on x86-64 whatever the configuration (64BIT selects PHYS_ADDR_T_64BIT and
    # ARCH_DMA_ADDR_T_64BIT)
    "phys_addr_t": "unsigned long long", "resource_size_t": "unsigned long long",
    "dma_addr_t": "unsigned long long", "netdev_features_t": "unsigned long long",
}
# structs of the same layout in every release on x86-64, whatever the configuration: their size
_FIXED = {
    "atomic_t": 4, "atomic64_t": 8, "atomic_long_t": 8, "refcount_t": 4, "kuid_t": 4,
    "kgid_t": 4, "kprojid_t": 4, "struct kref": 4, "struct list_head": 16,
    "struct hlist_head": 8, "struct hlist_node": 16, "struct llist_node": 8,
    "struct callback_head": 16, "struct rcu_head": 16, "struct rb_node": 24,
    "struct rb_root": 8, "struct rb_root_cached": 16, "struct timespec64": 16,
}
_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "__volatile__"}
_DIMS_RE = re.compile(r"^(.*?)((?:\[[^\[\]]*\])+)$")
_NUMBER_RE = re.compile(r"^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$")


def resolve(spelling: str, bits: int | str | None = None) -> CType | None:
    """SPELLING (a member's type as srcdiff prints it; BITS its bitfield width, if any) as
    (size, signed) on x86-64; None when it is not known for certain. A bitfield has no byte
    size of its own (CType.size None): only its signedness is known."""
    c = _resolve(" ".join(spelling.split()))
    if c is None or bits is None:
        return c
    return CType(None, c.signed, True) if c.integer else None


def element(spelling: str, n: int) -> str | None:
    """SPELLING with N array dimensions taken off (``long[6]``, 1: ``long``); None when it
    has fewer."""
    for _ in range(n):
        m = _DIMS_RE.match(spelling.strip())
        if m is None or "(" in spelling:
            return None
        first = m.group(2).index("]") + 1
        spelling = m.group(1).strip() + m.group(2)[first:]
    return spelling


def _resolve(t: str) -> CType | None:
    if "(" in t:  # a pointer to a function or to an array is a pointer; nothing else is known
        return CType(8, False, False) if re.search(r"\(\s*\*[\w\s]*\)\s*[(\[]", t) else None
    m = _DIMS_RE.match(t)
    if m is not None:
        elem = _resolve(m.group(1).strip())
        count = 1
        for dim in re.findall(r"\[([^\[\]]*)\]", m.group(2)):
            n = _NUMBER_RE.match(dim.strip())
            if n is None or elem is None:
                return None  # a macro bound, an expression, a flexible array: not known
            count *= int(n.group(1), 0)
        return CType(elem.size * count, None, False)
    words = [w for w in t.replace("*", " * ").split() if w not in _QUALIFIERS]
    if "*" in words:
        return CType(8, False, False)
    name = " ".join(words)
    if name in _FIXED:
        return CType(_FIXED[name], None, False)
    name = _TYPEDEFS.get(name, name)
    return _basic(name.split())


def _basic(words: list[str]) -> CType | None:
    """C's integer types in any word order (``long unsigned int``), on LP64."""
    if words in (["_Bool"], ["__bool"]):
        return CType(1, False, True)
    if words == ["float"]:
        return CType(4, None, False)
    if words == ["double"]:
        return CType(8, None, False)
    allowed = {"signed", "unsigned", "char", "short", "int", "long", "__int128", "__signed__"}
    if not words or any(w not in allowed for w in words):
        return None
    unsigned = "unsigned" in words
    explicit = unsigned or "signed" in words or "__signed__" in words
    longs = words.count("long")
    if "__int128" in words:
        size = 16
    elif "char" in words:
        if not explicit:
            return CType(1, None, True)  # plain char: its signedness changed with 6.2
        size = 1
    elif "short" in words:
        size = 2
    elif longs:
        size = 8 if longs <= 2 else 0
    else:
        size = 4
    if not size:
        return None
    return CType(size, not unsigned, True)
