"""srcdiff.quick: show and structs answered from the index with no git process and no heavy
import, byte for byte as the full pipeline answers, and never from a ref that moved."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git

from tests.test_index import _repo as kernel_repo

from srcdiff.cli import main

BIN = Path(sys.executable).parent
HEAVY = ("click", "git", "pycparser", "networkx", "srcdiff.cli", "srcdiff.gitrepo")

ALPHA_1 = """#ifndef FOO_H
#define FOO_H
struct alpha {
\tint x;
#ifdef CONFIG_B
\tint y;
#else
\tlong y;
#endif
\tunsigned int flag : 1;
\tunion { int u; char c[4]; };
};
struct beta { long l; };
#endif
"""
ALPHA_2 = ALPHA_1.replace("\tint x;\n", "\tint x;\n\tvoid *added_in_v2;\n").replace(
    "struct beta { long l; };", "struct beta { long l; int pid; };")
ALPHA_3 = ALPHA_2.replace("\tint x;\n", "\tint x;\n\tchar on_the_branch;\n")


def _commit(repo: Path, text: str, tag: str | None = None) -> None:
    (repo / "include" / "linux" / "foo.h").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"foo {tag}")
    if tag:
        git(repo, "tag", "-a", tag, "-m", tag)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A kernel-like repository with annotated tags v1, v2 (a release branch at v1), indexed;
    the cache in this test's directory."""
    repo = kernel_repo(tmp_path)
    _commit(repo, ALPHA_1, "v1")
    git(repo, "branch", "release-1", "v1")
    _commit(repo, ALPHA_2, "v2")
    cache = tmp_path / "cache"
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(cache))
    (tmp_path / "cfg").write_text("CONFIG_B=y\n")
    assert full("index", "--repo", str(repo), "-q")[0] == 0
    return repo, tmp_path


def full(*args: str) -> tuple[int, str, str]:
    """The full pipeline's answer (in-process, never srcdiff.quick)."""
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def quick(*args: str, git_ok: bool = False) -> tuple[int, str, str]:
    """srcdiff as users run it (srcdiff.fast), without git on PATH unless GIT_OK: an answer
    that needed git or the full pipeline fails ("cannot start")."""
    e = dict(os.environ)
    if not git_ok:
        e["PATH"] = str(BIN)
    r = subprocess.run([sys.executable, "-m", "srcdiff.fast", *args], capture_output=True,
                       text=True, env=e, check=False)
    return r.returncode, r.stdout, r.stderr


QUESTIONS = [
    ("show", "alpha", "--at", "v1"),
    ("show", "alpha", "--at", "v2"),
    ("show", "alpha"),  # HEAD
    ("show", "alpha", "--at", "release-1"),
    ("show", "alpha", "--at", "v2", "--config", "{cfg}"),
    ("show", "beta", "--at", "v1", "--config", "{cfg}"),
    ("structs", "--changed", "v1", "v2"),
    ("structs", "--changed", "v1", "v2", "--config-at", "v2={cfg}"),
    ("structs", "--has", "pid"),
]


@pytest.mark.parametrize("question", QUESTIONS, ids=" ".join)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_answers_from_the_index_are_the_full_pipelines(env, question, fmt):
    repo, tmp = env
    args = [a.format(cfg=tmp / "cfg") for a in question] + ["--repo", str(repo), "--format", fmt]
    want = full(*args)  # first: structs --has records the releases it selects
    assert want[0] == 0, want
    assert quick(*args) == want


def test_packed_refs_are_read_too(env):
    repo, _tmp = env
    git(repo, "pack-refs", "--all")
    args = ["show", "alpha", "--at", "v2", "--repo", str(repo), "--format", "json"]
    assert quick(*args) == full(*args)


def test_no_heavy_module_is_loaded(env):
    repo, _tmp = env
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "srcdiff.fast", "show", "alpha",
                        "--at", "v2", "--repo", str(repo)], capture_output=True, text=True,
                       env=dict(os.environ, PATH=str(BIN)), check=False)
    assert r.returncode == 0, r.stderr[-500:]
    loaded = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
              if line.startswith("import time:")}
    assert "srcdiff.quick" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY]


def test_questions_it_cannot_answer_go_to_the_full_pipeline(env):
    repo, _tmp = env
    for args in (["show", "alpha", "--at", "v1~0"], ["show", "alpha", "--path", "x.h"],
                 ["show", "nosuch", "--at", "v1"], ["structs", "--changed", "v1", "v1"],
                 ["show", "alpha", "--at", "v9"]):
        _code, _out, err = quick(*args, "--repo", str(repo))
        assert "cannot start" in err  # it needed git: not answered from the index
    assert quick("show", "nosuch", "--repo", str(repo), git_ok=True)[2].startswith(
        "srcdiff: error: ")


def test_a_moved_tag_is_not_answered_from_what_it_was(env):
    repo, _tmp = env
    args = ["show", "alpha", "--at", "v2", "--repo", str(repo), "--format", "json"]
    before = quick(*args)
    git(repo, "tag", "-f", "-a", "v2", "-m", "v2 again", "v1")
    assert quick(*args)[0] != 0 or quick(*args) != before  # not the old answer without git
    now = quick(*args, git_ok=True)
    assert now == full(*args)
    assert "added_in_v2" in before[1] and "added_in_v2" not in now[1]


def test_a_new_commit_on_a_release_branch_or_head_changes_the_answer(env):
    repo, _tmp = env
    on_branch = ["show", "alpha", "--at", "release-1", "--repo", str(repo)]
    at_head = ["show", "alpha", "--repo", str(repo)]
    assert "on_the_branch" not in quick(*on_branch)[1]
    git(repo, "checkout", "-q", "release-1")
    _commit(repo, ALPHA_3)  # HEAD and release-1 move to a commit the index does not have
    for args in (on_branch, at_head):
        assert "cannot start" in quick(*args)[2]  # (then the result store answers it)
        now = quick(*args, git_ok=True)
        assert now == full(*args) and "on_the_branch" in now[1]


