"""Agreement of the analytical capacity model with the simulator (issue 7).

For each example workload: solve it, take the plan's largest pool and the buckets it serves most; for each,
compare the analytical max req/s of ONE replica (planner.perf.capacity.cell_capacity) with the simulated
rate at which p99 TTFT or TPOT starts to fail: Poisson arrivals, request lengths drawn from the bucket's
own requests, one replica, bisection on the rate. Results go to docs/simulator.md.

    /work/venv/bin/python benchmarks/agreement.py [chat code ... | path/to/workload.yaml ...]
    /work/venv/bin/python benchmarks/agreement.py --longest rag ...  (the pool of the longest-prompt bucket instead)
    /work/venv/bin/python benchmarks/agreement.py --disaggregated    (the agent example's prefill and decode pools)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from planner import api
from planner.perf.capacity import cell_capacity
from planner.simulate.replay import SimOptions, SimPool, simulate
from planner.simulate.router import RouteTable
from planner.io.traces import Trace
from planner.plan.document import read_plan
from planner.simulate.verify import build_fleet, requests_for

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 4000
BISECTION_STEPS = 9
BUCKETS_PER_WORKLOAD = 2


Lengths = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Input, output and prefix-cached tokens of a bucket's requests."""


def _lengths(trace: Trace, bucket) -> Lengths:  # noqa: ANN001
    """The bucket's requests' lengths; they keep their prefix-cache hits, as the model counts them."""
    inside = ((trace.input_tokens >= bucket.input_lo) & (trace.input_tokens < bucket.input_hi)
              & (trace.output_tokens >= bucket.output_lo) & (trace.output_tokens < bucket.output_hi))
    cached = np.zeros_like(trace.input_tokens) if trace.cached_tokens is None else trace.cached_tokens
    return trace.input_tokens[inside], trace.output_tokens[inside], cached[inside]


def _poisson(lengths: Lengths, rps: float) -> Trace:
    """REQUESTS Poisson arrivals at `rps` with lengths drawn from `lengths` (seed 42)."""
    inp, out, cached = lengths
    rng = np.random.default_rng(42)
    pick = rng.integers(0, len(inp), REQUESTS)
    arrival = np.cumsum(rng.exponential(1 / rps, REQUESTS))
    return Trace(arrival - arrival[0], inp[pick], out[pick], cached_tokens=cached[pick])


def _meets(pool: SimPool, lengths: Lengths, rps: float, slo, max_context: int) -> bool:  # noqa: ANN001
    routes = RouteTable(np.array([1]), np.array([1 << 40]), np.array([1]), np.array([1 << 40]), np.array([[1.0]]))
    return simulate([pool], routes, _poisson(lengths, rps), slo, max_context,
                    SimOptions(chunked_prefill=pool.cfg.engine.chunked_prefill)).met


def simulated_max_rps(pool: SimPool, lengths: Lengths, guess: float, slo, max_context: int) -> float:  # noqa: ANN001
    lo, hi = 0.25 * guess, 2.0 * guess
    if not _meets(pool, lengths, lo, slo, max_context):
        return lo
    while _meets(pool, lengths, hi, slo, max_context):
        lo, hi = hi, hi * 2
    for _ in range(BISECTION_STEPS):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if _meets(pool, lengths, mid, slo, max_context) else (lo, mid)
    return (lo * hi) ** 0.5


