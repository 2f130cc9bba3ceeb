"""Cheapest fleet for a capacity table: prune dominated configs, build the MILP, solve, read the answer."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.capacity_table import CapacityTable
from planner.optimize.milp import build_fleet_milp, dominated
from planner.optimize.solve import SolveResult, SolveStatus, solve_problem


@dataclass(frozen=True)
class FleetSolution:
    """Replicas per config index and routing shares per (bucket, config index) of the full table."""

    status: SolveStatus
    cost_per_hour: float | None
    replicas: dict[int, int] = field(default_factory=dict)
    shares: dict[tuple[int, int], float] = field(default_factory=dict)
    result: SolveResult | None = None
    unserved_buckets: tuple[int, ...] = ()
    """Buckets with traffic that no allowed config can serve (why the problem is infeasible)."""


def optimize_fleet(
    table: CapacityTable,
    rates: np.ndarray,
    utilization_target: float,
    solver: str = "highs",
    time_limit_s: float = 30.0,
    mip_gap: float = 1e-6,
    allowed: list[int] | None = None,
) -> FleetSolution:
    """Min-cost integer replicas and fractional routing over configs `allowed` (default all)."""
    allowed = list(range(len(table.configs))) if allowed is None else allowed
    caps = table.max_rps[allowed, :]
    unserved = tuple(int(b) for b in np.flatnonzero((rates > 0) & ~(caps > 0).any(axis=0)))
    if unserved:
        return FleetSolution(SolveStatus.INFEASIBLE, None, unserved_buckets=unserved)
    costs = np.array([table.configs[k].cost_per_hour for k in allowed])
    keep = [i for i, d in enumerate(dominated(costs, caps)) if not d]
    milp = build_fleet_milp(costs[keep], caps[keep, :], rates, utilization_target)
    result = solve_problem(milp.problem, solver, time_limit_s, mip_gap)
    if result.status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
        return FleetSolution(result.status, None, result=result)
    full = [allowed[i] for i in keep]
    replicas = {full[k]: int(round(var.value() or 0)) for k, var in milp.replicas.items()}
    replicas = {k: n for k, n in replicas.items() if n > 0}
    shares = {(b, full[k]): float(var.value() or 0) for (b, k), var in milp.shares.items()}
    shares = {key: s for key, s in shares.items() if s > 1e-9}
    cost = sum(table.configs[k].cost_per_hour * n for k, n in replicas.items())
    return FleetSolution(result.status, cost, replicas, shares, result)
