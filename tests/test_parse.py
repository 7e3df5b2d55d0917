"""Tests for the parse stage: kernel-style headers to the members the compiler lays out."""

import pytest

from srcdiff.parse import PARSER_VERSION, read_struct
from srcdiff.preprocess import Config


def fields(src, name="s", **kw):
    sd = read_struct(src.encode() if isinstance(src, str) else src, name, **kw)
    assert sd is not None
    return sd


def named(sd):
    return [(f.name, f.type) for f in sd.flat_fields()]


def test_parser_version_is_a_string():
    assert isinstance(PARSER_VERSION, str) and PARSER_VERSION


def test_absent_forward_declaration_and_use():
    assert read_struct(b"struct s; struct s *p; void f(struct s x);", "s") is None
    assert read_struct(b"struct s { int a; };", "s", kind="union") is None


def test_vfio_pci_device_bar_array_from_included_header():
    header = b"""\
#ifndef VFIO_PCI_PRIVATE_H
#define VFIO_PCI_PRIVATE_H
#include <linux/mutex.h>
#include <linux/pci.h>

struct vfio_pci_device {
	struct pci_dev		*pdev;
	void __iomem		*barmap[PCI_STD_NUM_BARS];
	bool			bar_mmap_supported[PCI_STD_NUM_BARS];
	u8			*pci_config_map;
	u32			rbar[7];
	struct mutex		igate;
};
#endif
"""
    tree = {
        "include/linux/pci.h": b"#include <uapi/linux/pci.h>\n",
        "include/uapi/linux/pci.h": b'#include <linux/pci_regs.h>\n',
        "include/uapi/linux/pci_regs.h": b"#define PCI_STD_NUM_BARS\t6\t/* Number of standard BARs */\n",
    }
    sd = fields(header, "vfio_pci_device", path="drivers/vfio/pci/vfio_pci_private.h",
                include_reader=tree.get)
    assert named(sd) == [
        ("pdev", "struct pci_dev *"), ("barmap", "void *[6]"), ("bar_mmap_supported", "bool[6]"),
        ("pci_config_map", "u8 *"), ("rbar", "u32[7]"), ("igate", "struct mutex"),
    ]
    assert sd.line == 6 and sd.warnings == ()
    assert [f.decl for f in sd.fields[1:3]] == ["void *barmap[6]", "bool bar_mmap_supported[6]"]
    # without the tree the size stays as written
    sd = fields(header, "vfio_pci_device")
    assert sd.fields[1].type == "void *[PCI_STD_NUM_BARS]"


def test_comments_continuations_crlf_and_latin1():
    src = (b"struct s {\r\n\tunsigned /* in */ long /* the */ flags; // x\r\n"
           b"\tint \\\r\n   cont;\r\n\t/* M\xfcller */ char c;\r\n};\r\n")
    sd = fields(src)
    assert named(sd) == [("flags", "unsigned long"), ("cont", "int"), ("c", "char")]
    assert [f.line for f in sd.fields] == [2, 3, 5]


def test_type_spelling_is_canonical():
    sd = fields("""struct s {
	unsigned a; unsigned int b; long int c; signed long d; long unsigned int e;
	signed char f; char g; short int h; long long int i; const char * const *j;
	struct file*k; volatile u32 l; unsigned short m;
};""")
    assert [f.type for f in sd.fields] == [
        "unsigned int", "unsigned int", "long", "long", "unsigned long", "signed char", "char",
        "short", "long long", "const char *const *", "struct file *", "volatile u32",
        "unsigned short",
    ]


def test_annotations_do_not_change_types():
    plain = fields("struct s { struct page *p; u64 q; int r[4]; void *ptr; struct x s; };")
    noisy = fields("""struct s {
	struct page __rcu * __percpu p __data_racy;
	u64 __aligned(8) q;
	int r[4] __counted_by(q);
	void __user __force *ptr ____cacheline_aligned_in_smp;
	struct x s __attribute__((aligned(16))) ____cacheline_aligned;
} __packed __randomize_layout;""")
    assert named(plain) == named(noisy)
    assert noisy.warnings == ()


def test_function_pointers_and_pointer_to_array():
    sd = fields("""struct s {
	int (*open)(struct inode *inode, struct file *);
	char *(*name)(void);
	void (*noargs)();
	int (*pa)[4];
	int (*va)(const char *fmt, ...);
	struct page *(*alloc)(gfp_t gfp, unsigned int order);
};""")
    assert named(sd) == [
        ("open", "int (*)(struct inode *, struct file *)"),
        ("name", "char *(*)(void)"),
        ("noargs", "void (*)()"),
        ("pa", "int (*)[4]"),
        ("va", "int (*)(const char *, ...)"),
        ("alloc", "struct page *(*)(gfp_t, unsigned int)"),
    ]
    assert [f.decl for f in sd.fields] == [
        "int (*open)(struct inode *, struct file *)", "char *(*name)(void)",
        "void (*noargs)()", "int (*pa)[4]", "int (*va)(const char *, ...)",
        "struct page *(*alloc)(gfp_t, unsigned int)",
    ]


def test_several_declarators_bitfields_and_padding():
    sd = fields("struct s { int a, b:3, *c; unsigned int :4; u8 d : WIDTH; u32 :0; };")
    got = [(f.name, f.type, f.bits) for f in sd.fields]
    assert got == [("a", "int", None), ("b", "int", 3), ("c", "int *", None),
                   (None, "unsigned int", 4), ("d", "u8", "WIDTH"), (None, "u32", 0)]
    sd = fields("#define WIDTH 2\nstruct s { u8 d : WIDTH; };")
    assert sd.fields[0].bits == 2


def test_arrays_multi_dim_flexible_and_expressions():
    sd = fields("""#define N 4
#define M (N * 2 + 1)
struct s {
	int grid[N][M];
	char name[TASK_COMM_LEN];
	u8 buf[N<<1];
	struct x *ptrs[2];
	int flex[];
	int zero[0];
};""")
    assert named(sd) == [("grid", "int[4][9]"), ("name", "char[TASK_COMM_LEN]"), ("buf", "u8[8]"),
                         ("ptrs", "struct x *[2]"), ("flex", "int[]"), ("zero", "int[0]")]


