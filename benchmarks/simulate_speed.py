"""Simulator speed: 100k and 1M requests of the chat example through its solved plan (issue 7 goals:
< 30 s and < 5 min on 2 cores, < 4 GB). Results go to docs/simulator.md by hand from this output.

    /work/venv/bin/python benchmarks/simulate_speed.py [100000 1000000]
"""
from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from planner import api
from planner.simulate.replay import SimOptions
from planner.tracegen import generate_trace
from planner.verify import build_fleet, read_plan, run_fleet

ROOT = Path(__file__).resolve().parents[1]
MEAN_RPS = 30.0
"""Mean rate of the synthetic chat traffic: its bursts peak near the 40 req/s the chat example plans for."""


def main(sizes: list[int]) -> None:
    plan = api.solve(ROOT / "workloads" / "chat.yaml")
    fleet = build_fleet(read_plan(plan))
    print(f"plan: {', '.join(f'{p.replicas} x {p.key}' for p in plan.pools)}")
    for n in sizes:
        trace = generate_trace("chat", MEAN_RPS, n / MEAN_RPS / 60, seed=11)
        start = time.perf_counter()
        result = run_fleet(fleet, trace, SimOptions())
        seconds = time.perf_counter() - start
        s = result.summary
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(f"{len(trace):>9,} requests: {seconds:6.1f} s ({len(trace) / seconds:,.0f} req/s simulated), "
              f"{s['steps']:,} engine steps, peak RSS {rss_gb:.2f} GB, attainment {s['slo_attainment']:.4f}, "
              f"p99 TTFT {s['ttft_ms_p99']:.0f} ms, p99 TPOT {s['tpot_ms_p99']:.1f} ms", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
