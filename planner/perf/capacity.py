"""Capacity under SLO: the max sustainable req/s of one replica for each request-size bucket.

Continuous batching in steady state, parametrised by the mean number of live sequences N (planner.perf.load;
docs/methodology.md, "Capacity under SLO"); p-quantiles: live batch N + z*sqrt(N), TPOT over the bucket's
output classes with Poisson-counted interruptions that are M/G/1 busy periods (planner.perf.tail), prefill
queue wait from Kingman's tail. The largest N whose p-quantile TTFT, TPOT, prefill utilization and KV
occupancy all hold gives the capacity.

`capacity_row` evaluates every bucket of one config together: the buckets' load points are concatenated
into one array (each point carrying its bucket's lengths), so the whole row is a few numpy passes instead
of a Python loop per cell; elementwise the arithmetic is the same as for one bucket at a time.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.bound import Bound
from planner.perf.load import Load, Points, chunked_load, serial_load
from planner.perf.memory import ServingConfig, max_batch, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import decode_step, prefill_step
from planner.perf.tail import Lateness, TpotCurve
from planner.schemas.workload import SLO

CURVE_POINTS = 24
"""Load points kept per cell for interpolating predicted latencies at a pool's utilization."""
SATURATED = 0.85
"""Prefill utilization above which a TTFT miss is reported as compute-bound (the prefill server is nearly
always busy; below it, queueing at moderate load is what breaks the SLO)."""


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
    tpot_curve: TpotCurve | None = field(default=None, repr=False, compare=False)
    """The TPOT quantile at the curve's points, computed on first use (most cells of a table are never asked)."""

    @functools.cached_property
    def curve_tpot_ms(self) -> tuple[float, ...]:
        return () if self.tpot_curve is None else self.tpot_curve.values_ms()

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


LIGHT_LOAD = np.geomspace(1e-4, 1.0, 25)[:-1]
"""Fractional mean batches below 1: light load, where queueing vanishes (geometric from 1e-4 requests in flight)."""


@functools.lru_cache(maxsize=4096)
def _batch_grid(n_cap: int) -> np.ndarray:
    """Mean live sequences to evaluate: fractions below 1 (light load), then every integer to the cap.
    Cached per cap (callers only read it)."""
    light = LIGHT_LOAD
    full = np.arange(1, n_cap + 1, dtype=float) if n_cap <= 1024 else np.unique(np.geomspace(1, n_cap, 1024).round())
    return np.concatenate([light, full])


