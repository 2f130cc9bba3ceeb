"""The fleet MILP (docs/methodology.md, "Optimizer"); builds the problem, never names a solver.

  min  sum_k cost_k * n_k
  s.t. sum_k x[b,k] = 1                                  every bucket b is fully routed
       sum_b rate_b * x[b,k] / cap[b,k] <= rho * n_k      replicas of k have room (utilization target rho)
       n_k integer >= 0,  0 <= x[b,k] <= 1,  x[b,k] = 0 where cap[b,k] = 0
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pulp


@dataclass
class FleetMILP:
    """The PuLP problem with handles on its variables."""

    problem: pulp.LpProblem
    replicas: dict[int, pulp.LpVariable]
    shares: dict[tuple[int, int], pulp.LpVariable]


def build_fleet_milp(costs: np.ndarray, max_rps: np.ndarray, rates: np.ndarray, rho: float, name: str = "fleet") -> FleetMILP:
    """Build the MILP for configs with `costs` ($/h per replica) and capacities `max_rps[k, b]`."""
    n_configs, n_buckets = max_rps.shape
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    shares: dict[tuple[int, int], pulp.LpVariable] = {}
    load: dict[int, list] = {k: [] for k in range(n_configs)}
    for b in range(n_buckets):
        if rates[b] <= 0:
            continue
        for k in range(n_configs):
            if max_rps[k, b] > 0:
                var = prob.add_variable(f"x_{b}_{k}", lowBound=0, upBound=1)
                shares[(b, k)] = var
                load[k].append(rates[b] / max_rps[k, b] * var)
        prob += pulp.lpSum(var for (bb, _), var in shares.items() if bb == b) == 1, f"route_{b}"
    replicas: dict[int, pulp.LpVariable] = {}
    for k in range(n_configs):
        if not load[k]:
            continue
        most = sum(rates[b] / max_rps[k, b] for b in range(n_buckets) if rates[b] > 0 and max_rps[k, b] > 0)
        replicas[k] = prob.add_variable(f"n_{k}", lowBound=0, upBound=math.ceil(most / rho + 1e-9), cat="Integer")
        prob += pulp.lpSum(load[k]) <= rho * replicas[k], f"room_{k}"
    prob += pulp.lpSum(float(costs[k]) * var for k, var in replicas.items())
    return FleetMILP(prob, replicas, shares)


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
