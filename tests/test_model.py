"""The data model: canonical types turned back into declarations."""

import pytest

from srcdiff.model import Field, StructDef, format_decl
from srcdiff.parse import read_struct


@pytest.mark.parametrize("ctype,name,bits,decl", [
    ("struct pci_dev *", "pdev", None, "struct pci_dev *pdev"),
    ("void *[6]", "barmap", None, "void *barmap[6]"),
    ("u32[7]", "rbar", None, "u32 rbar[7]"),
    ("int[4][9]", "grid", None, "int grid[4][9]"),
    ("int (*)(struct file *, int)", "open", None, "int (*open)(struct file *, int)"),
    ("char *(*)(void)", "name", None, "char *(*name)(void)"),
    ("int (*)[4]", "p", None, "int (*p)[4]"),
    ("int (*)[4]", "pa", None, "int (*pa)[4]"),
    ("int (*[4])(int)", "ops", None, "int (*ops[4])(int)"),
    ("void (**)(void)", "pp", None, "void (**pp)(void)"),
    ("unsigned int", "flag", 1, "unsigned int flag : 1"),
    ("const char *const *", "names", None, "const char *const *names"),
])
def test_format_decl_round_trips_canonical_types(ctype, name, bits, decl):
    assert format_decl(ctype, name, bits) == decl
    # and the parser reads the declaration back as the same canonical type
    sd = read_struct(f"struct s {{ {decl}; }};".encode(), "s")
    assert sd is not None and len(sd.fields) == 1
    assert (sd.fields[0].name, sd.fields[0].type, sd.fields[0].bits) == (name, ctype, bits)


def test_struct_json_round_trip_and_flatten():
    inner = (Field("a", "int", line=3), Field("b", "char *", guard="CONFIG_X", line=4))
    s = StructDef("s", "struct", (Field(None, "union", fields=inner), Field("c", "u8", bits=3)),
                  "x.h", 2)
    again = StructDef.from_json(s.to_json())
    assert again == s
    assert [f.name for f in s.flat_fields()] == ["a", "b", "c"]
    assert "\tunion {" in s.render() and "char *b;\t/* if CONFIG_X */" in s.render()


def test_an_empty_aggregate_member_renders_as_one_not_as_a_forward_declaration():
    from srcdiff.parse import read_struct

    sd = read_struct(b"struct s { int n; struct { } e; union { } u; };", "s")
    assert sd.render().splitlines() == ["struct s {", "\tint n;", "\tstruct {", "\t} e;",
                                        "\tunion {", "\t} u;", "};"]
