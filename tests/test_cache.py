"""The cache file: an open that finds it as srcdiff left it skips the full check; damage is
found at open when the file was changed behind srcdiff's back, and by the read or write
that meets it otherwise; either way one warning, the right answer and a rebuilt file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from srcdiff import cache as cache_mod
from srcdiff.cache import Cache

ENV = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@example.org",
           GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@example.org", GIT_CONFIG_NOSYSTEM="1")
N = 3000  # entries: a kv b-tree of about a hundred pages


def key(i: int) -> str:
    return f"{i:06d}|struct_{i}|fp"


def value(i: int) -> dict:
    return {"i": i, "pad": "x" * 100}


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement srcdiff.cache runs from now on."""
    seen: list[str] = []
    real = sqlite3.connect

    def connect(*args, **kw):
        db = real(*args, **kw)
        db.set_trace_callback(seen.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    return seen


def full_checks(seen: list[str]) -> int:
    return sum("quick_check" in s.lower() for s in seen)


def fill(d: Path) -> Path:
    c = Cache(d, warn=pytest.fail)
    for i in range(N):
        c.put("body", key(i), value(i))
    c.close()
    return d / "cache.sqlite"


def kv_root(db_path: Path) -> tuple[int, int]:
    """(root page of the kv table, page size), read through a plain SQLite connection."""
    db = sqlite3.connect(db_path)
    try:
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='kv'").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
    return root, size


def damage_page(db_path: Path, page: int, size: int) -> None:
    """Overwrite one page in place (the file keeps its length)."""
    with open(db_path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\xa5" * size)


def test_a_clean_warm_open_does_not_run_the_full_check(tmp_path, statements):
    fill(tmp_path)
    assert full_checks(statements) == 1  # the new file, once
    statements.clear()
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.get("body", key(7)) == value(7)
    c.close()
    assert full_checks(statements) == 0
    # another program writes to the file (through SQLite, so it stays sound): not srcdiff's
    # doing, so the next open checks it, finds it sound and says nothing
    other = sqlite3.connect(tmp_path / "cache.sqlite")
    with other:
        other.execute("INSERT INTO kv VALUES ('body', 'extra', '1')")
    other.close()
    statements.clear()
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.get("body", "extra") == 1
    c.close()
    assert full_checks(statements) == 1
    statements.clear()
    Cache(tmp_path, warn=pytest.fail).close()
    assert full_checks(statements) == 0


def test_damage_after_a_clean_close_is_found_when_the_file_is_opened(tmp_path, statements):
    db_path = fill(tmp_path)
    _root, size = kv_root(db_path)
    Cache(tmp_path, warn=pytest.fail).close()
    pages = db_path.stat().st_size // size
    damage_page(db_path, pages // 2, size)  # a kv page in the middle; no read below meets it
    warnings: list[str] = []
    statements.clear()
    c = Cache(tmp_path, warn=warnings.append)
    assert full_checks(statements) >= 1
    assert len(warnings) == 1 and "rebuilding it" in warnings[0], warnings
    assert c.get("body", key(0)) is None and c.get("body", key(N - 1)) is None  # a new file
    assert c.info()["entries"] == {"output": 0}
    c.put("body", "new", 1)
    c.close()
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.get("body", "new") == 1
    c.close()


def test_damage_met_by_a_later_read_warns_once_and_rebuilds(tmp_path, statements):
    db_path = fill(tmp_path)
    root, size = kv_root(db_path)
    Cache(tmp_path, warn=pytest.fail).close()
    warnings: list[str] = []
    statements.clear()
    c = Cache(tmp_path, warn=warnings.append)
    assert full_checks(statements) == 0  # the open trusts the file...
    damage_page(db_path, root, size)  # ...which is damaged under the open cache
    assert c.has("body", key(1)) is False  # no traceback, no wrong answer
    assert len(warnings) == 1 and "damaged" in warnings[0] and "rebuilding it" in warnings[0]
    for i in range(0, N, 97):
        assert c.get("body", key(i)) is None
    assert len(warnings) == 1
    c.put("body", "new", [1, 2])
    c.close()
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.get("body", "new") == [1, 2]
    assert c.info()["entries"] == {"body": 1, "output": 0}  # nothing of the damaged file
    c.close()


def test_damage_met_by_a_write_puts_the_whole_batch_in_the_rebuilt_file(tmp_path):
    db_path = fill(tmp_path)
    root, size = kv_root(db_path)
    Cache(tmp_path, warn=pytest.fail).close()
    warnings: list[str] = []
    c = Cache(tmp_path, warn=warnings.append)
    damage_page(db_path, root, size)
    for i in range(10):
        c.put("body", f"new{i}", i)
    c.flush()
    assert len(warnings) == 1 and "rebuilding it" in warnings[0], warnings
    c.close()
    c = Cache(tmp_path, warn=pytest.fail)
    assert [c.get("body", f"new{i}") for i in range(10)] == list(range(10))
    assert c.info()["entries"] == {"body": 10, "output": 0}
    c.close()


def test_damage_met_by_a_read_in_the_cli_gives_one_warning_and_the_same_answer(tmp_path):
    """A bad sector leaves the file's size and times as they were: the open cannot see it,
    the first read meets it."""
    repo = make_repo(tmp_path / "r")
    cache = tmp_path / "c"
    first = run_cli(repo, cache)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    db_path = cache / "cache.sqlite"
    root, size = kv_root(db_path)
    Cache(cache, warn=pytest.fail).close()
    damage_page(db_path, root, size)
    cache_mod._write_stamp(db_path, cache_mod._file_state(db_path))  # as if nothing changed
    again = run_cli(repo, cache)
    assert again.returncode == 0
    warnings = again.stderr.splitlines()
    assert len(warnings) == 1 and "cache" in warnings[0] and "rebuilding it" in warnings[0], warnings
    assert again.stdout == first.stdout
    third = run_cli(repo, cache)
    assert third.returncode == 0 and third.stderr == "" and third.stdout == first.stdout


def test_an_output_stored_after_close_does_not_cost_the_next_open_a_full_check(tmp_path, statements):
    """srcdiff.fast stores a run's output after the run's Cache is closed."""
    script = textwrap.dedent(f"""
        from srcdiff.cache import Cache
        from srcdiff import fast
        c = Cache({str(tmp_path)!r})
        c.put("body", "k", 1)
        c.close()
        fast._store({str(tmp_path)!r}, "out-key", 0, "", "stored output")
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    from srcdiff import fast

    assert fast._lookup(str(tmp_path), "out-key") == (0, "", "stored output")
    statements.clear()
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.get("body", "k") == 1
    c.close()
    assert full_checks(statements) == 0


def test_several_processes_at_once(tmp_path):
    script = textwrap.dedent("""
        import sys
        from srcdiff.cache import Cache
        d, me = sys.argv[1], int(sys.argv[2])
        for round in range(3):
            c = Cache(d)
            for i in range(600):
                c.put("body", f"{me}-{round}-{i}", [me, round, i])
            for other in range(4):
                c.get("body", f"{other}-0-5")
            c.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(me)],
                              stderr=subprocess.PIPE, text=True) for me in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and err == "", err
    c = Cache(tmp_path, warn=pytest.fail)
    assert c.info()["entries"] == {"body": 4 * 3 * 600, "output": 0}
    assert c.get("body", "3-2-599") == [3, 2, 599]
    c.close()


def make_repo(path: Path) -> Path:
    """Tags v1.0..v1.3, each adding a member to struct foo."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    members = ["int a;"]
    for n, extra in enumerate((None, "long b;", "char c;", "void *d;")):
        if extra:
            members.append(extra)
        (path / "include").mkdir(exist_ok=True)
        (path / "include" / "foo.h").write_text("struct foo {\n\t" + "\n\t".join(members) + "\n};\n")
        for args in (["add", "-A"], ["commit", "-q", "-m", f"foo: {extra or 'introduce'}"],
                     ["tag", f"v1.{n}"]):
            subprocess.run(["git", "-C", str(path), *args], check=True, env=ENV)
    return path


def run_cli(repo: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from srcdiff.cli import main; main()", "log",
                           "foo", "--format", "json", "--repo", str(repo), "--cache-dir", str(cache)],
                          capture_output=True, text=True, env=ENV, timeout=60, check=False)


def test_known_asks_for_many_keys_at_once_and_gets_answer_the_rest_from_memory(tmp_path, statements):
    c = Cache(tmp_path)
    for i in range(0, 1200, 2):
        c.put("struct", key(i), value(i))
    c.close()
    c = Cache(tmp_path)
    statements.clear()
    keys = [key(i) for i in range(1200)]
    assert c.known("struct", keys) == {key(i) for i in range(0, 1200, 2)}
    asked = len([s for s in statements if s.startswith("SELECT")])
    assert 0 < asked <= 3  # 1,200 keys in chunks, not one query each
    statements.clear()
    assert c.get("struct", key(1)) is None and not c.has("struct", key(3))
    assert not [s for s in statements if s.startswith("SELECT")]  # known absent: not asked
    assert c.get("struct", key(2)) == value(2)  # known present: read from the file
    c.put("struct", key(5), value(5))  # stored by this run after known() said absent
    assert c.get("struct", key(5)) == value(5) and c.has("struct", key(5))
    c.close()


def test_a_history_read_back_gives_the_same_answers_even_with_its_bodies_gone(
        demo_repo, srcdiff, tmp_path):
    """A run that asks for a history built before reads it back from the cache, where the
    versions' definitions are kept by reference to the parsed texts; with those texts gone
    (evicted, say) it reads the blobs again and still answers the same."""
    args = ("vfio_pci_device", "--repo", str(demo_repo), "--follow", "--format", "json")
    first = {cmd: srcdiff(cmd, *args) for cmd in ("log", "blame", "changelog")}
    assert all(r.code == 0 for r in first.values())
    db = sqlite3.connect(tmp_path / "cache" / "cache.sqlite")
    try:
        stored = db.execute("SELECT v FROM kv WHERE ns='history'").fetchall()
        assert len(stored) == 1
        assert '"read":true' in stored[0][0]  # definitions kept by reference ...
        assert "\"irq_type\"" not in stored[0][0]  # ... not spelled out again
    finally:
        db.close()
    for cmd, r in first.items():
        assert srcdiff(cmd, *args).out == r.out
    db = sqlite3.connect(tmp_path / "cache" / "cache.sqlite")
    with db:
        assert db.execute("DELETE FROM kv WHERE ns IN ('body', 'struct')").rowcount > 0
    db.close()
    for cmd, r in first.items():
        assert srcdiff(cmd, *args).out == r.out
