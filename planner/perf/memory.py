"""Memory side of the performance model: weight bytes, KV bytes per token, KV budget, max batch.

Formulas are in docs/methodology.md, section "Memory".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from planner.perf.speculative import SpecDecode
from planner.schemas.catalog import GPU, LLM, Efficiency, KVDtype, QuantFormat
from planner.schemas.replica import EngineParams, ReplicaSpec, Speculation

GB = 1e9
EMBED_BYTES = 2.0
"""Embedding and LM-head tables stay 16-bit under every quantization format (vLLM, AWQ, GPTQ, FP8)."""


@dataclass(frozen=True)
class ServingConfig:
    """One replica design: a model on `tp` GPUs of one type, with a weight format and KV dtype."""

    model: LLM
    gpu: GPU
    quant: QuantFormat
    kv: KVDtype
    tp: int
    eff: Efficiency
    engine: EngineParams
    spec: SpecDecode | None = None
    """Speculative decoding with a draft model sharded like the target (None = off)."""

    @property
    def replica(self) -> ReplicaSpec:
        """The config's identity (ids only), as plans and tables name it."""
        spec = None if self.spec is None else Speculation(self.spec.draft.id, self.spec.k, self.spec.acceptance)
        return ReplicaSpec(self.model.id, self.gpu.id, self.quant.id, self.kv.id, self.tp, engine=self.engine, speculative=spec)

    @property
    def key(self) -> str:
        return self.replica.key

    @property
    def target(self) -> "ServingConfig":
        """The config without speculative decoding (the target model alone)."""
        return self if self.spec is None else replace(self, spec=None)

    @property
    def draft(self) -> "ServingConfig | None":
        """The draft model as a config of its own (same GPU, format, KV dtype and TP), or None."""
        return None if self.spec is None else replace(self, model=self.spec.draft, spec=None)


def embedding_params(model: LLM) -> float:
    """Parameters in the embedding table plus an untied LM head."""
    tables = 1 if model.tied_embeddings else 2
    return float(tables * model.vocab_size * model.hidden_size)


def linear_params(model: LLM) -> float:
    """Parameters in the transformer blocks' matmuls (everything but embeddings/LM head)."""
    return model.params_b * 1e9 - embedding_params(model)


def expert_params(model: LLM) -> float:
    """Parameters in MoE expert FFNs (3 matrices of hidden x ffn per expert per layer); 0 for dense."""
    if model.n_experts == 1:
        return 0.0
    return float(model.n_layers * model.n_experts * 3 * model.hidden_size * model.ffn_dim)


def weight_bytes(model: LLM, quant: QuantFormat) -> float:
    """Bytes to hold all weights: quantized matmuls + 16-bit embeddings (docs/methodology.md#weights)."""
    return linear_params(model) * quant.bytes_per_weight + embedding_params(model) * EMBED_BYTES


def weight_bytes_per_gpu(cfg: ServingConfig) -> float:
    """Weights one GPU holds: the model (and the draft model, if any) split evenly over TP."""
    draft = 0.0 if cfg.spec is None else weight_bytes(cfg.spec.draft, cfg.quant)
    return (weight_bytes(cfg.model, cfg.quant) + draft) / cfg.tp


def expert_fraction_read(model: LLM, tokens: float | np.ndarray) -> float | np.ndarray:
    """Expected fraction of experts a step touches when `tokens` tokens each pick k of E."""
    if model.n_experts == 1:
        return 1.0
    return 1.0 - (1.0 - model.n_active_experts / model.n_experts) ** np.maximum(tokens, 1.0)


def weight_bytes_read_per_gpu(cfg: ServingConfig, tokens: float | np.ndarray) -> float | np.ndarray:
    """Weight bytes one step streams from HBM: all dense matmuls, the touched experts, the LM head."""
    return weight_bytes_read(cfg.model, cfg.quant.bytes_per_weight, cfg.tp, tokens)


def weight_bytes_read(model: LLM, bytes_per_weight: float | np.ndarray, tp: float | np.ndarray,
                      tokens: float | np.ndarray) -> float | np.ndarray:
    """`weight_bytes_read_per_gpu` from the format's bytes per weight and the TP degree, which may be arrays over
    load points of several configs (planner.perf.step.StepConstants)."""
    experts = expert_params(model)
    dense = linear_params(model) - experts
    lm_head = model.vocab_size * model.hidden_size * EMBED_BYTES
    read = (dense + experts * expert_fraction_read(model, tokens)) * bytes_per_weight + lm_head
    return read / tp


