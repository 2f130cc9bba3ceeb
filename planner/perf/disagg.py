"""Capacity of the two halves of a disaggregated replica pair (DistServe, Splitwise, Mooncake).

A prefill replica serves prompts only: one prompt per step, queued FIFO (M/G/1; in a pool behind least-loaded
routing, M/G/m: the cell's `pooled` capacities, planner.optimize.pooling), then the prompt's KV cache
goes over the replica's network to a decode replica; its TTFT is queueing + prefill + KV transfer (queued on
the sender's link), and its NIC cannot send more bytes per second than it has. A decode replica holds the KV
of its running sequences and runs decode steps only (no prompt chunks interfere), so its p-quantile TPOT is
one decode step at the p-quantile batch, and its KV cache bounds the batch. Formulas: docs/methodology.md,
"Disaggregated prefill/decode". Built from the public step, memory and queueing functions of planner.perf.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.bound import Bound
from planner.perf.capacity import CellCapacity
from planner.perf.curves import curve_points
from planner.perf.memory import ServingConfig, kv_bytes_per_token, max_batch, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import decode_step, prefill_step
from planner.perf.tail import POOL_TIERS, erlang_c, queue_wait
from planner.schemas.workload import SLO

LINK_EFFICIENCY = 0.8
"""Share of the NIC line rate a KV transfer achieves (RDMA writes of MB-sized KV blocks: NIXL/Mooncake
Transfer Engine report 80-90 % of line rate; docs/methodology.md takes the low end)."""
LIGHT = np.geomspace(1e-3, 1.0, 12)[:-1]
"""Mean decode batches below one (light load) evaluated before the integer batches."""
PREFILL_GRID = np.linspace(0.0, 0.999, 334)[1:]
"""Prefill utilizations evaluated for a prefill replica's capacity (steps of 0.3 %: the capacity is at most that
much below the exact root)."""


@dataclass(frozen=True)
class KnownCurve:
    """A cell's latency curve known at its points; reads like the co-located cells' lazily drawn curve
    (`values`: req/s, TTFT ms, and an object whose `values_ms()` gives TPOT ms)."""

    rps: tuple[float, ...]
    ttft_ms: tuple[float, ...]
    tpot_ms: tuple[float, ...]

    @property
    def values(self) -> tuple[tuple[float, ...], tuple[float, ...], "KnownCurve"]:
        return self.rps, self.ttft_ms, self

    def values_ms(self) -> tuple[float, ...]:
        return self.tpot_ms


def link_bytes_per_s(cfg: ServingConfig) -> float:
    """Bytes/s one replica's NICs move in one direction: tp GPUs x the catalog's Gb/s per GPU x LINK_EFFICIENCY
    (each TP rank sends its shard of the KV over its own NIC). 0 when the catalog lists no network for the GPU."""
    network = cfg.gpu.network
    return 0.0 if network is None else cfg.tp * network.gbps_per_gpu * 1e9 / 8 * LINK_EFFICIENCY


def kv_transfer_bytes(cfg: ServingConfig, prompt_tokens: float | np.ndarray) -> float | np.ndarray:
    """Bytes of KV one prompt hands to its decode replica: every prompt token (cached ones too) x the KV bytes per
    token of the pair's KV dtype (cfg.kv; prefill and decode pools of a pair share it)."""
    return prompt_tokens * kv_bytes_per_token(cfg.model, cfg.kv)


def kv_transfer_s(cfg: ServingConfig, prompt_tokens: float | np.ndarray) -> float | np.ndarray:
    """Seconds to send one prompt's KV over the prefill replica's network (inf without a network)."""
    rate = link_bytes_per_s(cfg)
    return kv_transfer_bytes(cfg, prompt_tokens) / rate if rate > 0 else np.inf * np.asarray(prompt_tokens)


def _largest(ok: np.ndarray) -> int:
    """Index of the last point of the passing prefix (-1 when the first point fails)."""
    bad = np.flatnonzero(~ok)
    return (int(bad[0]) if len(bad) else len(ok)) - 1


