"""The disaggregated rows of the fleet MILP: co-located vs prefill + decode per bucket, worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from planner.optimize.disagg import prune_groups
from planner.optimize.fleet import optimize_fleet
from planner.optimize.problem import FleetProblem
from planner.schemas.replica import ReplicaSpec

UNIFIED = ReplicaSpec("m", "h100", "bf16", "fp16", 4)
PREFILL = ReplicaSpec("m", "h100", "bf16", "fp16", 4, role="prefill")
DECODE = ReplicaSpec("m", "h100", "bf16", "fp16", 2, role="decode")
DECODE_FP8 = ReplicaSpec("m", "h100", "bf16", "fp8", 2, role="decode")


def _problem(unified_rps: float, rate: float = 10.0) -> FleetProblem:
    configs = (UNIFIED, PREFILL, DECODE)
    costs = np.array([40.0, 40.0, 20.0])  # $/h per replica: 4, 4 and 2 GPUs at $10/GPU-hour
    max_rps = np.array([[unified_rps], [2.0], [5.0]])  # one bucket; prefill 2 prompts/s, decode 5 req/s per replica
    return FleetProblem(configs, costs, max_rps, np.array([rate]), 1.0)


def test_prefill_heavy_bucket_goes_disaggregated():
    # 10 req/s. Co-located at 1 req/s per replica: 10 x $40 = $400/h. Disaggregated: 10 / 2 = 5 prefill replicas
    # ($200) + 10 / 5 = 2 decode replicas ($40) = $240/h. The MILP sends the whole bucket through the pair.
    out = optimize_fleet(_problem(1.0))
    assert out.cost_per_hour == pytest.approx(240.0)
    assert out.solution.replicas == {PREFILL: 5, DECODE: 2}
    assert out.solution.shares[(0, PREFILL)] == pytest.approx(1.0)
    assert out.solution.shares[(0, DECODE)] == pytest.approx(1.0)


def test_colocated_wins_when_cheaper():
    # co-located at 2 req/s per replica: 5 x $40 = $200/h < $240/h for the pair: disaggregation is rejected
    out = optimize_fleet(_problem(2.0))
    assert out.cost_per_hour == pytest.approx(200.0)
    assert out.solution.replicas == {UNIFIED: 5}


def test_split_bucket_and_ratio():
    # co-located 1.5 req/s per replica ($26.67 per req/s) vs the pair ($20 + $4 = $24 per req/s), rate 9: the pair
    # takes what fills whole replicas. All through the pair: 5 prefill (4.5) + 2 decode (1.8) = $240; mixed options
    # cost more, e.g. 3 co-located (4.5 req/s, $120) + 3 prefill (4.5 -> 2.25 -> 3: $120) + 1 decode ($20) = $260.
    out = optimize_fleet(_problem(1.5, rate=9.0))
    assert out.cost_per_hour == pytest.approx(240.0)


def test_decode_needs_a_prefill_partner_of_its_kv_dtype():
    # a decode pool alone cannot take a request; with only an fp8 decode config the fp16 prefill has no partner,
    # so the bucket must stay co-located
    configs = (UNIFIED, PREFILL, DECODE_FP8)
    problem = FleetProblem(configs, np.array([40.0, 40.0, 20.0]), np.array([[1.0], [2.0], [5.0]]), np.array([10.0]), 1.0)
    out = optimize_fleet(problem)
    assert out.solution.replicas == {UNIFIED: 10}


def test_pruning_compares_within_a_role():
    # the decode config is cheaper and faster than the co-located one, but cannot replace it
    assert list(prune_groups((UNIFIED, PREFILL, DECODE, DECODE_FP8))) == ["unified", "prefill/fp16", "decode/fp16", "decode/fp8"]
    out = optimize_fleet(FleetProblem((UNIFIED, DECODE), np.array([40.0, 20.0]), np.array([[1.0], [5.0]]), np.array([3.0]), 1.0))
    assert out.solution.replicas == {UNIFIED: 3}
