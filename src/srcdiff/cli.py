"""cli: the ``srcdiff`` command (click). Parses options, runs the pipeline, prints.

Errors meant for users (SrcdiffError) are caught here once and printed as one line.
Exit status: 0 complete, 1 printed but some version could not be read completely, 2 error.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from srcdiff import render
from srcdiff.cache import Cache, default_cache_dir
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.history import (
    DEFAULT_RENAME_THRESHOLD,
    Builder,
    History,
    Options,
)
from srcdiff.locate import ReadOptions
from srcdiff.plain import merge_warnings, warning_line

EXIT_INCOMPLETE = 1  # output printed, some version has a member not parsed; errors exit 2


def _warn(msg: str) -> None:
    click.echo(warning_line(msg), err=True)


@dataclass
class Context:
    """Everything a command needs, built from the common options."""

    repo: GitRepo
    cache: Cache
    read: ReadOptions
    fmt: str
    quiet: bool
    select: dict
    first_parent: bool
    follow: bool
    rename_threshold: float
    stats: bool = False

    def options(self, name: str) -> Options:
        """How to build the history of NAME, from the common options."""
        return Options(name=name, read=self.read, first_parent=self.first_parent,
                       follow=self.follow, rename_threshold=self.rename_threshold)


def common_options(f: Callable) -> Callable:
    opts = [
        click.option("--repo", "repo_path", type=click.Path(file_okay=False, path_type=Path),
                     help="Repository to read (default: the one containing the current directory)."),
        click.option("--path", "pin_path", metavar="FILE", help="Header that defines the struct (skip the search)."),
        click.option("--tags", metavar="GLOB|REGEX", help="Only tags matching this pattern."),
        click.option("--include-rc", is_flag=True, help="Also examine -rc tags."),
        click.option("--versions", metavar="LIST", help="Explicit versions, e.g. 4.4,4.8,5.4."),
        click.option("--tag-regex", metavar="REGEX", help="Version scheme: regex whose first group is the version."),
        click.option("--revs", metavar="A,B,C", help="Explicit revisions instead of tags, in this order."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Kernel .config: evaluate #if's as the compiler would."),
        click.option("-D", "defines", multiple=True, metavar="NAME[=VALUE]", help="Extra define (repeatable)."),
        click.option("-U", "undefs", multiple=True, metavar="NAME",
                     help="Take a predefined name away (repeatable)."),
        click.option("-I", "include_dirs", multiple=True, metavar="DIR",
                     help="Also look for #include's in DIR, relative to the repository root (repeatable)."),
        click.option("--arch", default="x86", show_default=True, help="Architecture for arch/ARCH/include."),
        click.option("--kind", type=click.Choice(["struct", "union", "enum"]),
                     help="Only a struct or only a union of that name; enum: the enum of that "
                          "name (its enumerators), read only when asked for."),
        click.option("--first-parent", is_flag=True, help="Attribute along first parents only."),
        click.option("--follow", is_flag=True, help="Continue under the new name after a rename."),
        click.option("--rename-threshold", type=click.FloatRange(0, 1), default=DEFAULT_RENAME_THRESHOLD,
                     show_default=True, help="Share of common members that makes a rename."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Where the cache lives (default: $XDG_CACHE_HOME/srcdiff)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
        click.option("--format", "fmt", type=click.Choice(["text", "json", "md"]), default="text", show_default=True),
        click.option("-q", "--quiet", is_flag=True, help="No progress or warnings on stderr."),
        click.option("--stats", is_flag=True, help="Print work counters and time on stderr."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _make_context(kw: dict) -> Context:
    from srcdiff.api import read_options

    repo = GitRepo(kw.pop("repo_path"))
    read = read_options(repo, config=kw.get("config_file"), defines=kw.get("defines") or (),
                        undefs=kw.pop("undefs", ()), arch=kw.pop("arch"), kind=kw.pop("kind"),
                        header=kw.pop("pin_path"), include_dirs=kw.pop("include_dirs", ()))
    quiet = kw.pop("quiet")
    cache_dir = kw.pop("cache_dir")
    cache_dir = None if kw.pop("no_cache") else (cache_dir or default_cache_dir())
    cache = Cache(cache_dir, warn=(lambda m: None) if quiet else _warn)
    kw.pop("config_file", None)
    kw.pop("defines", None)
    select = {k: kw.pop(k) for k in ("tags", "include_rc", "versions", "tag_regex", "revs")}
    return Context(repo, cache, read, kw.pop("fmt"), quiet, select, kw.pop("first_parent"),
                   kw.pop("follow"), kw.pop("rename_threshold"), kw.pop("stats"))


def run_guarded(make_context: Callable[[], Context], call: Callable[[Context], int]) -> None:
    """Build the Context and run CALL on it; a SrcdiffError becomes one line on stderr and its
    exit status, and the cache is always closed (pending writes land whole or not at all)."""
    ctx = None
    try:
        ctx = make_context()
        code = call(ctx)
    except SrcdiffError as exc:
        click.echo(f"srcdiff: error: {render.clean(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    finally:
        if ctx is not None:
            ctx.cache.close()
    sys.exit(code or 0)


def command(f: Callable) -> Callable:
    """Wrap a command: the common options, then run_guarded."""

    @common_options
    @functools.wraps(f)
    def wrapper(**kw):
        run_guarded(lambda: _make_context(kw), lambda ctx: f(ctx, **kw))

    return wrapper


class Progress:
    """A rich progress bar on stderr when it is a terminal (and not --quiet); else nothing.

    Quick runs stay silent: the bar appears once a run has taken DELAY seconds, from a timer,
    so that a step that blocks for long (a whole-tree search of a kernel tree takes seconds)
    shows while it runs, not only at the next update."""

    DELAY = 1.0

    def __init__(self, quiet: bool, rate: str | None = None):
        """RATE: the unit counted ("files"), to show the rate and the time left."""
        self.bar = None
        self.tasks: dict[str, int] = {}
        self._latest: dict[str, tuple[int, int]] = {}  # updates before the bar is shown
        self._lock = threading.Lock()
        self._shown = self._closed = self._due = False
        self._timer: threading.Timer | None = None
        if quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as RP

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        if rate:
            from rich.progress import TimeRemainingColumn

            columns += [_RateColumn(rate), TimeRemainingColumn()]
        self.bar = RP(*columns, console=Console(stderr=True, no_color="NO_COLOR" in os.environ),
                      transient=True)
        self._timer = threading.Timer(self.DELAY, self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._lock:
            self._due = True
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed or self._shown or not self._latest:
            return
        self._shown = True
        self.bar.start()
        for what, (done, total) in self._latest.items():
            self.tasks[what] = self.bar.add_task(what, total=total, completed=done)

    def __call__(self, what: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        with self._lock:
            if not self._shown:
                self._latest[what] = (done, total)
                if self._due:
                    self._start_locked()
                return
            if what not in self.tasks:
                self.tasks[what] = self.bar.add_task(what, total=total)
            self.bar.update(self.tasks[what], completed=done, total=total)

    def close(self) -> None:
        if self.bar is None:
            return
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._shown:
                self.bar.stop()


def _RateColumn(unit: str):
    """A progress column: how many UNIT a second, over the last seconds (rich's estimate)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"? {unit}/s")

    return RateColumn()


def _history(ctx: Context, name: str, require: bool = True) -> tuple[History, Builder]:
    from srcdiff import api

    progress = Progress(ctx.quiet)
    t0 = time.perf_counter()
    try:
        history, builder = api.history(ctx, name, progress, require)
    finally:
        progress.close()
    if ctx.stats:
        changed = sum(1 for _a, _b, d in history.graph.edges(data=True) if d["changes"])
        click.echo(f"srcdiff: stats: versions={len(history.versions.versions)} "
                   f"edges={history.graph.number_of_edges()} changed_edges={changed} "
                   f"parsed={builder.reader.parsed} git_commands={ctx.repo.commands} "
                   f"seconds={time.perf_counter() - t0:.3f}", err=True)
    return history, builder


def _finish(ctx: Context, warnings: list[str], incomplete: bool) -> int:
    """Print warnings, each once (merge_warnings); exit status 1 when some version has a
    member not parsed."""
    if not ctx.quiet:
        for w in merge_warnings(warnings):
            _warn(w)
    return EXIT_INCOMPLETE if incomplete else 0


def _emit(ctx: Context, text: str | None, obj: dict | None) -> None:
    if ctx.fmt == "json":
        click.echo(render.dumps(obj))
    else:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="srcdiff")
