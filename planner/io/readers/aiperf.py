"""NVIDIA AIPerf and its predecessor GenAI-Perf: aggregated statistics (JSON and CSV) and AIPerf's per-request
records (`profile_export.jsonl`).

Fields used. Aggregated JSON (`profile_export_aiperf.json`, `profile_export_genai_perf.json`): `avg` (and
`p99`) of time_to_first_token and inter_token_latency (both tools define ITL per request as (latency - TTFT) /
(output tokens - 1), vLLM's TPOT), `avg` of output_token_throughput, request_throughput, input_sequence_length
and output_sequence_length (the throughputs' `unit` is not read: GenAI-Perf 0.0.8 labels tokens/s "requests/sec"),
and the load from input_config (AIPerf >= 0.13: the profiling phase's concurrency or rate; older AIPerf:
loadgen.concurrency / loadgen.request_rate; GenAI-Perf 0.0.8: concurrency / request_rate, 0.0.16:
perf_analyzer.stimulus). CSV (`profile_export_aiperf.csv`,
`profile_export_genai_perf.csv`): the same statistics by their display names ("Time To First Token (ms)", ...).
JSONL: per request, metrics.time_to_first_token, inter_token_latency, input_sequence_length and
output_sequence_length (values in their `unit`), metadata.request_start_ns / request_end_ns for the span;
records with an error are left out. Ignored: request latency, per-user throughput, goodput, GPU telemetry,
error summaries. When a file does not record its load (CSV, JSONL, a JSON without it) the measured request
throughput is taken as an open-loop arrival rate. The files do not record the hardware: the context names it.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.io.readers import register
from planner.io.readers.bench_run import BenchRun, RunLayout, load_json, load_records, number, open_loop, optional

STATS = {"ttft": "time_to_first_token", "tpot": "inter_token_latency", "out_tps": "output_token_throughput",
         "req_s": "request_throughput", "isl": "input_sequence_length", "osl": "output_sequence_length"}
"""Planner's name -> the tools' metric tag."""
UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "sec": 1e3}


def _load(config: Any) -> tuple[str, float] | None:
    """(mode, load) from an input_config of either tool, or None when it does not say: AIPerf >= 0.13 keeps it in
    phases[] (the profiling phase: type concurrency with `concurrency`, or poisson/constant with `rate`), older
    AIPerf in loadgen, GenAI-Perf at the top or in perf_analyzer.stimulus."""
    if not isinstance(config, dict):
        return None
    phases = [p for p in config.get("phases") or [] if isinstance(p, dict) and p.get("kind", "profiling") == "profiling"]
    for where in (*phases, config.get("loadgen"), (config.get("perf_analyzer") or {}).get("stimulus"), config):
        if isinstance(where, dict) and (where.get("concurrency") or where.get("request_rate") or where.get("rate")):
            return open_loop(where.get("request_rate", where.get("rate")), where.get("concurrency"))
    return None


def aggregated_run(doc: dict, ref: str, where: str, tool: str) -> BenchRun:
    """A BenchRun from the statistics dict both tools export ({tag: {unit, avg, p99, ...}})."""
    hint = f"expected a {tool} profile_export JSON with {', '.join(STATS.values())}"
    avg = {k: number(doc, (tag, "avg"), where, hint, positive=k in ("isl", "osl", "req_s")) for k, tag in STATS.items()}
    scale = {k: UNIT_MS.get(str(doc[STATS[k]].get("unit", "ms")), 1.0) for k in ("ttft", "tpot")}
    p99 = {k: optional(doc, (STATS[k], "p99")) for k in ("ttft", "tpot")}
    mode, load = _load(doc.get("input_config")) or ("rate", avg["req_s"])
    return BenchRun(tool, ref, mode, load, avg["isl"], avg["osl"], avg["ttft"] * scale["ttft"], avg["tpot"] * scale["tpot"],
                    avg["out_tps"], avg["req_s"], *(None if p99[k] is None else p99[k] * scale[k] for k in ("ttft", "tpot")))


def _tool_of(doc: dict) -> str:
    """Which tool wrote an aggregated JSON: GenAI-Perf's input_config names perf_analyzer (0.0.16: a section,
    0.0.8: service_kind at the top) though 0.0.16 also has `endpoint`; AIPerf's has phases or loadgen."""
    config = doc.get("input_config")
    if not isinstance(config, dict) or "perf_analyzer" in config or "service_kind" in config:
        return "genai-perf"
    return "aiperf" if {"phases", "loadgen", "endpoint"} & set(config) else "genai-perf"


