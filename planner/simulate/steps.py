"""Step durations for the simulator, taken from the planner's own performance model (one implementation).

Decode: for a fixed batch B, `planner.perf.step.decode_step` is max(compute, memory) + fixed terms where
compute and memory are each affine in the total context tokens S = B x context. The table below holds, per
B, the two affine pieces read off the model at S = 0 and S = B, and is checked against the model at a third
point, so a decode run of k steps costs one numpy expression instead of k model calls.
Prefill: one `prefill_step` call per engine step; a step over prompts (or chunks) of different lengths is
passed as the equivalent uniform batch with the same total tokens and the same causal-attention work
(docs/methodology.md, "Simulator"). A chunked-prefill step (decode tokens plus prompt chunks) is one
`mixed_step`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.perf.memory import (
    ServingConfig,
    embedding_params,
    expert_params,
    kv_bytes_per_token_per_gpu,
    max_kv_tokens,
    tokens_reserved_per_sequence,
    weight_bytes_read_per_gpu,
)
from planner.perf.step import (
    GBPS,
    SCORE_BYTES,
    SCORE_PASSES,
    TFLOP,
    WEIGHT_ONLY_HALF_TOKENS,
    achievable_bandwidth,
    decode_step,
    engine_kernel,
    mixed_step,
    prefill_step,
)

CHECK_CONTEXT = 4096.0
"""Context at which the affine decode table is checked against decode_step."""
PREFILL_CACHE_SIZE = 200_000
"""Prefill step times kept per config (by total tokens and attention work); the cache restarts when full."""
_STEPS = np.arange(1, 4097, dtype=np.int64)


def step_index(k: int) -> np.ndarray:
    """1, 2, ..., k as int64 (a view of one shared, growing array)."""
    global _STEPS
    if k > len(_STEPS):
        _STEPS = np.arange(1, 2 * k + 1, dtype=np.int64)
    return _STEPS[:k]


@dataclass(frozen=True)
class StepModel:
    """Per-config step costs and KV geometry the replica scheduler needs."""

    cfg: ServingConfig
    comp0: np.ndarray
    """Compute seconds of a decode step at zero context, by batch (index 0 unused)."""
    comp_slope: np.ndarray
    """Extra compute seconds per context token in the batch."""
    mem0: np.ndarray
    mem_slope: np.ndarray
    fixed: np.ndarray
    """All-reduces and per-step overheads, by batch."""
    kv_blocks: int
    block_size: int
    reserve_blocks: int
    """Blocks a sequence holds for its whole life under contiguous allocation (0 = paged)."""
    max_seqs: int
    token_budget: int
    prefill_one: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    """prefill_step of one prompt of P tokens at index P (one vectorised call): most prefill steps take one prompt."""
    prefill_cache: dict[tuple[int, int], float] = field(default_factory=dict, repr=False, compare=False)
    """prefill_time of the other steps by (total tokens, attention work)."""
    rows: list[tuple[float, float, float, float, float]] = field(default_factory=list, repr=False, compare=False)
    """(comp0, comp_slope, mem0, mem_slope, fixed) by batch as Python floats, for per-run scalar checks."""
    mixed: MixedStep | None = field(default=None, repr=False, compare=False)
    """mixed_step's total as a few float operations on this config's constants (None: the general call)."""
    prefill: PrefillStep | None = field(default=None, repr=False, compare=False)
    """prefill_step's total likewise (None: not exact for this config); only the compiled path uses it."""

    def decode_times(self, batch: int, context_tokens: np.ndarray) -> np.ndarray:
        """Seconds of decode steps of `batch` sequences holding `context_tokens` KV tokens in total."""
        compute = self.comp0[batch] + self.comp_slope[batch] * context_tokens
        memory = self.mem0[batch] + self.mem_slope[batch] * context_tokens
        return np.maximum(compute, memory) + self.fixed[batch]

    def decode_run(self, batch: int, context_tokens: int, k: int) -> np.ndarray:
        """Seconds of the next `k` decode steps of `batch` sequences now holding `context_tokens` in total.

        The same values as decode_times; when one affine piece wins at both ends of the run it wins
        throughout (their difference is affine), so the other piece is not evaluated.
        """
        context = batch * step_index(k) + context_tokens
        lo, hi = context_tokens + batch, context_tokens + batch * k
        c0, cs, m0, ms, fixed = self.rows[batch]
        compute_lo, compute_hi, memory_lo, memory_hi = c0 + cs * lo, c0 + cs * hi, m0 + ms * lo, m0 + ms * hi
        if compute_lo <= memory_lo and compute_hi <= memory_hi:
            seconds = m0 + ms * context
        elif compute_lo >= memory_lo and compute_hi >= memory_hi:
            seconds = c0 + cs * context
        else:
            return self.decode_times(batch, context)
        seconds += fixed
        return seconds

    def mixed_time(self, batch: int, context_tokens: int, tokens: Sequence[int], prior: Sequence[int]) -> float:
        """Seconds of one chunked-prefill step: a decode token for each of `batch` sequences holding
        `context_tokens` in total (after it), plus prompt chunks of `tokens[i]` on top of `prior[i]` cached
        tokens, as one planner.perf.step.mixed_step (weights read once). A chunk token attends on average
        to sum((prior+tokens)^2 - prior^2) / (2 sum(tokens)) tokens, the same causal work as prefill_time."""
        if not batch:
            return self.prefill_time(tokens, prior)
        total = int(sum(tokens))
        square = int(sum((p + n) ** 2 - p**2 for n, p in zip(tokens, prior)))
        if self.mixed is not None:
            return self.mixed(float(batch), context_tokens / batch, float(total), square / (2.0 * total))
        step = mixed_step(self.cfg, float(batch), context_tokens / batch, float(total), extra_context=square / (2.0 * total))
        return float(step.total_s)

    def prefill_time(self, tokens: Sequence[int], prior: Sequence[int]) -> float:
        """Seconds of one step prefilling `tokens[i]` new tokens on top of `prior[i]` cached ones.

        Passed to prefill_step as n sequences of P tokens with P*n = sum(tokens) and
        P^2*n = sum((prior+tokens)^2 - prior^2) (same matmul rows, same causal attention work).
        """
        if len(tokens) == 1 and not prior[0] and tokens[0] < len(self.prefill_one):
            return float(self.prefill_one[tokens[0]])
        total = int(sum(tokens))
        square = int(sum((p + n) ** 2 - p**2 for n, p in zip(tokens, prior)))
        seconds = self.prefill_cache.get((total, square))
        if seconds is None:
            if len(self.prefill_cache) >= PREFILL_CACHE_SIZE:
                self.prefill_cache.clear()
            t, s = float(total), float(square)
            seconds = self.prefill_cache[total, square] = float(prefill_step(self.cfg, s / t, t * t / s).total_s)
        return seconds


