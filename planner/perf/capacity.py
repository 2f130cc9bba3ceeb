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
from planner.perf.curves import Curves, curve_points
from planner.perf.tail import Lateness, TpotCurve
from planner.schemas.workload import SLO

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
    curve: "_CellCurve | None" = field(default=None, repr=False, compare=False)
    """The cell's latency curve, drawn on first use (most cells of a table are never asked)."""

    @property
    def curve_rps(self) -> tuple[float, ...]:
        """Req/s at the curve's load points (up to CURVE_POINTS, from light load to the capacity point)."""
        return () if self.curve is None else self.curve.values[0]

    @property
    def curve_ttft_ms(self) -> tuple[float, ...]:
        """p-quantile TTFT at the curve's points."""
        return () if self.curve is None else self.curve.values[1]

    @property
    def curve_tpot_ms(self) -> tuple[float, ...]:
        """p-quantile TPOT at the curve's points."""
        return () if self.curve is None else self.curve.values[2].values_ms()

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
    gaps: np.ndarray
    """O_j - 1 of the output classes with O_j > 1 (single-token outputs have no TPOT)."""
    context: float
    n_cap: int
    variant: int = 0
    """Which config of a `capacity_rows` call (they differ only in the token budget)."""


@functools.lru_cache(maxsize=4096)
def _lengths(bucket: Bucket) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Mean input, mean output (at least 1), output classes, their gaps and the time-weighted mean context
    of a bucket: a live sequence is, on average, half-way through its output, and long outputs stay live
    longer, so the mean context is I + E[O^2] / (2 E[O]) (I + O/2 when all outputs are equal). Cached:
    every config of a table reads them (callers do not modify the arrays)."""
    inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
    outputs = np.asarray(bucket.output_q or (out,), dtype=float)
    return inp, out, outputs, outputs[outputs > 1] - 1, inp + float(np.mean(outputs**2) / (2 * np.mean(outputs)))


def _screen(cfg: ServingConfig, buckets: Sequence[Bucket], cells: list[CellCapacity | None], variant: int = 0) -> list[_Live]:
    """Buckets whose longest sequence and mean context fit the KV cache (the others get a zero cell)."""
    kv_tokens = max_kv_tokens(cfg)
    live = []
    for j, bucket in enumerate(buckets):
        inp, out, outputs, gaps, context = _lengths(bucket)
        longest = bucket.input_max + bucket.output_max
        if tokens_reserved_per_sequence(cfg, longest) > kv_tokens:
            cells[j] = _zero(Bound.KV_MEMORY, f"a {longest}-token sequence needs more KV cache than the {kv_tokens} tokens that fit")
            continue
        n_cap = max_batch(cfg, context)
        if n_cap < 1:
            cells[j] = _zero(Bound.KV_MEMORY, f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens")
            continue
        live.append(_Live(j, bucket, inp, out, outputs, gaps, context, n_cap, variant))
    return live


def capacity_row(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO) -> tuple[CellCapacity, ...]:
    """`cell_capacity` of every bucket, computed together."""
    return capacity_rows((cfg,), buckets, slo)[0]


def capacity_rows(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO) -> list[tuple[CellCapacity, ...]]:
    """`capacity_row` of several configs that differ only in their token budget (the chunk-budget search),
    in one pass: the budget is a per-point array, so the numpy work is shared instead of repeated per budget."""
    p = slo.percentile / 100
    rows: list[list[CellCapacity | None]] = [[None] * len(buckets) for _ in cfgs]
    live = [b for v, (cfg, cells) in enumerate(zip(cfgs, rows)) for b in _screen(cfg, buckets, cells, v)]
    if live:
        cfg = cfgs[0]
        hit = np.array([b.bucket.cache_hit for b in live])
        inp, p99 = np.array([b.inp for b in live]), np.array([b.bucket.input_p99 for b in live])
        t_prefill = np.asarray(prefill_step(cfg, inp * (1 - hit), cached=inp * hit).total_s, dtype=float)
        t_tail = np.asarray(prefill_step(cfg, p99 * (1 - hit), cached=p99 * hit).total_s, dtype=float)
        tpot0 = np.asarray(decode_step(cfg, 1.0, np.array([b.context for b in live])).total_s, dtype=float)
        active = []
        for b, prefill, tail, tpot in zip(live, t_prefill, t_tail, tpot0):
            ttft0_ms, tpot0_ms = float(tail) * 1e3, float(tpot) * 1e3
            cells = rows[b.variant]
            if ttft0_ms > slo.ttft_ms:
                cells[b.index] = _zero(Bound.SLO, f"TTFT {ttft0_ms:.0f} ms even at zero load (prefill of {b.bucket.input_p99:.0f} tokens) "
                                       f"> {slo.ttft_ms:g} ms", ttft0_ms, tpot0_ms)
            elif tpot0_ms > slo.tpot_ms:
                cells[b.index] = _zero(Bound.SLO, f"TPOT {tpot0_ms:.1f} ms even at batch 1 > {slo.tpot_ms:g} ms", ttft0_ms, tpot0_ms)
            else:
                active.append((b, float(prefill), float(tail), ttft0_ms, tpot0_ms))
        if active:
            for v, j, cell in _loaded_cells(cfgs, active, slo, p):
                rows[v][j] = cell
    return [tuple(cells) for cells in rows]  # type: ignore[misc] - every slot is filled above


def _points(active: list, z: float, budgets: list[int], grids: list[np.ndarray]) -> tuple[Points, np.ndarray, np.ndarray]:  # noqa: ANN001
    """All active buckets' load points (`grids`, one per bucket) in one array, with each point's bucket
    position and the offsets."""
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
                 per([a[1] for a in active]), per([a[2] for a in active]), classes, seg,
                 np.array([b.bucket.cache_hit for b, *_ in active]), per([budgets[b.variant] for b, *_ in active]))
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
    """The active buckets grouped by their numbers of output gaps and input classes."""
    gaps_of = [b.gaps for b, *_ in active]
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
    one_step = bool((load.steps == 1).all())  # every prompt rides in one step (always so for serial prefill)
    for group in groups:
        idx = np.flatnonzero(needed & group.member[seg])
        if not len(idx):
            continue
        at, q = seg[idx], group.q
        steps = None if one_step else load.steps[idx, :q]
        model = Lateness.build(group.gaps[at], n_outputs[at], load.per_step[idx, :q], steps, load.mean_interrupt[idx],
                               load.tpot_floor[idx], load.gap_time[idx], load.rps[idx], load.rho_tail[idx])
        ok[idx] = model.within(np.full(len(idx), slo_s), tail)
    return ok


FIRST_ROUND = 128
"""Load points per bucket in the first round of TPOT checks; each later round doubles the span. Most buckets
fail within 128 points of a 280-point grid: two rounds, little evaluated past a failure."""


def _tpot_in_rounds(load: Load, seg: np.ndarray, position: np.ndarray, active: list, offsets: np.ndarray,  # noqa: ANN001
                    others: np.ndarray, slo_s: float, tail: float) -> np.ndarray:
    """The TPOT check in rounds of growing spans of load points, each bucket stopping at its first failure
    (of this or another check): the points after it cannot change the bucket's capacity, so they stay False."""
    ok = np.zeros(len(seg), dtype=bool)
    candidate = position <= _first_false(others, position, offsets)[seg]  # the failing point too: it is reported
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


