"""Property tests for the parse stage: any body gives a StructDef, never an exception.

HYPOTHESIS_PROFILE=long runs 10,000 examples per property; the default profile stays fast.
"""

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srcdiff.parse import read_struct
from srcdiff.preprocess import Config

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

MEMBERS = [
    "int a;", "unsigned long flags:3;", "struct page *p;", "void __iomem *bar[N];",
    "int (*fn)(struct file *, int);", "char *(*g)(void);", "int (*pa)[4];",
    "DECLARE_BITMAP(bits, 64);", "struct_group(grp, int x; int y;);", "KABI_RESERVE(1);",
    "union { int u; long v; };", "struct { int q; } named;", "enum { A, B } e;",
    "typeof(int) t;", "_Atomic int at;", "int m, n:2, *o;", "u8 flex[];", "u32 :0;",
    "const char *const *names;", "DECLARE_FLEX_ARRAY(u8, data);", "UNKNOWN_MACRO(3);",
]
DIRECTIVES = ["#ifdef CONFIG_A", "#if IS_ENABLED(CONFIG_B) && N > 2", "#else", "#endif",
              "#elif defined(C)", "#if 0", "#ifndef X", "#define N 4"]
NOISE = ["/* c */", "//x\n", "\\\n", "\r\n", "(", ")", "{", "}", ";", ",", "[", "]", ":", "*",
         "#", "##", "\"", "'", "__attribute__((", "\xe9", "\x00", "struct", "union", "typedef"]


def _check(data: bytes, name: str = "s", **kw):
    """The StructDef read from data (None if it has none), after checking its members."""
    sd = read_struct(data, name, **kw)
    if sd is None:
        return None
    assert not any("internal error" in w for w in sd.warnings), sd.warnings
    for f in sd.flat_fields():
        assert f.unparsed is not None or f.type != "?"
        if f.unparsed is not None:
            assert f.type == "?"
    return sd


lines = st.lists(st.one_of(st.sampled_from(MEMBERS), st.sampled_from(DIRECTIVES)), max_size=25)


@given(lines, st.booleans())
def test_generated_bodies_parse(body, with_config):
    cfg = Config.from_defines(["CONFIG_A=y", "CONFIG_B=m"]) if with_config else None
    src = "#define KABI_RESERVE(n) u64 r##n\nstruct s {\n" + "\n".join(body) + "\n};\n"
    sd = _check(src.encode(), config=cfg)
    assert sd is not None, src


@given(lines, st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(NOISE)), max_size=8),
       st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 30)), max_size=3))
def test_mutated_bodies_never_raise(body, inserts, deletes):
    src = "struct s {\n" + "\n".join(body) + "\n};\n"
    for pos, piece in inserts:
        p = pos % (len(src) + 1)
        src = src[:p] + piece + src[p:]
    for pos, length in deletes:
        p = pos % (len(src) + 1)
        src = src[:p] + src[p + length:]
    _check(src.encode("utf-8", "surrogateescape"))


@given(st.binary(max_size=300))
def test_random_bytes_inside_a_body(junk):
    _check(b"struct s {\n" + junk + b"\n};")


@given(st.lists(st.sampled_from([m for m in MEMBERS if "MACRO" not in m and "KABI" not in m]),
                min_size=1, max_size=10),
       st.lists(st.sampled_from([" ", "  ", "\t", "/* x */", "\n", " /*\n*/ "]), min_size=1))
def test_layout_noise_never_changes_members(body, spaces):
    plain = "struct s {\n" + "\n".join(body) + "\n};"
    noisy_lines = []
    for k, m in enumerate(body):
        pieces = m.replace("*", " * ").replace(";", " ;").split(" ")
        sep = spaces[k % len(spaces)]
        noisy_lines.append(sep.join(p for p in pieces if p))
    noisy = "struct s {\n" + "\n".join(noisy_lines) + "\n};"
    a = read_struct(plain.encode(), "s")
    b = read_struct(noisy.encode(), "s")

    def shape(sd):
        return [(f.name, f.type, f.bits, f.unparsed is None) for f in sd.flat_fields()]

    assert shape(a) == shape(b)


