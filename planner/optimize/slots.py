"""Demand over time (docs/fleet.md, "Slots and tiers"): one MILP over time slots with reserved GPUs paid every
hour and shared by every slot (and every config and model on that GPU type), on-demand GPUs per slot, and spot
replicas per slot.

  min  sum_g p_res_g R_g H + sum_{g,t} h_t p_od_g O_{g,t} + sum_{k,t} h_t p_spot_k q_{k,t}    USD/month, H = sum_t h_t
  s.t. sum_k x[b,k,t] = 1                                                every bucket of every slot routed
       sum_b rate[t,b] x[b,k,t] / cap[b,k] <= rho (n_{k,t} + (1 - loss) q_{k,t})   spot counts net of its loss
       sum_{k on g} tp_k n_{k,t} <= R_g + O_{g,t}                        replicas run on reserved or on-demand GPUs
       sum_{k on g} tp_k q_{k,t} <= spot_gpus_g;  GPUs of g in use <= cap_g;  cost <= budget
       n, q integer >= 0;  R, O >= 0 (integral at the optimum: the cost is piecewise linear in them with
       breakpoints at the integer GPU counts the replicas use)
`fixed=True` is one fleet all day: no O or q, every slot within R, priced at `reserved` (SlottedProblem.all_day).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from planner.optimize.fleet import SolverSettings
from planner.optimize.formulation import SHARE_EPS, dominated
from planner.optimize.linear import LinearModel
from planner.optimize.solvers import SolveResult, SolveStatus, solve
from planner.schemas.replica import ReplicaSpec

@dataclass(frozen=True)
class SlottedProblem:
    """Configs with capacities (`max_rps[k, b]`), per-slot rates (`rates[t, b]`), slot hours per month and the
    USD/hour of one replica per tier (NaN: not sold at that tier)."""

    configs: tuple[ReplicaSpec, ...]
    max_rps: np.ndarray
    rates: np.ndarray
    hours: np.ndarray
    """Hours per month of each slot (they add up to 730 for a representative day)."""
    rho: float
    on_demand: np.ndarray
    reserved: np.ndarray
    spot: np.ndarray
    spot_loss: float = 0.0
    spot_gpus: dict[str, int] = field(default_factory=dict)
    """Most spot GPUs of each type per slot (a type not listed: none)."""
    gpu_caps: dict[str, int] = field(default_factory=dict)
    budget_per_month: float | None = None
    fixed: bool = False
    owned: dict[str, int] = field(default_factory=dict)
    """Reserved GPUs already chosen, by type: seats for replicas at no cost in this problem (the re-solve of each
    slot once the reserved level is set, _reserve_over_slots)."""

    def all_day(self, tier: str) -> "SlottedProblem":
        """One fleet for every slot, all bought at `tier` ("on-demand" or "reserved")."""
        return replace(self, reserved=self.on_demand if tier == "on-demand" else self.reserved, fixed=True)

    def restricted(self, keep: list[int]) -> "SlottedProblem":
        return replace(self, configs=tuple(self.configs[k] for k in keep), max_rps=self.max_rps[keep], on_demand=self.on_demand[keep],
                       reserved=self.reserved[keep], spot=self.spot[keep])


@dataclass(frozen=True)
class SlotSolution:
    """Reserved GPUs by type (the same in every slot), and per slot: on-demand GPUs by type, replicas on them,
    spot replicas and routing shares."""

    reserved_gpus: dict[str, int]
    on_demand_gpus: list[dict[str, int]]
    stable: list[dict[ReplicaSpec, int]]
    """Replicas on reserved or on-demand GPUs, per slot."""
    spot: list[dict[ReplicaSpec, int]]
    shares: list[dict[tuple[int, ReplicaSpec], float]]
    cost_per_month: float

    def replicas(self, t: int) -> dict[ReplicaSpec, int]:
        """All replicas running in slot t."""
        out = dict(self.stable[t])
        for spec, n in self.spot[t].items():
            out[spec] = out.get(spec, 0) + n
        return out


@dataclass(frozen=True)
class SlotOutcome:
    status: SolveStatus
    solution: SlotSolution | None = None
    result: SolveResult | None = None


def per_gpu(problem: SlottedProblem, prices: np.ndarray) -> dict[str, float]:
    """USD per GPU-hour of each GPU type from per-replica prices (NaN: not sold at that tier)."""
    return {c.gpu: float(prices[k]) / c.tp for k, c in enumerate(problem.configs)}


class SlottedFormulation:
    """The MILP of one SlottedProblem and the variable indices its decode reads."""

    def __init__(self, problem: SlottedProblem) -> None:
        self.problem = p = problem
        self.model = m = LinearModel("slots")
        self.n_slots = n_slots = len(p.hours)
        self.gpus = sorted({c.gpu for c in p.configs})
        self.n: dict[tuple[int, int], int] = {}
        self.q: dict[tuple[int, int], int] = {}
        self.r: dict[str, int] = {}
        self.o: dict[tuple[str, int], int] = {}
        self.x: dict[tuple[int, int, int], int] = {}
        self.cost: list[tuple[int, float]] = []
        load: dict[tuple[int, int], list[tuple[int, float]]] = {}
        for t in range(n_slots):
            for b in np.flatnonzero(p.rates[t] > 0):
                routed = []
                for k in np.flatnonzero(p.max_rps[:, b] > 0):
                    var = self.x[(t, int(b), int(k))] = m.add_variable(f"x_{t}_{b}_{k}", 0.0, 1.0)
                    routed.append((var, 1.0))
                    load.setdefault((int(k), t), []).append((var, float(p.rates[t, b] / p.max_rps[k, b])))
                m.add_constraint(f"route_{t}_{b}", routed, "=", 1.0)
        spot_price = p.spot
        for (k, t), terms in sorted(load.items()):
            need = math.ceil(sum(c for _, c in terms) / p.rho + 1e-9)
            n = self.n[(k, t)] = m.add_variable(f"n_{k}_{t}", 0.0, need, integer=True)
            room = terms + [(n, -p.rho)]
            gpu = p.configs[k].gpu
            if not p.fixed and not math.isnan(spot_price[k]) and p.spot_gpus.get(gpu, 0) > 0 and p.spot_loss < 1:
                q = self.q[(k, t)] = m.add_variable(f"q_{k}_{t}", 0.0, math.ceil(need / (1 - p.spot_loss)), integer=True)
                room.append((q, -p.rho * (1 - p.spot_loss)))
                self.cost.append((q, float(spot_price[k]) * float(p.hours[t])))
            m.add_constraint(f"room_{k}_{t}", room, "<=", 0.0)
        self._gpu_rows()
        if p.budget_per_month is not None:
            m.add_constraint("budget", self.cost, "<=", p.budget_per_month)
        m.minimize(self.cost)

    def _gpu_rows(self) -> None:
        """Reserved and on-demand GPUs per type, the rows that seat every slot's replicas on them, and caps."""
        p, m = self.problem, self.model
        reserved, on_demand = per_gpu(p, p.reserved), per_gpu(p, p.on_demand)
        total_hours = float(p.hours.sum())
        for gpu in self.gpus:
            on = [k for k, c in enumerate(p.configs) if c.gpu == gpu]
            if gpu in p.owned:
                self.r[gpu] = m.add_variable(f"R_{gpu}", float(p.owned[gpu]), float(p.owned[gpu]))
            elif not math.isnan(reserved[gpu]):
                self.r[gpu] = m.add_variable(f"R_{gpu}", 0.0, None)
                self.cost.append((self.r[gpu], reserved[gpu] * total_hours))
            for t in range(self.n_slots):
                used = [(self.n[(k, t)], float(p.configs[k].tp)) for k in on if (k, t) in self.n]
                if not used:
                    continue
                seats = [(self.r[gpu], -1.0)] if gpu in self.r else []
                if not p.fixed and not math.isnan(on_demand[gpu]):
                    self.o[(gpu, t)] = m.add_variable(f"O_{gpu}_{t}", 0.0, None)
                    self.cost.append((self.o[(gpu, t)], on_demand[gpu] * float(p.hours[t])))
                    seats.append((self.o[(gpu, t)], -1.0))
                m.add_constraint(f"seat_{gpu}_{t}", used + seats, "<=", 0.0)
                spot = [(self.q[(k, t)], float(p.configs[k].tp)) for k in on if (k, t) in self.q]
                if spot:
                    m.add_constraint(f"spot_{gpu}_{t}", spot, "<=", float(p.spot_gpus[gpu]))
                if gpu in p.gpu_caps:
                    m.add_constraint(f"cap_{gpu}_{t}", used + spot, "<=", float(p.gpu_caps[gpu]))
            if gpu in p.gpu_caps and gpu in self.r:
                m.add_constraint(f"cap_{gpu}_reserved", [(self.r[gpu], 1.0)], "<=", float(p.gpu_caps[gpu]))

    def decode(self, values: list[float], objective: float) -> SlotSolution:
        p, n_slots = self.problem, self.n_slots

        def count(v: int) -> int:
            return int(round(values[v] or 0))

        def by_slot(var: dict[tuple[int, int], int]) -> list[dict[ReplicaSpec, int]]:
            return [{p.configs[k]: count(v) for (k, tt), v in var.items() if tt == t and count(v) > 0} for t in range(n_slots)]

        reserved = {g: count(v) for g, v in self.r.items() if count(v) > 0}
        on_demand = [{g: count(v) for (g, tt), v in self.o.items() if tt == t and count(v) > 0} for t in range(n_slots)]
        shares = [{(b, p.configs[k]): float(values[v] or 0) for (tt, b, k), v in self.x.items() if tt == t and (values[v] or 0) > SHARE_EPS}
                  for t in range(n_slots)]
        return SlotSolution(reserved, on_demand, by_slot(self.n), by_slot(self.q), shares, float(objective))
