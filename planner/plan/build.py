"""Assembling a Plan from a solved fleet: pools with utilization and predicted latency, the routing table,
the single-GPU-type baselines and the simplest plan (split over two processes when a CPU is spare), notes and
the inputs echo (what the plan was made from, with hashes)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.demand.series import DemandSeries
from planner.forked import fork_call
from planner.io.catalog import Catalog
from planner.io.workload import LoadedWorkload
from planner.optimize.fleet import FleetOutcome, SolverSettings, optimize_fleet
from planner.optimize.formulation import FleetSolution
from planner.optimize.problem import FleetProblem
from planner.optimize.scope import served_percentiles_note
from planner.optimize.tradeoffs import binding_rules, simplest_within
from planner.optimize.solvers import SolveStatus
from planner.perf.bound import Bound
from planner.perf.capacity import prepare_curves
from planner.plan.disagg import disaggregation_doc
from planner.plan.fleet import FleetSetup, alternative, describe_rule, instance_docs, rule_docs, usage_notes
from planner.plan.floor import floor_warning, physical_floor
from planner.perf.tail import POOL_TIERS
from planner.plan.model import Baseline, DemandSummary, Plan, Pool, Route
from planner.schemas.plan import AlternativeDoc, BucketDemandDoc
from planner.schemas.replica import ReplicaSpec
from planner.supply.table import CapacityTable

MEASURED_DETAIL = "capacity from a measured profile"


def fleet_problem(table: CapacityTable, demand: DemandSeries, rho: float, allowed: list[int] | None = None,
                  setup: FleetSetup = FleetSetup()) -> FleetProblem:
    """The optimizer's problem for the table's configs (or only those at rows `allowed`), the demand's rates and
    the workload's instance types and fleet rules (`setup`)."""
    pooled = table.pooled_rps
    problem = FleetProblem(table.configs, table.costs, table.max_rps, demand.bucket_rates(), rho, setup.shapes, setup.rules,
                           setup.watts, setup.cross_instance_tp, table.levels, pooled, POOL_TIERS[1:] if pooled is not None else ())
    return problem if allowed is None else problem.restricted(allowed)


def build_pools(table: CapacityTable, rates: np.ndarray, solution: FleetSolution,
                pool_costs: dict[ReplicaSpec, float] | None = None) -> tuple[tuple[Pool, ...], tuple[Route, ...]]:
    """Pools (with utilization and predicted latency at their load) and the routing table; `pool_costs` (USD/hour
    by config, FleetSolution.pool_costs) replaces replicas x the table's per-replica cost."""
    row = table.index()
    prepare_curves(table.cell(row[spec], b) for b, spec in solution.shares)
    pools = []
    for spec, n in sorted(solution.replicas.items(), key=lambda kv: kv[0].key):
        k = row[spec]
        cap = {b: solution.capacity.get((b, spec), table.max_rps[k, b]) for (b, owner) in solution.shares if owner == spec}
        loads = {b: rates[b] * s / cap[b] for (b, owner), s in solution.shares.items() if owner == spec}
        util = sum(loads.values()) / n
        ttft, tpot, bound, detail = None, None, "", ""
        if loads:
            main = max(loads, key=lambda b: loads[b])
            cells = [(b, table.cell(k, b)) for b in loads]
            if all(c is not None for _, c in cells):
                lat = [c.latency_at(util * cap[b]) for b, c in cells]  # type: ignore[union-attr]
                ttft, tpot = max(t for t, _ in lat), max(t for _, t in lat)
            main_cell = table.cell(k, main)
            bound, detail = (main_cell.bound, main_cell.detail) if main_cell else (Bound.MEASURED, MEASURED_DETAIL)
        if spec.role == "prefill":  # a prefill replica emits no decode steps; a decode one no first token
            tpot = None
        elif spec.role == "decode":
            ttft = None
        cost = pool_costs[spec] if pool_costs is not None else float(n * table.costs[k])
        pools.append(Pool(spec, n, cost, float(util), ttft, tpot, bound, detail))
    routes = []
    for b, bucket in enumerate(table.buckets):
        shares = {spec.key: s for (bb, spec), s in solution.shares.items() if bb == b}
        # the co-located and prefill shares sum to 1; decode shares repeat the prefill ones (pools of the pair)
        total = sum(s for (bb, spec), s in solution.shares.items() if bb == b and spec.role != "decode") or 1.0
        routes.append(Route(bucket=bucket.label, input_lo=bucket.input_lo, input_hi=bucket.input_hi, output_lo=bucket.output_lo,
                            output_hi=bucket.output_hi, rate_rps=float(rates[b]), shares={key: s / total for key, s in sorted(shares.items())}))
    return tuple(pools), tuple(routes)


