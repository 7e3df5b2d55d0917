"""#if conditions in headers (the #define's a struct's members use) are decided by the operands
that can be evaluated: C's 1 || X is 1 and 0 && X is 0 whatever X is, c ? a : b needs only the
chosen arm. An operand that cannot be (a name the headers read do not define, which an unread
header may; a function-like macro no file read defines) leaves the condition undecided only
where the rest does not decide it; then both branches are read and the first #define wins."""

import pytest

from srcdiff.parse import read_struct
from srcdiff.preprocess import Config, Macro, condition_value, tokenize

KCFG = Config.from_defines(["CONFIG_X86=y", "CONFIG_X86_64=y", "CONFIG_64BIT=y", "CONFIG_ON=y"])


def read(src, tree=None, config=None, name="s"):
    sd = read_struct(src.encode(), name, path="include/linux/s.h",
                     include_reader=(tree or {}).get if tree is not None else None,
                     config=config)
    assert sd is not None
    return sd


def members(sd):
    return [(f.name, f.type) for f in sd.flat_fields()]


# the alternative that an undecided #if would read first is the one the compiler does not see
FRAG_H = b"""\
#define BITS_PER_LONG 64
#define PAGE_SIZE (_AC(1,UL) << PAGE_SHIFT)
"""


@pytest.mark.parametrize("config", [None, KCFG], ids=["no config", "config"])
def test_a_condition_in_the_file_decided_by_its_known_operand(config):
    src = """\
#if !defined(__KERNEL__) && defined(CONFIG_COMPAT_LAYOUT)
#define NR_SLOTS 8
#else
#define NR_SLOTS 4
#endif
struct s { int slot[NR_SLOTS]; };
"""
    assert members(read(src, config=config)) == [("slot", "int[4]")]


def frag_src(condition):
    """A header as linux's page_frag, with the #if on the #define's: BITS_PER_LONG comes from
    an included header, PAGE_SIZE needs _AC from a header not read."""
    return f"""\
#include <linux/frag.h>
#if {condition}
#define FRAG_FIELDS() __u16 offset; __u16 size
#else
#define FRAG_FIELDS() __u32 offset; __u32 size
#endif
struct s {{ struct page *page; FRAG_FIELDS(); }};
"""


@pytest.mark.parametrize("config", [None, KCFG], ids=["no config", "config"])
def test_a_condition_on_names_from_an_included_header_decided_by_its_known_operand(config):
    # BITS_PER_LONG decides: 64 <= 32 is false, so && is false whatever PAGE_SIZE is
    src = frag_src("(BITS_PER_LONG <= 32) && (PAGE_SIZE < 65536)")
    sd = read(src, {"include/linux/frag.h": FRAG_H}, config)
    assert members(sd) == [("page", "struct page *"), ("offset", "__u32"), ("size", "__u32")]
    assert sd.warnings == ()


@pytest.mark.parametrize("config", [None, KCFG], ids=["no config", "config"])
def test_a_condition_its_known_operands_do_not_decide_stays_undecided(config):
    src = frag_src("(BITS_PER_LONG > 32) && (PAGE_SIZE < 65536)")
    sd = read(src, {"include/linux/frag.h": FRAG_H}, config)
    # both branches read, the first #define used, and the reader told so
    assert members(sd) == [("page", "struct page *"), ("offset", "__u16"), ("size", "__u16")]
    assert len(sd.warnings) == 1 and "FRAG_FIELDS is #define'd differently" in sd.warnings[0]


@pytest.mark.parametrize("cond, size", [
    ("defined(CONFIG_OTHER) || 1", 4),               # || : a known 1 on either side
    ("!(defined(__KERNEL__) || defined(CONFIG_OTHER))", 8),  # ! of a decided ||
    ("defined(__KERNEL__) ? 1 : CONFIG_OTHER > 2", 4),  # ?: needs the chosen arm only
    ("CONFIG_OTHER ? 1 : 1", 4),                      # both arms agree
    ("(UNSEEN(2) || (__KERNEL__ && !0)) && (CONFIG_OTHER || 1)", 4),  # nesting
])
def test_or_not_ternary_and_nesting_in_a_header_without_a_config(cond, size):
    src = f"#if {cond}\n#define NR 4\n#else\n#define NR 8\n#endif\nstruct s {{ int a[NR]; }};\n"
    # the #else is read first where the #if is undecided: put it first to tell them apart
    src_else_first = (f"#if !({cond})\n#define NR 8\n#else\n#define NR 4\n#endif\n"
                      "struct s { int a[NR]; };\n")
    for text in (src, src_else_first):
        assert members(read(text)) == [("a", f"int[{size}]")], text


