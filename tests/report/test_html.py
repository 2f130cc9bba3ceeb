"""The report: self-contained HTML (no external resource) with the headline numbers; Markdown; a real browser render."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.report.html import render_report_html
from planner.report.markdown_report import render_report_markdown
from planner.report.tables import money as _money
from planner.studies.report import build_report, read_accuracy
from tests.studies.whatif_workload import WORKLOAD

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "w.yaml"
    path.write_text(WORKLOAD)
    return build_report(path, jobs=1)


@pytest.fixture(scope="module")
def html(data) -> str:
    return render_report_html(data)


def test_html_is_self_contained(html):
    assert html.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'\bsrc="([^"]*)"', html)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"<(link|script|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"\bhref=|url\(|@import", html, re.I)


def test_html_has_the_headline_and_every_section(data, html):
    plan = data.plan
    for number in (_money(plan.cost_per_month), _money(plan.cost_per_hour), _money(plan.cost_per_million_output_tokens)):
        assert number in html
    for section in ("Pools", "Routing", "Single-GPU-type fleets", "Cost vs SLO frontier", "Sensitivity", "Inputs",
                    "Sources behind every price and spec", "Model accuracy"):
        assert f"<h2>{section}" in html
    assert plan.inputs["workload_sha256"] in html
    # every GPU in scope has a spec, a price and an efficiency source
    gpus = {b.gpu for b in plan.baselines}
    for what in ("GPU spec", "efficiency"):
        assert {r["id"] for r in data.sources if r["what"] == what} == gpus
    assert all(r["source"] for r in data.sources)


def test_markdown_links_sibling_images(data):
    text, images = render_report_markdown(data, "r_")
    assert sorted(images) == ["r_composition.png", "r_frontier.png", "r_tornado.png", "r_traffic.png"]
    assert "![cost vs TPOT SLO](r_frontier.png)" in text and f"**cost**: {_money(data.plan.cost_per_hour)}/hour" in text
    bare, none = render_report_markdown(data)
    assert none == {} and "](" not in bare


def test_accuracy_table_is_read_from_markdown():
    text = "# Accuracy\n\nintro\n\n## TPOT error\n\n| engine | MAPE |\n| --- | ---: |\n| vLLM | 12% |\n\nafter\n"
    acc = read_accuracy(text)
    assert (acc.heading, acc.header, acc.rows) == ("TPOT error", ["engine", "MAPE"], [["vLLM", "12%"]])
    assert read_accuracy("# nothing here\n") is None


def test_report_cli_writes_atomically(tmp_path, write):
    path = write("w.yaml", WORKLOAD)
    out = tmp_path / "out" / "report.md"
    res = CliRunner().invoke(cli, ["report", str(path), "--format", "md", "-o", str(out), "--jobs", "1", "--set", "slo.tpot_ms=40"])
    assert res.exit_code == 0, res.output
    assert (out.parent / "report_frontier.png").is_file() and "slo.tpot_ms=40" in out.read_text()


@pytest.mark.slow
def test_chromium_renders_the_report(html, tmp_path):
    """Open the HTML in headless Chromium (networking off) and check the screenshot is a real, non-blank page."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(html)
    png = tmp_path / "report.png"
    subprocess.run([str(ROOT / "scripts" / "render_report.sh"), str(page), str(png), "1280,2400"], check=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not an empty page
