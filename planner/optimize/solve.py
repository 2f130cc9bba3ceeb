"""The one solver adapter: HiGHS (highspy) by default, CBC as fallback; neutral result, honest status."""
from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pulp

from planner.errors import SolverError

log = logging.getLogger(__name__)


class SolveStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    """Stopped by the time limit with a feasible plan; `gap` says how far from proven optimal."""
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SolveResult:
    status: SolveStatus
    objective: float | None
    gap: float | None
    runtime_s: float
    solver: str


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


def available_solvers() -> list[str]:
    names = []
    if pulp.HiGHS(msg=False).available():
        names.append("highs")
    if pulp.PULP_CBC_CMD(msg=False).available():
        names.append("cbc")
    return names


def _make_solver(name: str, time_limit_s: float, mip_gap: float) -> tuple[str, pulp.LpSolver]:
    available = available_solvers()
    if name not in available:
        if not available:
            raise SolverError("no MILP solver available: install highspy (pip install highspy) or PuLP's bundled CBC")
        fallback = available[0]
        log.warning("solver %r is not available; using %r", name, fallback)
        name = fallback
    if name == "highs":
        return name, pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=mip_gap, threads=1)
    return name, pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=mip_gap, threads=1)


def solve_problem(problem: pulp.LpProblem, solver: str = "highs", time_limit_s: float = 30.0, mip_gap: float = 1e-6) -> SolveResult:
    """Solve `problem` in place; the variables carry the solution afterwards."""
    name, backend = _make_solver(solver, time_limit_s, mip_gap)
    start = time.perf_counter()
    with _silence_stdout():
        try:
            problem.solve(backend)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"{name} failed: {exc}") from None
    runtime = time.perf_counter() - start
    status, gap = _status(problem, name)
    objective = pulp.value(problem.objective) if status in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT) else None
    return SolveResult(status, None if objective is None else float(objective), gap, runtime, name)


def _status(problem: pulp.LpProblem, name: str) -> tuple[SolveStatus, float | None]:
    if problem.status == pulp.LpStatusInfeasible:
        return SolveStatus.INFEASIBLE, None
    if name == "highs" and problem.solverModel is not None:
        import highspy  # the adapter is the only module that talks to solver libraries

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
