"""A plan's replay in a forked child process (planner.forked), so that `solve` works out the plan's comparisons
(single-GPU-type baselines, simplest plan, floor) on one core while the replay runs on the other.

The parent builds the fleet and reads the requests (DuckDB stays in the parent), the child only runs the event
loop and sends its SimResult back. Where the fork is not made or the child fails, the replay runs in the parent:
the same function on the same inputs, so the outcome is the same either way (tests/simulate/test_background.py).
"""
from __future__ import annotations

from pathlib import Path

from planner.forked import fork_call
from planner.io.catalog import Catalog
from planner.plan.model import Plan
from planner.simulate.replay import SimOptions, SimResult
from planner.simulate.verify import Verification, build_fleet, requests_for, run_fleet


class PendingReplay:
    """`verify_plan(plan)` without repair, started now and collected later with `verification`."""

    def __init__(self, plan: Plan, options: SimOptions = SimOptions(), catalog_files: tuple[str | Path, ...] = (),
                 catalog: Catalog | None = None) -> None:
        self.fleet = build_fleet(plan, catalog_files, catalog=catalog)
        self.trace = requests_for(self.fleet, seed=options.seed)
        self.options = options
        self.child = fork_call(self._run)

    def _run(self) -> SimResult:
        return run_fleet(self.fleet, self.trace, self.options)

    def verification(self, plan: Plan) -> Verification:
        """The replay's verdict on `plan` (the finished plan of the pools it replayed)."""
        result = self.child.result() if self.child is not None else None
        return Verification(plan, result if result is not None else self._run(), {}, 0.0, 0)
