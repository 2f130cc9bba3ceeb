"""The fleet SLO scope (planner.optimize.scope): hand-checked MILP optima, and an end-to-end plan cheaper than the
bucket scope's with both meeting their SLO in replay."""
from __future__ import annotations

import numpy as np
import pytest

from planner import api
from planner.optimize.fleet import optimize_fleet
from planner.optimize.problem import FleetProblem
from planner.schemas.replica import ReplicaSpec
from planner.simulate.verify import verify_plan
from planner.supply.levels import ServiceLevel, bucket_at, menu

K = ReplicaSpec("m", "g", "bf16", "fp16", 1)


def _problem(levels: bool) -> FleetProblem:
    # bucket A: 9.9 req/s, 1.0 req/s per replica at p99, 0.9 at p99.9; bucket B (rare, expensive): 0.1 req/s,
    # 0.01 req/s per replica at p99, 0.1 at p90
    at_p99 = np.array([[1.0, 0.01]])
    menu_levels = (ServiceLevel(99.0, at_p99), ServiceLevel(99.9, np.array([[0.9, 0.0]])), ServiceLevel(90.0, np.array([[1.0, 0.1]])))
    return FleetProblem((K,), np.array([1.0]), at_p99, np.array([9.9, 0.1]), 1.0, levels=menu_levels if levels else ())


def test_bucket_scope_pays_for_the_rare_bucket_at_p99() -> None:
    # 9.9 / 1.0 + 0.1 / 0.01 = 19.9 replicas -> 20
    out = optimize_fleet(_problem(levels=False))
    assert out.solution is not None and out.solution.replicas == {K: 20}


def test_fleet_scope_serves_the_rare_bucket_looser_and_pays_with_a_tighter_common_one() -> None:
    # budget: 1 % of 10 req/s = 0.1 req/s outside the SLO. B at p90 misses 0.1 x 0.1 = 0.01; A at p99 would miss
    # 0.099, 0.109 in all: a share a of A must move to p99.9: 9.9 ((1 - a) 0.01 + a 0.001) + 0.01 <= 0.1 gives
    # a >= 0.009 / 0.0891 = 0.10101. Load: A 9.9 ((1 - a) / 1 + a / 0.9) = 9.9 + 1.1 a, B 0.1 / 0.1 = 1:
    # 10.9 + 1.1 x 0.10101 = 11.011 replicas -> 12 (the bucket scope needs 20)
    out = optimize_fleet(_problem(levels=True))
    sol = out.solution
    assert sol is not None and sol.replicas == {K: 12}
    # 12 replicas leave room (0.99 of one), so the shares are not unique: B runs below p99, and the fleet within budget
    assert 90.0 <= sol.percentiles[1] < 99.0 and 99.0 <= sol.percentiles[0] <= 99.9
    # the plan's pools and headroom read each cell's effective capacity: B's lies between its p99 and p90 ones
    assert 0.01 < sol.capacity[(1, K)] <= 0.1
    miss = 9.9 * (1 - sol.percentiles[0] / 100) + 0.1 * (1 - sol.percentiles[1] / 100)
    assert miss <= 0.1 + 1e-9


def test_the_menu_and_the_tail_prompt_at_a_percentile() -> None:
    assert menu(99.0) == (99.9, 99.5, 98.0, 95.0, 90.0, 80.0)
    assert menu(90.0) == (99.0, 95.0, 80.0, 50.0)

    from planner.demand.buckets import Bucket

    b = Bucket(1, 100, 1, 10, 1.0, 50.0, 5.0, 99.0, 100, 9, input_q=tuple(float(x) for x in range(5, 100, 10)))
    assert bucket_at(b, 99.0) is b
    assert bucket_at(b, 80.0).input_p99 == pytest.approx(80.0)  # between the 75th (75) and 85th (85) percentile
    assert bucket_at(b, 99.5).input_p99 == pytest.approx(99.5)  # between the 99th (99) and the maximum (100)


RARE = {
    # 98 % short chat turns, 2 % prompts of 1k-12k tokens: at p99 TTFT 1 s an A100 TP1 replica can take only
    # 0.034 req/s of the long bucket (its 11.9k-token p99 prompt prefills in ~1 s), TP2 0.72; at p80 (9.8k-token
    # tail prompt) TP1 takes 0.72.
    "model": "llama-3.1-8b", "gpus": ["a100-80gb"], "engine": {"chunked_prefill": False},
    "slo": {"ttft_ms": 1000, "tpot_ms": 100, "percentile": 99},
    "traffic": {"rate_rps": 15, "buckets": {"input": [1, 1000], "output": [1]},
                "histogram": [{"input": [200, 800], "output": [100, 300], "share": 0.98},
                              {"input": [1000, 12000], "output": [50, 100], "share": 0.02}]},
}


