"""The fleet SLO scope in the MILP (docs/methodology.md, "SLO scope"): the percentile holds over all requests,
not per bucket.

Each bucket may be served, by each config, at any level of a small menu of percentiles q (the SLO's own p,
tighter ones and looser ones; planner.supply.levels), with that config's capacity at q. The shares split across
the menu, and one row caps the requests allowed outside the SLO:

  x[b,k,q] >= 0,   sum_{k,q} x[b,k,q] = 1                      (the routing row of bucket b)
  sum_{b,q} rate_b x[b,k,q] / cap_q[k,b] <= rho n_k            (room, as in the bucket scope)
  sum_{b,k,q} rate_b (1 - q) x[b,k,q] <= (1 - p) sum_b rate_b   (the miss budget: linear in the shares)

A bucket at q keeps at most (1 - q) of its requests outside each SLO (the capacity model's promise at q), so the
left side bounds the fleet's misses of either SLO; the right side is what the fleet percentile allows. With every
bucket at p the row holds with equality: the bucket scope is one feasible point, and the fleet scope is never
dearer. Disaggregated pairs and the pool-size tiers of prefill configs are offered at p only: their shares spend
(1 - p) each, counted once per request (on the prefill share; the decode share repeats it through the pair rows).
FleetFormulation calls `route` (and `at_own_level` for tier shares) per bucket and `budget` once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from planner.optimize.disagg import fronts
from planner.optimize.linear import LinearModel
from planner.optimize.problem import FleetProblem
from planner.schemas.replica import ReplicaSpec

Terms = list[tuple[int, float]]


@dataclass
class FleetScopeRows:
    """The service-level shares x[b,k,q] (q past the SLO's own level) and the miss-budget row."""

    problem: FleetProblem
    model: LinearModel
    shares: dict[tuple[int, int, int], int] = field(default_factory=dict)
    """(bucket, config index, level index >= 1) -> variable index of x[b,k,q]."""
    miss: Terms = field(default_factory=list)
    own: dict[int, list[int]] = field(default_factory=dict)
    """bucket -> variables of its pool-size tier shares (at the SLO's own level; `at_own_level`)."""

    def route(self, b: int, base: dict[int, int], load: dict[int, Terms]) -> Terms:
        """Bucket b's shares at the other levels (their routing terms; their load terms go into `load`), and the
        miss terms of all its shares. `base` maps config index -> variable of b's share at the SLO's own level.

        A looser level is offered only where it buys capacity over every tighter level the config has (else
        it only adds misses); a tighter one wherever the config can serve at it."""
        p, m = self.problem, self.model
        levels, rate = p.levels, float(p.rates[b])
        self.miss += [(v, rate * levels[0].miss) for k, v in base.items() if fronts(p.configs[k])]
        routed: Terms = []
        for k in range(len(p.configs)):
            best = float(p.max_rps[k, b])
            for j in sorted(range(1, len(levels)), key=lambda j: -levels[j].percentile):
                cap = float(levels[j].max_rps[k, b])
                looser = levels[j].percentile < levels[0].percentile
                if cap <= 0 or (looser and cap <= best):
                    continue
                best = max(best, cap)
                v = self.shares[(b, k, j)] = m.add_variable(f"x_{b}_{k}_q{j}", 0.0, 1.0)
                routed.append((v, 1.0))
                load[k].append((v, rate / cap))
                self.miss.append((v, rate * levels[j].miss))
        return routed

    def at_own_level(self, b: int, routed: Terms) -> None:
        """Miss terms of bucket b's other shares at the SLO's own percentile (`routed`: the pool-size tier shares of
        prefill configs, planner.optimize.pooling)."""
        self.miss += [(v, float(self.problem.rates[b]) * self.problem.levels[0].miss) for v, _ in routed]
        self.own.setdefault(b, []).extend(v for v, _ in routed)

    def budget(self) -> None:
        """The miss-budget row over every bucket's shares."""
        p = self.problem
        total = float(p.rates[p.rates > 0].sum())
        self.model.add_constraint("miss_budget", self.miss, "<=", p.levels[0].miss * total)

    def decode(self, values: list[float], base: dict[tuple[int, int], int]) -> tuple[dict[tuple[int, ReplicaSpec], float],
                                                                                  dict[tuple[int, ReplicaSpec], float], dict[int, float]]:
        """Shares summed over levels per (bucket, config), the effective capacity of each such cell (share over the
        load it puts on the config: what a replica carries of that bucket's mix of levels), and each bucket's
        percentile (its levels' percentiles weighted by share)."""
        p, spec = self.problem, self.problem.configs
        share: dict[tuple[int, int], float] = {}
        load: dict[tuple[int, int], float] = {}
        level_of: dict[int, float] = {}
        cells = [((b, k, 0), v) for (b, k), v in base.items()] + list(self.shares.items())
        for (b, k, j), v in cells:
            x = float(values[v] or 0)
            if x <= 0:
                continue
            cap = float(p.levels[j].max_rps[k, b])
            share[(b, k)] = share.get((b, k), 0.0) + x
            load[(b, k)] = load.get((b, k), 0.0) + x / cap
            if fronts(spec[k]):  # a decode share repeats its prefill share (the pair rows)
                level_of[b] = level_of.get(b, 0.0) + x * p.levels[j].percentile
        for b, variables in self.own.items():
            level_of[b] = level_of.get(b, 0.0) + sum(float(values[v] or 0) for v in variables) * p.levels[0].percentile
        shares = {(b, spec[k]): s for (b, k), s in share.items()}
        capacity = {(b, spec[k]): s / load[(b, k)] for (b, k), s in share.items() if load[(b, k)] > 0}
        return shares, capacity, level_of


def served_percentiles_note(percentiles: dict[int, float], labels: list[str], slo_percentile: float) -> str | None:
    """`fleet SLO scope: p99 over all requests; buckets below p99: in 32768+ / out 1-63 at p90.0; the rest at p99.1-99.9`."""
    if not percentiles:
        return None
    below = sorted((q, b) for b, q in percentiles.items() if q < slo_percentile - 1e-6)
    rest = [q for q in percentiles.values() if q >= slo_percentile - 1e-6]
    head = f"fleet SLO scope: p{slo_percentile:g} over all requests"
    if not below:
        return head + "; every bucket at or above it"
    parts = ", ".join(f"{labels[b]} at p{q:.1f}" for q, b in below)
    tail = f"; the rest at p{min(rest):.1f}-{max(rest):.1f}" if rest else ""
    return f"{head}; buckets served below p{slo_percentile:g}: {parts}{tail}"
