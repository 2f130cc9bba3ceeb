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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.bound import Bound
from planner.perf.capacity import CellCapacity
from planner.perf.curves import curve_points
from planner.perf.search import first_false
from planner.perf.memory import ServingConfig, kv_bytes_per_token, max_batches, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import StepConstants, decode_step, prefill_step
from planner.perf.tail import POOL_TIERS, queue_wait
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


def _lengths(buckets: Sequence[Bucket], n_cfgs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cache hit, mean and p99 prompt of each (config, bucket) point, config-major (`n_cfgs` configs)."""
    return tuple(np.tile(np.array([getattr(b, f) for b in buckets], dtype=float), n_cfgs)  # type: ignore[return-value]
                 for f in ("cache_hit", "input_mean", "input_p99"))


def _per_cfg(values: Sequence[float], n_buckets: int) -> np.ndarray:
    """A per-config figure at each (config, bucket) point, config-major."""
    return np.repeat(np.asarray(values, dtype=float), n_buckets)


def _send_s(cfgs: Sequence[ServingConfig], n_buckets: int, tokens: np.ndarray) -> np.ndarray:
    """`kv_transfer_s` at each (config, bucket) point (inf where the config's GPU has no network figure)."""
    rate = _per_cfg([link_bytes_per_s(c) for c in cfgs], n_buckets)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rate > 0, tokens * _per_cfg([kv_bytes_per_token(c.model, c.kv) for c in cfgs], n_buckets) / rate, np.inf)


@dataclass(frozen=True)
class _PrefillTimes:
    """Prefill and KV-transfer seconds of the mean and p99 prompt of each (config, bucket) cell, and the TTFT at
    any of its load points PREFILL_GRID[pos] (one replica, or one of a pool of m)."""

    service: np.ndarray
    service_tail: np.ndarray
    send: np.ndarray
    send_tail: np.ndarray
    p: float

    def single(self, cell: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Req/s, GPU and link utilization and TTFT s of one replica (M/G/1 prefill queue and link queue)."""
        s, st, sd, sdt = self.service[cell], self.service_tail[cell], self.send[cell], self.send_tail[cell]
        with np.errstate(invalid="ignore", divide="ignore"):  # no network: inf - inf (such cells return before reading this)
            rps = PREFILL_GRID[pos] / np.maximum(s, sd)  # the busier of the GPU and the link sets the grid
            rho, rho_link = rps * s, rps * sd
            wait = np.sqrt(queue_wait(rho, s, self.p) ** 2 + queue_wait(rho_link, sd, self.p) ** 2)
            return rps, rho, rho_link, s + sd + np.sqrt((st - s + sdt - sd) ** 2 + wait**2)

    def pooled(self, cell: np.ndarray, pos: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As `single` for one replica of a pool of `m` behind least-loaded routing (M/G/m prefill queue)."""
        s, st, sd, sdt = self.service[cell], self.service_tail[cell], self.send[cell], self.send_tail[cell]
        with np.errstate(invalid="ignore", divide="ignore"):
            busier = np.maximum(s, sd)
            rps, rho, rho_link = PREFILL_GRID[pos] / busier, PREFILL_GRID[pos] * (s / busier), PREFILL_GRID[pos] * (sd / busier)
            ttft = s + sd + np.sqrt((st - s + sdt - sd) ** 2 + queue_wait(rho, s, self.p, m) ** 2
                                    + queue_wait(rho_link, sd, self.p) ** 2)
            return rps, rho, rho_link, ttft


def _passing(figures: tuple[np.ndarray, ...], slo: SLO) -> np.ndarray:
    """Where a load point's TTFT holds and neither the GPU nor the link is saturated."""
    _, rho, rho_link, ttft = figures
    return (ttft * 1e3 <= slo.ttft_ms) & (rho < 1) & (rho_link < 1)


def _last_passing(ok_at: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """Per cell, the last point of PREFILL_GRID's passing prefix (-1 when the first point fails), by bisection:
    the TTFT and both utilizations only grow along the grid, so the checks turn from pass to fail once and the
    point is the one a scan of the whole grid finds (as planner.perf.search.first_failures)."""
    lo, hi = np.full(n, -1), np.full(n, len(PREFILL_GRID))
    while (open_ := np.flatnonzero(hi - lo > 1)).size:
        mid = (lo[open_] + hi[open_]) // 2
        ok = ok_at(open_, mid)
        lo[open_[ok]], hi[open_[~ok]] = mid[ok], mid[~ok]
    return lo


def prefill_rows(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO) -> list[tuple[CellCapacity, ...]]:
    """`prefill_capacity` of every bucket for each of `cfgs` (one model, none speculative): the step times of all
    (config, bucket) cells in one numpy pass, their capacity points (one replica and each pool tier) by bisection."""
    n_b = len(buckets)
    steps = StepConstants.stack(list(cfgs)).take(np.repeat(np.arange(len(cfgs)), n_b))
    hit, inp, tail = _lengths(buckets, len(cfgs))
    t = _PrefillTimes(np.asarray(prefill_step(steps, inp * (1 - hit), cached=inp * hit).total_s, dtype=float) + 0 * inp,
                      np.asarray(prefill_step(steps, tail * (1 - hit), cached=tail * hit).total_s, dtype=float) + 0 * inp,
                      _send_s(cfgs, n_b, inp), _send_s(cfgs, n_b, tail), slo.percentile / 100)
    cells = np.arange(len(inp))
    last = _last_passing(lambda c, pos: _passing(t.single(c, pos), slo), len(cells))
    pooled = np.zeros((len(cells), len(POOL_TIERS) - 1))  # only read for cells with a capacity at one replica
    served = cells[last >= 0]
    for j, m in enumerate(POOL_TIERS[1:]):
        at = _last_passing(lambda c, pos: _passing(t.pooled(served[c], pos, m), slo), len(served))  # noqa: B023 - called here
        pooled[served, j] = np.where(at >= 0, t.pooled(served, np.maximum(at, 0), m)[0], 0.0)
    keeps = [curve_points(k) if k >= 0 else np.zeros(0, dtype=int) for k in last.tolist()]
    ends = np.cumsum([0] + [len(k) for k in keeps]).tolist()
    curve = t.single(np.repeat(cells, np.diff(ends)), np.concatenate(keeps))  # each cell's curve points, the last at `last`
    rps, ttft_ms = curve[0].tolist(), (curve[3] * 1e3).tolist()
    rows = []
    for k, cfg in enumerate(cfgs):
        kv_tokens = max_kv_tokens(cfg)
        row = []
        for j, bucket in enumerate(buckets):
            i = k * n_b + j
            lo, hi = ends[i], ends[i + 1]
            at_last = (float(curve[1][hi - 1]), float(curve[2][hi - 1])) if hi > lo else (0.0, 0.0)
            row.append(_prefill_cell(cfg, bucket, slo, kv_tokens, (float(t.send[i]), float(t.send_tail[i]), float(t.service[i]),
                                     float(t.service_tail[i])), int(last[i]), (tuple(rps[lo:hi]), tuple(ttft_ms[lo:hi])),
                                     at_last, tuple(pooled[i].tolist())))
        rows.append(tuple(row))
    return rows


def prefill_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max prompts/s one prefill replica sustains for `bucket` with p-quantile TTFT (queue + prefill + KV transfer)
    within the SLO, and its link below saturation."""
    return prefill_rows((cfg,), (bucket,), slo)[0][0]


def _prefill_cell(cfg: ServingConfig, bucket: Bucket, slo: SLO, kv_tokens: int, times: tuple[float, float, float, float],
                  last: int, curve: tuple[tuple[float, ...], tuple[float, ...]], at_last: tuple[float, float],
                  pooled: tuple[float, ...]) -> CellCapacity:
    """One bucket's prefill cell, given the KV transfer and prefill times of its mean and p99 prompt (uncached
    tokens computed), the replica's KV tokens, the last passing point of its load grid with its curve (req/s and
    TTFT ms at `curve_points(last)`) and GPU and link utilization there, and its capacities in pools of
    POOL_TIERS[1:] replicas."""
    send, send_tail, service, service_tail = times
    tail = bucket.input_p99
    ttft0_ms = (service_tail + send_tail) * 1e3
    if tokens_reserved_per_sequence(cfg, bucket.input_max + 1) > kv_tokens:  # the prompt's KV is held until sent
        return CellCapacity(0.0, Bound.KV_MEMORY, f"a {bucket.input_max}-token prompt needs more KV cache than the {kv_tokens} "
                            "tokens that fit", 0.0, np.inf, 0.0)
    if not np.isfinite(send):
        return CellCapacity(0.0, Bound.SLO, f"no network figure for {cfg.gpu.id} in the catalog", 0.0, np.inf, 0.0)
    if ttft0_ms > slo.ttft_ms:
        return CellCapacity(0.0, Bound.SLO, f"TTFT {ttft0_ms:.0f} ms even at zero load (prefill of {tail:.0f} tokens and "
                            f"{send_tail * 1e3:.0f} ms of KV transfer) > {slo.ttft_ms:g} ms", 0.0, ttft0_ms, 0.0)
    if last < 0:
        return CellCapacity(0.0, Bound.SLO, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms at the lightest load", 0.0, ttft0_ms, 0.0)
    rho, rho_link = at_last
    link_bound = send > service
    if last == len(PREFILL_GRID) - 1:
        bound, why = (Bound.BANDWIDTH, "the KV transfer saturates the network") if link_bound else \
            (Bound.COMPUTE, "prefill saturates the GPU")
    elif link_bound:
        bound, why = Bound.BANDWIDTH, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms: KV transfer queues on the network ({rho_link:.0%} busy)"
    else:
        bound, why = Bound.SLO, f"p{slo.percentile:g} TTFT {slo.ttft_ms:g} ms with prefill {rho:.0%} busy (prompts only)"
    curve_rps, curve_ttft = curve
    return CellCapacity(curve_rps[-1], bound, why, rho, ttft0_ms, 0.0,
                        KnownCurve(curve_rps, curve_ttft, (0.0,) * len(curve_rps)), pooled)  # type: ignore[arg-type] - duck-typed


def _context(bucket: Bucket) -> float:
    """Time-weighted mean context of a live sequence, I + E[O^2] / (2 E[O]) (as the co-located model takes it)."""
    outputs = np.asarray(bucket.output_q or (max(bucket.output_mean, 1.0),), dtype=float)
    return bucket.input_mean + float(np.mean(outputs**2) / (2 * np.mean(outputs)))


def decode_rows(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO) -> list[tuple[CellCapacity, ...]]:
    """`decode_capacity` of every bucket for each of `cfgs` (one model, none speculative): the load points of all
    (config, bucket) cells in one array, one decode-step pass."""
    z = NormalDist().inv_cdf(slo.percentile / 100)
    contexts = [_context(b) for b in buckets]
    rows: list[list[CellCapacity | None]] = [[None] * len(buckets) for _ in cfgs]
    live = []
    for k, cfg in enumerate(cfgs):
        kv_tokens = max_kv_tokens(cfg)
        n_caps = max_batches(cfg, np.array(contexts, dtype=float), kv_tokens).tolist()
        for j, (bucket, context, n_cap) in enumerate(zip(buckets, contexts, n_caps)):
            longest = bucket.input_max + bucket.output_max
            if tokens_reserved_per_sequence(cfg, longest) > kv_tokens:
                rows[k][j] = CellCapacity(0.0, Bound.KV_MEMORY, f"a {longest}-token sequence needs more KV cache than the "
                                          f"{kv_tokens} tokens that fit", 0.0, 0.0, np.inf)
            elif n_cap < 1:
                rows[k][j] = CellCapacity(0.0, Bound.KV_MEMORY, f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens",
                                          0.0, 0.0, np.inf)
            else:
                live.append((k, j, context, n_cap, np.concatenate([LIGHT, np.arange(1, n_cap + 1, dtype=float)])))
    if live:
        stacked = StepConstants.stack(list(cfgs))
        grid = np.concatenate([g for *_, g in live])
        per_point = stacked.take(np.concatenate([np.full(len(g), k) for k, *_, g in live]))
        context = np.concatenate([np.full(len(g), c) for _, _, c, _, g in live])
        n_hi = grid + z * np.sqrt(grid)
        t_mean = np.asarray(decode_step(per_point, grid, context).total_s, dtype=float)
        t_hi = np.asarray(decode_step(per_point, n_hi, context).total_s, dtype=float)
        t_one = np.asarray(decode_step(stacked.take(np.array([k for k, *_ in live])), 1.0,
                                       np.array([c for _, _, c, _, _ in live])).total_s, dtype=float)
        for (k, j, c, n_cap, _), cell in zip(live, _decode_cells(cfgs, buckets, slo, live, grid, n_hi, t_mean, t_hi, t_one)):
            rows[k][j] = cell
    return [tuple(row) for row in rows]  # type: ignore[misc] - every slot is filled above


def decode_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one decode replica sustains for `bucket`: the largest mean batch N whose p-quantile batch
    N + z sqrt(N) fits the KV cache and decodes one step within the TPOT SLO; by Little's law a request stays
    O - 1 steps (its first token came with the KV), so lambda = N / ((O - 1) T_decode(N)). Its NIC must also
    take the KV arriving (lambda x bytes per prompt within the link)."""
    return decode_rows((cfg,), (bucket,), slo)[0][0]


def _decode_cells(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO, live: list, grid: np.ndarray,  # noqa: ANN001
                  n_hi: np.ndarray, t_mean: np.ndarray, t_hi: np.ndarray, t_one: np.ndarray) -> list[CellCapacity]:
    """The decode cells of the `live` (config, bucket, context, batch cap, batch grid) entries from their load points'
    decode step times (mean and p-quantile batch, concatenated in `live`'s order), the checks on all points at once."""
    sizes = np.array([len(g) for *_, g in live])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    ingress = [link_bytes_per_s(cfgs[k]) for k, *_ in live]
    per_cell = np.array([(max(buckets[j].output_mean - 1.0, 1.0), n_cap, kv_transfer_bytes(cfgs[k], buckets[j].input_mean), rate)
                         for (k, j, _, n_cap, _), rate in zip(live, ingress)])
    steps, n_cap, kv_bytes, rate = (np.repeat(col, sizes) for col in per_cell.T)
    rps = grid / (steps * t_mean)
    tpot = t_hi * 1e3
    fits_link = (rps * kv_bytes < rate) & (rate > 0)
    ok = (tpot <= slo.tpot_ms) & (n_hi <= n_cap) & fits_link
    last = first_false(ok, np.arange(len(ok)) - np.repeat(offsets[:-1], sizes), offsets) - 1
    nxt = offsets[:-1] + np.minimum(last + 1, sizes - 1)
    at = offsets[:-1] + np.maximum(last, 0)
    keeps = [lo + curve_points(n) if n >= 0 else np.zeros(0, dtype=int) for lo, n in zip(offsets[:-1].tolist(), last.tolist())]
    ends = np.cumsum([0] + [len(k) for k in keeps]).tolist()
    keep = np.concatenate(keeps)
    curve_rps, curve_tpot = rps[keep].tolist(), tpot[keep].tolist()
    figures = zip(last.tolist(), sizes.tolist(), fits_link[nxt].tolist(), n_hi[nxt].tolist(), grid[at].tolist(), (t_one * 1e3).tolist(),
                  ends[:-1], ends[1:], ingress)
    return [_decode_cell(cfgs[k], slo, c, cap, n, size, fits_next, n_hi_next, batch, tpot0_ms, rate,
                         (tuple(curve_rps[lo:hi]), tuple(curve_tpot[lo:hi])))
            for (k, _, c, cap, _), (n, size, fits_next, n_hi_next, batch, tpot0_ms, lo, hi, rate) in zip(live, figures)]


def _decode_cell(cfg: ServingConfig, slo: SLO, context: float, n_cap: int, last: int, size: int, fits_next: bool, n_hi_next: float,
                 batch: float, tpot0_ms: float, ingress: float, curve: tuple[tuple[float, ...], tuple[float, ...]]) -> CellCapacity:
    """One bucket's decode cell from the last passing point of its batch grid (of `size` points): the mean batch there,
    whether the next point fits the link and its p-quantile batch, and the curve (req/s, TPOT ms at
    `curve_points(last)`)."""
    if last < 0:
        why = "no network figure in the catalog" if ingress <= 0 else f"TPOT {tpot0_ms:.1f} ms even at batch 1 > {slo.tpot_ms:g} ms"
        return CellCapacity(0.0, Bound.SLO, why, 0.0, 0.0, tpot0_ms)
    if not fits_next and last < size - 1:
        bound, why = Bound.BANDWIDTH, "arriving KV saturates the network"
    elif last == size - 1 or n_hi_next > n_cap:
        bound, why = Bound.KV_MEMORY, f"KV cache holds {n_cap} sequences of {context:.0f} tokens (decode only)"
    else:
        bound, why = Bound.SLO, f"p{slo.percentile:g} TPOT {slo.tpot_ms:g} ms at batch {batch:.0f} (decode only)"
    curve_rps, curve_tpot = curve
    return CellCapacity(curve_rps[-1], bound, why, batch, 0.0, tpot0_ms,
                        KnownCurve(curve_rps, (0.0,) * len(curve_rps), curve_tpot))  # type: ignore[arg-type] - duck-typed
