"""Capacity under SLO: the max sustainable req/s of one replica for each request-size bucket.

Continuous batching in steady state, parametrised by the mean number of live sequences N (planner.perf.load;
docs/methodology.md, "Capacity under SLO"); p-quantiles: live batch N + z*sqrt(N), TPOT over the bucket's
output classes with Poisson-counted interruptions that are M/G/1 busy periods (planner.perf.tail), prefill
queue wait from Kingman's tail. The largest N whose p-quantile TTFT, TPOT, prefill utilization and KV
occupancy all hold gives the capacity.

`capacity_row` evaluates every bucket of one config together: the buckets' load points are concatenated
into one array (each point carrying its bucket's lengths), so the whole row is a few numpy passes instead
of a Python loop per cell; elementwise the arithmetic is the same as for one bucket at a time. The search
for each bucket's first failing load point is in planner.perf.search.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.bound import Bound
from planner.perf.memory import ServingConfig, max_batches, max_kv_tokens, tokens_reserved_per_sequence
from planner.perf.step import decode_step, prefill_step
from planner.perf.curves import Curves, curve_points
from planner.perf.search import LIGHT_LOAD, Live, LoadRow, batch_grid, first_failures, first_false, row_steps, stackable
from planner.perf.tail import TpotCurve, tpot_quantiles
from planner.schemas.workload import SLO

SATURATED = 0.85
"""Prefill utilization above which a TTFT miss is reported as compute-bound (the prefill server is nearly
always busy; below it, queueing at moderate load is what breaks the SLO)."""
ADMISSION_SHARE = 0.1
"""A TTFT miss is reported as the wait for a running slot (max_num_seqs) when that wait is at least this share of
the TTFT SLO at the first failing point (below it, the wait is not what tips the SLO)."""


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
    pooled: tuple[float, ...] = ()
    """Max req/s per replica in a pool of at least POOL_TIERS[1:] replicas (planner.perf.tail; M/G/m prefill queue),
    where the model has it (prefill replicas); empty: one replica's `max_rps` whatever the pool."""

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


def prepare_curves(cells: Iterable[CellCapacity | None]) -> None:
    """Work out the latency curves of `cells` together, their TPOT quantiles in one pass across rows, before they
    are read one by one (a plan reads a few cells of each of a few configs; a row's first read works out all of it)."""
    tpot = [c.curve.values[2] for c in cells if c is not None and c.curve is not None]
    tpot_quantiles([(t.points, t.cell) for t in tpot if isinstance(t, TpotCurve)])  # others are known at their points


def _zero(bound: Bound, detail: str, ttft0_ms: float = math.inf, tpot0_ms: float = math.inf) -> CellCapacity:
    return CellCapacity(0.0, bound, detail, 0.0, ttft0_ms, tpot0_ms)


def cell_capacity(cfg: ServingConfig, bucket: Bucket, slo: SLO) -> CellCapacity:
    """Max req/s one replica sustains for `bucket` with p-quantile TTFT/TPOT within the SLO."""
    return capacity_row(cfg, (bucket,), slo)[0]