def test_typeof_atomic_and_enum_inside():
    sd = fields("""struct s {
	typeof(struct foo *) a;
	__typeof__( x ) b;
	_Atomic int c;
	_Atomic(long) d;
	enum { S_A, S_B } state;
	enum mode { M_A } mode;
	enum { ONLY_CONSTANTS = 3 };
};""")
    assert named(sd) == [("a", "typeof(struct foo *)"), ("b", "typeof(x)"), ("c", "_Atomic int"),
                         ("d", "_Atomic long"), ("state", "enum"), ("mode", "enum mode")]


def test_anonymous_and_named_nested_aggregates():
    sd = fields("""struct s {
	union {
		int a;
		struct { u16 lo, hi; };
	};
	struct { int x; } named;
	struct bar { int y; } b;
	struct { int z; } arr[2];
};""")
    anon = sd.fields[0]
    assert (anon.name, anon.type) == (None, "union")
    assert [f.name for f in anon.fields[1].fields] == ["lo", "hi"]
    assert [(f.name, f.type) for f in sd.fields[1:]] == [
        ("named", "struct"), ("b", "struct bar"), ("arr", "struct[2]")]
    assert [f.name for f in sd.fields[2].fields] == ["y"]
    assert [f.name for f in sd.flat_fields()] == ["a", "lo", "hi", "named", "b", "arr"]


def test_guards_without_config():
    sd = fields("""struct s {
	int always;
#ifdef CONFIG_NUMA
	int node;
#if !defined(CONFIG_PREEMPT_RT)
	int rt_off;
#else
	int rt_on;
#endif
#endif
#ifndef CONFIG_SMP
	int up;
#elif IS_ENABLED(CONFIG_X) || CONFIG_NR > 4
	int smp_x;
#else
	int smp;
#endif
#if 0
	int dead;
#endif
#if 1
	int live;
#else
	int also_dead;
#endif
};""")
    got = [(f.name, f.guard) for f in sd.fields]
    assert got == [
        ("always", None),
        ("node", "CONFIG_NUMA"),
        ("rt_off", "CONFIG_NUMA && !CONFIG_PREEMPT_RT"),
        ("rt_on", "CONFIG_NUMA && CONFIG_PREEMPT_RT"),
        ("up", "!CONFIG_SMP"),
        ("smp_x", "CONFIG_SMP && (IS_ENABLED(CONFIG_X) || CONFIG_NR > 4)"),
        ("smp", "CONFIG_SMP && !(IS_ENABLED(CONFIG_X) || CONFIG_NR > 4)"),
        ("live", None),
    ]


NESTED = """#define LOCAL_FEATURE 1
struct s {
#ifdef CONFIG_NUMA
	int node;
#if IS_ENABLED(CONFIG_PREEMPT_RT)
	int rt;
#elif IS_MODULE(CONFIG_DRV)
	int drv_mod;
#else
	int other;
#endif
#endif
#if IS_BUILTIN(CONFIG_DRV)
	int drv_builtin;
#endif
#if CONFIG_NR_CPUS > 64 && defined(LOCAL_FEATURE)
	int many;
#endif
	long cpus[CONFIG_NR_CPUS];
	union {
		int a;
#ifdef CONFIG_B
		int b;
#endif
	};
};"""


def test_guards_with_config():
    cfg = Config.from_defines(["CONFIG_NUMA=y", "CONFIG_DRV=m", "CONFIG_NR_CPUS=128"])
    sd = fields(NESTED, config=cfg)
    assert [(f.name, f.guard) for f in sd.flat_fields()] == [
        ("node", "CONFIG_NUMA"),
        ("drv_mod", "CONFIG_NUMA && !IS_ENABLED(CONFIG_PREEMPT_RT) && IS_MODULE(CONFIG_DRV)"),
        ("many", "CONFIG_NR_CPUS > 64 && LOCAL_FEATURE"),
        ("cpus", None),
        ("a", None),
    ]
    assert sd.fields[3].type == "long[128]"
    cfg2 = Config.from_defines(["CONFIG_DRV=y", "CONFIG_B=y"])
    sd = fields(NESTED, config=cfg2)
    assert [f.name for f in sd.flat_fields()] == ["drv_builtin", "cpus", "a", "b"]
    assert sd.fields[1].type == "long[CONFIG_NR_CPUS]"
    # a nested member's guard is relative to the aggregate holding it
    assert sd.fields[2].fields[1].guard == "CONFIG_B"


def test_config_selects_between_alternative_definitions():
    src = """#ifdef CONFIG_64BIT
struct s { u64 v; };
#else
struct s { u32 v; };
#endif"""
    assert fields(src, config=Config.from_defines(["CONFIG_64BIT=y"])).fields[0].type == "u64"
    assert fields(src, config=Config.from_defines([])).fields[0].type == "u32"


def test_declare_bitmap_and_hashtable_builtin():
    sd = fields("""struct s {
	DECLARE_BITMAP(flags, 130);
	DECLARE_BITMAP(big, NR_THINGS);
	DECLARE_HASHTABLE(table, 4);
};""")
    assert named(sd) == [("flags", "unsigned long[3]"),
                         ("big", "unsigned long[BITS_TO_LONGS(NR_THINGS)]"),
                         ("table", "struct hlist_head[16]")]


def test_declare_flex_array_as_the_compiler_sees_it():
    sd = fields("struct s { int n; union { DECLARE_FLEX_ARRAY(u8, bytes); DECLARE_FLEX_ARRAY(u32, words); }; };")
    # kernel_macros: DECLARE_FLEX_ARRAY(TYPE, NAME) is
    # struct { struct { } __empty_ ## NAME; TYPE NAME[]; }, an anonymous struct each
    assert named(sd) == [("n", "int"),
                         ("__empty_bytes", "struct"), ("bytes", "u8[]"),
                         ("__empty_words", "struct"), ("words", "u32[]")]
    union = sd.fields[1]
    assert (union.name, union.type) == (None, "union") and len(sd.fields) == 2
    assert [(f.name, f.type) for f in union.fields] == [(None, "struct"), (None, "struct")]
    assert [[(g.name, g.type, g.fields) for g in f.fields] for f in union.fields] == [
        [("__empty_bytes", "struct", ()), ("bytes", "u8[]", ())],
        [("__empty_words", "struct", ()), ("words", "u32[]", ())]]


