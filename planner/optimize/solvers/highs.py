"""HiGHS through highspy, the default solver: the LinearModel passed in one call per solve (a fresh Highs
instance each time, so the model is never changed).

Columns are given in the order of their names and rows in the order they were added, as PuLP passed them
before this adapter replaced it: identical inputs, so HiGHS breaks ties between equal-cost plans as it
always has (a test pins that plans are unchanged). Options: no output, the relative MIP gap, one thread
(deterministic), the time limit, presolve (on unless the caller turns it off).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from planner.optimize.linear import LinearModel
from planner.optimize.solvers import SolveResult, SolveStatus, silence_stdout

NO_SUB_MIPS = (("mip_heuristic_run_rins", False), ("mip_heuristic_run_rens", False))
"""HiGHS' RINS and RENS heuristics solve sub-MIPs at the root: on the fleet MILPs (a few dozen integer replica counts)
they were 0.19 s of a 0.26 s solve of the chat example and found nothing branch-and-bound did not (the same
objective on every golden; one tie broke the other way: compare-chat-whatif's a100-only fleet, $46.66/h either way)."""
FEASIBLE = 2
"""HiGHS' `primal_solution_status` of a feasible point (kSolutionStatusFeasible)."""


@dataclass(frozen=True)
class HighsSolver:
    """HiGHS (highspy), single-threaded."""

    name: str = "highs"
    description: str = "HiGHS through highspy (default)"

    def available(self) -> bool:
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True

    def solve(self, model: LinearModel, time_limit_s: float = 30.0, mip_gap: float = 1e-6, presolve: bool = True) -> SolveResult:
        import highspy

        start = time.perf_counter()
        with silence_stdout():  # highspy prints its banner on file descriptor 1
            h = highspy.Highs()
            for option, value in (("output_flag", False), ("mip_rel_gap", float(mip_gap)), ("threads", 1),
                                  ("time_limit", float(time_limit_s)), ("presolve", "on" if presolve else "off"),
                                  *NO_SUB_MIPS):
                h.setOptionValue(option, value)
            order = _load(h, model)
            h.run()
        runtime = time.perf_counter() - start
        status, gap = _status(h, highspy)
        if status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
            return SolveResult(status, None, gap, runtime, self.name)
        column = np.asarray(h.getSolution().col_value, dtype=float)
        values = [0.0] * len(order)
        for col, var in enumerate(order):
            values[var] = float(column[col])
        objective = float(sum(coef * values[i] for i, coef in model.objective))
        return SolveResult(status, objective, gap, runtime, self.name, values)


def _load(h: object, model: LinearModel) -> list[int]:
    """Pass columns (bounds, costs, integrality) and rows to `h`; returns the variable index of each column."""
    import highspy

    inf = highspy.kHighsInf
    order = sorted(range(len(model.variables)), key=lambda i: model.variables[i].name)
    col_of = {var: col for col, var in enumerate(order)}
    cost = dict(model.objective)
    variables = [model.variables[i] for i in order]
    h.addCols(len(order), np.array([cost.get(i, 0.0) for i in order], dtype=float),  # type: ignore[attr-defined]
              np.array([v.lower for v in variables], dtype=float),
              np.array([inf if v.upper is None else v.upper for v in variables], dtype=float),
              0, np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([], dtype=float))
    integer = np.array([c for c, v in enumerate(variables) if v.integer], dtype=np.int32)
    if len(integer):
        h.changeColsIntegrality(len(integer), integer,  # type: ignore[attr-defined]
                                np.array([highspy.HighsVarType.kInteger] * len(integer)))
    for c in model.constraints:
        terms = [(col_of[i], coef) for i, coef in c.terms if coef != 0]
        lower = c.rhs if c.sense in ("=", ">=") else -inf
        upper = c.rhs if c.sense in ("=", "<=") else inf
        h.addRow(lower, upper, len(terms), np.array([t[0] for t in terms], dtype=np.int32),  # type: ignore[attr-defined]
                 np.array([t[1] for t in terms], dtype=float))
    return order


def _status(h: object, highspy: object) -> tuple[SolveStatus, float | None]:
    status = h.getModelStatus()  # type: ignore[attr-defined]
    info = h.getInfo()  # type: ignore[attr-defined]
    kinds = highspy.HighsModelStatus  # type: ignore[attr-defined]
    gap = float(info.mip_gap)
    if status == kinds.kOptimal:
        return SolveStatus.OPTIMAL, 0.0 if gap != gap or gap < 1e-9 else gap
    if status in (kinds.kTimeLimit, kinds.kIterationLimit):
        return (SolveStatus.TIME_LIMIT, gap) if info.primal_solution_status == FEASIBLE else (SolveStatus.UNKNOWN, None)
    if status in (kinds.kInfeasible, kinds.kUnboundedOrInfeasible):
        return SolveStatus.INFEASIBLE, None
    return SolveStatus.UNKNOWN, None
