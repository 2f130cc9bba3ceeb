"""A plan over time slots (docs/fleet.md, "Slots and tiers"): the slotted problem from the workload's prices per
tier, and the Plan of its solution: the fleet per slot, the reserved baseline, and the month's cost of the mix
against one fleet all day (on demand, sized for the peak; or all reserved)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from planner.demand.series import HOURS_PER_MONTH, DemandSeries
from planner.errors import InfeasibleError, SolverError
from planner.io.catalog import Catalog
from planner.io.workload import LoadedWorkload, input_error
from planner.optimize.diagnose import explain_infeasible
from planner.optimize.fleet import FleetOutcome, SolverSettings
from planner.optimize.formulation import FleetSolution
from planner.optimize.slots import SlotOutcome, SlottedProblem, SlotSolution, optimize_slots, per_gpu
from planner.plan.build import assemble_plan
from planner.plan.model import Plan
from planner.plan.models import model_docs
from planner.schemas.plan import SlotDoc, TiersDoc
from planner.supply.prices import PriceBook
from planner.supply.table import CapacityTable

UNSUPPORTED = ("max_pools", "pool_overhead_per_hour", "min_replicas", "redundancy", "power")
"""Fleet rules the slotted MILP does not model yet (an error says so rather than ignoring them)."""


def is_slotted(loaded: LoadedWorkload, demand: DemandSeries) -> bool:
    """Whether the workload plans over slots or tiers (several periods, reserved or spot capacity), or several models
    (one fleet shared by them: the slotted MILP with one slot when the traffic is not cut)."""
    p = loaded.workload.pricing
    return len(demand.periods) > 1 or p.reserved is not None or p.spot is not None or len(demand.models) > 1


def _check(loaded: LoadedWorkload) -> None:
    w = loaded.workload
    if w.pricing.unit == "instance":
        raise input_error(loaded, ("pricing", "unit"), "instances are not combined with slots, reserved or spot capacity or several "
                          "models yet (the slotted MILP buys GPUs, it has no instance rows); use unit: gpu")
    for i, entry in enumerate(w.model_entries()):
        if entry.slo is not None and entry.slo.scope == "fleet":
            loc = ("models", i, "slo", "scope") if w.models and entry.slo is not w.slo else ("slo", "scope")
            raise input_error(loaded, loc, "the fleet scope is not combined with slots, reserved or spot capacity or several "
                              "models yet; use scope: bucket")
    defaults = type(w.fleet)()
    for name in UNSUPPORTED:
        if getattr(w.fleet, name) != getattr(defaults, name):
            raise input_error(loaded, ("fleet", name), "not modelled with slots, reserved or spot capacity or several models yet "
                              "(the slotted MILP has no per-pool rows; docs/fleet.md); limits and budget_per_month are")


def slotted_problem(loaded: LoadedWorkload, catalog: Catalog, table: CapacityTable, demand: DemandSeries) -> SlottedProblem:
    """Per-slot rates and hours, and one replica's USD/hour per tier for every config (NaN: not sold so)."""
    _check(loaded)
    w = loaded.workload
    book = PriceBook(catalog, w.pricing)

    def prices(tier: str | None) -> np.ndarray:
        per_gpu = {}
        for gpu in {c.gpu for c in table.configs}:
            offer = book.tier_price(gpu, tier) if tier else None
            per_gpu[gpu] = offer.usd_per_gpu_hour if offer else np.nan
        return np.array([per_gpu[c.gpu] * c.tp for c in table.configs], dtype=float)

    spot = w.pricing.spot
    limits = {k: v for k, v in w.fleet.limits.items() if k in catalog.gpus}
    return SlottedProblem(table.configs, table.max_rps, demand.rates.sum(axis=0), np.array([p.hours_per_month for p in demand.periods]),
                          w.utilization_target, table.costs.astype(float), prices(w.pricing.reserved), prices("spot" if spot else None),
                          spot.loss if spot else 0.0, dict(spot.max_gpus) if spot else {}, limits, w.fleet.budget_per_month)


