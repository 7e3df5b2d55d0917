"""quick: ``show`` and ``structs`` answered from the index, with no git process and no parse.

srcdiff.fast asks here first. A question is answered only when everything that decides the
full pipeline's answer is known without git, and then with the same code the full commands
print with (srcdiff.plain, srcdiff.indexdb); anything else returns None and the full pipeline
runs. What is known without git:

- names: a tag, branch or HEAD is read from the ref files (loose refs, then packed-refs); an
  annotated tag's commit from packed-refs' peeled line, or from the index's record of that
  tag object (object ids never change meaning, so such a record is never stale). A name that
  more than one ref could mean, a symbolic ref other than HEAD, an abbreviated id: not here.
- what a release holds: the index's entry for its commit (content-addressed too).
- which releases ``structs --has`` examines: recorded by the full command under the state of
  every ref (names and values) and its selection options; any ref that changes misses it.
- whether HEAD's tree is a Kconfig tree (how ``show`` reads without --config): recorded per
  commit.

``structs --changed`` / ``--has``: the answer (the JSON model the renderers take) is stored in
the index under a key of all that fixes it (indexdb.answer_key: the releases' labels, commits
and scopes, their configurations' fingerprints, the index's fingerprint), by the full command
and by this path after computing one; it is read first. A .config is known by the sha256 of its
bytes: its fingerprint and settings are stored too, so it is parsed once.

``show`` under --config: the index keeps every member with its guard, and a configuration is
applied by dropping members (indexdb.configured). That is what ``show --config`` prints only
when nothing else in the definition depends on the configuration, so here it is answered only
for definitions whose guards are CONFIG_ names (with ! && || and parentheses), whose types
and widths hold no macro, and that read without warnings.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

COMMANDS = ("show", "structs")
_VALUE_OPTS = {
    "show": {"--repo", "--cache-dir", "--config", "--at", "--format", "--arch"},
    "structs": {"--repo", "--cache-dir", "--config", "--format", "--arch", "--has", "--jobs",
                "-j", "--tags", "--versions", "--tag-regex", "--revs"},
}
_FLAGS = {"show": {"-q", "--quiet"}, "structs": {"-q", "--quiet", "--headers-only", "--include-rc"}}
_SELECT = ("--tags", "--include-rc", "--versions", "--tag-regex", "--revs")
# environment variables of git that change nothing srcdiff reads (transport, identities, editors)
_GIT_HARMLESS = ("GIT_SSL_", "GIT_HTTP_", "GIT_SSH", "GIT_ASKPASS", "GIT_AUTHOR_",
                 "GIT_COMMITTER_", "GIT_PAGER", "GIT_EDITOR", "GIT_TERMINAL_PROMPT")
_HEX40 = re.compile(r"[0-9a-f]{40}\Z")
_REF_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+/-]*\Z")
_GUARD_TOKEN = re.compile(r"\s*(CONFIG_\w+|defined\b|&&|\|\||!|\(|\))")
_DIM_MACRO = re.compile(r"\[[^\]]*[A-Za-z_]")


class _Pass(Exception):
    """Not answered here: the full pipeline decides."""


def answer(argv: list[str]) -> tuple[int, str, str] | None:
    """(exit status, stdout, stderr) of ARGV answered from the index, or None."""
    if not argv or argv[0] not in COMMANDS or any(
            k.startswith("GIT_") and not k.startswith(_GIT_HARMLESS) for k in os.environ):
        return None  # git told to look elsewhere (GIT_DIR, GIT_CONFIG_*, ...) or to trace
    try:
        opts, args = _parse(argv[0], argv[1:])
        common = _git_dir(opts.get("--repo"))
        refs = Refs(common)
        from srcdiff.indexdb import IndexStore, fingerprint
        from srcdiff.paths import default_cache_dir

        cache = Path(opts.get("--cache-dir") or default_cache_dir()) / "cache.sqlite"
        if not cache.is_file():
            raise _Pass
        arch = opts.get("--arch", "x86")
        store = IndexStore.reader(cache, fingerprint(arch))
        if store is None:
            raise _Pass
        kept: list = []  # what to store (in one writing connection, after the answer)
        try:
            if argv[0] == "show":
                got = _show(store, refs, opts, args, arch, kept)
            else:
                got = _structs(store, refs, opts, args, arch, kept)
        finally:
            store.db.close()
        _keep(cache, store.fp, kept)
        return got
    except _Pass:
        return None
    except Exception:  # noqa: BLE001 - whatever goes wrong here, the full pipeline says it
        return None


# -- the command line ---------------------------------------------------------------------


def _parse(cmd: str, argv: list[str]) -> tuple[dict, list[str]]:
    """Options (name -> value; --config-at and --changed as lists) and arguments of ARGV, in
    click's spelling; _Pass for anything else, or an option given twice."""
    values, flags = _VALUE_OPTS[cmd], _FLAGS[cmd]
    opts: dict = {}
    args: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=") if a.startswith("--") else (a, "", "")
        if a == "--" or (a.startswith("-") and a != "-" and name not in values | flags
                         and not (cmd == "structs" and name in ("--config-at", "--changed"))):
            raise _Pass
        if not a.startswith("-"):
            args.append(a)
        elif name in flags:
            if eq:
                raise _Pass
            _put(opts, name, True)
        elif name == "--changed":
            if eq or i + 2 >= len(argv):
                raise _Pass
            _put(opts, name, argv[i + 1 : i + 3])
            i += 2
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise _Pass
                val = argv[i]
            if name == "--config-at":
                opts.setdefault(name, []).append(val)
            else:
                _put(opts, name, val)
        i += 1
    if opts.get("--format", "text") not in ("text", "json", "md"):
        raise _Pass
    if "-j" in opts or "--jobs" in opts:
        j = opts.get("-j", opts.get("--jobs"))
        if "-j" in opts and "--jobs" in opts or not j.isdigit() or int(j) < 1:
            raise _Pass
    if cmd == "show" and len(args) != 1:
        raise _Pass
    if cmd == "structs" and (args or ("--changed" in opts) == ("--has" in opts)):
        raise _Pass
    if any(len(v) != 2 for k, v in opts.items() if k == "--changed"):
        raise _Pass
    return opts, args


