"""Fleet replay: routing by share, accounting of every request, determinism."""
from __future__ import annotations

import numpy as np

from planner.simulate.replay import SimOptions, SimPool, simulate
from planner.simulate.router import RouteTable, route_requests
from planner.traces import Trace
from planner.workload import SLO

from .conftest import poisson_trace

SLO_CHAT = SLO(ttft_ms=1000, tpot_ms=50)


def _routes(shares: list[list[float]]) -> RouteTable:
    # bucket 0: input 1-2047, bucket 1: input 2048-8000; any output below 4096
    return RouteTable(np.array([1, 2048]), np.array([2048, 8001]), np.array([1, 1]), np.array([4096, 4096]), np.array(shares))


def test_route_requests_follows_shares_and_marks_unrouted():
    rng = np.random.default_rng(0)
    prompt = np.array([100] * 10000 + [3000] * 10000 + [9000])
    out = np.full(len(prompt), 50)
    pool = route_requests(_routes([[0.25, 0.75], [1.0, 0.0]]), prompt, out, rng)
    assert abs((pool[:10000] == 0).mean() - 0.25) < 0.02
    assert (pool[10000:20000] == 0).all()
    assert pool[-1] == -1


def test_no_request_is_lost_and_rejections_have_reasons(cfg):
    trace = poisson_trace(10.0, 2000, seed=2)
    # add one request longer than the 131,072-token context and one outside every bucket (input 9000)
    trace = Trace(np.append(trace.arrival_s, [5.0, 6.0]), np.append(trace.input_tokens, [130000, 9000]),
                  np.append(trace.output_tokens, [5000, 10]))
    order = np.argsort(trace.arrival_s, kind="stable")
    trace = Trace(trace.arrival_s[order], trace.input_tokens[order], trace.output_tokens[order])
    pools = [SimPool("a", cfg, 1), SimPool("b", cfg, 2)]
    result = simulate(pools, _routes([[0.5, 0.5], [0.0, 1.0]]), trace, SLO_CHAT, cfg.model.max_context)
    s = result.summary
    assert s["requests"] == 2002
    assert s["completed"] + s["rejected"] == s["requests"]
    assert s["rejected_by_reason"] == {"over_context": 1, "no_route": 1, "kv_too_small": 0}
    assert sum(p["requests"] for p in s["pools"]) == s["requests"] - 2
    assert sum(p["completed"] for p in s["pools"]) == s["completed"] == 2000
    assert 0 <= s["slo_attainment"] <= 1


def test_same_seed_same_result_other_seed_other_routing(cfg):
    trace = poisson_trace(12.0, 1500, seed=4)
    pools = [SimPool("a", cfg, 1), SimPool("b", cfg, 1)]
    routes = _routes([[0.5, 0.5], [0.5, 0.5]])
    run = lambda seed: simulate(pools, routes, trace, SLO_CHAT, cfg.model.max_context, SimOptions(seed=seed))  # noqa: E731
    a, b, c = run(7), run(7), run(8)
    assert a.summary == b.summary
    np.testing.assert_array_equal(a.log.finish, b.log.finish)
    assert not np.array_equal(a.pool_of, c.pool_of)


def test_round_robin_and_least_loaded_spread_requests_evenly(cfg):
    trace = poisson_trace(20.0, 3000, seed=6)
    routes = _routes([[1.0], [1.0]])
    for policy in ("round-robin", "least-loaded"):
        result = simulate([SimPool("a", cfg, 3)], routes, trace, SLO_CHAT, cfg.model.max_context, SimOptions(policy=policy))
        counts = np.bincount(result.log.replica, minlength=3)
        assert counts.sum() == 3000 and counts.min() > 800, (policy, counts)
