"""Benchmark runs written in each tool's own result layout (the fields planner's readers use, with the tools'
names, nesting and number formatting): to check the readers on a round trip (planner-simulated runs written
here, read back by planner.io.readers, give the same observations) and to show users what a reader expects."""
from __future__ import annotations

import csv
import io
import json

from planner.export import Exporter, register
from planner.io.readers.bench_run import BenchRun


def _open_loop(run: BenchRun) -> dict:
    """request_rate / max_concurrency as vLLM and SGLang record them."""
    rate = run.load if run.mode == "rate" else "inf"
    return {"request_rate": rate, "max_concurrency": int(run.load) if run.mode == "concurrency" else None}


def _completed(run: BenchRun, n: int) -> dict:
    return {"completed": n, "total_input_tokens": round(run.input_tokens * n), "total_output_tokens": round(run.output_tokens * n)}


def vllm_json(run: BenchRun, n: int = 1000) -> str:
    """`vllm bench serve --save-result`: one JSON object (vLLM writes it on one line)."""
    doc = {"date": "20261202-000000", "backend": "vllm", "model_id": "planner-simulated", **_open_loop(run), "duration": n / run.req_s,
           **_completed(run, n), "request_throughput": run.req_s, "output_throughput": run.output_tok_s,
           "total_token_throughput": run.output_tok_s * (1 + run.input_tokens / run.output_tokens),
           "mean_ttft_ms": run.ttft_ms, "p99_ttft_ms": run.ttft_p99_ms, "mean_tpot_ms": run.tpot_ms, "p99_tpot_ms": run.tpot_p99_ms,
           "mean_itl_ms": run.tpot_ms, "mean_e2el_ms": run.ttft_ms + (run.output_tokens - 1) * run.tpot_ms}
    return json.dumps(doc) + "\n"


def sglang_jsonl(run: BenchRun, n: int = 1000) -> str:
    """`sglang.bench_serving --output-file`: one JSON object a line per run."""
    doc = {"backend": "sglang", "dataset_name": "random", **_open_loop(run), "sharegpt_output_len": None,
           "random_input_len": round(run.input_tokens), "random_output_len": round(run.output_tokens), "duration": n / run.req_s,
           **_completed(run, n), "total_output_tokens_retokenized": round(run.output_tokens * n), "request_throughput": run.req_s,
           "output_throughput": run.output_tok_s, "mean_e2e_latency_ms": run.ttft_ms + (run.output_tokens - 1) * run.tpot_ms,
           "mean_ttft_ms": run.ttft_ms, "p99_ttft_ms": run.ttft_p99_ms, "mean_tpot_ms": run.tpot_ms, "p99_tpot_ms": run.tpot_p99_ms}
    return json.dumps(doc) + "\n"


def _stat(unit: str, avg: float, p99: float | None = None) -> dict:
    return {"unit": unit, "avg": avg} | ({"p99": p99} if p99 is not None else {})


def aiperf_json(run: BenchRun, genai_perf: bool = False) -> str:
    """`profile_export_aiperf.json` (or GenAI-Perf's `profile_export_genai_perf.json`): statistics by metric tag."""
    load = {"concurrency": int(run.load)} if run.mode == "concurrency" else {"request_rate": run.load}
    doc = {"request_throughput": _stat("requests/sec", run.req_s), "time_to_first_token": _stat("ms", run.ttft_ms, run.ttft_p99_ms),
           "inter_token_latency": _stat("ms", run.tpot_ms, run.tpot_p99_ms), "output_token_throughput": _stat("tokens/sec", run.output_tok_s),
           "input_sequence_length": _stat("tokens", run.input_tokens), "output_sequence_length": _stat("tokens", run.output_tokens),
           "input_config": load if genai_perf else {"endpoint": {"model_names": ["planner-simulated"]}, "loadgen": load}}
    return json.dumps(doc, indent=2) + "\n"


