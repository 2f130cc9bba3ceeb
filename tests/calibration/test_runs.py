"""A folder of runs: one overlay, the fit reported per run, the run that disagrees flagged."""
from __future__ import annotations

import math
from dataclasses import replace

from click.testing import CliRunner

from planner.calibration.runs import DISAGREE_ABS, per_run
from planner.cli.main import cli
from planner.export.bench_results import LAYOUTS
from planner.io.readers import ReadContext
from planner.io.readers.bench_run import BenchRun

from tests.io._simulated import simulated_run

CONTEXT = ReadContext(model="llama-3.1-8b", gpu="h100")


def _run(name: str, rate: float) -> BenchRun:
    return BenchRun("vllm", name, "rate", rate, 512, 256, ttft_ms=30.0, tpot_ms=10.0, output_tok_s=2000.0, req_s=rate)


def test_a_uniform_misfit_flags_no_run_but_an_outlier_is_flagged() -> None:
    obs = [o for k, rate in enumerate((2, 4, 6, 8)) for o in _run(f"r{k}.json", rate).observations(CONTEXT)]
    # every run 25 % slow on TPOT (the model's bias, not a run's); run r2 another 30 % off on TTFT
    errors = [{"ttft_ms": 0.02, "tpot_ms": 0.25, "output_tok_s": -0.1}[o.metric] for o in obs]
    errors[6] = 0.02 + 0.30  # r2's ttft_ms: |log(1.32) - log(1.02)| = 0.258 > log(1.2) = 0.182
    fits = per_run(obs, errors)
    assert [f.run for f in fits] == ["r0.json", "r1.json", "r2.json", "r3.json"]
    assert [f.disagrees for f in fits] == [False, False, True, False]
    assert math.isclose(fits[2].worst, math.log(1.32) - math.log(1.02)) and fits[2].worst > DISAGREE_ABS
    assert fits[0].errors == {"ttft_ms": 0.02, "tpot_ms": 0.25, "output_tok_s": -0.1}


def test_a_run_the_model_cannot_run_is_flagged() -> None:
    obs = [o for k in range(3) for o in _run(f"r{k}.json", 2.0 + k).observations(CONTEXT)]
    errors = [0.05] * len(obs)
    errors[3] = math.nan
    assert [f.disagrees for f in per_run(obs, errors)] == [False, True, False]


def test_cli_fits_one_overlay_from_a_folder_and_flags_the_odd_run(tmp_path) -> None:  # noqa: ANN001
    for rate in (2.0, 8.0):
        (tmp_path / f"rate{rate:g}.json").write_text(LAYOUTS["vllm-bench-json"](simulated_run(rate, 512, 256, n=200)))
    odd = simulated_run(5.0, 512, 256, n=200)
    (tmp_path / "rate5-odd.json").write_text(LAYOUTS["vllm-bench-json"](replace(odd, tpot_ms=odd.tpot_ms * 1.6)))
    files = sorted(str(p) for p in tmp_path.glob("*.json"))
    result = CliRunner().invoke(cli, ["calibrate", *files, "--model", "llama-3.1-8b", "--gpu", "h100", "-o", str(tmp_path / "o.yaml")])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("rate")}
    assert set(lines) == {"rate2.json", "rate8.json", "rate5-odd.json"}
    assert "disagrees" in lines["rate5-odd.json"] and "disagrees" not in lines["rate2.json"] + lines["rate8.json"]
    assert (tmp_path / "o.yaml").read_text().count("gpu: h100") == 1  # one overlay from all runs