def test_a_new_tag_changes_which_releases_structs_has_examines(env):
    repo, _tmp = env
    args = ["structs", "--has", "pid", "--repo", str(repo), "--format", "json"]
    full(*args)
    assert '"v3"' not in quick(*args)[1]
    _commit(repo, ALPHA_3, "v3")
    assert "cannot start" in quick(*args)[2]  # the refs changed: the recorded selection is off
    now = quick(*args, git_ok=True)
    assert now == full(*args) and '"v3"' in now[1]


def test_config_dependent_definitions_are_left_to_the_full_pipeline(env, tmp_path):
    repo, tmp = env
    (repo / "include" / "linux" / "foo.h").write_text(
        ALPHA_2.replace("struct beta { long l; int pid; };",
                        "struct beta { long l; char name[CONFIG_LEN]; };"))
    git(repo, "commit", "-q", "-am", "len")
    git(repo, "tag", "-a", "v3", "-m", "v3")
    (tmp / "cfg2").write_text("CONFIG_B=y\nCONFIG_LEN=16\n")
    assert full("index", "--repo", str(repo), "-q")[0] == 0
    args = ["show", "beta", "--at", "v3", "--repo", str(repo), "--config", str(tmp / "cfg2")]
    assert "cannot start" in quick(*args)[2]
    now = quick(*args, git_ok=True)
    assert now == full(*args) and "char name[16];" in now[1]
    plain = ["show", "beta", "--at", "v3", "--repo", str(repo)]
    assert quick(*plain) == full(*plain)


# -- stored answers of structs --changed / --has ----------------------------------------------


def _answers(tmp: Path) -> list[tuple[str, dict]]:
    """The answers the index keeps (key, JSON)."""
    with sqlite3.connect(tmp / "cache" / "cache.sqlite") as db:
        return [(k, json.loads(zlib.decompress(d)))
                for k, d in db.execute("SELECT k, data FROM idx_answer ORDER BY rowid")]


def _forget_answers(tmp: Path) -> None:
    with sqlite3.connect(tmp / "cache" / "cache.sqlite") as db:
        db.execute("DELETE FROM idx_answer")


STORED = [("--changed", "v1", "v2", "--config-at", "v2={cfg}"), ("--has", "pid"),
          ("--has", "y", "--config", "{cfg}")]


@pytest.mark.parametrize("question", STORED, ids=" ".join)
def test_a_structs_answer_is_kept_and_printed_again_byte_for_byte(env, question):
    repo, tmp = env
    args = ["structs", *[a.format(cfg=tmp / "cfg") for a in question], "--repo", str(repo)]
    for fmt in ("text", "json"):
        first = full(*args, "--format", fmt, "--stats")
        again = full(*args, "--format", fmt, "--stats")
        assert "answer=computed" in first[2] if fmt == "text" else "answer=kept" in first[2]
        assert "answer=kept" in again[2]
        assert first[:2] == again[:2]
        assert quick(*args, "--format", fmt) == full(*args, "--format", fmt)
    _forget_answers(tmp)
    assert quick(*args, "--format", "json")[1] == full(*args, "--format", "json")[1]
    _forget_answers(tmp)
    got = quick(*args)  # computed here, and kept: the full command then finds it
    assert got == full(*args) and len(_answers(tmp)) == 1
    assert "answer=kept" in full(*args, "--stats")[2]


def test_the_light_path_prints_the_kept_answer_without_recomputing_it(env):
    repo, tmp = env
    args = ["structs", "--changed", "v1", "v2", "--repo", str(repo), "--format", "json"]
    full(*args)
    [(key, data)] = _answers(tmp)
    data["changed"][0]["added"].append("planted")
    with sqlite3.connect(tmp / "cache" / "cache.sqlite") as db:
        db.execute("UPDATE idx_answer SET data=? WHERE k=?",
                   (zlib.compress(json.dumps(data).encode()), key))
    assert "planted" in quick(*args)[1]  # what is kept is what is printed


def test_a_changed_config_file_gives_a_new_correct_answer(env):
    repo, tmp = env
    cfg = tmp / "cfg"
    for question, says in ((["--changed", "v1", "v2", "--config-at", f"v2={cfg}"], '"y"'),
                           (["--has", "y", "--config", str(cfg)], '"long"')):
        args = ["structs", *question, "--repo", str(repo), "--format", "json"]
        cfg.write_text("CONFIG_B=y\n")
        before = full(*args)
        assert quick(*args) == before
        cfg.write_text("# CONFIG_B is not set\n")
        now = quick(*args)
        assert now == full(*args) and now != before
        assert says in now[1] and says not in before[1]  # y: long without CONFIG_B


def test_a_moved_tag_gives_a_new_correct_structs_answer(env):
    repo, _tmp = env
    changed = ["structs", "--changed", "v1", "v2", "--repo", str(repo), "--format", "json"]
    has = ["structs", "--has", "on_the_branch", "--repo", str(repo), "--format", "json"]
    before = full(*changed), full(*has)
    assert quick(*changed) == before[0] and quick(*has) == before[1]
    _commit(repo, ALPHA_3)
    git(repo, "tag", "-f", "-a", "v2", "-m", "v2 moved")
    for args, old, says in zip((changed, has), before, ("on_the_branch", '"alpha"')):
        now = quick(*args, git_ok=True)
        assert now == full(*args) and says in now[1] and says not in old[1]
        assert quick(*args, git_ok=True) == now
