"""Reserved GPUs shared by time slots, decomposed over the only thing that couples the slots: the reserved
GPU count R_g of each type (docs/benchmarks/fleet_slots.md).

Lower bound (Lagrangian). Give each slot t a price lam[g][t] (USD per GPU for the slot's hours) for the
reserved GPUs of type g it uses, with 0 <= lam[g][t] <= h_t p_od_g and sum_t lam[g][t] <= p_res_g H (H: hours
per month). For any feasible fleet (R_g reserved, O_{g,t} on demand, u_{g,t} <= R_g + O_{g,t} GPUs of g used in t):

  cost >= sum_g p_res_g H R_g + sum_{g,t} h_t p_od_g O_{g,t}
       >= sum_{g,t} lam[g][t] R_g + h_t p_od_g O_{g,t}                  (sum_t lam[g][t] <= p_res_g H)
       >= sum_{g,t} lam[g][t] u_{g,t}                                     (lam[g][t] <= h_t p_od_g)
       >= sum_{m,t} L_{m,t}(lam),  L_{m,t} = model m alone in slot t with every GPU of g at lam[g][t]

so the sum of those MILPs' proven bounds at any such prices bounds the month (weak duality; the models of a
slot share nothing at linear prices). lam = h_t p_res_g is each slot alone at the reserved price. Without the
month's constraint the second line keeps sum_g R_g (p_res_g H - sum_t lam[g][t]), at its least over the R allowed:
with lo_g <= R_g <= hi_g (a `Box`, planner.optimize.levels) that is min(lo_g a_g, hi_g a_g) per type.

Prices by cutting planes (Kelley, in a trust region). Each solve gives one model's fleet in one slot, a column j:
the reservable GPUs u_j it uses and the USD c_j of its other GPUs, and L_{m,t}(lam) <= c_j + lam_t . u_j for any
prices. The LP  max sum theta_{m,t}  s.t.  theta_{m,t} <= c_j + lam_t . u_j  over the columns found, lam in the box
above and within a radius of the best prices so far, proposes the next prices; only the evaluated bounds count,
mixed per slot (`combined`: L_{m,t} is concave in slot t's prices, so a convex mix of evaluated prices per slot is
bounded by the same mix of their bounds; a round cut short by the time limit still counts for its slots).
When the LP finds nothing above the best bound inside the radius, the best prices maximise the Lagrangian (a local
maximum of a concave function is global): what remains is the duality gap, not a lack of steps.

Upper bound. One column per model and slot is a feasible fleet: reserve R_g, buy max(0, sum_j u_j - R_g) on
demand. A small MILP (`cheapest`) picks the cheapest such choice and R over all columns found.

Limit (docs/benchmarks/fleet_slots.md): on the 24-slot benchmark no prices bound more than about 1.3 % under the
optimum, a duality gap inside the slots; planner.optimize.levels closes it by branching over R.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from planner.optimize.fleet import SolverSettings
from planner.optimize.linear import LinearModel
from planner.optimize.solvers import SolveResult, SolveStatus, solve
from planner.optimize.slots import SlotOutcome, SlotSolution, SlottedProblem, per_gpu
from planner.optimize.slots import each_slot, joined, reserve_level

@dataclass(frozen=True)
class Column:
    """One model's fleet in one slot: reservable GPUs by type, USD/month of its other GPUs (on demand), the solve."""

    model: str
    slot: int
    uses: tuple[tuple[str, int], ...]
    rest: float
    solution: SlotSolution
    result: SolveResult


@dataclass(frozen=True)
class Priced:
    """One evaluation of the Lagrangian: its prices, proven bound, each slot's share of it and the fleet of each model
    in each slot at those prices."""

    lam: dict[str, np.ndarray]
    bound: float
    columns: list[Column]
    slots: list[float]
    """Proven bound of each slot evaluated, in slot order (fewer than the slots when the time ran out)."""


def usage(problem: SlottedProblem, parts: list[tuple[SlotSolution, SolveResult]]) -> dict[str, np.ndarray]:
    """GPUs of each type each slot's replicas run on (reserved or on demand, not spot)."""
    gpus = sorted({c.gpu for c in problem.configs})
    return {g: np.array([sum(c.tp * n for c, n in sol.stable[0].items() if c.gpu == g) for sol, _ in parts], dtype=float)
            for g in gpus}


