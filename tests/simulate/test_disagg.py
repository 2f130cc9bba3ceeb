"""Replay of disaggregated pools: prefill replica -> KV transfer on the sender's link -> decode replica."""
from __future__ import annotations

import numpy as np
import pytest

from planner.io.traces import Trace
from planner.perf.disagg import kv_transfer_s
from planner.schemas.workload import SLO
from planner.simulate.disagg import transfer_done
from planner.simulate.replay import SimPool, simulate
from planner.simulate.request_log import RequestLog
from planner.simulate.router import RouteTable
from planner.simulate.steps import build_step_model
from planner.supply.disagg import role_config

from tests.perf._configs import config

SLO_LONG = SLO(ttft_ms=8000, tpot_ms=50, percentile=99)


def _pair() -> tuple[list[SimPool], RouteTable]:
    prefill = role_config(config("llama-3.1-70b", "h100", "bf16", tp=4, kv="fp8"))
    decode = role_config(config("llama-3.1-70b", "h100", "bf16", tp=4, kv="fp8"))
    pools = [SimPool("h100/bf16/tp4/kv-fp8/prefill", prefill, 1, "prefill"), SimPool("h100/bf16/tp4/kv-fp8/decode", decode, 1, "decode")]
    # one bucket (any prompt below 100k, any output below 4096): all of it through the pair
    return pools, RouteTable(np.array([1]), np.array([100_000]), np.array([1]), np.array([4096]), np.array([[1.0, 1.0]]))


def test_one_request_ttft_is_prefill_plus_transfer():
    pools, routes = _pair()
    trace = Trace(np.array([0.0]), np.array([8192]), np.array([11]))
    result = simulate(pools, routes, trace, SLO_LONG, 131_072)
    # prefill: one serial step over the 8192-token prompt on the prefill replica; transfer: 8192 x 163,840 B (FP8 KV)
    # over 4 x 400 Gb/s at 80 % = 8.389 ms (tests/perf/test_disagg.py); the decode replica admits it at once
    prefill_s = build_step_model(pools[0].cfg).prefill_time([8192], [0])
    send_s = float(kv_transfer_s(pools[0].cfg, 8192))
    assert send_s == pytest.approx(8.388608e-3)
    assert result.log.first_token[0] == pytest.approx(prefill_s + send_s, rel=1e-9)
    # then 10 decode steps of a batch of one on the decode replica
    assert result.log.finish[0] > result.log.first_token[0]
    rows = {row["pool"]: row for row in result.summary["pools"]}
    assert rows["h100/bf16/tp4/kv-fp8/prefill"]["requests"] == rows["h100/bf16/tp4/kv-fp8/decode"]["requests"] == 1
    assert result.met


def test_transfers_queue_on_the_senders_link():
    # three prefills finish at 0, 0 and 10 s on replica 0 of pool 0, each transfer taking 2 s: the second waits for
    # the first (0 -> 2 -> 4), the third finds the link free (10 -> 12); one on replica 1 is on its own link (0 -> 3)
    log = RequestLog(np.zeros(4), np.full(4, 100), np.full(4, 10))
    log.first_token[:] = [0.0, 0.0, 10.0, 0.0]
    log.replica[:] = [0, 0, 0, 1]
    rids, pool = np.arange(4), np.zeros(4, dtype=np.int64)
    done = transfer_done(log, rids, pool, {0: np.array([2.0, 2.0, 2.0, 3.0])})
    assert done.tolist() == [2.0, 4.0, 12.0, 3.0]


def test_decode_scheduler_admits_without_compute(cfg):
    # a transferred request joins at once (its first token at arrival), then one decode step per further token
    from planner.simulate.router import run_pool

    model = build_step_model(cfg)
    log = RequestLog(np.array([1.0]), np.array([1000]), np.array([3]), np.array([1000]))
    replica = run_pool(model, 1, np.array([0]), log, "round-robin", "decode")[0]
    assert log.first_token[0] == 1.0
    steps = model.decode_times(1, np.array([1001])), model.decode_times(1, np.array([1002]))
    assert log.finish[0] - log.first_token[0] == pytest.approx(float(steps[0][0] + steps[1][0]), rel=1e-12)
    assert replica.served == 1 and replica.preemptions == 0