def _put(opts: dict, name: str, value) -> None:
    alias = {"-q": "--quiet"}.get(name, name)
    if alias in opts:
        raise _Pass  # click keeps the last; rare enough to leave to it
    opts[alias] = value


# -- the repository, without git ----------------------------------------------------------


def _git_dir(repo: str | None) -> str:
    """The git directory of --repo REPO (as GitPython takes it: that directory itself) or of
    the repository around the working directory; _Pass for worktrees, another owner's
    repository (git refuses those), a shallow clone, grafts or a reftable."""
    if repo is None:
        d = os.path.realpath(os.getcwd())
        while not _is_top(d):
            parent = os.path.dirname(d)
            if parent == d:
                raise _Pass
            d = parent
    else:
        d = os.path.realpath(repo)
        if not _is_top(d):
            raise _Pass
    dotgit = os.path.join(d, ".git")
    git_dir = dotgit if os.path.isdir(dotgit) else d
    if (os.path.exists(os.path.join(git_dir, "commondir")) or os.stat(git_dir).st_uid != os.getuid()
            or any(os.path.exists(os.path.join(git_dir, n))
                   for n in ("shallow", "info/grafts", "reftable"))):
        raise _Pass
    return git_dir


def _is_top(d: str) -> bool:
    dotgit = os.path.join(d, ".git")
    if os.path.exists(dotgit):
        if not (os.path.isdir(dotgit) and os.path.isfile(os.path.join(dotgit, "HEAD"))):
            raise _Pass  # a worktree's or submodule's .git file: git's rules, not ours
        return True
    return all(os.path.exists(os.path.join(d, n)) for n in ("HEAD", "objects", "refs"))