def main() -> None:
    """How a C struct changed across the releases of a git repository, and which commit did it."""


@main.command("log")
@click.argument("struct")
@click.option("--short", "short_", is_flag=True, help="One line per version, no definitions.")
@command
def log_cmd(ctx: Context, struct: str, short_: bool) -> int:
    """Per release: the definition or "absent", then what changed on each edge and by which commit."""
    history, _b = _history(ctx, struct)
    if ctx.fmt == "md":
        click.echo(render.changelog_md(history))
    else:
        _emit(ctx, render.log_text(history, definitions=not short_) if ctx.fmt == "text" else None,
              render.log_json(history) if ctx.fmt == "json" else None)
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("blame")
@click.argument("struct")
@click.option("--all", "all_", is_flag=True, help="Also members removed since, with the commit that removed them.")
@click.option("--at", "at", metavar="TAG", help="Blame the definition at this version (default: newest).")
@command
def blame_cmd(ctx: Context, struct: str, all_: bool, at: str | None) -> int:
    """Per member of the newest definition: the commit and first release that added it."""
    from srcdiff.blame import blame

    history, builder = _history(ctx, struct)
    tag, lines = blame(history, builder, include_removed=all_, at=at)
    node = history.node(tag)  # the name and file it has there (--follow: maybe not STRUCT's)
    word = "enum" if ctx.read.kind == "enum" else "struct"
    _emit(ctx, render.blame_text(struct, tag, lines, node["name"], node["path"], word),
          render.blame_json(struct, tag, lines, node["name"], node["path"]))
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("since")
@click.argument("spec", metavar="STRUCT.FIELD")
@click.argument("member", required=False, metavar="[FIELD]")
@command
def since_cmd(ctx: Context, spec: str, member: str | None) -> int:
    """Since which release and commit a member exists; where it is absent; how it changed."""
    from srcdiff.since import since, split_member

    struct, name = split_member(spec, member)
    history, builder = _history(ctx, struct)
    result = since(history, builder, name)
    _emit(ctx, render.since_text(result), result.to_json())
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("diff")
@click.argument("struct")
@click.argument("old")
@click.argument("new")
@command
def diff_cmd(ctx: Context, struct: str, old: str, new: str) -> int:
    """Members added, removed or retyped between two revisions, with the commits."""
    from srcdiff.compare import backported, diff_revisions

    opts = ctx.options(struct)
    history, changes = diff_revisions(ctx.repo, ctx.cache, opts, old, new)
    ported = backported(ctx.repo, ctx.cache, opts, history)
    word = "enum" if ctx.read.kind == "enum" else "struct"
    _emit(ctx, render.diff_text(struct, old, new, changes, ported, word),
          render.diff_json(struct, old, new, changes, ported))
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("changelog")
@click.argument("struct")
@click.option("--since", metavar="TAG", help="Oldest release to include.")
@click.option("--until", metavar="TAG", help="Newest release to include.")
@command
def changelog_cmd(ctx: Context, struct: str, since: str | None, until: str | None) -> int:
    """Markdown changelog of the struct, newest release first."""
    history, _b = _history(ctx, struct)
    tags = {v.tag for v in history.ordered()}
    for t in (since, until):
        if t is not None and t not in tags:
            raise SrcdiffError(f"--since/--until: {t} is not one of the examined versions")
    if ctx.fmt == "json":
        data = render.log_json(history)
        keep = {v.tag for v in render.version_range(history, since, until)}
        data["versions"] = [v for v in data["versions"] if v["tag"] in keep]
        data["changes"] = [c for c in data["changes"] if c["to"] in keep]
        click.echo(render.dumps(data))
    else:
        click.echo(render.changelog_md(history, since, until), nl=False)
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("show")
@click.argument("struct")
@click.option("--at", "rev", default="HEAD", show_default=True, help="Revision to read.")
@command
def show_cmd(ctx: Context, struct: str, rev: str) -> int:
    """The struct's definition at one revision."""
    from srcdiff.compare import struct_at

    commit, found = struct_at(ctx.repo, ctx.cache, struct, rev, ctx.read)
    sdef = found.sdef
    assert sdef is not None
    _emit(ctx, render.show_text(sdef, rev, commit), render.show_json(sdef, rev, commit))
    from srcdiff.index import record_facts_if_indexed

    record_facts_if_indexed(ctx.repo, ctx.cache.path, ctx.read.arch)  # for srcdiff.quick
    return _finish(ctx, [f"{rev}: {w}" for w in sdef.warnings], sdef.has_unparsed())


