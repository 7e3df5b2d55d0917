"""srcdiff index and srcdiff structs: every struct of every release, read once per blob."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import git

SRCDIFF = str(Path(sys.executable).parent / "srcdiff")


def _repo(tmp_path: Path) -> Path:
    """A kernel-like repository (a Kconfig at the top: read without a configuration)."""
    repo = tmp_path / "linux"
    (repo / "include" / "linux").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "T")
    (repo / "Kconfig").write_text("# top\n")
    return repo


def _commit(repo: Path, files: dict[str, str], tag: str | None = None) -> None:
    for p, text in files.items():
        f = repo / p
        f.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            f.unlink()
        else:
            f.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {tag}")
    if tag:
        git(repo, "tag", tag)


FOO_1 = """#ifndef FOO_H
#define FOO_H
struct alpha {
\tint x;
#ifdef CONFIG_B
\tint y;
#endif
};
struct beta { long l; };
struct gamma { short s; char c; };
typedef struct { int q; } anon_t;
#endif
"""
FOO_2 = """#ifndef FOO_H
#define FOO_H
struct alpha {
\tint x;
#ifdef CONFIG_B
\tint y;
#endif
\tvoid *z;
};
struct gamma { int s; };
struct delta { int d; };
typedef struct { int q; } anon_t;
#endif
"""
SAME = "struct same { int a; };\n"


def _two_releases(tmp_path: Path) -> Path:
    repo = _repo(tmp_path)
    _commit(repo, {"include/linux/foo.h": FOO_1, "include/linux/same.h": SAME,
                   "drivers/x.c": "struct in_c { int a; };\n"}, "v1.0")
    _commit(repo, {"include/linux/foo.h": FOO_2, "drivers/x.c": "struct in_c { int a, b; };\n"},
            "v1.1")
    return repo


def test_changed_structs_between_two_releases(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    res = srcdiff("index", "--repo", str(repo), "-j", "1", "--format", "json")
    assert res.code == 0, res.err
    st = res.json()
    assert st["releases"] == ["v1.0", "v1.1"]
    # foo.h twice, same.h once, x.c twice: five distinct blobs, each read once
    assert (st["blobs"], st["read"], st["stored_before"]) == (5, 5, 0)
    res = srcdiff("structs", "--repo", str(repo), "--changed", "v1.0", "v1.1", "--format", "json")
    assert res.code == 0, res.err
    assert res.json() == {
        "from": "v1.0", "to": "v1.1", "added": ["delta"], "removed": ["beta"],
        "changed": [{"name": "alpha", "added": ["z"], "removed": [], "retyped": []},
                    {"name": "gamma", "added": [], "removed": ["c"], "retyped": ["s"]},
                    {"name": "in_c", "added": ["b"], "removed": [], "retyped": []}]}
    text = srcdiff("structs", "--repo", str(repo), "--changed", "v1.0", "v1.1").out
    assert text.splitlines()[0] == "v1.0 -> v1.1: 1 added, 1 removed, 3 changed"
    assert "  ~ gamma: -c ~s" in text and "  + delta" in text and "  - beta" in text


def test_headers_only_and_configs_applied_when_asked(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    on, off = tmp_path / "on.config", tmp_path / "off.config"
    on.write_text("CONFIG_B=y\n")
    off.write_text("# CONFIG_B is not set\n")
    res = srcdiff("structs", "--repo", str(repo), "--changed", "v1.0", "v1.1", "--headers-only",
                  "--config-at", f"v1.0={on}", "--config-at", f"v1.1={off}", "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert [c["name"] for c in data["changed"]] == ["alpha", "gamma"]  # no source file
    assert data["changed"][0] == {"name": "alpha", "added": ["z"], "removed": ["y"],
                                  "retyped": []}
    res = srcdiff("structs", "--repo", str(repo), "--has", "y", "--format", "json",
                  "--config-at", f"v1.1={off}")
    assert res.json()["structs"] == [{"name": "alpha", "releases": {"v1.0": "int"}}]
    res = srcdiff("structs", "--repo", str(repo), "--has", "y", "--config-at", f"v9={off}")
    assert res.code == 2 and res.err.count("\n") == 1 and "--config-at v9" in res.err


def test_a_struct_only_moved_down_its_file_is_unchanged_unless_configs_tell(srcdiff, tmp_path):
    """Another blob, the same members: not changed under one configuration; changed where the
    two releases' configurations decide its guard differently."""
    repo = _repo(tmp_path)
    moved = "struct moved {\n\tint a;\n#ifdef CONFIG_B\n\tint y;\n#endif\n};\n"
    _commit(repo, {"include/linux/m.h": moved}, "v1")
    _commit(repo, {"include/linux/m.h": "/* a new first line */\n\n" + moved}, "v2")
    on, off = tmp_path / "on.config", tmp_path / "off.config"
    on.write_text("CONFIG_B=y\n")
    off.write_text("# CONFIG_B is not set\n")
    base = ("structs", "--repo", str(repo), "--changed", "v1", "v2", "--format", "json")
    assert srcdiff(*base).json()["changed"] == []
    assert srcdiff(*base, "--config", str(on)).json()["changed"] == []
    res = srcdiff(*base, "--config-at", f"v1={on}", "--config-at", f"v2={off}")
    assert res.json()["changed"] == [{"name": "moved", "added": [], "removed": ["y"],
                                      "retyped": []}]


