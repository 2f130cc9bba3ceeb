"""Chunked prefill: a mixed step by hand, the full-step TPOT check, the chunk-budget search, the two-pass scan."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.buckets import Bucket
from planner.perf import capacity
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
def test_two_pass_scan_finds_the_full_scan_capacity(chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    buckets = (Bucket(1, 128, 1, 64, 1.0, 60.0, 30.0, 125.0, 127, 63, tuple(np.linspace(1, 63, 10)), tuple(np.linspace(1, 127, 10))),
               Bucket(512, 2048, 64, 256, 1.0, 1200.0, 150.0, 2000.0, 2047, 255),
               Bucket(2048, 8192, 256, 1024, 1.0, 5000.0, 600.0, 8000.0, 8191, 1023))
    slo = SLO(ttft_ms=2000, tpot_ms=50)
    cfgs = [config(m, g, tp=tp, engine=EngineParams(chunked_prefill=chunked, max_num_batched_tokens=2048))
            for m, g, tp in (("llama-3.1-8b", "h100", 1), ("llama-3.1-8b", "l4", 1), ("llama-3.1-70b", "a100-80gb", 4))]
    fast = [capacity_row(c, buckets, slo) for c in cfgs]
    monkeypatch.setattr(capacity, "_coarse", lambda size: np.arange(size))  # the first pass scans every point
    full = [capacity_row(c, buckets, slo) for c in cfgs]
    assert [[(c.max_rps, c.bound, c.detail, c.batch) for c in r] for r in fast] == \
           [[(c.max_rps, c.bound, c.detail, c.batch) for c in r] for r in full]
    assert any(c.max_rps > 0 for r in fast for c in r)