def baseline(table: CapacityTable, demand: DemandSeries, rho: float, settings: SolverSettings, setup: FleetSetup,
             gpu: str) -> Baseline:
    """The cheapest fleet of GPU type `gpu` alone, under the same fleet rules (no cost, with the reason, where that
    type cannot serve everything)."""
    allowed = [k for k, c in enumerate(table.configs) if c.gpu == gpu]
    outcome = optimize_fleet(fleet_problem(table, demand, rho, allowed, setup), settings)
    if outcome.cost_per_hour is None or outcome.solution is None:
        labels = ", ".join(table.buckets[b].label for b in outcome.unserved_buckets[:3])
        if labels:
            reason = f"cannot serve {labels}"
        elif outcome.status == SolveStatus.INFEASIBLE and setup.rules.active():
            reason = "breaks the fleet rules (" + ", ".join(describe_rule(r, setup.rules) for r in setup.rules.active()) + ")"
        else:
            reason = f"solver: {outcome.status}"
        return Baseline(gpu=gpu, reason=reason)
    gpus = sum(spec.tp * n for spec, n in outcome.solution.replicas.items())
    return Baseline(gpu=gpu, cost_per_hour=outcome.cost_per_hour, gpus=gpus)


def demand_summary(demand: DemandSeries) -> DemandSummary:
    rates = demand.bucket_rates()
    buckets = [BucketDemandDoc(bucket=b.label, rate_rps=float(r), share=b.share, input_mean=b.input_mean,
                                 output_mean=b.output_mean, input_p99=b.input_p99) for b, r in zip(demand.buckets, rates)]
    stats = demand.rate
    return DemandSummary(design_rps=demand.design_rps, method=stats.method, mean_rps=stats.mean_rps, peak_rps=stats.peak_rps,
                         requests=demand.n_requests, duration_s=demand.duration_s, dropped_requests=demand.dropped_requests,
                         dropped_share=demand.dropped_share, buckets=buckets)