def cell_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one replica sustains for `bucket` with p-quantile TTFT/TPOT within the SLO."""
    return capacity_row(cfg, (bucket,), slo)[0]


@dataclass(frozen=True)
class _Live:
    """A bucket that passed the memory checks: its lengths and batch cap."""

    index: int
    bucket: Bucket
    inp: float
    out: float
    outputs: np.ndarray
    context: float
    n_cap: int


def _screen(cfg: ServingConfig, buckets: Sequence[Bucket], cells: list[CellCapacity | None]) -> list[_Live]:
    """Buckets whose longest sequence and mean context fit the KV cache (the others get a zero cell)."""
    kv_tokens = max_kv_tokens(cfg)
    live = []
    for j, bucket in enumerate(buckets):
        inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
        outputs = np.asarray(bucket.output_q or (out,), dtype=float)
        # a live sequence is, on average, half-way through its output, and long outputs stay live longer:
        # the time-weighted mean context is I + E[O^2] / (2 E[O]) (I + O/2 when all outputs are equal)
        context = inp + float(np.mean(outputs**2) / (2 * np.mean(outputs)))
        longest = bucket.input_max + bucket.output_max
        if tokens_reserved_per_sequence(cfg, longest) > kv_tokens:
            cells[j] = _zero(Bound.KV_MEMORY, f"a {longest}-token sequence needs more KV cache than the {kv_tokens} tokens that fit")
            continue
        n_cap = max_batch(cfg, context)
        if n_cap < 1:
            cells[j] = _zero(Bound.KV_MEMORY, f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens")
            continue
        live.append(_Live(j, bucket, inp, out, outputs, context, n_cap))
    return live


def capacity_row(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO) -> tuple[CellCapacity, ...]:
    """`cell_capacity` of every bucket, computed together."""
    p = slo.percentile / 100
    cells: list[CellCapacity | None] = [None] * len(buckets)
    live = _screen(cfg, buckets, cells)
    if live:
        t_prefill = np.asarray(prefill_step(cfg, np.array([b.inp for b in live])).total_s, dtype=float)
        t_tail = np.asarray(prefill_step(cfg, np.array([b.bucket.input_p99 for b in live])).total_s, dtype=float)
        tpot0 = np.asarray(decode_step(cfg, 1.0, np.array([b.context for b in live])).total_s, dtype=float)
        active = []
        for b, prefill, tail, tpot in zip(live, t_prefill, t_tail, tpot0):
            ttft0_ms, tpot0_ms = float(tail) * 1e3, float(tpot) * 1e3
            if ttft0_ms > slo.ttft_ms:
                cells[b.index] = _zero(Bound.SLO, f"TTFT {ttft0_ms:.0f} ms even at zero load (prefill of {b.bucket.input_p99:.0f} tokens) "
                                       f"> {slo.ttft_ms:g} ms", ttft0_ms, tpot0_ms)
            elif tpot0_ms > slo.tpot_ms:
                cells[b.index] = _zero(Bound.SLO, f"TPOT {tpot0_ms:.1f} ms even at batch 1 > {slo.tpot_ms:g} ms", ttft0_ms, tpot0_ms)
            else:
                active.append((b, float(prefill), float(tail), ttft0_ms, tpot0_ms))
        if active:
            for j, cell in _loaded_cells(cfg, active, slo, p):
                cells[j] = cell
    return tuple(cells)  # type: ignore[arg-type] - every slot is filled above


def _points(active: list, z: float) -> tuple[Points, np.ndarray, np.ndarray]:  # noqa: ANN001 - list of (_Live, ...)
    """All active buckets' load points in one array, with each point's bucket position and the offsets."""
    grids = [_batch_grid(b.n_cap) for b, *_ in active]
    sizes = np.array([len(g) for g in grids])
    seg = np.repeat(np.arange(len(active)), sizes)
    grid = np.concatenate(grids)
    width = max(len(b.bucket.input_q or (b.inp,)) for b, *_ in active)

    def per(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)[seg]

    classes = np.zeros((len(active), width))
    for i, (b, *_) in enumerate(active):
        q = np.asarray(b.bucket.input_q or (b.inp,), dtype=float)
        classes[i, :len(q)], classes[i, len(q):] = q, q[-1]  # padding repeats a class; lateness uses the first Q only
    pts = Points(grid, grid + z * np.sqrt(grid), per([b.inp for b, *_ in active]), per([b.out for b, *_ in active]),
                 per([b.context for b, *_ in active]), per([b.bucket.input_p99 for b, *_ in active]),
                 per([a[1] for a in active]), per([a[2] for a in active]), classes, seg)
    return pts, seg, np.concatenate([[0], np.cumsum(sizes)])


@dataclass(frozen=True)
class _Group:
    """Buckets whose TPOT tails are evaluated together (the same number of output gaps G and input classes Q,
    so every sum over classes has the length it has for one bucket alone)."""

    member: np.ndarray
    """(buckets,): in this group."""
    gaps: np.ndarray
    """(buckets, G): each member's output gaps (O_j - 1 of its classes with O_j > 1)."""
    q: int


def _groups(active: list) -> list[_Group]:  # noqa: ANN001 - list of (_Live, ...)
    gaps_of = [b.outputs[b.outputs > 1] - 1 for b, *_ in active]
    keys = [(len(g), len(b.bucket.input_q or (b.inp,))) for g, (b, *_) in zip(gaps_of, active)]
    groups = []
    for n_gaps, q in sorted(set(keys)):
        members = [i for i, k in enumerate(keys) if k == (n_gaps, q)]
        member, gaps = np.zeros(len(active), dtype=bool), np.zeros((len(active), n_gaps))
        member[members] = True
        gaps[members] = np.array([gaps_of[i] for i in members], dtype=float).reshape(len(members), n_gaps)
        groups.append(_Group(member, gaps, q))
    return groups


