"""Capacity-table build time of every example workload: the analytical model over all candidate configs x
buckets (`capacity_row` per config), median and min of N in-process builds, with serial and chunked prefill.
Demand and candidates are built once per example; only the table is timed. Prints a Markdown table.

    python benchmarks/capacity_speed.py
    python benchmarks/capacity_speed.py --runs 9 chat code
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import planner.api as api
from planner.demand.build import build_demand
from planner.supply.candidates import enumerate_candidates
from planner.supply.sources import AnalyticalModel

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("chat", "code", "rag", "batch", "chat-whatif")
"""Every example in workloads/ with a modelled table (profile-mix reads a measured capacity profile)."""


def build_times(example: str, chunked: bool, runs: int) -> tuple[int, list[float]]:
    """Cells of the example's table and the wall seconds of `runs` builds of it."""
    loaded = api.load(ROOT / "workloads" / f"{example}.yaml", overrides={"engine.chunked_prefill": chunked})
    problem = api.prepare(loaded)  # warms the catalogs and caches; its table is not timed
    demand = build_demand(problem.loaded, problem.catalog.model(problem.loaded.workload.model))
    candidates, _ = enumerate_candidates(problem.loaded, problem.catalog)
    source = AnalyticalModel(tuple(candidates))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        source.build(demand, problem.loaded.workload.slo)
        times.append(time.perf_counter() - start)
    return len(candidates) * len(demand.buckets), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}; median (min) of {args.runs} builds, seconds.\n")
    print("| example | cells | serial prefill | chunked prefill |")
    print("|---|---|---|---|")
    for example in args.examples:
        cols = []
        for chunked in (False, True):
            cells, times = build_times(example, chunked, args.runs)
            cols.append(f"{statistics.median(times):.3f} ({min(times):.3f})")
        print(f"| {example} | {cells} | {cols[0]} | {cols[1]} |")


if __name__ == "__main__":
    main()
