"""Serving-engine profiles: each engine's scheduling limits and defaults, as its own code sets them.

A profile says what an engine does when the user does not say otherwise: how many sequences it runs at
once, its per-step token budget, the share of GPU memory it takes, whether it chunks prompts and
which KV dtype it picks for an FP8 checkpoint. The
calibrated speed factors per engine are in catalogs/efficiency.yaml (`engine_overhead`), not here; what an
engine run without CUDA graphs adds (`eager_layer_us`, sourced) is, since no calibration of another engine sees it.
`engine_params` turns a profile (plus the user's explicit settings) into the `EngineParams` record the
performance model takes. Sources are given per profile; docs/methodology.md, "Engine profiles".
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from planner.schemas.replica import EngineParams

EngineKind = Literal["vllm", "sglang", "trtllm"]
ENGINE_KINDS: tuple[str, ...] = ("vllm", "sglang", "trtllm")
LARGE_GPU_GIB = 70.0
"""vLLM V1 gives GPUs with at least 70 GiB (other than A100) its larger batch defaults."""
GIB = 2**30


EAGER_LAYER_US = 46.9
"""Host time per layer per step that an eager engine (no CUDA graphs) exposes on one GPU: vLLM PR #1440
(yunfeng-scale, 2023-10-20, "CUDA graph for Llama"): Llama-2-7B, TP1, batch 1, 5 input / 100 output tokens,
1.2 s eager against 1.05 s with one CUDA graph per batch size = 1.5 ms a step over 32 layers."""
EAGER_SYNC_US_PER_RANK = 18.2
"""Eager time per all-reduce per GPU beyond the first (two all-reduces a layer): without graphs the ranks launch
their kernels out of step and every all-reduce waits for the last one. metaseq PR #270 (ngoyal2707, 2022-07-28,
"Cuda graph incremental decoding"): OPT-175B (96 layers) on 8 Azure A100s, model-parallel 8, per-token latency
~95 ms eager against ~66 ms with a CUDA graph = 302 us a layer at TP8; with EAGER_LAYER_US at TP1,
(302 - 46.9) / (2 x 7) = 18.2 us. Two anchors fix a line in (tp - 1); vLLM PR #1926 (WoosukKwon, 2023-12-05),
which made graphs vLLM's default, names tensor parallelism as where they help most."""


def eager_layer_us(tp: int) -> float:
    """Eager host time per layer per step at TP `tp` (0 for an engine with CUDA graphs is the caller's choice):
    EAGER_LAYER_US + 2 all-reduces x EAGER_SYNC_US_PER_RANK x (tp - 1). Methodology, "Engine profiles"."""
    return EAGER_LAYER_US + 2 * EAGER_SYNC_US_PER_RANK * (tp - 1)


@dataclass(frozen=True)
class EngineProfile:
    """Defaults of one serving engine; `None` where the engine derives the value per GPU (see `limits`)."""

    kind: str
    version: str
    source: str
    gpu_memory_utilization: float
    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    fp8_kv_for_fp8_checkpoints: bool
    """True when the engine stores the KV cache in FP8 by default for an FP8 checkpoint that ships KV scales."""

    def limits(self, memory_gb: float, gpu_name: str, tp: int, offline: bool) -> dict[str, float | int | bool]:
        """The EngineParams fields this engine sets by default on a GPU with `memory_gb` of memory.

        `offline` is the batch/throughput entry point (vLLM's `LLM` class, trtllm-bench) rather than the
        online server; only vLLM distinguishes them.
        """
        out: dict[str, float | int | bool] = {
            "gpu_memory_utilization": self.gpu_memory_utilization, "max_num_seqs": self.max_num_seqs,
            "max_num_batched_tokens": self.max_num_batched_tokens, "chunked_prefill": self.chunked_prefill,
        }
        memory_gib = memory_gb * 1e9 / GIB
        if self.kind == "vllm":
            large = memory_gib >= LARGE_GPU_GIB and "a100" not in gpu_name.lower()
            out["max_num_seqs"] = 1024 if large else 256
            out["max_num_batched_tokens"] = (16384 if offline else 8192) if large else (8192 if offline else 2048)
        elif self.kind == "sglang":
            out["gpu_memory_utilization"] = {1: 0.88, 2: 0.87, 4: 0.85}.get(tp, 0.81)
            out["max_num_batched_tokens"] = 2048 if memory_gib < 25 else 8192
        return out


PROFILES: dict[str, EngineProfile] = {
    "vllm": EngineProfile(
        kind="vllm", version="0.10 (V1 engine)", gpu_memory_utilization=0.9, max_num_seqs=256,
        max_num_batched_tokens=8192, chunked_prefill=True, fp8_kv_for_fp8_checkpoints=False,
        source="vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.get_batch_defaults (V1): GPUs >= 70 GiB other than "
               "A100 get max_num_seqs 1024 and max_num_batched_tokens 8192 online / 16384 offline (LLM class), others 256 and "
               "2048 / 8192; gpu_memory_utilization 0.9; chunked prefill always on in V1; kv_cache_dtype 'auto' = the model dtype (read 2026-12-02)",
    ),
    "sglang": EngineProfile(
        kind="sglang", version="0.4", gpu_memory_utilization=0.88, max_num_seqs=4096,
        max_num_batched_tokens=8192, chunked_prefill=True, fp8_kv_for_fp8_checkpoints=False,
        source="sgl-project/sglang python/sglang/srt/server_args.py: mem_fraction_static 0.88 / 0.87 / 0.85 / 0.81 at "
               "TP 1 / 2 / 4 / 8, chunked_prefill_size 2048 below 25 GB else 8192; kv_cache_dtype "
               "'auto'; max_running_requests is derived from the KV pool (4096 here is an assumption standing for 'memory "
               "decides') (read 2026-12-02)",
    ),
    "trtllm": EngineProfile(
        kind="trtllm", version="0.17", gpu_memory_utilization=0.95, max_num_seqs=2048,
        max_num_batched_tokens=8192, chunked_prefill=True, fp8_kv_for_fp8_checkpoints=True,
        source="NVIDIA/TensorRT-LLM: trtllm-build defaults max_batch_size 2048, max_num_tokens 8192; the perf-overview "
               "tables run kv_cache_free_gpu_mem_fraction 0.95 and FP8 checkpoints with an FP8 KV cache; in-flight "
               "batching piggybacks context chunks on generation steps (read 2026-12-02)",
    ),
}
"""vLLM V1 is the default engine (EngineParams' own defaults are its online values on a small GPU)."""


def engine_params(kind: str = "vllm", version: str = "", memory_gb: float = 80.0, gpu_name: str = "", tp: int = 1,
                  offline: bool = False, **explicit: float | int | bool | str) -> EngineParams:
    """EngineParams with `kind`'s defaults for this GPU, overridden by the settings the user gave (`explicit`)."""
    profile = PROFILES[kind]
    known = {f.name for f in fields(EngineParams)}
    settings = profile.limits(memory_gb, gpu_name, tp, offline) | {k: v for k, v in explicit.items() if k in known}
    return EngineParams(**settings, kind=kind, version=version or profile.version)


def default_kv_dtype(kind: str, quant: str) -> str:
    """The KV dtype the engine picks when not told: FP8 for an FP8 checkpoint where the engine does so, else fp16."""
    return "fp8" if quant == "fp8" and PROFILES[kind].fp8_kv_for_fp8_checkpoints else "fp16"