class MixedStep:
    """planner.perf.step.mixed_step(cfg, batch, context, extra, extra_context=...).total_s for scalars, as
    plain float operations on constants read once from the config: one call is ~1 us instead of ~75 us.

    Every expression keeps mixed_step's operand order (a constant factor is folded only where it leads a
    left-to-right product, or is a power of two), so the result is the same float, bit for bit;
    `matches` checks that against mixed_step itself and build_step_model falls back to the general call
    when the perf model has changed shape, and for speculative configs (mixed_step's speculative round).
    """

    def __init__(self, cfg: ServingConfig) -> None:
        m, q, eff = cfg.model, cfg.quant, cfg.eff
        self.cfg = cfg
        heads = m.n_heads / cfg.tp
        self.kv_per_token = kv_bytes_per_token_per_gpu(cfg)
        self.attn_coef = 4.0 * m.n_layers * heads * m.head_dim
        self.score_coef = 0.0 if cfg.engine.flash_attention else 2 * SCORE_BYTES * m.n_layers * heads
        self.moe = expert_params(m) != 0.0
        self.weights = float(weight_bytes_read_per_gpu(cfg, 1.0))
        self.bw = achievable_bandwidth(cfg)
        kernel = engine_kernel(cfg)
        dtype = q.compute_dtype
        linear_eff = eff.compute.get(dtype, eff.compute.get("bf16", 0.5)) * q.compute_efficiency * kernel
        attn_eff = eff.compute.get("bf16", eff.compute.get("bf16", 0.5)) * 1.0 * kernel
        self.linear_peak = cfg.gpu.tflops[dtype] * TFLOP * linear_eff
        self.attn_peak = cfg.gpu.tflops["bf16"] * TFLOP * attn_eff
        # peak_flops' small-M half-point: the weight-only kernels' for linear layers and attention alike
        self.linear_half = min(eff.gemm_half_tokens, WEIGHT_ONLY_HALF_TOKENS) if q.weight_only else eff.gemm_half_tokens
        self.matmul_coef = 2 * (m.active_b * 1e9 - embedding_params(m))
        self.head_coef = 2 * m.vocab_size * m.hidden_size
        self.tp = cfg.tp
        self.comm_layers = 2 * m.n_layers
        self.hidden = m.hidden_size
        self.ar_latency = eff.allreduce_latency_us * 1e-6
        self.ar_ring = 2 * (cfg.tp - 1) / cfg.tp
        self.link = cfg.gpu.interconnect.unidirectional_gbs * GBPS * eff.allreduce_bw_efficiency
        self.overhead = float(np.asarray(mixed_step(cfg, 1.0, 1.0, 0.0).overhead_s))

    def __call__(self, batch: float, context: float, extra: float, extra_context: float) -> float:
        """Seconds of the step (mixed_step's total_s) for Python-float inputs."""
        tokens = batch + extra
        kv_read = batch * context * self.kv_per_token
        attended = batch * context + extra * extra_context
        weights = float(weight_bytes_read_per_gpu(self.cfg, tokens)) if self.moe else self.weights
        bw = self.bw
        weights_s, kv_s = weights / bw, (kv_read + self.score_coef * attended) / bw
        rows = tokens if tokens > 1.0 else 1.0
        matmul_s = ((self.matmul_coef * tokens + self.head_coef * batch) / self.tp) / (
            self.linear_peak * rows / (rows + self.linear_half))
        attention_s = self.attn_coef * attended / (self.attn_peak * rows / (rows + self.linear_half))
        comm = self.comm_layers * (self.ar_latency + self.ar_ring * (tokens * self.hidden * 2.0) / self.link) if self.tp > 1 else 0.0
        return (max(matmul_s, weights_s) + max(attention_s, kv_s)) + comm + self.overhead

    def constants(self) -> np.ndarray:
        """The constants of __call__ in the order planner.simulate.compiled._mixed reads them."""
        return np.array([self.kv_per_token, self.attn_coef, self.score_coef, self.weights, self.bw, self.linear_peak,
                         self.attn_peak, self.linear_half, self.matmul_coef, self.head_coef, self.tp, self.comm_layers,
                         self.hidden, self.ar_latency, self.ar_ring, self.link, self.overhead, 2.0], dtype=float)

    def matches(self) -> bool:
        """Whether this gives mixed_step's float exactly over a spread of batches, contexts and chunks."""
        for batch in (1.0, 3.0, 17.0, 256.0):
            for context in (1.0, 700.5, 4096.0 / 3.0, 30000.0):
                for extra in (1.0, 37.0, 512.0, 8192.0):
                    for extra_context in (0.5, 123.25, 5000.0):
                        want = float(mixed_step(self.cfg, batch, context, extra, extra_context=extra_context).total_s)
                        if self(batch, context, extra, extra_context) != want:
                            return False
        return True


