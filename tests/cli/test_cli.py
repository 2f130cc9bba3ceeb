"""The command line: formats, output files, exit codes and one-line errors (no tracebacks)."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from tests.conftest import WORKLOADS

HIST = """\
model: llama-3-8b
slo: {ttft_ms: 1000, tpot_ms: 50}
traffic:
  rate_rps: 8
  histogram:
    - {input: [1, 512], output: [64, 256], share: 1.0}
gpus: [h100, l4]
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_solve_table_shows_headline_pools_routing_baselines():
    result = run("solve", str(WORKLOADS / "chat.yaml"))
    assert result.exit_code == 0, result.output
    for text in ("status", "optimal", "/month (730 h)", "per 1M output tokens", "Pools", "Routing", "Single-GPU-type fleets", "binding"):
        assert text in result.output


@pytest.mark.parametrize("fmt", ["json", "csv", "md"])
def test_solve_formats_to_file(write, tmp_path, fmt):
    workload = write("w.yaml", HIST)
    out = tmp_path / f"plan.{fmt}"
    result = run("solve", str(workload), "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert data["status"] == "optimal" and data["pools"]
    elif fmt == "csv":
        frame = pd.read_csv(out)
        assert {"config", "replicas", "bucket", "share"} <= set(frame.columns) and frame["share"].sum() == pytest.approx(1.0)
    else:
        assert text.startswith("# Plan") and "| GPU |" in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_field_exits_2_with_file_line_and_no_traceback(write, tmp_path):
    workload = write("w.yaml", HIST.replace("tpot_ms: 50", "tpot_ms: fast"))
    out = tmp_path / "plan.json"
    result = run("solve", str(workload), "-o", str(out))
    assert result.exit_code == 2
    assert f"error: {workload}:2: slo.tpot_ms: Input should be a valid number" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_infeasible_exits_3_and_says_why(write):
    workload = write("w.yaml", HIST.replace("tpot_ms: 50", "tpot_ms: 1"))
    result = run("solve", str(workload))
    assert result.exit_code == 3
    assert "p99 TPOT 1 ms cannot be met; the best is" in result.output


def test_unknown_gpu_without_price_is_explained(write):
    workload = write("w.yaml", HIST.replace("gpus: [h100, l4]", "gpus: [a10g]\npricing: {provider: gcp}"))
    result = run("solve", str(workload))
    assert result.exit_code == 2
    assert "no gcp on-demand price for GPU 'a10g' (providers with a on-demand price for it: aws)" in result.output


def test_debug_shows_traceback(write):
    workload = write("w.yaml", HIST.replace("model: llama-3-8b", "model: nope"))
    result = CliRunner().invoke(cli, ["--debug", "solve", str(workload)])
    assert result.exit_code != 0 and result.exception is not None


def test_catalog_listing_with_sources():
    result = run("catalog", "gpus", "--format", "json")
    rows = json.loads(result.output)
    assert {r["id"] for r in rows} >= {"h100", "l4"} and all(r["source"] for r in rows)
    assert "llama-3.1-70b" in run("catalog", "models").output
    assert "int4" in run("catalog", "quant", "--format", "csv").output


def test_trace_generate_then_stats(tmp_path):
    out = tmp_path / "t.csv"
    result = run("trace", "generate", "--kind", "code", "--rps", "3", "--minutes", "2", "--seed", "4", "-o", str(out))
    assert result.exit_code == 0 and out.exists()
    stats = run("trace", "stats", str(out))
    assert "requests" in stats.output and "planner layout" in stats.output
    bad = run("trace", "generate", "--kind", "chat", "--rps", "-1", "-o", str(tmp_path / "x.csv"))
    assert bad.exit_code == 2 and "a synthetic trace needs a positive, finite rate and length" in bad.output


def test_stdout_is_pure_json_with_solver_banners_suppressed(write):
    """A real process: HiGHS and CBC print banners at file-descriptor level; none may reach stdout."""
    import subprocess
    import sys

    workload = write("w.yaml", HIST)
    for solver in ("highs", "cbc"):
        proc = subprocess.run([sys.executable, "-c", "from planner.cli.main import main; main()", "solve", str(workload),
                               "--format", "json", "--solver", solver], capture_output=True, text=True, check=True)
        assert json.loads(proc.stdout)["solver"]["name"] == solver


def test_help_imports_no_heavy_library():
    """`planner --help` lists the commands without importing them (docs/benchmarks/startup.md: ~0.1 s)."""
    import subprocess
    import sys

    code = ("import sys\nfrom planner.cli.main import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'pydantic', 'duckdb', 'matplotlib', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "solve" in out and "simulate" in out
    assert out.strip().splitlines()[-1] == "[]"