def kv_bytes_per_token(model: LLM, kv: KVDtype) -> float:
    """K and V for one token over all layers: 2 * layers * kv_heads * head_dim * bytes."""
    return 2.0 * model.n_layers * model.n_kv_heads * model.head_dim * kv.bytes


def kv_bytes_per_token_per_gpu(cfg: ServingConfig) -> float:
    """KV heads split over TP; when TP > kv_heads each GPU keeps (a replica of) one head.
    With speculative decoding every token also has a draft-model KV entry."""
    heads = math.ceil(cfg.model.n_kv_heads / cfg.tp)
    own = 2.0 * cfg.model.n_layers * heads * cfg.model.head_dim * cfg.kv.bytes
    return own + (0.0 if cfg.draft is None else kv_bytes_per_token_per_gpu(cfg.draft))


def activation_bytes_per_gpu(cfg: ServingConfig) -> float:
    """Peak activation memory vLLM's profiling run measures at max_num_batched_tokens, plus the fp32 logits of
    its dummy sampler run over max_num_seqs sequences (docs/methodology.md, "KV blocks as vLLM allocates them").

    Per token, 16-bit: the MLP's gate+up output and the activated half live at once (3 x ffn / tp) next to
    the residual stream, norm output and attention in/out (3.5 x hidden); vLLM's logged peaks for
    Llama-3.1-8B at 20,000 and 29,000 batched tokens are 111 KiB per token, this gives 112 KiB.
    """
    m, e = cfg.model, cfg.engine
    per_token = 2.0 * (3 * m.ffn_dim / cfg.tp + 3.5 * m.hidden_size)
    logits = e.max_num_seqs * m.vocab_size * 4.0
    return e.max_num_batched_tokens * per_token + logits


def kv_budget_bytes_per_gpu(cfg: ServingConfig) -> float:
    """Bytes per GPU vLLM gives the KV cache (planner.perf.memory.vllm_kv_cache; may be negative)."""
    return vllm_kv_cache(cfg).kv_bytes


def max_kv_tokens(cfg: ServingConfig) -> int:
    """Tokens of KV cache a replica holds: vLLM's block count x block size (0 when the weights do not fit)."""
    return vllm_kv_cache(cfg).tokens


def tokens_reserved_per_sequence(cfg: ServingConfig, mean_tokens: float) -> float:
    """KV tokens a live sequence holds: paged = its length plus half a block of waste on average;
    contiguous = the model's full context, reserved up front."""
    if not cfg.engine.paged_kv:
        return float(cfg.model.max_context)
    return mean_tokens + cfg.engine.block_size / 2


def max_batch(cfg: ServingConfig, mean_tokens: float, kv_tokens: int | None = None) -> int:
    """Sequences that fit at once with `mean_tokens` of context each, capped by max_num_seqs (`kv_tokens`:
    max_kv_tokens(cfg) when the caller has it, which saves recomputing vLLM's memory split)."""
    kv_tokens = max_kv_tokens(cfg) if kv_tokens is None else kv_tokens
    return int(max_batches(cfg, np.array([mean_tokens], dtype=float), kv_tokens)[0])


def max_batches(cfg: ServingConfig, mean_tokens: np.ndarray, kv_tokens: int) -> np.ndarray:
    """`max_batch` at each of `mean_tokens` in one numpy pass."""
    reserved = np.broadcast_to(tokens_reserved_per_sequence(cfg, mean_tokens), np.shape(mean_tokens))  # contiguous: one figure
    fit = np.floor_divide(kv_tokens, reserved)
    return np.clip(fit, 0, cfg.engine.max_num_seqs).astype(int)


def tp_problem(cfg: ServingConfig) -> str | None:
    """Why `cfg.tp` cannot shard this model on this GPU node, or None when it can."""
    m, tp = cfg.model, cfg.tp
    if tp > cfg.gpu.max_tp:
        return f"TP {tp} exceeds the {cfg.gpu.max_tp} GPUs of one {cfg.gpu.id} node"
    if m.n_heads % tp:
        return f"TP {tp} does not divide {m.n_heads} attention heads"
    if m.n_kv_heads % tp and tp % m.n_kv_heads:
        return f"TP {tp} and {m.n_kv_heads} KV heads: neither divides the other"
    return None


# ---- KV blocks as vLLM allocates them (docs/methodology.md, "KV blocks as vLLM allocates them") ----------