class PrefillStep(MixedStep):
    """planner.perf.step.prefill_step(cfg, prompt, sequences).total_s for scalars (no cached tokens), on the
    constants of MixedStep with prefill's attention terms: what planner.simulate.compiled._prefill computes.

    In operand order with prefill_step, including `prompt**2` (libm's pow, which is not always prompt*prompt:
    the compiled path calls pow too); `matches` checks it against prefill_step, and a dense model only (MoE
    weights read depend on the tokens)."""

    def __init__(self, cfg: ServingConfig) -> None:
        super().__init__(cfg)
        m = cfg.model
        heads = m.n_heads / cfg.tp
        self.attn_coef = 2.0 * m.n_layers * heads * m.head_dim
        self.score_coef = 0.0 if cfg.engine.flash_attention else SCORE_PASSES * SCORE_BYTES * m.n_layers * heads

    def __call__(self, prompt: float, sequences: float) -> float:  # type: ignore[override]
        """Seconds of the prefill step (prefill_step's total_s) for Python-float inputs."""
        tokens = prompt * sequences
        attended = (prompt**2 + 2 * prompt * 0.0) * sequences
        rows = tokens if tokens > 1.0 else 1.0
        weights_s, kv_s = self.weights / self.bw, (tokens * self.kv_per_token + self.score_coef * attended) / self.bw
        matmul_s = ((self.matmul_coef * tokens + self.head_coef * sequences) / self.tp) / (
            self.linear_peak * rows / (rows + self.linear_half))
        attention_s = self.attn_coef * attended / (self.attn_peak * rows / (rows + self.linear_half))
        comm = self.comm_layers * (self.ar_latency + self.ar_ring * (tokens * self.hidden * 2.0) / self.link) if self.tp > 1 else 0.0
        return max(matmul_s, weights_s) + max(attention_s, kv_s) + comm + self.overhead

    def matches(self) -> bool:
        """Whether this gives prefill_step's float exactly over a spread of prompt lengths and batch shapes."""
        if self.moe:
            return False
        for total in (1.0, 7.0, 512.0, 3001.0, 8192.0, 65537.0):
            for square in (total, 1.7 * total, total * 311.3, total * total / 2.5, total * total):
                want = float(prefill_step(self.cfg, square / total, total * total / square).total_s)
                if self(square / total, total * total / square) != want:
                    return False
        return True