@main.command("versions")
@command
def versions_cmd(ctx: Context) -> int:
    """The versions that would be examined, in order, each with its predecessor on its release
    line; then the version-looking tags left out, and why."""
    from srcdiff.api import versions_data

    data = versions_data(ctx)
    rows = data["versions"]
    lines = [f"{r['tag']:<16} {r['commit'][:12]}  <- {r['parent'] or '(root)'}" for r in rows]
    by_reason: dict[str, list[str]] = {}
    for r in data["left_out"]:
        by_reason.setdefault(r["reason"], []).append(r["tag"])
    for why, tags in by_reason.items():
        shown = ", ".join(tags[:6]) + (f", … ({len(tags)} in all)" if len(tags) > 6 else "")
        lines.append(f"left out, {why}: {shown}")
    _emit(ctx, "\n".join(lines), data)
    return 0


@main.group("cache")
def cache_group() -> None:
    """Inspect or clear the cache."""


@cache_group.command("info")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def cache_info(cache_dir: Path | None, fmt: str) -> None:
    """Where the cache is and what it holds."""
    c = Cache(cache_dir or default_cache_dir())
    info = c.info()
    c.close()
    if fmt == "json":
        click.echo(render.dumps(info))
    else:
        click.echo(f"cache: {info['path']}")
        click.echo(f"size: {info.get('bytes', 0)} bytes")
        for ns, n in sorted(info["entries"].items()):
            click.echo(f"{ns}: {n} entries")


@cache_group.command("clear")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
def cache_clear(cache_dir: Path | None) -> None:
    """Delete every cached entry."""
    c = Cache(cache_dir or default_cache_dir())
    c.clear()
    c.close()
    click.echo(f"cleared {c.path}")

import srcdiff.cli_index  # noqa: F401,E402
import srcdiff.cli_report  # noqa: F401

if __name__ == "__main__":  # pragma: no cover
    main()
