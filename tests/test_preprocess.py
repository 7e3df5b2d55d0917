"""Tests for the preprocess stage: decoding, comments, config files, macros, expressions."""

import pytest

from srcdiff.errors import SrcdiffError
from srcdiff.preprocess import (
    Config,
    MacroEnv,
    condition_text,
    decode_source,
    eval_condition,
    eval_int,
    expand,
    logical_lines,
    parse_define,
    strip_comments,
    tokenize,
)


def test_decode_utf8_latin1_and_crlf():
    assert decode_source("é\r\nx\r".encode()) == "é\nx\n"
    assert decode_source(b"caf\xe9 /* M\xfcller */\r\n") == "café /* Müller */\n"


def test_strip_comments_keeps_lines_and_strings():
    text = 'int a; /* one\ntwo */ int b; // tail\nchar *s = "/* not */";'
    out = strip_comments(text)
    assert out.count("\n") == text.count("\n")
    assert "one" not in out and "tail" not in out
    assert '"/* not */"' in out


def test_logical_lines_join_continuations():
    assert logical_lines("#define X \\\n  1\nint a;\n") == [(1, "#define X    1"), (3, "int a;"), (4, "")]


def test_config_from_file(tmp_path):
    p = tmp_path / ".config"
    p.write_text('# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_N=64\nCONFIG_S="x y"\n')
    cfg = Config.from_file(p)
    macros = cfg.macros()
    assert macros["CONFIG_A"].body == ("1",)
    assert "CONFIG_B" not in macros and macros["CONFIG_B_MODULE"].body == ("1",)
    assert "CONFIG_C" not in macros
    assert macros["CONFIG_N"].body == ("64",)


def test_config_bad_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.config"
    p.write_text("CONFIG_A=y\nthis is junk\n")
    with pytest.raises(SrcdiffError, match=r"bad.config:2:"):
        Config.from_file(p)
    with pytest.raises(SrcdiffError, match="cannot read"):
        Config.from_file(tmp_path / "missing")


def test_config_defines_merge_and_fingerprint():
    a = Config.from_defines(["CONFIG_X=y", "FOO", "BAR=3"])
    assert a.macros()["FOO"].body == ("1",) and a.macros()["BAR"].body == ("3",)
    b = Config.from_defines(["CONFIG_X=n"])
    m = a.merged(b)
    assert "CONFIG_X" not in m.macros()
    assert a.fingerprint() == Config.from_defines(["BAR=3", "FOO", "CONFIG_X=y"]).fingerprint()
    assert a.fingerprint() != m.fingerprint()


def _lookup(defs):
    table = {}
    for d in defs:
        m = parse_define(d)
        table[m.name] = m
    return table.get


def test_expand_function_like_paste_stringize_variadic():
    lk = _lookup([
        "KABI_RESERVE(n) u64 kabi_reserved##n",
        "STR(x) #x",
        "GROUP(NAME, MEMBERS...) struct { MEMBERS } NAME",
        "VA(...) f(__VA_ARGS__)",
    ])
    assert expand(tokenize("KABI_RESERVE(2)"), lk) == ["u64", "kabi_reserved2"]
    assert expand(tokenize("STR(a + b)"), lk) == ['"a + b"']
    assert expand(tokenize("GROUP(g, int a; int b;)"), lk) == tokenize("struct { int a; int b; } g")
    assert expand(tokenize("VA(1, 2)"), lk) == tokenize("f(1, 2)")


def test_self_referential_macro_does_not_loop():
    lk = _lookup(["A A + 1", "B(x) B(x)"])
    assert expand(["A"], lk) == ["A", "+", "1"]
    assert expand(tokenize("B(1)"), lk) == tokenize("B(1)")


def test_eval_conditions_like_cpp():
    lk = _lookup(["CONFIG_A 1", "CONFIG_M_MODULE 1", "N 3"])
    assert eval_condition(tokenize("defined(CONFIG_A) && !defined CONFIG_B"), lk)
    assert eval_condition(tokenize("IS_ENABLED(CONFIG_M) && IS_MODULE(CONFIG_M)"), lk)
    assert not eval_condition(tokenize("IS_BUILTIN(CONFIG_M)"), lk)
    assert not eval_condition(tokenize("UNDEFINED_THING"), lk)
    assert eval_condition(tokenize("N * 2 >= 6 ? 1 : 0"), lk)


