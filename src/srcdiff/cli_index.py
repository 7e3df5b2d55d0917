"""cli_index: the ``srcdiff index`` and ``srcdiff structs`` commands (click).

``index`` reads every struct of the selected releases into the cache database (srcdiff.index);
``structs`` answers whole-repository questions from it, indexing what is missing first.
"""

from __future__ import annotations

import json
import sys
import time

import click

from srcdiff.cli import Context, Progress, _emit, _warn, command, main
from srcdiff.errors import SrcdiffError
from srcdiff.plain import render_changed, render_having


def _store(ctx: Context):
    from srcdiff.index import IndexStore, fingerprint

    if ctx.cache.path is None:
        raise SrcdiffError("the index lives in the cache: drop --no-cache")
    return IndexStore(ctx.cache.path, fingerprint(ctx.read.arch))


def _index(ctx: Context, store, versions, scope: str, jobs: int | None):
    """Index VERSIONS (what is missing), with a progress bar; the stats."""
    from srcdiff.index import build_index

    progress = Progress(ctx.quiet, rate="files")
    try:
        return build_index(ctx.repo, versions, store, arch=ctx.read.arch, scope=scope, jobs=jobs,
                           progress=progress, warn=None if ctx.quiet else _warn)
    except KeyboardInterrupt:
        progress.close()
        store.close()
        click.echo("srcdiff: interrupted; what was indexed is kept, a rerun goes on from there",
                   err=True)
        sys.exit(130)
    finally:
        progress.close()


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
@command
def index_cmd(ctx: Context, headers_only: bool, jobs: int | None) -> int:
    """Read every struct and union of every selected release into the cache database, once per
    distinct file version; later questions (srcdiff structs) are lookups. Interrupted, a rerun
    goes on where it stopped."""
    from srcdiff.index import ALL, HEADERS, record_facts
    from srcdiff.versions import select_versions

    vs = select_versions(ctx.repo, **ctx.select, cache=ctx.cache)
    store = _store(ctx)
    try:
        stats = _index(ctx, store, vs.versions, HEADERS if headers_only else ALL, jobs)
        record_facts(ctx.repo, store)
    finally:
        store.close()
    _print_stats(ctx, stats)
    n = len(stats.releases)
    if stats.up_to_date == n:
        text = f"{n} release(s), all indexed before"
    else:
        text = (f"{n} release(s), {n - stats.up_to_date} indexed now: {stats.blobs} distinct files,"
                f" {stats.read} read ({stats.bodies} definitions), {stats.stored} indexed before;"
                f" {stats.seconds:.1f} s")
    _emit(ctx, text, stats.to_json())
    return 0


def _configs(ctx: Context, config_at: tuple[str, ...], tags: list[str]) -> dict:
    """Per tag, the configuration its guards are decided with: --config-at TAG=FILE, else
    --config (when one is given), else none (every member counts)."""
    from srcdiff.preprocess import Config

    default = ctx.read.config if ctx.read.config is not None and not ctx.read.config.host else None
    per_tag = {}
    for item in config_at:
        tag, eq, path = item.partition("=")
        if not eq or not tag or not path:
            raise SrcdiffError(f"--config-at {item!r}: give TAG=FILE")
        if tag not in tags:
            raise SrcdiffError(f"--config-at {tag}: not one of the releases asked about")
        per_tag[tag] = Config.from_file(path)
    return {t: per_tag.get(t, default) for t in tags if per_tag.get(t, default) is not None}


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
    from srcdiff.index import (
        ALL,
        HEADERS,
        record_facts,
        refs_state,
        structs_changed,
        structs_having,
    )
    from srcdiff.quick import selection_key
    from srcdiff.versions import revision_version, select_versions

    if (changed is None) == (has is None):
        raise SrcdiffError("give one of --changed A B or --has FIELD")
    scope = HEADERS if headers_only else ALL
    store = _store(ctx)
    t0 = time.perf_counter()
    try:
        if changed is not None:
            a, b = (revision_version(ctx.repo, r, i) for i, r in enumerate(changed))
            if a.commit == b.commit:
                raise SrcdiffError(f"nothing to compare: {changed[0]} and {changed[1]} are the"
                                   " same revision")
            stats = _index(ctx, store, [a, b], scope, jobs)
            scopes = {store.release_scope(v.commit) for v in (a, b)}
            common = HEADERS if HEADERS in scopes else ALL
            configs = _configs(ctx, config_at, [a.tag, b.tag])
            data = structs_changed(store, a, b, configs, ctx.read.arch, common)
            text = render_changed(data)
        else:
            before = refs_state(ctx.repo)
            vs = select_versions(ctx.repo, **ctx.select, cache=ctx.cache).versions
            stats = _index(ctx, store, vs, scope, jobs)
            configs = _configs(ctx, config_at, [v.tag for v in vs])
            data = structs_having(store, has, vs, configs, ctx.read.arch)
            text = render_having(data)
            if before is not None and before == refs_state(ctx.repo):
                # which releases these options select while the refs stay as they are
                sel = {f"--{k.replace('_', '-')}": v for k, v in ctx.select.items()}
                store.put_facts({selection_key(before, sel):
                                 json.dumps([[v.tag, v.commit] for v in vs])})
        record_facts(ctx.repo, store)
    finally:
        store.close()
    _print_stats(ctx, stats)
    if ctx.stats:
        click.echo(f"srcdiff: stats: query_seconds={time.perf_counter() - t0 - stats.seconds:.3f}",
                   err=True)
    _emit(ctx, text, data)
    return 0