def _reservable(problem: SlottedProblem) -> dict[str, float]:
    """USD per GPU-hour reserved of each type sold reserved."""
    return {g: p for g, p in per_gpu(problem, problem.reserved).items() if not math.isnan(p)}


def _columns(problem: SlottedProblem, t: int, sol: SlotSolution, res: SolveResult) -> list[Column]:
    """The fleet of one slot split into one column per model (each model's replicas and routing alone)."""
    reservable, on_demand = _reservable(problem), per_gpu(problem, problem.on_demand)
    hours = float(problem.hours[t])
    out = []
    for m in sorted({c.model for c in problem.configs}):
        stable = {c: n for c, n in sol.stable[0].items() if c.model == m}
        uses: dict[str, int] = {}
        rest = 0.0
        for c, n in stable.items():
            if c.gpu in reservable:
                uses[c.gpu] = uses.get(c.gpu, 0) + c.tp * n
            else:
                rest += on_demand[c.gpu] * hours * c.tp * n
        piece = SlotSolution({}, [{}], [stable], [{}], [{k: v for k, v in sol.shares[0].items() if k[1].model == m}], 0.0)
        out.append(Column(m, t, tuple(sorted(uses.items())), rest, piece, res))
    return out


def price_slots(problem: SlottedProblem, lam: dict[str, np.ndarray], settings: SolverSettings, seconds: float,
                whole: bool = False, known: dict[tuple, tuple[SlotSolution, SolveResult]] | None = None) -> Priced | SlotOutcome:
    """Each slot alone with GPUs of type g at min(lam[g][t], h_t p_od_g) for the slot (types not in `lam`: on
    demand); the sum of their proven bounds is the Lagrangian bound (module docstring). Out of time before the
    last slot: the columns so far and no bound (-inf), unless `whole` (every slot then gets at least 0.5 s: the
    first round must give every model and slot a fleet). `known` holds the slots solved to the gap, by slot and
    prices: one met again is not solved again, and adds no column (measured on the benchmark: 123 of 317 slot
    evaluations of a 120-s run repeated a slot's prices exactly, the cutting-plane LP's vertices)."""
    hours = problem.hours.astype(float)
    on_demand = per_gpu(problem, problem.on_demand)
    end = time.perf_counter() + seconds
    columns: list[Column] = []
    slots: list[float] = []
    for t, h in enumerate(hours):
        def slot_price(g: str) -> float:  # USD per GPU-hour in slot t
            if g not in lam:
                return on_demand[g]
            return float(np.fmin(lam[g][t] / h, on_demand[g]))
        if end - time.perf_counter() < 0.1 and not whole:
            return Priced(lam, -math.inf, columns, slots)
        key = (t, tuple(round(slot_price(g), 9) for g in sorted(lam)))
        if known is not None and key in known:
            sol, res = known[key]
        else:
            per_replica = np.array([slot_price(c.gpu) * c.tp for c in problem.configs])
            one = replace(problem, rates=problem.rates[t:t + 1], hours=problem.hours[t:t + 1], on_demand=per_replica,
                          reserved=np.full(len(problem.configs), np.nan))
            got = each_slot(one, settings, max(0.5, end - time.perf_counter()) if whole else end - time.perf_counter())
            if isinstance(got, SlotOutcome):
                return got
            (sol, res), = got
            columns.extend(_columns(problem, t, sol, res))
            if known is not None and res.status == SolveStatus.OPTIMAL:
                known[key] = (sol, res)
        slots.append((res.objective or 0.0) * (1 - (res.gap or 0.0)))
    return Priced(lam, sum(slots), columns, slots)


@dataclass(frozen=True)
class Box:
    """Reserved GPUs of each reservable type from lo to hi (None: any number): a node of the branching over levels
    (planner.optimize.levels). Without one, any level."""

    lo: dict[str, int]
    hi: dict[str, int | None]


