"""Branching over the reserved levels R_g (planner.optimize.reserve): where the Lagrangian bound stops short of the
best fleet (a duality gap, docs/benchmarks/fleet_slots.md), split the levels into boxes and bound each alone.

In a box lo_g <= R_g <= hi_g the reserved GPUs' part of the bound, sum_g R_g (p_res_g H - sum_t lam[g][t]), is at its
least at an end of each range (reserve._levels_terms), so the same evaluations bound every box, and better in a
small one: a box whose bound reaches the best fleet within the gap is closed. A box of one point (every R_g fixed)
couples nothing: each slot solved on those R seats is exact, and its proven bound closes the box. The bound of the
search is the least over the boxes still open and the points solved.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from planner.optimize.fleet import SolverSettings
from planner.optimize.reserve import (Box, Column, Fleet, Priced, _columns, _fleet, _reservable, cheapest,
                                      combined, next_prices, price_slots)
from planner.optimize.slots import SlotOutcome, SlotSolution, SlottedProblem, each_slot, merged, per_gpu
from planner.optimize.solvers import SolveResult, SolveStatus

ROUNDS = 30
"""Most pricing rounds of one box before it is split; each is one MILP per model and slot, so the time limit binds
first on the benchmark."""
RADIUS = 0.2
"""First trust radius, as a fraction of each slot's reserved price h_t p_res_g; doubled after a round that raises
the bound, halved after one that does not (the usual trust-region rule). Measured on the benchmark's second
round: 0.5 gave a bound of $9,309/month, 0.2 gave $11,517 (the first round's is $11,710)."""


@dataclass
class Node:
    """A box of reserved levels, its best bound so far, and the trust region its prices are sought in."""

    box: Box
    bound: float
    center: dict[str, np.ndarray]
    radius: float = RADIUS
    rounds: int = 0


@dataclass
class Search:
    """What every box shares: the columns and evaluations found, and the best fleet."""

    columns: list[Column]
    evaluations: list[Priced]
    fleet: Fleet
    known: dict[tuple, tuple[SlotSolution, SolveResult]] = field(default_factory=dict)
    """Slots solved, by slot and prices (reserve.price_slots)."""


def branch_levels(problem: SlottedProblem, settings: SolverSettings, search: Search, center: dict[str, np.ndarray],
                  seconds: float) -> float:
    """Bound the boxes, lowest first, until each reaches the best fleet within the gap or the time is out; a box
    gets pricing rounds while the cutting-plane LP over its whole range could still reach that, then is split.
    Updates `search.fleet`; returns the proven bound."""
    end = time.perf_counter() + seconds
    fine = replace(settings, mip_gap=settings.mip_gap / 2)  # the slots' bounds at half the gap: room for the rest
    month = {g: p * float(problem.hours.sum()) for g, p in _reservable(problem).items()}
    # reserving more of one type than the best fleet costs in all is never cheaper than that fleet (prices are
    # positive, planner.schemas.catalog, so every month is)
    cap = {g: int(search.fleet.cost // m) for g, m in month.items()}
    root = Box({g: 0 for g in month}, dict(cap))
    nodes = [Node(root, combined(problem, search.evaluations, settings, root)[0], center)]
    done: list[float] = []  # bounds of the boxes closed and of the points solved

    def target() -> float:
        return (1 - settings.mip_gap) * search.fleet.cost

    while True:
        done.extend(n.bound for n in nodes if n.bound >= target())
        nodes = [n for n in nodes if n.bound < target()]
        if not nodes or end - time.perf_counter() < 0.1:
            break
        node = min(nodes, key=lambda n: n.bound)
        if all(node.box.lo[g] == node.box.hi[g] for g in month):
            nodes.remove(node)
            done.append(max(node.bound, _point(problem, fine, search, node.box.lo, end - time.perf_counter())))
            continue
        _, reach = next_prices(problem, search.columns, node.center, math.inf, settings, node.box)
        if reach < target() or node.rounds >= ROUNDS:  # no prices close this box: split it
            nodes.remove(node)
            nodes.extend(Node(b, node.bound, node.center) for b in _split(node.box, search.fleet.levels))
            continue
        lam, estimate = next_prices(problem, search.columns, node.center, node.radius, settings, node.box)
        node.rounds += 1
        if estimate <= node.bound * (1 + 1e-9):  # nothing better within the radius: widen it
            node.radius *= 2
            continue
        step = price_slots(problem, lam, fine, end - time.perf_counter(), known=search.known)
        if isinstance(step, SlotOutcome):
            break
        search.columns.extend(step.columns)
        search.evaluations.append(step)
        before = node.bound
        for other in nodes:  # every box's bound from the evaluations so far (an LP each, ~0.05 s)
            other.bound, other.center = max((other.bound, other.center), combined(problem, search.evaluations, settings, other.box),
                                            key=lambda bc: bc[0])
        node.radius = node.radius * 2 if node.bound > before * (1 + 1e-9) else node.radius / 2
        pick = cheapest(problem, search.columns, settings)
        if pick is not None and pick[0] < search.fleet.cost - 1e-6:
            search.fleet = _fleet(problem, pick)
    return min([n.bound for n in nodes] + done + [search.fleet.cost])


def _split(box: Box, levels: dict[str, int]) -> list[Box]:
    """The box in three along the first type whose range is open: below, at and above the best fleet's level of it
    (clipped to the range), so that the best fleet's levels end up a point of their own."""
    g = next(g for g in sorted(box.lo, key=lambda g: (-levels.get(g, 0), g)) if box.lo[g] != box.hi[g])
    lo, hi = box.lo[g], box.hi[g]
    assert hi is not None  # branch_levels caps every level
    at = min(max(levels.get(g, 0), lo), hi)
    ranges = [(lo, at - 1), (at, at), (at + 1, hi)]
    return [Box({**box.lo, g: a}, {**box.hi, g: b}) for a, b in ranges if a <= b]


def _point(problem: SlottedProblem, settings: SolverSettings, search: Search, levels: dict[str, int], seconds: float) -> float:
    """Every slot solved on `levels` reserved GPUs as free seats shared by the models: a fleet, and the proven bound
    of every fleet with those levels (the reserved month plus the slots' bounds; -inf if a slot found no fleet in
    the time left)."""
    hours = problem.hours.astype(float)
    reserved = per_gpu(problem, problem.reserved)
    owned = {g: n for g, n in levels.items() if n > 0}
    paid = sum(reserved[g] * float(hours.sum()) * n for g, n in owned.items())
    seated = replace(problem, reserved=np.full(len(problem.configs), np.nan), owned=owned)
    parts = each_slot(seated, settings, seconds)
    if isinstance(parts, SlotOutcome):
        return -math.inf
    cost = paid + sum(res.objective or 0.0 for _, res in parts)
    if cost < search.fleet.cost - 1e-6:
        search.fleet = Fleet(parts, owned, [sol.on_demand_gpus[0] for sol, _ in parts], float(cost))
    search.columns.extend(c for t, (sol, res) in enumerate(parts) for c in _columns(problem, t, sol, res))
    return paid + sum((res.objective or 0.0) * (1 - (res.gap or 0.0)) for _, res in parts)


def reserve_over_slots(problem: SlottedProblem, settings: SolverSettings) -> SlotOutcome:
    """Reserved GPUs shared by the slots, without spot or a budget (planner.optimize.reserve): the slots alone at the
    reserved price, the cheapest choice over their fleets, then the boxes of levels with the time left. The plan's
    gap is the proven one; time_limit when it is above the gap asked for."""
    start = time.perf_counter()
    lam = {g: problem.hours.astype(float) * p for g, p in _reservable(problem).items()}
    known: dict[tuple, tuple[SlotSolution, SolveResult]] = {}
    first = price_slots(problem, lam, replace(settings, mip_gap=settings.mip_gap / 2), settings.time_limit_s, whole=True, known=known)
    if isinstance(first, SlotOutcome):
        return first
    pick = cheapest(problem, first.columns, settings)
    assert pick is not None  # one column per model and slot: always a choice
    search = Search(list(first.columns), [first], _fleet(problem, pick), known)
    bound = branch_levels(problem, settings, search, lam, settings.time_limit_s - (time.perf_counter() - start))
    fleet = search.fleet
    gap = max(0.0, (fleet.cost - bound) / fleet.cost) if fleet.cost else 0.0
    status = SolveStatus.OPTIMAL if gap <= settings.mip_gap + 1e-12 else SolveStatus.TIME_LIMIT
    result = SolveResult(status, fleet.cost, gap, time.perf_counter() - start, first.columns[0].result.solver)
    return replace(merged(fleet.parts, fleet.levels, fleet.extra, fleet.cost, status, gap, result.runtime_s), result=result)