def optimize_slots(problem: SlottedProblem, settings: SolverSettings = SolverSettings()) -> SlotOutcome:
    """Min-cost fleet over the slots; configs another of their GPU type beats at every tier are pruned first."""
    tiers = np.nan_to_num(np.stack([problem.on_demand, problem.reserved, problem.spot], axis=1), nan=np.inf)
    # GPUs are reserved and capped per type, so a config is compared only with configs of its own type
    beaten = dominated(tiers, problem.max_rps, same=np.array([c.gpu for c in problem.configs]),
                       size=np.array([c.tp for c in problem.configs]))
    keep = [k for k in range(len(problem.configs)) if not beaten[k]]
    problem = problem.restricted(keep)
    if not problem.fixed and np.isnan(problem.reserved).all() and problem.budget_per_month is None:
        return _slot_by_slot(problem, settings)
    spot_used = not np.isnan(problem.spot).all() and any(n > 0 for n in problem.spot_gpus.values()) and problem.spot_loss < 1
    if not problem.fixed and problem.budget_per_month is None and not spot_used:
        return _reserve_over_slots(problem, settings)
    form = SlottedFormulation(problem)
    result = solve(form.model, settings.name, settings.time_limit_s, settings.mip_gap)
    if not result.has_solution:
        return SlotOutcome(result.status, result=result)
    return SlotOutcome(result.status, form.decode(result.values, result.objective or 0.0), result)


