"""The single-configuration calculator behind `planner estimate` (docs/methodology.md, "Estimate modes").

Four ways to load one replica, each what a kind of published benchmark measures:
  lockstep(B)        B sequences prefill together, then decode O steps together (vendor latency tables);
  max_throughput     offline, the live batch as large as KV memory and max_num_seqs allow (throughput tables);
  at_rate(R)         Poisson arrivals at R req/s under continuous batching (serving benchmarks);
  at_concurrency(C)  C closed-loop clients, each sending its next request when the last one ends.
The continuous-batching modes reuse `perf/capacity.py` (`cell_capacity`) for the queueing formulas.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from planner.demand.buckets import Bucket
from planner.errors import PlannerError
from planner.perf.bound import Bound
from planner.perf.capacity import CellCapacity, cell_capacity
from planner.perf.memory import GB, GIB, ServingConfig, kv_bytes_per_token, max_batch, max_kv_tokens, vllm_kv_cache, weight_bytes_per_gpu
from planner.perf.step import StepTime, decode_step, mixed_step, prefill_step
from planner.schemas.workload import SLO

LOOSE_MS = 1e12
"""An SLO no configuration misses: `cell_capacity` then traces the whole load curve up to the batch cap."""


@dataclass(frozen=True)
class Estimate:
    """Predicted latency and throughput of one replica (all tp GPUs) in one load mode."""

    mode: str
    config: str
    input_tokens: int
    output_tokens: int
    weights_gb_per_gpu: float
    kv_bytes_per_token: float
    kv_tokens: int
    max_batch: int
    batch: float
    """Live decoding sequences at the operating point (mean)."""
    ttft_ms: float
    tpot_ms: float
    output_tok_s: float
    total_tok_s: float
    req_s: float
    bound: str
    """compute | bandwidth | kv_memory (planner.perf.bound.Bound): the resource that caps this mode."""
    prefill_ms: dict[str, float]
    decode_ms: dict[str, float]
    p99_ttft_ms: float | None = None
    p99_tpot_ms: float | None = None
    overloaded: bool = False
    max_rps: float | None = None
    notes: tuple[str, ...] = field(default=())
    kv_cache: dict[str, float] = field(default_factory=dict)
    """One GPU's memory as vLLM's startup profiling splits it (GiB) and the KV blocks it allocates
    (planner.perf.memory.vllm_kv_cache)."""
    engine: str = ""
    """The serving engine and version the estimate is for (`vllm 0.10 (V1 engine)`)."""
    error_band: dict = field(default_factory=dict)
    """{ttft|tpot|throughput: {median_abs_pct, p90_abs_pct, median_signed_pct, n, scope}}: the held-out error of
    docs/accuracy.md for this GPU and engine (perf.bands.bands_for); empty when no band applies."""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


ONE_TOKEN_NOTE = "one output token: the request ends with its prefill; TPOT is the decode step it would next take, not part of its latency"
"""`--output 1` (TTFT benchmarks): the first token comes out of the prefill, so no decode step is on the request's path."""


def _base(cfg: ServingConfig, mode: str, inp: int, out: int, prefill: StepTime, decode: StepTime, **kw) -> Estimate:  # noqa: ANN003
    if out == 1:
        kw["notes"] = (*kw.get("notes", ()), ONE_TOKEN_NOTE)
    return Estimate(
        mode=mode, config=cfg.key, input_tokens=inp, output_tokens=out,
        weights_gb_per_gpu=weight_bytes_per_gpu(cfg) / GB, kv_bytes_per_token=kv_bytes_per_token(cfg.model, cfg.kv),
        kv_tokens=max_kv_tokens(cfg), max_batch=max_batch(cfg, inp + out / 2),
        prefill_ms=prefill.breakdown_ms(), decode_ms=decode.breakdown_ms(), kv_cache=kv_cache_summary(cfg),
        engine=f"{cfg.engine.kind} {cfg.engine.version}".strip(), **kw,
    )


