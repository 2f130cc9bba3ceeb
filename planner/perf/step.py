"""Step times: prefill (compute-bound, sets TTFT) and decode (bandwidth-bound, sets TPOT).

Each step is max(matmul+attention compute, HBM traffic) + TP all-reduces + fixed overheads
(docs/methodology.md, "Step time"). Functions accept numpy arrays for batch sizes so the capacity
search can evaluate a whole batch grid at once, and `StepConstants` in place of a config: per-point arrays of
several configs' figures, so it evaluates many configs at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf.memory import ServingConfig, embedding_params, kv_bytes_per_token_per_gpu, weight_bytes_read
from planner.schemas.catalog import LLM
from planner.schemas.engines import eager_layer_us

TFLOP = 1e12
GBPS = 1e9
SCORE_BYTES = 2.0
"""Bytes per attention-score element when FlashAttention is off (scores materialised in 16-bit)."""
SCORE_PASSES = 4
"""Write S, read S (softmax), write P, read P: HBM passes over the score matrix without FlashAttention."""


@dataclass(frozen=True)
class StepTime:
    """Seconds of one engine step, with the breakdown a planner can explain."""

    total_s: float | np.ndarray
    weights_s: float | np.ndarray
    kv_s: float | np.ndarray
    matmul_s: float | np.ndarray
    attention_s: float | np.ndarray
    comm_s: float | np.ndarray
    overhead_s: float | np.ndarray

    @property
    def compute_bound(self) -> bool | np.ndarray:
        return np.asarray(self.matmul_s + self.attention_s) >= np.asarray(self.weights_s + self.kv_s)

    def breakdown_ms(self) -> dict[str, float]:
        keys = ("weights_s", "kv_s", "matmul_s", "attention_s", "comm_s", "overhead_s", "total_s")
        return {k.replace("_s", "_ms"): float(getattr(self, k)) * 1e3 for k in keys}


_FIELDS = ("total_s", "weights_s", "kv_s", "matmul_s", "attention_s", "comm_s", "overhead_s")


def peak_flops(cfg: ServingConfig, tokens: float | np.ndarray, attention: bool = False) -> float | np.ndarray:
    """Achievable FLOP/s for a matmul over `tokens` rows: peak x efficiency x tokens/(tokens + half).

    The linear layers run in the format's compute dtype (FP8 GEMMs at the FP8 peak, with the format's dequant
    penalty for weight-only INT4/INT8); attention (`attention=True`) runs in BF16 whatever the weights: FP8 W8A8
    quantizes the linear layers only, and FlashAttention-2/FlashInfer compute QK^T and PV in 16-bit (vLLM
    "FP8 W8A8" docs; an FP8 KV cache is dequantized to BF16 inside the kernel)."""
    peak, half = _flops_figures(cfg, attention)
    tokens = np.maximum(tokens, 1.0)
    return peak * tokens / (tokens + half)


def _flops_figures(cfg: ServingConfig, attention: bool) -> tuple[float, float]:
    """`peak_flops`' peak x efficiency (FLOP/s) and its small-M half-point (tokens)."""
    dtype = "bf16" if attention else cfg.quant.compute_dtype
    penalty = 1.0 if attention else cfg.quant.compute_efficiency
    eff = cfg.eff.compute.get(dtype, cfg.eff.compute.get("bf16", 0.5)) * penalty * engine_kernel(cfg)
    half = min(cfg.eff.gemm_half_tokens, WEIGHT_ONLY_HALF_TOKENS) if cfg.quant.weight_only else cfg.eff.gemm_half_tokens
    return cfg.gpu.tflops[dtype] * TFLOP * eff, half


def engine_kernel(cfg: ServingConfig) -> float:
    """The calibrated kernel-speed factor of the config's engine on its GPU (1 where not fitted)."""
    return cfg.eff.engine_kernel.get(cfg.engine.kind, 1.0)


def achievable_bandwidth(cfg: ServingConfig) -> float:
    return cfg.gpu.memory_bandwidth_gbs * GBPS * cfg.eff.bandwidth * engine_kernel(cfg)


