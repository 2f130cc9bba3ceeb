"""Issue 12's cases on the real traces: cost, physical floor, and SLO attainment when the trace is replayed
against the plan (`solve --verify`), for the default `solve` (chunked prefill, searched chunk budgets, prefix
caching from the trace), under the bucket SLO scope (the default) and the fleet scope; where the replay misses
and the plan is small enough to replay a few times, also after `--repair` (grow, then shrink).

Run: python benchmarks/long_context.py   (writes docs/benchmarks/long_context.md, keeping its findings from the line
     that starts with "Findings"; skips absent traces)
     python benchmarks/long_context.py --case 2   (one case, 1-based as in CASES: prints its row, writes nothing)
"""
from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

import planner.api as api
from planner.errors import PlannerError
from planner.simulate.verify import verify_plan

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data" / "traces").resolve()
DOC = ROOT / "docs" / "benchmarks" / "long_context.md"
MOONCAKE_150 = {"model": "llama-3.1-70b", "slo": {"ttft_ms": 10000, "tpot_ms": 60, "percentile": 99}, "gpus": ["h100", "a100-80gb", "l4"],
                "kv_dtype": ["fp16", "fp8"], "traffic": {"target_rps": 150}}
AZURE_CODE = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 40, "percentile": 99}, "gpus": ["h100", "a100-80gb", "l4"]}
MOONCAKE = {"model": "llama-3.1-70b", "slo": {"ttft_ms": 30000, "tpot_ms": 100, "percentile": 99}, "gpus": ["h100", "a100-80gb", "l4"]}
CASES = [
    # (label, trace, workload fields, targets as text)
    ("Mooncake conversation, 70B, 30 s / 100 ms", "mooncake/conversation_trace.jsonl", MOONCAKE,
     "<= $200/h, <= 3.5x floor, >= 99 % attainment"),
    ("Mooncake at 150 req/s, 70B, 10 s / 60 ms, FP8 KV", "mooncake/conversation_trace.jsonl", MOONCAKE_150,
     "<= $4,000/h, no pool < 50 % busy, >= 99 % attainment"),
    ("the same, slo.scope: fleet", "mooncake/conversation_trace.jsonl", {**MOONCAKE_150, "slo": {**MOONCAKE_150["slo"], "scope": "fleet"}},
     "<= $4,000/h, no pool < 50 % busy, >= 99 % attainment"),
    ("the same, utilization_target: 1 (no headroom beyond the SLO capacity)", "mooncake/conversation_trace.jsonl",
     {**MOONCAKE_150, "utilization_target": 1.0}, "<= $4,000/h, no pool < 50 % busy, >= 99 % attainment"),
    ("Azure 2023 conversation, 8B, 2 s / 50 ms", "azure2023/AzureLLMInferenceTrace_conv.csv",
     {"model": "llama-3.1-8b", "slo": {"ttft_ms": 2000, "tpot_ms": 50, "percentile": 99}}, ">= 99 % attainment, <= 5x floor or a warning"),
    ("Azure 2023 code, 8B, 1 s / 40 ms", "azure2023/AzureLLMInferenceTrace_code.csv", AZURE_CODE,
     ">= 99 % attainment, <= 5x floor or a warning"),
    ("the same, slo.scope: fleet", "azure2023/AzureLLMInferenceTrace_code.csv", {**AZURE_CODE, "slo": {**AZURE_CODE["slo"], "scope": "fleet"}},
     ">= 99 % attainment, <= 5x floor or a warning"),
]
REPAIR_MAX_REPLICAS = 40
"""Repair replays the trace once per step: only plans up to this many replicas are repaired here (minutes otherwise)."""


