"""Demand over time (docs/fleet.md, "Slots and tiers"): one MILP over time slots with reserved capacity shared
by every slot, and on-demand and spot capacity bought per slot.

  min  sum_k p_res_k r_k H + sum_{k,t} h_t (p_od_k o_{k,t} + p_spot_k s_{k,t})        USD per month, H = sum_t h_t
  s.t. sum_k x[b,k,t] = 1                                                          every bucket of every slot routed
       sum_b rate[t,b] x[b,k,t] / cap[b,k] <= rho (r_k + o_{k,t} + (1 - loss) s_{k,t})   spot counts net of its loss
       sum_{k on g} tp_k s_{k,t} <= spot_gpus_g;  sum_{k on g} tp_k (r_k + o_{k,t} + s_{k,t}) <= cap_g   per slot
       cost <= budget;  r_k, o_{k,t}, s_{k,t} integer >= 0
`fixed=True` allows only r_k (one fleet all day), priced at `reserved`: with the on-demand prices put there that
is the fleet sized for the peak bought on demand (SlottedProblem.all_day), with reserved prices the all-reserved one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from planner.optimize.fleet import SolverSettings
from planner.optimize.formulation import SHARE_EPS, dominated
from planner.optimize.linear import LinearModel
from planner.optimize.solvers import SolveResult, SolveStatus, solve
from planner.schemas.replica import ReplicaSpec

TIERS = ("reserved", "on-demand", "spot")


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

    def all_day(self, tier: str) -> "SlottedProblem":
        """One fleet for every slot, all bought at `tier` ("on-demand" or "reserved")."""
        return replace(self, reserved=self.on_demand if tier == "on-demand" else self.reserved, fixed=True)

    def restricted(self, keep: list[int]) -> "SlottedProblem":
        return replace(self, configs=tuple(self.configs[k] for k in keep), max_rps=self.max_rps[keep], on_demand=self.on_demand[keep],
                       reserved=self.reserved[keep], spot=self.spot[keep])


@dataclass(frozen=True)
class SlotSolution:
    """Replicas per (config, tier) in each slot (reserved ones are the same in every slot), and shares per slot."""

    reserved: dict[ReplicaSpec, int]
    on_demand: list[dict[ReplicaSpec, int]]
    spot: list[dict[ReplicaSpec, int]]
    shares: list[dict[tuple[int, ReplicaSpec], float]]
    cost_per_month: float

    def replicas(self, t: int) -> dict[ReplicaSpec, int]:
        """All replicas running in slot t."""
        out = dict(self.reserved)
        for part in (self.on_demand[t], self.spot[t]):
            for spec, n in part.items():
                out[spec] = out.get(spec, 0) + n
        return out


@dataclass(frozen=True)
class SlotOutcome:
    status: SolveStatus
    solution: SlotSolution | None = None
    result: SolveResult | None = None


def _price(p: np.ndarray, k: int) -> float | None:
    return None if math.isnan(p[k]) else float(p[k])


class SlottedFormulation:
    """The MILP of one SlottedProblem and the variable indices its decode reads."""

    def __init__(self, problem: SlottedProblem) -> None:
        self.problem = p = problem
        self.model = m = LinearModel("slots")
        n_slots = len(p.hours)
        total_hours = float(p.hours.sum())
        self.r: dict[int, int] = {}
        self.o: dict[tuple[int, int], int] = {}
        self.s: dict[tuple[int, int], int] = {}
        self.x: dict[tuple[int, int, int], int] = {}
        cost: list[tuple[int, float]] = []
        load: dict[tuple[int, int], list[tuple[int, float]]] = {}
        for t in range(n_slots):
            for b in np.flatnonzero(p.rates[t] > 0):
                routed = []
                for k in np.flatnonzero(p.max_rps[:, b] > 0):
                    var = self.x[(t, int(b), int(k))] = m.add_variable(f"x_{t}_{b}_{k}", 0.0, 1.0)
                    routed.append((var, 1.0))
                    load.setdefault((int(k), t), []).append((var, float(p.rates[t, b] / p.max_rps[k, b])))
                m.add_constraint(f"route_{t}_{b}", routed, "=", 1.0)
        for k in range(len(p.configs)):
            slots = [t for t in range(n_slots) if (k, t) in load]
            if not slots:
                continue
            need = {t: math.ceil(sum(c for _, c in load[(k, t)]) / p.rho + 1e-9) for t in slots}
            upper = max(need.values())
            res = p.reserved[k]
            if not math.isnan(res):
                self.r[k] = m.add_variable(f"r_{k}", 0.0, upper, integer=True)
                cost.append((self.r[k], float(res) * total_hours))
            for t in slots:
                room = list(load[(k, t)])
                if k in self.r:
                    room.append((self.r[k], -p.rho))
                if not p.fixed:
                    self._per_slot(k, t, need[t], room, cost)
                m.add_constraint(f"room_{k}_{t}", room, "<=", 0.0)
        self._caps(n_slots, cost)
        m.minimize(cost)

    def _per_slot(self, k: int, t: int, upper: int, room: list[tuple[int, float]], cost: list[tuple[int, float]]) -> None:
        p, m = self.problem, self.model
        od = _price(p.on_demand, k)
        if od is not None:
            v = self.o[(k, t)] = m.add_variable(f"o_{k}_{t}", 0.0, upper, integer=True)
            room.append((v, -p.rho))
            cost.append((v, od * float(p.hours[t])))
        spot = _price(p.spot, k)
        if spot is not None and p.spot_gpus.get(p.configs[k].gpu, 0) > 0 and p.spot_loss < 1:
            v = self.s[(k, t)] = m.add_variable(f"s_{k}_{t}", 0.0, math.ceil(upper / (1 - p.spot_loss)), integer=True)
            room.append((v, -p.rho * (1 - p.spot_loss)))
            cost.append((v, spot * float(p.hours[t])))

    def _caps(self, n_slots: int, cost: list[tuple[int, float]]) -> None:
        p, m = self.problem, self.model
        for gpu in sorted({c.gpu for c in p.configs}):
            on = [k for k, c in enumerate(p.configs) if c.gpu == gpu]
            for t in range(n_slots):
                spot = [(self.s[(k, t)], float(p.configs[k].tp)) for k in on if (k, t) in self.s]
                if spot:
                    m.add_constraint(f"spot_{gpu}_{t}", spot, "<=", float(p.spot_gpus[gpu]))
                if gpu in p.gpu_caps:
                    terms = [(self.r[k], float(p.configs[k].tp)) for k in on if k in self.r]
                    terms += [(self.o[(k, t)], float(p.configs[k].tp)) for k in on if (k, t) in self.o] + spot
                    m.add_constraint(f"cap_{gpu}_{t}", terms, "<=", float(p.gpu_caps[gpu]))
        if p.budget_per_month is not None:
            m.add_constraint("budget", cost, "<=", p.budget_per_month)

    def decode(self, values: list[float], objective: float) -> SlotSolution:
        p, n_slots = self.problem, len(self.problem.hours)

        def count(v: int) -> int:
            return int(round(values[v] or 0))

        reserved = {p.configs[k]: count(v) for k, v in self.r.items() if count(v) > 0}
        on_demand = [{p.configs[k]: count(v) for (k, tt), v in self.o.items() if tt == t and count(v) > 0} for t in range(n_slots)]
        spot = [{p.configs[k]: count(v) for (k, tt), v in self.s.items() if tt == t and count(v) > 0} for t in range(n_slots)]
        shares = [{(b, p.configs[k]): float(values[v] or 0) for (tt, b, k), v in self.x.items() if tt == t and (values[v] or 0) > SHARE_EPS}
                  for t in range(n_slots)]
        return SlotSolution(reserved, on_demand, spot, shares, float(objective))


def optimize_slots(problem: SlottedProblem, settings: SolverSettings = SolverSettings()) -> SlotOutcome:
    """Min-cost fleet over the slots; configs another beats at every tier (within their GPU type when caps apply)
    are pruned first."""
    tiers = np.nan_to_num(np.stack([problem.on_demand, problem.reserved, problem.spot], axis=1), nan=np.inf)
    if problem.gpu_caps or problem.spot_gpus:  # per-GPU-type rows: compare within a type, by GPUs used too
        beaten = dominated(tiers, problem.max_rps, same=np.array([c.gpu for c in problem.configs]),
                           size=np.array([c.tp for c in problem.configs]))
    else:
        beaten = dominated(tiers, problem.max_rps)
    keep = [k for k in range(len(problem.configs)) if not beaten[k]]
    problem = problem.restricted(keep)
    if not problem.fixed and np.isnan(problem.reserved).all() and problem.budget_per_month is None:
        return _slot_by_slot(problem, settings)
    form = SlottedFormulation(problem)
    result = solve(form.model, settings.name, settings.time_limit_s, settings.mip_gap)
    if not result.has_solution:
        return SlotOutcome(result.status, result=result)
    return SlotOutcome(result.status, form.decode(result.values, result.objective or 0.0), result)


def _slot_by_slot(problem: SlottedProblem, settings: SolverSettings) -> SlotOutcome:
    """Without reserved capacity or a budget nothing couples the slots: solve each alone (the same optimum, and
    much faster than one MILP whose branch-and-bound must close every slot's gap at once)."""
    parts = []
    for t in range(len(problem.hours)):
        one = replace(problem, rates=problem.rates[t:t + 1], hours=problem.hours[t:t + 1])
        form = SlottedFormulation(one)
        result = solve(form.model, settings.name, settings.time_limit_s, settings.mip_gap)
        if not result.has_solution:
            return SlotOutcome(result.status, result=result)
        parts.append((form.decode(result.values, result.objective or 0.0), result))
    sols = [sol for sol, _ in parts]
    statuses = {r.status for _, r in parts}
    status = SolveStatus.TIME_LIMIT if SolveStatus.TIME_LIMIT in statuses else SolveStatus.OPTIMAL
    gaps = [r.gap for _, r in parts if r.gap is not None]
    merged = SolveResult(status, sum(s.cost_per_month for s in sols), max(gaps) if gaps else None,
                         sum(r.runtime_s for _, r in parts), parts[0][1].solver)
    solution = SlotSolution({}, [s.on_demand[0] for s in sols], [s.spot[0] for s in sols], [s.shares[0] for s in sols],
                            merged.objective or 0.0)
    return SlotOutcome(status, solution, merged)
