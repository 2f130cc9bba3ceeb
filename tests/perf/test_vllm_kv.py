"""KV blocks as vLLM allocates them, checked against published vLLM startup logs (docs/methodology.md,
"KV blocks as vLLM allocates them"), and the capacity model's KV limit is that allocation."""
from __future__ import annotations

import math

import pytest

from planner.io.catalog import load_catalog
from planner.perf.memory import GIB, max_batch, max_kv_tokens, tokens_reserved_per_sequence, vllm_kv_cache
from planner.schemas.replica import EngineParams
from planner.supply.replica import build_config

CATALOG = load_catalog(())

PUBLISHED = [
    # (source, model, gpu, tp, engine, published GPU blocks)
    # vLLM PR #2031 (v0.2.5, Dec 2023, fp16, gpu_memory_utilization 0.90; max_num_batched_tokens = max_model_len 4096):
    # "Llama2-7B with TP=1 and 1xA100-80GB ... # GPU blocks: 7351"
    ("vllm#2031 llama-2-7b A100-80GB TP1", "llama-2-7b", "a100-80gb", 1, EngineParams(max_num_batched_tokens=4096), 7351),
    # vLLM PR #10511 (v0.6.5.dev, Dec 2024, bf16, 0.90, max_model_len 8192): Meta-Llama-3-8B on H100, TP 1,
    # "available_kv_cache_memory 53.29GiB" -> 53.29 GiB // (16 tokens x 128 KiB) = 27,284 blocks
    ("vllm#10511 llama-3-8b H100 TP1", "llama-3-8b", "h100", 1, EngineParams(max_num_batched_tokens=8192), int(53.29 * GIB // (16 * 131072))),
    # The same PR, same build, `-tp 2`: "the current vLLM instance can use 71.29GiB", "model weights take 7.48GiB",
    # "non_torch_memory 3.58GiB", "PyTorch activation peak memory 1.26GiB" -> available 58.97 GiB; a block holds
    # 16 tokens x 64 KiB a GPU (4 of 8 KV heads) -> 58.97 GiB // 1 MiB = 60,385 blocks
    ("vllm#10511 llama-3-8b H100 TP2", "llama-3-8b", "h100", 2, EngineParams(max_num_batched_tokens=8192), int((71.29 - 7.48 - 3.58 - 1.26) * GIB // (16 * 65536))),
]


@pytest.mark.parametrize("source, model, gpu, tp, engine, published", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_blocks_within_3_percent_of_published_logs(source, model, gpu, tp, engine, published) -> None:  # noqa: ANN001
    k = vllm_kv_cache(build_config(CATALOG, model, gpu, "bf16", "fp16", tp, engine))
    assert abs(k.blocks / published - 1) <= 0.03, (source, k.blocks, published)


def test_llama2_7b_a100_by_hand() -> None:
    # 79.15 GiB x 0.9 = 71.235 GiB; weights 6.74e9 x 2 B = 12.554 GiB; activations 4096 x 2 x (3 x 11008 + 3.5 x 4096)
    # = 0.3613 GiB + logits 256 x 32000 x 4 B = 0.0305 GiB; non-torch 1.0 GiB -> KV 57.2889 GiB;
    # block = 16 x 32 layers x 2 x 32 heads x 128 x 2 B = 8 MiB -> 57.2889 GiB x 128 = 7332.98: 7332 blocks
    k = vllm_kv_cache(build_config(CATALOG, "llama-2-7b", "a100-80gb", "bf16", "fp16", 1, EngineParams(max_num_batched_tokens=4096)))
    assert k.budget_bytes / GIB == pytest.approx(71.235)
    assert k.block_bytes == 8 * 2**20
    assert k.kv_bytes / GIB == pytest.approx(57.289, abs=0.005)
    assert k.blocks == 7332 and k.tokens == 7332 * 16


def test_tp4_llama2_70b_on_vllm_0_2_5_is_outside_the_modelled_accounting() -> None:
    # vLLM PR #2031: "Llama2-70B with TP=4 and 4xA100-80GB ... # GPU blocks: 20865" (the build before it: 31615).
    # That 2023 profiler counted ~13 GiB a GPU outside weights and activations at TP 4, which the memory-profiling
    # overhaul of PR #10511 (the accounting modelled here) no longer shows: at TP 2 it logs 1.79 GiB of NCCL and
    # all-reduce buffers. The formula lands between the two builds; docs/methodology.md lists the row as not modelled.
    k = vllm_kv_cache(build_config(CATALOG, "llama-2-70b", "a100-80gb", "bf16", "fp16", 4, EngineParams(max_num_batched_tokens=4096)))
    assert 20865 * 1.3 < k.blocks < 31615


def test_per_gpu_under_tp_and_engine_knobs() -> None:
    one = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp16", 4, EngineParams()))
    two = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp16", 8, EngineParams()))
    assert two.weights_bytes == pytest.approx(one.weights_bytes / 2)  # weights split over TP
    assert two.block_bytes == pytest.approx(one.block_bytes / 2)  # 8 KV heads over 4 -> 2 a GPU, over 8 -> 1
    fp8 = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp8", 4, EngineParams()))
    assert fp8.blocks == math.floor(one.kv_bytes / (one.block_bytes / 2))  # fp8 KV: same budget, half-size blocks
    low = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp16", 4, EngineParams(gpu_memory_utilization=0.8)))
    assert one.kv_bytes - low.kv_bytes == pytest.approx(0.1 * one.total_bytes)
    big = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp16", 4, EngineParams(max_num_batched_tokens=16384)))
    assert big.activation_bytes > one.activation_bytes and big.blocks < one.blocks
    blocks32 = vllm_kv_cache(build_config(CATALOG, "llama-3.1-70b", "h100", "bf16", "fp16", 4, EngineParams(block_size=32)))
    assert blocks32.blocks == one.kv_bytes // (2 * one.block_bytes) and blocks32.tokens <= one.tokens
    assert one.non_torch_bytes - vllm_kv_cache(build_config(CATALOG, "llama-3.1-8b", "h100", "bf16", "fp16", 1, EngineParams())).non_torch_bytes \
        == pytest.approx(1.79 * GIB)  # NCCL buffers only with TP (vLLM PR #10511: 3.58 - 1.79 GiB)


@pytest.mark.parametrize("model, gpu, tp", [("llama-3.1-8b", "l4", 1), ("llama-3.1-8b", "h100", 1), ("llama-3.1-70b", "h100", 4),
                                            ("llama-3.1-70b", "a100-80gb", 8)])
def test_capacity_model_never_holds_more_than_vllm_allocates(model: str, gpu: str, tp: int) -> None:
    cfg = build_config(CATALOG, model, gpu, "bf16", "fp16", tp, EngineParams())
    k = vllm_kv_cache(cfg)
    assert max_kv_tokens(cfg) == k.tokens
    for context in (300, 2000, 8000):
        assert max_batch(cfg, context) * tokens_reserved_per_sequence(cfg, context) <= k.tokens