@functools.lru_cache(maxsize=4096)
def _lengths(bucket: Bucket) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Mean input, mean output (at least 1), output classes, their gaps and the time-weighted mean context
    of a bucket: a live sequence is, on average, half-way through its output, and long outputs stay live
    longer, so the mean context is I + E[O^2] / (2 E[O]) (I + O/2 when all outputs are equal). Cached:
    every config of a table reads them (callers do not modify the arrays)."""
    inp, out = bucket.input_mean, max(bucket.output_mean, 1.0)
    outputs = np.asarray(bucket.output_q or (out,), dtype=float)
    return inp, out, outputs, outputs[outputs > 1] - 1, inp + float(np.mean(outputs**2) / (2 * np.mean(outputs)))


def _screen(cfg: ServingConfig, buckets: Sequence[Bucket], lengths: list[tuple], cells: list[CellCapacity | None],
            variant: int = 0) -> list[Live]:
    """Buckets whose longest sequence and mean context fit the KV cache (the others get a zero cell); `lengths`:
    `_lengths` of each bucket."""
    kv_tokens = max_kv_tokens(cfg)
    longest = [b.input_max + b.output_max for b in buckets]
    too_long = (np.broadcast_to(tokens_reserved_per_sequence(cfg, np.array(longest, dtype=float)), len(buckets)) > kv_tokens).tolist()
    n_caps = max_batches(cfg, np.array([length[4] for length in lengths]), kv_tokens).tolist()
    live = []
    for j, (bucket, (inp, out, outputs, gaps, context), n_cap) in enumerate(zip(buckets, lengths, n_caps)):
        if too_long[j]:
            cells[j] = _zero(Bound.KV_MEMORY, f"a {longest[j]}-token sequence needs more KV cache than the {kv_tokens} tokens that fit")
            continue
        if n_cap < 1:
            cells[j] = _zero(Bound.KV_MEMORY, f"no sequence of {context:.0f} tokens fits in {kv_tokens} KV tokens")
            continue
        live.append(Live(j, bucket, inp, out, outputs, gaps, context, n_cap, variant))
    return live


def capacity_row(cfg: ServingConfig, buckets: Sequence[Bucket], slo: SLO) -> tuple[CellCapacity, ...]:
    """`cell_capacity` of every bucket, computed together."""
    return capacity_rows((cfg,), buckets, slo)[0]


ROW_CONFIGS = 64
"""Configs `every_row` evaluates in one `capacity_rows` call where they can be stacked: a pass over load points has
~1-2 ms of fixed numpy work per call, so blocks of configs share it, and a block bounds the arrays of a pass (one point
per open bucket a pass, x 64 buckets here: ~4k points). The widest 8B table (888 configs), CPU s by block: with 3
search points a pass (load 0.5) 16 configs 2.55, 32 1.95 and 1.80, 64 1.98 and 1.65, 128 2.32, 256 2.32; with 1
(planner.perf.search.SEARCH_POINTS, load 2) 32 1.96, 64 1.93, 1.83 and 1.69, 128 1.99 and 1.89, 256 2.24 (peak RSS
180 MB at 32-64, 235 MB at 256)."""


def every_row(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO) -> list[tuple[CellCapacity, ...]]:
    """`capacity_row` of every config, in order: the `stackable` ones in blocks of ROW_CONFIGS per model, the
    others with their budget siblings."""
    groups: dict[object, list[int]] = {}
    for k, cfg in enumerate(cfgs):
        groups.setdefault(cfg.model.id if stackable(cfg) else budget_siblings(cfg), []).append(k)
    rows: list[tuple[CellCapacity, ...]] = [()] * len(cfgs)
    for members in groups.values():
        for lo in range(0, len(members), ROW_CONFIGS):
            block = members[lo:lo + ROW_CONFIGS]
            for k, row in zip(block, capacity_rows([cfgs[k] for k in block], buckets, slo)):
                rows[k] = row
    return rows


def budget_siblings(cfg: ServingConfig) -> tuple:
    """What configs that differ only in their token budget share (`capacity_rows` computes them in one pass)."""
    return replace(cfg.replica, engine=replace(cfg.engine, max_num_batched_tokens=0)), cfg.key if cfg.spec else None


def capacity_rows(cfgs: Sequence[ServingConfig], buckets: Sequence[Bucket], slo: SLO) -> list[tuple[CellCapacity, ...]]:
    """`capacity_row` of several configs in one pass: `stackable` configs of one model (their step
    constants per point), or configs that differ only in their token budget (a per-point array), so the numpy
    work is shared instead of repeated per config."""
    p = slo.percentile / 100
    rows: list[list[CellCapacity | None]] = [[None] * len(buckets) for _ in cfgs]
    lengths = [_lengths(b) for b in buckets]
    live = [b for v, (cfg, cells) in enumerate(zip(cfgs, rows)) for b in _screen(cfg, buckets, lengths, cells, v)]
    if live:
        steps = row_steps(cfgs, live)
        cfg = cfgs[0] if steps is None else steps
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


COARSE_POINTS = 24
"""Load points of a bucket's coarse grid (index-geometric, plus every 4th light-load point), from which its latency
curve's points are chosen (`_RowCurves`)."""
DENSE_CURVE = 128
"""A cell whose first failure lies within the first DENSE_CURVE points of its batch grid keeps every point below
it on its curve grid."""