GIB = 2.0**30
CUDA_TOTAL_GIB = {"h100": 79.22, "a100-80gb": 79.15, "a100-40gb": 39.39, "h200": 139.81, "l40s": 44.52, "l4": 22.05, "a10g": 22.19}
"""Device memory as CUDA reports it (torch.cuda.mem_get_info total), the `total_gpu_memory` vLLM multiplies by
gpu_memory_utilization: H100 79.22 GiB (vLLM PR #10511 log), A100-80GB 79.15 GiB and A100-40GB 39.39 GiB
(vLLM / TensorRT-LLM startup logs); H200, L40S, L4, A10G: nvidia-smi's total less ~0.5 GiB, as on the logged
GPUs. A GPU not listed: its memory_gb taken as GiB less 1 % (80 GB HBM parts are 80 GiB physically)."""
NON_TORCH_BYTES = 1.0 * GIB
"""Memory the profiling run sees outside PyTorch's allocator on one GPU: CUDA context, cuBLAS/cuDNN
workspaces, the attention backend's buffers. vLLM logs 0.13-1.79 GiB (docs/methodology.md); 1.0 GiB."""
NCCL_BYTES = 1.79 * GIB
"""Extra per GPU at TP > 1 seen by the profiling run: NCCL buffers (NCCL_BUFFSIZE 4 MiB per channel and peer)
and vLLM's custom all-reduce buffers. Measured: vLLM PR #10511's logs (2024-12-13, Meta-Llama-3-8B on H100,
same build) show non_torch_memory 1.79 GiB at TP 1 and 3.58 GiB at TP 2; the difference is this reserve.
Taken as the same at TP 4 and 8 (no current-version log with the breakdown was found there)."""
CUDA_GRAPH_BYTES = 0.5 * GIB
"""CUDA graphs are captured after the KV cache is allocated (vLLM V1), so they do not reduce the block count;
they take ~0.3-1.5 GiB on top of gpu_memory_utilization, which is why 1.0 would run out of memory."""


@dataclass(frozen=True)
class VllmKvCache:
    """The memory budget of one GPU of a replica, as vLLM's startup profiling splits it, and the KV blocks."""

    total_bytes: float
    """Device memory as CUDA reports it."""
    budget_bytes: float
    """total x gpu_memory_utilization."""
    weights_bytes: float
    activation_bytes: float
    non_torch_bytes: float
    kv_bytes: float
    """budget - weights - activation peak - non-torch memory (negative: the model does not fit)."""
    block_bytes: float
    """One block of block_size tokens over all layers (and the draft model's, with speculative decoding)."""
    block_size: int
    blocks: int
    """`# GPU blocks` (V0) / GPU KV cache size // block_size (V1): floor(kv_bytes / block_bytes), 0 if negative."""
    cuda_graph_bytes: float
    """Taken after the KV cache, on top of the budget (not in kv_bytes)."""

    @property
    def tokens(self) -> int:
        """vLLM V1's `GPU KV cache size: N tokens` (per replica: every GPU holds its heads of every token)."""
        return self.blocks * self.block_size


def cuda_total_bytes(gpu: GPU) -> float:
    """Device memory CUDA reports for `gpu` (CUDA_TOTAL_GIB, else memory_gb read as GiB less 1 %)."""
    return CUDA_TOTAL_GIB.get(gpu.id, gpu.memory_gb * 0.99) * GIB


def vllm_kv_cache(cfg: ServingConfig) -> VllmKvCache:
    """What vLLM's worker does at startup (v0.6+ `determine_num_available_blocks` / V1 `determine_available_memory`):
    available = total x gpu_memory_utilization - weights - activation peak at max_num_batched_tokens - non-torch
    memory (NCCL buffers with TP), then blocks = available // (block_size x KV bytes per token on this GPU)."""
    e = cfg.engine
    total = cuda_total_bytes(cfg.gpu)
    budget = total * e.gpu_memory_utilization
    weights, activation = weight_bytes_per_gpu(cfg), activation_bytes_per_gpu(cfg)
    non_torch = NON_TORCH_BYTES + (NCCL_BYTES if cfg.tp > 1 else 0.0)
    kv = budget - weights - activation - non_torch
    block = kv_bytes_per_token_per_gpu(cfg) * e.block_size
    return VllmKvCache(total, budget, weights, activation, non_torch, kv, block, e.block_size,
                       max(0, int(kv // block)), CUDA_GRAPH_BYTES)
