"""The fleet problem the optimizer solves, in numbers only: configs with costs and capacities, bucket rates,
and optionally the instance types GPUs are bought in and the rules the fleet must obey."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from planner.schemas.replica import ReplicaSpec

if TYPE_CHECKING:
    from planner.supply.levels import ServiceLevel


@dataclass(frozen=True)
class Shape:
    """An instance type: `gpus` GPUs of type `gpu` for `usd_per_hour` per instance."""

    name: str
    gpu: str
    gpus: int
    usd_per_hour: float


@dataclass(frozen=True)
class FleetRules:
    """Constraints beyond the SLOs (docs/fleet.md). The defaults constrain nothing; `relaxed(name)` drops one."""

    max_pools: int | None = None
    pool_overhead_per_hour: float = 0.0
    min_replicas: int = 1
    redundancy: bool = False
    """N+1: every pool in use keeps its load within the utilization target with one replica fewer."""
    gpu_caps: dict[str, int] = field(default_factory=dict)
    """Most GPUs of each type."""
    instance_caps: dict[str, int] = field(default_factory=dict)
    """Most instances of each instance type."""
    budget_per_hour: float | None = None
    power_w: float | None = None
    """Most watts of the fleet: GPUs x TDP x overhead (FleetProblem.watts)."""

    def active(self) -> list[str]:
        """Names of the rules that constrain something (the ones `relaxed` can drop)."""
        default = FleetRules()
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)]

    def relaxed(self, name: str) -> "FleetRules":
        """The same rules without `name` (back at its default, which constrains nothing)."""
        return replace(self, **{name: getattr(FleetRules(), name)})

    @property
    def needs_pool_indicators(self) -> bool:
        """Whether the MILP needs a binary per pool (is config k in use?)."""
        return self.max_pools is not None or self.pool_overhead_per_hour > 0 or self.min_replicas > 1 or self.redundancy


@dataclass(frozen=True)
class FleetProblem:
    """Buy integer replicas of `configs` and route every bucket's `rates` so that each pool stays under the
    utilization target `rho`; `max_rps[k, b]` is one replica's capacity (0 = cannot serve).

    With `shapes`, the GPUs of a type that has shapes are bought as whole instances (their price replaces
    `costs`, which then only rank configs); GPU types without shapes are bought per replica at `costs`.
    """

    configs: tuple[ReplicaSpec, ...]
    costs: np.ndarray
    """USD per hour of one replica of each config."""
    max_rps: np.ndarray
    rates: np.ndarray
    """Design req/s of each bucket."""
    rho: float
    shapes: tuple[Shape, ...] = ()
    rules: FleetRules = FleetRules()
    watts: np.ndarray | None = None
    """Watts one replica of each config draws (tp x TDP x overhead); needed when rules.power_w is set."""
    cross_instance_tp: bool = False
    """A TP group may span instances (only the total GPU count is then matched to instances)."""
    levels: tuple["ServiceLevel", ...] = ()
    """Fleet SLO scope: the SLO's own percentile first (its capacities are `max_rps`), then the other percentiles a
    bucket may be served at (planner.optimize.scope); empty under the bucket scope."""
    pooled: np.ndarray | None = None
    """(tiers, configs, buckets): one replica's capacity once its pool has at least `tiers[j]` replicas (M/G/m
    prefill queue; planner.optimize.pooling), >= `max_rps`; None when no config gains from pooling."""
    tiers: tuple[int, ...] = ()
    """Pool sizes of `pooled`'s first axis (planner.perf.tail.POOL_TIERS past 1)."""

    @property
    def any_max_rps(self) -> np.ndarray:
        """`max_rps` beside every service level's and pool tier's (configs x (buckets x levels x tiers)): what a config can
        serve at all, and what dominance must compare."""
        pooled = () if self.pooled is None else tuple(self.pooled)
        return np.hstack([self.max_rps, *(level.max_rps for level in self.levels[1:]), *pooled])

    @property
    def best_rps(self) -> np.ndarray:
        """One replica's capacity in the largest pool (the most of `max_rps` and every tier of `pooled`): what a lower
        bound on the cost may assume."""
        return self.max_rps if self.pooled is None else np.maximum(self.max_rps, self.pooled.max(axis=0))

    def unserved(self) -> tuple[int, ...]:
        """Buckets with traffic that no config can serve (the problem is then infeasible)."""
        served = (self.max_rps > 0).any(axis=0)
        for level in self.levels[1:]:
            served |= (level.max_rps > 0).any(axis=0)
        return tuple(int(b) for b in np.flatnonzero((self.rates > 0) & ~served))

    def restricted(self, keep: list[int]) -> "FleetProblem":
        """The same problem over configs `keep` only (in that order)."""
        return replace(self, configs=tuple(self.configs[k] for k in keep), costs=self.costs[keep], max_rps=self.max_rps[keep, :],
                       watts=None if self.watts is None else self.watts[keep],
                       levels=tuple(replace(level, max_rps=level.max_rps[keep, :]) for level in self.levels),
                       pooled=None if self.pooled is None else self.pooled[:, keep, :])

    def with_rules(self, rules: FleetRules) -> "FleetProblem":
        return replace(self, rules=rules)

    @property
    def instance_gpus(self) -> set[str]:
        """GPU types bought as instances."""
        return {s.gpu for s in self.shapes}

    @property
    def per_gpu_pricing(self) -> bool:
        """True when every replica's cost is linear in its count (no instances): dominance may compare costs."""
        return not self.shapes
