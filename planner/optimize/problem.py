"""The fleet problem the optimizer solves, in numbers only: configs with costs and capacities, bucket rates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.schemas.replica import ReplicaSpec


@dataclass(frozen=True)
class FleetProblem:
    """Buy integer replicas of `configs` and route every bucket's `rates` so that each pool stays under the
    utilization target `rho`; `max_rps[k, b]` is one replica's capacity (0 = cannot serve)."""

    configs: tuple[ReplicaSpec, ...]
    costs: np.ndarray
    """USD per hour of one replica of each config."""
    max_rps: np.ndarray
    rates: np.ndarray
    """Design req/s of each bucket."""
    rho: float

    def unserved(self) -> tuple[int, ...]:
        """Buckets with traffic that no config can serve (the problem is then infeasible)."""
        return tuple(int(b) for b in np.flatnonzero((self.rates > 0) & ~(self.max_rps > 0).any(axis=0)))

    def restricted(self, keep: list[int]) -> "FleetProblem":
        """The same problem over configs `keep` only (in that order)."""
        return FleetProblem(tuple(self.configs[k] for k in keep), self.costs[keep], self.max_rps[keep, :], self.rates, self.rho)
