"""trace_event_raw_* structs, which only the kernel's TRACE_EVENT macros spell out."""

from __future__ import annotations

from tests.test_blame_lines import Project

HEADER = """\
/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM foo

#if !defined(_TRACE_FOO_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_FOO_H

#include <linux/tracepoint.h>

#define FOO_COMM_LEN 16

DECLARE_EVENT_CLASS(foo_template,

	TP_PROTO(struct task_struct *p),

	TP_ARGS(p),

	TP_STRUCT__entry(
		__array(	char,	comm,	FOO_COMM_LEN	)
		__field(	pid_t,	pid			)
	),

	TP_fast_assign(
		memcpy(__entry->comm, p->comm, FOO_COMM_LEN);
		__entry->pid = p->pid;
	),

	TP_printk("comm=%s pid=%d (", __entry->comm, __entry->pid)
);

DEFINE_EVENT(foo_template, foo_wakeup,
	TP_PROTO(struct task_struct *p),
	TP_ARGS(p));

TRACE_EVENT(foo,

	TP_PROTO(int bar, const char *name),

	TP_ARGS(bar, name),

	TP_STRUCT__entry(
		__field(int, bar)@BAZ@
		__string(name, name)
	),

	TP_fast_assign(
		__entry->bar = bar;
		__assign_str(name, name);
	),

	TP_printk("bar=%d name=%s", __entry->bar, __get_str(name))
);

#ifdef CONFIG_FOO_DEBUG
TRACE_EVENT_FN(foo_debug,
	TP_PROTO(long id),
	TP_ARGS(id),
	TP_STRUCT__entry(
		__field(long, id)
		__dynamic_array(u8, buf, id)
	),
	TP_fast_assign(__entry->id = id;),
	TP_printk("id=%ld", __entry->id),
	foo_reg, foo_unreg
);
#else
TRACE_EVENT(foo_nodebug, TP_PROTO(int x), TP_ARGS(x),
	TP_STRUCT__entry(__field(int, x)), TP_fast_assign(__entry->x = x;), TP_printk("%d", 1));
#endif

#ifdef CONFIG_FOO_STATS
#define DECLARE_EVENT_CLASS_FOOSTAT DECLARE_EVENT_CLASS
#else
#define DECLARE_EVENT_CLASS_FOOSTAT DECLARE_EVENT_CLASS_NOP
#endif

DECLARE_EVENT_CLASS_FOOSTAT(foo_stat_template, TP_PROTO(int n), TP_ARGS(n),
	TP_STRUCT__entry(__field(int, n)), TP_fast_assign(__entry->n = n;), TP_printk("%d", 1));

#endif /* _TRACE_FOO_H */

#include <trace/define_trace.h>
"""
PATH = "include/trace/events/foo.h"


def kernel(tmp_path) -> tuple[Project, dict[str, str]]:
    """A kernel-like repository (Kconfig at the top) whose trace header gains an entry."""
    p = Project(tmp_path / "linux")
    (p.path / "Kconfig").write_text("mainmenu \"Linux\"\n")
    (p.path / "include/trace/events").mkdir(parents=True)
    (p.path / PATH).write_text(HEADER.replace("@BAZ@", ""))
    p.git("add", ".")
    p.git("commit", "-q", "-m", "tracing: add foo events", date="2021-01-01")
    p.git("tag", "v5.10")
    (p.path / PATH).write_text(HEADER.replace("@BAZ@", "\n\t\t__field(u64, baz)"))
    p.git("commit", "-q", "-am", "foo: record baz", date="2022-01-01")
    sha = p.git("rev-parse", "HEAD").strip()
    p.git("tag", "v5.15")
    return p, {"baz": sha}


