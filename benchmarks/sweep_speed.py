"""Benchmark: a 100-point sweep of workloads/chat.yaml (10 TPOT SLOs x 10 traffic levels) on `--jobs` processes.

Goal (issue 8): under 60 s on 2 cores. Run: /work/venv/bin/python benchmarks/sweep_speed.py [--jobs 2]
Prints one line with the wall time and the point counts; the result is recorded in docs/whatif.md.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from planner.studies.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = {"slo.tpot_ms": list(range(20, 120, 10)), "traffic.target_rps": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    result = sweep(ROOT / "workloads" / "chat.yaml", GRID, jobs=args.jobs)
    wall = time.perf_counter() - start
    feasible = sum(r["status"] != "infeasible" for r in result.records)
    print(f"sweep of {len(result.records)} points ({feasible} feasible) on {args.jobs} jobs, {os.cpu_count()} CPUs: {wall:.1f} s "
          f"({'PASS' if wall < 60 else 'FAIL'}: goal < 60 s)")


if __name__ == "__main__":
    main()