def test_struct_group_variants():
    sd = fields("""struct s {
	int before;
	struct_group(hdr,
		u32 a;
		DECLARE_BITMAP(m, 64);
	);
	struct_group_tagged(tg, body, u16 c; u16 d;);
	struct_group_attr(attr, __packed, u8 e;);
	__struct_group(tag2, raw, , u8 f;);
};""")
    assert [f.name for f in sd.flat_fields()] == [
        "before", "a", "m", "hdr", "c", "d", "body", "e", "attr", "f", "raw"]
    grp = sd.fields[1]
    assert grp.type == "union" and grp.name is None
    assert [(f.name, f.type) for f in grp.fields] == [(None, "struct"), ("hdr", "struct")]
    assert sd.fields[2].fields[1].type == "struct tg"


def test_tree_definition_wins_over_builtin():
    tree = {"include/linux/types.h": b"#define DECLARE_BITMAP(name,bits) \\\n\tunsigned long name[BITS_TO_LONGS(bits)]\n"
            b"#define BITS_TO_LONGS(nr) (((nr) + 31) / 32)\n"}
    sd = fields("#include <linux/types.h>\nstruct s { DECLARE_BITMAP(m, 64); };", include_reader=tree.get)
    assert sd.fields[0].type == "unsigned long[2]"


def test_kabi_reserve_from_included_header_and_undefined():
    src = '#include "kabi.h"\nstruct s {\n\tint a;\n\tKABI_RESERVE(1);\n\tKABI_RESERVE(2);\n\tANDROID_KABI_RESERVE(3);\n};'
    tree = {"drivers/foo/kabi.h": b"#define KABI_RESERVE(n) u64 kabi_reserved##n\n"
            b"#define ANDROID_KABI_RESERVE(n) _ANDROID_KABI_RESERVE(n)\n"
            b"#define _ANDROID_KABI_RESERVE(n) u64 android_kabi_reserved##n\n"}
    sd = fields(src, path="drivers/foo/x.h", include_reader=tree.get)
    assert named(sd) == [("a", "int"), ("kabi_reserved1", "u64"), ("kabi_reserved2", "u64"),
                         ("android_kabi_reserved3", "u64")]
    sd = fields(src, path="drivers/foo/x.h")
    assert [f.unparsed for f in sd.fields] == [None, "KABI_RESERVE(1)", "KABI_RESERVE(2)",
                                               "ANDROID_KABI_RESERVE(3)"]
    assert sd.fields[1].type == "?"
    assert sd.warnings[0].startswith("drivers/foo/x.h:4: unknown macro KABI_RESERVE")


def test_bpf_md_ptr_and_union_bpf_attr():
    src = """#define __bpf_md_ptr(type, name)	\\
union {					\\
	type name;			\\
	__u64 :64;			\\
} __attribute__((aligned(8)))
union bpf_attr {
	struct {
		__u32	map_type;
		__u32	key_size;
	};
	struct {
		__aligned_u64	key;
		__bpf_md_ptr(struct bpf_sock *, sk);
	} elem;
};"""
    sd = fields(src, "bpf_attr")
    assert sd.kind == "union"
    elem = sd.fields[1]
    assert elem.name == "elem" and elem.fields[0].type == "__aligned_u64"
    md = elem.fields[1]
    assert md.type == "union" and [(f.name, f.type, f.bits) for f in md.fields] == [
        ("sk", "struct bpf_sock *", None), (None, "__u64", 64)]
    assert read_struct(src.encode(), "bpf_attr", kind="struct") is None


def test_typedef_of_anonymous_struct():
    sd = fields("typedef struct {\n\tint counter;\n} atomic_t;\ntypedef struct x { int y; } x_t;", "atomic_t")
    assert sd.kind == "struct" and named(sd) == [("counter", "int")]
    assert read_struct(b"typedef struct x { int y; } x_t;", "x") is not None


def test_unknown_member_macro_and_bad_member_do_not_hide_others():
    sd = fields("""struct s {
	int a;
	int b c d;
	SOME_MACRO;
	long e;
};""", path="h.h")
    assert [f.name for f in sd.fields] == ["a", None, None, "e"]
    assert sd.fields[1].unparsed == "int b c d" and sd.fields[2].unparsed == "SOME_MACRO"
    assert all(w.startswith("h.h:") for w in sd.warnings) and len(sd.warnings) == 2


def test_object_like_member_macro_from_file():
    sd = fields("#define COMMON_FIELDS int x; int y\nstruct s { COMMON_FIELDS; int z; };")
    assert [f.name for f in sd.fields] == ["x", "y", "z"]


def test_define_inside_body_counts():
    sd = fields("struct s {\n#define S_FLAG 4\n\tint a[S_FLAG];\n#undef S_FLAG\n};")
    assert sd.fields[0].type == "int[4]"


# Declarations the fast path is meant to handle itself: it must take them (not fall back to
# pycparser) and give exactly what pycparser gives.
FAST_CASES = [
    "int a", "unsigned long flags", "long unsigned int x", "const char *const *names",
    "struct page *p, **pp", "u32 a, b : __sd_d0, *c", "foo_t *x[__sd_d0][__sd_d1]",
    "volatile unsigned short v", "signed char c", "char *restrict r", "int : __sd_d0",
    "struct x y[]", "enum e f", "long long int ll", "unsigned u", "int a[3]", "u32 a : 3",
    "int const x", "struct page const *p", "const foo_t *p", "foo_t x",
    "int (*__sd_n)(struct file *, int)", "char *(*__sd_n)(void)",
    "void (*__sd_n)(const char *, ...)",
]
# Declarations the fast path must leave to pycparser: shapes outside its grammar (a qualifier
# after a typedef name, pointers to arrays, arrays of or pointers to function pointers, function
# pointers taking function pointers), and text pycparser rejects (the fast path cannot give an
# error message, so taking them would answer where pycparser refuses).
FAST_DECLINED = [
    "foo_t const *c", "int (*pa)[4]", "int (*ops[4])(int)", "void (**pp)(void)",
    "int (*__sd_n)(int (*)(void))",
]
REJECTED = ["unsigned foo_t x", "foo_t"]