def _first_false(passed: np.ndarray, position: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Position of the first False of `passed` within each bucket's segment (the segment's length if none)."""
    return np.minimum(np.minimum.reduceat(np.where(passed, len(passed), position), offsets[:-1]), np.diff(offsets))


COARSE_POINTS = 24
"""Load points of the first, coarse pass over a bucket's batch grid (index-geometric, plus every 4th light-load
point); the second pass scans the grid between the last coarse pass and the first coarse failure."""


@functools.lru_cache(maxsize=4096)
def _coarse(size: int) -> np.ndarray:
    """Indices into a batch grid of `size` points for the coarse pass (always its first and last point).
    Cached per size (callers only read it)."""
    light = np.arange(0, min(size, len(LIGHT_LOAD)), 4)
    rest = np.arange(0) if size <= len(LIGHT_LOAD) else np.geomspace(len(LIGHT_LOAD), size - 1, COARSE_POINTS).round()
    return np.unique(np.concatenate([light, rest, [size - 1]]).astype(int))


def _evaluate(cfgs: Sequence[ServingConfig], active: list, grids: list[np.ndarray], slo: SLO, p: float):  # noqa: ANN001, ANN202
    """Every check at the given load points of each active bucket, and each bucket's first failing point."""
    cfg = cfgs[0]
    pts, seg, offsets = _points(active, NormalDist().inv_cdf(p), [c.engine.max_num_batched_tokens for c in cfgs], grids)
    load = (chunked_load if cfg.engine.chunked_prefill else serial_load)(cfg, pts, p)
    position, slo_s = np.arange(len(seg)) - offsets[seg], slo.tpot_ms / 1e3
    n_cap = np.array([b.n_cap for b, *_ in active])[seg]
    checks = {"prefill": load.rho < 1, "ttft": load.ttft * 1e3 <= slo.ttft_ms, "batch": pts.n_hi <= n_cap,
              "full_step": load.full_step * 1e3 <= slo.tpot_ms}
    others = checks["prefill"] & checks["ttft"] & checks["batch"] & checks["full_step"]
    first_bad = _first_false(others & _tpot_in_rounds(load, seg, position, active, offsets, others, slo_s, 1 - p),
                             position, offsets)
    return pts, offsets, load, checks, first_bad


