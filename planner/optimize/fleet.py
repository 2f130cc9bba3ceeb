"""Cheapest fleet for a FleetProblem: prune dominated configs, build the formulation, solve, decode."""
from __future__ import annotations

from dataclasses import dataclass

from planner.optimize.formulation import FleetFormulation, FleetSolution, dominated
from planner.optimize.problem import FleetProblem
from planner.optimize.solvers import SolveResult, SolveStatus, solve


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
    keep = [i for i, d in enumerate(dominated(problem.costs, problem.max_rps)) if not d]
    formulation = FleetFormulation(problem.restricted(keep))
    result = solve(formulation.model, settings.name, settings.time_limit_s, settings.mip_gap)
    if not result.has_solution:
        return FleetOutcome(result.status, result=result)
    solution = formulation.decode(result.values)
    return FleetOutcome(result.status, solution, solution.cost_per_hour(problem), result)