def allreduce_s(cfg: ServingConfig, nbytes: float | np.ndarray) -> float | np.ndarray:
    """One all-reduce of `nbytes` over the TP group: a fixed latency plus the ring's bandwidth term,

        allreduce_latency_us + 2 (tp - 1) / tp x bytes / (link GB/s x allreduce_bw_efficiency).

    The latency does not grow with TP: on the Vidur NCCL profiles (A100/H100 DGX, TP 2/4/8, 2 KiB-64 MiB)
    small messages take 20-45 us at every TP degree (NCCL's tree/LL protocols and NVSwitch make the
    small-message cost flat), and a per-extra-GPU latency overpredicted TP8 by ~30 % median (methodology,
    "TP communication"). The link is NVLink per direction or PCIe (L4/L40S/A10G: 32 GB/s)."""
    latency, ring, link = _ring(cfg)
    return latency + ring * nbytes / link


def _ring(cfg: ServingConfig) -> tuple[float, float, float]:
    """`allreduce_s`' latency (s), ring factor 2 (tp - 1) / tp and link bytes/s; (0, 0, 1) at TP 1 (no all-reduce)."""
    if cfg.tp == 1:
        return 0.0, 0.0, 1.0
    link = cfg.gpu.interconnect.unidirectional_gbs * GBPS * cfg.eff.allreduce_bw_efficiency
    return cfg.eff.allreduce_latency_us * 1e-6, 2 * (cfg.tp - 1) / cfg.tp, link


GEMMS_PER_LAYER = 4
"""QKV, O, gate/up and down projections: the GEMM kernels of one transformer layer."""
WEIGHT_ONLY_HALF_TOKENS = 16.0
"""Small-M efficiency of weight-only (INT4/INT8-wo) GEMM kernels: Marlin-style kernels tile 16 rows and stay
memory-bound with near-ideal speed-ups up to batch 16-32 (Frantar et al., MARLIN, arXiv:2408.11743, fig. 1)."""


def _overhead_s(cfg: ServingConfig) -> float:
    """Fixed time per step: the step overhead plus per layer its fixed time and its GEMMs' latency, scaled by the
    engine's calibrated factor; for an engine without CUDA graphs, plus its eager host time per layer (sourced,
    not calibrated: the calibration data's production engines all run graphs; methodology "Engine profiles")."""
    scale = cfg.eff.engine_overhead.get(cfg.engine.kind, 1.0)
    per_layer_us = cfg.eff.layer_overhead_us + GEMMS_PER_LAYER * cfg.eff.gemm_latency_us
    eager_us = 0.0 if cfg.engine.cuda_graphs else cfg.model.n_layers * eager_layer_us(cfg.tp)
    return (cfg.eff.step_overhead_ms * 1e-3 + cfg.model.n_layers * per_layer_us * 1e-6) * scale + eager_us * 1e-6


Figure = float | np.ndarray


@dataclass(frozen=True)
class StepConstants:
    """What a step time reads of a config without speculative decoding: scalars for one config (`of`), or arrays
    over load points of several configs of one model (`stack`, then `take` each point's config), so the capacity
    search evaluates many configs in one numpy pass. Step times from either are the same floats."""

    model: LLM
    tp: Figure
    heads: Figure
    """Attention heads per GPU."""
    kv_bytes: Figure
    """KV-cache bytes per token per GPU."""
    bytes_per_weight: Figure
    peak: Figure
    """Linear layers' FLOP/s (`peak_flops` before its small-M factor), and `half` its half-point."""
    half: Figure
    attn_peak: Figure
    attn_half: Figure
    bandwidth: Figure
    """Achievable HBM bytes/s."""
    ring_latency: Figure
    """`allreduce_s` = ring_latency + ring x bytes / link."""
    ring: Figure
    link: Figure
    overhead: Figure
    scores: Figure
    """1 where the attention-score matrix crosses HBM (no FlashAttention), else 0."""

    @classmethod
    def of(cls, cfg: ServingConfig) -> "StepConstants":
        assert cfg.spec is None, "a speculative config's steps are rounds of two models (mixed_step)"
        (peak, half), (attn_peak, attn_half) = _flops_figures(cfg, False), _flops_figures(cfg, True)
        return cls(cfg.model, cfg.tp, cfg.model.n_heads / cfg.tp, kv_bytes_per_token_per_gpu(cfg), cfg.quant.bytes_per_weight,
                   peak, half, attn_peak, attn_half, achievable_bandwidth(cfg), *_ring(cfg), _overhead_s(cfg),
                   0.0 if cfg.engine.flash_attention else 1.0)

    @classmethod
    def stack(cls, cfgs: list[ServingConfig]) -> "StepConstants":
        """The constants of `cfgs` (one model, none speculative) as arrays indexed by config."""
        each = [cls.of(c) for c in cfgs]
        return cls(cfgs[0].model, *(np.array([getattr(c, f) for c in each], dtype=float) for f in _VARYING))

    def take(self, index: np.ndarray) -> "StepConstants":
        """The stacked constants at each point's config (`index` into the configs of `stack`)."""
        return StepConstants(self.model, *(getattr(self, f)[index] for f in _VARYING))

    def column(self) -> "StepConstants":
        """Per-point arrays as columns, to broadcast against (points, k) arguments; scalars unchanged."""
        return StepConstants(self.model, *(np.asarray(v)[:, None] if np.ndim(v := getattr(self, f)) else v for f in _VARYING))


