"""Check a plan by simulation, and repair it: the API behind `planner simulate` and `solve --verify --repair`.

A Plan (or its JSON, read through planner.plan.document) names pools by ReplicaSpec and a routing table;
this module resolves the specs against the catalogs the plan was made with, gets the requests (the
workload's trace, rescaled as the workload says, a given trace, or draws from the workload's histogram at
its rate) and runs planner.simulate.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.api import WorkloadInput, as_loaded
from planner.demand.build import cached_tokens, demand_from_trace
from planner.errors import WorkloadError
from planner.io.catalog import Catalog, load_catalog
from planner.io.traces import Trace, read_trace
from planner.io.workload import LoadedWorkload, workload_from_dict
from planner.plan.document import read_plan
from planner.plan.model import Plan
from planner.simulate.replay import SimOptions, SimPool, SimResult, simulate
from planner.simulate.router import RouteTable
from planner.supply.replica import resolve

log = logging.getLogger(__name__)
DEFAULT_DURATION_S = 600.0
"""Length of a histogram-drawn replay when no duration is given: ten minutes reach steady state for
per-replica rates above ~1 req/s and outputs under a few thousand tokens."""


@dataclass(frozen=True)
class Fleet:
    """A plan made runnable: workload, pools with serving configs, routing table."""

    plan: Plan
    loaded: LoadedWorkload
    catalog: Catalog
    pools: list[SimPool]
    routes: RouteTable


def build_fleet(plan: Plan, catalog_files: tuple[str | Path, ...] = (), workload: WorkloadInput | None = None,
                catalog: Catalog | None = None) -> Fleet:
    """Serving configs of the plan's pools, from the catalogs the plan was made with (plus `catalog_files`), or
    from `catalog` when the caller already holds it (solve --verify).

    With `workload`, its engine settings replace the plan's (a what-if on the deployment, not on the plan).
    """
    if plan.models:
        raise WorkloadError(f"the plan serves {len(plan.models)} models on one fleet ({', '.join(m.model for m in plan.models)}); "
                            "the simulator replays one model's plan: solve and replay each model's workload on its own")
    if workload is not None:
        loaded = as_loaded(workload)
    else:
        workload_file = plan.inputs.get("workload_file")
        base = Path(workload_file).parent if workload_file else Path.cwd()
        loaded = workload_from_dict(plan.inputs["workload"], base)
    catalog = catalog or load_catalog(tuple(plan.inputs.get("catalog_files", ())) + tuple(catalog_files))
    engine = loaded.workload.engine
    pools = [SimPool(p.key, resolve(replace(p.spec, model=loaded.workload.model, engine=engine.params(p.spec.chunk)), catalog),
                     p.replicas, p.spec.role) for p in plan.pools]
    index = {p.key: k for k, p in enumerate(plan.pools)}
    shares = np.zeros((len(plan.routing), len(pools)))
    for b, route in enumerate(plan.routing):
        for key, share in route.shares.items():
            shares[b, index[key]] = share
    edges = [np.array([getattr(r, f) for r in plan.routing], dtype=np.int64) for f in ("input_lo", "input_hi", "output_lo", "output_hi")]
    return Fleet(plan, loaded, catalog, pools, RouteTable(*edges, shares))


def requests_for(fleet: Fleet, trace_file: str | Path | None = None, duration_s: float | None = None,
                 seed: int = 0, rate_scale: float = 1.0) -> Trace:
    """The requests to replay: `trace_file` as recorded, else the workload's trace scaled to its design
    rate, else Poisson arrivals at the histogram's rate with uniform lengths in each entry's ranges; each
    with the prefix-cache hits the workload's `traffic.prefix_cache` gives it (as the plan was sized)."""
    trace = _requests(fleet, trace_file, duration_s, seed, rate_scale)
    return replace(trace, cached_tokens=cached_tokens(trace, fleet.loaded.workload.traffic))