@pytest.mark.parametrize("decl", FAST_CASES)
def test_fast_path_agrees_with_pycparser(decl):
    from srcdiff.parse import _fast_decl, _parse_decl
    from srcdiff.preprocess import tokenize

    toks = tokenize(decl)
    fast = _fast_decl(toks)
    assert fast is not None, f"fast path declined {decl!r}"
    assert fast == _parse_decl(toks)


@pytest.mark.parametrize("decl", FAST_DECLINED + REJECTED)
def test_fast_path_declines_what_it_does_not_handle(decl):
    from srcdiff.parse import _fast_decl, _parse_decl
    from srcdiff.preprocess import tokenize

    toks = tokenize(decl)
    assert _fast_decl(toks) is None
    # pycparser answers the shapes left to it and refuses the rejected text
    assert isinstance(_parse_decl(toks), str) == (decl in REJECTED)


def test_array_of_function_pointers_type():
    sd = fields("struct s { int (*ops[4])(int); };")
    assert sd.fields[0].type == "int (*[4])(int)"


def test_unknown_word_before_a_type_is_not_taken_for_a_typedef():
    sd = fields("struct s { MYSTERY void *stack; randomized_struct_fields_start int a; };")
    # the unknown word is an unparsed entry of its own; the declaration after it is kept
    assert sd.fields[0].unparsed == "MYSTERY" and sd.fields[0].type == "?"
    assert [(f.name, f.type) for f in sd.fields[1:]] == [("stack", "void *"), ("a", "int")]
    assert any("unknown macro MYSTERY" in w for w in sd.warnings)
    sd = fields("#define MYSTERY\nstruct s { MYSTERY void *stack; };")
    assert (sd.fields[0].name, sd.fields[0].type) == ("stack", "void *")


def test_scan_gives_stripped_text_and_definitions_memoized():
    from srcdiff.parse import scan

    data = b"/* hdr */\nstruct a { int x; };\nunion b { int y; };\n"
    clean, defs = scan(data)
    assert "hdr" not in clean and [(d.kind, d.name, d.line) for d in defs] == [
        ("struct", "a", 2), ("union", "b", 3)]
    assert scan(bytes(data))[1] is scan(data)[1]  # scanned once, not per call


def test_scan_named_lists_what_scan_lists_under_one_name():
    from srcdiff.parse import scan, scan_named

    data = (b"typedef struct tag { int x; } name_t;\nstruct __attribute__((packed)) p { int y; };\n"
            b"typedef struct { struct inner { int z; } i; } __packed anon_t;\n"
            b"struct p; /* struct p { fake } */ union p *q;\n#define S struct p {\n")
    names = ["tag", "name_t", "p", "inner", "anon_t", "q", "fake", "absent"]
    fresh = {n: scan_named(data, n)[1] for n in names}
    assert [(d.name, d.line) for d in fresh["name_t"]] == [("name_t", 1)]
    assert fresh["anon_t"] and fresh["inner"] and fresh["p"] and not fresh["fake"]
    full = scan(data)[1]
    for n in names:
        assert fresh[n] == [d for d in full if d.name == n], n


def test_typedef_name_of_a_tagged_struct():
    src = b"struct y { int a; };\ntypedef struct x {\n\tint y;\n\tlong z;\n} x_t;\n"
    sd = fields(src, "x_t")
    assert (sd.name, sd.kind, sd.line) == ("x_t", "struct", 2)
    assert named(sd) == [("y", "int"), ("z", "long")]
    assert fields(src, "x").name == "x"
    assert read_struct(src, "x_t", kind="union") is None
    assert read_struct(b"struct x { int y; };\nx_t v;", "x_t") is None


def test_annotations_the_compiler_ignores_in_declarators():
    sd = fields("""#define ALIGN8 __attribute__((aligned(8)))
struct s {
	efi_status_t (__efiapi *get_time)(int *tm);
	void (*dbg)(const char *fmt, ...) __printf(1, 2);
	struct { short itf; int vci; } sap_addr ALIGN8;
	int z;
};""")
    assert named(sd)[:3] == [("get_time", "efi_status_t (*)(int *)"),
                             ("dbg", "void (*)(const char *, ...)"), ("sap_addr", "struct")]
    assert named(sd)[-1] == ("z", "int") and sd.warnings == ()
    # a call-shaped unknown macro is still one unparsed entry, not a made-up member
    sd = fields("struct s { FOO(bar *baz); UNKNOWN_LIST uint32_t C; int d; };")
    assert [f.unparsed for f in sd.fields[:2]] == ["FOO(bar * baz)", "UNKNOWN_LIST"]
    assert [(f.name, f.type) for f in sd.fields[2:]] == [("C", "uint32_t"), ("d", "int")]


def test_member_macro_with_undecidable_alternatives_is_not_silent():
    src = b"""#include <asm/byteorder.h>
#ifndef PAIR
#if defined(__BIG_ENDIAN)
#define PAIR(a, b) u16 b; u16 a;
#elif defined(__LITTLE_ENDIAN)
#define PAIR(a, b) u16 a; u16 b;
#endif
#endif
struct s { PAIR(x, y) PAIR(z, w) };
"""
    sd = fields(src, path="t.h")
    assert len(sd.fields) == 4
    assert len(sd.warnings) == 1 and "PAIR" in sd.warnings[0] and "t.h:9" in sd.warnings[0]
    # the warning says which definition it used: the first, PAIR(a, b) u16 b; u16 a;
    assert "using the first definition" in sd.warnings[0]
    assert named(sd) == [("y", "u16"), ("x", "u16"), ("w", "u16"), ("z", "u16")]
    # one definition, or alternatives decided by the file itself: no warning
    sd = fields(b"#if 1\n#define PAIR(a, b) int a, b;\n#else\n#define PAIR(a, b) int b, a;\n"
                b"#endif\nstruct s { PAIR(x, y) };")
    assert [f.name for f in sd.fields] == ["x", "y"] and sd.warnings == ()


def test_undef_and_redefine_inside_a_body_count_from_their_line():
    sd = fields(b"""struct s {
#define F(n) int n;
	F(a)
#undef F
#define F(n) long n;
	F(b) F(c)
#undef F
#define N 2
	char d[N];
#undef N
	char e[N];
};""")
    assert named(sd) == [("a", "int"), ("b", "long"), ("c", "long"), ("d", "char[2]"),
                         ("e", "char[N]")]


