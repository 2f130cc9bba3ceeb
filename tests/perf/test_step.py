"""planner/perf/step.py: golden memory-bound decode and compute-bound prefill, physical properties."""
from __future__ import annotations

import numpy as np
import pytest

from planner.perf.step import allreduce_s, decode_step, mixed_step, prefill_step
from tests.perf._configs import CATALOG, ROUND_EFF, Engine, config

ROOFLINE = ROUND_EFF.model_copy(update={"compute": {"bf16": 1.0, "fp8": 1.0, "int8": 1.0}, "bandwidth": 1.0, "step_overhead_ms": 0.0})
"""Peak FLOPs, peak bandwidth, no overheads: the pure roofline."""


def test_memory_bound_decode_golden() -> None:
    # Llama-2-7B bf16 on H100, batch 1, context 1000, ROUND_EFF (bandwidth 0.8 x 3350 GB/s = 2.68e12 B/s):
    #   weights read: matmuls 6,477,856,000 x 2 B + LM head 32,000 x 4,096 x 2 B = 13,217,856,000 B -> 4.932036 ms
    #   KV read: 1,000 tokens x (2 x 32 x 32 x 128 x 2 = 524,288 B) = 524,288,000 B             -> 0.195630 ms
    #   compute: 13.2 GFLOP at 0.5 x 989.4 TFLOPS = 0.027 ms  << memory, so memory-bound
    #   total = 4.932036 + 0.195630 + 1 ms step overhead = 6.127666 ms
    step = decode_step(config("llama-2-7b", "h100", eff=ROUND_EFF), 1.0, 1000.0)
    assert float(step.weights_s) == pytest.approx(13_217_856_000 / 2.68e12, rel=1e-9)
    assert float(step.kv_s) == pytest.approx(524_288_000 / 2.68e12, rel=1e-9)
    assert float(step.total_s) == pytest.approx(0.006127665671641791, rel=1e-9)
    assert not bool(step.compute_bound)


def test_compute_bound_prefill_golden() -> None:
    # Llama-2-7B bf16 on H100, one 4,096-token prompt, ROUND_EFF (0.5 x 989.4e12 = 494.7e12 FLOP/s):
    #   matmuls: 2 x 6,477,856,000 x 4,096 + LM head 2 x 32,000 x 4,096 (last token) = 53,066,858,496,000 FLOP
    #   attention: 2 x 32 layers x 32 heads x 128 x 4,096^2 = 4,398,046,511,104 FLOP
    #   compute = 57,464,905,007,104 / 494.7e12 = 116.161 ms; memory = (13.2e9 + 2.1e9 KV write) / 2.68e12 = 5.7 ms
    #   total = 116.161 + 1 ms = 117.161 ms
    step = prefill_step(config("llama-2-7b", "h100", eff=ROUND_EFF), 4096.0)
    assert float(step.matmul_s + step.attention_s) == pytest.approx(57_464_905_007_104 / 494.7e12, rel=1e-9)
    assert float(step.total_s) == pytest.approx(57_464_905_007_104 / 494.7e12 + 1e-3, rel=1e-9)
    assert bool(step.compute_bound)


def test_vectorised_batch_matches_scalar() -> None:
    cfg = config("llama-3.1-8b", "h100")
    batches = np.array([1.0, 8.0, 64.0, 256.0])
    vector = decode_step(cfg, batches, 700.0).total_s
    assert np.allclose(vector, [float(decode_step(cfg, b, 700.0).total_s) for b in batches])


@pytest.mark.parametrize("gpu", ["a100-80gb", "h100", "h200", "l40s", "l4", "a10g"])
def test_int4_never_slower_than_bf16_at_batch_1(gpu: str) -> None:
    for model in ("llama-2-7b", "llama-3.1-8b", "mistral-7b"):
        bf16, int4 = config(model, gpu), config(model, gpu, quant="int4")
        assert float(decode_step(int4, 1, 1024).total_s) <= float(decode_step(bf16, 1, 1024).total_s)


