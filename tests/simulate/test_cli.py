"""`planner simulate` and `planner solve --verify` through the CLI: exit codes, keys, files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "workloads" / "chat.yaml"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    if not CHAT.is_file():
        pytest.skip("workloads/chat.yaml is absent")
    path = tmp_path_factory.mktemp("sim") / "plan.json"
    result = CliRunner().invoke(cli, ["solve", str(CHAT), "--format", "json", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_simulate_json_has_the_documented_keys(plan_file, tmp_path):
    out = tmp_path / "sim.json"
    html = tmp_path / "timeline.html"
    result = CliRunner().invoke(cli, ["simulate", str(plan_file), "--duration", "60", "--format", "json", "-o", str(out),
                                      "--timeline", str(html)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for key in ("requests", "completed", "rejected", "slo_attainment", "p50_ttft_ms", "p99_ttft_ms", "p50_tpot_ms", "p99_tpot_ms", "pools"):
        assert key in data
        assert all(key in pool for pool in data["pools"]) or key == "pools"
    assert data["completed"] + data["rejected"] == data["requests"]
    assert html.read_text().startswith("<!doctype html>") and "data:image/png;base64," in html.read_text()


def test_simulate_table_and_bad_timeline_suffix(plan_file, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["simulate", str(plan_file), "--duration", "30", "--routing", "round-robin"])
    assert ok.exit_code == 0 and "SLOs met" in ok.output and "all" in ok.output
    bad = runner.invoke(cli, ["simulate", str(plan_file), "--duration", "30", "--timeline", str(tmp_path / "t.svg")])
    assert bad.exit_code == 2
    assert "error: --timeline" in bad.output and "expected a .png or .html" in bad.output
    neg = runner.invoke(cli, ["simulate", str(plan_file), "--duration", "-5"])
    assert neg.exit_code == 2 and "--duration must be a positive finite number" in neg.output


def test_solve_verify_prints_the_verdict_next_to_the_plan():
    if not CHAT.is_file():
        pytest.skip("workloads/chat.yaml is absent")
    result = CliRunner().invoke(cli, ["solve", str(CHAT), "--verify"])
    assert result.exit_code == 0, result.output
    assert "Verification (simulated" in result.output and "SLOs met" in result.output
    assert CliRunner().invoke(cli, ["solve", str(CHAT), "--repair"]).exit_code == 2


def test_jobs_gives_the_serial_numbers_and_refuses_negatives(plan_file, tmp_path):
    runner = CliRunner()
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.json"
        result = runner.invoke(cli, ["simulate", str(plan_file), "--duration", "60", "--jobs", jobs, "--format", "json", "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(out.read_text()))
    assert outputs[0] == outputs[1]
    bad = runner.invoke(cli, ["simulate", str(plan_file), "--jobs", "-1"])
    assert bad.exit_code == 2 and "--jobs" in bad.output