def _tpot_ok(load: Load, seg: np.ndarray, groups: list[_Group], n_outputs: np.ndarray, needed: np.ndarray,
             slo_s: float, tail: float) -> np.ndarray:
    """Where the share of requests late at the TPOT SLO is within the tail, evaluated at the `needed` points only
    (the others cannot change a bucket's capacity), one Lateness per group of buckets."""
    ok = np.zeros(len(seg), dtype=bool)
    for group in groups:
        idx = np.flatnonzero(needed & group.member[seg])
        if not len(idx):
            continue
        at, q = seg[idx], group.q
        model = Lateness.build(group.gaps[at], n_outputs[at], load.per_step[idx, :q], load.steps[idx, :q], load.mean_interrupt[idx],
                               load.tpot_floor[idx], load.gap_time[idx], load.rps[idx], load.rho_tail[idx])
        ok[idx] = model.within(np.full(len(idx), slo_s), tail)
    return ok


FIRST_ROUND = 32
"""Load points per bucket in the first round of TPOT checks; each later round doubles the span."""


def _tpot_in_rounds(load: Load, seg: np.ndarray, active: list, offsets: np.ndarray, others: np.ndarray,  # noqa: ANN001
                    slo_s: float, tail: float) -> np.ndarray:
    """The TPOT check in rounds of growing spans of load points, each bucket stopping at its first failure
    (of this or another check): the points after it cannot change the bucket's capacity, so they stay False."""
    ok = np.zeros(len(seg), dtype=bool)
    position = np.arange(len(seg)) - offsets[seg]
    candidate = _before_first_failure(others, offsets)
    stopped = np.zeros(len(offsets) - 1, dtype=bool)
    groups, n_outputs = _groups(active), np.array([len(b.outputs) for b, *_ in active])
    start, span = 0, FIRST_ROUND
    while True:
        needed = candidate & (position >= start) & (position < start + span) & ~stopped[seg]
        if not needed.any():  # candidates are a prefix of each bucket: none in this span means none later
            return ok
        ok[needed] = _tpot_ok(load, seg, groups, n_outputs, needed, slo_s, tail)[needed]
        stopped |= np.bincount(seg[needed & ~ok], minlength=len(stopped)) > 0
        start, span = start + span, 2 * span


