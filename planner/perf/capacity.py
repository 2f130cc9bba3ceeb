"""Capacity under SLO: the max sustainable req/s of one replica for one request-size bucket.

Continuous batching in steady state, parametrised by the mean number of live sequences N
(docs/methodology.md, "Capacity under SLO"):
  serial prefill:   lambda(N) = N / (O * T_decode(N) + N * T_prefill),  rho = lambda * T_prefill
  chunked prefill:  lambda(N) = N / (O * T_mixed(N, N * I / O)),        rho = (N * I / O) / (budget - N)
  (explicit in N: no fixed-point iteration)
  p-quantiles:      live batch N + z*sqrt(N); TPOT over the bucket's output classes, with Poisson-counted
                    interruptions that are M/G/1 busy periods; prefill queue wait from Kingman's tail.
The largest N whose p99 TTFT, p99 TPOT, prefill utilization and KV occupancy all hold gives the capacity.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy.special import pdtrc

from planner.demand.buckets import Bucket
from planner.perf.memory import ServingConfig, max_batch, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import StepTime, decode_step, mixed_step, prefill_step
from planner.schemas.workload import SLO

ARRIVAL_SCV = 1.0
"""Squared coefficient of variation of arrivals (1 = Poisson) in the prefill-queue tail."""
SERVICE_SCV = 0.25
CURVE_POINTS = 24
"""Load points kept per cell for interpolating predicted latencies at a pool's utilization."""
"""Squared coefficient of variation of prefill times within a bucket."""

Bound = str  # "compute" | "bandwidth" | "kv_memory" | "slo"


@dataclass(frozen=True)
class CellCapacity:
    """What one replica of a config can do for one bucket."""

    max_rps: float
    bound: Bound
    detail: str
    batch: float
    ttft0_ms: float
    tpot0_ms: float
    curve_rps: tuple[float, ...] = ()
    curve_ttft_ms: tuple[float, ...] = ()
    curve_tpot_ms: tuple[float, ...] = ()

    def latency_at(self, rps: float) -> tuple[float, float]:
        """Predicted p-quantile (TTFT ms, TPOT ms) at `rps` req/s per replica (interpolated)."""
        if not self.curve_rps:
            return self.ttft0_ms, self.tpot0_ms
        xs = np.asarray((0.0,) + self.curve_rps)
        ttft = float(np.interp(rps, xs, (self.ttft0_ms,) + self.curve_ttft_ms))
        tpot = float(np.interp(rps, xs, (self.tpot0_ms,) + self.curve_tpot_ms))
        return ttft, tpot


def _zero(bound: Bound, detail: str, ttft0_ms: float = math.inf, tpot0_ms: float = math.inf) -> CellCapacity:
    return CellCapacity(0.0, bound, detail, 0.0, ttft0_ms, tpot0_ms)


def _batch_grid(n_cap: int) -> np.ndarray:
    """Mean live sequences to evaluate: fractions below 1 (light load), then every integer to the cap."""
    light = np.geomspace(1e-4, 1.0, 25)[:-1]
    full = np.arange(1, n_cap + 1, dtype=float) if n_cap <= 1024 else np.unique(np.geomspace(1, n_cap, 1024).round())
    return np.concatenate([light, full])