def read_aggregated_json(path: str | Path) -> list[BenchRun]:
    path = Path(path)
    doc = load_json(path, "AIPerf/GenAI-Perf")
    if not isinstance(doc, dict):
        raise PlannerError(f"{path}: expected a JSON object of metric statistics, got {type(doc).__name__}")
    return [aggregated_run(doc, path.name, str(path), _tool_of(doc))]


def _ms(metric: Any, where: str, name: str) -> float:
    if not isinstance(metric, dict) or "value" not in metric:
        raise PlannerError(f"{where}: metrics.{name}: expected {{\"value\": ..., \"unit\": ...}}, got {metric!r}")
    scale = UNIT_MS.get(str(metric.get("unit", "ms")), 1.0)
    return number(metric, ("value",), where, f"metrics.{name} of an AIPerf record", positive=False) * scale


def read_records_jsonl(path: str | Path) -> list[BenchRun]:
    """One run from AIPerf's per-request records: means over the successful requests, rates over their span."""
    path = Path(path)
    rows = []
    starts, ends = [], []
    for n, rec in load_records(path, "AIPerf profile_export.jsonl"):
        if rec.get("error") or not rec.get("metrics"):
            continue
        where, m = f"{path}:{n}", rec["metrics"]
        rows.append([_ms(m.get(STATS[k]), where, STATS[k]) for k in ("ttft", "tpot", "isl", "osl")])
        meta = rec.get("metadata") or {}
        starts.append(number(meta, ("request_start_ns",), where, "metadata of an AIPerf record", positive=False))
        ends.append(number(meta, ("request_end_ns",), where, "metadata of an AIPerf record", positive=False))
    if not rows:
        raise PlannerError(f"{path}: no successful request records (every record has an error); nothing to calibrate on")
    ttft, tpot, isl, osl = np.array(rows).T
    span_s = max((max(ends) - min(starts)) * 1e-9, 1e-9)
    return [BenchRun("aiperf", path.name, "rate", len(rows) / span_s, float(isl.mean()), float(osl.mean()), float(ttft.mean()),
                     float(tpot.mean()), float(osl.sum()) / span_s, len(rows) / span_s,
                     float(np.percentile(ttft, 99)), float(np.percentile(tpot, 99)))]


def _csv_name(label: str) -> str:
    """'Time To First Token (ms)' -> 'time_to_first_token' (both tools title-case the tag, then add the unit)."""
    return label.split(" (")[0].strip().lower().replace(" ", "_")


def read_stats_csv(path: str | Path) -> list[BenchRun]:
    """One run from the aggregated CSV: a 'Metric,avg,...' table, a blank line, then a 'Metric,Value' table."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlannerError(f"{path}: cannot read the AIPerf/GenAI-Perf CSV: {exc}") from None
    stats: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(c.strip() for c in row):
            header = []
        elif row[0] == "Metric":
            header = row
        elif header:
            stats[_csv_name(row[0])] = dict(zip(header[1:], (c.replace(",", "") for c in row[1:])))
    doc = {k: {"avg": v.get("avg", v.get("Value", "")), "p99": v.get("p99", "")} for k, v in stats.items()}
    missing = [t.replace("_", " ").title() for t in STATS.values() if t not in doc]
    if missing:
        raise PlannerError(f"{path}: metric {', '.join(missing)}: missing; expected an AIPerf/GenAI-Perf profile_export CSV "
                           f"with {', '.join(t.replace('_', ' ').title() for t in STATS.values())}")
    return [aggregated_run(doc, path.name, str(path), "aiperf" if "Value" in header and "std" in stats.get(STATS["ttft"], {}) else "genai-perf")]


register(RunLayout("aiperf-records-jsonl", "AIPerf profile_export.jsonl (per-request metadata + metrics)",
                   lambda head: all(m in head for m in ('"metadata"', '"metrics"', '"request_start_ns"')), read_records_jsonl))
register(RunLayout("aiperf-json", "AIPerf profile_export_aiperf.json / GenAI-Perf profile_export_genai_perf.json "
                   "(time_to_first_token.avg, inter_token_latency.avg, ...)",
                   lambda head: '"time_to_first_token"' in head and '"avg"' in head, read_aggregated_json))
register(RunLayout("aiperf-csv", "AIPerf / GenAI-Perf profile_export CSV (Metric,avg,... and Metric,Value tables)",
                   lambda head: "Metric,avg," in head and "Metric,Value" in head, read_stats_csv))