def _requests(fleet: Fleet, trace_file: str | Path | None, duration_s: float | None, seed: int, rate_scale: float) -> Trace:
    for name, value in (("--duration", duration_s), ("--rate-scale", rate_scale)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise WorkloadError(f"{name} must be a positive finite number, got {value}")
    traffic = fleet.loaded.workload.traffic
    if trace_file is None and traffic.trace is not None:
        path = fleet.loaded.trace_path()
        if path is None or not path.is_file():
            path = Path(fleet.plan.inputs.get("trace_file") or "")
        if not path.is_file():
            raise WorkloadError(f"the plan's trace {traffic.trace!r} is not found from here; give the trace file or the workload file (CLI: --trace FILE, --workload W.yaml)")
        trace = read_trace(path, traffic.format)
        rate_scale *= _workload_scale(trace, fleet, str(path))
    elif trace_file is not None:
        trace = read_trace(trace_file)
    else:
        return _draw_histogram(fleet, duration_s or DEFAULT_DURATION_S, seed, rate_scale)
    if rate_scale != 1.0:
        trace = replace(trace, arrival_s=trace.arrival_s / rate_scale)
    if duration_s is not None:
        keep = trace.arrival_s < duration_s
        trace = trace.select(keep)
    if len(trace) == 0:
        raise WorkloadError(f"no requests arrive within the first {duration_s:g} s (the replay duration)")
    return trace


def _workload_scale(trace: Trace, fleet: Fleet, where: str) -> float:
    """The factor the workload applies to its trace's rate (rate_scale, or target_rps / measured design rate)."""
    traffic = fleet.loaded.workload.traffic
    if traffic.target_rps is None:
        return traffic.rate_scale
    model = fleet.catalog.model(fleet.loaded.workload.model)
    measured = demand_from_trace(trace, traffic.model_copy(update={"target_rps": None}), model, where).design_rps
    return traffic.target_rps / measured


def _draw_histogram(fleet: Fleet, duration_s: float, seed: int, rate_scale: float) -> Trace:
    traffic = fleet.loaded.workload.traffic
    assert traffic.histogram is not None and traffic.rate_rps is not None  # schema: trace or histogram
    rate = (traffic.target_rps or traffic.rate_rps * traffic.rate_scale) * rate_scale
    rng = np.random.default_rng([seed, 1])
    n = max(int(rng.poisson(rate * duration_s)), 1)
    arrival = np.sort(rng.uniform(0, duration_s, n))
    entry = rng.choice(len(traffic.histogram), size=n, p=np.array([e.share for e in traffic.histogram]) / sum(e.share for e in traffic.histogram))
    lo_in, hi_in, lo_out, hi_out = (np.array([getattr(e, side)[i] for e in traffic.histogram]) for side, i in
                                    (("input", 0), ("input", 1), ("output", 0), ("output", 1)))
    inp = rng.integers(lo_in[entry], hi_in[entry])
    out = rng.integers(lo_out[entry], hi_out[entry])
    return Trace(arrival - arrival[0], inp.astype(np.int64), out.astype(np.int64), "histogram")


def simulate_plan(plan: str | Path | dict[str, Any] | Plan, trace_file: str | Path | None = None,
                  workload: WorkloadInput | None = None, duration_s: float | None = None, options: SimOptions = SimOptions(),
                  catalog_files: tuple[str | Path, ...] = (), rate_scale: float = 1.0) -> SimResult:
    """Replay the plan's (or the given) traffic against the plan's fleet."""
    fleet = build_fleet(read_plan(plan), catalog_files, workload)
    trace = requests_for(fleet, trace_file, duration_s, options.seed, rate_scale)
    return run_fleet(fleet, trace, options)


def run_fleet(fleet: Fleet, trace: Trace, options: SimOptions) -> SimResult:
    """Simulate `trace` on the fleet; chunked prefill when the options or the workload's engine ask for it."""
    w = fleet.loaded.workload
    if w.engine.chunked_prefill and not options.chunked_prefill:
        options = replace(options, chunked_prefill=True)
    log.info("simulating %d requests over %.0f s on %d replicas", len(trace), trace.duration_s, sum(p.replicas for p in fleet.pools))
    return simulate(fleet.pools, fleet.routes, trace, w.slo, fleet.catalog.model(w.model).max_context, options)


@dataclass(frozen=True)
class Verification:
    """A plan checked by simulation; with repair, the plan with the replicas that made the SLOs hold."""

    plan: Plan
    result: SimResult
    added: dict[str, int]
    """Replicas added per pool key by repair."""
    extra_cost_per_hour: float
    """Net change of the plan's cost by repair (negative when shrinking saved more than growing cost)."""
    rounds: int
    removed: dict[str, int] = field(default_factory=dict)
    """Replicas removed per pool key by repair (pools replay showed to be oversized)."""

    def to_dict(self) -> dict[str, Any]:
        return {"slo_met": self.result.met, "slo_scope": self.result.summary["slo"].get("scope", "bucket"),
                "added_replicas": self.added, "removed_replicas": self.removed,
                "extra_cost_per_hour": round(self.extra_cost_per_hour, 4), "repair_rounds": self.rounds, "simulation": self.result.summary}


def verify_plan(plan: Plan, trace_file: str | Path | None = None, duration_s: float | None = None,
                options: SimOptions = SimOptions(), repair: bool = False, max_rounds: int = 10,
                catalog_files: tuple[str | Path, ...] = (), rate_scale: float = 1.0, catalog: Catalog | None = None) -> Verification:
    """Simulate `plan` on its own traffic (arrival rate x `rate_scale`); with `repair`, grow the pools that miss
    until the SLOs hold, then shrink the pools replay shows to be oversized while they still hold
    (planner.simulate.repair), re-simulating after every step, at most `max_rounds` steps each way."""
    from planner.simulate.repair import grow, shrink

    fleet = build_fleet(plan, catalog_files, catalog=catalog)
    trace = requests_for(fleet, trace_file, duration_s, options.seed, rate_scale)
    result = run_fleet(fleet, trace, options)
    rounds = 0
    if repair:
        fleet, result, rounds = grow(fleet, trace, options, result, max_rounds)
        if result.met:
            fleet, result, shrunk = shrink(fleet, trace, options, result, max_rounds)
            rounds += shrunk
    repaired, added, removed, extra = _with_replicas(plan, {p.key: p.replicas for p in fleet.pools})
    return Verification(repaired, result, added, extra, rounds, removed)


def _with_replicas(plan: Plan, replicas: dict[str, int]) -> tuple[Plan, dict[str, int], dict[str, int], float]:
    """The plan with new replica counts: GPUs, costs and utilization scaled; plus what was added and removed, and
    the net change of its cost."""
    pools, added, removed, extra = [], {}, {}, 0.0
    for pool in plan.pools:
        n = replicas.get(pool.key, pool.replicas)
        if n == pool.replicas:
            pools.append(pool)
            continue
        per_replica = pool.cost_per_replica_hour
        if n > pool.replicas:
            added[pool.key] = n - pool.replicas
        else:
            removed[pool.key] = pool.replicas - n
        extra += per_replica * (n - pool.replicas)
        pools.append(replace(pool, replicas=n, cost_per_hour=per_replica * n, utilization=pool.utilization * pool.replicas / n))
    if not added and not removed:
        return plan, {}, {}, 0.0
    parts = ([("added " + ", ".join(f"{n} x {key}" for key, n in added.items()))] if added else []) + \
            ([("removed " + ", ".join(f"{n} x {key}" for key, n in removed.items()))] if removed else [])
    note = f"verify --repair {' and '.join(parts)} ({'+' if extra >= 0 else '-'}${abs(extra):,.2f}/hour): the SLOs hold in simulation"
    return (replace(plan, status="repaired", pools=tuple(pools), cost_per_hour=plan.cost_per_hour + extra, notes=plan.notes + (note,)),
            added, removed, extra)


REPLAY_MAX_REQUESTS = 20_000
"""`solve` replays a trace workload's plan by default up to this many requests: the simulator replays the example
and Azure traces at 15-20k requests/s on one core (docs/benchmarks/simulate_real_traces.md), so about a second."""


def replay_skipped(plan: Plan) -> str | None:
    """Why `solve` does not replay `plan` by default (None: it does): no trace, or more than REPLAY_MAX_REQUESTS."""
    if plan.inputs.get("workload", {}).get("traffic", {}).get("trace") is None:
        return "the workload has no trace (a histogram replay is drawn at random: use --verify)"
    if plan.slots:
        return "plans over slots are not replayed"
    n = plan.demand.requests
    if n is not None and n > REPLAY_MAX_REQUESTS:
        return f"the trace has {n:,} requests (> {REPLAY_MAX_REQUESTS:,}, about a second of replay): use --verify or --replay"
    return None
