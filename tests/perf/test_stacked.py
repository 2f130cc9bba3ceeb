"""Many configs in one pass (planner.perf.step.StepConstants, planner.perf.capacity.every_row): the same floats
as one config at a time, for step times, capacity cells and latency curves (batched TPOT quantiles included)."""
from __future__ import annotations

import numpy as np

from planner.perf.capacity import capacity_row, every_row, prepare_curves
from planner.perf.speculative import SpecDecode
from planner.perf.step import StepConstants, decode_step, mixed_step, prefill_step
from planner.schemas.replica import EngineParams
from tests.perf._configs import CATALOG, config
from tests.perf.test_capacity import BUCKETS, SLO_CHAT

CONFIGS = [
    config("llama-3.1-8b", "h100"),
    config("llama-3.1-8b", "a100-80gb", tp=2, kv="fp8"),  # an all-reduce, an FP8 KV cache
    config("llama-3.1-8b", "l4", quant="int8"),
    config("llama-3.1-8b", "h100", tp=4, engine=EngineParams(flash_attention=False, max_num_batched_tokens=2048)),
    config("llama-3.1-8b", "h100", engine=EngineParams(chunked_prefill=False)),  # serial prefill: not stacked
    config("llama-3.1-8b", "h100", spec=SpecDecode(CATALOG.model("llama-3.2-1b"), 4, 0.7)),  # speculative: not stacked
]
STACKABLE = CONFIGS[:4]


def _fields(step: object) -> list[np.ndarray]:
    return [np.asarray(getattr(step, f)) for f in ("total_s", "weights_s", "kv_s", "matmul_s", "attention_s", "comm_s", "overhead_s")]


def test_stacked_step_times_are_each_configs_own_floats() -> None:
    # every point of config k gives exactly config k's own step time (bit for bit, not approximately)
    batch, context = np.array([1.0, 7.0, 64.0, 300.0]), np.array([100.0, 2000.0, 900.0, 12_000.0])
    n, which = len(batch), np.repeat(np.arange(len(STACKABLE)), len(batch))
    steps = StepConstants.stack(STACKABLE).take(which)
    b, c = np.tile(batch, len(STACKABLE)), np.tile(context, len(STACKABLE))
    stacked = (mixed_step(steps, b, c, 3 * b, extra_context=c / 2), decode_step(steps, b, c), prefill_step(steps, c, 2.0, cached=b))
    for k, cfg in enumerate(STACKABLE):
        own = (mixed_step(cfg, batch, context, 3 * batch, extra_context=context / 2), decode_step(cfg, batch, context),
               prefill_step(cfg, context, 2.0, cached=batch))
        for together, alone in zip(stacked, own):
            for x, y in zip(_fields(together), _fields(alone)):
                assert np.array_equal(np.broadcast_to(x, (len(which),))[k * n:(k + 1) * n], np.broadcast_to(y, (n,)))


def test_every_row_equals_each_config_alone() -> None:
    rows = every_row(CONFIGS, BUCKETS, SLO_CHAT)
    for cfg, row in zip(CONFIGS, rows):
        alone = capacity_row(cfg, BUCKETS, SLO_CHAT)
        for cell, own in zip(row, alone):
            assert (cell.max_rps, cell.bound, cell.detail, cell.batch, cell.ttft0_ms, cell.tpot0_ms) == \
                (own.max_rps, own.bound, own.detail, own.batch, own.ttft0_ms, own.tpot0_ms)
            assert (cell.curve_rps, cell.curve_ttft_ms, cell.curve_tpot_ms) == (own.curve_rps, own.curve_ttft_ms, own.curve_tpot_ms)
    assert sum(c.max_rps > 0 for row in rows for c in row) >= 3 * len(CONFIGS)  # the comparison is not of zeros only


def test_prepared_curves_are_the_curves_read_one_by_one() -> None:
    # TPOT quantiles of a few cells of several rows in one bisection: the values each row gives on its own
    asked = [row[b] for row in every_row(CONFIGS, BUCKETS, SLO_CHAT) for b in (0, 1)]
    prepare_curves(asked)
    fresh = [capacity_row(cfg, BUCKETS, SLO_CHAT)[b] for cfg in CONFIGS for b in (0, 1)]
    assert [c.curve_tpot_ms for c in asked] == [c.curve_tpot_ms for c in fresh]
    assert all(c.curve_tpot_ms for c in asked if c.max_rps > 0)