@pytest.mark.parametrize("quant", ["bf16", "fp8", "int4"])
def test_h200_decode_faster_than_h100_at_batch_1(quant: str) -> None:
    for model, tp in (("llama-3.1-8b", 1), ("llama-3.1-70b", 4)):
        h100, h200 = config(model, "h100", quant, tp), config(model, "h200", quant, tp)
        assert float(decode_step(h200, 1, 2048).total_s) < float(decode_step(h100, 1, 2048).total_s)


@pytest.mark.parametrize("gpu", sorted(CATALOG.gpus))
def test_never_faster_than_the_roofline(gpu: str) -> None:
    calibrated, roofline = config("llama-3.1-8b", gpu), config("llama-3.1-8b", gpu, eff=ROOFLINE)
    for batch in (1.0, 16.0, 256.0):
        assert float(decode_step(calibrated, batch, 1500).total_s) >= float(decode_step(roofline, batch, 1500).total_s)
    for prompt in (16.0, 512.0, 8192.0):
        assert float(prefill_step(calibrated, prompt).total_s) >= float(prefill_step(roofline, prompt).total_s)


def test_flash_attention_off_adds_score_traffic() -> None:
    from planner.schemas.replica import EngineParams as Engine

    on, off = config("llama-3.1-8b", "h100"), config("llama-3.1-8b", "h100", engine=Engine(flash_attention=False))
    assert float(prefill_step(off, 8192.0).kv_s) > float(prefill_step(on, 8192.0).kv_s)
    assert float(prefill_step(off, 8192.0).total_s) > float(prefill_step(on, 8192.0).total_s)


def test_mixed_step_without_extra_tokens_is_a_decode_step() -> None:
    cfg = config("llama-3.1-8b", "h100")
    assert float(mixed_step(cfg, 32.0, 900.0, 0.0).total_s) == pytest.approx(float(decode_step(cfg, 32.0, 900.0).total_s))


COMM_EFF = ROUND_EFF.model_copy(update={"allreduce_latency_us": 25.0, "allreduce_bw_efficiency": 0.8})
"""ROUND_EFF with a 25 us all-reduce latency and 80 % of the link's bandwidth."""


def test_allreduce_tp8_nvlink_by_hand() -> None:
    # Llama-3.1-70B decode of 16 sequences on 8 H100 (NVLink 450 GB/s per direction x 0.8 = 3.6e11 B/s):
    #   one all-reduce of 16 tokens x 8,192 hidden x 2 B = 262,144 B
    #   = 25 us + 2 x 7/8 x 262,144 / 3.6e11 = 25 us + 1.274311 us = 26.274311 us
    #   per step: 2 all-reduces x 80 layers = 160 x 26.274311 us = 4.203890 ms
    cfg = config("llama-3.1-70b", "h100", tp=8, eff=COMM_EFF)
    assert float(allreduce_s(cfg, 262_144.0)) == pytest.approx(25e-6 + 1.75 * 262_144 / 3.6e11, rel=1e-12)
    assert float(decode_step(cfg, 16.0, 1000.0).comm_s) == pytest.approx(160 * 26.274311e-6, rel=1e-6)


def test_allreduce_tp4_pcie_by_hand() -> None:
    # Llama-3.1-70B prefill of one 2,048-token prompt on 4 L40S (PCIe Gen4 32 GB/s per direction x 0.8 = 2.56e10 B/s):
    #   one all-reduce of 2,048 x 8,192 x 2 B = 33,554,432 B = 25 us + 2 x 3/4 x 33,554,432 / 2.56e10 = 1.991080 ms
    #   per step: 160 all-reduces = 318.5728 ms, about 10x the 188 us the same message takes over NVLink on H100
    cfg = config("llama-3.1-70b", "l40s", tp=4, eff=COMM_EFF)
    assert float(allreduce_s(cfg, 33_554_432.0)) == pytest.approx(1.991080e-3, rel=1e-6)
    assert float(prefill_step(cfg, 2048.0).comm_s) == pytest.approx(0.3185728, rel=1e-6)


def test_allreduce_latency_is_flat_in_tp() -> None:
    """A tiny message costs the fixed latency at TP 2 and TP 8 alike (Vidur NCCL profiles: 20-45 us at every TP)."""
    two, eight = (float(allreduce_s(config("llama-3.1-70b", "h100", tp=tp, eff=COMM_EFF), 2048.0)) for tp in (2, 8))
    assert two == pytest.approx(25e-6, rel=0.01) and eight == pytest.approx(25e-6, rel=0.01)


