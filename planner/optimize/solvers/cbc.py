"""CBC through PuLP (the fallback solver): the LinearModel is translated into a fresh PuLP problem per solve."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from planner.errors import SolverError
from planner.optimize.linear import LinearModel
from planner.optimize.solvers import SolveResult, SolveStatus, silence_stdout


@dataclass(frozen=True)
class CbcSolver:
    """COIN-OR CBC, bundled with PuLP."""

    name: str = "cbc"
    description: str = "COIN-OR CBC bundled with PuLP"

    def _backend(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> Any:
        import pulp

        kwargs: dict[str, Any] = {"msg": False}
        if time_limit_s is not None:
            kwargs |= {"timeLimit": time_limit_s, "gapRel": mip_gap, "threads": 1}  # one thread: deterministic results
        return pulp.PULP_CBC_CMD(**kwargs)

    def available(self) -> bool:
        return bool(self._backend().available())

    def solve(self, model: LinearModel, time_limit_s: float = 30.0, mip_gap: float = 1e-6, presolve: bool = True) -> SolveResult:
        """`presolve` is accepted for the Solver protocol and ignored (CBC's own presolve always runs)."""
        import pulp

        problem, variables = _to_pulp(model)
        start = time.perf_counter()
        with silence_stdout():
            try:
                problem.solve(self._backend(time_limit_s, mip_gap))
            except pulp.PulpSolverError as exc:
                raise SolverError(f"{self.name} failed: {exc}") from None
        runtime = time.perf_counter() - start
        status, gap = _status(problem)
        if status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
            return SolveResult(status, None, gap, runtime, self.name)
        objective = pulp.value(problem.objective)
        values = [var.value() for var in variables]
        return SolveResult(status, None if objective is None else float(objective), gap, runtime, self.name, values)


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


def _status(problem: Any) -> tuple[SolveStatus, float | None]:
    import pulp

    if problem.status == pulp.LpStatusInfeasible:
        return SolveStatus.INFEASIBLE, None
    if problem.status == pulp.LpStatusOptimal:
        if problem.sol_status == pulp.LpSolutionIntegerFeasible:
            return SolveStatus.TIME_LIMIT, None
        return SolveStatus.OPTIMAL, 0.0
    return SolveStatus.UNKNOWN, None
