"""cli_index: the ``srcdiff index`` and ``srcdiff structs`` commands (click).

``index`` reads every struct of the selected releases into the cache database (srcdiff.index);
``structs`` answers whole-repository questions from it, indexing what is missing first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from srcdiff.cli import Context, Progress, _emit, _warn, command, main
from srcdiff.errors import SrcdiffError
from srcdiff.plain import render_changed, render_having


def _indexer(ctx: Context, jobs: int | None, scheduler: str | None = None):
    """An api.Indexer: build_index with a progress bar; Ctrl-C is one line and exit 130."""
    from srcdiff.index import build_index

    def run(store, versions, scope):
        progress = Progress(ctx.quiet, rate="files")
        try:
            return build_index(ctx.repo, versions, store, arch=ctx.read.arch, scope=scope,
                               jobs=jobs, progress=progress,
                               warn=None if ctx.quiet else _warn, scheduler=scheduler)
        except KeyboardInterrupt:
            progress.close()
            store.close()
            click.echo("srcdiff: interrupted; what was indexed is kept, a rerun goes on from"
                       " there", err=True)
            sys.exit(130)
        finally:
            progress.close()

    return run


def _print_stats(ctx: Context, stats) -> None:
    if ctx.stats:
        per_cpu = stats.bodies / stats.cpu if stats.cpu else 0.0
        click.echo(f"srcdiff: stats: releases={len(stats.releases)} files={stats.files} "
                   f"blobs={stats.blobs} stored_before={stats.stored} read={stats.read} "
                   f"definitions={stats.bodies} jobs={stats.jobs} cpu={stats.cpu:.2f} "
                   f"definitions_per_cpu_second={per_cpu:.0f} "
                   f"seconds={stats.seconds:.3f}", err=True)


@main.command("index")
@click.option("--headers-only", is_flag=True,
              help="Only header files (.h, .hh, .hpp), not sources.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Worker processes (default: all cores).")
@click.option("--export", "export", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Then write the index as Parquet tables into this new directory"
              " (definitions, members, changes; needs pyarrow).")
@click.option("--scheduler", metavar="tcp://HOST:8786|local",
              help="Read on a Dask cluster (its workers open the repository by this path), or"
              " 'local': a LocalCluster of -j processes (needs dask[distributed]).")
@command
def index_cmd(ctx: Context, headers_only: bool, jobs: int | None, export: Path | None,
              scheduler: str | None) -> int:
    """Read every struct and union of every selected release into the cache database, once per
    distinct file version; later questions (srcdiff structs) are lookups. Interrupted, a rerun
    goes on where it stopped."""
    from srcdiff.api import index_releases
    from srcdiff.index import ALL, HEADERS

    stats, exported = index_releases(ctx, HEADERS if headers_only else ALL,
                                     _indexer(ctx, jobs, scheduler), export, scheduler)
    _print_stats(ctx, stats)
    n = len(stats.releases)
    if stats.up_to_date == n:
        text = f"{n} release(s), all indexed before"
    else:
        text = (f"{n} release(s), {n - stats.up_to_date} indexed now: {stats.blobs} distinct files,"
                f" {stats.read} read ({stats.bodies} definitions), {stats.stored} indexed before;"
                f" {stats.seconds:.1f} s")
    data = stats.to_json()
    if exported is not None:
        data["export"] = exported
        text += (f"\nexported to {exported['directory']}: {exported['definitions']} definitions,"
                 f" {exported['members']} members, {exported['changes']} changes")
    _emit(ctx, text, data)
    return 0


@main.command("structs")
@click.option("--changed", nargs=2, metavar="A B",
              help="Structs added, removed and changed from A to B.")
@click.option("--has", "has", metavar="FIELD",
              help="Structs with a member of that name, per release.")
@click.option("--config-at", "config_at", multiple=True, metavar="TAG=FILE",
              help="The configuration of one release (repeatable); --config: of the others.")
@click.option("--headers-only", is_flag=True, help="Index headers only where an index is missing.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Worker processes for indexing what is missing (default: all cores).")
@command
def structs_cmd(ctx: Context, changed: tuple[str, str] | None, has: str | None,
                config_at: tuple[str, ...], headers_only: bool, jobs: int | None) -> int:
    """Whole-repository questions, answered from the index (what it lacks is indexed first):
    --changed A B, or --has FIELD over the selected releases."""
    from srcdiff import api
    from srcdiff.cli_report import _config_at

    if (changed is None) == (has is None):
        raise SrcdiffError("give one of --changed A B or --has FIELD")
    t0 = time.perf_counter()
    run = _indexer(ctx, jobs)
    if changed is not None:
        data, stats = api.structs_changed(ctx, *changed, _config_at(config_at), headers_only, run)
        text = render_changed(data)
    else:
        data, stats = api.structs_has(ctx, has, _config_at(config_at), headers_only, run)
        text = render_having(data)
    _print_stats(ctx, stats)
    if ctx.stats:
        click.echo(f"srcdiff: stats: query_seconds={time.perf_counter() - t0 - stats.seconds:.3f}"
                   f" answer={'kept' if stats.answer_kept else 'computed'}", err=True)
    _emit(ctx, text, data)
    return 0
