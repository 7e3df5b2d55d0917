"""api: srcdiff as a Python library — the commands' answers as plain data, no text to parse.

    import srcdiff

    with srcdiff.open("~/src/linux", tags="v6.*") as repo:
        result = repo.check(["deps.txt"], config_at={"v6.1": "/boot/config-6.1"})
        broken = [d for d in result["dependencies"] if d["failed"]]

``srcdiff.open(path, **options)`` gives a ``Repository``; its methods return what the command
of the same name prints with ``--format json`` (the dicts of DESIGN.md): ``show``, ``log``,
``blame``, ``since``, ``check``, ``versions``, ``structs_changed`` and ``structs_has``
(``srcdiff structs --changed/--has``), ``index`` (``srcdiff index``'s counters). Every problem
the user can cause (not a repository, unknown struct or tag, unreadable config) raises
``srcdiff.SrcdiffError`` with the line the command prints; ``Repository.warnings`` holds the
last call's warnings. The commands call the functions below on their own context (any object
with the attributes of ``Repository`` but ``warnings``), so both give the same answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

from srcdiff.cache import Cache, default_cache_dir
from srcdiff.changes import DEFAULT_RENAME_THRESHOLD, Options
from srcdiff.errors import SrcdiffError
from srcdiff.gitrepo import GitRepo
from srcdiff.locate import ReadOptions

ConfigAt = dict[str, "str | os.PathLike"]


def open(path: str | os.PathLike | None = None, *, cache_dir: str | os.PathLike | None = None,
         cache: bool = True, config: str | os.PathLike | None = None,
         defines: Iterable[str] = (), undefs: Iterable[str] = (),
         include_dirs: Iterable[str] = (), arch: str = "x86", kind: str | None = None,
         header: str | None = None, tags: str | None = None, include_rc: bool = False,
         versions: str | Iterable[str] | None = None, tag_regex: str | None = None,
         revs: str | Iterable[str] | None = None, first_parent: bool = False,
         follow: bool = False, rename_threshold: float = DEFAULT_RENAME_THRESHOLD) -> Repository:
    """The repository at PATH (default: the one around the current directory), read with the
    commands' options: CONFIG (a .config), DEFINES/UNDEFS (-D/-U), INCLUDE_DIRS (-I), ARCH,
    KIND ("struct"/"union"), HEADER (--path); the releases: TAGS, INCLUDE_RC, VERSIONS,
    TAG_REGEX, REVS; CACHE_DIR (default as the command's), CACHE=False for none.
    Raises SrcdiffError."""
    repo = GitRepo(Path(path).expanduser() if path is not None else None)
    read = read_options(repo, config=config, defines=defines, undefs=undefs, arch=arch,
                        kind=kind, header=header, include_dirs=include_dirs)
    warnings: list[str] = []
    store = Cache(None if not cache else Path(cache_dir or default_cache_dir()).expanduser(),
                  warn=warnings.append)
    select = {"tags": tags, "include_rc": include_rc, "versions": _listed(versions),
              "tag_regex": tag_regex, "revs": _listed(revs)}
    return Repository(repo, store, read, select, first_parent, follow, rename_threshold,
                      warnings)


@dataclass
class Repository:
    """An open repository and how to read it (``srcdiff.open``). A context manager; ``close``
    writes the cache's last entries."""

    repo: GitRepo
    cache: Cache
    read: ReadOptions
    select: dict
    first_parent: bool = False
    follow: bool = False
    rename_threshold: float = DEFAULT_RENAME_THRESHOLD
    warnings: list[str] = field(default_factory=list)

    def options(self, name: str) -> Options:
        return Options(name=name, read=self.read, first_parent=self.first_parent,
                       follow=self.follow, rename_threshold=self.rename_threshold)

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.warnings.clear()

    def versions(self) -> dict:
        """The selected releases, each with its predecessor, and the tags left out
        (``srcdiff versions --format json``)."""
        self._start()
        return _plain(versions_data(self))

    def show(self, struct: str, at: str = "HEAD") -> dict:
        """STRUCT's definition at revision AT (``srcdiff show --format json``)."""
        from srcdiff import render
        from srcdiff.compare import struct_at

        self._start()
        commit, found = struct_at(self.repo, self.cache, struct, at, self.read)
        self.warnings += [f"{at}: {w}" for w in found.sdef.warnings]
        return _plain(render.show_json(found.sdef, at, commit))

    def log(self, struct: str) -> dict:
        """Per release STRUCT's definition or absence, and each change with its commits
        (``srcdiff log --format json``)."""
        from srcdiff import render

        self._start()
        h, _b = history(self, struct)
        self.warnings += h.warnings
        return _plain(render.log_json(h))

    def blame(self, struct: str, all: bool = False, at: str | None = None) -> dict:
        """Per member of STRUCT's newest definition (or at release AT) the commit and release
        that added it; ALL: removed members too (``srcdiff blame --format json``)."""
        self._start()
        data, h = blame_data(self, struct, all, at)
        self.warnings += h.warnings
        return _plain(data)

    def since(self, struct: str, field: str | None = None) -> dict:
        """Since which release and commit a member exists, where it is absent, how it changed
        (``srcdiff since --format json``). STRUCT may be "STRUCT.FIELD"."""
        from srcdiff.since import since, split_member

        self._start()
        name, member = split_member(struct, field)
        h, builder = history(self, name)
        self.warnings += h.warnings
        return _plain(since(h, builder, member).to_json())

    def check(self, deps: str | os.PathLike | Iterable[str | os.PathLike],
              config_at: ConfigAt | None = None) -> dict:
        """Which releases each dependency holds in (``srcdiff check --format json``). DEPS:
        files (a DEPS.txt, a CO-RE .bpf.o: a ``pathlib.Path``, or a string naming an existing
        file) and dependency lines ("task_struct.pid", "task_struct.pid int",
        "task_struct.__state?", "task_struct"). CONFIG_AT: tag -> that release's .config.
        A dependency's "failed" lists the releases where the program would not work."""
        self._start()
        results, tags = check_results(self, dependencies(deps), config_at or {})
        return _plain({"versions": tags, "dependencies": [r.to_json() for r in results]})

    def structs_changed(self, a: str, b: str, config_at: ConfigAt | None = None,
                        headers_only: bool = False, jobs: int | None = None) -> dict:
        """The structs added, removed and changed from A to B, with the members of each
        (``srcdiff structs --changed A B --format json``). What the index lacks is indexed
        first (JOBS processes; HEADERS_ONLY: headers only)."""
        self._start()
        data, _stats = structs_changed(self, a, b, config_at or {}, headers_only,
                                       self._indexer(jobs))
        return _plain(data)

    def structs_has(self, field: str, config_at: ConfigAt | None = None,
                    headers_only: bool = False, jobs: int | None = None) -> dict:
        """The structs with a member FIELD, per selected release, with its type there
        (``srcdiff structs --has FIELD --format json``)."""
        self._start()
        data, _stats = structs_has(self, field, config_at or {}, headers_only,
                                   self._indexer(jobs))
        return _plain(data)

    def index(self, jobs: int | None = None, headers_only: bool = False,
              export: str | os.PathLike | None = None, scheduler: str | None = None) -> dict:
        """Index every struct of the selected releases (``srcdiff index --format json``: what
        was read, how long it took); EXPORT: then write the index as Parquet tables into that
        new directory (``--export``; needs pyarrow), their row counts under "export";
        SCHEDULER: read on a Dask cluster ("tcp://HOST:8786", or "local"; needs dask)."""
        from srcdiff.index import ALL, HEADERS

        self._start()
        stats, exported = index_releases(self, HEADERS if headers_only else ALL,
                                         self._indexer(jobs, scheduler), export, scheduler)
        data = stats.to_json()
        if exported is not None:
            data["export"] = exported
        return _plain(data)

    def _indexer(self, jobs: int | None, scheduler: str | None = None) -> Indexer:
        from srcdiff.index import build_index

        def run(store, versions, scope):
            return build_index(self.repo, versions, store, arch=self.read.arch, scope=scope,
                               jobs=jobs, warn=self.warnings.append, scheduler=scheduler)

        return run


def _listed(value: str | Iterable[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def _plain(obj):
    """OBJ as the command's JSON reads back: lists, dicts, strings, numbers only."""
    return json.loads(json.dumps(obj))


# ---------------------------------------------------------------------------------------------
# What the commands share with Repository (S: a Repository or the CLI's Context)


def read_options(repo: GitRepo, *, config=None, defines: Iterable[str] = (),
                 undefs: Iterable[str] = (), arch: str = "x86", kind: str | None = None,
                 header: str | None = None, include_dirs: Iterable[str] = ()) -> ReadOptions:
    """How headers are read: CONFIG's #if's (a .config file); without one a Kconfig tree keeps
    every branch with its guard and any other project is read as the host compiler would;
    -D/-U on top."""
    from srcdiff.preprocess import Config

    cfg = None
    if config is not None:
        cfg = Config.from_file(config)
    elif not kconfig_tree(repo):
        cfg = Config.for_host()
    defines, undefs = list(defines), list(undefs)
    if defines or undefs:
        extra = Config.from_defines(defines, undefs)
        cfg = extra if cfg is None else cfg.merged(extra)
    if kind not in (None, "struct", "union", "enum"):
        raise SrcdiffError(f"kind {kind!r}: give struct, union or enum")
    return ReadOptions(kind=kind, config=cfg, arch=arch, pinned_path=header,
                       include_dirs=include_dirs_of(include_dirs))


def kconfig_tree(repo: GitRepo) -> bool:
    """Whether the repository is configured by Kconfig (a Kconfig file at the top of HEAD: the
    kernel, U-Boot, Zephyr ...): then, without --config, every #if branch is listed with its
    guard; any other project is read as the host compiler would (preprocess.Config.for_host)."""
    return repo.blob_id("HEAD", "Kconfig") is not None


def include_dirs_of(dirs: Iterable[str]) -> tuple[str, ...]:
    """-I directories as repository-relative paths; raises SrcdiffError for one outside."""
    import posixpath

    out = []
    for d in dirs:
        p = posixpath.normpath(d.strip())
        if p.startswith("/") or p == ".." or p.startswith("../"):
            raise SrcdiffError(f"-I {d}: give a directory inside the repository, relative to its root")
        out.append("" if p == "." else p)
    return tuple(dict.fromkeys(out))


def select(s):
    """The selected releases (versions.VersionSet)."""
    from srcdiff.versions import select_versions

    return select_versions(s.repo, **s.select, cache=s.cache)


def history(s, name: str, progress=None, require: bool = True):
    """(History, Builder) of struct NAME over the selected releases."""
    from srcdiff.history import build_history

    return build_history(s.repo, select(s), s.options(name), s.cache, progress, require)


def versions_data(s) -> dict:
    """``srcdiff versions``'s JSON."""
    vs = select(s)
    rows = [{"tag": v.tag, "commit": v.commit, "parent": vs.parent(v.tag), "rc": v.is_rc}
            for v in vs.versions]
    return {"versions": rows, "left_out": [{"tag": t, "reason": w} for t, w in vs.left_out]}


def blame_data(s, struct: str, all_: bool, at: str | None, history_of=None) -> tuple[dict, object]:
    """(``srcdiff blame``'s JSON, the History it was read from)."""
    from srcdiff import render
    from srcdiff.blame import blame

    h, builder = (history_of or history)(s, struct)
    tag, lines = blame(h, builder, include_removed=all_, at=at)
    node = h.node(tag)  # the name and file it has there (--follow: maybe not STRUCT's)
    return render.blame_json(struct, tag, lines, node["name"], node["path"]), h


def dependencies(deps) -> list:
    """check.Dependency's from DEPS: files, and lines as a DEPS.txt holds them."""
    from srcdiff.check import parse_dependency_lines, read_dependencies

    items = [deps] if isinstance(deps, (str, os.PathLike)) else list(deps)
    if not items:
        raise SrcdiffError("check: no dependency given")
    files = [os.fspath(d) for d in items if not isinstance(d, str) or os.path.isfile(d)]
    lines = [d for d in items if isinstance(d, str) and not os.path.isfile(d)]
    out = read_dependencies(files) if files else []
    return out + (parse_dependency_lines(lines, "check") if lines else [])


def check_results(s, wanted: list, config_at: ConfigAt, history_of=None) -> tuple[list, list]:
    """(check.Result per dependency of WANTED, the tags examined). The structs are read
    without a configuration so every member is known with its guard; CONFIG_AT (else the
    .config ``open``/--config gave) decides the guards per release."""
    from srcdiff.check import check
    from srcdiff.preprocess import Config

    history_of = history_of or (lambda s2, name: history(s2, name, require=False))
    default = s.read.config if s.read.config is not None and not s.read.config.host else None
    per_tag = {tag: Config.from_file(path) for tag, path in config_at.items()}
    if default is not None:
        s = replace(s, read=replace(s.read, config=None))
    results, tags = [], None
    # a struct's history and an enum's are read apart: an enum's with the kind "enum"
    for enum in (False, True):
        names = list(dict.fromkeys(d.struct for d in wanted if d.enum == enum))
        ks = replace(s, read=replace(s.read, kind="enum")) if enum else s
        if len(names) > 1 and not s.read.pinned_path:
            presearch(ks, names)
        for name in names:
            h, _b = history_of(ks, name)
            tags = [v.tag for v in h.ordered()]
            unknown = sorted(set(per_tag) - set(tags))
            if unknown:
                raise SrcdiffError(f"--config-at {unknown[0]}: not one of the examined versions")
            configs = {t: per_tag.get(t, default) for t in tags if per_tag.get(t, default)}
            results += [check(h, d, configs) for d in wanted if d.struct == name and d.enum == enum]
    return results, tags


def presearch(s, names: list[str]) -> None:
    """Search the trees for all of NAMES at once before their histories are built one by one
    (spread.Locator.presearch): two git greps per kind of file, not two per struct."""
    from srcdiff.history import Builder

    versions = select(s)
    if versions.versions:
        Builder(s.repo, versions, s.options(names[0]), s.cache).locator.presearch(names)


# The index: an Indexer is how a caller runs build_index (the CLI: with a progress bar and
# Ctrl-C handling): (store, versions, scope) -> index.IndexStats
Indexer = Callable[..., object]


def index_store(s):
    """The index in S's cache database (index.IndexStore); SrcdiffError without a cache."""
    from srcdiff.index import IndexStore, fingerprint

    if s.cache.path is None:
        raise SrcdiffError("the index lives in the cache: drop --no-cache")
    return IndexStore(s.cache.path, fingerprint(s.read.arch))


def index_releases(s, scope: str, run: Indexer, export: str | os.PathLike | None = None,
                   scheduler: str | None = None) -> tuple[object, dict | None]:
    """Index the selected releases (what is missing) in SCOPE: (index.IndexStats, with
    EXPORT a directory: the Parquet tables' row counts there, as export.export). SCHEDULER:
    RUN reads on a Dask cluster, whose library must be there."""
    from srcdiff.index import record_facts

    vs = select(s)
    if scheduler is not None:
        from srcdiff.cluster import _distributed

        _distributed()  # before the work
    if export is not None:
        from srcdiff.export import check_target, pyarrow_modules

        pyarrow_modules()  # before the work: a missing pyarrow or a taken directory stop it
        check_target(Path(export))
    store = index_store(s)
    try:
        stats = run(store, vs.versions, scope)
        record_facts(s.repo, store)
        exported = None
        if export is not None:
            from srcdiff.export import export as write

            parents = {v.tag: vs.parent(v.tag) for v in vs.versions}
            exported = write(store, vs.versions, parents, Path(export), s.read.arch)
        return stats, exported
    finally:
        store.close()


def release_configs(s, config_at: ConfigAt, tags: list[str]) -> dict:
    """Per tag, the configuration its guards are decided with: CONFIG_AT's, else the one
    ``open``/--config gave, else none (every member counts)."""
    from srcdiff.preprocess import Config

    default = s.read.config if s.read.config is not None and not s.read.config.host else None
    per_tag = {}
    for tag, path in config_at.items():
        if tag not in tags:
            raise SrcdiffError(f"--config-at {tag}: not one of the releases asked about")
        per_tag[tag] = Config.from_file(path)
    return {t: per_tag.get(t, default) for t in tags if per_tag.get(t, default) is not None}


def _fingerprints(configs: dict) -> dict[str, str]:
    return {tag: c.fingerprint() for tag, c in configs.items()}


def structs_changed(s, a: str, b: str, config_at: ConfigAt, headers_only: bool,
                    run: Indexer) -> tuple[dict, object]:
    """(``srcdiff structs --changed A B``'s JSON, the index's IndexStats for A and B)."""
    from srcdiff.index import ALL, HEADERS, record_facts
    from srcdiff.index import structs_changed as changed
    from srcdiff.indexdb import answer_key, remembered
    from srcdiff.versions import revision_version

    va, vb = (revision_version(s.repo, r, i) for i, r in enumerate((a, b)))
    if va.commit == vb.commit:
        raise SrcdiffError(f"nothing to compare: {a} and {b} are the same revision")
    store = index_store(s)
    try:
        stats = run(store, [va, vb], HEADERS if headers_only else ALL)
        scopes = {store.release_scope(v.commit) for v in (va, vb)}
        configs = release_configs(s, config_at, [va.tag, vb.tag])
        common = HEADERS if HEADERS in scopes else ALL
        key = answer_key(store, ["changed"], [va, vb], [common, common], _fingerprints(configs))
        data, stats.answer_kept = remembered(
            store, key, lambda: changed(store, va, vb, configs, s.read.arch, common))
        record_facts(s.repo, store)
    finally:
        store.close()
    return data, stats


def structs_has(s, member: str, config_at: ConfigAt, headers_only: bool,
                run: Indexer) -> tuple[dict, object]:
    """(``srcdiff structs --has FIELD``'s JSON, the index's IndexStats)."""
    from srcdiff.index import ALL, HEADERS, record_facts, refs_state, structs_having
    from srcdiff.indexdb import answer_key, remembered
    from srcdiff.quick import selection_key

    before = refs_state(s.repo)
    vs = select(s).versions
    store = index_store(s)
    try:
        stats = run(store, vs, HEADERS if headers_only else ALL)
        configs = release_configs(s, config_at, [v.tag for v in vs])
        key = answer_key(store, ["has", member], vs, [store.release_scope(v.commit) for v in vs],
                         _fingerprints(configs))
        data, stats.answer_kept = remembered(
            store, key, lambda: structs_having(store, member, vs, configs, s.read.arch))
        if before is not None and before == refs_state(s.repo):
            # which releases these options select while the refs stay as they are (the light
            # path, srcdiff.quick, answers --has from it)
            sel = {f"--{k.replace('_', '-')}": v for k, v in s.select.items()}
            store.put_facts({selection_key(before, sel):
                             json.dumps([[v.tag, v.commit] for v in vs])})
        record_facts(s.repo, store)
    finally:
        store.close()
    return data, stats
