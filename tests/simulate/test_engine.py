"""Replica scheduler: hand-checked single-request latencies, KV limits, preemption, chunked prefill."""
from __future__ import annotations

import numpy as np
import pytest

from planner.perf.step import decode_step, prefill_step
from planner.simulate.request_log import RequestLog
from planner.simulate.router import run_pool
from planner.simulate.steps import build_step_model
from planner.schemas.replica import EngineParams as Engine

from .conftest import make_config, poisson_trace


def _single(cfg, prompt: int, output: int, chunked: bool = False) -> RequestLog:
    log = RequestLog(np.array([0.0]), np.array([prompt]), np.array([output]))
    run_pool(build_step_model(cfg), 1, np.array([0]), log, "round-robin", "chunked" if chunked else "serial")
    return log


def test_single_request_ttft_and_tpot_are_the_model_step_times(cfg):
    log = _single(cfg, 1000, 11)
    # Llama-3.1-8B bf16 on one H100 (989.4 TFLOPS, 3,350 GB/s), compute eff 0.6, bandwidth eff 0.8, overhead 1 ms + 32 x 50 us:
    # prefill 1000 tokens: 2 x 6.979e9 x 1000 + 2 x 525.3e6 FLOP / (989.4e12 x 0.6 x 1000/1064) = 25.020 ms matmul
    #   + 2 x 32 x 32 x 128 x 1000^2 / same = 0.470 ms attention + 2.6 ms overhead = 28.090 ms
    ttft = log.first_token[0] - log.arrival[0]
    assert ttft == pytest.approx(28.090e-3, rel=1e-4)
    assert ttft == pytest.approx(float(prefill_step(cfg, 1000.0).total_s), rel=1e-12)
    # decode at batch 1, contexts 1001..1010 (mean 1005.5): linear layers max(matmul, 15.009e9 weight bytes /
    #   (3350e9 x 0.8) = 5.6005 ms) = 5.6005 ms; attention max(4 x 32 x 32 x 128 x 1005.5 FLOP / (989.4e12 x 0.6
    #   x 1/65) = 0.0577 ms, KV 1005.5 x 131072 B / 2680e9 = 0.0492 ms) = 0.0577 ms; + 2.6 ms overhead = 8.2582 ms
    tpot = (log.finish[0] - log.first_token[0]) / 10
    assert tpot == pytest.approx(8.2582e-3, rel=1e-4)
    steps = np.asarray(decode_step(cfg, 1.0, np.arange(1001, 1011, dtype=float)).total_s)
    assert tpot == pytest.approx(steps.mean(), rel=1e-12)


def test_one_output_token_finishes_at_prefill(cfg):
    log = _single(cfg, 300, 1)
    assert log.finish[0] == log.first_token[0] == pytest.approx(float(prefill_step(cfg, 300.0).total_s))


def test_chunked_prefill_splits_a_long_prompt_at_the_token_budget(cfg):
    model = build_step_model(cfg)
    log = _single(cfg, 10000, 2, chunked=True)
    # 8192 tokens, then 1808 tokens on top of 8192 cached ones
    expected = model.prefill_time(np.array([8192]), np.array([0])) + model.prefill_time(np.array([1808]), np.array([8192]))
    assert log.first_token[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("paged", "model_id"), [(True, "llama-3.1-8b"), (False, "llama-2-7b")])
def test_kv_occupancy_never_exceeds_capacity(catalog, paged, model_id):
    # A 0.3 memory fraction leaves a small KV cache (Llama-3.1-8B: 2,941 blocks = 47k tokens): overload it.
    engine = Engine(gpu_memory_utilization=0.3 if paged else 0.5, paged_kv=paged)
    cfg = make_config(catalog, engine, model_id)
    model = build_step_model(cfg)
    trace = poisson_trace(50.0, 600, seed=3, prompt=(600, 0.5), output=(300, 0.5))
    log = RequestLog(trace.arrival_s, np.minimum(trace.input_tokens, 2000), np.minimum(trace.output_tokens, 2000))
    replica = run_pool(model, 1, np.arange(len(trace)), log, "round-robin", record=True)[0]
    blocks = np.array([row[3] for row in replica.timeline])
    assert blocks.max() <= model.kv_blocks
    assert replica.kv_peak <= model.kv_blocks
    assert np.isfinite(log.finish).all()
    if paged:
        assert replica.kv_peak > 0.9 * model.kv_blocks  # the cache really filled up
        assert replica.preemptions > 0 and log.preemptions.sum() == replica.preemptions
    else:
        # contiguous: each sequence reserves Llama-2's whole 4,096-token context = 256 blocks, up front; never preempted
        assert model.reserve_blocks == 256
        assert replica.kv_peak == 256 * (model.kv_blocks // 256) and replica.preemptions == 0


def test_littles_law_on_a_steady_run(cfg):
    trace = poisson_trace(6.0, 4000, seed=5)
    log = RequestLog(trace.arrival_s, trace.input_tokens, trace.output_tokens)
    replica = run_pool(build_step_model(cfg), 1, np.arange(len(trace)), log, "round-robin", record=True)[0]
    # L: the scheduler's own count of requests in the system (waiting + batch), time-averaged
    t, waiting, batch, _ = (np.array(c, dtype=float) for c in zip(*replica.timeline))
    in_system = waiting + batch
    horizon = log.finish.max()
    dt = np.diff(np.append(t, horizon))
    lo, hi = 0.2 * horizon, 0.8 * horizon  # steady window, away from start-up and drain
    seg = (t >= lo) & (t < hi)
    L = float((in_system[seg] * dt[seg]).sum() / dt[seg].sum())
    # lambda * W from the requests' own timestamps, for arrivals in the same window
    arrived = (log.arrival >= lo) & (log.arrival < hi)
    lam = arrived.sum() / (hi - lo)
    W = float((log.finish - log.arrival)[arrived].mean())
    assert L == pytest.approx(lam * W, rel=0.05)