def assemble_plan(loaded: LoadedWorkload, table: CapacityTable, demand: DemandSeries, best: FleetOutcome,
                  settings: SolverSettings, catalog_files: tuple[str | Path, ...] = (), setup: FleetSetup = FleetSetup(),
                  pool_costs: dict[ReplicaSpec, float] | None = None, catalog: Catalog | None = None,
                  on_pools: Callable[[Plan], bool] | None = None) -> Plan:
    """The Plan of a solved fleet (`best` has a solution), with its baselines, the simplest plan within
    `fleet.simplest_within`, the binding fleet rules and their cost, the physical floor (given the catalog),
    notes and inputs echo. `pool_costs` replaces the pools' costs worked out from the problem (a plan over
    slots prices them by tier). `on_pools` is called with the plan as soon as its pools and routing are fixed,
    before the comparisons (baselines, simplest plan, rules, floor) are worked out: `solve` starts its replay
    then, in a second process (planner.simulate.background), and returns True; when it returns False the
    second CPU is free for the comparisons (planner.forked)."""
    assert best.solution is not None and best.result is not None and best.cost_per_hour is not None
    w = loaded.workload
    rates = demand.bucket_rates()
    problem = fleet_problem(table, demand, w.utilization_target, setup=setup)
    pools, routing = build_pools(table, rates, best.solution, pool_costs or best.solution.pool_costs(problem))
    output_tps = float(sum(float(r) * b.output_mean for r, b in zip(rates, table.buckets)))
    input_tps = float(sum(float(r) * b.input_mean for r, b in zip(rates, table.buckets)))
    plan = Plan(
        status=str(best.status), solver=best.result.solver, gap=best.result.gap, runtime_s=best.result.runtime_s,
        cost_per_hour=best.cost_per_hour, pools=pools, routing=routing, baselines=(),
        design_rps=float(rates.sum()), output_tokens_per_s=output_tps, input_tokens_per_s=input_tps,
        model=w.model, slo=w.slo, utilization_target=w.utilization_target,
        demand=demand_summary(demand), instances=tuple(instance_docs(problem, best)),
        mean_over_design=demand.rate.mean_over_design, inputs=inputs_echo(loaded, catalog_files, table),
    )
    spare_cpu = on_pools is not None and not on_pools(plan)
    gpus = sorted({c.gpu for c in table.configs})
    rho = w.utilization_target
    # the comparisons share nothing: with a CPU to spare, a forked child works out the simplest plan and every other
    # baseline while this process does the rest (the same functions on the same inputs, so the same results)
    child = fork_call(lambda: (simplest_doc(problem, settings, best, setup),
                               [baseline(table, demand, rho, settings, setup, g) for g in gpus[1::2]])) if spare_cpu else None
    here = {g: baseline(table, demand, rho, settings, setup, g) for g in (gpus[0::2] if child is not None else gpus)}
    rules = rule_docs(setup.rules, best.cost_per_hour, binding_rules(problem, settings, best))
    notes = list(table.notes) + usage_notes(problem, best)
    scope = served_percentiles_note(best.solution.percentiles, [b.label for b in table.buckets], w.slo.percentile)
    if scope:
        notes.append(scope)
    if best.status == SolveStatus.TIME_LIMIT:
        gap = "unknown" if best.result.gap is None else f"{best.result.gap:.2%}"
        notes.append(f"solver stopped at the {settings.time_limit_s:g} s time limit; gap to the proven bound: {gap}")
    if demand.skipped_rows:
        notes.append(f"{demand.skipped_rows} bad trace rows were skipped (traffic.on_bad_rows)")
    if demand.dropped_share:
        notes.append(f"{demand.dropped_share:.2%} of requests exceed the context window and were dropped")
    floor = None if catalog is None else physical_floor(catalog, table, demand, w.slo, best.cost_per_hour)
    warning = None if floor is None else floor_warning(floor, [(p.cost_per_hour, f"{p.key}: {p.detail}") for p in pools])
    if warning:
        notes.append(warning)
    disaggregation = disaggregation_doc(table, demand, problem, best, settings, w.engine.disaggregation)
    rest = [g for g in gpus if g not in here]
    got = child.result() if child is not None else None
    simplest, theirs = got if got is not None else (simplest_doc(problem, settings, best, setup),
                                                     [baseline(table, demand, rho, settings, setup, g) for g in rest])
    found = here | dict(zip(rest, theirs))
    return replace(plan, baselines=tuple(found[g] for g in gpus), simplest=simplest, rules=tuple(rules), notes=tuple(notes),
                   floor=floor, disaggregation=disaggregation)


def simplest_doc(problem: FleetProblem, settings: SolverSettings, best: FleetOutcome, setup: FleetSetup) -> AlternativeDoc | None:
    """The simplest plan within the workload's `fleet.simplest_within` of the optimum's cost, when it has fewer pools."""
    if setup.simplest_within is None:
        return None
    simpler = simplest_within(problem, settings, best, setup.simplest_within)
    return None if simpler is None else alternative(f"simplest within {setup.simplest_within:.0%}", simpler)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inputs_echo(loaded: LoadedWorkload, catalog_files: tuple[str | Path, ...], table: CapacityTable) -> dict[str, Any]:
    """The plan's inputs: workload file and content, trace and catalog files with their hashes, capacity source."""
    trace = loaded.trace_path()
    return {
        "workload_file": str(loaded.doc.path) if loaded.doc else None,
        "workload_sha256": loaded.sha256,
        "workload": loaded.workload.model_dump(mode="json"),
        "trace_file": str(trace) if trace else None,
        "trace_sha256": _sha256_file(trace) if trace else None,
        "catalog_files": [str(p) for p in catalog_files],
        "catalog_sha256": {str(p): _sha256_file(Path(p)) for p in catalog_files},
        "capacity_source": table.source,
    }
