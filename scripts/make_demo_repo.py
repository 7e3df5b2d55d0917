"""Replay srcdiff's bundled demo history (corpus/history.toml) into a fresh git repository.
Deterministic: fixed names, emails and dates, so commit ids are the same on every machine."""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
import subprocess
import sys
import tempfile
import tomllib

CORPUS = pathlib.Path(__file__).resolve().parent.parent / "corpus"
DEFAULT_TAGGER = "torvalds"


class CorpusError(Exception):
    """The corpus is inconsistent (bad reference, edit that does not apply, merge conflict)."""


def build_demo_repo(dest: pathlib.Path) -> None:
    """Create DEST as a git repository holding the demo history, main checked out.

    Raises FileExistsError if DEST exists and is not an empty directory, CorpusError if the
    corpus is inconsistent, subprocess.CalledProcessError if git fails.
    """
    dest = pathlib.Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty")
    history = tomllib.loads((CORPUS / "history.toml").read_text(encoding="utf-8"))
    stream = _fast_import_stream(history)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="srcdiff-demo-home-") as home:
        env = _git_env(home)

        def git(*args: str, data: bytes | None = None) -> None:
            subprocess.run(["git", *args], cwd=dest, env=env, input=data, check=True,
                           stdout=subprocess.DEVNULL)

        git("init", "-q", "-b", "main", "--template=")
        git("fast-import", "--quiet", "--done", data=stream)
        git("reset", "-q", "--hard", "main")


def _git_env(home: str) -> dict[str, str]:
    """An environment in which no user or system git config can change the ids."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LC_ALL": "C",
           "TZ": "UTC", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return env


def _person(history: dict, key: str) -> str:
    try:
        return history["people"][key]
    except KeyError:
        raise CorpusError(f"unknown person {key!r} (add it to [people])") from None


def _stamp(when: _dt.datetime) -> str:
    """git's raw date format: epoch seconds and +hhmm offset."""
    if when.tzinfo is None:
        raise CorpusError(f"date {when} has no UTC offset")
    offset = int(when.utcoffset().total_seconds()) // 60
    sign = "-" if offset < 0 else "+"
    return f"{int(when.timestamp())} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def _data(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return b"data %d\n" % len(raw) + raw + b"\n"


def _message(commit: dict) -> str:
    body = commit.get("body", "").strip("\n")
    return commit["subject"] + ("\n\n" + body + "\n" if body else "\n")


def _apply_ops(tree: dict[str, bytes], commit: dict, where: str) -> dict[str, bytes]:
    """The tree after this commit's renames, deletes, writes and edits (in that order)."""
    tree = dict(tree)
    for op in commit.get("rename", []):
        if op["from"] not in tree:
            raise CorpusError(f"{where}: cannot rename missing {op['from']}")
        tree[op["to"]] = tree.pop(op["from"])
    for path in commit.get("delete", []):
        if tree.pop(path, None) is None:
            raise CorpusError(f"{where}: cannot delete missing {path}")
    for op in commit.get("write", []):
        if "file" in op:
            tree[op["path"]] = (CORPUS / op["file"]).read_bytes()
        elif "dir" in op:
            base = CORPUS / op["dir"]
            for f in sorted(base.rglob("*")):
                if f.is_file():
                    tree[f.relative_to(base).as_posix()] = f.read_bytes()
        else:
            tree[op["path"]] = op["content"].encode("utf-8")
    for op in commit.get("edit", []):
        path = op["path"]
        if path not in tree:
            raise CorpusError(f"{where}: cannot edit missing {path}")
        text = tree[path].decode("utf-8")
        count = text.count(op["old"])
        if count == 0 or (count > 1 and not op.get("all", False)):
            raise CorpusError(f"{where}: edit of {path} matches {count} times: {op['old']!r}")
        tree[path] = text.replace(op["old"], op["new"]).encode("utf-8")
    return tree


def _merge_trees(base: dict, ours: dict, theirs: dict, where: str) -> dict[str, bytes]:
    """File-level three-way merge; the corpus must not need content merges."""
    out = {}
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or t == b:
            pick = o
        elif o == b:
            pick = t
        else:
            raise CorpusError(f"{where}: both sides changed {path}")
        if pick is not None:
            out[path] = pick
    return out


def _fast_import_stream(history: dict) -> bytes:
    """Replay the commit list into the text that `git fast-import` reads."""
    out: list[bytes] = []
    trees: dict[int, dict[str, bytes]] = {}  # mark -> tree
    ancestors: dict[int, set[int]] = {}  # mark -> marks reachable from it (itself included)
    heads: dict[str, int] = {}  # branch -> mark
    ids: dict[str, int] = {}  # commit id or tag name -> mark

    def resolve(ref: str, where: str) -> int:
        for table in (ids, heads):
            if ref in table:
                return table[ref]
        raise CorpusError(f"{where}: unknown reference {ref!r}")

    for mark, commit in enumerate(history["commit"], start=1):
        where = f"commit {mark} ({commit['subject']!r})"
        branch = commit.get("branch", "main")
        if "parent" in commit:
            first = resolve(commit["parent"], where)
        else:
            first = heads.get(branch)
        parents = [first] if first is not None else []
        tree = trees[first] if first is not None else {}
        if "merge" in commit:
            other = resolve(commit["merge"], where)
            common = ancestors[first] & ancestors[other]
            base = trees[max(common)] if common else {}
            tree = _merge_trees(base, tree, trees[other], where)
            parents.append(other)
        tree = _apply_ops(tree, commit, where)
        trees[mark] = tree
        ancestors[mark] = {mark}.union(*(ancestors[p] for p in parents))
        heads[branch] = mark
        if "id" in commit:
            ids[commit["id"]] = mark

        author = _person(history, commit["author"])
        committer = _person(history, commit.get("committer", commit["author"]))
        date = commit["date"]
        commit_date = commit.get("commit_date", date)
        out.append(b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), mark))
        out.append(f"author {author} {_stamp(date)}\n".encode())
        out.append(f"committer {committer} {_stamp(commit_date)}\n".encode())
        out.append(_data(_message(commit)))
        for i, parent in enumerate(parents):
            out.append(b"%s :%d\n" % (b"from" if i == 0 else b"merge", parent))
        out.append(b"deleteall\n")
        for path in sorted(tree):
            out.append(b"M 100644 inline %s\n" % path.encode() + _data(tree[path]))
        out.append(b"\n")

        if "tag" in commit:
            name = commit["tag"]
            tagger = _person(history, commit.get("tagger", DEFAULT_TAGGER))
            text = commit.get("tag_message", "Linux " + name.removeprefix("v")) + "\n"
            out.append(f"tag {name}\nfrom :{mark}\ntagger {tagger} {_stamp(commit_date)}\n"
                       .encode() + _data(text))
            ids[name] = mark
    out.append(b"done\n")
    return b"".join(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: make_demo_repo.py DEST", file=sys.stderr)
        return 2
    try:
        build_demo_repo(pathlib.Path(args[0]))
    except FileExistsError as exc:
        print(f"make_demo_repo: {exc}", file=sys.stderr)
        return 2
    except CorpusError as exc:
        print(f"make_demo_repo: corpus error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
