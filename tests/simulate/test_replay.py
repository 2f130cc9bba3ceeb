"""Fleet replay: routing by share, accounting of every request, determinism."""
from __future__ import annotations

import os

import numpy as np

from planner.simulate.replay import SimOptions, SimPool, simulate
from planner.simulate.router import RouteTable, route_requests
from planner.io.traces import Trace
from planner.schemas.workload import SLO

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


def test_pools_in_parallel_processes_give_the_serial_numbers(cfg):
    trace = poisson_trace(16.0, 1200, seed=9)
    pools = [SimPool("a", cfg, 2), SimPool("b", cfg, 1)]
    routes = _routes([[0.6, 0.4], [0.3, 0.7]])
    run = lambda jobs: simulate(pools, routes, trace, SLO_CHAT, cfg.model.max_context,  # noqa: E731
                                SimOptions(seed=3, jobs=jobs, record_timeline=True))
    serial, parallel = run(1), run(2)
    assert serial.summary == parallel.summary
    for name in ("admitted", "first_token", "finish", "preemptions", "replica"):
        np.testing.assert_array_equal(getattr(serial.log, name), getattr(parallel.log, name))
    assert [r.timeline for f in serial.fleets for r in f] == [r.timeline for f in parallel.fleets for r in f]
    assert all(r.log is parallel.log and r.m.cfg is cfg for f in parallel.fleets for r in f)


def test_pool_workers():
    from planner.simulate.pools import PARALLEL_MIN_REQUESTS, pool_workers

    assert pool_workers(1, [10**6, 10**6]) == 1
    assert pool_workers(8, [5, 0, 7]) == 2  # at most one process per pool with requests
    assert pool_workers(None, [100, 200]) == 1  # small runs stay serial
    assert pool_workers(0, [PARALLEL_MIN_REQUESTS, 1]) == min(2, os.cpu_count() or 1)
    # pools in the compiled loop replay faster than worker processes start: a run of them alone stays serial
    assert pool_workers(None, [10**6, 10**6], in_python=[0, 0]) == 1
    assert pool_workers(None, [10**6, 10**6], in_python=[0, PARALLEL_MIN_REQUESTS]) == min(2, os.cpu_count() or 1)