def _before_first_failure(passed: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Points that come before the first False of `passed` within their bucket's segment."""
    needed = np.zeros(len(passed), dtype=bool)
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        part = passed[lo:hi]
        stop = int(np.argmin(part)) if not part.all() else hi - lo
        needed[lo:lo + stop + 1] = True  # the failing point itself too: its TPOT check is reported
    return needed


def _loaded_cells(cfg: ServingConfig, active: list, slo: SLO, p: float) -> list[tuple[int, CellCapacity]]:  # noqa: ANN001
    """Cells of the buckets that pass the zero-load checks: the largest load point meeting every check."""
    pts, seg, offsets = _points(active, NormalDist().inv_cdf(p))
    load = (chunked_load if cfg.engine.chunked_prefill else serial_load)(cfg, pts, p)
    slo_s = slo.tpot_ms / 1e3
    n_cap = np.array([b.n_cap for b, *_ in active])[seg]
    checks = {"prefill": load.rho < 1, "ttft": load.ttft * 1e3 <= slo.ttft_ms, "batch": pts.n_hi <= n_cap}
    others = checks["prefill"] & checks["ttft"] & checks["batch"]
    checks["tpot"] = _tpot_in_rounds(load, seg, active, offsets, others, slo_s, 1 - p)
    ok = others & checks["tpot"]
    compute_bound = np.asarray(load.step.compute_bound)
    results = []
    for i, (b, _, _, ttft0_ms, tpot0_ms) in enumerate(active):
        lo, hi = offsets[i], offsets[i + 1]
        cell_ok = ok[lo:hi]
        first_bad = int(np.argmin(cell_ok)) if not cell_ok.all() else hi - lo
        view = {k: v[lo:hi] for k, v in checks.items()}
        args = (cfg, view, first_bad, pts.grid[lo:hi], load.rho[lo:hi], compute_bound[lo:hi], b.n_cap, b.context, slo)
        if first_bad == 0:
            _, why = _binding(*args)
            results.append((b.index, _zero(Bound.SLO, f"{why} even at {load.rps[lo]:.2g} req/s", ttft0_ms, tpot0_ms)))
            continue
        last = first_bad - 1
        keep = lo + np.unique(np.linspace(0, last, min(last + 1, CURVE_POINTS)).round().astype(int))
        results.append((b.index, (_binding(*args), last, keep, ttft0_ms, tpot0_ms, lo, b)))
    slo_tail = (slo_s, 1 - p)
    return [(j, cell if isinstance(cell, CellCapacity) else _cell(cell, pts, load, slo_tail)) for j, cell in results]


def _cell(found: tuple, pts: Points, load: Load, slo_tail: tuple[float, float]) -> CellCapacity:  # noqa: ANN001
    """The cell of a bucket whose capacity point is `last`, with its latency curve at the `keep` points."""
    (bound, detail), last, keep, ttft0_ms, tpot0_ms, lo, b = found
    gaps = b.outputs[b.outputs > 1] - 1
    q = len(b.bucket.input_q or (b.inp,))
    n = len(keep)
    curve = TpotCurve(np.broadcast_to(gaps, (n, len(gaps))), np.full(n, len(b.outputs)), load.per_step[keep, :q],
                      load.steps[keep, :q], load.mean_interrupt[keep], load.tpot_floor[keep], load.gap_time[keep],
                      load.rps[keep], load.rho_tail[keep], *slo_tail)
    return CellCapacity(
        max_rps=float(load.rps[lo + last]), bound=bound, detail=detail, batch=float(pts.grid[lo + last]),
        ttft0_ms=ttft0_ms, tpot0_ms=tpot0_ms,
        curve_rps=tuple(load.rps[keep].tolist()),
        curve_ttft_ms=tuple((load.ttft[keep] * 1e3).tolist()),
        tpot_curve=curve,
    )


def _binding(cfg, checks, j, grid, rho, compute_bound, n_cap, context, slo) -> tuple[Bound, str]:  # noqa: ANN001
    """Name the resource that stops more load: the first check that fails past the capacity point."""
    capped = j >= len(grid)  # every point up to the batch cap met the SLOs
    j = min(j, len(grid) - 1)
    kind = "compute-bound" if bool(compute_bound[j]) else "bandwidth-bound"
    pct = f"p{slo.percentile:g}"
    if capped or not checks["batch"][j]:
        if max_batch(cfg, context) < cfg.engine.max_num_seqs:
            return Bound.KV_MEMORY, f"KV cache holds {n_cap} sequences of {context:.0f} tokens"
        return (Bound.COMPUTE if kind == "compute-bound" else Bound.BANDWIDTH), f"max_num_seqs {n_cap} reached (decode {kind})"
    if not checks["prefill"][j]:
        return Bound.COMPUTE, f"prompts arrive faster than prefill can process them at batch {grid[j]:.0f}"
    if not checks["ttft"][j]:
        if rho[j] >= SATURATED:
            return Bound.COMPUTE, f"prefill saturates the GPU ({rho[j]:.0%} busy) before {pct} TTFT {slo.ttft_ms:g} ms"
        return Bound.SLO, f"{pct} TTFT {slo.ttft_ms:g} ms at batch {grid[j]:.0f} (prefill {rho[j]:.0%} busy)"
    return Bound.SLO, f"{pct} TPOT {slo.tpot_ms:g} ms at batch {grid[j]:.0f} (decode {kind})"