def _loaded_cells(cfgs: Sequence[ServingConfig], active: list, slo: SLO, p: float) -> list[tuple[int, int, CellCapacity]]:  # noqa: ANN001
    """Cells (config variant, bucket, cell) of the buckets that pass the zero-load checks: the largest point of
    the batch grid meeting every check. A coarse pass finds the gap where each bucket first fails; the second
    pass evaluates the grid points in the gap (from the last coarse pass on). The checks only turn from pass to
    fail as load grows, so this finds the point a scan of the whole grid finds, for a fraction of the work.

    The latency curves are drawn from the curve grid: the coarse points below the gap (every grid point below
    it, when that is few), CURVE_POINTS spread below it and every point in it. They are evaluated for a whole
    row (`_RowCurves`) when a plan or an estimate first asks for one of its cells' curves, as one pass over
    the same points, so a curve is the same whichever cells are asked."""
    full = [_batch_grid(b.n_cap) for b, *_ in active]
    coarse = [_coarse(len(g)) for g in full]
    bad = _evaluate(cfgs, active, [g[c] for g, c in zip(full, coarse)], slo, p)[-1].tolist()
    curve_idx = [c if j == len(c) else np.arange(c[j] + 1) if c[j] <= FIRST_ROUND
                 else np.unique(np.concatenate([c[:j], curve_points(int(c[j - 1])), np.arange(c[j - 1] + 1, c[j] + 1)]))
                 for c, j in zip(coarse, bad)]  # curve points below the gap: every cell keeps CURVE_POINTS of them
    # the second pass starts at the last coarse pass (every curve-grid point below it passes, as it did)
    below = [0 if j in (0, len(c)) else int(np.searchsorted(idx, c[j - 1], "right")) - 1 for idx, c, j in zip(curve_idx, coarse, bad)]
    pts, offsets, load, checks, first_bad = _evaluate(cfgs, active, [g[idx[lo:]] for g, idx, lo in zip(full, curve_idx, below)], slo, p)
    sizes = np.diff(offsets)
    at = offsets[:-1] + np.minimum(first_bad, sizes - 1)  # the first failing point, or the last one when none fails
    last = offsets[:-1] + np.maximum(first_bad - 1, 0)  # the capacity point (where one exists)
    fails = {k: v[at].tolist() for k, v in checks.items()}
    at_figures = zip(pts.grid[at].tolist(), load.rho[at].tolist(), np.asarray(load.step.compute_bound)[at].tolist(),
                     (load.full_step[at] * 1e3).tolist())
    row = _RowCurves(cfgs, active, tuple(g[idx] for g, idx in zip(full, curve_idx)), slo, p)
    results = []
    for i, ((b, _, _, ttft0_ms, tpot0_ms), j, lo, figures) in enumerate(zip(active, first_bad.tolist(), below, at_figures)):
        bound, why = _binding(cfgs[b.variant], j >= sizes[i], {k: v[i] for k, v in fails.items()}, *figures, b.n_cap, b.context, slo)
        if lo + j == 0:
            results.append((b.variant, b.index, _zero(Bound.SLO, f"{why} even at {load.rps[offsets[i]]:.2g} req/s", ttft0_ms, tpot0_ms)))
            continue
        results.append((b.variant, b.index, CellCapacity(
            max_rps=float(load.rps[last[i]]), bound=bound, detail=why, batch=float(pts.grid[last[i]]),
            ttft0_ms=ttft0_ms, tpot0_ms=tpot0_ms, curve=_CellCurve(row, i))))
    return results