def test_an_undecided_header_condition_reads_its_first_branch_as_before():
    # CONFIG_OTHER cannot be known without a config, and nothing else decides
    src = ("#if defined(CONFIG_OTHER) || 0\n#define NR 8\n#else\n#define NR 4\n#endif\n"
           "struct s { int a[NR]; };\n")
    assert members(read(src)) == [("a", "int[8]")]
    assert members(read(src, config=KCFG)) == [("a", "int[4]")]


def test_condition_value_is_three_valued():
    def lk(name):
        return None

    def unknown(name):
        return name.startswith("U")

    def val(text):
        return condition_value(tokenize(text), lk, unknown)[0]

    assert val("1 || U") is True and val("U || 1") is True
    assert val("0 && U") is False and val("U && 0") is False
    assert val("0 || U") is None and val("1 && U") is None and val("!U") is None
    assert val("1 ? 2 : U") is True and val("0 ? U : 0") is False and val("U ? 1 : 0") is None
    assert val("U ? 3 : 3") is True
    assert val("defined(U) || !defined(KNOWN)") is True  # KNOWN: not defined, so 0
    assert val("U + 0 || 0") is None  # arithmetic on an unknown stays unknown
    assert val("1 || 1 / 0") is True and val("0 && F(x)") is False
    assert condition_value(tokenize("1 || (2"), lk, unknown)[0] is None  # does not parse
    assert condition_value(tokenize("0 || U"), lk, unknown)[1] == "unknown identifier U"


def test_kconfig_tests_on_names_without_a_config():
    defined = {"CONFIG_M_MODULE": Macro("CONFIG_M_MODULE", None, ("1",)),
               "WIDE": Macro("WIDE", None, ("(", "1", "||", "CONFIG_Q", ")"))}

    def val(text):
        return condition_value(tokenize(text), defined.get,
                               lambda name: name.startswith("CONFIG_"))[0]

    assert val("IS_ENABLED(CONFIG_M)") is True and val("IS_MODULE(CONFIG_M)") is True
    assert val("IS_BUILTIN(CONFIG_M)") is None and val("IS_ENABLED(CONFIG_Q)") is None
    assert val("IS_ENABLED(CONFIG_Q) || IS_MODULE(CONFIG_M)") is True
    assert val("defined(CONFIG_Q) > 0") is None and val("!IS_REACHABLE(CONFIG_Q)") is None
    # an || brought by a macro decides as well as one written in the #if
    assert val("WIDE") is True and val("!WIDE && CONFIG_Q") is False


@pytest.mark.parametrize("machine, size", [
    (None, 8), (["CONFIG_X86=y", "CONFIG_X86_64=y", "CONFIG_64BIT=y"], 8),
    (["CONFIG_X86=y", "CONFIG_X86_32=y"], 4), (["CONFIG_ARM=y"], 4)])
def test_sizeof_of_word_sized_types_follows_the_configs_machine(machine, size):
    lookup = Config.from_defines(machine).macros().get if machine else (lambda name: None)
    for t in ("long", "unsigned long", "void *", "char *", "size_t", "ssize_t",
              "unsigned long int", "struct page *"):
        assert condition_value(tokenize(f"sizeof({t}) == {size}"), lookup) == (True, None), t
    assert condition_value(tokenize("sizeof(int) == 4 && sizeof(u64) == 8"), lookup)[0] is True


def test_kconfig_tests_inside_a_macro_see_the_expanded_option_as_the_kernels_do():
    # include/linux/kconfig.h is not read (the build -include's it): IS_ENABLED(CONFIG_X)
    # inside a macro's body has its CONFIG_X expanded first, IS_ENABLED(1) is then 1, as the
    # kernel's __is_defined(1) is
    cfg = Config.from_defines(["CONFIG_ON=y", "CONFIG_MOD=m", "CONFIG_N=8"])
    defs = {"ON": "(IS_ENABLED(CONFIG_ON))", "ON_B": "IS_BUILTIN(CONFIG_ON)",
            "ON_M": "IS_MODULE(CONFIG_ON)", "MOD": "IS_ENABLED(CONFIG_MOD)",
            "MOD_M": "IS_MODULE(CONFIG_MOD)", "OFF": "IS_ENABLED(CONFIG_OFF)",
            "NUM": "IS_ENABLED(CONFIG_N)", "REACH": "IS_REACHABLE(CONFIG_ON)"}
    macros = {k: Macro(k, None, tuple(tokenize(v))) for k, v in defs.items()}

    def lookup(name):
        return macros.get(name) or cfg.macros().get(name)

    got = {k: condition_value(tokenize(k), lookup) for k in defs}
    assert got == {"ON": (True, None), "ON_B": (True, None), "ON_M": (False, None),
                   "MOD": (True, None), "MOD_M": (True, None), "OFF": (False, None),
                   "NUM": (False, None), "REACH": (True, None)}