def run_case(trace: Path, fields: dict) -> dict:
    """Solve and replay one case (and repair it when it misses and is small); the row of the results table."""
    workload = {**fields, "traffic": {"trace": str(trace), **fields.get("traffic", {})}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.yaml"
        path.write_text(yaml.safe_dump(workload))
        start = time.perf_counter()
        try:
            plan = api.solve(path)
        except PlannerError as exc:
            lines = str(exc).splitlines()
            more = sum(ln.startswith("- bucket") for ln in lines[2:])
            return {"result": "no plan: " + " ".join(lines[:2]) + (f" (and {more} more buckets)" if more else "")}
        solve_s = time.perf_counter() - start
        check = verify_plan(plan)
        repaired = None
        if not check.result.met and sum(p.replicas for p in plan.pools) <= REPAIR_MAX_REPLICAS:
            repaired = verify_plan(plan, repair=True, max_rounds=6)
    summary = check.result.summary
    pools = [f"{p['pool']} x{p['replicas']} {p['gpu_utilization_arrival_window']:.0%} ({p['gpu_utilization']:.0%})"
             for p in summary["pools"] if p.get("gpu_utilization_arrival_window") is not None]
    floor = plan.floor
    warned = any(n.startswith("this plan costs") for n in plan.notes)
    row = {
        "result": f"${plan.cost_per_hour:,.2f}/h, {sum(plan.gpus_by_type.values())} GPUs",
        "floor": "-" if floor is None else f"${floor.cost_per_hour:,.2f}/h ({floor.binding}), {floor.ratio:.1f}x" + (", warned" if warned else ""),
        "attainment": f"{summary['slo_attainment']:.2%} ({'met' if check.result.met else 'missed'})",
        "busy": ", ".join(pools),
        "solve_s": f"{solve_s:.1f}",
        "repair": "-",
    }
    if repaired is not None:
        s = repaired.result.summary
        changes = ", ".join([f"+{n} {k}" for k, n in repaired.added.items()] + [f"-{n} {k}" for k, n in repaired.removed.items()])
        row["repair"] = (f"${repaired.plan.cost_per_hour:,.2f}/h ({changes or 'no change'}; {repaired.rounds} replays): "
                         f"{s['slo_attainment']:.2%} ({'met' if repaired.result.met else 'missed'})")
    return row


def _row(label: str, target: str, r: dict) -> str:
    return (f"| {label} | {target} | {r['result']} | {r.get('floor', '-')} | {r.get('attainment', '-')} | "
            f"{r.get('busy', '-')} | {r.get('repair', '-')} | {r.get('solve_s', '-')} |")


def _findings() -> list[str]:
    """The doc's findings (hand-written, from the line that starts with "Findings"), kept across regenerations."""
    if not DOC.is_file():
        return []
    lines = DOC.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Findings")), len(lines))
    return lines[start:]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--case"] and len(argv) == 2 and argv[1].isdigit() and 1 <= int(argv[1]) <= len(CASES):
        label, trace, fields, target = CASES[int(argv[1]) - 1]
        print(_row(label, target, run_case(DATA / trace, fields)))
        return
    if argv:
        sys.exit(f"usage: python benchmarks/long_context.py [--case 1-{len(CASES)}]")
    rows = []
    for label, trace, fields, target in CASES:
        path = DATA / trace
        if not path.is_file():
            print(f"skip {label}: {path} not found", file=sys.stderr)
            continue
        print(f"{label} ...", file=sys.stderr)
        rows.append((label, target, run_case(path, fields)))
    lines = ["# Long-context and bursty traces (issue 12)", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}. Default `planner solve` (chunked prefill, chunk "
             "budgets 512/2048/8192 searched, prefix caching from the trace's `hash_ids`), then the plan replayed against the "
             "whole trace (`solve --verify`, least-loaded routing, seed 0). Attainment: share of requests within both SLOs; "
             "busy: share of the time from the first arrival to the pool's last arrival that its replicas spent running "
             "steps (`gpu_utilization_arrival_window`; in brackets over the whole replay, to the last finish, which a drain "
             "of long outputs dilutes; under continuous batching a replica steps whenever a sequence is live, so both read "
             "high on pools with long outputs). Verdict per the SLO's scope "
             "(docs/simulator.md). Repair: `solve --verify --repair` (grow, then shrink), for plans of at most "
             f"{REPAIR_MAX_REPLICAS} replicas. Regenerate with `python benchmarks/long_context.py`.", "",
             "| case | target | plan | physical floor, plan / floor | attainment in replay | pools busy in replay | after --repair | solve s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_row(label, target, r) for label, target, r in rows]
    lines += ["", f"Last run: {time.strftime('%Y-%m-%d %H:%M')}.", *_findings(), ""]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