def test_eval_int_sizes():
    lk = _lookup(["NR 10", "BITS_TO_LONGS(n) (((n) + 63) / 64)"])
    assert eval_int(tokenize("NR * 2 + 1"), lk) == 21
    assert eval_int(tokenize("BITS_TO_LONGS(130)"), lk) == 3
    assert eval_int(tokenize("sizeof(long) * 8"), lk) == 64
    assert eval_int(tokenize("1 << 4"), lk) == 16


def test_condition_text_is_readable():
    assert condition_text(tokenize("defined( CONFIG_A )&&!defined CONFIG_B")) == "CONFIG_A && !CONFIG_B"
    assert condition_text(tokenize("IS_ENABLED(CONFIG_X)")) == "IS_ENABLED(CONFIG_X)"


def test_env_follows_includes_lazily():
    reads = []
    files = {
        "include/linux/a.h": b'#include "b.h"\n#define A 1\n',
        "include/linux/b.h": b"#define B 2\n",
    }

    def reader(p):
        reads.append(p)
        return files.get(p)

    env = MacroEnv("#include <linux/a.h>\n#define LOCAL 0\n", "drivers/x.h", None, reader, "x86")
    assert env.lookup("LOCAL").body == ("0",)
    assert reads == []
    assert env.lookup("B").body == ("2",)
    assert "include/linux/b.h" in reads
    assert env.lookup("NOPE") is None


def test_file_conditionals_pick_branch_for_defines():
    text = "#ifdef __cplusplus\n#define G 1\n#else\n#define G 2\n#endif\n#if 0\n#define H 1\n#endif\n"
    env = MacroEnv(text, "x.h", None, None, "x86")
    assert env.lookup("G").body == ("2",)
    assert env.lookup("H") is None


def test_includes_are_read_once_per_file_and_config_names_never_follow_them():
    reads = []
    files = {"include/linux/a.h": b"#define A 1\n#define CONFIG_FAKE 1\n"}

    def reader(p):
        reads.append(p)
        return files.get(p)

    text = "#include <linux/a.h>\n"
    first = MacroEnv(text, "drivers/x.h", None, reader, "x86")
    first.define(parse_define("ONLY_HERE 3"))
    assert first.lookup("A").body == ("1",) and first.lookup("ONLY_HERE").body == ("3",)
    n = len(reads)
    second = MacroEnv(text, "drivers/x.h", None, reader, "x86")
    assert second.lookup("A").body == ("1",) and second.lookup("ONLY_HERE") is None
    assert len(reads) == n  # the second read of the same file reuses what the first read
    # without a config the tree may define a CONFIG_ name; with one, the config decides alone
    assert second.lookup("CONFIG_FAKE").body == ("1",)
    cfg = Config.from_defines(["CONFIG_B=y"])
    reads.clear()
    env = MacroEnv(text, "drivers/x.h", cfg, reader, "x86")
    assert env.lookup("CONFIG_B").body == ("1",)
    assert env.lookup("CONFIG_FAKE") is None and reads == []
    assert cfg.fingerprint() == Config.from_defines(["CONFIG_B=y"]).fingerprint()


def test_collect_macros_reads_directives_only_at_the_start_of_logical_lines():
    from srcdiff.preprocess import collect_macros

    text = ("#define STR(x) \\\n  #x \\\n  y\nint v = 1; \\\n#define NOT_ONE 1\n"
            "  #  define  SPACED 2\n#define BROKEN(a\n#define BROKEN 3\n#define LAST 4\\")
    fm = collect_macros(text, None)
    assert fm.macro("STR") == parse_define("STR(x) #x y")
    assert fm.macro("NOT_ONE") is None
    assert fm.macro("SPACED").body == ("2",)
    assert fm.macro("BROKEN").body == ("3",)  # the malformed first one defines nothing
    assert fm.macro("LAST").body == ("4",)


def _many_includes_tree():
    """drivers/x/x.h includes 100 headers that each include <linux/types.h> (whose first
    candidate, arch/x86/include/linux/types.h, is missing); the last one also includes the
    header that defines what struct s needs."""
    files = {f"include/linux/h{i}.h": b"#include <linux/types.h>\n" for i in range(100)}
    files["include/linux/h99.h"] += b"#include <linux/slots.h>\n"
    files["include/linux/types.h"] = b"typedef int s32;\n"
    files["include/linux/slots.h"] = b"#define NSLOTS 8\n#define HAVE_EXTRA 1\n"
    src = "".join(f"#include <linux/h{i}.h>\n" for i in range(100))
    src += "struct s {\n\tint slot[NSLOTS];\n#ifdef HAVE_EXTRA\n\tint extra;\n#endif\n};\n"
    return files, src.encode()