def _keys(counts: dict) -> dict[str, int]:
    return {spec.key: n for spec, n in sorted(counts.items(), key=lambda kv: kv[0].key)}


def _gpus(counts: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for spec, n in counts.items():
        out[spec.gpu] = out.get(spec.gpu, 0) + spec.tp * n
    return dict(sorted(out.items()))


def _gpu_rates(problem: SlottedProblem, sol: SlotSolution, t: int) -> dict[str, float]:
    """USD/hour per GPU in use of each type in slot t: its reserved and on-demand GPUs' cost (idle reserved GPUs
    included) over the GPUs its replicas use, so the pools' costs add up to the slot's."""
    reserved, on_demand = per_gpu(problem, problem.reserved), per_gpu(problem, problem.on_demand)
    used = _gpus(sol.stable[t])
    out = {}
    for gpu, n in used.items():
        r, o = sol.reserved_gpus.get(gpu, 0), sol.on_demand_gpus[t].get(gpu, 0)
        paid = (r * reserved[gpu] if r else 0.0) + (o * on_demand[gpu] if o else 0.0)
        out[gpu] = paid / n
    return out


def _slot_costs(problem: SlottedProblem, sol: SlotSolution, t: int) -> dict:
    """USD/hour of each config's replicas in slot t: GPUs at the slot's blended reserved/on-demand rate, plus spot."""
    rate = _gpu_rates(problem, sol, t)
    spot = per_gpu(problem, problem.spot)
    out: dict = {}
    for spec, n in sol.stable[t].items():
        out[spec] = out.get(spec, 0.0) + rate[spec.gpu] * spec.tp * n
    for spec, n in sol.spot[t].items():
        out[spec] = out.get(spec, 0.0) + spot[spec.gpu] * spec.tp * n
    return out


def _slot_doc(problem: SlottedProblem, sol: SlotSolution, t: int, name: str, hours: float) -> SlotDoc:
    idle = {g: n - _gpus(sol.stable[t]).get(g, 0) for g, n in sol.reserved_gpus.items()}
    cost = sum(_slot_costs(problem, sol, t).values()) + sum(per_gpu(problem, problem.reserved)[g] * n for g, n in idle.items()
                                                            if n > 0 and g not in _gpus(sol.stable[t]))
    tiers = {"reserved": dict(sorted(sol.reserved_gpus.items())), "on-demand": dict(sorted(sol.on_demand_gpus[t].items())),
             "spot": _gpus(sol.spot[t])}
    return SlotDoc(label=name, hours_per_month=hours, rate_rps=float(problem.rates[t].sum()), replicas=_keys(sol.stable[t]),
                   spot=_keys(sol.spot[t]), reserved_gpus=tiers["reserved"], on_demand_gpus=tiers["on-demand"], cost_per_hour=float(cost),
                   gpus_by_type=_gpus(sol.replicas(t)), gpus_by_tier={k: v for k, v in tiers.items() if v})


def _all_day(problem: SlottedProblem, tier: str, settings: SolverSettings) -> float | None:
    if tier == "reserved" and np.isnan(problem.reserved).all():
        return None
    outcome = optimize_slots(problem.all_day(tier), settings)
    return outcome.solution.cost_per_month if outcome.solution else None


def _explain(problem: SlottedProblem, settings: SolverSettings) -> str:
    """Why no fleet serves every slot: the month's cost with the GPU caps, then the budget, relaxed alone."""
    lines = ["no fleet serves every slot within the SLOs and the fleet rules; relaxing one rule at a time:"]
    rules = [("the GPU caps (fleet.limits)", replace(problem, gpu_caps={}), bool(problem.gpu_caps)),
             ("the budget (fleet.budget_per_month)", replace(problem, budget_per_month=None), problem.budget_per_month is not None)]
    for label, relaxed, active in rules:
        if not active:
            continue
        outcome = optimize_slots(relaxed, settings)
        cost = outcome.solution.cost_per_month if outcome.solution else None
        lines.append(f"- without {label}: " + ("still infeasible" if cost is None else f"feasible at ${cost:,.0f}/month"))
    lines.append("hint: raise or remove that rule, allow more GPU types, or relax the SLO")
    return "\n".join(lines)


def _check_served(loaded: LoadedWorkload, table: CapacityTable, demand: DemandSeries) -> None:
    """Buckets with traffic in some slot that no config serves within their model's SLO: say which, and why."""
    rates = demand.rates.max(axis=1)  # (models, buckets): each bucket's busiest slot
    servable = (table.max_rps > 0).any(axis=0)
    lines = []
    for m, entry in enumerate(loaded.workload.model_entries()):
        unserved = tuple(int(b) for b in np.flatnonzero((rates[m] > 0) & ~servable))
        if unserved:
            assert entry.slo is not None
            text = explain_infeasible(table, rates[m], unserved, entry.slo)
            lines.append(text if len(demand.models) == 1 else f"{entry.model} (models[{m}]): {text}")
    if lines:
        raise InfeasibleError("\n".join(lines))


def assemble_slotted_plan(loaded: LoadedWorkload, table: CapacityTable, demand: DemandSeries, catalog: Catalog,
                          settings: SolverSettings, catalog_files: tuple[str | Path, ...] = ()) -> Plan:
    """Solve over the slots and build the Plan: pools and routing of the busiest slot, the fleet per slot, the
    reserved baseline, and the mix's $/month against one fleet all day (on demand at peak, all reserved)."""
    _check_served(loaded, table, demand)
    problem = slotted_problem(loaded, catalog, table, demand)
    outcome: SlotOutcome = optimize_slots(problem, settings)
    if outcome.status.value == "infeasible":
        raise InfeasibleError(_explain(problem, settings))
    if outcome.solution is None or outcome.result is None:
        raise SolverError(f"the solver stopped without a plan (status {outcome.status}); raise solver.time_limit_s")
    sol = outcome.solution
    peak = int(np.argmax(problem.rates.sum(axis=1)))
    slots = [_slot_doc(problem, sol, t, period.name, period.hours_per_month) for t, period in enumerate(demand.periods)]
    tiers = TiersDoc(reserved_tier=loaded.workload.pricing.reserved, reserved_gpus=dict(sorted(sol.reserved_gpus.items())),
                     mix_per_month=sol.cost_per_month, all_on_demand_at_peak_per_month=_all_day(problem, "on-demand", settings),
                     all_reserved_per_month=_all_day(problem, "reserved", settings) if loaded.workload.pricing.reserved else None)
    names = " + ".join(demand.models)
    at_peak = replace(demand, models=(names,), periods=(demand.periods[peak],), rates=demand.rates[:, peak:peak + 1, :].sum(axis=0, keepdims=True))
    best = FleetOutcome(outcome.status, FleetSolution(sol.replicas(peak), sol.shares[peak]), sol.cost_per_month / HOURS_PER_MONTH, outcome.result)
    slot_costs = [_slot_costs(problem, sol, t) for t in range(len(slots))]
    plan = assemble_plan(loaded, table, at_peak, best, settings, catalog_files, pool_costs=slot_costs[peak])
    notes = plan.notes + (f"pools and routing are the busiest slot's ({demand.periods[peak].name}); the cost is the month's mix "
                          f"over {len(slots)} slots / {HOURS_PER_MONTH:g} h",)
    if len(demand.models) == 1:
        return replace(plan, slots=tuple(slots), tiers=tiers, notes=notes)
    models = model_docs(loaded.workload.model_entries(), problem, sol, demand, slot_costs, peak)
    return replace(plan, model=names, slots=tuple(slots), tiers=tiers, notes=notes, models=models)
