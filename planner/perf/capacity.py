"""Capacity under SLO: the max sustainable req/s of one replica for one request-size bucket.

Continuous batching in steady state, parametrised by the mean number of live sequences N
(docs/methodology.md, "Capacity under SLO"):
  Little:            N = lambda * O * TPOT_mean,   TPOT_mean = T_decode(N) / (1 - rho),  rho = lambda * T_prefill
  => lambda(N) = N / (O * T_decode(N) + N * T_prefill)          (explicit: no fixed-point iteration)
  p-quantiles:       live batch N + z*sqrt(N); prefills interrupting a request ~ Poisson;
                     prefill queue wait from the M/G/1 exponential tail (Kingman).
The largest N whose p99 TTFT, p99 TPOT and KV occupancy all hold gives the capacity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from planner.demand import Bucket
from planner.perf.memory import ServingConfig, max_batch, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import decode_step, prefill_step
from planner.workload import SLO

ARRIVAL_SCV = 1.0
"""Squared coefficient of variation of arrivals (1 = Poisson) in the prefill-queue tail."""
SERVICE_SCV = 0.25
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
    light = np.geomspace(0.02, 1.0, 12)[:-1]
    full = np.arange(1, n_cap + 1, dtype=float) if n_cap <= 1024 else np.unique(np.geomspace(1, n_cap, 1024).round())
    return np.concatenate([light, full])


def cell_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one replica sustains for `bucket` with p-quantile TTFT/TPOT within the SLO."""
    p = slo.percentile / 100
    z = NormalDist().inv_cdf(p)
    inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
    context = inp + out / 2
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
    decode = decode_step(cfg, grid, context)
    t_decode = np.asarray(decode.total_s)
    rps = grid / (out * t_decode + grid * t_prefill)
    rho = rps * t_prefill
    n_hi = grid + z * np.sqrt(grid)
    t_decode_hi = np.asarray(decode_step(cfg, n_hi, context).total_s)
    span = max(out - 1, 1.0) * t_decode / (1 - rho)
    interruptions = rps * span + z * np.sqrt(rps * span)
    tpot = t_decode_hi + t_prefill * interruptions / max(out - 1, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rho > 1 - p, t_prefill * (ARRIVAL_SCV + SERVICE_SCV) / (2 * (1 - rho)) * np.log(rho / (1 - p)), 0.0)
    # own prefill (bucket tail) and queueing are independent tails: combine their excess over the mean
    ttft = t_prefill + t_decode_hi + np.sqrt((t_prefill_tail - t_prefill) ** 2 + wait**2)
    checks = {
        "tpot": tpot * 1e3 <= slo.tpot_ms,
        "ttft": ttft * 1e3 <= slo.ttft_ms,
        "batch": n_hi <= n_cap,
    }
    ok = checks["tpot"] & checks["ttft"] & checks["batch"]
    first_bad = int(np.argmin(ok)) if not ok.all() else len(grid)
    if first_bad == 0:
        return _zero("slo", "the SLO fails at the lightest load evaluated", ttft0_ms, tpot0_ms)
    last = first_bad - 1
    bound, detail = _binding(cfg, checks, first_bad, grid, rho, decode, n_cap, context, slo)
    return CellCapacity(
        max_rps=float(rps[last]), bound=bound, detail=detail, batch=float(grid[last]),
        ttft0_ms=ttft0_ms, tpot0_ms=tpot0_ms,
        curve_rps=tuple(rps[: last + 1].tolist()),
        curve_ttft_ms=tuple((ttft[: last + 1] * 1e3).tolist()),
        curve_tpot_ms=tuple((tpot[: last + 1] * 1e3).tolist()),
    )


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
    if not checks["ttft"][j]:
        if rho[j] >= 0.85:
            return "compute", f"prefill saturates the GPU ({rho[j]:.0%} busy) before p99 TTFT {slo.ttft_ms:g} ms"
        return "slo", f"p99 TTFT {slo.ttft_ms:g} ms at batch {grid[j]:.0f} (prefill {rho[j]:.0%} busy)"
    return "slo", f"p99 TPOT {slo.tpot_ms:g} ms at batch {grid[j]:.0f} (decode {kind})"