def test_include_walk_spends_no_budget_on_paths_it_already_looked_up():
    from srcdiff.parse import read_struct

    files, src = _many_includes_tree()
    asked = []

    def reader(p):
        asked.append(p)
        return files.get(p)

    cfg = Config.from_defines(["CONFIG_X=y"])
    sd = read_struct(src, "s", path="drivers/x/x.h", config=cfg, include_reader=reader)
    # slots.h is reached although 99 headers ask again for the missing arch/ candidate
    assert [(f.name, f.type) for f in sd.fields] == [("slot", "int[8]"), ("extra", "int")]
    assert len(asked) == len(set(asked))  # each path looked up once
    assert "arch/x86/include/linux/types.h" in asked


class _IdReader:
    """A reader with blob ids, like srcdiff's reader of a git revision; counts what it is asked."""

    def __init__(self, files):
        self.files = files
        self.asked: list[str] = []
        self.calls = 0

    def __call__(self, p):
        return self.files.get(p)

    def ids(self, paths):
        self.calls += 1
        self.asked += paths
        return [p if p in self.files else None for p in paths]

    def read_id(self, blob):
        return self.files[blob]


def test_include_walk_tries_each_path_once_with_blob_ids():
    from srcdiff.preprocess import _included_for, _resolve, collect_macros

    files, src = _many_includes_tree()
    reader = _IdReader(files)
    fm = collect_macros(src.decode(), None)
    inc = _included_for("drivers/x/x.h", list(fm.includes), None, "x86", reader)
    assert _resolve(inc.defines, "NSLOTS").body == ("8",)
    assert len(inc.tried) == len(set(inc.tried))  # the reuse check asks each path once
    assert len(reader.asked) == len(set(reader.asked))


def test_include_budget_bounds_lookups_on_hostile_headers():
    from srcdiff.preprocess import INCLUDE_BUDGET, _included_for, _resolve, collect_macros

    # thousands of #include lines: distinct missing headers, the same missing one again and
    # again, and one spelled many ways that resolve to a file already read
    src = "".join(f"#include <linux/m{i}.h>\n" for i in range(3000))
    src += "#include <linux/gone.h>\n" * 3000
    src += "".join('#include "' + "./" * i + 'here.h"\n' for i in range(3000))
    files = {"drivers/x/here.h": b"#define HERE 1\n"}
    fm = collect_macros(src, None)
    asked = []

    def reader(p):
        asked.append(p)
        return files.get(p)

    inc = _included_for("drivers/x/x.h", list(fm.includes), None, "x86", reader)
    assert len(asked) <= INCLUDE_BUDGET and len(inc.tried) <= INCLUDE_BUDGET
    # with blob ids: the same bound on paths tried, at most one exchange and six ids per path
    id_reader = _IdReader(files)
    inc = _included_for("drivers/x/y.h", list(fm.includes), None, "x86", id_reader)
    assert len(inc.tried) <= INCLUDE_BUDGET
    assert id_reader.calls <= INCLUDE_BUDGET and len(id_reader.asked) <= 6 * INCLUDE_BUDGET
    # the quoted spellings after here.h is read cost nothing
    src2 = '#include "here.h"\n' + src[src.index('#include "'):]
    asked.clear()
    inc = _included_for("drivers/x/x.h", list(collect_macros(src2, None).includes), None,
                        "x86", reader)
    assert _resolve(inc.defines, "HERE").body == ("1",) and len(asked) < 50


def test_a_name_an_included_header_undefines_is_not_seen_by_the_includer():
    from srcdiff.parse import read_struct

    # arch/x86/include/asm/apicdef.h: "#define u32 unsigned int" for its own struct, then
    # "#undef u32"; a file that includes it still sees u32 the typedef
    files = {
        "include/linux/apic.h": b"#define u32 unsigned int\nstruct a { u32 r; };\n#undef u32\n"
                                b"#ifdef SOMETIMES\n#undef NR\n#endif\n#define NR 4\n#undef NR\n",
    }
    src = b"#include <linux/apic.h>\nstruct s { u32 v; int n[NR]; };\n"
    for cfg in (None, Config.from_defines(["CONFIG_X=y"])):
        sd = read_struct(src, "s", path="drivers/x.h", config=cfg, include_reader=files.get)
        assert [(f.name, f.type) for f in sd.fields] == [("v", "u32"), ("n", "int[NR]")]
    # the header's own struct sees its #define
    own = read_struct(files["include/linux/apic.h"], "a", path="include/linux/apic.h")
    assert [(f.name, f.type) for f in own.fields] == [("r", "unsigned int")]
