"""The one solver adapter: a LinearModel in, a neutral SolveResult out; the only module that imports PuLP.

HiGHS (highspy) is the default and CBC (bundled with PuLP) the fallback. Each solve translates the model
into a fresh PuLP problem, so the LinearModel is never mutated and may be solved again. Status is honest:
a solve stopped by the time limit says so, with its gap.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from planner.errors import SolverError
from planner.optimize.linear import LinearModel

log = logging.getLogger(__name__)


class SolveStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    """Stopped by the time limit with a feasible plan; `gap` says how far from proven optimal."""
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SolveResult:
    """What a solve gives back: status, objective, relative gap, runtime, solver name, and variable values."""

    status: SolveStatus
    objective: float | None
    gap: float | None
    runtime_s: float
    solver: str
    values: list[float] = field(default_factory=list, repr=False)
    """Value of each variable, in the model's order (empty without a solution)."""

    @property
    def has_solution(self) -> bool:
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT)


@dataclass(frozen=True)
class Solver:
    """A MILP solver reached through PuLP: `available()` and `solve(model)`; a new backend is one more entry."""

    name: str
    description: str

    def _backend(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> Any:
        import pulp

        kwargs: dict[str, Any] = {"msg": False}
        if time_limit_s is not None:
            kwargs |= {"timeLimit": time_limit_s, "gapRel": mip_gap, "threads": 1}  # one thread: deterministic results
        return pulp.HiGHS(**kwargs) if self.name == "highs" else pulp.PULP_CBC_CMD(**kwargs)

    def available(self) -> bool:
        return bool(self._backend().available())

    def solve(self, model: LinearModel, time_limit_s: float = 30.0, mip_gap: float = 1e-6) -> SolveResult:
        """Solve `model` (unchanged: it is translated into a fresh PuLP problem)."""
        import pulp

        problem, variables = _to_pulp(model)
        start = time.perf_counter()
        with _silence_stdout():
            try:
                problem.solve(self._backend(time_limit_s, mip_gap))
            except pulp.PulpSolverError as exc:
                raise SolverError(f"{self.name} failed: {exc}") from None
        runtime = time.perf_counter() - start
        status, gap = _status(problem, self.name)
        if status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
            return SolveResult(status, None, gap, runtime, self.name)
        objective = pulp.value(problem.objective)
        values = [var.value() for var in variables]
        return SolveResult(status, None if objective is None else float(objective), gap, runtime, self.name, values)


SOLVERS = {"highs": Solver("highs", "HiGHS through highspy (default)"), "cbc": Solver("cbc", "COIN-OR CBC bundled with PuLP")}
"""The registered solvers, in order of preference."""


def available_solvers() -> list[str]:
    """Registered solvers that are installed, in order of preference."""
    return [name for name, solver in SOLVERS.items() if solver.available()]


def solve(model: LinearModel, solver: str = "highs", time_limit_s: float = 30.0, mip_gap: float = 1e-6) -> SolveResult:
    """Solve `model` with `solver`, falling back to an available one with a warning."""
    return SOLVERS[_choose(solver)].solve(model, time_limit_s, mip_gap)


def _choose(name: str) -> str:
    available = available_solvers()
    if name in available:
        return name
    if not available:
        raise SolverError("no MILP solver available: install highspy (pip install highspy) or PuLP's bundled CBC")
    log.warning("solver %r is not available; using %r", name, available[0])
    return available[0]


def _to_pulp(model: LinearModel) -> tuple[Any, list[Any]]:
    """A fresh PuLP problem holding `model` (same names and order, so the same solution on ties)."""
    import pulp

    problem = pulp.LpProblem(model.name, pulp.LpMinimize)
    variables = [pulp.LpVariable(v.name, lowBound=v.lower, upBound=v.upper, cat="Integer" if v.integer else "Continuous")
                 for v in model.variables]
    for c in model.constraints:
        lhs = pulp.LpAffineExpression([(variables[i], coef) for i, coef in c.terms])
        problem += (lhs <= c.rhs if c.sense == "<=" else lhs >= c.rhs if c.sense == ">=" else lhs == c.rhs), c.name
    problem += pulp.LpAffineExpression([(variables[i], coef) for i, coef in model.objective])
    return problem, variables


@contextlib.contextmanager
def _silence_stdout() -> Iterator[None]:
    """Solver libraries print banners on file descriptor 1, which belongs to results: discard them."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _status(problem: Any, name: str) -> tuple[SolveStatus, float | None]:
    import pulp

    if problem.status == pulp.LpStatusInfeasible:
        return SolveStatus.INFEASIBLE, None
    if name == "highs" and problem.solverModel is not None:
        import highspy

        model_status = problem.solverModel.getModelStatus()
        gap = float(problem.solverModel.getInfo().mip_gap)
        if model_status == highspy.HighsModelStatus.kOptimal:
            return SolveStatus.OPTIMAL, 0.0 if gap != gap or gap < 1e-9 else gap
        if model_status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit):
            return (SolveStatus.TIME_LIMIT, gap) if problem.status == pulp.LpStatusOptimal else (SolveStatus.UNKNOWN, None)
        if model_status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return SolveStatus.INFEASIBLE, None
        return SolveStatus.UNKNOWN, None
    if problem.status == pulp.LpStatusOptimal:
        if problem.sol_status == pulp.LpSolutionIntegerFeasible:
            return SolveStatus.TIME_LIMIT, None
        return SolveStatus.OPTIMAL, 0.0
    return SolveStatus.UNKNOWN, None