def test_overlong_body_is_one_unparsed_entry(monkeypatch):
    from srcdiff import limits

    monkeypatch.setattr(limits, "MAX_STRUCT_LINES", 3)
    sd = fields(b"struct s {\n int a;\n int b;\n int c;\n int d;\n};", path="t.h")
    assert len(sd.fields) == 1 and sd.fields[0].unparsed.startswith("int a;")
    assert "t.h:1:" in sd.warnings[0] and "limit" in sd.warnings[0]


def test_file_level_if_is_decided_by_the_included_headers():
    tree = {"include/asm/byteorder.h": b"#include <linux/le.h>\n",
            "include/linux/le.h": b"#define __LITTLE_ENDIAN 1234\n#define __LITTLE_ENDIAN_BITFIELD\n"}
    src = b"""#include <asm/byteorder.h>
#ifndef PAIR
#if defined(__BIG_ENDIAN)
#define PAIR(a, b) u16 b; u16 a;
#elif defined(__LITTLE_ENDIAN)
#define PAIR(a, b) u16 a; u16 b;
#endif
#endif
#ifdef __BIG_ENDIAN_BITFIELD
#define BITS(a, b) u8 b:4, a:4;
#else
#define BITS(a, b) u8 a:4, b:4;
#endif
struct s { PAIR(x, y) BITS(lo, hi) };
"""
    sd = fields(src, path="sound/t.h", include_reader=tree.get)
    assert [f.name for f in sd.fields] == ["x", "y", "lo", "hi"] and sd.warnings == ()


def test_randomized_struct_fields_markers_open_no_member():
    # without the randstruct plugin (the layout BTF shows) the markers expand to nothing
    sd = fields(b"""struct task_struct {
	unsigned int __state;
	randomized_struct_fields_start
	void *stack;
	refcount_t usage;
	randomized_struct_fields_end
	struct thread_struct thread;
} __randomize_layout;""", "task_struct")
    assert named(sd) == [("__state", "unsigned int"), ("stack", "void *"),
                         ("usage", "refcount_t"), ("thread", "struct thread_struct")]
    assert sd.warnings == ()


# Object-like macros used as names: the compiler (and BTF) sees the expansion.

_TYPES_H = b"""\
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H
struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
} __attribute__((aligned(sizeof(void *))));
#define rcu_head callback_head
#endif
"""


def test_rcu_head_member_is_callback_head_as_the_compiler_sees_it():
    src = """\
#include <linux/types.h>
struct request_queue {
	void			*queuedata;
	struct rcu_head		rcu_head;
	void (*free_fn)(struct rcu_head *);
	struct {
		int depth;
	} rcu_head_stats;
};
"""
    files = {"include/linux/types.h": _TYPES_H}
    sd = fields(src, "request_queue", path="include/linux/blkdev.h", include_reader=files.get)
    assert named(sd)[:3] == [
        ("queuedata", "void *"),
        ("callback_head", "struct callback_head"),
        ("free_fn", "void (*)(struct callback_head *)"),
    ]
    assert sd.fields[3].name == "rcu_head_stats"  # only whole names are macros
    assert sd.warnings == ()


def test_name_macro_under_config_follows_the_config():
    src = """\
#ifdef CONFIG_COMPAT_NAMES
#define legacy_lock new_lock
#define legacy_t unsigned int
#endif
struct s {
	int legacy_lock;
	legacy_t count;
	struct { int a; } legacy_lock_set;
};
"""
    on = fields(src, config=Config.from_defines(["CONFIG_COMPAT_NAMES=y"]))
    assert named(on)[:2] == [("new_lock", "int"), ("count", "unsigned int")]
    off = fields(src, config=Config.from_defines([]))
    assert named(off)[:2] == [("legacy_lock", "int"), ("count", "legacy_t")]
    # without a config both branches of an undecided #if are read: the #define counts
    assert named(fields(src))[0] == ("new_lock", "int")


def test_function_like_macro_used_as_a_plain_name_is_not_expanded():
    src = """\
#define lock(x) spin_lock(x)
#define LEN 4
struct s {
	int lock;
	char buf[LEN];
	unsigned int bits : LEN;
};
"""
    sd = fields(src)
    assert named(sd) == [("lock", "int"), ("buf", "char[4]"), ("bits", "unsigned int")]
    assert sd.fields[2].bits == 4


def test_tag_and_typedef_name_macros_expand_in_nested_aggregates():
    src = """\
#define old_tag new_tag
#define old_name new_name
#define PACKED __attribute__((packed))
struct s {
	struct old_tag { int a; } old_name;
	struct old_tag *p PACKED;
};
"""
    sd = fields(src)
    assert [(f.name, f.type) for f in sd.fields] == [
        ("new_name", "struct new_tag"), ("p", "struct new_tag *")]


def test_member_list_macro_in_front_of_a_declaration():
    src = """\
#define STATE_COMMON \\
	void *next; \\
	u8 descriptor_type;
struct s {
	STATE_COMMON union acpi_operand_object *object;
};
"""
    sd = fields(src)
    assert named(sd) == [("next", "void *"), ("descriptor_type", "u8"),
                         ("object", "union acpi_operand_object *")]
    assert sd.warnings == ()


def test_accessor_macro_defined_after_the_struct_leaves_the_name_alone():
    src = """\
struct psc {
	union { u8 buffer_8; u16 buffer_16; } buffer;
	u8 txdata;
};
#define txdata buffer.buffer_8
"""
    sd = fields(src, "psc")
    assert [(f.name, f.type) for f in sd.fields] == [("buffer", "union"), ("txdata", "u8")]
    assert not any(f.unparsed for f in sd.flat_fields())