class Refs:
    """The repository's refs read from its files."""

    def __init__(self, git_dir: str):
        self.dir = git_dir
        self.packed: dict[str, str] = {}
        self.peeled: dict[str, str] = {}
        try:
            with open(os.path.join(git_dir, "packed-refs"), encoding="utf-8") as f:
                last = None
                for line in f:
                    if line.startswith("#"):
                        continue
                    if line.startswith("^"):
                        if last is None:
                            raise _Pass
                        self.peeled[last] = line[1:].strip()
                        continue
                    oid, _sp, name = line.strip().partition(" ")
                    self.packed[name] = oid
                    last = name
        except FileNotFoundError:
            pass

    def value(self, name: str) -> str | None:
        """The object id ref NAME holds (loose, else packed); None when there is no such ref;
        _Pass for a symbolic ref or anything unexpected."""
        path = os.path.join(self.dir, *name.split("/"))
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                text = f.read().strip()
            if not _HEX40.match(text):
                raise _Pass
            return text
        if os.path.exists(path):
            return None  # a directory of refs (refs/tags/a/ for a/b), not a ref
        return self.packed.get(name)

    def head(self) -> str:
        """The commit HEAD names."""
        with open(os.path.join(self.dir, "HEAD"), encoding="utf-8") as f:
            text = f.read().strip()
        if text.startswith("ref: "):
            target = text[5:]
            if not target.startswith("refs/heads/"):
                raise _Pass
            oid = self.value(target)
            if oid is None:
                raise _Pass  # an unborn branch
            return oid
        if not _HEX40.match(text):
            raise _Pass
        return text

    def commit(self, rev: str, store) -> str:
        """The commit REV names, as ``git cat-file REV^{commit}`` would find it; _Pass when
        that takes git."""
        if rev == "HEAD":
            return self.head()
        if _HEX40.match(rev):
            return rev  # an object id names itself (the index's entries are commits)
        if (not _REF_NAME.match(rev) or ".." in rev or "//" in rev or rev.endswith(("/", ".lock"))
                or re.fullmatch(r"[0-9a-fA-F]{4,40}", rev)
                or os.path.exists(os.path.join(self.dir, rev))):
            raise _Pass  # an abbreviated id, a pseudo-ref (ORIG_HEAD), a revision expression
        found = [(n, v) for n in (f"refs/{rev}", f"refs/tags/{rev}", f"refs/heads/{rev}",
                                  f"refs/remotes/{rev}", f"refs/remotes/{rev}/HEAD")
                 if (v := self.value(n)) is not None]
        if len(found) != 1:
            raise _Pass  # none (maybe a release label: the full path knows), or ambiguous
        name, oid = found[0]
        if name.startswith("refs/heads/"):
            return oid
        if name in self.peeled and name in self.packed and oid == self.packed[name]:
            return self.peeled[name]
        peeled = store.fact(f"peel:{oid}")
        if peeled is None:
            raise _Pass
        return peeled

    def state(self) -> str:
        """Every ref and its value, and HEAD: a digest that changes whenever any ref does."""
        refs = dict(self.packed)
        top = os.path.join(self.dir, "refs")
        for root, _dirs, files in os.walk(top):
            for fn in files:
                path = os.path.join(root, fn)
                name = "refs/" + os.path.relpath(path, top).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="surrogateescape") as f:
                    refs[name] = f.read().strip()
        with open(os.path.join(self.dir, "HEAD"), encoding="utf-8", errors="surrogateescape") as f:
            head = f.read().strip()
        text = "\n".join(f"{n} {v}" for n, v in sorted(refs.items())) + f"\nHEAD {head}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def selection_key(refs_state: str, opts: dict) -> str:
    """The key under which ``structs --has`` keeps the releases it examined: the refs' state
    and the selection options (OPTS: option -> value, None when not given)."""
    sel = "\0".join(f"{k}={opts.get(k) or None}" for k in _SELECT)
    return "select:" + hashlib.sha256(f"{refs_state}\0{sel}".encode()).hexdigest()


# -- answers --------------------------------------------------------------------------------


class ConfigFile:
    """A .config named on the command line, known by the sha256 of its bytes: its fingerprint
    and settings from the index when parsed before (then it is not parsed again)."""

    def __init__(self, path: str, store, kept: list):
        with open(path, "rb") as f:
            self.data = f.read()
        self.path, self.store, self.kept = path, store, kept
        self.sha = hashlib.sha256(self.data).hexdigest()
        self._config = None

    def fingerprint(self) -> str:
        fp = self.store.config_fingerprint(self.sha)
        return fp if fp is not None else self.config().fingerprint()

    def config(self):
        """The preprocess.Config of the file (Config.from_file's)."""
        if self._config is None:
            from srcdiff.preprocess import Config

            values = self.store.config_values(self.sha)
            if values is None:
                self._config = Config.from_bytes(self.data, self.path)
                self.kept.append(lambda s, c=self._config: s.put_config(self.sha, c))
            else:
                self._config = Config(values=values)
        return self._config


def _keep(cache: Path, fp: str, kept: list) -> None:
    """Store KEPT (functions of an IndexStore) in the index; a failure only loses them."""
    if not kept:
        return
    try:
        from srcdiff.indexdb import IndexStore

        store = IndexStore(cache, fp)
        try:
            for put in kept:
                put(store)
        finally:
            store.db.close()
    except Exception:  # noqa: BLE001 - a read-only cache, a busy database: answered all the same
        pass