def main(names: list[str], longest: bool = False) -> None:
    """Each workload's largest co-located pool on its two busiest buckets; `longest`: instead, the co-located pool
    serving most of the longest-prompt bucket the plan routes to one, on that bucket."""
    print("| workload | config | bucket | analytical req/s | simulated req/s | sim / model |")
    print("|---|---|---|---:|---:|---:|")
    for name in names:
        path = Path(name) if name.endswith(".yaml") else ROOT / "workloads" / f"{name}.yaml"
        name = path.stem
        plan = api.solve(path)
        problem = api.prepare(path)
        fleet = build_fleet(read_plan(plan))
        trace = requests_for(fleet, duration_s=None, seed=0) if fleet.loaded.workload.traffic.histogram is None else \
            requests_for(fleet, duration_s=3600, seed=0)
        # co-located pools only: prefill and decode pools have their own model (--disaggregated)
        unified = [p for p in fleet.pools if p.role == "unified"]
        if not unified:
            print(f"| {name} | (no co-located pool in the plan) | | | | |", flush=True)
            continue
        if longest:
            keys = {p.key for p in unified}
            route = max((r for r in plan.routing if keys & set(r.shares)),
                        key=lambda r: next(b for b in problem.demand.buckets if b.label == r.bucket).input_mean)
            pool = next(p for p in unified if p.key == max(keys & set(route.shares), key=route.shares.get))
            routes = [route]
        else:
            pool = max(unified, key=lambda p: p.replicas * p.cfg.tp)
            routes = [r for r in plan.routing if r.shares.get(pool.key)]
            routes.sort(key=lambda r: -r.rate_rps * r.shares[pool.key])
        slo = fleet.loaded.workload.slo
        for route in routes[:BUCKETS_PER_WORKLOAD]:
            bucket = next(b for b in problem.demand.buckets if b.label == route.bucket)
            model = cell_capacity(pool.cfg, bucket, slo).max_rps
            if model <= 0:
                continue
            sim = simulated_max_rps(SimPool(pool.key, pool.cfg, 1), _lengths(trace, bucket), model, slo, pool.cfg.model.max_context)
            print(f"| {name} | {pool.key} | {bucket.label} | {model:.3g} | {sim:.3g} | {sim / model:.2f} |", flush=True)


PARTNERS = 12
"""Replicas given to the other half of a pair when one half is measured, so that only the measured one binds."""


def _pair_meets(pools: list[SimPool], lengths: Lengths, rps: float, slo, max_context: int) -> bool:  # noqa: ANN001
    """Whether the pair meets the SLO at `rps`."""
    routes = RouteTable(np.array([1]), np.array([1 << 40]), np.array([1]), np.array([1 << 40]), np.array([[1.0, 1.0]]))
    return simulate(pools, routes, _poisson(lengths, rps), slo, max_context).met


def disaggregated(name: str = "agent") -> None:
    """One prefill replica (with PARTNERS decode replicas behind it) and one decode replica (with PARTNERS prefill
    replicas in front) of the plan's largest prefill and decode pools, on the busiest bucket of each: the
    analytical capacity (planner.perf.disagg) against the simulated rate where p99 TTFT or TPOT first fails."""
    from planner.perf.disagg import decode_capacity, prefill_capacity

    path = ROOT / "workloads" / f"{name}.yaml"
    plan, problem = api.solve(path), api.prepare(path)
    fleet = build_fleet(read_plan(plan))
    trace = requests_for(fleet, duration_s=3600, seed=0)
    slo = fleet.loaded.workload.slo
    for role, capacity in (("prefill", prefill_capacity), ("decode", decode_capacity)):
        pool = max((p for p in fleet.pools if p.role == role), key=lambda p: p.replicas * p.cfg.tp)
        other = max((p for p in fleet.pools if p.role not in (role, "unified") and p.cfg.kv.id == pool.cfg.kv.id),
                    key=lambda p: p.cfg.tp)  # the strongest partner config, so the measured half binds
        route = max((r for r in plan.routing if r.shares.get(pool.key)), key=lambda r: r.rate_rps * r.shares[pool.key])
        bucket = next(b for b in problem.demand.buckets if b.label == route.bucket)
        model = capacity(pool.cfg, bucket, slo).max_rps
        lengths = _lengths(trace, bucket)
        pair = [SimPool(pool.key, pool.cfg, 1, role), SimPool(other.key, other.cfg, PARTNERS, other.role)]
        lo, hi = 0.25 * model, 2.0 * model
        while _pair_meets(pair, lengths, hi, slo, pool.cfg.model.max_context):
            lo, hi = hi, hi * 2
        for _ in range(BISECTION_STEPS):
            mid = (lo * hi) ** 0.5
            lo, hi = (mid, hi) if _pair_meets(pair, lengths, mid, slo, pool.cfg.model.max_context) else (lo, mid)
        sim = (lo * hi) ** 0.5
        print(f"| {name} (disaggregated) | {pool.key} | {bucket.label} | {model:.3g} | {sim:.3g} | {sim / model:.2f} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--disaggregated"]:
        disaggregated()
    else:
        args = [a for a in sys.argv[1:] if a != "--longest"]
        main(args or ["chat", "code", "rag", "batch"], longest="--longest" in sys.argv[1:])
