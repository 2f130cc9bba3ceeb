"""GuideLLM (vllm-project/guidellm) `guidellm benchmark --output-path benchmarks.json|.csv`: one benchmark per
load point of the run's profile (synchronous, concurrent, throughput, constant, poisson, sweep).

Fields used, per benchmark, over the successful requests. JSON (benchmarks[].metrics.<name>.successful.mean
and .percentiles.p99): time_to_first_token_ms, inter_token_latency_ms ((latency - TTFT) / (output tokens - 1),
vLLM's TPOT; GuideLLM's time_per_output_token_ms also spreads the TTFT over the tokens and is not used),
output_tokens_per_second, requests_per_second, prompt_token_count, output_token_count; the load from the
benchmark's strategy (config.strategy, or args.strategy in GuideLLM < 0.3): synchronous = 1 client, concurrent =
`streams` clients, throughput = all at once, constant / poisson = `rate` req/s. CSV: the same numbers from the
columns under the three header rows (group, "Successful <unit>", "Mean" or "Percentiles"), the strategy from
Benchmark/Strategy; a concurrent row's clients are its measured mean concurrency. Ignored: request latency,
streaming iterations, per-modality counts, scheduler timings, errored and incomplete requests. The files do
not record the hardware: the context names it.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.io.readers import register
from planner.io.readers.bench_run import BenchRun, RunLayout, load_json, number, optional

METRICS = {"ttft": "time_to_first_token_ms", "tpot": "inter_token_latency_ms", "out_tps": "output_tokens_per_second",
           "req_s": "requests_per_second", "isl": "prompt_token_count", "osl": "output_token_count"}
CSV_COLUMNS = {"ttft": ("Time to First Token", "Successful ms"), "tpot": ("Inter Token Latency", "Successful ms"),
               "out_tps": ("Token Throughput", "Successful Output Tokens/Sec"),
               "req_s": ("Server Throughput", "Successful Requests/Sec"), "isl": ("Token Metrics", "Successful Input Tokens"),
               "osl": ("Token Metrics", "Successful Output Tokens"), "clients": ("Server Throughput", "Successful Concurrency")}
"""Planner's name -> (group, sub-header) of the CSV column whose third header row is Mean."""
HINT = "expected a GuideLLM benchmarks report"


def strategy_load(strategy: Any, where: str, measured_rps: float, measured_clients: float | None = None) -> tuple[str, float]:
    """(mode, load) of a GuideLLM scheduling strategy: a JSON strategy object, or the CSV's name, which GuideLLM
    0.8 writes as `kind@value` (`concurrent@4`, `poisson@8.00`: streams or rate)."""
    if isinstance(strategy, str) and "@" in strategy:
        strategy, _, value = strategy.partition("@")
        try:
            strategy = {"type_": strategy, "streams" if strategy == "concurrent" else "rate": float(value)}
        except ValueError:
            raise PlannerError(f"{where}: expected a strategy as kind@number, got {strategy}@{value}") from None
    kind = strategy.get("type_") if isinstance(strategy, dict) else strategy
    if kind == "synchronous":
        return "concurrency", 1.0
    if kind == "concurrent":
        streams = strategy.get("streams") if isinstance(strategy, dict) else None
        return "concurrency", float(streams or round(measured_clients or 1.0))
    if kind == "throughput":
        return "max-throughput", 0.0
    if kind in ("constant", "poisson", "async"):
        rate = strategy.get("rate") if isinstance(strategy, dict) else None
        return "rate", float(rate or measured_rps)
    raise PlannerError(f"{where}: strategy.type_: expected synchronous, concurrent, throughput, constant or poisson, got {kind!r}")