def _show(store, refs: Refs, opts: dict, args: list[str], arch: str,
          kept: list) -> tuple[int, str, str]:
    from srcdiff.indexdb import _comparable, configured, pick
    from srcdiff.model import StructDef
    from srcdiff.plain import dumps, merge_warnings, show_json, show_text, warning_line

    name, rev = args[0], opts.get("--at", "HEAD")
    if name.startswith("trace_event_raw_"):
        raise _Pass  # found through the TRACE_EVENT call: the full search's business
    commit = refs.commit(rev, store)
    scope = store.release_scope(commit)
    config = None if "--config" not in opts else ConfigFile(opts["--config"], store,
                                                             kept).config()
    if scope is None or (config is None and store.fact(f"kconfig:{refs.head()}") != "1"):
        raise _Pass  # not indexed; or read as the host compiler would (the index is not)
    cands = _comparable(store.candidates_of(commit, name), scope)
    if not cands or any(c.alias for c in cands):
        raise _Pass
    c = pick(cands, arch)
    d = store.definition_json(c.blob, name)
    if d is None or d.get("path") != c.path or (config is not None and not _config_free(d)):
        raise _Pass
    sdef = StructDef.from_json(d)
    if config is not None:
        sdef = configured(sdef, config)
    fmt = opts.get("--format", "text")
    out = dumps(show_json(sdef, rev, commit)) if fmt == "json" else show_text(sdef, rev, commit)
    err = "" if opts.get("--quiet") else "".join(
        warning_line(w) + "\n" for w in merge_warnings([f"{rev}: {w}" for w in sdef.warnings]))
    return (1 if sdef.has_unparsed() else 0), out + "\n", err


def _config_free(d: dict) -> bool:
    """Whether a configuration changes the stored reading D only by dropping members: no
    warning, guards of CONFIG_ names only, no macro in a type or width, nothing unparsed."""
    if d.get("warnings"):
        return False
    todo = list(d["fields"])
    while todo:
        f = todo.pop()
        g = f.get("guard")
        if g is not None and _GUARD_TOKEN.sub("", g).strip():
            return False
        if (f.get("unparsed") is not None or not isinstance(f.get("bits", 0), int)
                or "CONFIG_" in f["type"] or _DIM_MACRO.search(f["type"])):
            return False
        todo.extend(f.get("fields", ()))
    return True


def _structs(store, refs: Refs, opts: dict, args: list[str], arch: str,
             kept: list) -> tuple[int, str, str]:
    """structs --changed / --has: the answer the full command (or an earlier one here) stored
    under the key of all that fixes it (indexdb.answer_key), else computed and stored."""
    from srcdiff.indexdb import ALL, HEADERS, Release, answer_key, structs_changed, structs_having
    from srcdiff.plain import dumps, render_changed, render_having

    scope = HEADERS if opts.get("--headers-only") else ALL
    if "--changed" in opts:
        if any(k in opts for k in _SELECT):
            raise _Pass
        a, b = opts["--changed"]
        versions = [Release(a, refs.commit(a, store)), Release(b, refs.commit(b, store))]
        if versions[0].commit == versions[1].commit:
            raise _Pass  # an error: the full path words it
    else:
        import json

        got = store.fact(selection_key(refs.state(), {k: opts.get(k) for k in _SELECT}))
        if got is None:
            raise _Pass
        versions = [Release(t, c) for t, c in json.loads(got)]
    scopes = [store.release_scope(v.commit) for v in versions]
    if not set(scopes) <= {scope, ALL}:
        raise _Pass  # the full command would index first
    files = _config_files(store, opts, [v.tag for v in versions], kept)
    fps = {t: f.fingerprint() for t, f in files.items()}
    if "--changed" in opts:
        common = HEADERS if HEADERS in scopes else ALL
        key = answer_key(store, ["changed"], versions, [common, common], fps)
        data = store.answer(key)
        if data is None:
            configs = {t: f.config() for t, f in files.items()}
            data = structs_changed(store, versions[0], versions[1], configs, arch, common)
            kept.append(lambda s: s.put_answer(key, data))
        text = render_changed(data)
    else:
        key = answer_key(store, ["has", opts["--has"]], versions, scopes, fps)
        data = store.answer(key)
        if data is None:
            configs = {t: f.config() for t, f in files.items()}
            data = structs_having(store, opts["--has"], versions, configs, arch)
            kept.append(lambda s: s.put_answer(key, data))
        text = render_having(data)
    out = dumps(data) if opts.get("--format") == "json" else text
    return 0, out + "\n", ""


def _config_files(store, opts: dict, tags: list[str], kept: list) -> dict[str, ConfigFile]:
    """As cli_index._configs: per tag, --config-at TAG=FILE, else --config, else none."""
    default = None if "--config" not in opts else ConfigFile(opts["--config"], store, kept)
    per_tag = {}
    for item in opts.get("--config-at", ()):
        tag, eq, path = item.partition("=")
        if not eq or not tag or not path or tag not in tags:
            raise _Pass  # an error
        per_tag[tag] = ConfigFile(path, store, kept)
    return {t: per_tag.get(t, default) for t in tags if per_tag.get(t, default) is not None}


def main() -> None:
    """Answer sys.argv here or exit 3 (for trying this path alone)."""
    got = answer(sys.argv[1:])
    if got is None:
        sys.exit(3)
    code, out, err = got
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(code)


if __name__ == "__main__":
    main()