_VARYING = tuple(f for f in StepConstants.__dataclass_fields__ if f != "model")


def constants(cfg: ServingConfig | StepConstants) -> StepConstants:
    """The step constants of a config without speculative decoding (given constants unchanged)."""
    return cfg if isinstance(cfg, StepConstants) else StepConstants.of(cfg)


def _matmul_flops(c: StepConstants, tokens: float | np.ndarray, sequences: float | np.ndarray) -> float | np.ndarray:
    """2 FLOPs per active matmul parameter per token, plus the LM head for each sequence's last token."""
    m = c.model
    active_linear = m.active_b * 1e9 - embedding_params(m)
    return (2 * active_linear * tokens + 2 * m.vocab_size * m.hidden_size * sequences) / c.tp


def _compose(c: StepConstants, tokens, weights_b, kv_b, matmul_f, attn_f, extra_b=0.0) -> StepTime:  # noqa: ANN001
    """Roofline per kernel family, run one after the other: the linear layers take max(their FLOPs,
    streaming the weights), attention takes max(its FLOPs, streaming the KV cache). A mixed step (decode
    plus prompt chunks, or a large decode batch) cannot hide compute-bound GEMMs under memory-bound
    attention reads; pure prefill and pure small-batch decode come out as with one global max."""
    bw, rows = c.bandwidth, np.maximum(tokens, 1.0)
    flops, attn_flops = c.peak * rows / (rows + c.half), c.attn_peak * rows / (rows + c.attn_half)
    weights_s, kv_s = weights_b / bw, (kv_b + extra_b) / bw
    matmul_s, attention_s = matmul_f / flops, attn_f / attn_flops
    # two all-reduces per layer (after attention and after the MLP) of tokens x hidden 16-bit values
    comm, overhead = 2 * c.model.n_layers * (c.ring_latency + c.ring * (tokens * c.model.hidden_size * 2.0) / c.link), c.overhead
    total = np.maximum(matmul_s, weights_s) + np.maximum(attention_s, kv_s) + comm + overhead
    return StepTime(total, weights_s, kv_s, matmul_s, attention_s, comm, overhead + 0.0 * total)


def prefill_step(cfg: ServingConfig | StepConstants, prompt_tokens: float | np.ndarray, sequences: float | np.ndarray = 1.0,
                 cached: float | np.ndarray = 0.0) -> StepTime:
    """Prefill of `sequences` prompts of `prompt_tokens` each, in one step (methodology "Prefill"), on top of
    `cached` tokens of each already in the prefix cache (computed before, attended over now).

    Attention FLOPs: causal QK^T and PV over s new tokens after c cached ones = 2 * (s^2 + 2 s c) * head_dim
    per head per layer. Without FlashAttention the s x (s + c) score matrix also crosses HBM SCORE_PASSES times.
    With speculative decoding the draft model prefills the same prompts too.
    """
    if isinstance(cfg, ServingConfig) and cfg.spec is not None:
        target = prefill_step(cfg.target, prompt_tokens, sequences, cached)
        draft = prefill_step(cfg.draft, prompt_tokens, sequences, cached)
        return StepTime(*(getattr(target, f) + getattr(draft, f) for f in _FIELDS))
    c = constants(cfg)
    m = c.model
    tokens = prompt_tokens * sequences
    attended = (prompt_tokens**2 + 2 * prompt_tokens * cached) * sequences
    attn_flops = 2.0 * m.n_layers * c.heads * m.head_dim * attended
    kv_write = tokens * c.kv_bytes
    scores = c.scores * (SCORE_PASSES * SCORE_BYTES * m.n_layers * c.heads * attended) if np.any(c.scores) else 0.0
    weights = weight_bytes_read(m, c.bytes_per_weight, c.tp, tokens) + 0.0 * tokens
    return _compose(c, tokens, weights, kv_write, _matmul_flops(c, tokens, sequences), attn_flops, scores)


