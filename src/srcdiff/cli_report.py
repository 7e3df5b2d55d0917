"""cli_report: the ``srcdiff report``, ``check`` and ``graph`` commands (click).

They write a page or a file as well as text: each takes the common options except ``--format``
(each has its own formats), ``-o FILE``, and, for ``report``, a repeatable ``--config`` that
also accepts ``NAME=FILE[@ARCH]``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import click

from srcdiff import render
from srcdiff.cli import (
    EXIT_INCOMPLETE,
    Context,
    _finish,
    _history,
    _make_context,
    common_options,
    main,
    run_guarded,
)
from srcdiff.errors import SrcdiffError


def _own_command(formats: list[str], default: str, own_config: bool = False) -> Callable:
    """Like cli.command, but with FORMATS for --format (and, with OWN_CONFIG, a repeatable
    --config): the common options minus the ones these commands define themselves."""

    def deco(f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(**kw):
            out_format = kw.pop("out_format")
            kw["fmt"] = "json" if out_format == "json" else "text"
            configs: list[str] = list(kw.pop("config_values", ()) or ())

            def make_context() -> Context:
                if own_config:
                    from srcdiff.report import parse_config_spec

                    specs = [(v, parse_config_spec(v)) for v in configs]
                    plain = [v for v, s in specs if s is None]
                    if len(plain) > 1:
                        raise SrcdiffError("--config FILE given twice; name them: --config NAME=FILE")
                    kw["config_file"] = Path(plain[0]) if plain else None
                    kw["config_specs"] = [s for _v, s in specs if s is not None]
                return _make_context(kw)

            run_guarded(make_context, lambda ctx: f(ctx, out_format=out_format, **kw))

        wrapper = common_options(wrapper)
        drop = {"fmt", "config_file"} if own_config else {"fmt"}
        wrapper.__click_params__ = [p for p in wrapper.__click_params__ if p.name not in drop]
        wrapper = click.option("--format", "out_format", type=click.Choice(formats), default=default,
                               show_default=True, help="Output format.")(wrapper)
        if own_config:
            wrapper = click.option(
                "--config", "config_values", multiple=True, metavar="[NAME=]FILE[@ARCH]",
                help="A kernel .config. Plain FILE: read every release as the compiler would "
                     "(like other commands). NAME=FILE, repeatable: add a configuration group "
                     "comparing each named config with the first at --at (optionally on "
                     "arch ARCH, default --arch).")(wrapper)
        return wrapper

    return deco


def _write(output: Path | None, text: str) -> None:
    """TEXT to OUTPUT (written whole, then renamed into place) or to stdout."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SrcdiffError(f"{output}: cannot write: {exc.strerror or exc}") from None


_OUTPUT = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                       help="Write to this file instead of stdout.")


@main.command("report")
@click.argument("struct")
@click.option("--at", "at_rev", metavar="REV",
              help="Release of the configuration group (default: newest where the struct is).")
@click.option("--commit-url", metavar="TEMPLATE",
              help="Link commits: URL with {sha}, e.g. https://git.kernel.org/.../commit/?id={sha}.")
@click.option("--short", "short_", is_flag=True, help="Text/md: no definitions, one line a release.")
@_OUTPUT
@_own_command(["text", "md", "html", "json"], "text", own_config=True)
def report_cmd(ctx: Context, struct: str, at_rev: str | None, commit_url: str | None,
               short_: bool, output: Path | None, out_format: str, config_specs: list) -> int:
    """DepSurf's view, from source: every release's definition or "Absent", each consecutive pair with
    its changes and their commits, and named configurations compared at one release."""
    from srcdiff.report import build_report, config_group, report_json, report_md, report_text

    history, _b = _history(ctx, struct)
    group = None
    if config_specs:
        group = config_group(ctx.repo, ctx.cache, history, config_specs, ctx.read, at_rev)
    elif at_rev is not None:
        raise SrcdiffError("--at applies to the configuration group: give --config NAME=FILE")
    rep = build_report(history, group)
    if out_format == "json":
        text = render.dumps(report_json(rep))
    elif out_format == "md":
        text = report_md(rep, commit_url, definitions=not short_)
    elif out_format == "html":
        from srcdiff.html import report_html

        text = report_html(rep, commit_url)
    else:
        text = report_text(rep, definitions=not short_)
    _write(output, text)
    return _finish(ctx, history.warnings, history.incomplete)


@main.command("check")
@click.argument("deps", nargs=-1, required=True, metavar="DEPS.txt...")
@click.option("--config-at", "config_at", multiple=True, metavar="TAG=FILE",
              help="The configuration of one release (repeatable); --config: of the others.")
@click.option("--commit-url", metavar="TEMPLATE", help="HTML: link commits (URL with {sha}).")
@_OUTPUT
@_own_command(["text", "json", "md", "html"], "text")
def check_cmd(ctx: Context, deps: tuple[str, ...], config_at: tuple[str, ...],
              commit_url: str | None, output: Path | None, out_format: str) -> int:
    """Which releases each struct (or enum) dependency holds in: present, absent, no-struct,
    retyped, config-off. Exit 1 when one that is not an existence probe fails in a selected
    release."""
    from srcdiff.api import check_results
    from srcdiff.check import read_dependencies

    wanted = read_dependencies(list(deps))
    results, tags = check_results(ctx, wanted, _config_at(config_at),
                                  lambda c, name: _history(c, name, require=False))
    if out_format == "json":
        text = render.dumps({"versions": tags, "dependencies": [r.to_json() for r in results]})
    elif out_format == "md":
        text = render.check_md(results, tags)
    elif out_format == "html":
        from srcdiff.html import check_html

        text = check_html(results, tags, commit_url)
    else:
        text = render.check_text(results, tags)
    _write(output, text)
    return EXIT_INCOMPLETE if any(r.failed() for r in results) else 0


@main.command("graph")
@click.argument("struct")
@_OUTPUT
@_own_command(["dot", "graphml", "json"], "dot")
def graph_cmd(ctx: Context, struct: str, output: Path | None, out_format: str) -> int:
    """The history graph (versions and the changes on each edge) as dot, GraphML or JSON."""
    from srcdiff.graph_export import to_dot, to_graphml, to_json

    history, _b = _history(ctx, struct)
    if out_format == "json":
        text = render.dumps(to_json(history))
    elif out_format == "graphml":
        text = to_graphml(history)
    else:
        text = to_dot(history)
    _write(output, text)
    return _finish(ctx, history.warnings, history.incomplete)


def _config_at(items: tuple[str, ...]) -> dict[str, str]:
    """--config-at TAG=FILE options as {tag: file}; SrcdiffError for one that is not."""
    out = {}
    for item in items:
        tag, eq, path = item.partition("=")
        if not eq or not tag or not path:
            raise SrcdiffError(f"--config-at {item!r}: give TAG=FILE")
        out[tag] = path
    return out
