"""Chunked prefill: a mixed step by hand, the full-step TPOT check, the chunk-budget search, the capacity search."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.buckets import Bucket
from planner.perf import search
from planner.perf.capacity import capacity_row, capacity_rows
from planner.perf.step import mixed_step
from planner.schemas.replica import EngineParams
from planner.schemas.workload import SLO
from tests.perf._configs import ROUND_EFF, config


def test_mixed_step_by_hand() -> None:
    # Llama-3.1-8B BF16 on one H100 with round efficiencies (half of 989.4 dense TFLOP/s, 80 % of 3,350 GB/s,
    # 1 ms a step): 8 sequences decoding at 2,000 tokens of context plus a 504-token prompt chunk attending
    # over 1,000 tokens on average, 512 tokens in all.
    #   linear FLOPs  2 x (8.03e9 - 1.0507e9 embedding) x 512 + LM head 2 x 128,256 x 4,096 x 8 = 7.1552e12
    #   -> 7.1552e12 / 4.947e14 = 14.464 ms  (weights 16.06 GB / 2.68 TB/s = 5.60 ms, hidden under it)
    #   KV reads 8 x 2,000 x 131,072 B = 2.097 GB / 2.68 TB/s = 0.783 ms  (attention 2.73e11 FLOP = 0.551 ms, hidden)
    #   + 1 ms overhead = 16.246 ms
    cfg = config("llama-3.1-8b", "h100", eff=ROUND_EFF)
    step = mixed_step(cfg, 8.0, 2000.0, 504.0, extra_context=1000.0)
    assert float(step.matmul_s) == pytest.approx(7.155236077568e12 / 4.947e14, rel=1e-9)
    assert float(step.kv_s) == pytest.approx(2.097152e9 / 2.68e12, rel=1e-9)
    assert float(step.total_s) == pytest.approx(0.016246307, rel=1e-6)


def _long_bucket() -> Bucket:
    # Mooncake-like long prompts with short outputs: 12k-16k prompts, 20-60 output tokens
    q_in = tuple(np.linspace(12_000, 16_000, 10).tolist())
    q_out = tuple(np.linspace(20, 60, 10).tolist())
    return Bucket(12_000, 16_001, 20, 61, 1.0, 14_000.0, 40.0, 15_960.0, 16_000, 60, q_out, q_in)


SLO_LONG = SLO(ttft_ms=30_000, tpot_ms=100)


def test_large_chunks_fail_long_prompts_on_the_full_step_and_small_ones_serve_them() -> None:
    # A 8192-token chunk of a 70B model on 4 x H100 takes well over 100 ms, so a short-output request that
    # decodes beside a 14k prompt misses TPOT: the cell has no capacity. 512-token chunks keep steps short.
    big = capacity_row(config("llama-3.1-70b", "h100", tp=4, engine=EngineParams(max_num_batched_tokens=8192)), (_long_bucket(),), SLO_LONG)[0]
    small = capacity_row(config("llama-3.1-70b", "h100", tp=4, engine=EngineParams(max_num_batched_tokens=512)), (_long_bucket(),), SLO_LONG)[0]
    assert big.max_rps == 0 and "a step full of prompt chunks (max_num_batched_tokens 8192)" in big.detail
    assert small.max_rps > 0


def test_budgets_together_equal_budgets_alone() -> None:
    buckets = (_long_bucket(), Bucket(512, 2048, 64, 256, 1.0, 1200.0, 150.0, 2000.0, 2047, 255))
    cfgs = [config("llama-3.1-70b", "h100", tp=4, engine=EngineParams(max_num_batched_tokens=b)) for b in (512, 2048, 8192)]
    together = capacity_rows(cfgs, buckets, SLO_LONG)
    for cfg, row in zip(cfgs, together):
        alone = capacity_row(cfg, buckets, SLO_LONG)
        assert [(c.max_rps, c.detail, c.batch, c.curve_rps) for c in row] == [(c.max_rps, c.detail, c.batch, c.curve_rps) for c in alone]


@pytest.mark.parametrize("chunked", [False, True])
def test_narrowing_search_finds_the_full_scan_capacity(chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # The search narrows (last pass, first failure) 3 points a pass; with more points a pass than any grid has,
    # its first pass evaluates every point of the grid: the scan it must agree with (capacity, what binds, batch
    # and the latency curves, whose points follow from the first failure).
    buckets = (Bucket(1, 128, 1, 64, 1.0, 60.0, 30.0, 125.0, 127, 63, tuple(np.linspace(1, 63, 10)), tuple(np.linspace(1, 127, 10))),
               Bucket(512, 2048, 64, 256, 1.0, 1200.0, 150.0, 2000.0, 2047, 255),
               Bucket(2048, 8192, 256, 1024, 1.0, 5000.0, 600.0, 8000.0, 8191, 1023))
    slo = SLO(ttft_ms=2000, tpot_ms=50)
    cfgs = [config(m, g, tp=tp, engine=EngineParams(chunked_prefill=chunked, max_num_batched_tokens=2048))
            for m, g, tp in (("llama-3.1-8b", "h100", 1), ("llama-3.1-8b", "l4", 1), ("llama-3.1-70b", "a100-80gb", 4))]
    fast = [capacity_row(c, buckets, slo) for c in cfgs]
    monkeypatch.setattr(search, "SEARCH_POINTS", 10_000)  # the first pass scans every point
    full = [capacity_row(c, buckets, slo) for c in cfgs]
    assert [[(c.max_rps, c.bound, c.detail, c.batch, c.curve_rps, c.curve_tpot_ms) for c in r] for r in fast] == \
           [[(c.max_rps, c.bound, c.detail, c.batch, c.curve_rps, c.curve_tpot_ms) for c in r] for r in full]
    assert any(c.max_rps > 0 for r in fast for c in r)


def test_prefill_utilization_is_the_prompts_share_of_time_by_hand() -> None:
    # Llama-3.1-8B BF16 on one H100, round efficiencies (test_mixed_step_by_hand): N = 8 sequences live, 4,000-token
    # prompts, 32-token outputs, budget 8,192 (room 8,184 beside the 8 decode tokens), context 4,016.
    #   mean step: 8 x 4,000 / 32 = 1,000 prompt tokens -> 31.613 ms; rps = 8 / (32 x 0.031613) = 7.908 req/s
    #   a step full of chunks (8,184 prompt tokens attending over 2,000 on average):
    #     linear 2 x 6.9793e9 x 8,192 + LM head 2 x 128,256 x 4,096 x 8 = 1.14357e14 / 4.947e14 = 231.17 ms
    #     attention 4 x 32 layers x 32 heads x 128 x (8 x 4,016 + 8,184 x 2,000) = 8.598e12 / 4.947e14 = 17.38 ms
    #     + 1 ms overhead = 249.55 ms
    #   rho = rps x 4,000 x 0.24955 / 8,184 = 0.9645 (the prompts' share of the budget, 1,000 / 8,184 = 0.122, was
    #   the utilization before: it missed that steps carrying chunks are 8x longer than the mean step)
    from planner.perf.load import Points, chunked_load

    cfg = config("llama-3.1-8b", "h100", eff=ROUND_EFF)

    def one(v: float) -> np.ndarray:
        return np.array([v])

    pts = Points(one(8), one(8 + 2.326 * 8**0.5), one(4000), one(32), one(4016), one(4000), one(0.3), one(0.3),
                 np.array([[4000.0]]), np.array([0]), np.array([0.0]), one(8192), one(np.inf))
    load = chunked_load(cfg, pts, 0.99)
    assert float(load.rps[0]) == pytest.approx(8 / (32 * 0.031612793), rel=1e-6)
    assert float(load.rho[0]) == pytest.approx(7.908191 * 4000 * 0.249546769 / 8184, rel=1e-6)
    assert float(load.rho[0]) == pytest.approx(0.96455, abs=1e-5)


def test_a_backlog_of_chunks_fills_more_steps_not_longer_ones_by_hand() -> None:
    # One output class of 3 tokens (2 gaps), one input class whose prompt adds 10 ms to the one step it rides in,
    # decode step (floor) 5 ms, prefill utilization 0.5: a busy period is 1 / (1 - 0.5) = 2 prompts, 20 ms of added
    # work. A step full of chunks adds at most 12 ms, so the busy period takes 20 / 12 = 1.667 steps of 12 ms and
    # adds 12 x min(1.667, 2) = 20 ms within the request's 2 gaps. A TPOT of 5 + 12 = 17 ms leaves 2 x 12 ms of
    # room: every step may gain its most and nobody is late, however likely interruptions are (rps 1000/s).
    from planner.perf.tail import Lateness
    one = np.ones(1)
    args = (np.array([[2.0]]), one, np.array([[0.010]]), None, 0.010 * one, 0.005 * one, 0.005 * one, 1000 * one, 0.5 * one)
    capped = Lateness.build(*args, cap=0.012 * one)
    assert capped.per_step[0, 0] == pytest.approx(0.012) and capped.steps[0, 0] == pytest.approx(20 / 12)
    assert capped.ceiling[0] == pytest.approx(0.012) and capped.costliest[0] == pytest.approx(0.020)
    assert capped.within(np.array([0.017]), 0.01)[0]
    assert not capped.within(np.array([0.0169]), 0.01)[0]  # nearly every request sees several busy periods
    # without the cap (serial prefill) a busy period is one 20 ms stretch and many of them are late at 17 ms
    uncapped = Lateness.build(*args)
    assert uncapped.per_step[0, 0] == pytest.approx(0.020) and uncapped.steps is None and np.isinf(uncapped.ceiling[0])
    assert not uncapped.within(np.array([0.017]), 0.01)[0]
    # a class's own step is never capped below itself: a 15 ms prompt against a 12 ms cap keeps 15 ms
    own = Lateness.build(np.array([[2.0]]), one, np.array([[0.015]]), None, 0.015 * one, 0.005 * one, 0.005 * one, one,
                         0.0 * one, cap=0.012 * one)
    assert own.per_step[0, 0] == pytest.approx(0.015) and own.ceiling[0] == pytest.approx(0.015)
