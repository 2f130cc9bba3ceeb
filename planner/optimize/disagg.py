"""The disaggregated prefill/decode rows of the fleet MILP (docs/methodology.md, "Disaggregated prefill/decode").

Prefill configs p and decode configs q are configs of the problem like co-located ones k, with their own room
rows (sum_b rate_b x[b,p] / cap[b,p] <= rho n_p). Bucket b's traffic is split between co-located replicas and
prefill replicas (the route row sums x over k and p only), and every prompt a prefill pool takes of b needs
a decode pool with the same KV dtype (the KV handed over is in that dtype):

  sum_k x[b,k] + sum_p x[b,p] = 1                            (route row, FleetFormulation)
  sum_{q: kv_q = d} x[b,q] - sum_{p: kv_p = d} x[b,p] = 0      for every bucket b and KV dtype d (pair rows)

so the disaggregated share d_b = sum_p x[b,p] and the prefill:decode ratio of a pool pair both fall out of
the solve. Dominance pruning compares configs of one role (and KV dtype) only: a decode replica cannot stand
in for a co-located one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from planner.optimize.linear import LinearModel
from planner.schemas.replica import ReplicaSpec

if TYPE_CHECKING:
    from planner.optimize.problem import FleetProblem


def fronts(spec: ReplicaSpec) -> bool:
    """Whether a config takes a request first (co-located or prefill), i.e. appears in the route row."""
    return spec.role != "decode"


def prune_groups(configs: tuple[ReplicaSpec, ...], by_gpu: bool = False) -> np.ndarray:
    """A label per config that dominance may only compare within: its role (with the KV dtype for the roles of a
    pair), and its GPU type when `by_gpu`."""
    labels = [c.role if c.role == "unified" else f"{c.role}/{c.kv_dtype}" for c in configs]
    return np.array([f"{c.gpu}|{label}" if by_gpu else label for c, label in zip(configs, labels)])


def add_pair_rows(model: LinearModel, problem: "FleetProblem", shares: list[tuple[tuple[int, int], int]]) -> None:
    """The pair rows: each bucket's decode shares per KV dtype equal its prefill shares of that dtype (`shares`:
    ((bucket, config index), variable) of every share, pool-size tier shares included)."""
    pairs: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for (b, k), var in shares:
        spec = problem.configs[k]
        if spec.role != "unified":
            pairs.setdefault((b, spec.kv_dtype), []).append((var, 1.0 if spec.role == "decode" else -1.0))
    for (b, kv), terms in sorted(pairs.items()):
        model.add_constraint(f"pair_{b}_{kv}", terms, "=", 0.0)


def has_roles(configs: tuple[ReplicaSpec, ...]) -> bool:
    """Whether any config is one half of a disaggregated pair."""
    return any(c.role != "unified" for c in configs)


def colocated_rows(configs: tuple[ReplicaSpec, ...]) -> list[int]:
    """Rows of the co-located configs (the solve a disaggregated plan is compared with)."""
    return [k for k, c in enumerate(configs) if c.role == "unified"]
