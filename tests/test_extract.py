"""Tests for the extract stage: finding definitions without parsing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from srcdiff.extract import defines_struct, find_definitions
from srcdiff.preprocess import strip_comments

TEXT = """
struct fwd;
struct used *p;
struct __attribute__((packed)) a { int x; };
union bpf_attr {
	struct { int y; } inner_named;
	struct b { int z; } b;
};
typedef struct {
	int q;
} __aligned(8) name_t;
typedef struct tagged { int r; } tagged_t;
static inline struct a *f(struct a *x) { return x; }
"""


def test_find_definitions():
    defs = find_definitions(strip_comments(TEXT))
    got = [(d.kind, d.name, d.line, d.typedef) for d in defs]
    assert got == [
        ("struct", "a", 4, False),
        ("union", "bpf_attr", 5, False),
        ("struct", "b", 7, False),
        ("struct", "name_t", 9, True),
        ("struct", "tagged", 12, False),
    ]
    d = defs[1]
    a, b = d.body_span(strip_comments(TEXT))
    assert "inner_named" in TEXT[a:b] and TEXT[d.start:].startswith("union bpf_attr")


def test_typedef_names_of_tagged_aggregates_are_listed_on_request():
    text = strip_comments(TEXT + "typedef union u { int s; } __packed u_t, *u_p;\n"
                          "typedef struct same { int t; } same;\n")
    defs = find_definitions(text, aliases=True)
    got = [(d.kind, d.name, d.line, d.typedef, d.tag) for d in defs]
    assert got[-5:] == [
        ("struct", "tagged", 12, False, None), ("struct", "tagged_t", 12, True, "tagged"),
        ("union", "u", 14, False, None), ("union", "u_t", 14, True, "u"),
        ("struct", "same", 15, False, None),
    ]
    assert defs[-4].body_span(text) == defs[-5].body_span(text)
    assert "tagged_t" not in [d.name for d in find_definitions(text)]


def test_defines_struct_has_no_false_negatives():
    data = TEXT.encode()
    for d in find_definitions(TEXT):
        assert defines_struct(data, d.name)
    assert not defines_struct(data, "fwd")
    assert not defines_struct(data, "used")
    assert not defines_struct(data, "missing")
    assert defines_struct(b"struct /* c */ foo /* d */\n{ int a; };", "foo")


def test_a_tag_that_starts_with_underscores_is_a_name_not_an_attribute():
    # struct __sk_buff is what eBPF programs see; struct __packed { } is anonymous and packed
    text = ("struct __sk_buff { int len; };\nstruct __packed { int b; } x;\n"
            "struct __packed named { int c; };\nstruct __ec_align4 ecp { int d; };\n"
            "typedef struct __packed { int e; } e_t;\n")
    got = [(d.name, d.line, d.typedef) for d in find_definitions(text, aliases=True)]
    assert got == [("__sk_buff", 1, False), ("named", 3, False), ("ecp", 4, False),
                   ("e_t", 5, True)]
    assert [d.line for d in find_definitions(text) if d.name == "__sk_buff"] == [1]
    assert not [d for d in find_definitions(text, aliases=True) if d.name == "__packed"]


def test_a_bare_word_the_file_defines_as_a_macro_is_an_attribute_not_a_tag():
    # cros_ec_commands.h: '#define __ec_todo_unpacked' then anonymous bodies carrying it
    text = ("#define __ec_todo_unpacked\nstruct __kfifo { int a; };\n"
            "struct x { struct __ec_todo_unpacked { int b; } y; };\n"
            "typedef struct __ec_todo_unpacked { int e; } e_t;\n")
    assert [(d.name, d.line) for d in find_definitions(text, aliases=True)] == [
        ("__kfifo", 2), ("x", 3), ("e_t", 4)]


_PIECES = [
    "struct {n} {{ int a; }};\n", "union {n} {{ long b; }};\n", "struct {n} *p;\n",
    "struct {n};\n", "void f(struct {n} *x, struct {n});\n", "typedef struct {{ int c; }} {n};\n",
    "typedef struct {n} {{ int d; }} {n}_t, *{n}_p;\n", "typedef union {{ int e; }} __packed {n};\n",
    "struct __attribute__((aligned(8))) {n} {{ int f; }};\n", "struct {n} __randomize_layout {{\n int g;\n}};\n",
    "struct ____cacheline_aligned {n} {{ int h; }};\n", "struct outer {{ struct {n} {{ int i; }} in; }};\n",
    "#define {n} other\n", "char *s = \"struct {n} {{\";\n", "struct my{n} {{ int j; }};\n",
    "struct {n}x {{ int k; }};\n", "typedef const struct {{ int l; }} {n};\n", "typedef struct {n} {n};\n",
    "struct\n{n}\n{{ int m; }};\n", "mystruct {n} {{ int o; }};\n", "}} {n};\n", "{{\n",
]


@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(["foo", "bar", "__foo", "f"])),
                max_size=12),
       st.sampled_from(["foo", "bar", "__foo", "f", "foo_t", "missing"]))
@settings(max_examples=300, deadline=None)
def test_looking_for_one_name_finds_what_the_whole_scan_lists_under_it(pieces, name):
    # srcdiff reads one struct out of hundreds of blobs: the search for one name must list
    # exactly what the whole-file scan lists under that name, line numbers and spans included
    text = strip_comments("".join(p.format(n=n) for p, n in pieces))
    want = [d for d in find_definitions(text, aliases=True) if d.name == name]
    assert find_definitions(text, aliases=True, name=name) == want


def test_a_keyword_right_after_a_word_ending_in_struct_is_still_seen():
    # include/rdma/ib_verbs.h: '#define DECLARE_RDMA_OBJ_SIZE(ib_struct) size_t size_##ib_struct'
    # just before 'struct rdma_user_mmap_entry {'
    text = "#define D(ib_struct) size_##ib_struct\n\nstruct rdma_user_mmap_entry {\n\tint ref;\n};\n"
    want = [d for d in find_definitions(text, aliases=True) if d.name == "rdma_user_mmap_entry"]
    assert len(want) == 1
    assert find_definitions(text, aliases=True, name="rdma_user_mmap_entry") == want