def _levels_terms(lm: LinearModel, problem: SlottedProblem, spent: dict[str, list[tuple[int, float]]], box: Box | None) -> list[tuple[int, float]]:
    """Rows, and objective terms to minimise, for the reserved GPUs' part of the bound: sum_g R_g a_g with a_g =
    p_res_g H - sum_t lam[g][t] (`spent[g]` is the sum), at its least over R_g in the box: min(lo a, hi a), linear
    in R so at an end. No upper end: a >= 0 (the prices within the reserved month, as the module docstring says)."""
    hours = problem.hours.astype(float)
    on_demand = per_gpu(problem, problem.on_demand)
    terms = []
    for g, p in _reservable(problem).items():
        month = p * float(hours.sum())
        lo, hi = (box.lo.get(g, 0), box.hi.get(g)) if box else (0, None)
        if hi is None or math.isnan(on_demand[g]):  # a >= 0 also bounds z from below (without on-demand prices a is not)
            lm.add_constraint(f"month_{g}", spent[g], "<=", month)
            hi = None
        if lo == 0 and hi is None:
            continue
        floor = 0.0 if hi is None else hi * (month - float((hours * on_demand[g]).sum()))  # lam <= h p_od: a >= month - that
        z = lm.add_variable(f"z_{g}", min(0.0, floor), None)
        for end in (lo, hi):
            if end is not None:
                lm.add_constraint(f"at_{g}_{end}", [(z, 1.0)] + [(v, end * c) for v, c in spent[g]], "<=", end * month)
        terms.append((z, -1.0))
    return terms


