"""planner/perf/memory.py: golden weight and KV bytes, TP splitting, paged vs contiguous batches."""
from __future__ import annotations

import pytest

from planner.perf.memory import (
    kv_bytes_per_token,
    kv_bytes_per_token_per_gpu,
    max_batch,
    max_kv_tokens,
    weight_bytes,
    weight_bytes_per_gpu,
)
from planner.perf.speculative import SpecDecode
from planner.schemas.replica import EngineParams as Engine
from tests.perf._configs import CATALOG, config


def test_kv_bytes_per_token_golden() -> None:
    # Llama-2-70B: 2 (K,V) x 80 layers x 8 KV heads x 128 head_dim x 2 bytes = 327,680 B
    assert kv_bytes_per_token(CATALOG.model("llama-2-70b"), CATALOG.kv_dtype("fp16")) == 327_680
    # Llama-3-8B, fp8 KV: 2 x 32 x 8 x 128 x 1 = 65,536 B
    assert kv_bytes_per_token(CATALOG.model("llama-3-8b"), CATALOG.kv_dtype("fp8")) == 65_536


def test_kv_heads_split_then_replicated_over_tp() -> None:
    # TP 4 splits 8 KV heads into 2 per GPU: 327,680 / 4 = 81,920 B
    assert kv_bytes_per_token_per_gpu(config("llama-2-70b", "h100", tp=4)) == 81_920
    # TP 8: one head per GPU = 40,960 B; Llama-2-7B (32 KV heads) at TP 8: 4 heads = 2x32x4x128x2 = 65,536 B
    assert kv_bytes_per_token_per_gpu(config("llama-2-70b", "h100", tp=8)) == 40_960
    assert kv_bytes_per_token_per_gpu(config("llama-2-7b", "h100", tp=8)) == 65_536


def test_weight_bytes_golden() -> None:
    # Llama-2-7B: 6.74e9 params, of which embeddings + untied LM head = 2 x 32,000 x 4,096 = 262,144,000.
    # bf16: every parameter 2 bytes -> 13.48e9 B.
    model = CATALOG.model("llama-2-7b")
    assert weight_bytes(model, CATALOG.quant("bf16")) == pytest.approx(13.48e9, rel=1e-12)
    # int4 (group 128, 4 B scale+zero): matmuls 6,477,856,000 x (0.5 + 4/128) = 3,441,361,000 B, embeddings 524,288,000 B
    assert weight_bytes(model, CATALOG.quant("int4")) == pytest.approx(3_965_649_000, rel=1e-12)
    # split evenly over TP
    assert weight_bytes_per_gpu(config("llama-2-7b", "h100", tp=2)) == pytest.approx(6.74e9, rel=1e-12)


def test_draft_model_adds_weights_and_kv() -> None:
    spec = SpecDecode(CATALOG.model("llama-2-7b"), 4, 0.7)
    plain, with_draft = config("llama-2-70b", "h100", tp=4), config("llama-2-70b", "h100", tp=4, spec=spec)
    assert weight_bytes_per_gpu(with_draft) - weight_bytes_per_gpu(plain) == pytest.approx(13.48e9 / 4, rel=1e-12)
    # draft KV per GPU: 2 x 32 layers x 8 of 32 heads x 128 x 2 B = 131,072 B
    assert kv_bytes_per_token_per_gpu(with_draft) - kv_bytes_per_token_per_gpu(plain) == 131_072


def test_max_kv_tokens_whole_blocks() -> None:
    tokens = max_kv_tokens(config("llama-3.1-8b", "h100"))
    assert tokens > 0 and tokens % 16 == 0


@pytest.mark.parametrize("gpu", sorted(CATALOG.gpus))
@pytest.mark.parametrize("tokens", [256, 2048, 8000])
def test_contiguous_never_admits_more_than_paged(gpu: str, tokens: int) -> None:
    paged = max_batch(config("llama-3.1-8b", gpu), tokens)
    contiguous = max_batch(config("llama-3.1-8b", gpu, engine=Engine(paged_kv=False)), tokens)
    assert contiguous <= paged


def test_model_that_does_not_fit_has_no_kv() -> None:
    assert max_kv_tokens(config("llama-3.1-70b", "h100")) == 0  # 141 GB of bf16 weights on one 80 GB GPU
