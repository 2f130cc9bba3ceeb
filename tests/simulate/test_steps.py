"""The simulator's step costs are the performance model's, not a copy of it."""
from __future__ import annotations

import numpy as np

from planner.perf.step import decode_step, mixed_step, prefill_step
from planner.simulate.steps import build_step_model


def test_decode_table_matches_decode_step(cfg):
    model = build_step_model(cfg)
    rng = np.random.default_rng(1)
    for batch in (1, 7, 64, 256):
        context = rng.integers(1, 20000, size=5)
        table = model.decode_times(batch, batch * context)
        direct = np.asarray(decode_step(cfg, float(batch), context.astype(float)).total_s)
        np.testing.assert_allclose(table, direct, rtol=1e-10)  # the same numbers up to float rounding of the affine table


def test_prefill_of_mixed_prompts_has_the_same_tokens_and_attention_work(cfg):
    model = build_step_model(cfg)
    # two equal prompts: exactly prefill_step(cfg, 500, 2)
    assert model.prefill_time(np.array([500, 500]), np.array([0, 0])) == float(prefill_step(cfg, 500.0, 2.0).total_s)
    # one prompt is prefill_step of that prompt
    assert model.prefill_time(np.array([1000]), np.array([0])) == float(prefill_step(cfg, 1000.0).total_s)


def test_kv_geometry(cfg):
    model = build_step_model(cfg)
    # vLLM's blocks (planner.perf.memory.vllm_kv_cache): 79.22 GiB x 0.9 - 14.96 weights - 1.00 activations
    # - 1.00 non-torch = 54.34 GiB over 2 MiB blocks (16 tokens x 128 KiB) = 27,823 blocks
    assert model.kv_blocks == 27823
    assert model.reserve_blocks == 0  # paged


def test_decode_run_is_decode_times_over_the_run(cfg):
    model = build_step_model(cfg)
    for batch, context, k in ((1, 1000, 50), (8, 8 * 3000, 200), (256, 256 * 500, 30), (64, 64 * 40000, 10)):
        contexts = context + batch * np.arange(1, k + 1)
        np.testing.assert_array_equal(model.decode_run(batch, context, k), model.decode_times(batch, contexts))


def test_single_prompt_table_is_prefill_step_exactly(cfg):
    model = build_step_model(cfg)
    assert len(model.prefill_one) == cfg.model.max_context + 1
    for prompt in (1, 17, 1000, 8191, 131072):
        assert model.prefill_time([prompt], [0]) == float(prefill_step(cfg, float(prompt)).total_s)
    # a chunk on top of cached tokens is not a single fresh prompt: same tokens and attention work as the uniform batch
    assert model.prefill_time([808], [192]) == float(prefill_step(cfg, (1000**2 - 192**2) / 808, 808**2 / (1000**2 - 192**2)).total_s)


def test_a_chunked_prefill_step_is_one_mixed_step(cfg):
    model = build_step_model(cfg)
    # 4 sequences at 1,000 tokens each plus a 512-token chunk of a fresh prompt (its tokens attend to 256 on average)
    mixed = model.mixed_time(4, 4 * 1000, [512], [0])
    assert mixed == float(mixed_step(cfg, 4.0, 1000.0, 512.0, extra_context=256.0).total_s)
    # one step reads the weights once: cheaper than a prefill step plus a decode step
    apart = model.prefill_time([512], [0]) + float(decode_step(cfg, 4.0, 1000.0).total_s)
    assert mixed < apart
    # a chunk of 300 tokens after 700 cached ones: (1000^2 - 700^2) / (2 x 300) = 850 tokens attended on average
    assert model.mixed_time(2, 2 * 50, [300], [700]) == float(mixed_step(cfg, 2.0, 50.0, 300.0, extra_context=850.0).total_s)
    # with no running sequence the step is a plain prefill
    assert model.mixed_time(0, 0, [1000], [0]) == model.prefill_time([1000], [0])


def test_the_specialised_mixed_step_is_mixed_step_bit_for_bit(catalog):
    """StepModel.mixed (a few float operations per step) gives mixed_step's float exactly, for dense and MoE
    models, TP 1 and 4 (all-reduces), weight-only INT4 (its small-M half-point) and without FlashAttention
    (score-matrix traffic); a fallback to the general call would only cost speed, so it is asserted absent."""
    from planner.perf.memory import ServingConfig
    from planner.schemas.replica import EngineParams

    from tests.simulate.conftest import EFF

    rng = np.random.default_rng(7)
    shapes = [("llama-3.1-8b", "bf16", 1, True), ("llama-3.1-70b", "bf16", 4, True), ("mixtral-8x7b", "bf16", 2, True),
              ("llama-3.1-8b", "int4", 1, True), ("llama-3.1-70b", "fp8", 2, True), ("llama-3.1-8b", "bf16", 2, False)]
    for model, quant, tp, flash in shapes:
        cfg = ServingConfig(catalog.model(model), catalog.gpu("h100"), catalog.quant(quant), catalog.kv_dtype("fp16"), tp, EFF,
                            EngineParams(flash_attention=flash))
        fast = build_step_model(cfg).mixed
        assert fast is not None, (model, quant, tp, flash)
        for _ in range(300):
            batch = float(rng.integers(1, 257))
            context, extra, extra_context = rng.integers(1, 100_000) / batch, float(rng.integers(1, 8193)), rng.random() * 20_000
            assert fast(batch, context, extra, extra_context) == float(mixed_step(cfg, batch, context, extra, extra_context=extra_context).total_s)
