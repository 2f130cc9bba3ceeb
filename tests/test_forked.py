"""A call in a forked child returns its value to the parent; a failing child gives None (planner.forked)."""
from __future__ import annotations

import os

import pytest

from planner.forked import fork_call, usable_cpus

needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or usable_cpus() < 2, reason="needs fork and 2 CPUs")


@needs_fork
def test_a_forked_call_returns_its_value() -> None:
    child = fork_call(lambda: {"pid": os.getpid(), "x": [1.5, 2]})
    assert child is not None
    got = child.result()
    assert got is not None and got["x"] == [1.5, 2] and got["pid"] != os.getpid()


@needs_fork
def test_a_failed_child_gives_none() -> None:
    def boom() -> int:
        raise RuntimeError("in the child")

    child = fork_call(boom)
    assert child is not None and child.result() is None
