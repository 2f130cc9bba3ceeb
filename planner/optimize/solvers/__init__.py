"""The solver seam: a LinearModel in, a neutral SolveResult out. The only package that imports solver libraries.

HiGHS (highspy, directly) is the default and CBC (bundled with PuLP) the fallback; each is one module with
a `Solver` that has `available()` and `solve(model)`. A solve never mutates the LinearModel, so it may be
solved again. Status is honest: a solve stopped by the time limit says so, with its gap.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

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


class Solver(Protocol):
    """A MILP solver: its name, whether it is installed, and a solve that leaves the model unchanged."""

    name: str
    description: str

    def available(self) -> bool: ...

    def solve(self, model: LinearModel, time_limit_s: float = 30.0, mip_gap: float = 1e-6, presolve: bool = True) -> SolveResult: ...


@contextlib.contextmanager
def silence_stdout() -> Iterator[None]:
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


def _registry() -> dict[str, Solver]:
    from planner.optimize.solvers.cbc import CbcSolver
    from planner.optimize.solvers.highs import HighsSolver

    return {"highs": HighsSolver(), "cbc": CbcSolver()}


SOLVERS: dict[str, Solver] = _registry()
"""The registered solvers, in order of preference (the modules import their libraries only when solving)."""


def available_solvers() -> list[str]:
    """Registered solvers that are installed, in order of preference."""
    return [name for name, solver in SOLVERS.items() if solver.available()]


def solve(model: LinearModel, solver: str = "highs", time_limit_s: float = 30.0, mip_gap: float = 1e-6,
          presolve: bool = True) -> SolveResult:
    """Solve `model` with `solver`, falling back to an available one with a warning. `presolve=False` skips the
    solver's presolve: faster on the many small slot MILPs (planner.optimize.slots), same optimum."""
    return SOLVERS[_choose(solver)].solve(model, time_limit_s, mip_gap, presolve)


def _choose(name: str) -> str:
    if name in SOLVERS and SOLVERS[name].available():
        return name
    available = available_solvers()
    if not available:
        raise SolverError("no MILP solver available: install highspy (pip install highspy) or PuLP's bundled CBC")
    log.warning("solver %r is not available; using %r", name, available[0])
    return available[0]
