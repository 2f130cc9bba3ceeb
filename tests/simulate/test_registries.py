"""Replica schedulers and routing policies by name: lookups, errors, round-robin order, and one hand-checkable
request on every registered scheduler."""
from __future__ import annotations

import numpy as np
import pytest

from planner.simulate import policies
from planner.simulate.metrics import group_summary, request_latencies
from planner.simulate.policies import POLICIES, LeastLoaded, RoundRobin, routing_policy
from planner.simulate.replay import SimOptions
from planner.simulate.request_log import RequestLog
from planner.simulate.router import run_pool
from planner.simulate.schedulers import SCHEDULERS, scheduler_class
from planner.simulate.schedulers.base import ReplicaScheduler
from planner.simulate.steps import build_step_model

from .conftest import poisson_trace


def test_registered_names():
    assert sorted(SCHEDULERS) == ["chunked", "decode", "serial"]
    assert sorted(POLICIES) == ["least-loaded", "round-robin"]
    for name, cls in SCHEDULERS.items():
        assert issubclass(cls, ReplicaScheduler) and cls.name == name and scheduler_class(name) is cls
    for name, cls in POLICIES.items():
        assert cls.name == name and isinstance(routing_policy(name), cls)


def test_unknown_scheduler_name_lists_the_valid_ones(cfg):
    with pytest.raises(ValueError, match=r"unknown replica scheduler 'disaggregated'; valid: chunked, decode, serial"):
        scheduler_class("disaggregated")
    with pytest.raises(ValueError, match=r"valid: chunked, decode, serial"):
        SimOptions(scheduler="disaggregated")
    log = RequestLog(np.array([0.0]), np.array([10]), np.array([2]))
    with pytest.raises(ValueError, match=r"valid: chunked, decode, serial"):
        run_pool(build_step_model(cfg), 1, np.array([0]), log, "round-robin", "v0")


def test_unknown_policy_name_lists_the_valid_ones(cfg):
    with pytest.raises(ValueError, match=r"unknown routing policy 'random'; valid: least-loaded, round-robin"):
        routing_policy("random")
    with pytest.raises(ValueError, match=r"valid: least-loaded, round-robin"):
        SimOptions(policy="random")  # type: ignore[arg-type]
    log = RequestLog(np.array([0.0]), np.array([10]), np.array([2]))
    with pytest.raises(ValueError, match=r"valid: least-loaded, round-robin"):
        run_pool(build_step_model(cfg), 1, np.array([0]), log, "random")


def test_scheduler_name_defaults_from_chunked_prefill_and_an_explicit_name_wins():
    assert SimOptions().scheduler_name == "serial"
    assert SimOptions(chunked_prefill=True).scheduler_name == "chunked"
    assert SimOptions(scheduler="chunked").scheduler_name == "chunked"
    assert SimOptions(chunked_prefill=True, scheduler="serial").scheduler_name == "serial"


def test_round_robin_assigns_requests_in_turn(cfg):
    rr = RoundRobin()
    assert [rr.pick(n, [5, 0, 9]) for n in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    trace = poisson_trace(20.0, 10, seed=1)
    log = RequestLog(trace.arrival_s, trace.input_tokens, trace.output_tokens)
    run_pool(build_step_model(cfg), 3, np.arange(10), log, "round-robin")
    assert log.replica.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]


def test_least_loaded_picks_the_first_of_the_least_loaded():
    ll = LeastLoaded()
    assert ll.pick(0, [0, 0, 0]) == 0
    assert ll.pick(7, [3, 1, 1, 2]) == 1
    assert ll.pick(7, [3, 2, 4, 0]) == 3


def test_a_registered_policy_is_what_run_pool_uses(cfg, monkeypatch):
    class Last:
        name = "last"

        def pick(self, n: int, loads: list[int]) -> int:
            return len(loads) - 1

    monkeypatch.setitem(policies.POLICIES, "last", Last)
    log = RequestLog(np.array([0.0, 0.1, 0.2]), np.array([10, 10, 10]), np.array([2, 2, 2]))
    run_pool(build_step_model(cfg), 2, np.arange(3), log, "last")
    assert log.replica.tolist() == [1, 1, 1]


@pytest.mark.parametrize("name", sorted(set(SCHEDULERS) - {"decode"}))  # decode: tests/simulate/test_disagg.py
def test_one_request_alone_is_one_prefill_step_then_decode_steps(cfg, name):
    model = build_step_model(cfg)
    prompt = 1000  # within the 8,192-token budget: one step, whatever the scheduler
    log = RequestLog(np.array([0.0]), np.array([prompt]), np.array([2]))
    replica = run_pool(model, 1, np.array([0]), log, "round-robin", name)[0]
    ttft = log.first_token[0] - log.arrival[0]
    assert ttft == pytest.approx(model.prefill_time([prompt], [0]), rel=1e-12)
    # the second (last) token is one decode step of batch 1 at context prompt + 1
    tpot = log.finish[0] - log.first_token[0]
    assert tpot == pytest.approx(float(model.decode_times(1, np.array([prompt + 1]))[0]), rel=1e-12)
    assert replica.steps == 2 and replica.served == 1 and replica.preemptions == 0
    assert replica.busy_s == pytest.approx(log.finish[0], rel=1e-12)


def test_busy_over_the_arrival_window_stops_at_the_last_arrival(cfg):
    # One replica, a request at 0 s that finishes long before the second arrives at 5 s: up to that arrival the
    # replica was busy exactly the first request's time (the second's run starts at 5 s: 0 s of it counted), so
    # the busy share over the arrival window is finish_0 / 5; over the whole replay (to the second finish) the
    # drain of the second request dilutes it.
    model = build_step_model(cfg)
    log = RequestLog(np.array([0.0, 5.0]), np.array([1000, 1000]), np.array([2, 400]))
    replica = run_pool(model, 1, np.arange(2), log, "round-robin", "chunked")[0]
    assert log.finish[0] < 1.0 and log.finish[1] > 5.0
    assert replica.last_arrival_s == 5.0
    assert replica.busy_arriving_s == pytest.approx(log.finish[0], rel=1e-12)
    lat = request_latencies(log)
    met = np.ones(2, dtype=bool)
    row = group_summary(log, lat, met, met, met, [replica], float(log.finish[1]))
    assert row["gpu_utilization_arrival_window"] == pytest.approx(log.finish[0] / 5.0, rel=1e-12)
    assert row["gpu_utilization"] == pytest.approx(replica.busy_s / log.finish[1], rel=1e-12)