def members(data: dict) -> list[tuple]:
    return [(f["name"], f["type"], f["guard"]) for f in data["fields"]]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_show_spells_out_the_struct_trace_event_generates(tmp_path, srcdiff):
    p, _ = kernel(tmp_path)
    res = srcdiff("show", "trace_event_raw_foo", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["path"] == PATH
    assert members(data) == [("ent", "struct trace_entry", None), ("bar", "int", None),
                             ("baz", "u64", None), ("__data_loc_name", "u32", None),
                             ("__data", "char[]", None)]
    text = HEADER.replace("@BAZ@", "\n\t\t__field(u64, baz)")
    assert data["line"] == line_of(text, "TRACE_EVENT(foo,")
    lines = {f["name"]: f["line"] for f in data["fields"]}
    assert lines["baz"] == line_of(text, "__field(u64, baz)")
    assert lines["__data_loc_name"] == line_of(text, "__string(name, name)")
    old = srcdiff("show", "trace_event_raw_foo", "--at", "v5.10", "--repo", str(p.path),
                  "--format", "json").json()
    assert [f["name"] for f in old["fields"]] == ["ent", "bar", "__data_loc_name", "__data"]


def test_an_event_class_has_the_struct_and_its_events_do_not(tmp_path, srcdiff):
    p, _ = kernel(tmp_path)
    res = srcdiff("show", "trace_event_raw_foo_template", "--repo", str(p.path),
                  "--format", "json")
    assert res.code == 0, res.err
    assert members(res.json()) == [("ent", "struct trace_entry", None),
                                   ("comm", "char[16]", None), ("pid", "pid_t", None),
                                   ("__data", "char[]", None)]
    res = srcdiff("show", "trace_event_raw_foo_wakeup", "--repo", str(p.path))
    assert res.code == 2 and "not defined" in res.err and res.err.count("\n") == 1


def test_an_event_under_an_if_has_its_members_guarded(tmp_path, srcdiff):
    p, _ = kernel(tmp_path)
    dbg = srcdiff("show", "trace_event_raw_foo_debug", "--repo", str(p.path),
                  "--format", "json").json()
    assert members(dbg) == [("ent", "struct trace_entry", "CONFIG_FOO_DEBUG"),
                            ("id", "long", "CONFIG_FOO_DEBUG"),
                            ("__data_loc_buf", "u32", "CONFIG_FOO_DEBUG"),
                            ("__data", "char[]", "CONFIG_FOO_DEBUG")]
    nodebug = srcdiff("show", "trace_event_raw_foo_nodebug", "--repo", str(p.path),
                      "--format", "json").json()
    assert [(f["name"], f["guard"]) for f in nodebug["fields"]][1] == ("x", "!CONFIG_FOO_DEBUG")
    stat = srcdiff("show", "trace_event_raw_foo_stat_template", "--repo", str(p.path),
                   "--format", "json").json()
    assert [(f["name"], f["guard"]) for f in stat["fields"]][1] == ("n", "CONFIG_FOO_STATS")
    config = tmp_path / "config"
    config.write_text("CONFIG_FOO=y\n")
    (tmp_path / "deps.txt").write_text("trace_event_raw_foo_debug.id\ntrace_event_raw_foo.bar\n")
    res = srcdiff("check", str(tmp_path / "deps.txt"), "--repo", str(p.path), "--config-at",
                  f"v5.15={config}", "--format", "json")
    got = {d["struct"]: d["releases"] for d in res.json()["dependencies"]}
    assert got["trace_event_raw_foo_debug"]["v5.15"] == "config-off"
    assert got["trace_event_raw_foo"] == {"v5.10": "present", "v5.15": "present"}


def test_since_and_blame_name_the_commit_that_added_an_entry(tmp_path, srcdiff):
    p, shas = kernel(tmp_path)
    res = srcdiff("since", "trace_event_raw_foo.baz", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["first"]["tag"] == "v5.15" and data["first"]["commit"] == shas["baz"]
    assert data["present"] == ["v5.15"] and data["absent"] == ["v5.10"]
    blame = srcdiff("blame", "trace_event_raw_foo", "--repo", str(p.path), "--format", "json")
    intro = {f["name"]: f["introduced"]["subject"] for f in blame.json()["fields"]}
    assert intro["baz"] == "foo: record baz" and intro["bar"] == "tracing: add foo events"


def test_a_struct_written_out_is_read_rather_than_the_macro(tmp_path, srcdiff):
    p, _ = kernel(tmp_path)
    (p.path / "include/linux").mkdir()
    (p.path / "include/linux/foo_raw.h").write_text(
        "struct trace_event_raw_foo {\n\tint written_out;\n};\n")
    p.git("add", ".")
    p.git("commit", "-q", "-m", "spell it out", date="2023-01-01")
    p.git("tag", "v6.1")
    res = srcdiff("show", "trace_event_raw_foo", "--repo", str(p.path), "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["path"] == "include/linux/foo_raw.h"
    assert [f["name"] for f in res.json()["fields"]] == ["written_out"]
