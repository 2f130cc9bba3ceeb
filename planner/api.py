"""Python API: the pipeline workload + catalogs -> demand -> supply (capacity table) -> optimizer -> Plan.

    import planner
    plan = planner.solve("workloads/chat.yaml")
    plan.cost_per_month, plan.to_frame()
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.demand.build import build_demand
from planner.demand.rebucket import demand_on_buckets
from planner.demand.series import DemandSeries
from planner.demand.slots import with_slots
from planner.errors import InfeasibleError, PlannerError, SolverError
from planner.io.catalog import Catalog, load_catalog
from planner.demand.models import joined_demand
from planner.io.workload import LoadedWorkload, check_ids, input_error, load_workload, workload_from_dict
from planner.optimize.diagnose import explain_infeasible
from planner.optimize.fleet import SolverSettings, optimize_fleet
from planner.optimize.solvers import SolveStatus
from planner.optimize.tradeoffs import relaxations
from planner.plan.build import assemble_plan, fleet_problem
from planner.plan.fleet import explain_relaxations, fleet_setup, needs_catalog
from planner.plan.slots import assemble_slotted_plan, is_slotted
from planner.plan.model import Plan
from planner.plan.models import joined_table
from planner.io.overrides import Overrides, apply_overrides, describe
from planner.supply.candidates import Rejection, enumerate_candidates
from planner.supply.disagg import with_roles, without_roles
from planner.supply.profile import MeasuredProfile
from planner.supply.sources import AnalyticalModel
from planner.supply.table import CapacityTable

log = logging.getLogger(__name__)
WorkloadInput = str | Path | dict[str, Any] | LoadedWorkload


@dataclass(frozen=True)
class Problem:
    """Everything upstream of the optimizer, for callers that want to inspect or reuse it."""

    loaded: LoadedWorkload
    """The validated workload (with overrides applied) and where it came from."""
    catalog: Catalog
    """GPUs, models, quantization formats and prices used."""
    demand: DemandSeries
    """Buckets and their design rates."""
    table: CapacityTable
    """Max req/s of every candidate config in every bucket under the SLOs."""
    rejected: tuple[Rejection, ...]
    """Configs left out before the table, each with why (does not fit, TP does not divide the heads, ...)."""


def as_loaded(workload: WorkloadInput) -> LoadedWorkload:
    """A validated workload from a path, a dict or an already loaded one."""
    if isinstance(workload, LoadedWorkload):
        return workload
    if isinstance(workload, dict):
        return workload_from_dict(workload)
    return load_workload(workload)


def load(workload: WorkloadInput, overrides: Overrides | None = None, scenario: str | None = None) -> LoadedWorkload:
    """Validate a workload, then apply a named scenario and `--set`-style overrides (planner.io.overrides)."""
    return apply_overrides(as_loaded(workload), overrides, scenario)


def prepare(workload: WorkloadInput, catalog_files: tuple[str | Path, ...] = (), catalog: Catalog | None = None) -> Problem:
    """Validate inputs, bucket the traffic and fill the capacity table from its source (the model or a profile).

    `catalog`: an already loaded `load_catalog(catalog_files)`, reused by sweeps to skip re-parsing the YAML.
    """
    loaded = as_loaded(workload)
    catalog = catalog or load_catalog(catalog_files)
    check_ids(loaded, catalog)
    w = loaded.workload
    if len(w.models) > 1:
        return _prepare_models(loaded, catalog)
    model = catalog.model(w.model)
    if w.capacity_profile is not None:  # measured capacities replace the model (docs/profiles.md)
        profile = MeasuredProfile.load(loaded, catalog)
        demand = demand_on_buckets(loaded, model, profile.profile.buckets, str(profile.profile.path))
        return Problem(loaded, catalog, demand, profile.build(demand, w.slo), ())
    demand = with_slots(build_demand(loaded, model), w.traffic, loaded.where("traffic", "slots"))
    candidates, rejected = enumerate_candidates(loaded, catalog)
    if not candidates:
        reasons = "; ".join(f"{r.key}: {r.reason}" for r in rejected[:8])
        raise InfeasibleError(f"no allowed configuration can serve {model.id}: {reasons}")
    table = AnalyticalModel(tuple(candidates)).build(demand, w.slo)
    mode = w.engine.disaggregation
    if mode != "off" and is_slotted(loaded, demand):  # the slots MILP covers co-located configs only
        table = replace(table, notes=table.notes + ("engine.disaggregation: time slots plan co-located replicas only",))
        mode = "off"
    table = with_roles(table, tuple(candidates), demand, w.slo, mode)
    return Problem(loaded, catalog, demand, table, tuple(rejected))


def _prepare_models(loaded: LoadedWorkload, catalog: Catalog) -> Problem:
    """Several models on one fleet: each model's demand and capacity table, joined side by side (docs/fleet.md)."""
    if loaded.workload.capacity_profile is not None:
        raise input_error(loaded, ("capacity_profile",), "a measured profile describes one model; with `models:` leave it out")
    parts = [prepare(loaded.for_model(i), catalog=catalog) for i in range(len(loaded.workload.models))]
    demand = joined_demand([p.demand for p in parts], loaded.where("models"))
    tables = [without_roles(p.table, "several models") for p in parts]  # the shared-fleet MILP routes co-located configs
    return Problem(loaded, catalog, demand, joined_table(tables), tuple(r for p in parts for r in p.rejected))


