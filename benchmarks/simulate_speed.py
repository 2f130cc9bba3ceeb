"""Simulator speed: 100k and 1M requests of the chat example through its solved plan (issue 7 goals:
< 30 s and < 5 min on 2 cores, < 4 GB). Each size runs serially (--jobs 1) and with the pools in parallel
processes (--jobs 0: one per CPU); both give the same numbers. Results go to docs/benchmarks/simulate_speed.md (and docs/simulator.md) by hand.

    /work/venv/bin/python benchmarks/simulate_speed.py [--plan PLAN.json] [--jobs 1 --jobs 0] [100000 1000000]

--plan pins the plan (e.g. one saved with `planner solve workloads/chat.yaml --format json -o plan.json`)
so that runs before and after a change, or a recalibration of the model, replay the same fleet.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from planner import api
from planner.simulate.replay import SimOptions
from planner.demand.synthetic import generate_trace
from planner.plan.document import read_plan
from planner.simulate.verify import build_fleet, run_fleet

ROOT = Path(__file__).resolve().parents[1]
MEAN_RPS = 30.0
"""Mean rate of the synthetic chat traffic: its bursts peak near the 40 req/s the chat example plans for."""


def _worker_peak_gb() -> float:
    """Largest peak RSS (VmHWM) among this process's live children, the joblib workers (0 when none)."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == os.getpid() and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]))
    return peak / 1e6


def main(sizes: list[int], jobs: list[int], plan_file: str | None) -> None:
    plan = json.loads(Path(plan_file).read_text()) if plan_file else api.solve(ROOT / "workloads" / "chat.yaml")
    fleet = build_fleet(read_plan(plan))
    print(f"plan: {', '.join(f'{p.replicas} x {p.key}' for p in fleet.pools)}; load average {os.getloadavg()[0]:.2f}")
    for n in sizes:
        trace = generate_trace("chat", MEAN_RPS, n / MEAN_RPS / 60, seed=11)
        for j in jobs:
            start = time.perf_counter()
            result = run_fleet(fleet, trace, SimOptions(jobs=j))
            seconds = time.perf_counter() - start
            s = result.summary
            rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
            print(f"{len(trace):>9,} requests, jobs {j}: {seconds:6.1f} s ({len(trace) / seconds:,.0f} req/s simulated), "
                  f"{s['steps']:,} engine steps, peak RSS {rss_gb:.2f} GB (largest worker {_worker_peak_gb():.2f} GB), "
                  f"attainment {s['slo_attainment']:.4f}, p99 TTFT {s['p99_ttft_ms']:.0f} ms, p99 TPOT {s['p99_tpot_ms']:.1f} ms, "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--jobs", type=int, action="append", help="repeatable; default: 1 then 0")
    parser.add_argument("--plan", help="a plan JSON to replay instead of solving workloads/chat.yaml now")
    args = parser.parse_args()
    main(args.sizes, args.jobs or [1, 0], args.plan)
