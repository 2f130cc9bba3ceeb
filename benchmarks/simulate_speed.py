"""Simulator speed: 100k and 1M requests of the chat example through its solved plan (issue 16 goal: 1M in
< 20 s on 2 cores). Each size runs serially (--jobs 1) and with the pools in two processes (--jobs 2; --jobs 0
is automatic: processes only for pools in the Python loop); all give the same numbers. Results go to docs/benchmarks/simulate_speed.md (and docs/simulator.md) by hand.

    python benchmarks/simulate_speed.py [--plan PLAN.json] [--jobs 1 --jobs 2] [--cold-cache] [100000 1000000]

--plan pins the plan (e.g. one saved with `planner solve workloads/chat.yaml --format json -o plan.json`)
so that runs before and after a change, or a recalibration of the model, replay the same fleet.

Pools of 20k requests or more replay in the numba-compiled loop (planner.simulate.native). By default its
compiled code is loaded (or, the first time on a machine, compiled and cached) before the timed runs and that
time is printed on its own line; --cold-cache points numba at an empty cache folder and skips that warm-up,
so the first timed run includes the compile a fresh install pays once.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from planner import api
from planner.simulate.replay import SimOptions
from planner.demand.synthetic import generate_trace
from planner.plan.document import read_plan
from planner.simulate.request_log import RequestLog
from planner.simulate.router import run_pool
from planner.simulate.steps import build_step_model
from planner.simulate.verify import Fleet, build_fleet, run_fleet

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


def warm_up(fleet: Fleet) -> float:
    """Seconds to load the compiled loop (compiling and caching it when numba's cache has none) by replaying a
    few requests through the fleet's first pool with the compiled loop forced."""
    model = build_step_model(fleet.pools[0].cfg)
    trace = generate_trace("chat", MEAN_RPS, 0.1, seed=1)
    log = RequestLog(trace.arrival_s.astype(float), trace.input_tokens.astype(np.int64), trace.output_tokens.astype(np.int64))
    start = time.perf_counter()
    run_pool(model, 1, np.arange(len(trace)), log, "least-loaded", "serial", compiled=True)
    return time.perf_counter() - start


def main(sizes: list[int], jobs: list[int], plan_file: str | None, cold_cache: bool) -> None:
    if cold_cache:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")  # before numba is imported; workers inherit it
    plan = json.loads(Path(plan_file).read_text()) if plan_file else api.solve(ROOT / "workloads" / "chat.yaml")
    fleet = build_fleet(read_plan(plan))
    print(f"plan: {', '.join(f'{p.replicas} x {p.key}' for p in fleet.pools)}; load average {os.getloadavg()[0]:.2f}")
    if cold_cache:
        print(f"numba cache: empty ({os.environ['NUMBA_CACHE_DIR']}): the first timed run compiles the loop")
    else:
        print(f"compiled loop loaded (compiled and cached if it was not) in {warm_up(fleet):.1f} s, not counted below; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
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
    parser.add_argument("--jobs", type=int, action="append", help="repeatable; default: 1 then 2")
    parser.add_argument("--plan", help="a plan JSON to replay instead of solving workloads/chat.yaml now")
    parser.add_argument("--cold-cache", action="store_true", help="an empty numba cache: the first timed run includes the compile")
    args = parser.parse_args()
    main(args.sizes, args.jobs or [1, 2], args.plan, args.cold_cache)