def solve(workload: WorkloadInput, catalog_files: tuple[str | Path, ...] = (), solver: str | None = None,
          time_limit_s: float | None = None, overrides: Overrides | None = None, scenario: str | None = None,
          catalog: Catalog | None = None, confidence: str = "p50", on_pools: Callable[[Plan], bool] | None = None) -> Plan:
    """The cheapest fleet meeting the workload's SLOs; raises InfeasibleError saying why when none does.

    `overrides` ({"slo.tpot_ms": 30} or ["slo.tpot_ms=30"]) and `scenario` (a name under `scenarios:`) are
    what-ifs applied before validation; they are echoed in the plan's inputs. `confidence="p90"` sizes the fleet
    on step times slowed by each GPU's p90 error band (perf.bands, docs/accuracy.md) instead of the model's own.
    `on_pools` is called with the plan once its pools and routing are fixed, before its comparisons (baselines,
    simplest plan, floor) are worked out, and returns whether it started work on the second CPU (when not, the
    baselines use it; planner.plan.build.assemble_plan).
    """
    from planner.perf.bands import CONFIDENCE, bands_for, pessimistic_catalog

    if confidence not in CONFIDENCE:
        raise PlannerError(f"confidence {confidence!r}: expected one of {', '.join(CONFIDENCE)}")
    loaded = load(workload, overrides, scenario)
    catalog = catalog or load_catalog(catalog_files)
    kind = loaded.workload.engine.kind
    sized = pessimistic_catalog(catalog, kind) if confidence == "p90" else catalog
    problem = prepare(loaded, catalog_files, sized)
    plan = plan_from_table(problem.loaded, problem.table, problem.demand, catalog_files, solver, time_limit_s, problem.catalog,
                           on_pools)
    pools = tuple(replace(p, error_band=bands_for(catalog.error_bands, p.gpu, kind)) for p in plan.pools)
    notes = plan.notes + ((f"sized for confidence p90: every GPU's step times slowed by its p90 error band under {kind}",)
                          if confidence == "p90" else ())
    plan = replace(plan, pools=pools, notes=notes)
    if overrides or scenario:
        plan = replace(plan, inputs={**plan.inputs, **describe(overrides, scenario)})
    return plan


def plan_from_table(loaded: LoadedWorkload, table: CapacityTable, demand: DemandSeries, catalog_files: tuple[str | Path, ...] = (),
                    solver: str | None = None, time_limit_s: float | None = None, catalog: Catalog | None = None,
                    on_pools: Callable[[Plan], bool] | None = None) -> Plan:
    """Optimize over a capacity table (from any capacity source) for `demand`'s rates under the workload's fleet
    rules and assemble the Plan. `catalog` (instance types, TDPs) is loaded from `catalog_files` when needed;
    `on_pools` as in `solve` (not called for a plan over time slots)."""
    w = loaded.workload
    settings = SolverSettings(solver or w.solver.name, time_limit_s or w.solver.time_limit_s, w.solver.mip_gap)
    if catalog is None and (needs_catalog(loaded) or is_slotted(loaded, demand)):
        catalog = load_catalog(catalog_files)
    if is_slotted(loaded, demand):
        assert catalog is not None
        return assemble_slotted_plan(loaded, table, demand, catalog, settings, catalog_files)
    setup = fleet_setup(loaded, catalog, table)
    problem = fleet_problem(table, demand, w.utilization_target, setup=setup)
    best = optimize_fleet(problem, settings)
    if best.status == SolveStatus.INFEASIBLE and best.unserved_buckets:
        raise InfeasibleError(explain_infeasible(table, demand.bucket_rates(), best.unserved_buckets, w.slo))
    if best.status == SolveStatus.INFEASIBLE and problem.rules.active():
        raise InfeasibleError(explain_relaxations(problem.rules, relaxations(problem, settings)))
    if best.solution is None:
        raise SolverError(f"the solver stopped without a plan (status {best.status}); raise solver.time_limit_s")
    return assemble_plan(loaded, table, demand, best, settings, catalog_files, setup, catalog=catalog, on_pools=on_pools)