def test_fp8_gemm_step_by_hand() -> None:
    # Llama-3.1-8B FP8 (W8A8) on H100, one 4,096-token prompt, ROUND_EFF (compute 0.5 for bf16 and fp8, 0.8 bandwidth):
    #   linear layers at the FP8 peak: 0.5 x 1,978.9e12 = 989.45e12 FLOP/s
    #     FLOPs = 2 x 6,979,326,848 matmul params x 4,096 + LM head 2 x 128,256 x 4,096 = 57,175,696,211,968
    #     -> 57.785331 ms (the BF16 step's 115.576503 ms x 989.4 / 1,978.9: FP8 runs at the FP8 peak)
    #   attention at the BF16 peak (FP8 W8A8 quantizes the linear layers only): 0.5 x 989.4e12 = 494.7e12 FLOP/s
    #     FLOPs = 2 x 32 layers x 32 heads x 128 x 4,096^2 = 4,398,046,511,104 -> 8.890331 ms
    #   memory: 8,030,000,000 B weights (FP8 matmuls + 16-bit LM head) / 2.68e12 = 2.996 ms << compute
    #   total = 57.785331 + 8.890331 + 1 ms overhead = 67.675662 ms
    fp8 = prefill_step(config("llama-3.1-8b", "h100", "fp8", eff=ROUND_EFF), 4096.0)
    bf16 = prefill_step(config("llama-3.1-8b", "h100", "bf16", eff=ROUND_EFF), 4096.0)
    assert float(fp8.matmul_s) == pytest.approx(57_175_696_211_968 / 989.45e12, rel=1e-9)
    assert float(fp8.matmul_s) == pytest.approx(float(bf16.matmul_s) * 989.4 / 1978.9, rel=1e-9)
    assert float(fp8.attention_s) == pytest.approx(4_398_046_511_104 / 494.7e12, rel=1e-9)
    assert float(fp8.weights_s) == pytest.approx(8_030_000_000 / 2.68e12, rel=1e-9)
    assert float(fp8.total_s) == pytest.approx(0.067675662, rel=1e-7)


def test_eager_engine_overhead_by_hand() -> None:
    # Llama-2-70B (80 layers) decode on 4 A100, an engine without CUDA graphs (planner.schemas.engines):
    #   per layer 46.9 us (launches, vLLM PR #1440) + 2 all-reduces x 18.2 us x (4 - 1) ranks (metaseq PR #270)
    #   = 46.9 + 109.2 = 156.1 us; x 80 layers = 12.488 ms on top of ROUND_EFF's 1 ms step overhead
    #   at TP 8 the same sum is 46.9 + 254.8 = 301.7 us a layer: metaseq's 302 us, the anchor it was drawn from
    graphs = config("llama-2-70b", "a100-80gb", tp=4, eff=ROUND_EFF)
    eager = config("llama-2-70b", "a100-80gb", tp=4, eff=ROUND_EFF, engine=Engine(cuda_graphs=False))
    assert float(decode_step(graphs, 1.0, 100.0).overhead_s) == pytest.approx(1e-3, rel=1e-12)
    assert float(decode_step(eager, 1.0, 100.0).overhead_s) == pytest.approx(1e-3 + 80 * 156.1e-6, rel=1e-9)
    gap = float(prefill_step(eager, 512.0).total_s - prefill_step(graphs, 512.0).total_s)
    assert gap == pytest.approx(80 * 156.1e-6, rel=1e-9)


def test_eager_overhead_grows_with_tp_and_is_zero_with_graphs() -> None:
    """Without graphs, the fixed step time grows with TP (per-rank all-reduce waits); with them it does not."""
    def overhead(tp: int, graphs: bool) -> float:
        cfg = config("llama-2-70b", "h100", tp=tp, eff=ROUND_EFF, engine=Engine(cuda_graphs=graphs))
        return float(decode_step(cfg, 1.0, 100.0).overhead_s)

    assert overhead(2, True) == overhead(8, True) == pytest.approx(1e-3)
    assert overhead(1, False) < overhead(2, False) < overhead(4, False) < overhead(8, False)
