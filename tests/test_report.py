"""The report and graph commands: the seed's view on the demo history, configs, escaping, exports."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import networkx as nx
import pytest
from conftest import git

HEADER = "drivers/vfio/pci/vfio_pci_private.h"
NEW_IN_58 = ["vf_token", "nb", "vma_lock", "vma_list", "memory_lock"]
EVIL = "<script>alert(1)</script> & \x1b[31m"
URL = "https://git.example.org/linux/commit/?id={sha}"


def _adding_commit(repo: Path, member: str, old: str, new: str) -> str:
    """The commit that added MEMBER's line, by plain git (the oracle)."""
    out = git(repo, "log", "--format=%H", f"-G[[:space:]*]{member};", f"{old}..{new}", "--", HEADER)
    return out.split()[-1]


def _block(text: str, head: str) -> str:
    """The lines after the line HEAD up to the next unindented line."""
    lines = text.split(head + "\n", 1)[1].splitlines()
    out = []
    for line in lines:
        if not line.startswith(" "):
            break
        out.append(line)
    return "\n".join(out)


@pytest.fixture
def report(demo_repo, srcdiff):
    def run(*args: str):
        return srcdiff("report", "vfio_pci_device", "--repo", str(demo_repo), *args)

    return run


def test_text_is_the_seed_view_with_commits(demo_repo, report):
    res = report()
    assert res.code == 0, res.err
    out = res.out
    assert out.count("\nRegular\n") == 2  # definitions group, then pairs group, like the seed
    assert "5.4: ✅ struct vfio_pci_device {" in out
    assert "\tstruct vfio_device vdev;" in out.split("5.13: ✅")[1].split("};")[0]
    block = _block(out, "5.4 and 5.8 ⚠️")
    lines = block.splitlines()
    assert len(lines) == 10  # five members, each followed by its commit
    for member in NEW_IN_58:
        i = next(k for k, line in enumerate(lines) if re.search(rf"[ *]{member}$", line))
        assert lines[i].strip().startswith("+ ")
        sha = _adding_commit(demo_repo, member, "v5.4", "v5.8")
        subject = git(demo_repo, "log", "-1", "--format=%s", sha).strip()
        assert lines[i + 1].split()[0] == sha[:12]
        assert lines[i + 1].endswith(subject)
    assert "\n5.8 and 5.11 ✅\n" in out
    assert "\n5.4 and 5.4.1 ✅\n" in out  # the stable branch is its own pair
    assert "\n5.15: Absent ⚠️ (renamed to vfio_pci_core_device by " in out
    assert "6.8: Absent ⚠️ (renamed to vfio_pci_core_device" in out
    assert "\n5.13 and 5.15 ⚠️\n" in out and "renamed vfio_pci_device -> vfio_pci_core_device" in out


def test_short_text_has_no_definitions(report):
    res = report("--short")
    assert res.code == 0
    assert "vfio_pci_device in drivers/vfio/pci/vfio_pci_private.h:87 (43 members)" in res.out
    assert "\tstruct pci_dev *pdev;" not in res.out


def test_markdown_links_commits(demo_repo, report):
    res = report("--format", "md", "--commit-url", URL)
    assert res.code == 0, res.err
    out = res.out
    assert out.startswith("# struct `vfio_pci_device`\n")  # code spans show text as it is
    assert "### 5.4 and 5.8 ⚠️" in out and "### 5.8 and 5.11 ✅" in out
    assert out.count("```c") == 14 and out.count("```") == 28  # one closed block per present release
    sha = _adding_commit(demo_repo, "vf_token", "v5.4", "v5.8")
    assert f"[`{sha[:12]}`](https://git.example.org/linux/commit/?id={sha})" in out
    assert f"- **4.4**: ✅ `{HEADER}:35`\n" in out
    assert "\\_" not in "".join(re.findall(r"`[^`\n]*`", out))  # nothing escaped inside code
    assert "- `renamed vfio_pci_device -> vfio_pci_core_device (" in out