def aiperf_csv(run: BenchRun, genai_perf: bool = False) -> str:
    """The aggregated CSV: a statistics table and a single-value table (GenAI-Perf title-cases every word)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Metric", "avg", "min", "max", "p99", "p95", "p90", "p75", "p50", "p25"])
    title = "Time To First Token" if genai_perf else "Time to First Token"
    for name, avg, p99 in ((f"{title} (ms)", run.ttft_ms, run.ttft_p99_ms), ("Inter Token Latency (ms)", run.tpot_ms, run.tpot_p99_ms),
                           ("Input Sequence Length", run.input_tokens, None), ("Output Sequence Length", run.output_tokens, None)):
        w.writerow([name] + [f"{avg:,.2f}"] * 3 + [f"{p99 or avg:,.2f}"] + [f"{avg:,.2f}"] * 5)
    w.writerow([])
    w.writerow(["Metric", "Value"])
    w.writerow(["Output Token Throughput (per sec)", f"{run.output_tok_s:.2f}"])
    w.writerow(["Request Throughput (per sec)", f"{run.req_s:.2f}"])
    return buf.getvalue()


def _guidellm_strategy(run: BenchRun) -> dict:
    if run.mode == "concurrency":
        return {"type_": "concurrent", "streams": int(run.load)}
    if run.mode == "rate":
        return {"type_": "poisson", "rate": run.load}
    return {"type_": "throughput"}


def _dist(mean: float, p99: float | None = None) -> dict:
    return {"successful": {"mean": mean, "median": mean, "percentiles": {"p99": p99 if p99 is not None else mean}}}


def guidellm_json(runs: list[BenchRun]) -> str:
    """`guidellm benchmark --output-path benchmarks.json`: one benchmark per run."""
    benches = [{"type_": "generative_benchmark", "config": {"strategy": _guidellm_strategy(r)}, "metrics": {
        "time_to_first_token_ms": _dist(r.ttft_ms, r.ttft_p99_ms), "inter_token_latency_ms": _dist(r.tpot_ms, r.tpot_p99_ms),
        "time_per_output_token_ms": _dist((r.ttft_ms + (r.output_tokens - 1) * r.tpot_ms) / r.output_tokens),
        "output_tokens_per_second": _dist(r.output_tok_s), "requests_per_second": _dist(r.req_s),
        "prompt_token_count": _dist(r.input_tokens), "output_token_count": _dist(r.output_tokens)}} for r in runs]
    return json.dumps({"metadata": {"version": "planner-simulated"}, "benchmarks": benches}, indent=2) + "\n"


def guidellm_csv(runs: list[BenchRun]) -> str:
    """`--output-path benchmarks.csv`: three header rows (group, field, statistic), one row per benchmark."""
    columns = [("Benchmark", "Strategy", "")]
    for group, field in (("Time to First Token", "Successful ms"), ("Inter Token Latency", "Successful ms"),
                         ("Server Throughput", "Successful Requests/Sec"), ("Server Throughput", "Successful Concurrency"),
                         ("Token Metrics", "Successful Input Tokens"), ("Token Metrics", "Successful Output Tokens"),
                         ("Token Throughput", "Successful Output Tokens/Sec")):
        columns += [(group, field, "Mean"), (group, field, "Percentiles")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for level in range(3):
        w.writerow([c[level] for c in columns])
    for r in runs:
        clients = r.load if r.mode == "concurrency" else r.req_s * (r.ttft_ms + (r.output_tokens - 1) * r.tpot_ms) / 1e3
        means = [(r.ttft_ms, r.ttft_p99_ms), (r.tpot_ms, r.tpot_p99_ms), (r.req_s, None), (clients, None),
                 (r.input_tokens, None), (r.output_tokens, None), (r.output_tok_s, None)]
        row: list = [_guidellm_strategy(r)["type_"]]
        for mean, p99 in means:
            p = p99 if p99 is not None else mean
            row += [mean, json.dumps([mean] * 9 + [p, p])]
        w.writerow(row)
    return buf.getvalue()


LAYOUTS = {"vllm-bench-json": vllm_json, "sglang-bench-jsonl": sglang_jsonl, "aiperf-json": aiperf_json,
           "genai-perf-json": lambda r: aiperf_json(r, genai_perf=True), "aiperf-csv": aiperf_csv,
           "genai-perf-csv": lambda r: aiperf_csv(r, genai_perf=True),
           "guidellm-json": lambda r: guidellm_json([r]), "guidellm-csv": lambda r: guidellm_csv([r])}
"""Layout name -> writer of one run (the name of the reader that reads it back, genai-perf-* read by aiperf-*)."""

for _name, _write in LAYOUTS.items():
    register(Exporter(f"bench-{_name}", "bench-run", _write, f"a benchmark run as {_name}"))


def aiperf_records_jsonl(ttft_ms, tpot_ms, isl, osl, start_ns, end_ns) -> str:  # noqa: ANN001 - equal-length arrays
    """AIPerf's `profile_export.jsonl`: one record a request (metadata with its span, metrics with units)."""
    lines = []
    for i, (t, p, a, b, s, e) in enumerate(zip(ttft_ms, tpot_ms, isl, osl, start_ns, end_ns)):
        rec = {"metadata": {"session_num": i, "turn_index": 0, "request_start_ns": int(s), "request_end_ns": int(e),
                            "benchmark_phase": "profiling", "was_cancelled": False},
               "metrics": {"input_sequence_length": {"value": int(a), "unit": "tokens"},
                           "time_to_first_token": {"value": float(t), "unit": "ms"},
                           "inter_token_latency": {"value": float(p), "unit": "ms"},
                           "output_sequence_length": {"value": int(b), "unit": "tokens"}},
               "error": None}
        lines.append(json.dumps(rec))
    return "\n".join(lines) + "\n"
