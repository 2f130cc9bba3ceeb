"""Capacity-table build time of every example workload: the analytical model over all candidate configs x
buckets (`capacity_row` per config), median and min of N in-process builds, with serial and chunked prefill.
Demand and candidates are built once per example; only the table is timed. Prints a Markdown table.

With --widest: issue 16's widest search space (every GPU the provider prices, every quantization, both KV
dtypes, TP 1/2/4/8, a 10 x 10 bucket grid, the chat trace at 40 req/s) for Llama 3.1 8B and 70B, each stage
of one in-process solve timed (targets: < 5 s and < 10 s, proven optimal); writes docs/benchmarks/capacity_speed.md.

    python benchmarks/capacity_speed.py
    python benchmarks/capacity_speed.py --runs 9 chat code
    python benchmarks/capacity_speed.py --widest
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import planner.api as api
from planner.demand.build import build_demand
from planner.io.catalog import load_catalog
from planner.supply.candidates import enumerate_candidates
from planner.supply.sources import AnalyticalModel

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("chat", "code", "rag", "batch", "chat-whatif")
"""Every example in workloads/ with a modelled table (profile-mix reads a measured capacity profile)."""
DOC = ROOT / "docs" / "benchmarks" / "capacity_speed.md"
WIDEST_TARGETS = {"llama-3.1-8b": 5.0, "llama-3.1-70b": 10.0}
"""Issue 16's targets for the widest search space, seconds."""


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


def widest_workload(model: str) -> dict[str, Any]:
    """Issue 16's widest search space for `model` on the chat trace (every GPU with an AWS on-demand price)."""
    from planner.schemas.workload import Pricing
    from planner.supply.prices import PriceBook

    catalog = load_catalog()
    book = PriceBook(catalog, Pricing(provider="aws", tier="on-demand"))
    gpus = [g for g in sorted(catalog.gpus) if book.offers(g)]
    return {"name": f"widest-{model}", "model": model, "slo": {"ttft_ms": 1000, "tpot_ms": 50, "percentile": 99},
            "traffic": {"trace": str(ROOT / "workloads" / "traces" / "chat.csv"), "design_rate": "peak", "peak_window_s": 60,
                        "target_rps": 40, "buckets": {"input": [1, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
                                                      "output": [1, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]}},
            "gpus": gpus, "quantization": sorted(catalog.quantization), "kv_dtype": ["fp16", "fp8"], "tp": [1, 2, 4, 8],
            "pricing": {"provider": "aws", "tier": "on-demand"}}


def widest(model: str) -> str:
    """One Markdown row: the stages of one in-process solve of the widest space for `model`."""
    start = time.perf_counter()
    loaded = api.load(widest_workload(model))
    problem_catalog = load_catalog()
    demand = build_demand(loaded, problem_catalog.model(model))
    candidates, _ = enumerate_candidates(loaded, problem_catalog)
    built = time.perf_counter()
    table = AnalyticalModel(tuple(candidates)).build(demand, loaded.workload.slo)
    tabled = time.perf_counter()
    plan = api.plan_from_table(loaded, table, demand, catalog=problem_catalog)
    end = time.perf_counter()
    total, target = end - start, WIDEST_TARGETS[model]
    met = "met" if total < target and plan.status == "optimal" else "**missed**"
    return (f"| {model} | {len(candidates)} x {len(demand.buckets)} | {built - start:.2f} | {tabled - built:.2f} | "
            f"{end - tabled:.2f} | {total:.2f} | {plan.status} (gap {plan.gap or 0:.2%}), ${plan.cost_per_hour:,.2f}/h | "
            f"{target:g} | {met} |")


def write_widest() -> None:
    rows = [widest(model) for model in WIDEST_TARGETS]
    text = "\n".join([
        "# The widest search space", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work; Python {platform.python_version()}. "
        "Issue 16's widest space: every GPU with an AWS on-demand price, every quantization, both KV dtypes, TP 1/2/4/8 "
        "(chunk budgets searched as the engine default does), a 10 x 10 bucket grid (cells with traffic only), the chat "
        "trace at 40 req/s. One in-process solve each, wall seconds; `plan` is the MILP, the single-GPU-type baselines, the "
        "simplest-plan comparison and the pools' latency curves. Regenerate with `python benchmarks/capacity_speed.py --widest`.", "",
        "| model | configs x buckets | workload + demand s | capacity table s | plan s | total s | status, cost | target s | |",
        "|---|---|---|---|---|---|---|---|---|", *rows, "",
        f"Last run: {time.strftime('%H:%M on %Y-%m-%d')}, load average {os.getloadavg()[0]:.1f} at the end.", ""])
    print(text)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--widest", action="store_true", help="time issue 16's widest search space; writes docs/benchmarks")
    args = parser.parse_args()
    if args.widest:
        write_widest()
        return
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