def build_step_model(cfg: ServingConfig) -> StepModel:
    """Tabulate decode costs for every batch size up to max_num_seqs and read the KV geometry."""
    engine = cfg.engine
    batch = np.arange(0, engine.max_num_seqs + 1, dtype=float)
    b = np.maximum(batch, 1.0)
    at0 = decode_step(cfg, b, 0.0)
    at1 = decode_step(cfg, b, 1.0)  # context 1 per sequence: S = b tokens in total
    # decode_step = max(matmul, weights) + max(attention, KV) + fixed, and attention and KV reads are both
    # proportional to the total context, so at a fixed batch it is one affine piece in the context tokens
    fixed = np.asarray(at0.comm_s + at0.overhead_s, dtype=float) + 0.0 * b
    comp0 = mem0 = np.asarray(at0.total_s, dtype=float) - fixed
    comp_slope = mem_slope = (np.asarray(at1.total_s, dtype=float) - np.asarray(at0.total_s, dtype=float)) / b
    block = engine.block_size
    reserve = 0 if engine.paged_kv else -(-int(tokens_reserved_per_sequence(cfg, 0.0)) // block)
    prompts = np.arange(0, cfg.model.max_context + 1, dtype=float)
    one = np.asarray(prefill_step(cfg, np.maximum(prompts, 1.0), 1.0).total_s, dtype=float)  # index 0 unused
    mixed = MixedStep(cfg)
    prefill = PrefillStep(cfg) if cfg.spec is None else None
    model = StepModel(cfg, comp0, comp_slope, mem0, mem_slope, fixed,
                      max_kv_tokens(cfg) // block, block, reserve, engine.max_num_seqs, engine.max_num_batched_tokens,
                      prefill_one=one, mixed=mixed if cfg.spec is None and mixed.matches() else None,
                      prefill=prefill if prefill is not None and prefill.matches() else None, rows=list(zip(*(a.tolist() for a in (comp0, comp_slope, mem0, mem_slope, fixed)))))
    check = np.asarray(decode_step(cfg, b, CHECK_CONTEXT).total_s)
    table = np.maximum(comp0 + comp_slope * b * CHECK_CONTEXT, mem0 + mem_slope * b * CHECK_CONTEXT) + fixed
    if not np.allclose(table, check, rtol=1e-9, atol=1e-12):
        raise ValueError("decode_step is no longer affine in context at fixed batch; planner.simulate.steps must tabulate it on a grid")
    return model
