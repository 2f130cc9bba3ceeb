"""Python API: the pipeline workload + catalogs -> demand -> capacity table -> MILP -> Plan.

    import planner
    plan = planner.solve("workloads/chat.yaml")
    plan.cost_per_month, plan.to_frame()
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.candidates import Rejection, enumerate_candidates
from planner.capacity_table import CapacityTable, build_capacity_table
from planner.catalog import Catalog, load_catalog
from planner.demand import Demand, build_demand
from planner.errors import InfeasibleError, SolverError
from planner.optimize.fleet import FleetSolution, optimize_fleet
from planner.optimize.solve import SolveStatus
from planner.overrides import Overrides, apply_overrides, describe
from planner.plan import Baseline, Plan, build_pools, demand_summary
from planner.profile import profile_problem
from planner.workload import LoadedWorkload, check_ids, load_workload, workload_from_dict

log = logging.getLogger(__name__)
WorkloadInput = str | Path | dict[str, Any] | LoadedWorkload


@dataclass(frozen=True)
class Problem:
    """Everything upstream of the optimizer, for callers that want to inspect or reuse it."""

    loaded: LoadedWorkload
    catalog: Catalog
    demand: Demand
    table: CapacityTable
    rejected: tuple[Rejection, ...]


def as_loaded(workload: WorkloadInput) -> LoadedWorkload:
    if isinstance(workload, LoadedWorkload):
        return workload
    if isinstance(workload, dict):
        return workload_from_dict(workload)
    return load_workload(workload)


def load(workload: WorkloadInput, overrides: Overrides | None = None, scenario: str | None = None) -> LoadedWorkload:
    """Validate a workload, then apply a named scenario and `--set`-style overrides (planner.overrides)."""
    return apply_overrides(as_loaded(workload), overrides, scenario)


def prepare(workload: WorkloadInput, catalog_files: tuple[str | Path, ...] = (), catalog: Catalog | None = None) -> Problem:
    """Validate inputs, bucket the traffic and fill the capacity table from the performance model.

    `catalog`: an already loaded `load_catalog(catalog_files)`, reused by sweeps to skip re-parsing the YAML.
    """
    loaded = as_loaded(workload)
    catalog = catalog or load_catalog(catalog_files)
    check_ids(loaded, catalog)
    model = catalog.model(loaded.workload.model)
    if loaded.workload.capacity_profile is not None:  # measured capacities replace the model (docs/profiles.md)
        demand, table = profile_problem(loaded, catalog, model)
        return Problem(loaded, catalog, demand, table, ())
    demand = build_demand(loaded, model)
    candidates, rejected = enumerate_candidates(loaded, catalog)
    if not candidates:
        reasons = "; ".join(f"{r.key}: {r.reason}" for r in rejected[:8])
        raise InfeasibleError(f"no allowed configuration can serve {model.id}: {reasons}")
    table = build_capacity_table(candidates, demand.buckets, loaded.workload.slo)
    return Problem(loaded, catalog, demand, table, tuple(rejected))


def solve(workload: WorkloadInput, catalog_files: tuple[str | Path, ...] = (), solver: str | None = None,
          time_limit_s: float | None = None, overrides: Overrides | None = None, scenario: str | None = None,
          catalog: Catalog | None = None) -> Plan:
    """The cheapest fleet meeting the workload's SLOs; raises InfeasibleError saying why when none does.

    `overrides` ({"slo.tpot_ms": 30} or ["slo.tpot_ms=30"]) and `scenario` (a name under `scenarios:`) are
    what-ifs applied before validation; they are echoed in the plan's inputs.
    """
    problem = prepare(load(workload, overrides, scenario), catalog_files, catalog)
    plan = plan_from_table(problem.loaded, problem.table, problem.demand, catalog_files, solver, time_limit_s)
    if overrides or scenario:
        plan = replace(plan, inputs={**plan.inputs, **describe(overrides, scenario)})
    return plan


def plan_from_table(loaded: LoadedWorkload, table: CapacityTable, demand: Demand, catalog_files: tuple[str | Path, ...] = (),
                    solver: str | None = None, time_limit_s: float | None = None) -> Plan:
    """Optimize over a capacity table (from the model or a measured profile) and assemble the Plan."""
    w = loaded.workload
    options = w.solver
    solver = solver or options.name
    time_limit = time_limit_s or options.time_limit_s
    rates = np.array([b.rate_rps for b in table.buckets])
    best = optimize_fleet(table, rates, w.utilization_target, solver, time_limit, options.mip_gap)
    if best.status == SolveStatus.INFEASIBLE:
        raise InfeasibleError(explain_infeasible(table, best, w.slo.percentile, w.slo.ttft_ms, w.slo.tpot_ms))
    if best.status == SolveStatus.UNKNOWN or best.cost_per_hour is None or best.result is None:
        raise SolverError(f"the solver stopped without a plan (status {best.status}); raise solver.time_limit_s")
    baselines = _baselines(table, rates, w.utilization_target, solver, time_limit, options.mip_gap)
    pools, routing = build_pools(table, rates, best)
    notes = list(table.notes)
    if best.status == SolveStatus.TIME_LIMIT:
        gap = "unknown" if best.result.gap is None else f"{best.result.gap:.2%}"
        notes.append(f"solver stopped at the {time_limit:g} s time limit; gap to the proven bound: {gap}")
    if demand.dropped_share:
        notes.append(f"{demand.dropped_share:.2%} of requests exceed the context window and were dropped")
    output_tps = float(sum(b.rate_rps * b.output_mean for b in table.buckets))
    input_tps = float(sum(b.rate_rps * b.input_mean for b in table.buckets))
    return Plan(
        status=str(best.status), solver=best.result.solver, gap=best.result.gap, runtime_s=best.result.runtime_s,
        cost_per_hour=best.cost_per_hour, pools=pools, routing=routing, baselines=baselines,
        design_rps=float(rates.sum()), output_tokens_per_s=output_tps, input_tokens_per_s=input_tps,
        model=w.model, slo=w.slo.model_dump(), utilization_target=w.utilization_target,
        demand=demand_summary(demand), inputs=_inputs_echo(loaded, catalog_files, table), notes=tuple(notes),
    )


def _baselines(table: CapacityTable, rates: np.ndarray, rho: float, solver: str, time_limit: float, gap: float) -> tuple[Baseline, ...]:
    """The cheapest fleet of each single GPU type (null cost where that type cannot serve everything)."""
    out = []
    for gpu in sorted({c.gpu for c in table.configs}):
        allowed = [k for k, c in enumerate(table.configs) if c.gpu == gpu]
        sol = optimize_fleet(table, rates, rho, solver, time_limit, gap, allowed)
        if sol.cost_per_hour is None:
            labels = ", ".join(table.buckets[b].label for b in sol.unserved_buckets[:3])
            out.append(Baseline(gpu, None, None, f"cannot serve {labels}" if labels else f"solver: {sol.status}"))
        else:
            gpus = sum(table.configs[k].tp * n for k, n in sol.replicas.items())
            out.append(Baseline(gpu, sol.cost_per_hour, gpus))
    return tuple(out)


def explain_infeasible(table: CapacityTable, sol: FleetSolution, pct: float, ttft_ms: float, tpot_ms: float) -> str:
    """Which bucket no config can serve, which SLO fails, and the best any config achieves."""
    lines = ["no fleet meets the SLOs:"]
    for b in sol.unserved_buckets:
        bucket = table.buckets[b]
        head = f"- bucket {bucket.label} ({bucket.share:.1%} of requests, {bucket.rate_rps:.3g} req/s): "
        cells = [(table.configs[k].key, table.cell(k, b)) for k in range(len(table.configs))]
        cells = [(key, c) for key, c in cells if c is not None]
        if not cells:
            lines.append(head + "no profiled config serves it")
            continue
        ttft_key, ttft_cell = min(cells, key=lambda kc: kc[1].ttft0_ms)
        tpot_key, tpot_cell = min(cells, key=lambda kc: kc[1].tpot0_ms)
        if ttft_cell.ttft0_ms > ttft_ms:
            lines.append(head + f"p{pct:g} TTFT {ttft_ms:g} ms cannot be met; the best is {ttft_cell.ttft0_ms:.0f} ms on {ttft_key} at zero load")
        elif tpot_cell.tpot0_ms > tpot_ms:
            lines.append(head + f"p{pct:g} TPOT {tpot_ms:g} ms cannot be met; the best is {tpot_cell.tpot0_ms:.1f} ms on {tpot_key} at batch 1")
        else:
            reasons = sorted({c.detail for _, c in cells})
            lines.append(head + "; ".join(reasons[:3]))
    lines.append("hint: relax the SLO, allow larger tp or more GPU types/quantizations, or check the bucket's lengths")
    return "\n".join(lines)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _inputs_echo(loaded: LoadedWorkload, catalog_files: tuple[str | Path, ...], table: CapacityTable) -> dict[str, Any]:
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
