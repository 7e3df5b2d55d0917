"""gitrepo: read-only access to the repository being examined.

Every object read goes through GitPython's persistent ``git cat-file --batch``;
every git process runs with settings that keep the repository's own code from running.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import git

from srcdiff.errors import SrcdiffError
from srcdiff.limits import MAX_COMMIT_MEMO, check_blob_size, max_blob_bytes, quote
from srcdiff.safegit import git_env, safe_git_env

DIRECTIVES = "#"  # commits_mentioning's key for commits changing a directive or a typedef
HEADLINE_CHARS = 100  # a subject shown in text is at most this long (CommitInfo.headline)


def headline(subject: str) -> str:
    """SUBJECT on one line for a person (CommitInfo.headline): whole up to HEADLINE_CHARS, else its
    first sentence when that ends within them, else its start cut with "…"."""
    if len(subject) <= HEADLINE_CHARS:
        return subject
    end = subject.find(". ", 0, HEADLINE_CHARS)
    return subject[: end + 1] if end > 0 else quote(subject, HEADLINE_CHARS)


@dataclass(frozen=True)
class CommitInfo:
    """What outputs say about a commit."""

    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    date: str  # ISO 8601 author date
    subject: str
    upstream: str | None = None  # the commit this one was cherry-picked or backported from
    upstream_by: str | None = None  # how that was found: "trailer", "patch-id", "subject"

    @property
    def headline(self) -> str:
        """The subject as text outputs show it on one line (headline(): a converted CVS log's
        first paragraph runs over many lines). JSON keeps the whole subject."""
        return headline(self.subject)

    def to_json(self) -> dict:
        d = {
            "commit": self.sha,
            "author": self.author,
            "email": self.email,
            "date": self.date,
            "subject": self.subject,
        }
        if self.upstream is not None:
            d["upstream"] = {"commit": self.upstream, "found_by": self.upstream_by}
        return d


class GitRepo:
    """A repository opened read-only. Raises SrcdiffError when PATH is not one."""

    def __init__(self, path: str | os.PathLike | None = None):
        start = Path(path or os.getcwd())
        if not start.exists():
            raise SrcdiffError(f"not a git repository: {start} (no such directory)")
        try:
            self.repo = git.Repo(start, search_parent_directories=path is None)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise SrcdiffError(f"not a git repository: {start}") from None
        except git.GitError as exc:  # pragma: no cover - depends on git's own complaints
            raise SrcdiffError(f"cannot open repository {start}: {exc}") from None
        self.repo.git.update_environment(**safe_git_env())
        self.git_dir = Path(self.repo.git_dir)
        self.common_dir = Path(self.repo.common_dir)  # refs live here (a worktree's is elsewhere)
        self.path = Path(self.repo.working_tree_dir or self.repo.git_dir)
        self._commits: dict[str, CommitInfo] = {}  # memo, oldest dropped past MAX_COMMIT_MEMO
        self._sizes: dict[str, tuple[int, str]] = {}  # blob id -> (size, a path it had)
        self.commands = 0  # git processes started (the two persistent cat-file ones included)
        self._batch: subprocess.Popen | None = None  # our own cat-file --batch-check
        self._cat: subprocess.Popen | None = None  # and --batch
        self._ids: dict[tuple[str, str], tuple[str, str, int] | None] = {}  # prime_blob_ids
        self._batch_lock = threading.Lock()
        # (pattern, rev, globs) -> files: grep answers given ahead for many names (remember_grep)
        self._grep_memo: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
        self._pcre: bool | None = None  # whether git grep -P works (None: not tried yet)
        try:
            self._run("rev-parse", "--git-dir")
        except SrcdiffError as exc:
            raise SrcdiffError(f"cannot read repository {start}: {exc}") from None

    # -- processes ---------------------------------------------------------------

    def _run(self, *args: str, input: bytes | None = None, ok_codes: tuple[int, ...] = (0,)) -> bytes:
        """Run one git command in this repository and return its stdout."""
        self.commands += 1
        proc = subprocess.run(  # noqa: PLW1510 - the exit status is checked below
            ["git", "--git-dir", str(self.git_dir), "--no-replace-objects", *args],
            input=input,
            capture_output=True,
            env=git_env(),
            cwd=str(self.git_dir),
        )
        if proc.returncode not in ok_codes:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SrcdiffError(f"git {args[0]} failed: {msg[-1] if msg else proc.returncode}")
        return proc.stdout

    def run_bytes(self, *args: str, input: bytes | None = None) -> bytes:
        """Stdout of one git command (SrcdiffError when it fails)."""
        return self._run(*args, input=input)

    def run_text(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return self._run(*args, ok_codes=ok_codes).decode("utf-8", "surrogateescape")

    # -- objects -----------------------------------------------------------------

    def _header(self, name: str) -> tuple[str, str, int] | None:
        """(object id, type, size) of an object name such as ``rev:path``, or None when missing."""
        return self.headers([name])[0]

    def headers(self, names: list[str]) -> list[tuple[str, str, int] | None]:
        """(object id, type, size) of each object name (``rev:path``, ids), None when missing:
        the lot in one pipelined exchange with a persistent ``git cat-file --batch-check``
        instead of a round trip each."""
        out: list[tuple[str, str, int] | None] = [None] * len(names)
        ask = [(i, n.encode("utf-8", "surrogateescape") + b"\n") for i, n in enumerate(names)
               if n and "\n" not in n]
        with self._batch_lock:
            proc = self._batch_check()
            while ask:
                # a missing name is echoed back whole: bound each chunk's bytes, not only its
                # count, so git's answers never fill a pipe while we are still writing
                chunk, size = [], 0
                while ask and len(chunk) < 256 and size < 16384:
                    chunk.append(ask.pop(0))
                    size += len(chunk[-1][1])
                proc.stdin.write(b"".join(line for _i, line in chunk))
                proc.stdin.flush()
                for i, _line in chunk:
                    line = proc.stdout.readline()
                    if not line:
                        self._batch = None
                        raise SrcdiffError("git cat-file stopped answering")
                    m = _HEADER_RE.match(line)
                    if m:
                        out[i] = (m.group(1).decode(), m.group(2).decode(), int(m.group(3)))
        return out

    def read_blobs(self, ids: list[str]) -> dict[str, bytes]:
        """Contents of the blobs IDS that exist and are within the size limit, in two pipelined
        exchanges with persistent ``git cat-file`` processes (sizes first: a blob over the limit
        is never asked for; read_blob names it when asked)."""
        return self._read_many(ids, "blob", max_blob_bytes())

    def prime_commits(self, shas: list[str]) -> None:
        """Read the commits SHAS that commit_info does not remember yet, in two pipelined
        exchanges instead of a round trip each."""
        ask = [s for s in shas if s not in self._commits]
        if len(ask) < 2:
            return
        got = self._read_many(ask, "commit")
        if len(self._commits) + len(got) > MAX_COMMIT_MEMO:
            return  # commit_info reads them one by one, within its bound
        for sha, data in got.items():
            self._commits[sha] = _parse_commit(sha, data)

    def _read_many(self, ids: list[str], kind: str, limit: int | None = None) -> dict[str, bytes]:
        """Contents of those of IDS that are objects of type KIND (and at most LIMIT bytes),
        in two pipelined exchanges: headers first (batch-check), then contents (batch)."""
        ask = [i for i in dict.fromkeys(ids) if _OID_RE.match(i)]
        ask = [i for i, h in zip(ask, self.headers(ask))
               if h is not None and h[1] == kind and (limit is None or h[2] <= limit)]
        out: dict[str, bytes] = {}
        with self._batch_lock:
            proc = self._cat_batch()
            for k in range(0, len(ask), 128):  # the requests stay well under a pipe's buffer
                chunk = ask[k : k + 128]
                proc.stdin.write("".join(i + "\n" for i in chunk).encode())
                proc.stdin.flush()
                for i in chunk:
                    m = _HEADER_RE.match(proc.stdout.readline())
                    data = proc.stdout.read(int(m.group(3)) + 1) if m else b""
                    if not m or len(data) != int(m.group(3)) + 1:
                        self._cat = None
                        raise SrcdiffError("git cat-file stopped answering")
                    out[i] = data[:-1]
        return out

    def _cat_batch(self) -> subprocess.Popen:
        if self._cat is None or self._cat.poll() is not None:
            self._cat = self._start_cat("--batch")
        return self._cat

    def _start_cat(self, mode: str) -> subprocess.Popen:
        self.commands += 1
        proc = subprocess.Popen(
            ["git", "--git-dir", str(self.git_dir), "--no-replace-objects", "cat-file", mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=git_env(), cwd=str(self.git_dir))
        weakref.finalize(self, _close, proc)
        return proc

    def _batch_check(self) -> subprocess.Popen:
        if self._batch is None or self._batch.poll() is not None:
            self._batch = self._start_cat("--batch-check")
        return self._batch

    def prime_blob_ids(self, revs: list[str], path: str) -> None:
        """Look up PATH at each of REVS in one exchange, for blob_id to answer from memory."""
        self._path_headers([(r, path) for r in revs])

    def path_headers(self, rev: str, paths: list[str]) -> list[tuple[str, str, int] | None]:
        """headers() of PATHS at the commit REV, remembered: a commit's files never change,
        and parsing asks for the same #include'd paths at one revision many times."""
        return self._path_headers([(rev, p) for p in paths])

    def _path_headers(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str, int] | None]:
        todo = [k for k in dict.fromkeys(pairs) if k not in self._ids]
        got = dict(zip(todo, self.headers([f"{r}:{p}" for r, p in todo])))
        out = [got[k] if k in got else self._ids[k] for k in pairs]
        if len(self._ids) + len(got) > MAX_COMMIT_MEMO:
            self._ids.clear()
        self._ids.update(got)
        return out

    def blob_id(self, rev: str, path: str) -> str | None:
        """Blob id of PATH at REV, or None when the file does not exist there or is not a blob
        (a submodule is a commit). A symlink is a blob holding the link's text: never followed."""
        key = (rev, path)
        h = self._ids[key] if key in self._ids else self._header(f"{rev}:{path}")
        if h is None or h[1] != "blob":
            return None
        if len(self._sizes) >= MAX_COMMIT_MEMO:
            self._sizes.clear()
        self._sizes[h[0]] = (h[2], path)  # read_blob checks the limit without asking again
        return h[0]

    def read_blob(self, sha: str) -> bytes:
        """Content of blob SHA. Raises BlobTooLarge (a SrcdiffError) over the size limit,
        checked from the object header before anything is read."""
        known = self._sizes.get(sha)
        if known is None:
            h = self._header(sha)
            known = (h[2], None) if h is not None else None
        if known is not None:
            size, name = known
            check_blob_size(f"{name} (blob {sha[:12]})" if name else f"blob {sha[:12]}", size)
        return self._read(sha)

    def read_file(self, rev: str, path: str) -> bytes | None:
        """Content of PATH at REV; None when it is missing, not a blob, or over the size limit
        (callers use this for #include's and rename hints, where a file can be done without)."""
        h = self._header(f"{rev}:{path}")
        if h is None or h[1] != "blob" or h[2] > max_blob_bytes():
            return None
        return self._read(h[0])

    def is_ancestor(self, old: str, new: str) -> bool:
        """Whether commit OLD is an ancestor of commit NEW (or NEW itself)."""
        self.commands += 1
        proc = subprocess.run(  # noqa: PLW1510 - the exit status is the answer
            ["git", "--git-dir", str(self.git_dir), "--no-replace-objects", "merge-base",
             "--is-ancestor", old, new], capture_output=True, env=git_env(), cwd=str(self.git_dir))
        if proc.returncode not in (0, 1):
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SrcdiffError(f"git merge-base failed: {msg[-1] if msg else proc.returncode}")
        return proc.returncode == 0

    def resolve(self, rev: str) -> str | None:
        """Commit id REV names, or None."""
        if rev.startswith("-"):
            return None
        h = self._header(f"{rev}^{{commit}}")
        return h[0] if h is not None and h[1] == "commit" else None

    def commit_info(self, sha: str) -> CommitInfo:
        info = self._commits.get(sha)
        if info is None:
            info = _parse_commit(sha, self.read_object_raw(sha))
            if len(self._commits) >= MAX_COMMIT_MEMO:
                self._commits.pop(next(iter(self._commits), None), None)  # FIFO; thread-safe
            self._commits[sha] = info
        return info

    def read_object_raw(self, sha: str) -> bytes:
        """Content of the object SHA (a commit, tree or blob id); SrcdiffError when missing."""
        return self._read(sha)

    def _read(self, oid: str) -> bytes:
        if not _OID_RE.match(oid):
            raise SrcdiffError(f"not an object id: {oid[:80]!r}")
        with self._batch_lock:
            proc = self._cat_batch()
            proc.stdin.write(oid.encode() + b"\n")
            proc.stdin.flush()
            head = proc.stdout.readline()
            m = _HEADER_RE.match(head)
            if not head:
                self._cat = None
                raise SrcdiffError("git cat-file stopped answering")
            if not m:
                raise SrcdiffError(f"object {oid[:12]} is not in this repository")
            data = proc.stdout.read(int(m.group(3)) + 1)
            if len(data) != int(m.group(3)) + 1:
                self._cat = None
                raise SrcdiffError("git cat-file stopped answering")
        return data[:-1]

    # -- history -----------------------------------------------------------------

    def is_shallow(self) -> bool:
        return bool(self.shallow_boundary())

    def shallow_boundary(self) -> list[str]:
        """The commits where a shallow clone's history stops ([] for a full one). Git keeps
        the list in the common directory, which a linked worktree shares."""
        f = self.common_dir / "shallow"
        return f.read_text().split() if f.exists() else []

    def _log_range(self, new: str, old: str | None, paths: list[str], first_parent: bool,
                   *how: str) -> str:
        """git log HOW over OLD..NEW (all of NEW's history when OLD is None) limited to PATHS."""
        args = ["log", "--no-show-signature", "--no-renames", *how]
        if first_parent:
            args.append("--first-parent")
        args.append(new)
        if old:
            args.append(f"^{old}")
        return self._run(*args, "--", *paths).decode("utf-8", "surrogateescape")

    def commits_touching(
        self, new: str, old: str | None, paths: list[str], first_parent: bool = False
    ) -> list[list]:
        """Commits in OLD..NEW that changed any of PATHS, parents before children, each as
        ``[sha, parents, {path: [blob in first parent, blob here]}]`` (a deleted or missing
        file is None; merges carry no blobs). One git process gives what would otherwise be
        two object look-ups per commit."""
        out = self._log_range(new, old, paths, first_parent, "--topo-order", "--reverse", "--raw",
                              "--no-abbrev", "-z", "--format=%x01%H %P")
        commits: list[list] = []
        for chunk in out.split("\x01")[1:]:
            head, _, rest = chunk.partition("\0")
            ids = head.split()
            blobs: dict[str, list] = {}
            fields = rest.lstrip("\n").split("\0")
            for meta, path in zip(fields[0::2], fields[1::2]):
                parts = meta.split()
                if len(parts) >= 4 and meta.startswith(":"):
                    blobs[path] = [_blob_or_none(parts[2]), _blob_or_none(parts[3])]
            commits.append([ids[0], ids[1:], blobs])
        return commits

    def commits_mentioning(self, new: str, old: str | None, paths: list[str], names: list[str],
                           first_parent: bool = False) -> dict[str, set[str]]:
        """For each of NAMES, the non-merge commits in OLD..NEW whose changes to PATHS add or
        remove a line with that word in it: where a member of that name can have come, gone or
        changed (one git process for every name). Under DIRECTIVES, the commits that change a
        preprocessor line or a typedef: where a member can change without its line changing."""
        out = self._log_range(new, old, paths, first_parent, "-p", "-U0", "--no-color",
                              "--no-ext-diff", "--no-textconv", "--format=%x01%H")
        word = re.compile(r"\b(" + "|".join(map(re.escape, sorted(set(names), key=len, reverse=True)))
                          + r")\b")
        found: dict[str, set[str]] = {n: set() for n in names}
        found[DIRECTIVES] = set()
        directive = re.compile(r"^[+-]\s*#|\btypedef\b", re.MULTILINE)
        for chunk in out.split("\x01")[1:]:
            sha, _, patch = chunk.partition("\n")
            changed = "\n".join(ln for ln in patch.split("\n")
                                 if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
            for m in set(word.findall(changed)):
                found[m].add(sha)
            if directive.search(changed):
                found[DIRECTIVES].add(sha)
        return found

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between the trees of two commits (no rename detection)."""
        out = self._run("diff-tree", "-r", "-z", "--no-renames", "--name-only", old, new)
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def grep_files(self, pattern: str, rev: str, paths: list[str] | None = None,
                   globs: tuple[str, ...] = ("*.h", "*.c"), word: str | tuple[str, ...] | None = None
                   ) -> list[str]:
        """Files at REV whose content matches the extended regex PATTERN (git grep -l), among
        PATHS, or among the files matching GLOBS when PATHS is None. WORD: a fixed string every
        match contains, to narrow many PATHS first (see grep_revs)."""
        if paths is None:
            return self.grep_revs(pattern, [rev], globs, word=word)[rev]
        if word is not None and len(paths) > 50:
            words = (word,) if isinstance(word, str) else word
            paths = self._grep_paths(["-F", "-w", *(a for w in words for a in ("-e", w))], rev, paths)
        return self._grep_paths(["-E", "-e", pattern], rev, paths)

    def _grep_paths(self, how: list[str], rev: str, paths: list[str]) -> list[str]:
        base = ["grep", "-l", "-z", "-I", "--no-color", "--no-textconv", *how, rev, "--"]
        found: list[str] = []
        for i in range(0, len(paths), 2000):  # keep command lines well under ARG_MAX
            out = self._run(*base, *(":(literal)" + p for p in paths[i : i + 2000]), ok_codes=(0, 1))
            found += _grep_names(out, rev)
        return found

    def grep_revs(self, pattern: str, revs: list[str], globs: tuple[str, ...],
                  word: str | tuple[str, ...] | None = None) -> dict[str, list[str]]:
        """For each of REVS (commit ids), the files matching GLOBS whose content matches PATTERN.
        With WORD (a fixed string every match contains, or several, one of which each match
        contains), files are first narrowed to those holding WORD as a word — a fixed-string
        search is several times faster than a regex over a kernel tree — and PATTERN runs on
        those alone. Answers given ahead (remember_grep) are not searched again."""
        known = {r: self._grep_memo[(pattern, r, tuple(globs))] for r in revs
                 if (pattern, r, tuple(globs)) in self._grep_memo}
        todo = [r for r in revs if r not in known]
        if not todo:
            return {r: list(known[r]) for r in revs}
        if word is not None:
            words = (word,) if isinstance(word, str) else word
            candidates = self._grep_l(["-F", "-w", *(a for w in words for a in ("-e", w))],
                                      todo, globs)
            found = {rev: self.grep_files(pattern, rev, paths) if paths else []
                     for rev, paths in candidates.items()}
        else:
            found = self._grep_l(["-E", "-e", pattern], todo, globs)
        return {r: list(known[r]) if r in known else found[r] for r in revs}

    def remember_grep(self, pattern: str, rev: str, globs: tuple[str, ...], paths: list[str]) -> None:
        """What grep_revs(PATTERN, [REV], GLOBS) answers, found by the caller another way (one
        search for many names at once, StructReader.presearch): the files matching."""
        self._grep_memo[(pattern, rev, tuple(globs))] = list(paths)

    def grep_words(self, words: list[str], rev: str, globs: tuple[str, ...]) -> list[str]:
        """Files at REV matching GLOBS that hold any of WORDS (git grep -F; not -w, which git
        checks pattern by pattern: 57 words took 44 s over a kernel's headers, 5 s without)."""
        how = ["-F"] + [x for w in words for x in ("-e", w)]
        return self._grep_l(how, [rev], globs)[rev]

    @property
    def has_pcre(self) -> bool | None:
        """Whether git grep -P works here (None: not tried yet)."""
        return self._pcre

    def grep_lines(self, pattern: str, rev: str, paths: list[str] | tuple[str, ...],
                   perl: str | None = None, literal: bool = True) -> list[tuple[str, str]]:
        """(path, line) for every line of PATHS at REV matching the extended regex PATTERN,
        in git's order (by path, then line); PATHS are pathspecs (globs) when not LITERAL.
        PERL: the same as a Perl-compatible regex, used where git has PCRE (several times
        faster for a long alternation)."""
        how = ["-P", "-e", perl] if perl is not None and self._pcre is not False else [
            "-E", "-e", pattern]
        base = ["grep", "-z", "-I", "--no-color", "--no-textconv", *how, rev, "--"]
        prefix = rev + ":"
        found: list[tuple[str, str]] = []
        step = 2000 if literal else max(len(paths), 1)
        for i in range(0, len(paths), step):  # keep command lines well under ARG_MAX
            specs = [":(literal)" + p for p in paths[i : i + step]] if literal else list(paths)
            try:
                out = self._run(*base, *specs, ok_codes=(0, 1))
            except SrcdiffError:
                if how[0] != "-P":
                    raise
                self._pcre = False  # a git built without PCRE: extended regexes from now on
                return self.grep_lines(pattern, rev, paths, literal=literal)
            if how[0] == "-P":
                self._pcre = True
            for rec in out.decode("utf-8", "surrogateescape").split("\n"):
                where, sep, text = rec.partition("\0")
                if sep and where.startswith(prefix):
                    found.append((where[len(prefix):], text))
        return found

    def _grep_l(self, how: list[str], revs: list[str], globs: tuple[str, ...]) -> dict[str, list[str]]:
        out = self._run("grep", "-l", "-z", "-I", "--no-color", "--no-textconv", *how,
                        *revs, "--", *globs, ok_codes=(0, 1))
        found: dict[str, list[str]] = {r: [] for r in revs}
        # -z: names end in NUL and are not quoted, so odd bytes and newlines in paths survive
        for line in out.decode("utf-8", "surrogateescape").split("\0"):
            rev, sep, path = line.partition(":")
            if sep and rev in found:
                found[rev].append(path)
        return found


_OID_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_HEADER_RE = re.compile(rb"^([0-9a-f]{40,64}) ([a-z]+) ([0-9]+)\n?$")


def _close(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001 - at exit, a git that will not stop is killed
        proc.kill()


def _blob_or_none(oid: str) -> str | None:
    return None if oid.strip("0") == "" else oid


def _grep_names(out: bytes, rev: str) -> list[str]:
    prefix = rev + ":"
    names = []
    for line in out.decode("utf-8", "surrogateescape").split("\0"):
        if not line:
            continue
        names.append(line.removeprefix(prefix))
    return names


_AUTHOR_RE = re.compile(r"^(?P<name>.*) <(?P<email>[^>]*)> (?P<ts>-?\d+) (?P<tz>[+-]\d{4})$")


def _parse_commit(sha: str, raw: bytes) -> CommitInfo:
    head, _, msg = raw.partition(b"\n\n")
    parents: list[str] = []
    author = email = date = ""
    encoding = "utf-8"
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"parent":
            parents.append(value.decode())
        elif key == b"author":
            m = _AUTHOR_RE.match(value.decode("utf-8", "replace"))
            if m:
                author, email = m["name"], m["email"]
                date = _iso_date(int(m["ts"]), m["tz"])
        elif key == b"encoding":
            encoding = value.decode("ascii", "replace")
    try:
        text = msg.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        text = msg.decode("utf-8", "replace")
    subject = text.strip().split("\n\n")[0].replace("\n", " ").strip()
    from srcdiff.backport import upstream_of

    up = upstream_of(text)
    return CommitInfo(sha, tuple(parents), author, email, date, subject, up,
                      "trailer" if up else None)


@cache
def _tz(tz: str):
    import datetime as dt

    sign = 1 if tz[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))


def _iso_date(ts: int, tz: str) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, _tz(tz)).isoformat()
