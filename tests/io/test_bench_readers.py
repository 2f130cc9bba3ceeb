"""Benchmark-tool readers: vLLM, SGLang, AIPerf, GenAI-Perf, GuideLLM.

Fixtures, and how they were made (no GPU here):
- tests/io/fixtures/real/: every tool's own output from runs against a stub server (vLLM 0.34.0 and 0.6.3, SGLang
  0.5.23, AIPerf 0.13.0, GenAI-Perf 0.0.16 and 0.0.8, GuideLLM 0.8.1), read, broken and planned with in
  tests/io/test_real_fixtures.py. The files below are not from a run:
- tests/io/fixtures/aiperf013_*: written by the real AIPerf 0.13.0 exporters (see test_files_written_by_aiperf_0_13_exporters).
- tests/io/fixtures/guidellm_benchmarks.json: strategies and metric distributions made by guidellm 0.8.1 models.
- tests/io/fixtures/aiperf_*: the example outputs published in AIPerf's docs/tutorials/working-with-profile-exports.md
  (ai-dynamo/aiperf), trimmed; the CSV gains the Input Sequence Length row AIPerf writes (schema-built).
- tests/io/fixtures/genai_perf_*.csv: the layout of GenAI-Perf's CsvExporter (triton perf_analyzer
  genai-perf/genai_perf/export_data/csv_exporter.py: `{value:,.2f}` statistics, then a Metric,Value table) (schema-built).
- tests/io/fixtures/vllm_bench_serve.json: the field set vLLM's benchmarks/serve.py saves with --save-result (schema-built).
- Round trips: planner-simulated runs written by planner.export.bench_results in each layout (field names
  and nesting checked against the real packages' pydantic models, guidellm 0.8.1 and aiperf 0.13.0:
  BenchmarkConfig.strategy, StatusDistributionSummary.successful.mean/percentiles.p99, AIPerf metric tags and
  headers), read back: the same observations.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import PlannerError
from planner.export.bench_results import LAYOUTS, aiperf_records_jsonl, guidellm_json
from planner.io.readers import ReadContext, detect

from tests.io._simulated import simulated_requests, simulated_run

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = ReadContext(model="llama-3.1-8b", gpu="h100")
READER_OF = {"genai-perf-json": "aiperf-json", "genai-perf-csv": "aiperf-csv"}
"""Layouts one reader reads (AIPerf kept GenAI-Perf's file format)."""
NO_LOAD = {"aiperf-csv", "genai-perf-csv", "guidellm-csv"}
"""Layouts that do not record an open-loop rate: the measured request throughput stands in for it."""


def _read(path: Path):  # noqa: ANN202
    return detect(path, "observations").read(path, CONTEXT).items


@pytest.fixture(scope="module")
def run():  # noqa: ANN201
    return simulated_run(8.0, 512, 256)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_round_trip_gives_the_same_observations(layout: str, run, write) -> None:  # noqa: ANN001
    path = write(f"run-{layout}.out", LAYOUTS[layout](run))
    assert detect(path, "observations").name == READER_OF.get(layout, layout)
    got, want = _read(path), run.observations(CONTEXT)
    assert [o.metric for o in got] == [o.metric for o in want] == ["ttft_ms", "tpot_ms", "output_tok_s"]
    for g, w in zip(got, want):
        assert (g.mode, g.input_tokens, g.output_tokens) == (w.mode, w.input_tokens, w.output_tokens)
        assert g.measured == pytest.approx(w.measured, rel=1e-3)  # the CSVs keep two decimals
        assert g.load == pytest.approx(run.req_s if layout in NO_LOAD else run.load, rel=1e-3)


def test_round_trip_reads_back_exactly_what_calibration_fits(write) -> None:  # noqa: ANN001
    # issue 15's round trip to the overlay, on vLLM's layout (exact JSON floats; every layout reads back the same
    # observations to its precision, test_round_trip_gives_the_same_observations): simulated runs at two rates,
    # written and read back, are the runs' own observations field for field, each labelled by its file as the
    # reader labels it. calibration.fit_efficiency is a deterministic function of these (the labels included:
    # it weighs each source and metric equally), so they give the same overlay (checked once by hand: 2 fits, 50 s).
    from dataclasses import replace

    runs = [simulated_run(rate, 512, 256) for rate in (2.0, 8.0)]
    paths = [write(f"run{i}.json", LAYOUTS["vllm-bench-json"](r)) for i, r in enumerate(runs)]
    read = [o for path in paths for o in _read(path)]
    direct = [replace(o, source=path.name, ref=f"{path.name}:{o.metric}") for r, path in zip(runs, paths)
              for o in r.observations(CONTEXT)]
    assert read == direct


def test_aiperf_records_round_trip(write) -> None:  # noqa: ANN001
    r = simulated_requests(8.0, 512, 256)
    start = (r["arrival_s"] * 1e9).astype(np.int64)
    end = (r["finish_s"] * 1e9).astype(np.int64)
    text = aiperf_records_jsonl(r["ttft_ms"], r["tpot_ms"], r["isl"], r["osl"], start, end)
    path = write("profile_export.jsonl", text)
    assert detect(path, "observations").name == "aiperf-records-jsonl"
    obs = {o.metric: o for o in _read(path)}
    span = (end.max() - start.min()) * 1e-9
    assert obs["ttft_ms"].measured == pytest.approx(float(np.mean(r["ttft_ms"])))
    assert obs["tpot_ms"].measured == pytest.approx(float(np.mean(r["tpot_ms"])))
    assert obs["output_tok_s"].measured == pytest.approx(256 * len(start) / span)
    assert obs["ttft_ms"].load == pytest.approx(len(start) / span) and obs["ttft_ms"].mode == "rate"


def test_published_aiperf_examples() -> None:
    # profile_export_aiperf.json of AIPerf's docs: --concurrency 100, 550 -> 96.85 tokens
    obs = {o.metric: o for o in _read(FIXTURES / "aiperf_profile_export_aiperf.json")}
    assert obs["ttft_ms"].mode == "concurrency" and obs["ttft_ms"].load == 100
    assert (obs["ttft_ms"].input_tokens, obs["ttft_ms"].output_tokens) == (550, 97)
    assert obs["ttft_ms"].measured == pytest.approx(1588.797775365) and obs["tpot_ms"].measured == 51.76
    # the CSV of the same run: no load recorded, so the measured 13.16 req/s is the rate
    csv_obs = {o.metric: o for o in _read(FIXTURES / "aiperf_profile_export_aiperf.csv")}
    assert csv_obs["ttft_ms"].mode == "rate" and csv_obs["ttft_ms"].load == 13.16
    assert csv_obs["output_tok_s"].measured == 1274.63 and csv_obs["ttft_ms"].measured == 1588.80
    # the JSONL: one successful record (the cancelled one is left out)
    rec = {o.metric: o for o in _read(FIXTURES / "aiperf_profile_export.jsonl")}
    assert rec["ttft_ms"].measured == pytest.approx(255.88656799999998) and rec["tpot_ms"].measured == pytest.approx(5.2048325)
    span = (1759813207838764604 - 1759813207532900363) * 1e-9
    assert rec["output_tok_s"].measured == pytest.approx(9 / span)


def test_published_genai_perf_and_vllm_examples() -> None:
    obs = {o.metric: o for o in _read(FIXTURES / "genai_perf_profile_export_genai_perf.csv")}
    assert obs["ttft_ms"].measured == 1234.5 and obs["tpot_ms"].measured == 21.4 and obs["output_tok_s"].measured == 1520.4
    assert (obs["ttft_ms"].input_tokens, obs["ttft_ms"].output_tokens, obs["ttft_ms"].load) == (2048, 254, 5.98)
    vllm = {o.metric: o for o in _read(FIXTURES / "vllm_bench_serve.json")}
    assert vllm["ttft_ms"].mode == "rate" and vllm["ttft_ms"].load == 8.0 and vllm["ttft_ms"].input_tokens == 512  # 2048 / 4


def test_guidellm_sweep_gives_one_run_per_benchmark(write) -> None:  # noqa: ANN001
    runs = [simulated_run(rate, 512, 256, n=200) for rate in (2.0, 8.0)]
    sync = runs[0].__class__(**{**runs[0].__dict__, "mode": "concurrency", "load": 1.0})
    path = write("benchmarks.json", guidellm_json([sync, *runs]))
    obs = _read(path)
    assert [(o.mode, o.load) for o in obs if o.metric == "ttft_ms"] == [("concurrency", 1.0), ("rate", 2.0), ("rate", 8.0)]
    assert [o.ref for o in obs if o.metric == "ttft_ms"] == ["benchmarks.json#1:ttft_ms", "benchmarks.json#2:ttft_ms",
                                                             "benchmarks.json#3:ttft_ms"]


def test_sglang_and_vllm_append_result_read_every_line(run, write) -> None:  # noqa: ANN001
    for layout in ("sglang-bench-jsonl", "vllm-bench-json"):
        path = write(f"{layout}.jsonl", LAYOUTS[layout](run) * 3)
        assert detect(path, "observations").name == layout
        assert len(_read(path)) == 9


MALFORMED = {
    # layout: (how to break the file, the field the error must name)
    "vllm-bench-json": (lambda t: t.replace('"mean_ttft_ms"', '"mean_ttft"'), "mean_ttft_ms: missing"),
    "sglang-bench-jsonl": (lambda t: t.replace('"completed": 1000', '"completed": 0'), "completed: expected a finite number > 0"),
    "aiperf-json": (lambda t: json.dumps({**json.loads(t), "request_throughput": {"avg": "fast"}}),
                    "request_throughput.avg: expected a number"),
    "genai-perf-json": (lambda t: t.replace('"inter_token_latency"', '"itl"'), "inter_token_latency: missing"),
    "aiperf-csv": (lambda t: t.replace("Inter Token Latency (ms)", "Latency"), "Inter Token Latency: missing"),
    "genai-perf-csv": (lambda t: t.replace("Request Throughput (per sec),", "Request Throughput (per sec),nan"), "request_throughput.avg"),
    "guidellm-json": (lambda t: t.replace('"inter_token_latency_ms"', '"itl_ms"'), "metrics.inter_token_latency_ms: missing"),
    "guidellm-csv": (lambda t: t.replace("poisson", "warp"), "strategy.type_: expected synchronous"),
}


@pytest.mark.parametrize("layout", sorted(MALFORMED))
def test_malformed_file_is_a_clear_error_with_exit_2(layout: str, run, write) -> None:  # noqa: ANN001
    breaker, field = MALFORMED[layout]
    path = write(f"bad-{layout}.out", breaker(LAYOUTS[layout](run)))
    with pytest.raises(PlannerError) as err:
        _read(path)
    assert str(path) in str(err.value) and field in str(err.value)
    result = CliRunner().invoke(cli, ["calibrate", str(path), "--model", "llama-3.1-8b", "--gpu", "h100"])
    assert result.exit_code == 2 and field in result.output and "Traceback" not in result.output


def test_truncated_json_names_the_line(write) -> None:  # noqa: ANN001
    path = write("cut.json", '{"completed": 10, "total_input_tokens": 5120,\n "mean_ttft_ms": ')
    with pytest.raises(PlannerError, match=r"cut.json:2: not valid JSON"):
        _read(path)


def test_no_successful_aiperf_record_is_an_error(write) -> None:  # noqa: ANN001
    failed = (FIXTURES / "aiperf_profile_export.jsonl").read_text().splitlines()[1]
    with pytest.raises(PlannerError, match="no successful request records"):
        _read(write("failed.jsonl", failed + "\n"))


def test_units_other_than_ms_are_converted(run, write) -> None:  # noqa: ANN001
    doc = json.loads(LAYOUTS["aiperf-json"](run))
    doc["time_to_first_token"] = {"unit": "ns", "avg": run.ttft_ms * 1e6}
    obs = {o.metric: o for o in _read(write("ns.json", json.dumps(doc)))}
    assert math.isclose(obs["ttft_ms"].measured, run.ttft_ms, rel_tol=1e-9)


def test_files_written_by_aiperf_0_13_exporters() -> None:
    """aiperf013_*: written by AIPerf 0.13.0's own MetricsJsonExporter and MetricsCsvExporter (pip install aiperf),
    fed a BenchmarkConfig from its CLI converter (`--concurrency 16`) and MetricResults of a planner-simulated run
    (19.62 ms mean TTFT, 10.15 ms ITL, 6.84 req/s, 1751.2 tok/s, 512/256 tokens); no server needed."""
    obs = {o.metric: o for o in _read(FIXTURES / "aiperf013_profile_export_aiperf.json")}
    assert (obs["ttft_ms"].mode, obs["ttft_ms"].load) == ("concurrency", 16.0)  # input_config.phases[0].concurrency
    assert (obs["ttft_ms"].measured, obs["tpot_ms"].measured, obs["output_tok_s"].measured) == (19.62, 10.15, 1751.2)
    assert (obs["ttft_ms"].input_tokens, obs["ttft_ms"].output_tokens) == (512, 256)
    csv_obs = {o.metric: o for o in _read(FIXTURES / "aiperf013_profile_export_aiperf.csv")}
    assert {m: o.measured for m, o in csv_obs.items()} == {m: o.measured for m, o in obs.items()}
    assert csv_obs["ttft_ms"].load == 6.84  # the CSV does not record the load: the measured rate


def test_guidellm_json_made_with_guidellm_models() -> None:
    """guidellm_benchmarks.json: the strategies are guidellm 0.8.1's own AsyncPoissonStrategy(rate=4) and
    ConcurrentStrategy(streams=10) dumped, every metric a StatusDistributionSummary.from_values of the per-request
    values of a planner-simulated run (llama-3.1-8b on one H100, 512/256 tokens, 200 requests, seed 1); the
    report shell around them is hand-made. The means below are numpy's over those requests."""
    obs = _read(FIXTURES / "guidellm_benchmarks.json")
    ttft = [o for o in obs if o.metric == "ttft_ms"]
    assert [(o.mode, o.load) for o in ttft] == [("rate", 4.0), ("concurrency", 10.0)]
    assert [o.measured for o in ttft] == pytest.approx([19.36576282672008, 19.419767997931967])
    assert [o.measured for o in obs if o.metric == "tpot_ms"] == pytest.approx([9.029172277159946, 10.39633186964376])
    assert [o.measured for o in obs if o.metric == "output_tok_s"] == pytest.approx([942.0428625094335, 2215.697168791107])
    assert {(o.input_tokens, o.output_tokens) for o in obs} == {(512, 256)}