def decode_step(cfg: ServingConfig | StepConstants, batch: float | np.ndarray, context: float | np.ndarray) -> StepTime:
    """Time per generated token for `batch` sequences with `context` tokens each (methodology "Decode").

    Without speculative decoding this is one decode step. With it, a round of k draft steps plus one
    verify step over k+1 tokens per sequence, divided by the expected tokens a round emits.
    """
    if isinstance(cfg, StepConstants) or cfg.spec is None:
        return target_decode_step(cfg, batch, context)
    draft = target_decode_step(cfg.draft, batch, context)
    verify = target_decode_step(cfg.target, batch, context, tokens_per_seq=cfg.spec.k + 1)
    per_token = 1.0 / cfg.spec.tokens_per_round
    parts = [(cfg.spec.k * getattr(draft, f) + getattr(verify, f)) * per_token for f in _FIELDS]
    return StepTime(*parts)


def target_decode_step(
    cfg: ServingConfig | StepConstants, batch: float | np.ndarray, context: float | np.ndarray, tokens_per_seq: float = 1.0
) -> StepTime:
    """One decode step of the model itself: `tokens_per_seq` new tokens for each of `batch` sequences."""
    batch = np.maximum(batch, 1.0)
    target = cfg if isinstance(cfg, StepConstants) else cfg.target
    return mixed_step(target, batch, context, batch * (tokens_per_seq - 1.0), lm_head_tokens=batch * tokens_per_seq)


def mixed_step(
    cfg: ServingConfig | StepConstants, batch: float | np.ndarray, context: float | np.ndarray, extra_tokens: float | np.ndarray,
    lm_head_tokens: float | np.ndarray | None = None, extra_context: float | np.ndarray | None = None,
) -> StepTime:
    """A continuous-batching step: one token for each of `batch` sequences at `context`, plus
    `extra_tokens` more (prompt chunks piggybacked by chunked prefill, or speculative verify tokens)
    attending over `extra_context` tokens each on average (default `context`; a whole causal prompt
    of s tokens averages s/2).

    HBM traffic: the weights (touched experts for MoE) once, plus every sequence's KV cache.
    Attention FLOPs: QK^T and PV over the context = 4 * context * head_dim per head per layer per token.
    """
    if isinstance(cfg, ServingConfig) and cfg.spec is not None:
        return _speculative_mixed_step(cfg, batch, context, extra_tokens, extra_context)
    c = constants(cfg)
    m = c.model
    tokens = batch + extra_tokens
    kv_read = batch * context * c.kv_bytes
    attended = batch * context + extra_tokens * (context if extra_context is None else extra_context)
    attn_flops = 4.0 * m.n_layers * c.heads * m.head_dim * attended
    scores = c.scores * (2 * SCORE_BYTES * m.n_layers * c.heads * attended) if np.any(c.scores) else 0.0  # FlashAttention: none
    weights = weight_bytes_read(m, c.bytes_per_weight, c.tp, tokens) + 0.0 * tokens
    head = batch if lm_head_tokens is None else lm_head_tokens
    return _compose(c, tokens, weights, kv_read, _matmul_flops(c, tokens, head), attn_flops, scores)


def _speculative_mixed_step(cfg: ServingConfig, batch: float | np.ndarray, context: float | np.ndarray,
                            extra_tokens: float | np.ndarray, extra_context: float | np.ndarray | None) -> StepTime:
    """A continuous-batching step under speculative decoding, per emitted token (as `decode_step` counts it).

    A round is k draft steps (the first also runs the round's prompt chunks through the draft, which must hold
    their KV too) and one target verify step over k + 1 tokens per sequence plus the chunks. It emits
    `tokens_per_round` tokens per sequence, so it carries that many emitted tokens' worth of prompt chunks.
    Without chunks this is `decode_step`'s round. The verify tokens attend over `context`, the chunks over
    `extra_context`."""
    k, per_round = cfg.spec.k, cfg.spec.tokens_per_round
    chunks = extra_tokens * per_round
    drafted = batch * k
    own = context if extra_context is None else extra_context
    verify_context = (drafted * context + chunks * own) / np.maximum(drafted + chunks, 1e-9)
    first = mixed_step(cfg.draft, batch, context, chunks, extra_context=extra_context)
    rest = mixed_step(cfg.draft, batch, context, 0.0 * chunks)
    verify = mixed_step(cfg.target, batch, context, drafted + chunks, lm_head_tokens=batch * (k + 1),
                        extra_context=verify_context)
    return StepTime(*((getattr(first, f) + (k - 1) * getattr(rest, f) + getattr(verify, f)) / per_round for f in _FIELDS))
