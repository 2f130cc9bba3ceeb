"""What happened to every request of a replay: one array per field, indexed by request id.

The schedulers write it (admission, first token, finish, preemptions), the router writes each request's
replica, and planner.simulate.metrics reads it. Arrays rather than objects so that a pool replayed in
another process copies its outcomes back with one assignment per field (planner.simulate.pools).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RequestLog:
    """Per-request inputs and what happened to each request (NaN = not yet)."""

    arrival: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    cached: np.ndarray | None = None
    """Prompt tokens each request finds in the prefix cache (admitted as already computed); None: none."""
    remaining: np.ndarray = field(init=False)
    admitted: np.ndarray = field(init=False)
    first_token: np.ndarray = field(init=False)
    finish: np.ndarray = field(init=False)
    preemptions: np.ndarray = field(init=False)
    replica: np.ndarray = field(init=False)

    OUTCOMES = ("remaining", "admitted", "first_token", "finish", "preemptions", "replica")
    """The fields the simulation writes (copied back from a pool run in another process)."""

    def __post_init__(self) -> None:
        n = len(self.arrival)
        if self.cached is None:
            self.cached = np.zeros(n, dtype=np.int64)
        self.remaining = self.output.astype(np.int64).copy()
        self.admitted, self.first_token, self.finish = (np.full(n, np.nan) for _ in range(3))
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.replica = np.full(n, -1, dtype=np.int64)
