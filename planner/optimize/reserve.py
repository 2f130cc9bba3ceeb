"""Reserved GPUs shared by time slots, decomposed over the only thing that couples the slots: the reserved
GPU count R_g of each type (docs/benchmarks/fleet_slots.md).

Lower bound (Lagrangian). Give each slot t a price lam[g][t] (USD per GPU for the slot's hours) for the
reserved GPUs of type g it uses, with 0 <= lam[g][t] and sum_t lam[g][t] <= p_res_g H (H: hours per month).
For any feasible fleet (R_g reserved, O_{g,t} on demand, u_{g,t} <= R_g + O_{g,t} GPUs of g used in slot t):

  cost >= sum_g p_res_g H R_g + sum_{g,t} h_t p_od_g O_{g,t}
       >= sum_{g,t} lam[g][t] R_g + h_t p_od_g O_{g,t}                  (sum_t lam[g][t] <= p_res_g H)
       >= sum_{g,t} min(lam[g][t], h_t p_od_g) u_{g,t}
       >= sum_t L_t(lam),   L_t = slot t alone with every GPU of g at min(lam[g][t], h_t p_od_g)

so the sum of the slots' proven MILP bounds at any such prices bounds the month (weak duality; the slots are
integer programs, which only makes each L_t larger than its LP). lam = h_t p_res_g is the old bound (each slot
alone at the reserved price); the prices are improved by projected subgradient steps: a slot that uses more
GPUs of g than the others gets a higher price (it is where reserved GPUs are worth their price), the quiet
slots a lower one. The models of a slot share nothing at these linear prices, so each is its own small MILP.

Upper bound. Any slots' fleets are feasible together: reserve the level per type that minimizes reserved +
on-demand cost over their GPU counts (_reserve_level) and buy the rest on demand. Every Lagrangian iterate
gives such a fleet; the best one is kept.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from planner.optimize.fleet import SolverSettings
from planner.optimize.solvers import SolveResult, SolveStatus, solve
from planner.optimize.slots import SlotOutcome, SlotSolution, SlottedFormulation, SlottedProblem, per_gpu
from planner.optimize.slots import _each_slot as each_slot, _merged as merged, _reserve_level as reserve_level

STEPS = 8
"""Most subgradient steps; measured on the 24-slot benchmark, the bound stops improving after 3-4 (oscillating
between the slots' integer fleets), and each step is one MILP per slot and model."""


@dataclass(frozen=True)
class Priced:
    """One evaluation of the Lagrangian: its proven bound and each slot's solution at the slot prices."""

    bound: float
    parts: list[tuple[SlotSolution, SolveResult]]


def usage(problem: SlottedProblem, parts: list[tuple[SlotSolution, SolveResult]]) -> dict[str, np.ndarray]:
    """GPUs of each type each slot's replicas run on (reserved or on demand, not spot)."""
    gpus = sorted({c.gpu for c in problem.configs})
    return {g: np.array([sum(c.tp * n for c, n in sol.stable[0].items() if c.gpu == g) for sol, _ in parts], dtype=float)
            for g in gpus}


def priced_slots(problem: SlottedProblem, lam: dict[str, np.ndarray], settings: SolverSettings, seconds: float) -> Priced | SlotOutcome:
    """Each slot alone with GPUs of type g at min(lam[g][t], h_t p_od_g) for the slot (types not in `lam`: on
    demand); the sum of their proven bounds is the Lagrangian bound (module docstring)."""
    hours = problem.hours.astype(float)
    on_demand = per_gpu(problem, problem.on_demand)
    end = time.perf_counter() + seconds
    parts, bound = [], 0.0
    for t, h in enumerate(hours):
        def slot_price(g: str) -> float:  # USD per GPU-hour in slot t
            if g not in lam:
                return on_demand[g]
            return float(np.fmin(lam[g][t] / h, on_demand[g]))
        per_replica = np.array([slot_price(c.gpu) * c.tp for c in problem.configs])
        one = replace(problem, rates=problem.rates[t:t + 1], hours=problem.hours[t:t + 1], on_demand=per_replica,
                      reserved=np.full(len(problem.configs), np.nan))
        got = each_slot(one, settings, max(0.5, end - time.perf_counter()))
        if isinstance(got, SlotOutcome):
            return got
        parts.extend(got)
        bound += sum((r.objective or 0.0) * (1 - (r.gap or 0.0)) for _, r in got)
    return Priced(bound, parts)


def fleet_cost(problem: SlottedProblem, used: dict[str, np.ndarray]) -> tuple[dict[str, int], list[dict[str, int]], float]:
    """Reserved level per type, on-demand GPUs per slot and USD/month of the slots' fleets run together."""
    hours = problem.hours.astype(float)
    reserved, on_demand = per_gpu(problem, problem.reserved), per_gpu(problem, problem.on_demand)
    levels = {g: r for g, u in used.items() if (r := reserve_level(reserved[g], on_demand[g], hours, u))}
    extra = [{g: int(u[t] - levels.get(g, 0)) for g, u in used.items() if u[t] > levels.get(g, 0)} for t in range(len(hours))]
    cost = sum(reserved[g] * hours.sum() * r for g, r in levels.items())
    cost += sum(on_demand[g] * hours[t] * n for t, slot in enumerate(extra) for g, n in slot.items())
    return levels, extra, float(cost)


def project(lam: np.ndarray, cap: np.ndarray, total: float) -> np.ndarray:
    """The nearest prices with 0 <= lam <= cap and sum lam = total (or cap, when the caps add up to less): clip(lam - tau)
    with tau found by bisection (the sum falls as tau grows)."""
    if cap.sum() <= total:
        return cap.copy()
    lo, hi = float(lam.min()) - total - 1.0, float(lam.max()) + 1.0
    for _ in range(100):  # 100 halvings of a range a few $10^4 wide: far below a cent
        tau = (lo + hi) / 2
        if np.clip(lam - tau, 0.0, cap).sum() > total:
            lo = tau
        else:
            hi = tau
    return np.clip(lam - hi, 0.0, cap)


def lagrangian(problem: SlottedProblem, first: Priced, upper: float, settings: SolverSettings, seconds: float) -> tuple[float, Priced | None, float, list[float]] | SlotOutcome:
    """Projected subgradient steps on the slot prices from `first` (the slots alone at the reserved price) for at
    most `seconds`: the best bound, the evaluation whose fleet (fleet_cost) is the cheapest if one beats
    `upper`, that cost, and the bound of each step. Polyak steps: (upper - bound) / |subgradient|^2."""
    start = time.perf_counter()
    hours = problem.hours.astype(float)
    reserved, on_demand = per_gpu(problem, problem.reserved), per_gpu(problem, problem.on_demand)
    total = {g: reserved[g] * hours.sum() for g in reserved if not math.isnan(reserved[g])}
    cap = {g: hours * on_demand[g] if not math.isnan(on_demand[g]) else np.full(len(hours), np.inf) for g in total}
    lam = {g: hours * reserved[g] for g in total}
    got, best, cheapest, trace = first, first.bound, None, [first.bound]
    for _ in range(STEPS):
        if upper - best <= settings.mip_gap * upper:
            break
        used = usage(problem, got.parts)
        grad = {g: used[g] - float((used[g] * hours).sum() / hours.sum()) for g in total}
        norm = sum(float((v ** 2).sum()) for v in grad.values())
        left = seconds - (time.perf_counter() - start)
        if norm == 0 or left < 1.0:  # every slot uses the same GPUs (the prices are where the slots agree), or no time
            break
        lam = {g: project(lam[g] + (upper - got.bound) / norm * grad[g], cap[g], total[g]) for g in total}
        step = priced_slots(problem, lam, settings, left)
        if isinstance(step, SlotOutcome):
            return step
        got = step
        trace.append(got.bound)
        best = max(best, got.bound)
        cost = fleet_cost(problem, usage(problem, got.parts))[2]
        if cost < upper:
            upper, cheapest = cost, got
    return best, cheapest, upper, trace


def reserve_over_slots(problem: SlottedProblem, settings: SolverSettings) -> SlotOutcome:
    """Reserved GPUs shared by the slots, without spot or a budget (module docstring): the slots alone at the
    reserved price (bound and fleets), the cheapest reserved level over their fleets with each slot re-solved
    on those seats (incumbent), Lagrangian steps on the slot prices with the time left, then the coupled MILP
    only if time is still left and the bounds are further apart than the gap asked for."""
    start = time.perf_counter()
    hours = problem.hours.astype(float)
    reserved = per_gpu(problem, problem.reserved)
    fine = replace(settings, mip_gap=settings.mip_gap / 2)  # the slots' bounds at half the gap: room for the rest
    lam = {g: hours * p for g, p in reserved.items() if not math.isnan(p)}
    first = priced_slots(problem, lam, fine, settings.time_limit_s)
    if isinstance(first, SlotOutcome):
        return first
    levels, extra, _ = fleet_cost(problem, usage(problem, first.parts))
    # each slot again, its reserved GPUs now free seats shared by its models (dealing the seats to the models first
    # and solving each model apart was measured: 20.6 s against 35.7 s, but $9,331 against $9,183/month)
    seated = replace(problem, reserved=np.full(len(problem.configs), np.nan), owned=levels)
    again = each_slot(seated, settings, settings.time_limit_s - (time.perf_counter() - start))
    if isinstance(again, SlotOutcome):
        return again
    # per slot, the cheaper of the re-solve and the slot's first fleet on the same seats: a re-solve cut short by
    # the time limit (under load, half a second a slot) can be far worse ($580,946/month at 30 s, load 4.4)
    on_demand = per_gpu(problem, problem.on_demand)
    kept = [(sol, res, sol.on_demand_gpus[0], sol.cost_per_month) for sol, res in again]
    for t, ((sol, res), more) in enumerate(zip(first.parts, extra)):
        cost_t = sum(on_demand[g] * hours[t] * n for g, n in more.items())
        if cost_t < kept[t][3]:
            kept[t] = (sol, res, more, cost_t)
    cost = sum(reserved[g] * hours.sum() * r for g, r in levels.items()) + sum(k[3] for k in kept)
    best = merged([(k[0], k[1]) for k in kept], levels, [k[2] for k in kept], float(cost), SolveStatus.OPTIMAL, None, 0.0).solution
    assert best is not None
    out = lagrangian(problem, first, best.cost_per_month, fine, settings.time_limit_s - (time.perf_counter() - start))
    if isinstance(out, SlotOutcome):
        return out
    bound, cheapest, upper, _ = out
    if cheapest is not None:
        lv, extra, total = fleet_cost(problem, usage(problem, cheapest.parts))
        best = merged(cheapest.parts, lv, extra, total, SolveStatus.OPTIMAL, None, 0.0).solution
        assert best is not None
    left = settings.time_limit_s - (time.perf_counter() - start)
    if (best.cost_per_month - bound) > settings.mip_gap * best.cost_per_month and left > 0.1:
        form = SlottedFormulation(problem)
        result = solve(form.model, settings.name, left, settings.mip_gap)
        if result.has_solution and (result.objective or 0.0) < best.cost_per_month:
            best = form.decode(result.values, result.objective or 0.0)
        if result.has_solution and result.gap is not None:
            bound = max(bound, (result.objective or 0.0) * (1 - result.gap))
    gap = max(0.0, (best.cost_per_month - bound) / best.cost_per_month) if best.cost_per_month else 0.0
    status = SolveStatus.OPTIMAL if gap <= settings.mip_gap + 1e-12 else SolveStatus.TIME_LIMIT
    result = SolveResult(status, best.cost_per_month, gap, time.perf_counter() - start, first.parts[0][1].solver)
    return SlotOutcome(status, best, result)