@functools.lru_cache(maxsize=4096)
def _coarse(size: int) -> np.ndarray:
    """Indices into a batch grid of `size` points for the coarse grid (always its first and last point).
    Cached per size (callers only read it)."""
    light = np.arange(0, min(size, len(LIGHT_LOAD)), 4)
    rest = np.arange(0) if size <= len(LIGHT_LOAD) else np.geomspace(len(LIGHT_LOAD), size - 1, COARSE_POINTS).round()
    return np.unique(np.concatenate([light, rest, [size - 1]]).astype(int))


def _loaded_cells(cfgs: Sequence[ServingConfig], active: list, slo: SLO, p: float) -> list[tuple[int, int, CellCapacity]]:  # noqa: ANN001
    """Cells (config variant, bucket, cell) of the buckets that pass the zero-load checks: the largest point of
    the batch grid meeting every check, found by `first_failures` (the point a scan of the whole grid finds,
    for a fraction of the work), then one pass at each bucket's first failing point and the point before it
    for the capacity and what binds. The latency curves are evaluated for a whole row (`_RowCurves`) when a
    plan or an estimate first asks for one of its cells' curves."""
    row = LoadRow.of(cfgs, active, p)
    full = [batch_grid(b.n_cap) for b, *_ in active]
    first = first_failures(row, full, slo, p)
    sizes, n = np.array([len(g) for g in full]), len(active)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # the first failing point (the last one when none fails), then the capacity point (where one exists)
    at = np.concatenate([np.minimum(first, sizes - 1), np.maximum(first - 1, 0)])
    pts, load, checks, _ = row.evaluate(np.tile(np.arange(n), 2), np.concatenate(full)[np.tile(starts, 2) + at], slo, p, tpot=False)
    fails = {k: v[:n].tolist() for k, v in checks.items()}
    admit = np.zeros(n) if load.admission_wait is None else load.admission_wait[:n]
    at_figures = zip(pts.grid[:n].tolist(), load.rho[:n].tolist(), np.asarray(load.step.compute_bound)[:n].tolist(),
                     (load.full_step[:n] * 1e3).tolist(), (admit * 1e3).tolist())
    curves = _RowCurves(row, tuple(full), tuple(first.tolist()), slo, p)
    results = []
    rps, batch, capped = load.rps.tolist(), pts.grid[n:].tolist(), (first >= sizes).tolist()
    for i, ((b, _, _, ttft0_ms, tpot0_ms), j, figures) in enumerate(zip(active, first.tolist(), at_figures)):
        bound, why = _binding(cfgs[b.variant], capped[i], {k: v[i] for k, v in fails.items()}, *figures, b.n_cap, b.context, slo)
        if j == 0:
            results.append((b.variant, b.index, _zero(Bound.SLO, f"{why} even at {rps[i]:.2g} req/s", ttft0_ms, tpot0_ms)))
            continue
        results.append((b.variant, b.index, CellCapacity(max_rps=rps[n + i], bound=bound, detail=why, batch=batch[i], ttft0_ms=ttft0_ms,
                                                         tpot0_ms=tpot0_ms, curve=_CellCurve(curves, i, b.variant))))
    return results