def test_a_new_tag_reads_only_new_blobs(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    first = srcdiff("index", "--repo", str(repo), "--format", "json", "-j", "1").json()
    assert first["read"] == 5
    _commit(repo, {"include/linux/same.h": "struct same { int a; long b; };\n"}, "v1.2")
    again = srcdiff("index", "--repo", str(repo), "--format", "json", "-j", "2").json()
    assert again["releases"] == ["v1.0", "v1.1", "v1.2"]
    assert (again["read"], again["stored_before"]) == (1, 2)  # v1.2's foo.h and x.c are v1.1's
    res = srcdiff("structs", "--repo", str(repo), "--changed", "v1.1", "v1.2", "--format", "json")
    assert res.json()["changed"] == [{"name": "same", "added": ["b"], "removed": [],
                                      "retyped": []}]
    none = srcdiff("index", "--repo", str(repo), "--format", "json").json()
    assert none["read"] == 0


def test_the_index_reads_a_struct_as_show_does(srcdiff, tmp_path):
    from srcdiff.gitrepo import GitRepo
    from srcdiff.index import IndexStore, fingerprint, pick

    repo = _two_releases(tmp_path)
    assert srcdiff("index", "--repo", str(repo), "-q").code == 0
    shown = srcdiff("show", "alpha", "--at", "v1.1", "--repo", str(repo), "--format", "json").json()
    store = IndexStore(Path(os.environ["SRCDIFF_CACHE_DIR"]) / "cache.sqlite", fingerprint("x86"))
    commit = GitRepo(repo).resolve("v1.1")
    c = pick(store.candidates(commit)["alpha"], "x86")
    sdef = store.definition(c.blob, "alpha", c.path)
    store.close()
    assert (c.path, [f.to_json() for f in sdef.fields]) == (shown["path"], shown["fields"])
    assert shown["fields"][1]["guard"] == "CONFIG_B"


import pytest


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_an_index_killed_midway_leaves_a_usable_database(tmp_path, sig):
    repo = _repo(tmp_path)
    many = {f"include/linux/h{i}.h": f"struct s{i} {{ int a; int b{i}; }};\n" for i in range(3000)}
    _commit(repo, many, "v1.0")
    _commit(repo, {"include/linux/h0.h": "struct s0 { long a; };\n"}, "v1.1")
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    db_path = tmp_path / "cache" / "cache.sqlite"
    jobs = "1" if sig == signal.SIGKILL else "2"
    proc = subprocess.Popen([SRCDIFF, "index", "--repo", str(repo), "-j", jobs, "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.monotonic() + 60
    while stored == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
        try:
            with sqlite3.connect(db_path, timeout=5) as db:
                stored = db.execute("SELECT count(*) FROM idx_blob").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            pass
    proc.send_signal(sig)
    proc.wait()
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL  # killed, not finished
    else:  # Ctrl-C: one line, no traceback (from the workers either)
        err = proc.stderr.read().decode()
        assert proc.returncode == 130 and err.count("\n") == 1 and "interrupted" in err
    with sqlite3.connect(db_path) as db:
        assert 0 < db.execute("SELECT count(*) FROM idx_blob").fetchone()[0] < 3001
        assert db.execute("SELECT count(*) FROM idx_release").fetchone()[0] == 0
    done = subprocess.run([SRCDIFF, "index", "--repo", str(repo), "-j", "2", "--format", "json"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json

    st = json.loads(done.stdout)
    assert st["blobs"] == 3001 and st["stored_before"] > 0
    assert st["read"] == 3001 - st["stored_before"]
    res = subprocess.run([SRCDIFF, "structs", "--repo", str(repo), "--changed", "v1.0", "v1.1",
                          "--format", "json"], env=env, capture_output=True, text=True)
    assert json.loads(res.stdout) == {"from": "v1.0", "to": "v1.1", "added": [], "removed": [],
                                      "changed": [{"name": "s0", "added": [], "removed": ["b0"],
                                                   "retyped": ["a"]}]}


def test_member_changes_from_stored_json_are_diff_structs(demo_repo, srcdiff, tmp_path):
    """structs --changed compares stored JSON directly; it must say what configured() and
    changes.diff_structs say of the same definitions (anonymous members, guards, unparsed)."""
    from srcdiff.changes import ADDED, REMOVED, RETYPED, diff_structs
    from srcdiff.index import (
        IndexStore, configured, fingerprint, member_changes, member_map)
    from srcdiff.indexdb import _holds_memo
    from srcdiff.model import StructDef
    from srcdiff.preprocess import Config

    assert srcdiff("index", "--repo", str(demo_repo), "-q", "-j", "1").code == 0
    store = IndexStore(Path(os.environ["SRCDIFF_CACHE_DIR"]) / "cache.sqlite", fingerprint("x86"))
    rows = store.db.execute("SELECT name, blob FROM idx_name ORDER BY name, blob").fetchall()
    by_name: dict[str, list[dict]] = {}
    for name, blob in rows:
        by_name.setdefault(name, []).append(store.definition_json(blob, name))
    store.close()
    cfg = tmp_path / "c.config"
    cfg.write_text("CONFIG_PCI_MSI=y\n# CONFIG_VFIO_PCI_IGD is not set\nCONFIG_EEH=y\n")
    configs = [None, Config.from_file(cfg)]
    pairs = 0
    for defs in by_name.values():
        for da in defs:
            for db in defs:
                for c in configs:
                    holds = None if c is None else _holds_memo(c)
                    got = member_changes(member_map(da["fields"], holds),
                                         member_map(db["fields"], holds))
                    sa, sb = StructDef.from_json(da), StructDef.from_json(db)
                    if c is not None:
                        sa, sb = configured(sa, c), configured(sb, c)
                    want = {"added": [], "removed": [], "retyped": []}
                    for ch in diff_structs(sa, sb):
                        f = ch.new if ch.new is not None else ch.old
                        kind = {ADDED: "added", REMOVED: "removed", RETYPED: "retyped"}.get(ch.kind)
                        if kind:
                            want[kind].append(f.name if f.name is not None else f.key())
                    assert got == want
                    pairs += 1
    assert pairs > 500


def test_cache_info_counts_and_clear_drops_the_index(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    assert srcdiff("index", "--repo", str(repo), "-q", "-j", "1").code == 0
    info = srcdiff("cache", "info", "--format", "json").json()["entries"]
    assert (info["index-release"], info["index-file"]) == (2, 5)
    assert srcdiff("cache", "clear").code == 0
    again = srcdiff("index", "--repo", str(repo), "--format", "json", "-j", "1").json()
    assert (again["read"], again["up_to_date"]) == (5, 0)
    text = srcdiff("index", "--repo", str(repo), "-j", "1").out
    assert text.strip() == "2 release(s), all indexed before"


def test_bad_questions_are_one_clear_line(srcdiff, tmp_path):
    repo = _two_releases(tmp_path)
    for args, says in ((["structs"], "give one of --changed A B or --has FIELD"),
                       (["structs", "--changed", "v1.0", "v1.0"], "nothing to compare"),
                       (["structs", "--changed", "v1.0", "v7"], "v7"),
                       (["structs", "--changed", "v1.0", "v1.1", "--no-cache"], "drop --no-cache"),
                       (["index", "-q", "--cache-dir", "/proc/no/such"], "cannot use the index")):
        res = srcdiff(*args, "--repo", str(repo))
        assert res.code == 2 and res.err.count("\n") == 1 and says in res.err, (args, res.err)


def test_a_file_deleted_and_restored_across_releases(srcdiff, tmp_path):
    # each release's files are listed as the difference from the previous one: a deleted file
    # is gone at its release, and restored later (an old blob) it is back without a new read
    repo = _repo(tmp_path)
    gone = "struct gone { int g; };\n"
    _commit(repo, {"include/linux/gone.h": gone, "include/linux/a.h": "struct a { int x; };\n"},
            "v1.0")
    _commit(repo, {"include/linux/gone.h": None}, "v1.1")
    _commit(repo, {"include/linux/gone.h": gone, "include/linux/b.h": "struct b { int y; };\n",
                   "include/linux/a.h": "struct a { long x; };\n"}, "v1.2")
    st = srcdiff("index", "--repo", str(repo), "-j", "1", "--format", "json").json()
    assert (st["files"], st["blobs"], st["read"]) == (2 + 1 + 3, 4, 4)
    res = srcdiff("structs", "--repo", str(repo), "--changed", "v1.0", "v1.1", "--format", "json")
    assert res.json() == {"from": "v1.0", "to": "v1.1", "added": [], "removed": ["gone"],
                          "changed": []}
    res = srcdiff("structs", "--repo", str(repo), "--changed", "v1.1", "v1.2", "--format", "json")
    assert res.json() == {"from": "v1.1", "to": "v1.2", "added": ["b", "gone"], "removed": [],
                          "changed": [{"name": "a", "added": [], "removed": [],
                                       "retyped": ["x"]}]}
    res = srcdiff("structs", "--repo", str(repo), "--has", "g", "--format", "json")
    assert res.json()["structs"] == [{"name": "gone", "releases": {"v1.0": "int", "v1.2": "int"}}]
