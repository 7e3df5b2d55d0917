"""kernel_macros: the small built-in table of member-producing kernel macros.

Used only when no #define is reachable from the header in the tree (generated headers, a file
read without an include_reader). Written as #define lines, expanded like the tree's own.
"""

from __future__ import annotations

from srcdiff.preprocess import Config, Macro, parse_define

# Each line mirrors what the kernel's own definition makes the compiler see.
_DEFINES = r"""
define BITS_PER_BYTE 8
define BITS_PER_LONG 64
define BITS_PER_TYPE(type) (sizeof(type) * BITS_PER_BYTE)
define __KERNEL_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
define DIV_ROUND_UP(n, d) __KERNEL_DIV_ROUND_UP(n, d)
define BITS_TO_LONGS(nr) __KERNEL_DIV_ROUND_UP(nr, BITS_PER_TYPE(long))
define BITS_TO_U64(nr) __KERNEL_DIV_ROUND_UP(nr, BITS_PER_TYPE(u64))
define BITS_TO_U32(nr) __KERNEL_DIV_ROUND_UP(nr, BITS_PER_TYPE(u32))
define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
define __DECLARE_FLEX_ARRAY(TYPE, NAME) struct { struct { } __empty_ ## NAME; TYPE NAME[]; }
define DECLARE_FLEX_ARRAY(TYPE, NAME) __DECLARE_FLEX_ARRAY(TYPE, NAME)
define __struct_group(TAG, NAME, ATTRS, MEMBERS...) union { struct { MEMBERS } ATTRS; struct TAG { MEMBERS } ATTRS NAME; } ATTRS
define struct_group(NAME, MEMBERS...) __struct_group(, NAME, , MEMBERS)
define struct_group_attr(NAME, ATTRS, MEMBERS...) __struct_group(, NAME, ATTRS, MEMBERS)
define struct_group_tagged(TAG, NAME, MEMBERS...) __struct_group(TAG, NAME, , MEMBERS)
define DECLARE_HASHTABLE(name, bits) struct hlist_head name[1 << (bits)]
define DECLARE_KFIFO_PTR(fifo, type) struct { union { struct __kfifo kfifo; type *type; const type *const_type; char (*rectype)[0]; type *ptr; type const *ptr_const; }; type buf[0]; } fifo
define __bpf_md_ptr(type, name) union { type name; __u64 :64; } __attribute__((aligned(8)))
"""

BUILTIN_MACROS: dict[str, Macro] = {}
for _line in _DEFINES.strip().splitlines():
    _m = parse_define(_line[len("define ") :])
    if _m is not None:
        BUILTIN_MACROS[_m.name] = _m

# for a 32-bit machine (a .config naming the machine, without CONFIG_64BIT), as
# asm-generic/bitsperlong.h has it; sizeof(long) follows the config's __SIZEOF_LONG__
BUILTIN_MACROS_32: dict[str, Macro] = dict(BUILTIN_MACROS)
BUILTIN_MACROS_32["BITS_PER_LONG"] = Macro("BITS_PER_LONG", None, ("32",))


def builtin_macros(config: Config | None) -> dict[str, Macro]:
    """The built-in table for the machine CONFIG builds for: 64-bit unless the config names a
    32-bit one. The same dict on every call: callers must not change it."""
    if config is not None:
        m = config.macros().get("__SIZEOF_LONG__")
        if m is not None and m.body == ("4",):
            return BUILTIN_MACROS_32
    return BUILTIN_MACROS