def kv_cache_summary(cfg: ServingConfig) -> dict[str, float]:
    """vllm_kv_cache in GiB per GPU, with the block count and size (what vLLM's startup log reports)."""
    k = vllm_kv_cache(cfg)
    gib = {name: round(getattr(k, f"{name}_bytes") / GIB, 3)
           for name in ("total", "budget", "weights", "activation", "non_torch", "kv", "cuda_graph")}
    return {**gib, "gpu_memory_utilization": cfg.engine.gpu_memory_utilization, "block_size": k.block_size,
            "blocks": k.blocks, "tokens": k.tokens}


def _decode_kind(step: StepTime) -> Bound:
    return Bound.COMPUTE if bool(step.compute_bound) else Bound.BANDWIDTH


def lockstep(cfg: ServingConfig, inp: int, out: int, batch: int) -> Estimate:
    """B sequences prefill in one step, then decode together; TPOT at the mean context I + O/2.

    TTFT = prefill(B x I); E2E = TTFT + (O - 1) x TPOT; throughput = B x O / E2E.
    """
    prefill = prefill_step(cfg, float(inp), float(batch))
    decode = decode_step(cfg, float(batch), inp + out / 2)
    ttft, tpot = float(prefill.total_s), float(decode.total_s)
    e2e = ttft + (out - 1) * tpot
    fit = max_batch(cfg, inp + out)
    notes, bound = [], _decode_kind(decode)
    if batch > fit:
        bound = Bound.KV_MEMORY
        notes.append(f"KV cache holds {fit} sequences of {inp + out} tokens: a batch of {batch} would be preempted or run in waves")
    return _base(
        cfg, "batch", inp, out, prefill, decode, batch=float(batch), ttft_ms=ttft * 1e3, tpot_ms=tpot * 1e3,
        output_tok_s=batch * out / e2e, total_tok_s=batch * (inp + out) / e2e, req_s=batch / e2e, bound=bound, notes=tuple(notes),
    )


def _bucket(inp: int, out: int) -> Bucket:
    return Bucket(inp, inp + 1, out, out + 1, 1.0, float(inp), float(out), float(inp), inp, out)


def load_curve(cfg: ServingConfig, inp: int, out: int, percentile: float = 50.0) -> CellCapacity:
    """The continuous-batching load curve (req/s -> TTFT, TPOT) up to the batch cap, from `cell_capacity`."""
    slo = SLO(ttft_ms=LOOSE_MS, tpot_ms=LOOSE_MS, percentile=percentile)
    return cell_capacity(cfg, _bucket(inp, out), slo)


def _cap_bound(cfg: ServingConfig, inp: int, out: int, decode: StepTime) -> str:
    """kv_memory when KV memory (not max_num_seqs) caps the batch, else what the decode step is bound by."""
    if max_batch(cfg, inp + out / 2) < cfg.engine.max_num_seqs:
        return Bound.KV_MEMORY
    return _decode_kind(decode)


def _continuous(cfg: ServingConfig, mode: str, inp: int, out: int, rate: float, curve: CellCapacity, **kw) -> Estimate:  # noqa: ANN003
    """Operating point of the continuous-batching curve at `rate` req/s (rate <= curve.max_rps)."""
    ttft_ms, tpot_ms = curve.latency_at(rate)
    live = rate * (out - 1) * tpot_ms / 1e3 + rate * ttft_ms / 1e3  # Little: requests in the system
    decode = decode_step(cfg, max(rate * out * tpot_ms / 1e3, 1.0), inp + out / 2)
    kw.setdefault("bound", _decode_kind(decode))
    return _base(
        cfg, mode, inp, out, prefill_step(cfg, float(inp)), decode, batch=live, ttft_ms=ttft_ms, tpot_ms=tpot_ms,
        output_tok_s=rate * out, total_tok_s=rate * (inp + out), req_s=rate, **kw,
    )


def _require_fit(cfg: ServingConfig, inp: int, out: int, curve: CellCapacity) -> None:
    if curve.max_rps <= 0:
        raise PlannerError(f"{cfg.key}: cannot serve {inp}/{out}-token requests: {curve.detail}")