def cell_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one replica sustains for `bucket` with p-quantile TTFT/TPOT within the SLO."""
    p = slo.percentile / 100
    z = NormalDist().inv_cdf(p)
    inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
    outputs = np.asarray(bucket.output_q or (out,), dtype=float)
    # a live sequence is, on average, half-way through its output, and long outputs stay live longer:
    # the time-weighted mean context is I + E[O^2] / (2 E[O]) (I + O/2 when all outputs are equal)
    context = inp + float(np.mean(outputs**2) / (2 * np.mean(outputs)))
    longest = bucket.input_max + bucket.output_max
    kv_tokens = max_kv_tokens(cfg)
    if tokens_reserved_per_sequence(cfg, longest) > kv_tokens:
        return _zero("kv_memory", f"a {longest}-token sequence needs more KV cache than the {kv_tokens} tokens that fit")
    n_cap = max_batch(cfg, context)
    if n_cap < 1:
        return _zero("kv_memory", f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens")
    t_prefill = float(prefill_step(cfg, inp).total_s)
    t_prefill_tail = float(prefill_step(cfg, bucket.input_p99).total_s)
    ttft0_ms = t_prefill_tail * 1e3
    tpot0_ms = float(decode_step(cfg, 1.0, context).total_s) * 1e3
    if ttft0_ms > slo.ttft_ms:
        return _zero("slo", f"TTFT {ttft0_ms:.0f} ms even at zero load (prefill of {bucket.input_p99:.0f} tokens) > {slo.ttft_ms:g} ms", ttft0_ms, tpot0_ms)
    if tpot0_ms > slo.tpot_ms:
        return _zero("slo", f"TPOT {tpot0_ms:.1f} ms even at batch 1 > {slo.tpot_ms:g} ms", ttft0_ms, tpot0_ms)

    grid = _batch_grid(n_cap)
    n_hi = grid + z * np.sqrt(grid)
    if cfg.engine.chunked_prefill:
        load = _chunked_load(cfg, bucket, grid, n_hi, context, outputs, p)
    else:
        load = _serial_load(cfg, bucket, grid, n_hi, context, outputs, p, t_prefill, t_prefill_tail)
    checks = {
        "prefill": load.rho < 1,
        "tpot": load.late_at(np.full(len(grid), slo.tpot_ms / 1e3)) <= 1 - p,
        "ttft": load.ttft * 1e3 <= slo.ttft_ms,
        "batch": n_hi <= n_cap,
    }
    ok = checks["prefill"] & checks["tpot"] & checks["ttft"] & checks["batch"]
    first_bad = int(np.argmin(ok)) if not ok.all() else len(grid)
    if first_bad == 0:
        _, why = _binding(cfg, checks, 0, grid, load.rho, load.step, n_cap, context, slo)
        return _zero("slo", f"{why} even at {load.rps[0]:.2g} req/s", ttft0_ms, tpot0_ms)
    last = first_bad - 1
    rps, ttft = load.rps, load.ttft
    bound, detail = _binding(cfg, checks, first_bad, grid, load.rho, load.step, n_cap, context, slo)
    keep = np.unique(np.linspace(0, last, min(last + 1, CURVE_POINTS)).round().astype(int))
    tpot = _tpot_quantile(load.late_at, load.tpot_floor[keep], slo.tpot_ms / 1e3, 1 - p, keep)
    return CellCapacity(
        max_rps=float(rps[last]), bound=bound, detail=detail, batch=float(grid[last]),
        ttft0_ms=ttft0_ms, tpot0_ms=tpot0_ms,
        curve_rps=tuple(rps[keep].tolist()),
        curve_ttft_ms=tuple((ttft[keep] * 1e3).tolist()),
        curve_tpot_ms=tuple((tpot * 1e3).tolist()),
    )


@dataclass(frozen=True)
class _Load:
    """A replica's steady state at each batch point: rate, prefill utilization, latency model."""

    rps: np.ndarray
    rho: np.ndarray
    """Prefill utilization: share of time (serial) or of the token budget (chunked) spent on prompts."""
    ttft: np.ndarray
    tpot_floor: np.ndarray
    late_at: Callable[..., np.ndarray]
    step: StepTime


