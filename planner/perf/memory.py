"""Memory side of the performance model: weight bytes, KV bytes per token, KV budget, max batch.

Formulas are in docs/methodology.md, section "Memory".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from planner.perf.speculative import SpecDecode
from planner.schemas.catalog import GPU, LLM, Efficiency, KVDtype, QuantFormat
from planner.schemas.replica import EngineParams, ReplicaSpec

GB = 1e9
EMBED_BYTES = 2.0
"""Embedding and LM-head tables stay 16-bit under every quantization format (vLLM, AWQ, GPTQ, FP8)."""
RUNTIME_RESERVE_BYTES = 1.0 * GB
"""CUDA context, cuBLAS workspaces and CUDA graphs outside the vLLM budget: the middle of the 0.5-1.5 GB
that vLLM startup logs show between the profiled peak and the free memory (docs/methodology.md, "Memory")."""
NCCL_RESERVE_BYTES = 0.5 * GB
"""Extra NCCL buffers per GPU when TP > 1: NCCL's default NCCL_BUFFSIZE is 4 MiB per channel and peer, and with
the custom all-reduce and CUDA-graph-captured collectives vLLM reserves a few hundred MB; 0.5 GB rounds that up
(an assumption, docs/methodology.md, "Memory")."""


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
        return ReplicaSpec(self.model.id, self.gpu.id, self.quant.id, self.kv.id, self.tp, engine=self.engine)

    @property
    def key(self) -> str:
        spec = "" if self.spec is None else f"/spec-{self.spec.draft.id}-k{self.spec.k}"
        return self.replica.key + spec

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
    model, q = cfg.model, cfg.quant
    experts = expert_params(model)
    dense = linear_params(model) - experts
    lm_head = model.vocab_size * model.hidden_size * EMBED_BYTES
    read = (dense + experts * expert_fraction_read(model, tokens)) * q.bytes_per_weight + lm_head
    return read / cfg.tp


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
    """Peak activation memory vLLM profiles at max_num_batched_tokens, plus fp32 logits of a full batch."""
    m, e = cfg.model, cfg.engine
    per_token = 2.0 * (4 * m.hidden_size + 2 * m.ffn_dim / cfg.tp)  # residual, norm, qkv/o, gate+up (16-bit)
    logits = e.max_num_seqs * m.vocab_size * 4.0 / cfg.tp
    return e.max_num_batched_tokens * per_token + logits


def kv_budget_bytes_per_gpu(cfg: ServingConfig) -> float:
    """memory * gpu_memory_utilization - weights - activations - runtime reserve (may be negative)."""
    reserve = RUNTIME_RESERVE_BYTES + (NCCL_RESERVE_BYTES if cfg.tp > 1 else 0.0)
    usable = cfg.gpu.memory_gb * GB * cfg.engine.gpu_memory_utilization
    return usable - weight_bytes_per_gpu(cfg) - activation_bytes_per_gpu(cfg) - reserve


def max_kv_tokens(cfg: ServingConfig) -> int:
    """Tokens of KV cache a replica holds, in whole blocks (0 when the weights do not fit)."""
    budget = kv_budget_bytes_per_gpu(cfg)
    if budget <= 0:
        return 0
    block = cfg.engine.block_size
    blocks = int(budget // (kv_bytes_per_token_per_gpu(cfg) * block))
    return blocks * block


def tokens_reserved_per_sequence(cfg: ServingConfig, mean_tokens: float) -> float:
    """KV tokens a live sequence holds: paged = its length plus half a block of waste on average;
    contiguous = the model's full context, reserved up front."""
    if not cfg.engine.paged_kv:
        return float(cfg.model.max_context)
    return mean_tokens + cfg.engine.block_size / 2


def max_batch(cfg: ServingConfig, mean_tokens: float) -> int:
    """Sequences that fit at once with `mean_tokens` of context each, capped by max_num_seqs."""
    fit = int(max_kv_tokens(cfg) // tokens_reserved_per_sequence(cfg, mean_tokens))
    return max(0, min(fit, cfg.engine.max_num_seqs))


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
