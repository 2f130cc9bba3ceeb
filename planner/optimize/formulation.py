"""The fleet MILP (docs/methodology.md, "Optimizer"): build a LinearModel from a FleetProblem, and decode a
solver's values back into replicas and routing shares keyed by ReplicaSpec. Never names a solver.

  min  sum_k cost_k * n_k
  s.t. sum_k x[b,k] = 1                                  every bucket b is fully routed
       sum_b rate_b * x[b,k] / cap[b,k] <= rho * n_k      replicas of k have room (utilization target rho)
       n_k integer >= 0,  0 <= x[b,k] <= 1,  x[b,k] = 0 where cap[b,k] = 0
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.optimize.linear import LinearModel
from planner.optimize.problem import FleetProblem
from planner.schemas.replica import ReplicaSpec

SHARE_EPS = 1e-9
"""Routing shares below this are solver noise (HiGHS' default primal feasibility tolerance is 1e-7)."""


@dataclass(frozen=True)
class FleetSolution:
    """Replicas per config and routing shares per (bucket index, config)."""

    replicas: dict[ReplicaSpec, int] = field(default_factory=dict)
    shares: dict[tuple[int, ReplicaSpec], float] = field(default_factory=dict)

    def cost_per_hour(self, problem: FleetProblem) -> float:
        cost = dict(zip(problem.configs, problem.costs))
        return float(sum(cost[spec] * n for spec, n in self.replicas.items()))


@dataclass
class FleetFormulation:
    """The MILP of one FleetProblem: `model` plus the variable indices `decode` reads."""

    problem: FleetProblem
    model: LinearModel = field(init=False)
    replicas: dict[int, int] = field(init=False, default_factory=dict)
    """config index -> variable index of n_k."""
    shares: dict[tuple[int, int], int] = field(init=False, default_factory=dict)
    """(bucket, config index) -> variable index of x[b,k]."""

    def __post_init__(self) -> None:
        self.model = LinearModel("fleet")
        p, m = self.problem, self.model
        n_configs, n_buckets = p.max_rps.shape
        load: dict[int, list[tuple[int, float]]] = {k: [] for k in range(n_configs)}
        for b in range(n_buckets):
            if p.rates[b] <= 0:
                continue
            routed = []
            for k in range(n_configs):
                if p.max_rps[k, b] > 0:
                    var = self.shares[(b, k)] = m.add_variable(f"x_{b}_{k}", 0.0, 1.0)
                    routed.append((var, 1.0))
                    load[k].append((var, float(p.rates[b] / p.max_rps[k, b])))
            m.add_constraint(f"route_{b}", routed, "=", 1.0)
        for k in range(n_configs):
            if not load[k]:
                continue
            most = sum(coef for _, coef in load[k])  # every bucket it can serve routed to it alone
            n = self.replicas[k] = m.add_variable(f"n_{k}", 0.0, math.ceil(most / p.rho + 1e-9), integer=True)
            m.add_constraint(f"room_{k}", load[k] + [(n, -p.rho)], "<=", 0.0)
        m.minimize([(n, float(p.costs[k])) for k, n in self.replicas.items()])

    def decode(self, values: list[float]) -> FleetSolution:
        """Replicas (rounded: integer variables come back within the solver's tolerance) and shares."""
        configs = self.problem.configs
        replicas = {configs[k]: int(round(values[v] or 0)) for k, v in self.replicas.items()}
        shares = {(b, configs[k]): float(values[v] or 0) for (b, k), v in self.shares.items()}
        return FleetSolution({s: n for s, n in replicas.items() if n > 0}, {key: x for key, x in shares.items() if x > SHARE_EPS})


def dominated(costs: np.ndarray, max_rps: np.ndarray) -> np.ndarray:
    """Configs another config beats: no dearer and at least as capable in every bucket (the first such
    config in order is kept on exact ties). Removing them never changes the optimum."""
    n = len(costs)
    out = np.zeros(n, dtype=bool)
    for k in range(n):
        no_dearer = costs <= costs[k]
        at_least = (max_rps >= max_rps[k]).all(axis=1)
        strictly = (costs < costs[k]) | (max_rps > max_rps[k]).any(axis=1)
        earlier_tie = ~strictly & (np.arange(n) < k)
        beats = no_dearer & at_least & (strictly | earlier_tie)
        beats[k] = False
        out[k] = bool(beats.any())
    return out
