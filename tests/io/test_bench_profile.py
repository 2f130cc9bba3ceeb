"""Benchmark runs as a capacity profile (`planner profile from-runs`): the highest rate within the SLOs per
config and request size, on a grid of buckets around the runs' lengths; the result plans as capacity_profile."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import PlannerError
from planner.export.bench_results import LAYOUTS
from planner.io.readers.bench_profile import RunsOf, edges, parse_target, profile_rows
from planner.io.readers.bench_run import BenchRun
from planner.io.readers.profile_csv import read_profile
from planner.schemas.ranges import OPEN


def _run(inp: int, out: int, rps: float, ttft_p99: float, tpot_p99: float) -> BenchRun:
    return BenchRun("vllm", f"r{inp}-{rps}.json", "rate", rps, inp, out, ttft_p99 / 2, tpot_p99 * 0.9, rps * out, rps,
                    ttft_p99, tpot_p99)


def test_edges_split_at_the_geometric_mean() -> None:
    # sqrt(512 x 2048) = 1024; one length: everything; the top is open
    assert edges([512, 2048]) == [(1, 1024), (1024, OPEN)]
    assert edges([100]) == [(1, OPEN)]


def test_highest_rate_within_both_slos_and_conservative_fill() -> None:
    runs = (_run(512, 128, 4.0, 100, 20), _run(512, 128, 9.0, 300, 35), _run(512, 128, 14.0, 900, 45),  # 14 misses both
            _run(2048, 512, 2.0, 400, 30), _run(2048, 512, 3.0, 600, 38))  # 3.0 misses TTFT
    rows = profile_rows([RunsOf("h100", "bf16", 1, "fp16", runs)], ttft_ms=500, tpot_ms=40)
    got = {(r[1], r[2], r[3], r[4]): float(r[5]) for r in rows}
    assert got == {(1, 1024, 1, 256): 9.0, (1024, "", 256, ""): 2.0,
                   (1, 1024, 256, ""): 2.0, (1024, "", 1, 256): 2.0}  # unmeasured cells: the longer cell's 2.0


def test_no_run_within_the_slos_is_an_error() -> None:
    with pytest.raises(PlannerError, match="no run meets p99 TTFT <= 50 ms"):
        profile_rows([RunsOf("h100", "bf16", 1, "fp16", (_run(512, 128, 4.0, 100, 20),))], ttft_ms=50, tpot_ms=40)


def test_config_per_file() -> None:
    assert parse_target("a.json@h100/fp8/tp2/kv-fp8", (None, "bf16", 1, "fp16")) == ("a.json", ("h100", "fp8", 2, "fp8"))
    assert parse_target("a.json", ("l4", "bf16", 1, "fp16")) == ("a.json", ("l4", "bf16", 1, "fp16"))
    with pytest.raises(PlannerError, match="which GPU"):
        parse_target("a.json", (None, "bf16", 1, "fp16"))


def test_cli_runs_to_profile_to_plan(tmp_path) -> None:  # noqa: ANN001
    runs = [_run(512, 128, r, 40 + 10 * r, 10 + r) for r in (2.0, 6.0, 12.0)] + [_run(2048, 512, r, 120 + 40 * r, 12 + 3 * r)
                                                                               for r in (1.0, 3.0)]
    (tmp_path / "h100.jsonl").write_text("".join(LAYOUTS["sglang-bench-jsonl"](r) for r in runs))
    (tmp_path / "w.yaml").write_text(
        "model: llama-3.1-8b\nslo: {ttft_ms: 500, tpot_ms: 40}\ntraffic:\n  rate_rps: 10\n  histogram:\n"
        "    - {input: [1, 1024], output: [1, 256], share: 0.8}\n    - {input: [1024, 4096], output: [256, 1024], share: 0.2}\n"
        "gpus: [h100]\ntp: [1]\ncapacity_profile: p.csv\n")
    res = CliRunner().invoke(cli, ["profile", "from-runs", f"{tmp_path}/h100.jsonl@h100/bf16/tp1", "--workload",
                                   str(tmp_path / "w.yaml"), "-o", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    profile = read_profile(tmp_path / "p.csv")
    assert {r.max_rps for r in profile.rows if r.bucket == (1, 1024, 1, 256)} == {12.0}  # 12 req/s: p99 160 ms, 22 ms
    assert {r.max_rps for r in profile.rows if r.bucket == (1024, OPEN, 256, OPEN)} == {3.0}  # 3 req/s: 240 ms, 21 ms
    solved = CliRunner().invoke(cli, ["solve", str(tmp_path / "w.yaml")])
    assert solved.exit_code == 0 and "measured" in solved.output


def test_single_measurement_files_are_refused(tmp_path) -> None:  # noqa: ANN001
    from planner.io.readers.calibration_csv import CSV_COLUMNS

    path = tmp_path / "m.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\nllama-3.1-8b,h100,1,bf16,fp16,batch,512,128,8,tpot_ms,9.1\n")
    (tmp_path / "w.yaml").write_text("model: llama-3.1-8b\nslo: {ttft_ms: 500, tpot_ms: 40}\ntraffic:\n  rate_rps: 1\n"
                                     "  histogram:\n    - {input: [1, 1024], output: [1, 256], share: 1}\n")
    res = CliRunner().invoke(cli, ["profile", "from-runs", str(path), "--gpu", "h100", "--workload", str(tmp_path / "w.yaml")])
    assert res.exit_code == 2 and "holds single measurements, not benchmark runs" in res.output


def test_a_benchmark_file_as_capacity_profile_says_how_to_convert_it(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "runs.jsonl").write_text(LAYOUTS["sglang-bench-jsonl"](_run(512, 128, 4.0, 100, 20)))
    with pytest.raises(PlannerError, match=r"runs.jsonl: this is a sglang-bench-jsonl benchmark result, not a capacity profile; "
                                           r"turn its runs into one with `planner profile from-runs runs.jsonl@GPU"):
        read_profile(tmp_path / "runs.jsonl")