def test_an_include_condition_on_a_name_no_header_defines_keeps_the_member_with_its_guard():
    # As in the kernel's mm_types_task.h: SPLIT_RSS_COUNTING is defined when
    # USE_SPLIT_PTE_PTLOCKS, itself (NR_CPUS >= CONFIG_SPLIT_PTLOCK_CPUS), holds. When NR_CPUS
    # cannot be seen, cpp's "unknown is 0" would drop rss_stat without a word; it must stay,
    # under its guard.
    tree = {
        "include/linux/mm_types_task.h": (
            b"#define USE_SPLIT_PTE_PTLOCKS (NR_CPUS >= CONFIG_SPLIT_PTLOCK_CPUS)\n"
            b"#if USE_SPLIT_PTE_PTLOCKS && defined(CONFIG_MMU)\n#define SPLIT_RSS_COUNTING\n#endif\n"),
    }
    src = ("#include <linux/mm_types_task.h>\nstruct task {\n\tint pid;\n"
           "#ifdef SPLIT_RSS_COUNTING\n\tint rss_stat;\n#endif\n};\n")
    cfg = Config.from_defines(["CONFIG_SPLIT_PTLOCK_CPUS=4", "CONFIG_MMU=y"])
    for config in (cfg, None):
        sd = fields(src, "task", path="include/linux/sched.h", include_reader=tree.get,
                    config=config)
        assert [f.name for f in sd.fields] == ["pid", "rss_stat"], config
        assert sd.fields[1].guard == "SPLIT_RSS_COUNTING"
    # where the includes do define NR_CPUS, the condition is decided as the compiler would
    tree2 = {"include/linux/mm_types_task.h": b"#define NR_CPUS 1\n" + tree["include/linux/mm_types_task.h"]}
    sd = fields(src, "task", path="include/linux/sched.h", include_reader=tree2.get, config=cfg)
    assert [f.name for f in sd.fields] == ["pid"]


def test_a_kernel_config_brings_the_compilers_predefines_for_its_machine():
    src = ("struct user_desc {\n\tint limit;\n#ifdef __x86_64__\n\tint lm;\n#endif\n"
           "#if defined(__LITTLE_ENDIAN_BITFIELD)\n\tint lo, hi;\n#elif defined(__BIG_ENDIAN_BITFIELD)\n"
           "\tint hi, lo;\n#else\n#error fix asm/byteorder.h\n#endif\n};\n")

    def names(*lines: str) -> list[str]:
        cfg = Config.from_defines(list(lines)) if lines else None
        return [f.name for f in fields(src, "user_desc", config=cfg).fields]

    assert names("CONFIG_X86=y", "CONFIG_X86_64=y", "CONFIG_64BIT=y") == ["limit", "lm", "lo", "hi"]
    assert names("CONFIG_X86=y", "CONFIG_X86_32=y") == ["limit", "lo", "hi"]
    assert names("CONFIG_S390=y", "CONFIG_64BIT=y") == ["limit", "hi", "lo"]
    assert names("CONFIG_ARM64=y", "CONFIG_CPU_BIG_ENDIAN=y") == ["limit", "hi", "lo"]
    # no machine named: those names stay undecided without a config, as cpp's 0 with one
    assert names() == ["limit", "lm", "lo", "hi", "hi", "lo"]
    assert names("CONFIG_NUMA=y") == ["limit"]


def test_arm64s_byteorder_header_follows_the_configs_byte_order():
    # arm64's <asm/byteorder.h> picks the kernel's endian header by the compiler's
    # __AARCH64EB__: a little-endian arm64 kernel (Debian's) lays out ipv6_pinfo's bitfields
    # in the little-endian order, a big-endian one in the other
    tree = {
        "arch/arm64/include/uapi/asm/byteorder.h": (
            b"#ifdef __AARCH64EB__\n#include <linux/byteorder/big_endian.h>\n#else\n"
            b"#include <linux/byteorder/little_endian.h>\n#endif\n"),
        "include/uapi/linux/byteorder/big_endian.h": b"#define __BIG_ENDIAN_BITFIELD\n",
        "include/uapi/linux/byteorder/little_endian.h": b"#define __LITTLE_ENDIAN_BITFIELD\n",
    }
    src = ("#include <asm/byteorder.h>\nstruct ipv6_pinfo {\n#if defined(__BIG_ENDIAN_BITFIELD)\n"
           "\tshort hop_limit:9;\n\tunsigned short __unused_1:7;\n#else\n"
           "\tunsigned short __unused_1:7;\n\tshort hop_limit:9;\n#endif\n};\n")

    def names(*lines: str) -> list[str]:
        sd = fields(src, "ipv6_pinfo", path="include/linux/ipv6.h", include_reader=tree.get,
                    arch="arm64", config=Config.from_defines(list(lines)))
        return [f.name for f in sd.fields]

    assert names("CONFIG_ARM64=y", "CONFIG_64BIT=y", "CONFIG_CPU_LITTLE_ENDIAN=y") == [
        "__unused_1", "hop_limit"]
    assert names("CONFIG_ARM64=y", "CONFIG_64BIT=y", "CONFIG_CPU_BIG_ENDIAN=y") == [
        "hop_limit", "__unused_1"]

def test_alternative_definitions_inside_an_include_guard_follow_the_config():
    # as include/linux/percpu_counter.h: the SMP layout and the other, both in the guard
    src = ("#ifndef _LINUX_PC_H\n#define _LINUX_PC_H\n#ifdef CONFIG_SMP\n"
           "struct pc { raw_spinlock_t lock; s64 count; s32 *counters; };\n#else\n"
           "struct pc { s64 count; };\n#endif\n#endif\n")
    smp = fields(src, "pc", config=Config.from_defines(["CONFIG_SMP=y"]))
    up = fields(src, "pc", config=Config.from_defines(["CONFIG_NUMA=y"]))
    assert [f.name for f in smp.fields] == ["lock", "count", "counters"]
    assert [f.name for f in up.fields] == ["count"]
    assert up.line == 6 and "using line 6" in up.warnings[0]


# An operand that cannot be evaluated (a function-like macro no file read defines, a name
# without a config) leaves an #if undecided only when the other operands do not decide it:
# C's 1 || X is 1 and 0 && X is 0 whatever X is, and c ? a : b needs only the chosen arm.

PAGE_FRAG = """\
#define BITS_PER_LONG 64
#define PAGE_SIZE (_AC(1,UL) << PAGE_SHIFT)
struct page_frag {
	struct page *page;
#if (BITS_PER_LONG > 32) || (PAGE_SIZE >= 65536)
	__u32 offset;
	__u32 size;
#else
	__u16 offset;
	__u16 size;
#endif
};
"""