def _serial_load(cfg, bucket, grid, n_hi, context, outputs, p, t_prefill, t_prefill_tail) -> _Load:  # noqa: ANN001
    """Prefills run as their own steps and pause decoding (vLLM without chunked prefill)."""
    out = max(bucket.output_mean, 1.0)
    decode = decode_step(cfg, grid, context)
    t_decode = np.asarray(decode.total_s)
    rps = grid / (out * t_decode + grid * t_prefill)
    rho = rps * t_prefill
    t_decode_hi = np.asarray(decode_step(cfg, n_hi, context).total_s)
    classes = np.asarray(prefill_step(cfg, _input_classes(bucket)).total_s, dtype=float)
    per_step = np.broadcast_to(classes, (len(grid), len(classes)))
    late_at = _tpot_lateness(outputs, per_step, np.ones_like(per_step), np.full(len(grid), t_prefill),
                             t_decode_hi, t_decode, rps, rho)
    wait = _queue_wait(rho, t_prefill, p)
    # own prefill (bucket tail) and queueing are independent tails: combine their excess over the mean
    ttft = t_prefill + t_decode_hi + np.sqrt((t_prefill_tail - t_prefill) ** 2 + wait**2)
    return _Load(rps, rho, ttft, t_decode_hi, late_at, decode)