def test_markdown_keeps_arrows_in_subjects_and_code_spans_unescaped(tmp_path, srcdiff):
    from test_history import Repo

    r = Repo(tmp_path / "arrows")
    r.header(["int len;"], path="include/my_dev.h", name="my_dev")
    r.commit("my_dev: introduce")
    r.git("tag", "v1")
    r.header(["int len;", "long skb_len;"], path="include/my_dev.h", name="my_dev")
    sha = r.commit("net: skb->len fix")
    r.git("tag", "v2")
    out = srcdiff("report", "my_dev", "--repo", str(r.path), "--format", "md").out
    assert out.startswith("# struct `my_dev`\n")
    assert "- **1**: ✅ `include/my_dev.h:6`\n" in out
    assert f"- `+ long skb_len` — `{sha[:12]}` net: skb->len fix (Ann Author, 2020-01-03)" in out
    log = srcdiff("changelog", "my_dev", "--repo", str(r.path)).out
    assert f"- Added `long skb_len` — `{sha[:12]}` net: skb->len fix (Ann Author, 2020-01-03)" in log
    assert "→" not in out + log


def test_html_says_absent_at_both_not_identical(tmp_path, srcdiff):
    from test_history import Repo

    r = Repo(tmp_path / "late")
    for tag in ("v1", "v2"):
        r.write("README", f"{tag}\n")
        r.commit(f"release {tag}")
        r.git("tag", tag)
    r.header(["int len;"], path="include/my_dev.h", name="my_dev")
    r.commit("my_dev: introduce")
    r.git("tag", "v3")
    r.header(["int len;"], path="include/my_dev.h", name="my_dev")
    r.write("README", "v4\n")
    r.commit("release v4")
    r.git("tag", "v4")
    out = srcdiff("report", "my_dev", "--repo", str(r.path), "--format", "html").out
    titles = re.findall(r'<path class="vedge[^"]*"[^>]*><title>([^<]*)</title>', out)
    assert titles[0] == "v1 → v2: absent at both" and titles[2] == "v3 → v4: identical", titles
    assert titles[1].startswith("v2 → v3: struct my_dev appears"), titles


def test_json_shape(demo_repo, report):
    res = report("--format", "json")
    assert res.code == 0, res.err
    d = res.json()
    assert set(d) >= {"struct", "versions", "pairs", "lifetimes", "configs", "warnings"}
    assert d["configs"] is None
    tags = [v["tag"] for v in d["versions"]]
    assert tags[0] == "v4.4" and tags[-1] == "v6.8" and "v5.4.1" in tags
    v515 = next(v for v in d["versions"] if v["tag"] == "v5.15")
    assert not v515["present"] and "renamed to vfio_pci_core_device" in v515["note"]
    pair = next(p for p in d["pairs"] if (p["from"], p["to"]) == ("v5.4", "v5.8"))
    assert pair["from_label"] == "5.4" and not pair["identical"]
    assert [c["field"] for c in pair["changes"]] == NEW_IN_58
    for c in pair["changes"]:
        assert c["commits"][0]["commit"] == _adding_commit(demo_repo, c["field"], "v5.4", "v5.8")
    assert next(p for p in d["pairs"] if p["to"] == "v5.11")["identical"]
    life = {row["member"]: row["states"] for row in d["lifetimes"]}
    assert (life["vf_token"]["v5.4"], life["vf_token"]["v5.8"], life["vf_token"]["v5.11"],
            life["vf_token"]["v5.15"]) == ("absent", "added", "present", "no-struct")
    assert life["msix"]["v4.10"] == "removed" and life["msix_offset"]["v4.13"] == "retyped"


def test_output_file_and_errors(tmp_path, demo_repo, srcdiff, report):
    out = tmp_path / "r.html"
    res = report("--format", "html", "-o", str(out))
    assert res.code == 0 and res.out == ""
    assert out.read_text().startswith("<!doctype html>")
    bad = srcdiff("report", "no_such_struct", "--repo", str(demo_repo))
    assert bad.code == 2 and bad.err.count("\n") == 1 and "srcdiff: error:" in bad.err
    at = report("--at", "v5.8")
    assert at.code == 2 and "--config NAME=FILE" in at.err
    missing = report("--config", f"x={tmp_path / 'nope.config'}")
    assert missing.code == 2 and "cannot read config" in missing.err


