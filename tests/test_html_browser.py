"""The HTML report as a person sees it: rendered by headless Chromium, scripts run, DOM checked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
URL = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id={sha}"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent (Debian package chromium; .ci/install-chromium installs it)",
)


def chromium(tmp_path: Path, page: Path, *action: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on PAGE, offline and with a throwaway profile."""
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600",
            *action, page.as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=180, check=True)


@pytest.fixture
def page(tmp_path, demo_repo, srcdiff) -> tuple[Path, dict]:
    out = tmp_path / "report.html"
    res = srcdiff("report", "vfio_pci_device", "--repo", str(demo_repo), "--format", "html",
                  "--commit-url", URL, "-o", str(out))
    assert res.code == 0, res.err
    data = srcdiff("report", "vfio_pci_device", "--repo", str(demo_repo), "--format", "json").json()
    return out, data


def test_chart_graph_and_commit_links_are_drawn(tmp_path, page):
    path, data = page
    dom = chromium(tmp_path, path, "--dump-dom").stdout
    assert 'data-js="on"' in dom  # the page's script ran without error
    versions = len(data["versions"])
    members = len(data["lifetimes"])
    # Version graph: a node per release, an edge per parent -> child, the stable branch dashed.
    assert len(re.findall(r'<g class="vnode ', dom)) == versions
    edges = re.findall(r'<path class="vedge (\w+)', dom)
    assert len(edges) == versions - 1 and edges.count("branch") == 2  # v5.4 -> 5.4.1 -> 5.4.2
    assert len(re.findall(r'<g class="vnode absent"', dom)) == 5
    # Field-lifetime chart: a row per member, a cell per (member, release); all rows shown.
    assert len(re.findall(r'<g class="row"', dom)) == members
    assert len(re.findall(r'<rect class="cell ', dom)) == members * versions
    assert f'data-visible-rows="{members}"' in dom
    assert len(re.findall(r'class="cell s-added"', dom)) == sum(
        list(row["states"].values()).count("added") for row in data["lifetimes"])
    assert re.search(r'<g class="row" data-member="vf_token"', dom)
    # Commit links: one per attributed change, pointing at the template's URL.
    links = re.findall(r'<a class="commit" href="([^"]+)"', dom)
    attributed = [c for p in data["pairs"] for c in p["changes"] if c["commits"]]
    assert len(links) == len(attributed)
    shas = {c["commits"][-1]["commit"] for c in attributed}
    assert {u.rsplit("=", 1)[1] for u in links} == shas
    assert all(u.startswith(URL.split("{")[0]) for u in links)
    # The filter control is shown once the script has run.
    assert re.search(r'<p class="filter">', dom)


def test_screenshot_renders(tmp_path, page):
    path, _data = page
    shot = tmp_path / "report.png"
    chromium(tmp_path, path, f"--screenshot={shot}")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 1600)
    assert len(png) > 50_000  # a drawn page, not a blank one


def test_check_matrix_is_drawn_with_every_status(tmp_path, demo_repo, srcdiff):
    """check --format html as Chromium builds it: a row per dependency and program, a cell per
    release with the status JSON gives."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("vfio_pci_device.vf_token\nvfio_pci_device.msix?\nvfio_pci_device.pdev long\n")
    b.write_text("vfio_pci_device.vf_token\nvfio_pci_device.nointx\n")
    out = tmp_path / "check.html"
    args = ["check", str(a), str(b), "--repo", str(demo_repo)]
    assert srcdiff(*args, "--format", "html", "-o", str(out)).code == 1
    data = srcdiff(*args, "--format", "json").json()
    dom = chromium(tmp_path, out, "--dump-dom").stdout
    tags = data["versions"]
    rows = re.findall(r'<tr class="dep[^"]*" data-dep="([^"]+)" data-program="([^"]+)">(.*?)</tr>',
                      dom, re.S)
    assert [(d, p) for d, p, _ in rows] == [
        ("vfio_pci_device.vf_token", str(a)), ("vfio_pci_device.msix", str(a)),
        ("vfio_pci_device.pdev", str(a)),
        ("vfio_pci_device.vf_token", str(b)), ("vfio_pci_device.nointx", str(b))]
    want = {(x["field"], x["type"]): x["releases"] for x in data["dependencies"]}
    types = {"pdev": "long"}
    for dep, _prog, cells in rows:
        field = dep.split(".", 1)[1]
        got = re.findall(r'data-tag="([^"]+)" data-status="([^"]+)"', cells)
        assert dict(got) == want[(field, types.get(field))] and [t for t, _ in got] == tags
    shot = tmp_path / "check.png"
    chromium(tmp_path, out, f"--screenshot={shot}")
    assert len(shot.read_bytes()) > 50_000  # a drawn matrix, not a blank page