def combined(problem: SlottedProblem, evaluations: list[Priced], settings: SolverSettings,
             box: Box | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """The best bound from the slots' evaluations so far, mixed per slot: L_t is concave in slot t's prices (a
    minimum of linear functions), so weights w_{t,k} >= 0 adding up to 1 per slot give L_t(sum_k w lam^k_t) >=
    sum_k w L_t(lam^k_t); the mixed prices stay in the box, and the reserved GPUs add their least over the levels
    allowed (_levels_terms). A slot evaluated in a round cut short counts too. Returns the bound and its prices (the
    next trust region's centre)."""
    hours = problem.hours.astype(float)
    reservable = _reservable(problem)
    lm = LinearModel("combined")
    w: dict[tuple[int, int], int] = {}
    for k, ev in enumerate(evaluations):
        for t in range(len(ev.slots)):
            w[(t, k)] = lm.add_variable(f"w_{t}_{k}", 0.0, 1.0)
    for t in range(len(hours)):
        lm.add_constraint(f"one_{t}", [(v, 1.0) for (tt, _), v in w.items() if tt == t], "=", 1.0)
    spent = {g: [(v, float(evaluations[k].lam[g][t])) for (t, k), v in w.items()] for g in reservable}
    lm.minimize([(v, -evaluations[k].slots[t]) for (t, k), v in w.items()] + _levels_terms(lm, problem, spent, box))
    got = solve(lm, settings.name, settings.time_limit_s, 1e-9)
    if not got.has_solution:  # the first evaluation alone is a solution (each slot at the reserved price)
        return evaluations[0].bound, evaluations[0].lam
    mix = {g: np.zeros(len(hours)) for g in reservable}
    for (t, k), v in w.items():
        for g in reservable:
            mix[g][t] += got.values[v] * evaluations[k].lam[g][t]
    return -(got.objective or 0.0), mix


def fleet_cost(problem: SlottedProblem, used: dict[str, np.ndarray], levels: dict[str, int] | None = None) -> tuple[dict[str, int], list[dict[str, int]], float]:
    """Reserved level per type (the cheapest over the counts used, unless given), on-demand GPUs per slot and
    USD/month of the slots' fleets run together."""
    hours = problem.hours.astype(float)
    reserved, on_demand = per_gpu(problem, problem.reserved), per_gpu(problem, problem.on_demand)
    if levels is None:
        levels = {g: r for g, u in used.items() if (r := reserve_level(reserved[g], on_demand[g], hours, u))}
    extra = [{g: int(u[t] - levels.get(g, 0)) for g, u in used.items() if u[t] > levels.get(g, 0)} for t in range(len(hours))]
    cost = sum(reserved[g] * hours.sum() * r for g, r in levels.items())
    cost += sum(on_demand[g] * hours[t] * n for t, slot in enumerate(extra) for g, n in slot.items())
    return levels, extra, float(cost)


def next_prices(problem: SlottedProblem, columns: list[Column], center: dict[str, np.ndarray], radius: float,
                settings: SolverSettings, box: Box | None = None) -> tuple[dict[str, np.ndarray], float]:
    """The cutting-plane LP of the module docstring within `radius` (times h_t p_res_g) of `center`, the reserved
    levels within `box`: its prices and its value (an upper estimate of the Lagrangian there, never a bound)."""
    hours = problem.hours.astype(float)
    reservable, on_demand = _reservable(problem), per_gpu(problem, problem.on_demand)
    lm = LinearModel("prices")
    lam = {}
    for g, p in reservable.items():
        cap = hours * on_demand[g] if not math.isnan(on_demand[g]) else np.full(len(hours), np.inf)
        for t, h in enumerate(hours):
            lo, hi = max(0.0, center[g][t] - radius * h * p), min(cap[t], center[g][t] + radius * h * p)
            lam[(g, t)] = lm.add_variable(f"lam_{g}_{t}", lo, max(lo, hi))
    levels = _levels_terms(lm, problem, {g: [(lam[(g, t)], 1.0) for t in range(len(hours))] for g in reservable}, box)
    theta = {}
    for j, col in enumerate(columns):
        key = (col.model, col.slot)
        if key not in theta:
            theta[key] = lm.add_variable(f"theta_{col.model}_{col.slot}", 0.0, None)
        lm.add_constraint(f"cut_{j}", [(theta[key], 1.0)] + [(lam[(g, col.slot)], -float(u)) for g, u in col.uses], "<=", col.rest)
    lm.minimize([(v, -1.0) for v in theta.values()] + levels)
    got = solve(lm, settings.name, settings.time_limit_s, 1e-9)
    if not got.has_solution:  # the LP is feasible (center is in the box) and bounded (theta <= a column's cost)
        return center, -math.inf
    return {g: np.array([got.values[lam[(g, t)]] for t in range(len(hours))]) for g in reservable}, -(got.objective or 0.0)


def cheapest(problem: SlottedProblem, columns: list[Column], settings: SolverSettings) -> tuple[float, dict[str, int], list[Column]] | None:
    """The master MILP of the module docstring over the columns found: one column per model and slot and the
    reserved level R_g, at the least reserved + on-demand USD/month; None if it stops without a choice."""
    hours = problem.hours.astype(float)
    reservable, on_demand = _reservable(problem), per_gpu(problem, problem.on_demand)
    unique = list({(c.model, c.slot, c.uses, round(c.rest, 6)): c for c in columns}.values())
    lm = LinearModel("cheapest")
    r = {g: lm.add_variable(f"R_{g}", 0.0, None, integer=True) for g in reservable}
    cost = [(r[g], p * float(hours.sum())) for g, p in reservable.items()]
    pick: dict[tuple[str, int], list[tuple[int, float]]] = {}
    seats: dict[tuple[str, int], list[tuple[int, float]]] = {}
    z = []
    for j, col in enumerate(unique):
        z.append(lm.add_variable(f"z_{j}", 0.0, 1.0, integer=True))
        cost.append((z[j], col.rest))
        pick.setdefault((col.model, col.slot), []).append((z[j], 1.0))
        for g, u in col.uses:
            seats.setdefault((g, col.slot), []).append((z[j], float(u)))
    for (m, t), terms in pick.items():
        lm.add_constraint(f"one_{m}_{t}", terms, "=", 1.0)
    for (g, t), terms in seats.items():
        extra = []
        if not math.isnan(on_demand[g]):
            o = lm.add_variable(f"O_{g}_{t}", 0.0, None)
            cost.append((o, on_demand[g] * float(hours[t])))
            extra = [(o, -1.0)]
        lm.add_constraint(f"seat_{g}_{t}", terms + [(r[g], -1.0)] + extra, "<=", 0.0)
    lm.minimize(cost)
    got = solve(lm, settings.name, settings.time_limit_s, 1e-9)
    if not got.has_solution:
        return None
    chosen = [col for j, col in enumerate(unique) if got.values[z[j]] > 0.5]
    return float(got.objective or 0.0), {g: int(round(got.values[v])) for g, v in r.items() if round(got.values[v]) > 0}, chosen


def _fleet(problem: SlottedProblem, pick: tuple[float, dict[str, int], list[Column]]) -> Fleet:
    """The fleet of a cheapest choice: each slot's models side by side, its reserved level and on-demand GPUs."""
    _, levels, chosen = pick
    parts = [joined([(c.solution, c.result) for c in chosen if c.slot == t]) for t in range(len(problem.hours))]
    levels, extra, cost = fleet_cost(problem, usage(problem, parts), levels)
    return Fleet(parts, levels, extra, cost)


@dataclass(frozen=True)
class Fleet:
    """A feasible fleet over the slots: each slot's solution, the reserved level, on-demand GPUs per slot, USD/month."""

    parts: list[tuple[SlotSolution, SolveResult]]
    levels: dict[str, int]
    extra: list[dict[str, int]]
    cost: float