# -- configuration groups ---------------------------------------------------------------


@pytest.fixture
def configs(tmp_path) -> dict[str, Path]:
    files = {
        "msi": "CONFIG_PCI=y\nCONFIG_PCI_MSI=y\n",
        "nomsi": "CONFIG_PCI=y\n# CONFIG_PCI_MSI is not set\n",
        "msi2": "CONFIG_PCI_MSI=y\nCONFIG_PCI=y\n",
    }
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / f"{name}.config"
        out[name].write_text(text)
    return out


def test_config_group_compares_each_with_the_first(demo_repo, srcdiff, configs):
    args = ["report", "pci_dev", "--repo", str(demo_repo), "--short", "--at", "v5.8",
            "--config", f"msi={configs['msi']}", "--config", f"nomsi={configs['nomsi']}",
            "--config", f"msi2={configs['msi2']}@arm64"]
    res = srcdiff(*args)
    assert res.code == 0, res.err
    group = res.out.split("Config (at v5.8)\n")[1]
    assert "\nmsi2 and msi2" not in group
    diff = _block(group, "msi and nomsi ⚠️").splitlines()
    assert sorted(line.strip() for line in diff) == [
        "+ unsigned long msi_unused  [if !CONFIG_PCI_MSI]",
        "- const struct attribute_group **msi_irq_groups  [if CONFIG_PCI_MSI]",
        "- struct list_head msi_list  [if CONFIG_PCI_MSI]",
    ]
    assert "\nmsi and msi2 ✅" in group
    d = srcdiff(*args, "--format", "json").json()["configs"]
    assert d["at"] == "v5.8" and [e["name"] for e in d["entries"]] == ["msi", "nomsi", "msi2"]
    assert [e["arch"] for e in d["entries"]] == ["x86", "x86", "arm64"]
    names = {f["name"] for f in d["entries"][1]["fields"]}
    assert "msi_unused" in names and "msi_list" not in names
    assert [p["identical"] for p in d["pairs"]] == [False, True]
    md = srcdiff(*args, "--format", "md").out
    assert "_" in str(configs["msi2"])  # the test's directory: a path to show unescaped
    assert f"- **msi2**: ✅ `{configs['msi2']}`, arch `arm64`\n" in md
    assert "- `+ unsigned long msi_unused  [if !CONFIG_PCI_MSI]`\n" in md


def test_plain_config_applies_to_every_release(demo_repo, srcdiff, configs):
    res = srcdiff("report", "pci_dev", "--repo", str(demo_repo), "--config", str(configs["nomsi"]))
    assert res.code == 0, res.err
    assert "msi_unused;" in res.out and "msi_list;" not in res.out
    assert "Config (at" not in res.out


# -- escaping, on a repository with a hostile commit subject ---------------------------------


@pytest.fixture
def evil_repo(tmp_path) -> Path:
    repo = tmp_path / "evil"
    repo.mkdir()
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path),
               GIT_AUTHOR_NAME="Eve & Co", GIT_AUTHOR_EMAIL="eve@example.org",
               GIT_COMMITTER_NAME="Eve", GIT_COMMITTER_EMAIL="eve@example.org",
               GIT_AUTHOR_DATE="2021-01-01T00:00:00+00:00",
               GIT_COMMITTER_DATE="2021-01-01T00:00:00+00:00")

    def run(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)

    run("init", "-q", "-b", "main")
    (repo / "foo.h").write_text("struct foo {\n\tint a;\n};\n")
    run("add", "foo.h")
    run("commit", "-q", "-m", "start")
    run("tag", "v1.0")
    (repo / "foo.h").write_text("struct foo {\n\tint a;\n\tlong b;\n};\n")
    run("commit", "-q", "-a", "-m", EVIL)
    run("tag", "v1.1")
    return repo


def test_html_escapes_commit_subjects(evil_repo, srcdiff):
    res = srcdiff("report", "foo", "--repo", str(evil_repo), "--format", "html", "--commit-url", URL)
    assert res.code == 0, res.err
    page = res.out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\x1b[31m" in page
    assert "<script>alert(1)" not in page and "\x1b" not in page
    assert page.count("<script>") == 1  # only the page's own script
    assert "Eve &amp; Co" in page
    # Self-contained: nothing is loaded; the only URLs are the commit links asked for.
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page)
    urls = set(re.findall(r"https?://[^\"'<> ]+", page))
    assert urls and all(u.startswith("https://git.example.org/linux/commit/?id=") for u in urls)