_SPECS = st.lists(st.sampled_from(["const", "volatile", "unsigned", "signed", "long", "short",
                                   "int", "char", "u32", "struct page", "enum e", "foo_t"]),
                  min_size=1, max_size=4)
_DECLARATOR = st.tuples(
    st.lists(st.sampled_from(["*", "* const", "* volatile", "* restrict"]), max_size=3),
    st.sampled_from(["a", "b", ""]),
    st.lists(st.sampled_from(["[]", "[__sd_d0]", "[3]"]), max_size=2),
    st.sampled_from(["", ": __sd_d1", ": 3"]),
)


def _member_decl(specs, declarators):
    return " ".join(specs) + " " + ", ".join(
        " ".join(stars) + " " + name + "".join(dims) + " " + bits
        for stars, name, dims, bits in declarators)


# Fixed examples inside the fast path's grammar: these must not fall back to pycparser.
_FAST_MEMBERS = [
    (["unsigned", "long"], [([], "a", [], "")]),
    (["const", "char"], [(["*", "* const"], "a", [], "")]),
    (["struct page"], [(["*"], "a", ["[__sd_d0]"], ""), (["*", "*"], "b", [], "")]),
    (["u32"], [([], "a", [], ": __sd_d1"), ([], "", [], ": 3"), (["* volatile"], "b", ["[3]"], "")]),
    (["volatile", "foo_t"], [(["* restrict"], "b", ["[]"], "")]),
    (["enum e"], [([], "a", ["[3]", "[__sd_d0]"], "")]),
]


def _fast_examples(members):
    def apply(test):
        for args in reversed(members):
            test = example(*args)(test)
        return test
    return apply


@_fast_examples(_FAST_MEMBERS)
@given(_SPECS, st.lists(_DECLARATOR, min_size=1, max_size=3))
def test_fast_path_agrees_with_pycparser(specs, declarators):
    from srcdiff.parse import _fast_decl, _parse_decl
    from srcdiff.preprocess import tokenize

    decl = _member_decl(specs, declarators)
    toks = tokenize(decl)
    fast = _fast_decl(toks)
    if (specs, declarators) in _FAST_MEMBERS:
        assert fast is not None, f"fast path declined {decl!r}"
    if fast is not None:
        assert fast == _parse_decl(toks), decl


_PARAM = st.tuples(_SPECS, st.lists(st.sampled_from(["*", "* const"]), max_size=2),
                   st.sampled_from(["__sd_p", ""]), st.sampled_from(["", "[]", "[__sd_d0]"]))

# Fixed function-pointer members inside the fast path's grammar.
_FAST_FUNCTION_POINTERS = [
    (["int"], [], [(["struct page"], ["*"], "", ""), (["int"], [], "", "")], False, ""),
    (["char"], ["*"], ["void"], False, ""),
    (["const", "char"], ["* const"], [(["u32"], [], "__sd_p", "[]")], True, ""),
    (["void"], [], [(["unsigned", "long"], ["*", "* const"], "__sd_p", "")], False, ", x"),
    (["enum e"], ["*"], [], False, ", *y[2]"),
]


@_fast_examples(_FAST_FUNCTION_POINTERS)
@given(_SPECS, st.lists(st.sampled_from(["*", "* const", "* volatile"]), max_size=2),
       st.one_of(st.just(["void"]), st.lists(_PARAM, max_size=3)), st.booleans(),
       st.sampled_from(["", ", x", ", *y[2]", ", (*g)(void)"]))
def test_fast_path_agrees_with_pycparser_on_function_pointers(ret, stars, params, dots, more):
    from srcdiff.parse import _fast_decl, _parse_decl
    from srcdiff.preprocess import tokenize

    must_be_fast = (ret, stars, params, dots, more) in _FAST_FUNCTION_POINTERS
    if params != ["void"]:
        params = [" ".join(sp) + " " + " ".join(st_) + " " + nm + dm
                  for sp, st_, nm, dm in params] + (["..."] if dots and params else [])
    decl = f"{' '.join(ret)} {' '.join(stars)} (*__sd_n)({', '.join(params)}){more}"
    toks = tokenize(decl)
    fast = _fast_decl(toks)
    if must_be_fast:
        assert fast is not None, f"fast path declined {decl!r}"
    if fast is not None:
        assert fast == _parse_decl(toks), decl