@dataclass(eq=False)
class _RowCurves:
    """The latency curves of a row's cells: the curve grids of its active buckets, evaluated in one pass on
    first use."""

    cfgs: Sequence[ServingConfig]
    active: list
    grids: tuple[np.ndarray, ...]
    slo: SLO
    p: float

    @functools.cached_property
    def curves(self) -> tuple[dict[int, int], Curves]:
        """Which curve each active bucket has (by position among those with a capacity point), and the curves."""
        _, offsets, load, _, first_bad = _evaluate(self.cfgs, self.active, list(self.grids), self.slo, self.p)
        bad = first_bad.tolist()
        order = {i: k for k, i in enumerate(i for i, j in enumerate(bad) if j > 0)}
        return order, Curves(load, self.active, bad, offsets, self.slo.tpot_ms / 1e3, 1 - self.p)


@dataclass(eq=False)
class _CellCurve:
    """The curve of active bucket `index` of a row."""

    row: _RowCurves
    index: int

    @functools.cached_property
    def values(self) -> tuple[tuple[float, ...], tuple[float, ...], TpotCurve]:
        """Req/s, TTFT ms and the TPOT curve at the cell's curve points."""
        order, curves = self.row.curves
        return curves.cell(order[self.index])


def _binding(cfg: ServingConfig, capped: bool, ok: dict[str, bool], n: float, rho: float, compute_bound: bool,
             full_ms: float, n_cap: int, context: float, slo: SLO) -> tuple[Bound, str]:
    """Name the resource that stops more load: the first check (`ok` at the first failing point, of batch n)
    that fails past the capacity point; `capped` when every point up to the batch cap met the SLOs."""
    kind = "compute-bound" if compute_bound else "bandwidth-bound"
    pct = f"p{slo.percentile:g}"
    if capped or not ok["batch"]:
        if n_cap < cfg.engine.max_num_seqs:  # the KV cache, not max_num_seqs, caps the batch
            return Bound.KV_MEMORY, f"KV cache holds {n_cap} sequences of {context:.0f} tokens"
        return (Bound.COMPUTE if compute_bound else Bound.BANDWIDTH), f"max_num_seqs {n_cap} reached (decode {kind})"
    if not ok["prefill"]:
        return Bound.COMPUTE, f"prompts arrive faster than prefill can process them at batch {n:.0f}"
    if not ok["full_step"]:
        return Bound.SLO, (f"{pct} TPOT {slo.tpot_ms:g} ms: a step full of prompt chunks "
                           f"(max_num_batched_tokens {cfg.engine.max_num_batched_tokens}) takes {full_ms:.0f} ms at batch {n:.0f}")
    if not ok["ttft"]:
        if rho >= SATURATED:
            return Bound.COMPUTE, f"prefill saturates the GPU ({rho:.0%} busy) before {pct} TTFT {slo.ttft_ms:g} ms"
        return Bound.SLO, f"{pct} TTFT {slo.ttft_ms:g} ms at batch {n:.0f} (prefill {rho:.0%} busy)"
    return Bound.SLO, f"{pct} TPOT {slo.tpot_ms:g} ms at batch {n:.0f} (decode {kind})"