def each_slot(problem: SlottedProblem, settings: SolverSettings, seconds: float | None = None) -> list[tuple[SlotSolution, SolveResult]] | SlotOutcome:
    """Each slot solved alone (no reserved GPUs or budget couple them); the first failing slot's outcome instead.
    Without GPU caps or reserved seats the models of a slot share nothing either, so each model is its own MILP: branch-and-bound
    on the two together would have to close both gaps in one tree."""
    models = sorted({c.model for c in problem.configs})
    groups = [list(range(len(problem.configs)))] if problem.gpu_caps or problem.owned or len(models) == 1 else \
        [[k for k, c in enumerate(problem.configs) if c.model == m] for m in models]
    parts = []
    end = time.perf_counter() + (seconds if seconds is not None else math.inf)
    for t in range(len(problem.hours)):
        pieces = []
        for keep in groups:
            limit = min(settings.time_limit_s, max(0.5, end - time.perf_counter()))
            one = replace(problem, rates=problem.rates[t:t + 1], hours=problem.hours[t:t + 1]).restricted(keep)
            if len(groups) > 1:  # the other models' buckets are not this group's to route
                one = replace(one, rates=np.where((one.max_rps > 0).any(axis=0), one.rates, 0.0))
            if not one.rates.any():  # no traffic: nothing to buy (HiGHS calls an empty model neither optimal nor not)
                pieces.append((SlotSolution({}, [{}], [{}], [{}], [{}], 0.0), SolveResult(SolveStatus.OPTIMAL, 0.0, 0.0, 0.0, settings.name)))
                continue
            one = _slot_pruned(one)
            form = SlottedFormulation(one)
            # presolve off: 1.6x faster on these small MILPs (6 slots of the benchmark, 5.3 s -> 3.3 s, same optima)
            result = solve(form.model, settings.name, limit, settings.mip_gap, presolve=False)
            if not result.has_solution:
                return SlotOutcome(result.status, result=result)
            pieces.append((form.decode(result.values, result.objective or 0.0), result))
        parts.append(joined(pieces))
    return parts