def _chunked_load(cfg, bucket, grid, n_hi, context, outputs, p) -> _Load:  # noqa: ANN001
    """Chunked prefill (vLLM V1): every step carries one decode token per running sequence plus prompt
    tokens within max_num_batched_tokens. On average a step carries N * I / O prompt tokens; a prompt
    rides in ceil(I / room) steps, each slowed by its chunk (the interruption a decoding request sees)."""
    inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
    budget = float(cfg.engine.max_num_batched_tokens)
    room, room_hi = np.maximum(budget - grid, 1.0), np.maximum(budget - n_hi, 1.0)
    step = mixed_step(cfg, grid, context, grid * inp / out, extra_context=inp / 2)
    t_step = np.asarray(step.total_s)
    rps = grid / (out * t_step)
    rho = (grid * inp / out) / room
    t_base = np.asarray(mixed_step(cfg, n_hi, context, 0.0).total_s)

    def added(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Time a prompt of `tokens` adds to each step it rides in, and how many steps (n x len(tokens))."""
        chunk = np.minimum(tokens[None, :], room_hi[:, None])
        heavy = np.asarray(mixed_step(cfg, n_hi[:, None], context, chunk, extra_context=chunk / 2).total_s)
        return heavy - t_base[:, None], np.ceil(tokens[None, :] / room_hi[:, None])

    def total(tokens: float) -> np.ndarray:
        per_step, steps = added(np.array([tokens]))
        return (per_step * steps)[:, 0]

    own = total(inp)
    late_at = _tpot_lateness(outputs, *added(_input_classes(bucket)), own, t_base, t_step, rps, np.minimum(rho, 0.999))
    service = t_base + own
    service_tail = t_base + total(bucket.input_p99)
    wait = _queue_wait(rho, service, p)
    ttft = service + t_step + np.sqrt((service_tail - service) ** 2 + wait**2)
    return _Load(rps, rho, ttft, t_base, late_at, step)


def _input_classes(bucket: Bucket) -> np.ndarray:
    return np.asarray(bucket.input_q or (bucket.input_mean,), dtype=float)


def _queue_wait(rho: np.ndarray, service: np.ndarray | float, p: float) -> np.ndarray:
    """p-quantile wait for the prefill server: Kingman's M/G/1 exponential tail, rho * exp(-t / scale)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = service * (ARRIVAL_SCV + SERVICE_SCV) / (2 * (1 - rho))
        return np.where((rho > 1 - p) & (rho < 1), scale * np.log(rho / (1 - p)), np.where(rho >= 1, np.inf, 0.0))


def _tpot_lateness(outputs, per_step, steps, mean_interrupt, floor, gap_time, rps, rho):  # noqa: ANN001, ANN202
    """Share of a bucket's requests whose TPOT exceeds t, as a function of t (one value per batch point).

    Each output-length class O_j (equal weight) spends O_j - 1 decode gaps of `gap_time`; prompts of new
    arrivals interrupt it a Poisson number K of times with mean rps * ((O_j - 1) * gap_time + own), where
    `own` (the mean interruption) counts the arrivals during its own prefill, served before its second
    token. An interruption is a busy period: the prompts that arrive while it runs queue behind it, so
    it lasts 1 / (1 - rho) prompts on average (M/G/1), which gives the mean TPOT gap_time / (1 - rho)
    and a heavier tail than single prompts. Its TPOT is `floor` plus the interruptions' added time over
    O_j - 1, so it is late when they add
    more than R = (t - floor)(O_j - 1): with one interruption, when that prompt's cost exceeds R — drawn
    from the bucket's input classes, `per_step[n, q]` in each of `steps[n, q]` steps, of which at most
    O_j - 1 fall in the request's gaps; with more, when K mean interruptions do.
    Short outputs dominate: one interruption spread over few tokens. Single-token outputs have no TPOT.
    """
    gaps = outputs[outputs > 1] - 1
    mu = rps[:, None] * (gap_time[:, None] * gaps + mean_interrupt[:, None])
    one = mu * np.exp(-mu)  # P(K = 1)
    cluster = 1 / (1 - rho)
    per_step, mean_interrupt = per_step * cluster[:, None], mean_interrupt * cluster

    def late_at(t: np.ndarray, points: np.ndarray | slice = slice(None)) -> np.ndarray:
        room = (t - floor[points])[:, None] * gaps
        allowed = np.maximum(np.floor(room / np.maximum(mean_interrupt[points], 1e-12)[:, None]), 1)  # more: late
        cost = per_step[points][:, None, :] * np.minimum(steps[points][:, None, :], gaps[None, :, None])
        single = (cost > room[:, :, None]).mean(axis=2)
        late = np.where(room < 0, 1.0, one[points] * single + pdtrc(allowed, mu[points]))
        return late.sum(axis=1) / len(outputs)

    return late_at


def _tpot_quantile(late_at, t_decode_hi: np.ndarray, slo_s: float, tail: float, points: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """The TPOT that `tail` of requests exceed at batch points `points` (all of which meet the SLO):
    bracket it by doubling from the decode step (up to the SLO), then bisect."""
    lo, hi = t_decode_hi.copy(), np.minimum(2 * t_decode_hi, slo_s)
    for _ in range(60):
        short = late_at(hi, points) > tail
        if not short.any():
            break
        lo, hi = np.where(short, hi, lo), np.where(short, np.minimum(2 * hi, slo_s), hi)
    for _ in range(14):
        mid = (lo + hi) / 2
        ok = late_at(mid, points) <= tail
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return hi


def _binding(cfg, checks, j, grid, rho, decode, n_cap, context, slo) -> tuple[Bound, str]:  # noqa: ANN001
    """Name the resource that stops more load: the first check that fails past the capacity point."""
    capped = j >= len(grid)  # every point up to the batch cap met the SLOs
    j = min(j, len(grid) - 1)
    kind = "compute-bound" if bool(np.asarray(decode.compute_bound)[j]) else "bandwidth-bound"
    if capped or not checks["batch"][j]:
        kv_limited = max_batch(cfg, context) < cfg.engine.max_num_seqs
        if kv_limited:
            return "kv_memory", f"KV cache holds {n_cap} sequences of {context:.0f} tokens"
        return ("compute" if kind == "compute-bound" else "bandwidth"), f"max_num_seqs {n_cap} reached (decode {kind})"
    if not checks["prefill"][j]:
        return "compute", f"prompts arrive faster than prefill can process them at batch {grid[j]:.0f}"
    if not checks["ttft"][j]:
        if rho[j] >= 0.85:
            return "compute", f"prefill saturates the GPU ({rho[j]:.0%} busy) before p99 TTFT {slo.ttft_ms:g} ms"
        return "slo", f"p99 TTFT {slo.ttft_ms:g} ms at batch {grid[j]:.0f} (prefill {rho[j]:.0%} busy)"
    return "slo", f"p99 TPOT {slo.tpot_ms:g} ms at batch {grid[j]:.0f} (decode {kind})"


def capacity_row(cfg: ServingConfig, buckets: tuple[Bucket, ...], slo: SLO) -> tuple[CellCapacity, ...]:
    """Every bucket of one config."""
    return tuple(cell_capacity(cfg, b, slo) for b in buckets)