def test_text_md_and_exports_make_control_characters_visible(evil_repo, srcdiff):
    text = srcdiff("report", "foo", "--repo", str(evil_repo)).out
    assert "\x1b" not in text and "\\x1b[31m" in text
    md = srcdiff("report", "foo", "--repo", str(evil_repo), "--format", "md").out
    assert "\x1b" not in md and "\\<script>" in md
    gml = srcdiff("graph", "foo", "--repo", str(evil_repo), "--format", "graphml").out
    g = nx.parse_graphml(gml)  # a raw ESC would make the XML unreadable
    changes = json.loads(g.edges["v1.0", "v1.1"]["changes"])  # JSON keeps the subject exactly
    assert changes[0]["commits"][0]["subject"] == EVIL
    dot = srcdiff("graph", "foo", "--repo", str(evil_repo), "--format", "dot").out
    assert "\x1b" not in dot


# -- graph export -------------------------------------------------------------------------


def test_graph_exports_parse_and_carry_the_changes(tmp_path, demo_repo, srcdiff):
    log = srcdiff("log", "vfio_pci_device", "--repo", str(demo_repo), "--format", "json").json()
    tags = [v["tag"] for v in log["versions"]]

    d = srcdiff("graph", "vfio_pci_device", "--repo", str(demo_repo), "--format", "json").json()
    assert [n["id"] for n in d["nodes"]] == tags
    edges = {(e["source"], e["target"]): e for e in d["edges"]}
    assert ("v5.4", "v5.4.1") in edges and ("v5.4", "v5.8") in edges and len(edges) == len(tags) - 1
    assert [c["field"] for c in edges["v5.4", "v5.8"]["changes"]] == NEW_IN_58
    assert edges["v5.4", "v5.8"]["changes"][0]["commits"][0]["subject"] == "vfio/pci: Introduce VF token"

    out = tmp_path / "g.graphml"
    res = srcdiff("graph", "vfio_pci_device", "--repo", str(demo_repo), "--format", "graphml",
                  "-o", str(out))
    assert res.code == 0, res.err
    g = nx.read_graphml(out)
    assert list(g.nodes) == tags and g.number_of_edges() == len(tags) - 1
    e = g.edges["v5.4", "v5.8"]
    assert e["n_changes"] == 5 and e["summary"] == "5 added"
    assert [c["field"] for c in json.loads(e["changes"])] == NEW_IN_58
    assert g.nodes["v5.15"]["present"] is False and g.nodes["v5.13"]["members"] == 43

    dot = srcdiff("graph", "vfio_pci_device", "--repo", str(demo_repo)).out
    assert dot.startswith('digraph "struct vfio_pci_device" {')
    assert re.search(r'"v5\.4" -> "v5\.8" \[label="5 added", style=solid', dot)
    assert re.search(r'"v5\.4" -> "v5\.4\.1" \[label="", style=dashed', dot)
    assert len(re.findall(r"^\s+\"[^\"]+\" -> ", dot, re.MULTILINE)) == len(tags) - 1


def test_lifetimes_mark_guarded_members(demo_repo, srcdiff):
    d = srcdiff("report", "pci_dev", "--repo", str(demo_repo), "--format", "json").json()
    life = {row["member"]: row for row in d["lifetimes"]}
    assert life["msi_list"]["guards"] == ["CONFIG_PCI_MSI"]
    assert life["msi_unused"]["guards"] == ["!CONFIG_PCI_MSI"]
    assert life["ltr_path"]["states"]["v4.10"] == "added" and life["bus"]["guards"] == []
    page = srcdiff("report", "pci_dev", "--repo", str(demo_repo), "--format", "html").out
    row = page.split('data-member="msi_list"')[1].split("</g>")[0]
    assert row.count('class="guard-mark"') == len(d["versions"])  # guarded at every release
    assert "[if CONFIG_PCI_MSI]" in row