def _slot_pruned(one: SlottedProblem) -> SlottedProblem:
    """One slot without the configs another beats on the buckets that have traffic in it (dominated(): removing
    them never changes the optimum). Across GPU types when nothing is counted per type (no seats owned, caps or
    spot); otherwise only within a type and no larger, as optimize_slots prunes. Measured on the 24-slot
    benchmark: 54 -> 26 configs per model and slot, the slot MILPs 1.55x faster."""
    active = one.rates[0] > 0
    per_type = bool(one.owned or one.gpu_caps or one.spot_gpus)
    tiers = np.nan_to_num(np.stack([one.on_demand, one.spot], axis=1), nan=np.inf)
    beaten = dominated(tiers, one.max_rps[:, active], same=np.array([c.gpu for c in one.configs]) if per_type else None,
                       size=np.array([c.tp for c in one.configs]) if per_type else None)
    return one.restricted([k for k in range(len(one.configs)) if not beaten[k]])


def joined(pieces: list[tuple[SlotSolution, SolveResult]]) -> tuple[SlotSolution, SolveResult]:
    """One slot's solution from independent pieces (one per model): counts and shares side by side, costs and
    proven bounds added up."""
    if len(pieces) == 1:
        return pieces[0]
    objective = sum(r.objective or 0.0 for _, r in pieces)
    bound = sum((r.objective or 0.0) * (1 - (r.gap or 0.0)) for _, r in pieces)
    statuses = {r.status for _, r in pieces}
    status = SolveStatus.TIME_LIMIT if SolveStatus.TIME_LIMIT in statuses else SolveStatus.OPTIMAL
    on_demand: dict[str, int] = {}
    for sol, _ in pieces:
        for g, n in sol.on_demand_gpus[0].items():
            on_demand[g] = on_demand.get(g, 0) + n
    sols = [sol for sol, _ in pieces]
    solution = SlotSolution({}, [on_demand], [{k: v for s in sols for k, v in s.stable[0].items()}],
                            [{k: v for s in sols for k, v in s.spot[0].items()}], [{k: v for s in sols for k, v in s.shares[0].items()}],
                            objective)
    gap = 1 - bound / objective if objective else 0.0
    return solution, SolveResult(status, objective, gap, sum(r.runtime_s for _, r in pieces), pieces[0][1].solver)


def merged(parts: list[tuple[SlotSolution, SolveResult]], reserved: dict[str, int], on_demand: list[dict[str, int]],
            cost: float, status: SolveStatus, gap: float | None, runtime_s: float) -> SlotOutcome:
    """One SlotSolution from per-slot ones (replicas, spot and routing of each slot) with the given GPUs by tier."""
    sols = [sol for sol, _ in parts]
    result = SolveResult(status, cost, gap, runtime_s, parts[0][1].solver)
    solution = SlotSolution(reserved, on_demand, [s.stable[0] for s in sols], [s.spot[0] for s in sols], [s.shares[0] for s in sols], cost)
    return SlotOutcome(status, solution, result)


def _slot_by_slot(problem: SlottedProblem, settings: SolverSettings) -> SlotOutcome:
    """Without reserved capacity or a budget nothing couples the slots: solve each alone (the same optimum, and
    much faster than one MILP whose branch-and-bound must close every slot's gap at once)."""
    parts = each_slot(problem, settings)
    if isinstance(parts, SlotOutcome):
        return parts
    results = [r for _, r in parts]
    status = SolveStatus.TIME_LIMIT if any(r.status == SolveStatus.TIME_LIMIT for r in results) else SolveStatus.OPTIMAL
    gaps = [r.gap for r in results if r.gap is not None]
    return merged(parts, {}, [s.on_demand_gpus[0] for s, _ in parts], sum(s.cost_per_month for s, _ in parts), status,
                   max(gaps) if gaps else None, sum(r.runtime_s for r in results))


def reserve_level(reserved: float, on_demand: float, hours: np.ndarray, used: np.ndarray) -> int:
    """GPUs of one type to reserve when slot t uses used[t]: min over R of p_res R H + sum_t h_t p_od max(0, used_t - R);
    the cost is piecewise linear in R with breaks at the used counts, so one of them (or 0) is optimal."""
    if math.isnan(reserved):
        return 0
    if math.isnan(on_demand):
        return int(used.max())
    levels = np.unique(np.append(used, 0))
    costs = [reserved * hours.sum() * r + on_demand * float((hours * np.maximum(used - r, 0)).sum()) for r in levels]
    return int(levels[int(np.argmin(costs))])


def _reserve_over_slots(problem: SlottedProblem, settings: SolverSettings) -> SlotOutcome:
    """Reserved GPUs shared by the slots, without spot or a budget: decomposed over the reserved level per GPU
    type (planner.optimize.reserve, whose docstring says why its bound is valid; planner.optimize.levels searches)."""
    from planner.optimize.levels import reserve_over_slots  # levels builds on this module's slot solves

    return reserve_over_slots(problem, settings)
