"""A plan's replay in a forked child process, so that `solve` works out the plan's comparisons (single-GPU-type
baselines, simplest plan, floor) on one core while the replay runs on the other.

The parent builds the fleet and reads the requests (DuckDB stays in the parent: the child never touches a
library's threads), the child only runs the event loop and sends its SimResult back through a pipe. Where fork
is missing, only one CPU is ours, or the child fails, the replay runs in the parent as before: the same function
on the same inputs, so the outcome is the same either way (tests/simulate/test_background.py).
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from planner.io.catalog import Catalog
from planner.plan.model import Plan
from planner.simulate.replay import SimOptions, SimResult
from planner.simulate.verify import Verification, build_fleet, requests_for, run_fleet

T = TypeVar("T")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Forked(Generic[T]):
    """A call running in a forked child; `result()` waits for it."""

    pid: int
    fd: int

    def result(self) -> T | None:
        """The child's return value, or None when it failed (the caller then runs the call itself)."""
        with os.fdopen(self.fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        return pickle.loads(data) if status == 0 and data else None


def fork_call(fn: Callable[[], T]) -> Forked[T] | None:
    """Start `fn()` in a forked child (None where fork is missing or only one CPU is usable)."""
    if not hasattr(os, "fork") or usable_cpus() < 2:
        return None
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: never returns into the caller's code, never runs its atexit handlers
        status = 1
        try:
            os.close(read)
            data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return Forked(pid, read)


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