def test_or_decided_by_its_known_operand_keeps_one_branch_as_the_compiler_does():
    # linux's page_frag: _AC comes from a header not read, so PAGE_SIZE cannot be evaluated
    sd = fields(PAGE_FRAG, "page_frag", config=Config.from_defines(["CONFIG_64BIT=y"]))
    assert named(sd) == [("page", "struct page *"), ("offset", "__u32"), ("size", "__u32")]
    assert sd.warnings == ()
    # the other way round the known operand does not decide: both branches, guarded, a warning
    src = PAGE_FRAG.replace("BITS_PER_LONG 64", "BITS_PER_LONG 32")
    sd = fields(src, "page_frag", config=Config.from_defines(["CONFIG_64BIT=y"]))
    cond = "(BITS_PER_LONG > 32) || (PAGE_SIZE >= 65536)"
    assert [(f.name, f.type, f.guard) for f in sd.fields[1:]] == [
        ("offset", "__u32", f"({cond})"), ("size", "__u32", f"({cond})"),
        ("offset", "__u16", f"!({cond})"), ("size", "__u16", f"!({cond})")]
    assert len(sd.warnings) == 1 and "cannot evaluate" in sd.warnings[0]


COMBINED = """\
struct s {
	int always;
#if !defined(CONFIG_ON) && F(1)
	int and_dropped;
#endif
#if defined(CONFIG_ON) && F(2)
	int and_open;
#endif
#if CONFIG_N > 4 ? 1 : G(3)
	int ternary_kept;
#endif
#if CONFIG_N < 4 ? G(4) : 0
	int ternary_dropped;
#endif
#if CONFIG_N > 4 ? G(5) : 1
	int ternary_open;
#endif
#if !(defined(CONFIG_ON) || F(6))
	int not_dropped;
#else
	int not_else;
#endif
#if (F(7) || (CONFIG_N == 8 && !defined(CONFIG_OFF))) && (defined(CONFIG_OFF) || 1)
	int nested_kept;
#endif
#if F(8) || defined(CONFIG_OFF)
	int or_open;
#endif
};"""


def test_and_ternary_not_and_nesting_decide_on_their_known_operands():
    sd = fields(COMBINED, config=Config.from_defines(["CONFIG_ON=y", "CONFIG_N=8"]))
    assert [(f.name, f.guard) for f in sd.fields] == [
        ("always", None),
        ("and_open", "CONFIG_ON && F(2)"),
        ("ternary_kept", "(CONFIG_N > 4 ? 1 : G(3))"),
        ("ternary_open", "(CONFIG_N > 4 ? G(5) : 1)"),
        ("not_else", "(CONFIG_ON || F(6))"),
        ("nested_kept", "((F(7) || (CONFIG_N == 8 && !CONFIG_OFF)) && (CONFIG_OFF || 1))"),
        ("or_open", "(F(8) || CONFIG_OFF)"),
    ]
    # the undecided ones say so, the decided ones do not
    undecided = ["defined(CONFIG_ON) && F(2)", "CONFIG_N > 4 ? G(5) : 1",
                 "F(8) || defined(CONFIG_OFF)"]
    assert len(sd.warnings) == 3
    for cond, w in zip(undecided, sd.warnings):
        assert f"cannot evaluate #if {cond}: unknown function-like macro" in w


def test_constant_operands_decide_without_a_config_and_leave_no_guard():
    sd = fields("""struct s {
	int always;
#if 0 && defined(CONFIG_X)
	int dead;
#endif
#if 1 || CONFIG_X
	int live;
#else
	int also_dead;
#endif
#if !(0 || 0 && CONFIG_Y)
	int not_live;
#endif
#if 1 ? 0 : CONFIG_Z
	int ternary_dead;
#elif CONFIG_W || 0
	int open;
#endif
#if CONFIG_X || 0
	int x;
#else
	int not_x;
#endif
};""")
    assert [(f.name, f.guard) for f in sd.fields] == [
        ("always", None), ("live", None), ("not_live", None),
        ("open", "(CONFIG_W || 0)"),
        ("x", "(CONFIG_X || 0)"), ("not_x", "!(CONFIG_X || 0)"),
    ]
    # a config decides them the same way and writes no guard for them either
    sd2 = fields("""struct s {
#if 1 || CONFIG_X
	int live;
#endif
#if 0 && CONFIG_X
	int dead;
#else
	int other;
#endif
};""", config=Config.from_defines(["CONFIG_X=y"]))
    assert [(f.name, f.guard) for f in sd2.fields] == [("live", None), ("other", None)]


def test_a_constant_condition_that_cannot_be_evaluated_stays_undecided_with_a_warning():
    src = """struct s {
#if 1 || 1 / 0
	int live;
#endif
#if 0 || 1 / 0
	int open;
#else
	int open_else;
#endif
};"""
    for config in (None, Config.from_defines(["CONFIG_X=y"])):
        sd = fields(src, config=config)
        assert [(f.name, f.guard) for f in sd.fields] == [
            ("live", None), ("open", "(0 || 1 / 0)"), ("open_else", "!(0 || 1 / 0)")]
        assert [w.split(": ", 1)[1] for w in sd.warnings] == [
            "cannot evaluate #if 0 || 1 / 0: division by zero"]


# include/linux/fs.h: a name #define'd only under an #if on a name from an include
INODE_H = """\
#include <asm/bitsperlong.h>
#if BITS_PER_LONG==32 && defined(CONFIG_SMP)
#define __NEED_I_SIZE_ORDERED
#endif
struct inode {
	long i_size;
#ifdef __NEED_I_SIZE_ORDERED
	seqcount_t i_size_seqcount;
#endif
};
"""
BITSPERLONG_TREE = {
    "include/asm-generic/bitsperlong.h": (
        b"#ifdef CONFIG_64BIT\n#define BITS_PER_LONG 64\n#else\n#define BITS_PER_LONG 32\n#endif\n"),
}
X86_64 = ["CONFIG_X86=y", "CONFIG_X86_64=y", "CONFIG_64BIT=y", "CONFIG_SMP=y"]
I386 = ["CONFIG_X86=y", "CONFIG_X86_32=y", "CONFIG_SMP=y"]