@pytest.mark.parametrize("scope", ["bucket", "fleet"])
def test_a_rare_expensive_bucket_plans_cheaper_under_the_fleet_scope_and_both_hold_in_replay(scope: str) -> None:
    # bucket scope: the long bucket (0.3 req/s) needs 0.3 / 0.722 = 0.42 of a TP2 replica (TP1: 8.8 replicas), the
    # short one 14.7 / 15.19 = 0.97 of a TP1 or 0.63 of a TP2: one TP2 alone carries 1.05 > 0.8 (the target), so
    # TP1 + TP2 = 3 GPUs, $10.29/h at $3.43 per A100. Fleet scope: the long bucket at p80 (0.3 / 0.715 = 0.42
    # TP1) and the short at p99.9 (14.7 / 15.13 = 0.97): 1.39 <= 2 x 0.8 TP1 replicas = 2 GPUs, $6.86/h; misses
    # 0.3 x 0.2 + 14.7 x 0.001 = 0.075 <= 1 % of 15 = 0.15 req/s.
    plan = api.solve({**RARE, "slo": {**RARE["slo"], "scope": scope}})
    gpus = sum(p.gpus for p in plan.pools)
    assert (gpus, round(plan.cost_per_hour, 2)) == ((3, 10.29) if scope == "bucket" else (2, 6.86))
    check = verify_plan(plan)
    assert check.result.met and check.result.summary["slo_attainment"] >= 0.99
    if scope == "fleet":
        assert any(n.startswith("fleet SLO scope: p99 over all requests; buckets served below p99: in 1000-11999") for n in plan.notes)


PRE, DEC = ReplicaSpec("m", "g", "bf16", "fp16", 1, role="prefill"), ReplicaSpec("m", "g", "bf16", "fp16", 1, role="decode")


def test_a_disaggregated_pair_spends_the_miss_budget_once_per_request() -> None:
    # one bucket, 10 req/s; K (co-located) 1 req/s per replica at p99 and p99.9; a pair P + D 10 req/s each, at p99
    # only. Budget 1 % of 10 = 0.1 req/s: the whole bucket through the pair at p99 misses 0.1, within it, so one P
    # and one D ($2/h). Were the decode share counted too (it repeats the prefill share), the pair could carry at
    # most a share 1 - a with 0.2 (1 - a) + 0.01 a <= 0.1, a >= 0.526 on K at p99.9: 6 K replicas more ($8/h).
    at_p99 = np.array([[1.0], [10.0], [10.0]])
    levels = (ServiceLevel(99.0, at_p99), ServiceLevel(99.9, np.array([[1.0], [0.0], [0.0]])))
    out = optimize_fleet(FleetProblem((K, PRE, DEC), np.ones(3), at_p99, np.array([10.0]), 1.0, levels=levels))
    assert out.solution is not None and out.solution.replicas == {PRE: 1, DEC: 1}
    assert out.solution.percentiles[0] == pytest.approx(99.0)


def test_pool_size_tier_shares_of_a_prefill_pool_spend_the_miss_budget() -> None:
    # bucket A (10 req/s) only through the pair: P 4 req/s alone, 5.5 in a pool of >= 2 (2 replicas at that tier),
    # D 10 req/s; bucket B (0.1 req/s, rare) only on K: 0.01 req/s per replica at p99, 0.1 at p90. Budget 1 % of
    # 10.1 = 0.101: A at p99 misses 0.1 whichever of P's shares carries it, so B keeps at most 0.001 more: B at p90
    # would add 0.01, so B stays at p99 (0.1 / 0.01 = 10 K). 2 P + 1 D + 10 K = $13/h. Were the tier shares left out
    # of the budget, B would go to p90 on one K ($4/h).
    at_p99 = np.array([[0.0, 0.01], [4.0, 0.0], [10.0, 0.0]])
    levels = (ServiceLevel(99.0, at_p99), ServiceLevel(90.0, np.array([[0.0, 0.1], [0.0, 0.0], [0.0, 0.0]])))
    pooled = np.array([[[0.0, 0.01], [5.5, 0.0], [10.0, 0.0]]])
    out = optimize_fleet(FleetProblem((K, PRE, DEC), np.ones(3), at_p99, np.array([10.0, 0.1]), 1.0, levels=levels,
                                      pooled=pooled, tiers=(2,)))
    assert out.solution is not None and out.solution.replicas == {PRE: 2, DEC: 1, K: 10}
    assert out.solution.percentiles == pytest.approx({0: 99.0, 1: 99.0})


def test_the_fleet_scope_keeps_disaggregated_pairs_and_never_costs_more() -> None:
    # the agent example (long prompts, prefix hits) plans prefill and decode pools; under the fleet scope the same
    # pairs are offered at p99, so its plan is at most the bucket scope's
    bucket = api.solve("workloads/agent.yaml")
    fleet = api.solve("workloads/agent.yaml", overrides=["slo.scope=fleet"])
    assert {p.spec.role for p in fleet.pools} >= {"prefill", "decode"}
    assert fleet.cost_per_hour <= bucket.cost_per_hour + 1e-6
    assert not any("co-located replicas only" in n for n in fleet.notes)
