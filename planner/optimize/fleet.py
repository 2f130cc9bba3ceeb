"""Cheapest fleet for a FleetProblem: prune dominated configs, build the formulation, solve, decode."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.optimize.disagg import prune_groups
from planner.optimize.formulation import FleetFormulation, FleetSolution, dominated
from planner.optimize.headroom import enforce_utilization
from planner.optimize.problem import FleetProblem
from planner.optimize.solvers import SolveResult, SolveStatus, solve

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class SolverSettings:
    """Which solver, how long it may run, and the relative gap at which it may stop."""

    name: str = "highs"
    time_limit_s: float = 30.0
    mip_gap: float = 1e-6


@dataclass(frozen=True)
class FleetOutcome:
    """The solve's status and, when it found a plan, the solution and its cost."""

    status: SolveStatus
    solution: FleetSolution | None = None
    cost_per_hour: float | None = None
    result: SolveResult | None = None
    unserved_buckets: tuple[int, ...] = ()
    """Buckets with traffic that no allowed config can serve (why the problem is infeasible)."""


def optimize_fleet(problem: FleetProblem, settings: SolverSettings = SolverSettings()) -> FleetOutcome:
    """Min-cost integer replicas and fractional routing (docs/methodology.md, "Optimizer")."""
    unserved = problem.unserved()
    if unserved:
        return FleetOutcome(SolveStatus.INFEASIBLE, unserved_buckets=unserved)
    keep = [i for i, d in enumerate(prunable(problem)) if not d]
    formulation = FleetFormulation(problem.restricted(keep))
    result = solve(formulation.model, settings.name, settings.time_limit_s, settings.mip_gap)
    if not result.has_solution:
        return FleetOutcome(result.status, result=result)
    solution = enforce_utilization(problem, formulation.decode(result.values))
    return FleetOutcome(result.status, solution, solution.cost_per_hour(problem), result)


def prunable(problem: FleetProblem) -> "np.ndarray":
    """Dominated configs, compared across GPU types only when per-GPU cost is all that differs (no instances,
    no caps or power cap); otherwise within one GPU type, where a config must also use no more GPUs. Always
    within one role (planner.optimize.disagg.prune_groups)."""
    import numpy as np

    rules = problem.rules
    if problem.per_gpu_pricing and not (rules.gpu_caps or rules.instance_caps or rules.power_w is not None):
        return dominated(problem.costs, problem.any_max_rps, same=prune_groups(problem.configs))
    tps = np.array([c.tp for c in problem.configs])
    return dominated(problem.costs, problem.any_max_rps, same=prune_groups(problem.configs, by_gpu=True), size=tps)