def _json_run(bench: dict, ref: str, where: str) -> BenchRun:
    means = {k: number(bench, ("metrics", name, "successful", "mean"), where, HINT, positive=k in ("isl", "osl", "req_s"))
             for k, name in METRICS.items()}
    config = bench.get("config") if isinstance(bench.get("config"), dict) else bench.get("args") or {}
    if "strategy" not in config:
        raise PlannerError(f"{where}: config.strategy: missing; {HINT} (each benchmark names its scheduling strategy)")
    mode, load = strategy_load(config["strategy"], where, means["req_s"])
    p99 = {k: optional(bench, ("metrics", METRICS[k], "successful", "percentiles", "p99")) for k in ("ttft", "tpot")}
    return BenchRun("guidellm", ref, mode, load, means["isl"], means["osl"], means["ttft"], means["tpot"], means["out_tps"],
                    means["req_s"], p99["ttft"], p99["tpot"])


def read_guidellm_json(path: str | Path) -> list[BenchRun]:
    path = Path(path)
    doc = load_json(path, "GuideLLM")
    benches = doc.get("benchmarks") if isinstance(doc, dict) else None
    if not isinstance(benches, list) or not benches:
        raise PlannerError(f"{path}: benchmarks: expected a non-empty list; {HINT}")
    return [_json_run(b, f"{path.name}#{k}", f"{path}: benchmarks[{k - 1}]") for k, b in enumerate(benches, 1)]


def read_guidellm_csv(path: str | Path) -> list[BenchRun]:
    """The rows under GuideLLM's three header rows (group, field, statistic)."""
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PlannerError(f"{path}: cannot read the GuideLLM CSV: {exc}") from None
    if len(rows) < 4:
        raise PlannerError(f"{path}: expected three header rows and one row per benchmark; {HINT} CSV")
    groups, fields, stats = rows[0], rows[1], rows[2]
    group, col = "", {}
    for i, (g, f, s) in enumerate(zip(groups, fields, stats)):
        group = g or group
        col[(g or group, f, s)] = i
    runs = []
    for k, row in enumerate(rows[3:], 1):
        where = f"{path}:{k + 3}"
        values: dict[str, float] = {}
        for name, (g, f) in CSV_COLUMNS.items():
            if (g, f, "Mean") not in col:
                if name == "clients":
                    continue
                raise PlannerError(f"{path}:2: column {g} / {f} / Mean: missing; {HINT} CSV")
            values[name] = number({"v": row[col[g, f, "Mean"]]}, ("v",), f"{where}: {g} / {f} / Mean", HINT,
                                  positive=name in ("isl", "osl", "req_s"))
        kind = row[col[("Benchmark", "Strategy", "")]] if ("Benchmark", "Strategy", "") in col else ""
        mode, load = strategy_load(kind, f"{where}: Benchmark / Strategy", values["req_s"], values.get("clients"))
        p99 = {n: _p99(row, col, CSV_COLUMNS[n]) for n in ("ttft", "tpot")}
        runs.append(BenchRun("guidellm", f"{path.name}#{k}", mode, load, values["isl"], values["osl"], values["ttft"],
                             values["tpot"], values["out_tps"], values["req_s"], p99["ttft"], p99["tpot"]))
    return runs


def _p99(row: list[str], col: dict, key: tuple[str, str]) -> float | None:
    """p99 from the Percentiles cell '[min, p0.1, p1, p5, p10, p25, p75, p90, p95, p99, max]'."""
    i = col.get((*key, "Percentiles"))
    try:
        return float(json.loads(row[i])[-2]) if i is not None else None
    except (ValueError, TypeError, IndexError):
        return None


register(RunLayout("guidellm-json", "GuideLLM benchmarks JSON (benchmarks[].metrics.time_to_first_token_ms.successful.mean, ...)",
                   lambda head: head.lstrip().startswith("{") and '"benchmarks"' in head, read_guidellm_json))
register(RunLayout("guidellm-csv", "GuideLLM benchmarks CSV (three header rows: group, field, statistic)",
                   lambda head: "Time to First Token" in head.split("\n", 1)[0] and "Successful ms" in head, read_guidellm_csv))