@dataclass(eq=False)
class _RowCurves:
    """The latency curves of a row's cells, evaluated in one pass per config on first use. A cell's curve grid: the
    coarse points below its first failure (every grid point below it, when that is within DENSE_CURVE),
    CURVE_POINTS spread below the last coarse pass and every point from there to the failure; the same whichever
    cells are asked."""

    row: LoadRow
    full: tuple[np.ndarray, ...]
    """Each active bucket's batch grid."""
    first: tuple[int, ...]
    """Each one's first failing point on it (its length where none fails)."""
    slo: SLO
    p: float
    done: dict[int, tuple[dict[int, int], Curves]] = field(default_factory=dict)
    """By config variant: which curve each of its active buckets has (by position among those with a capacity
    point), and the curves."""

    def of(self, variant: int) -> tuple[dict[int, int], Curves]:
        """The curves of one config's cells (a plan asks for a few configs of a row of many)."""
        if variant not in self.done:
            self.done[variant] = self._evaluate([i for i, (b, *_) in enumerate(self.row.active) if b.variant == variant])
        return self.done[variant]

    def _evaluate(self, members: list[int]) -> tuple[dict[int, int], Curves]:
        coarse = [_coarse(len(self.full[i])) for i in members]
        bad = [int(np.searchsorted(c, self.first[i])) for c, i in zip(coarse, members)]  # the first coarse point that fails
        idx = [c if j == len(c) else np.arange(c[j] + 1) if c[j] <= DENSE_CURVE
               else np.unique(np.concatenate([c[:j], curve_points(int(c[j - 1])), np.arange(c[j - 1] + 1, c[j] + 1)]))
               for c, j in zip(coarse, bad)]
        sizes = np.array([len(i) for i in idx])
        offsets, local = np.concatenate([[0], np.cumsum(sizes)]), np.repeat(np.arange(len(idx)), sizes)
        grid = np.concatenate([self.full[m][i] for m, i in zip(members, idx)])
        _, load, _, ok = self.row.evaluate(np.asarray(members)[local], grid, self.slo, self.p)
        first_bad = first_false(ok, np.arange(len(local)) - offsets[local], offsets).tolist()
        order = {members[i]: k for k, i in enumerate(i for i, j in enumerate(first_bad) if j > 0)}
        return order, Curves(load, [self.row.active[m] for m in members], first_bad, offsets, self.slo.tpot_ms / 1e3, 1 - self.p)


@dataclass(eq=False)
class _CellCurve:
    """The curve of active bucket `index` (of config `variant`) of a row."""

    row: _RowCurves
    index: int
    variant: int

    @functools.cached_property
    def values(self) -> tuple[tuple[float, ...], tuple[float, ...], TpotCurve]:
        """Req/s, TTFT ms and the TPOT curve at the cell's curve points."""
        order, curves = self.row.of(self.variant)
        return curves.cell(order[self.index])


def _binding(cfg: ServingConfig, capped: bool, ok: dict[str, bool], n: float, rho: float, compute_bound: bool,
             full_ms: float, admit_ms: float, n_cap: int, context: float, slo: SLO) -> tuple[Bound, str]:
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
        if admit_ms >= ADMISSION_SHARE * slo.ttft_ms:
            return Bound.SLO, (f"{pct} TTFT {slo.ttft_ms:g} ms at batch {n:.0f}: requests wait {admit_ms:.0f} ms for one of "
                               f"max_num_seqs {n_cap} running slots")
        if rho >= SATURATED:
            return Bound.COMPUTE, f"prefill saturates the GPU ({rho:.0%} busy) before {pct} TTFT {slo.ttft_ms:g} ms"
        return Bound.SLO, f"{pct} TTFT {slo.ttft_ms:g} ms at batch {n:.0f} (prefill {rho:.0%} busy)"
    return Bound.SLO, f"{pct} TPOT {slo.tpot_ms:g} ms at batch {n:.0f} (decode {kind})"
