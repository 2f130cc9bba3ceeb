"""Replay the real production traces in ../shared/data/traces through the plans solved for them (issue 7).

For each trace (the cases of benchmarks/real_traces.py: Azure 2023 conversation and code on Llama-3.1-8B,
Mooncake conversation on Llama-3.1-70B; plus the code trace planned for its busiest 5 s): solve a workload
pointing at the trace, simulate the plan on the trace as recorded (with the workload's engine, then with
chunked prefill), and repair it (solve --verify --repair). Prints a Markdown table for docs/simulator.md; skips absent traces.

    /work/venv/bin/python benchmarks/simulate_real_traces.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from planner import api
from planner.simulate.replay import SimOptions
from planner.plan.document import read_plan
from planner.simulate.verify import build_fleet, requests_for, run_fleet, verify_plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_traces import CASES, DATA  # noqa: E402 - the same traces, models and SLOs as the solve benchmark

MAX_REPAIR_ROUNDS = 10
EXTRA_CASES = [
    # the code trace's arrivals come in bursts of seconds (busiest 5 s: 53.6 req/s; busiest 60 s: 10.5 req/s)
    ("Azure 2023 code, sized for its busiest 5 s", "azure2023/AzureLLMInferenceTrace_code.csv", "llama-3.1-8b",
     {"ttft_ms": 1000, "tpot_ms": 50}, {"traffic": {"peak_window_s": 5}}),
]


def _cell(summary: dict) -> str:
    return (f"{summary['slo_attainment']:.2%} ({'met' if summary['slo_met'] else 'missed'}); p99 TTFT "
            f"{summary['p99_ttft_ms']:,.0f} ms, TPOT {summary['p99_tpot_ms']:,.1f} ms")


def run_case(name: str, trace: Path, model: str, slo: dict, extra: dict) -> str:
    traffic = {"trace": str(trace), **extra.get("traffic", {})}
    workload = {"model": model, "slo": slo, **extra, "traffic": traffic}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.yaml"
        path.write_text(yaml.safe_dump(workload))
        plan = api.solve(path)
        fleet = build_fleet(read_plan(plan))
        requests = requests_for(fleet, trace)
        start = time.perf_counter()
        plain = run_fleet(fleet, requests, SimOptions())
        seconds = time.perf_counter() - start
        chunked = None if fleet.loaded.workload.engine.chunked_prefill else run_fleet(fleet, requests, SimOptions(chunked_prefill=True))
        repaired = verify_plan(plan, trace, repair=True, max_rounds=MAX_REPAIR_ROUNDS)
    pools = ", ".join(f"{p.replicas} x {p.key}" for p in plan.pools)
    added = ", ".join(f"+{n} {key}" for key, n in repaired.added.items()) or "none"
    fixed = "met" if repaired.result.met else f"still missed after {repaired.rounds} rounds"
    return (f"| {name} | {len(requests):,} | {pools} (${plan.cost_per_hour:,.2f}/h) | {seconds:.1f} s | {_cell(plain.summary)} | "
            f"{_cell(chunked.summary) if chunked else 'the workload sets it'} | {added} (+${repaired.extra_cost_per_hour:,.2f}/h, {fixed}) |")


def main() -> int:
    print("| trace | requests | solved plan | simulation time | SLO attainment (workload's engine) | with --chunked-prefill | "
          "repair (solve --verify --repair) |")
    print("|---|---:|---|---:|---|---|---|")
    for name, rel, model, slo, extra in CASES + EXTRA_CASES:
        trace = DATA / rel
        if not trace.is_file():
            print(f"skip {name}: {trace} absent", file=sys.stderr)
            continue
        print(run_case(name, trace, model, slo, extra), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
