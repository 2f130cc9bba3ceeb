"""Pool-size tiers in the fleet MILP (docs/methodology.md, "Pooled prefill queues").

Behind least-loaded routing the replicas of a pool share one queue (M/G/m, planner.perf.tail.queue_wait), so one
replica carries more within the TTFT tail the larger its pool: capacity depends on n_k, which is not linear. The
table gives it at pool sizes m_j (`problem.tiers`, capacities `problem.pooled[j]`), and tier shares make it linear:

  x[b,k,j] >= 0                                         share of bucket b that config k serves at tier j
  sum_b rate_b x[b,k,j] / pooled[j,k,b] <= M_kj z[k,j]    z binary (M_kj: the tier's load with every offered share 1)
  n_k >= m_j z[k,j]                                     a tier is used only by a pool of at least m_j replicas
  room_k: sum_b rate_b x[b,k] / cap[k,b] + sum_{b,j} rate_b x[b,k,j] / pooled[j,k,b] <= rho n_k

Sound: a pool that uses tier j has at least m_j replicas, so each of its replicas carries pooled[j] (and at least
as much at every lower tier), and each share is charged at its own tier's capacity. Only the tiers a pool could
reach are offered (m_j at most the replicas the config needs to carry alone, at one replica's capacity, every
bucket it can serve) and, per bucket, only where a tier raises the capacity by TIER_GAIN over the tier below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.optimize.disagg import fronts
from planner.optimize.linear import LinearModel
from planner.optimize.problem import FleetProblem
from planner.schemas.replica import ReplicaSpec

Terms = list[tuple[int, float]]
TIER_GAIN = 0.02
"""A tier is offered for a cell only where it raises one replica's capacity by at least 2 % over the last tier
offered: smaller gains cannot pay for a binary (a 2 % gain saves a replica only in pools of 50 or more)."""


@dataclass
class PooledRows:
    """The tier shares x[b,k,j], their binaries z[k,j] and linking rows, for a problem with `pooled` capacities."""

    problem: FleetProblem
    model: LinearModel
    shares: dict[tuple[int, int, int], int] = field(default_factory=dict)
    """(bucket, config index, tier index) -> variable index of x[b,k,j]."""
    load: dict[tuple[int, int], Terms] = field(default_factory=dict)
    """(config index, tier index) -> the tier's load terms."""

    def route(self, b: int) -> tuple[Terms, dict[int, Terms]]:
        """Bucket b's tier shares: their routing terms (fronting configs) and their load terms by config."""
        p, m = self.problem, self.model
        assert p.pooled is not None
        rate, routed, load = float(p.rates[b]), [], {}
        for k in range(len(p.configs)):
            best = float(p.max_rps[k, b])
            for j, servers in enumerate(p.tiers):
                cap = float(p.pooled[j, k, b])
                if best <= 0 or cap < best * (1 + TIER_GAIN) or servers > self._reach(k):
                    continue
                best = cap
                v = self.shares[(b, k, j)] = m.add_variable(f"x_{b}_{k}_m{servers}", 0.0, 1.0)
                if fronts(p.configs[k]):
                    routed.append((v, 1.0))
                load.setdefault(k, []).append((v, rate / cap))
                self.load.setdefault((k, j), []).append((v, rate / cap))
        return routed, load

    def _reach(self, k: int) -> int:
        """Replicas config k needs to carry alone every bucket it can serve at one replica's capacity (no pool of
        k is larger in an optimal plan)."""
        p = self.problem
        live = (p.max_rps[k] > 0) & (p.rates > 0)
        return math.ceil(float((p.rates[live] / p.max_rps[k, live]).sum()) / p.rho)

    def link(self, replicas: dict[int, int]) -> None:
        """z[k,j] with the rows tying a tier's load to it and it to the pool size n_k (variable `replicas[k]`)."""
        m = self.model
        for (k, j), terms in sorted(self.load.items()):
            servers = self.problem.tiers[j]
            z = m.add_variable(f"z_{k}_m{servers}", 0.0, 1.0, integer=True)
            m.add_constraint(f"tier_{k}_m{servers}", terms + [(z, -sum(c for _, c in terms))], "<=", 0.0)
            m.add_constraint(f"size_{k}_m{servers}", [(replicas[k], 1.0), (z, -float(servers))], ">=", 0.0)

    def fold(self, values: list[float], shares: dict[tuple[int, ReplicaSpec], float],
             capacity: dict[tuple[int, ReplicaSpec], float]) -> None:
        """Add the tier shares into `shares` (per bucket and config) and set `capacity` to each such cell's effective
        capacity (its share over the load it puts on the pool), in place."""
        p = self.problem
        assert p.pooled is not None
        for (b, k, j), v in sorted(self.shares.items()):
            x = float(values[v] or 0)
            if x <= 0:
                continue
            key = (b, p.configs[k])
            base = shares.get(key, 0.0)
            load = base / capacity.get(key, float(p.max_rps[k, b])) + x / float(p.pooled[j, k, b])
            shares[key] = base + x
            capacity[key] = shares[key] / load