def max_throughput(cfg: ServingConfig, inp: int, out: int) -> Estimate:
    """Offline throughput with chunked prefill: each step decodes the N live sequences and prefills
    the prompts of the N / O sequences that replace the finished ones (N x I / O prompt tokens).

    N = min(KV-memory batch, max_num_seqs, max_num_batched_tokens / (1 + I / O)); req/s = N / O / t_step.
    """
    context = inp + out / 2
    n_kv = max_batch(cfg, context)
    if n_kv < 1:
        raise PlannerError(f"{cfg.key}: no {inp}/{out}-token sequence fits in the {max_kv_tokens(cfg)} KV tokens that fit")
    n = min(float(n_kv), cfg.engine.max_num_batched_tokens / (1.0 + inp / out))
    chunk = n * inp / out
    decode = decode_step(cfg, n, context)
    target = cfg.target
    marginal = mixed_step(target, n, context, chunk).total_s - mixed_step(target, n, context, 0.0).total_s
    t_step = float(decode.total_s + marginal)
    rate = n / out / t_step
    notes = ()
    if n < n_kv and n < cfg.engine.max_num_seqs:
        notes = (f"max_num_batched_tokens {cfg.engine.max_num_batched_tokens} limits the live batch to {n:.0f}",)
    bound = Bound.KV_MEMORY if n_kv < cfg.engine.max_num_seqs and n >= n_kv else _decode_kind(mixed_step(target, n, context, chunk))
    return _base(
        cfg, "max-throughput", inp, out, prefill_step(cfg, float(inp)), decode, batch=n,
        ttft_ms=float(prefill_step(cfg, float(inp)).total_s) * 1e3, tpot_ms=t_step * 1e3,
        output_tok_s=rate * out, total_tok_s=rate * (inp + out), req_s=rate, bound=bound, max_rps=rate, notes=notes,
    )


def at_rate(cfg: ServingConfig, inp: int, out: int, rate: float, percentile: float = 99.0) -> Estimate:
    """Poisson arrivals at `rate` req/s: mean (median-load) and p-quantile TTFT/TPOT, or overloaded."""
    curve = load_curve(cfg, inp, out)
    _require_fit(cfg, inp, out, curve)
    if rate > curve.max_rps:
        decode = decode_step(cfg, float(curve.batch), inp + out / 2)
        est = _continuous(cfg, "rate", inp, out, curve.max_rps, curve, bound=_cap_bound(cfg, inp, out, decode),
                          overloaded=True, max_rps=curve.max_rps,
                          notes=(f"overloaded: max sustainable is {curve.max_rps:.3g} req/s",))
        return est
    tail = load_curve(cfg, inp, out, percentile)
    notes = ()
    if rate > tail.max_rps:
        notes = (f"the p{percentile:g} live batch exceeds the cap above {tail.max_rps:.3g} req/s: p{percentile:g} values are lower bounds",)
    ttft99, tpot99 = tail.latency_at(rate)
    return _continuous(cfg, "rate", inp, out, rate, curve, p99_ttft_ms=ttft99, p99_tpot_ms=tpot99, max_rps=curve.max_rps, notes=notes)


def at_concurrency(cfg: ServingConfig, inp: int, out: int, clients: int) -> Estimate:
    """C closed-loop clients: the rate where Little's law C = rate x (TTFT + (O-1) x TPOT) holds.

    Past the batch cap the extra clients queue: rate = max, TTFT = C / rate - (O-1) x TPOT.
    """
    curve = load_curve(cfg, inp, out)
    _require_fit(cfg, inp, out, curve)

    def in_system(rate: float) -> float:
        ttft_ms, tpot_ms = curve.latency_at(rate)
        return rate * (ttft_ms + (out - 1) * tpot_ms) / 1e3

    if in_system(curve.max_rps) <= clients:
        est = _continuous(cfg, "concurrency", inp, out, curve.max_rps, curve, max_rps=curve.max_rps)
        ttft_ms = max(est.ttft_ms, clients / curve.max_rps * 1e3 - (out - 1) * est.tpot_ms)
        return replace(est, ttft_ms=ttft_ms, batch=float(clients),
                        notes=(f"{clients} clients exceed the {curve.batch:.0f}-sequence batch cap: the rest queue",))
    lo, hi = 0.0, curve.max_rps
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if in_system(mid) < clients else (lo, mid)
    return _continuous(cfg, "concurrency", inp, out, (lo + hi) / 2, curve, max_rps=curve.max_rps)