def _curve(rps: np.ndarray, values_ms: np.ndarray, last: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Req/s and a latency at CURVE_POINTS points from light load to the capacity point `last` (as co-located cells)."""
    keep = curve_points(last)
    return tuple(rps[keep].tolist()), tuple(values_ms[keep].tolist())


def prefill_row(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO) -> tuple[CellCapacity, ...]:
    """`prefill_capacity` of every bucket, the prefill step times of all of them in one numpy pass."""
    hit = np.array([b.cache_hit for b in buckets])
    inp, tail = np.array([b.input_mean for b in buckets]), np.array([b.input_p99 for b in buckets])
    service = np.asarray(prefill_step(cfg, inp * (1 - hit), cached=inp * hit).total_s, dtype=float) + 0 * inp
    service_tail = np.asarray(prefill_step(cfg, tail * (1 - hit), cached=tail * hit).total_s, dtype=float) + 0 * inp
    kv_tokens = max_kv_tokens(cfg)
    pooled = _pooled_rps(cfg, buckets, slo, service, service_tail)
    return tuple(_prefill_cell(cfg, b, slo, float(s), float(t), kv_tokens, tuple(row.tolist()))
                 for b, s, t, row in zip(buckets, service, service_tail, pooled))


def _pooled_rps(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO, service: np.ndarray, service_tail: np.ndarray) -> np.ndarray:
    """(buckets, tiers): one prefill replica's capacity in a pool of each of POOL_TIERS[1:] replicas, the TTFT of
    `_prefill_cell` with the M/G/m wait, for the whole row at once (one Erlang recursion per tier). Only read for
    cells with a capacity at one replica, where the pooled one is at least as large."""
    p = slo.percentile / 100
    send = np.asarray(kv_transfer_s(cfg, np.array([b.input_mean for b in buckets])), dtype=float)[:, None]
    send_tail = np.asarray(kv_transfer_s(cfg, np.array([b.input_p99 for b in buckets])), dtype=float)[:, None]
    s = service[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):  # no network: inf - inf (such cells return before reading this)
        spread = (service_tail[:, None] - s + send_tail - send) ** 2
        busier = np.maximum(s, send)
        rps, rho, rho_link = PREFILL_GRID[None, :] / busier, PREFILL_GRID[None, :] * (s / busier), PREFILL_GRID[None, :] * (send / busier)
        link_wait = queue_wait(rho_link, send, p) ** 2
        on_grid = (s >= send)[:, 0]  # GPU-bound rows: rho is the grid itself, whose Erlang C is computed once per tier
        out = np.zeros((len(buckets), len(POOL_TIERS) - 1))
        for j, m in enumerate(POOL_TIERS[1:]):
            wait_p = np.empty(rho.shape)
            wait_p[on_grid] = _grid_erlang_c(m)
            wait_p[~on_grid] = erlang_c(m, rho[~on_grid])
            ttft = s + send + np.sqrt(spread + queue_wait(rho, s, p, m, wait_p) ** 2 + link_wait)
            ok = (ttft * 1e3 <= slo.ttft_ms) & (rho < 1) & (rho_link < 1)
            last = np.where(ok.all(axis=1), ok.shape[1], np.argmin(ok, axis=1)) - 1
            out[:, j] = np.where(last >= 0, np.take_along_axis(rps, np.maximum(last, 0)[:, None], axis=1)[:, 0], 0.0)
    return out


@functools.lru_cache(maxsize=len(POOL_TIERS))
def _grid_erlang_c(servers: int) -> np.ndarray:
    """Erlang C of `servers` replicas at the utilizations PREFILL_GRID (cached: callers only read it)."""
    return erlang_c(servers, PREFILL_GRID)


def prefill_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max prompts/s one prefill replica sustains for `bucket` with p-quantile TTFT (queue + prefill + KV transfer)
    within the SLO, and its link below saturation."""
    return prefill_row(cfg, (bucket,), slo)[0]


def _prefill_cell(cfg: ServingConfig, bucket: Bucket, slo: SLO, service: float, service_tail: float, kv_tokens: int,
                  pooled: tuple[float, ...]) -> CellCapacity:
    """One bucket's prefill cell, given the prefill time of its mean and p99 prompt (uncached tokens computed), the
    replica's KV tokens and its capacities in pools of POOL_TIERS[1:] replicas (`_pooled_rps`)."""
    p = slo.percentile / 100
    inp, tail = bucket.input_mean, bucket.input_p99
    send, send_tail = float(kv_transfer_s(cfg, inp)), float(kv_transfer_s(cfg, tail))
    ttft0_ms = (service_tail + send_tail) * 1e3
    if tokens_reserved_per_sequence(cfg, bucket.input_max + 1) > kv_tokens:  # the prompt's KV is held until sent
        return CellCapacity(0.0, Bound.KV_MEMORY, f"a {bucket.input_max}-token prompt needs more KV cache than the {kv_tokens} "
                            "tokens that fit", 0.0, np.inf, 0.0)
    if not np.isfinite(send):
        return CellCapacity(0.0, Bound.SLO, f"no network figure for {cfg.gpu.id} in the catalog", 0.0, np.inf, 0.0)
    if ttft0_ms > slo.ttft_ms:
        return CellCapacity(0.0, Bound.SLO, f"TTFT {ttft0_ms:.0f} ms even at zero load (prefill of {tail:.0f} tokens and "
                            f"{send_tail * 1e3:.0f} ms of KV transfer) > {slo.ttft_ms:g} ms", 0.0, ttft0_ms, 0.0)
    rps = PREFILL_GRID / max(service, send)  # the busier of the GPU and the link sets the grid
    rho, rho_link = rps * service, rps * send
    wait = np.sqrt(queue_wait(rho, service, p) ** 2 + queue_wait(rho_link, send, p) ** 2)
    ttft = service + send + np.sqrt((service_tail - service + send_tail - send) ** 2 + wait**2)
    last = _largest((ttft * 1e3 <= slo.ttft_ms) & (rho < 1) & (rho_link < 1))
    if last < 0:
        return CellCapacity(0.0, Bound.SLO, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms at the lightest load", 0.0, ttft0_ms, 0.0)
    link_bound = send > service
    if last == len(rps) - 1:
        bound, why = (Bound.BANDWIDTH, "the KV transfer saturates the network") if link_bound else \
            (Bound.COMPUTE, "prefill saturates the GPU")
    elif link_bound:
        bound, why = Bound.BANDWIDTH, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms: KV transfer queues on the network ({rho_link[last]:.0%} busy)"
    else:
        bound, why = Bound.SLO, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms with prefill {rho[last]:.0%} busy (prompts only)"
    curve_rps, curve_ttft = _curve(rps, ttft * 1e3, last)
    return CellCapacity(float(rps[last]), bound, why, float(rho[last]), ttft0_ms, 0.0,
                        KnownCurve(curve_rps, curve_ttft, (0.0,) * len(curve_rps)), pooled)  # type: ignore[arg-type] - duck-typed


def _context(bucket: Bucket) -> float:
    """Time-weighted mean context of a live sequence, I + E[O^2] / (2 E[O]) (as the co-located model takes it)."""
    outputs = np.asarray(bucket.output_q or (max(bucket.output_mean, 1.0),), dtype=float)
    return bucket.input_mean + float(np.mean(outputs**2) / (2 * np.mean(outputs)))


def decode_row(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO) -> tuple[CellCapacity, ...]:
    """`decode_capacity` of every bucket: the load points of all buckets in one array, one decode-step pass."""
    kv_tokens = max_kv_tokens(cfg)
    z = NormalDist().inv_cdf(slo.percentile / 100)
    cells: list[CellCapacity | None] = [None] * len(buckets)
    live = []
    for j, bucket in enumerate(buckets):
        context = _context(bucket)
        longest = bucket.input_max + bucket.output_max
        n_cap = max_batch(cfg, context, kv_tokens)
        if tokens_reserved_per_sequence(cfg, longest) > kv_tokens:
            cells[j] = CellCapacity(0.0, Bound.KV_MEMORY, f"a {longest}-token sequence needs more KV cache than the {kv_tokens} "
                                    "tokens that fit", 0.0, 0.0, np.inf)
        elif n_cap < 1:
            cells[j] = CellCapacity(0.0, Bound.KV_MEMORY, f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens",
                                    0.0, 0.0, np.inf)
        else:
            live.append((j, context, n_cap, np.concatenate([LIGHT, np.arange(1, n_cap + 1, dtype=float)])))
    if live:
        grid = np.concatenate([g for *_, g in live])
        context = np.concatenate([np.full(len(g), c) for _, c, _, g in live])
        n_hi = grid + z * np.sqrt(grid)
        t_mean = np.asarray(decode_step(cfg, grid, context).total_s, dtype=float)
        t_hi = np.asarray(decode_step(cfg, n_hi, context).total_s, dtype=float)
        t_one = np.asarray(decode_step(cfg, 1.0, np.array([c for _, c, _, _ in live])).total_s, dtype=float) + 0 * grid[:len(live)]
        start = 0
        for (j, c, n_cap, g), one in zip(live, t_one):
            part = slice(start, start + len(g))
            start += len(g)
            cells[j] = _decode_cell(cfg, buckets[j], slo, c, n_cap, g, n_hi[part], t_mean[part], t_hi[part], float(one))
    return tuple(cells)  # type: ignore[arg-type] - every slot is filled above


def decode_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one decode replica sustains for `bucket`: the largest mean batch N whose p-quantile batch
    N + z sqrt(N) fits the KV cache and decodes one step within the TPOT SLO; by Little's law a request stays
    O - 1 steps (its first token came with the KV), so lambda = N / ((O - 1) T_decode(N)). Its NIC must also
    take the KV arriving (lambda x bytes per prompt within the link)."""
    return decode_row(cfg, (bucket,), slo)[0]


def _decode_cell(cfg: ServingConfig, bucket: Bucket, slo: SLO, context: float, n_cap: int, grid: np.ndarray, n_hi: np.ndarray,
                 t_mean: np.ndarray, t_hi: np.ndarray, t_one: float) -> CellCapacity:
    """One bucket's decode cell from its load points' decode step times (mean and p-quantile batch)."""
    steps = max(bucket.output_mean - 1.0, 1.0)
    rps = grid / (steps * t_mean)
    tpot = t_hi * 1e3
    tpot0_ms = t_one * 1e3
    ingress = link_bytes_per_s(cfg)
    fits_link = rps * kv_transfer_bytes(cfg, bucket.input_mean) < ingress if ingress > 0 else np.zeros(len(rps), dtype=bool)
    last = _largest((tpot <= slo.tpot_ms) & (n_hi <= n_cap) & fits_link)
    if last < 0:
        why = "no network figure in the catalog" if ingress <= 0 else f"TPOT {tpot0_ms:.1f} ms even at batch 1 > {slo.tpot_ms:g} ms"
        return CellCapacity(0.0, Bound.SLO, why, 0.0, 0.0, tpot0_ms)
    if not fits_link[min(last + 1, len(rps) - 1)] and last < len(rps) - 1:
        bound, why = Bound.BANDWIDTH, "arriving KV saturates the network"
    elif last == len(rps) - 1 or n_hi[last + 1] > n_cap:
        bound, why = Bound.KV_MEMORY, f"KV cache holds {n_cap} sequences of {context:.0f} tokens (decode only)"
    else:
        bound, why = Bound.SLO, f"p{slo.percentile:g} TPOT {slo.tpot_ms:g} ms at batch {grid[last]:.0f} (decode only)"
    curve_rps, curve_tpot = _curve(rps, tpot, last)
    return CellCapacity(float(rps[last]), bound, why, float(grid[last]), 0.0, tpot0_ms,
                        KnownCurve(curve_rps, (0.0,) * len(curve_rps), curve_tpot))  # type: ignore[arg-type] - duck-typed