@pytest.mark.parametrize("tree", [BITSPERLONG_TREE, None], ids=["header", "no header"])
def test_a_name_defined_only_under_an_if_the_includes_or_the_target_decide(tree):
    def names(cfg):
        sd = fields(INODE_H, "inode", path="include/linux/fs.h", config=cfg,
                    include_reader=tree.get if tree is not None else None)
        return [(f.name, f.guard) for f in sd.fields]

    # x86-64: BITS_PER_LONG is 64 (the header's, else the machine's): no i_size_seqcount
    assert names(Config.from_defines(X86_64)) == [("i_size", None)]
    if tree is not None:
        # i386: the header's 32, and CONFIG_SMP: the compiler sees it
        assert names(Config.from_defines(I386)) == [
            ("i_size", None), ("i_size_seqcount", "__NEED_I_SIZE_ORDERED")]
    # without a config the member stays, under its guard
    assert names(None) == [("i_size", None), ("i_size_seqcount", "__NEED_I_SIZE_ORDERED")]


def test_a_name_defined_under_an_if_nothing_decides_keeps_its_member_under_its_guard():
    # no header, no config defines WORD_LEVEL: the compiler's answer is not known
    src = INODE_H.replace("BITS_PER_LONG==32", "WORD_LEVEL==32")
    sd = fields(src, "inode", path="include/linux/fs.h", config=Config.from_defines(X86_64),
                include_reader=BITSPERLONG_TREE.get)
    assert [(f.name, f.guard) for f in sd.fields] == [
        ("i_size", None), ("i_size_seqcount", "__NEED_I_SIZE_ORDERED")]


WORD_SIZED = """\
struct s {
	DECLARE_BITMAP(map, 64);
	char pad[sizeof(void *)];
	char lpad[sizeof(long)];
	char spad[sizeof(size_t)];
	char bpad[BITS_PER_LONG / 8];
#if BITS_PER_LONG == 64
	int wide;
#else
	int narrow;
#endif
};
"""


@pytest.mark.parametrize("machine, words", [
    (X86_64, ("1", "8", True)),
    (["CONFIG_ARM64=y", "CONFIG_64BIT=y"], ("1", "8", True)),
    (I386, ("2", "4", False)),
    (["CONFIG_ARM=y"], ("2", "4", False)),
    (["CONFIG_64BIT=y"], ("1", "8", True)),  # no machine named: the 64-bit default
])
def test_word_size_follows_the_configs_machine(machine, words):
    bitmap, size, wide = words
    sd = fields(WORD_SIZED, config=Config.from_defines(machine))
    assert named(sd) == [
        ("map", f"unsigned long[{bitmap}]"), ("pad", f"char[{size}]"), ("lpad", f"char[{size}]"),
        ("spad", f"char[{size}]"), ("bpad", f"char[{size}]"), ("wide" if wide else "narrow", "int")]


def test_word_size_without_a_config_is_the_64_bit_default_and_a_header_defining_it_wins():
    sd = fields(WORD_SIZED)
    assert [(n, t) for n, t in named(sd)][:5] == [
        ("map", "unsigned long[1]"), ("pad", "char[8]"), ("lpad", "char[8]"),
        ("spad", "char[8]"), ("bpad", "char[8]")]
    assert [(f.name, f.guard) for f in sd.fields[5:]] == [
        ("wide", "BITS_PER_LONG == 64"), ("narrow", "!(BITS_PER_LONG == 64)")]
    # the kernel's own BITS_PER_LONG (asm-generic/bitsperlong.h, by CONFIG_64BIT) ...
    src = "#include <asm/bitsperlong.h>\n" + WORD_SIZED
    sd = fields(src, config=Config.from_defines(I386), include_reader=BITSPERLONG_TREE.get)
    assert named(sd)[4:] == [("bpad", "char[4]"), ("narrow", "int")]
    # ... and a project's own, even where it disagrees with the machine
    sd = fields("#define BITS_PER_LONG 64\n" + WORD_SIZED, config=Config.from_defines(I386))
    assert named(sd)[4:] == [("bpad", "char[8]"), ("wide", "int")]


def test_a_name_defined_under_an_if_on_the_word_size_follows_a_32_bit_machine():
    sd = fields(INODE_H, "inode", path="include/linux/fs.h", config=Config.from_defines(I386))
    assert [(f.name, f.guard) for f in sd.fields] == [
        ("i_size", None), ("i_size_seqcount", "__NEED_I_SIZE_ORDERED")]


# include/linux/mm_types_task.h, read without include/linux/kconfig.h (the build -include's it)
MM_TYPES_TASK = (
    b"#include <linux/threads.h>\n"
    b"#define USE_SPLIT_PTE_PTLOCKS\t(NR_CPUS >= CONFIG_SPLIT_PTLOCK_CPUS)\n"
    b"#define USE_SPLIT_PMD_PTLOCKS\t(USE_SPLIT_PTE_PTLOCKS && \\\n"
    b"\t\tIS_ENABLED(CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK))\n")
MM_TREE = {"include/linux/mm_types_task.h": MM_TYPES_TASK,
           "include/linux/threads.h": b"#define NR_CPUS\t\tCONFIG_NR_CPUS\n"}
MM_H = """\
#include <linux/mm_types_task.h>
struct mm_struct {
	int map_count;
#if defined(CONFIG_TRANSPARENT_HUGEPAGE) && !USE_SPLIT_PMD_PTLOCKS
	pgtable_t pmd_huge_pte;
#endif
};
"""


@pytest.mark.parametrize("split, kept", [("y", False), ("n", True)])
def test_is_enabled_inside_a_macro_follows_the_config_without_kconfig_h(split, kept):
    cfg = Config.from_defines(X86_64 + [
        "CONFIG_NR_CPUS=8192", "CONFIG_SPLIT_PTLOCK_CPUS=4", "CONFIG_TRANSPARENT_HUGEPAGE=y",
        f"CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK={split}"])
    sd = fields(MM_H, "mm_struct", path="include/linux/mm_types.h", config=cfg,
                include_reader=MM_TREE.get)
    assert [f.name for f in sd.fields] == ["map_count"] + (["pmd_huge_pte"] if kept else [])
    assert sd.warnings == ()
