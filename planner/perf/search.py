"""The search behind capacity cells: the active buckets of a row as arrays (`LoadRow`), every check at any set
of load points, and each bucket's first failing point on its batch grid found by narrowing (planner.perf.capacity
turns those points into cells and curves)."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.load import Load, Points, chunked_load, serial_load
from planner.perf.memory import ServingConfig
from planner.perf.step import StepConstants
from planner.perf.tail import Lateness, queue_wait
from planner.schemas.workload import SLO

LIGHT_LOAD = np.geomspace(1e-4, 1.0, 25)[:-1]
"""Fractional mean batches below 1: light load, where queueing vanishes (geometric from 1e-4 requests in flight)."""


SMALL_BATCH = np.geomspace(1.0, 16.0, 58)
"""Mean batches from 1 to 16 in steps of 5 % (16 = 1.05^56.8): N is a mean of a Poisson count, not an integer, and
where few sequences are live (short outputs: the code example's 512-2047 / 1-63 cell holds ~1.4) integer steps
quantised a capacity by up to 2x (batch 1 passed, 2 failed: 12.8 req/s against 17.3 in the simulator)."""


@functools.lru_cache(maxsize=4096)
def batch_grid(n_cap: int) -> np.ndarray:
    """Mean live sequences to evaluate: fractions below 1 (light load), 5 % steps to 16, then every integer to the
    cap (1,024 geometric points past a cap of 1,024). Cached per cap (callers only read it)."""
    whole = np.arange(17, n_cap + 1, dtype=float) if n_cap <= 1024 else np.unique(np.geomspace(17, n_cap, 1024).round())
    return np.concatenate([LIGHT_LOAD, SMALL_BATCH[SMALL_BATCH <= n_cap], whole])


@dataclass(frozen=True)
class Live:
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
    """Which config of a `capacity_rows` call."""


@functools.lru_cache(maxsize=4096)
def batch_limit(n_cap: int, z: float, slots: bool = False) -> int:
    """The first point of `batch_grid(n_cap)` that fails the batch check (its length if none): as `LoadRow.evaluate`
    computes it, the p-quantile batch N + z sqrt(N) above the cap, which only grows along the grid; with `slots`
    (max_num_seqs caps the batch), a mean batch at the cap. Cached."""
    grid = batch_grid(n_cap)
    return int(np.count_nonzero(grid < n_cap if slots else grid + z * np.sqrt(grid) <= n_cap))


ADMISSION_Z = 6.0
"""Requests wait for a running slot only where the Poisson batch N + 6 sqrt(N) reaches max_num_seqs (below it
Erlang C is under 1e-8, so the wait is left out without computing it)."""


def admission_wait(grid: np.ndarray, residence: np.ndarray, slots: np.ndarray, p: float) -> np.ndarray:
    """p-quantile wait for one of `slots` (max_num_seqs) running slots at mean batch `grid`: an M/G/c queue of c =
    slots servers whose service is a sequence's residence N / lambda (planner.perf.tail.queue_wait); vLLM admits a
    waiting request when a running one finishes."""
    wait = np.zeros(len(grid))
    near = (grid + ADMISSION_Z * np.sqrt(grid) > slots) & (grid < slots)
    for c in np.unique(slots[near]).tolist():
        at = near & (slots == c)
        wait[at] = queue_wait(grid[at] / c, residence[at], p, servers=int(c))
    return wait


@dataclass(frozen=True)
class _Group:
    """Buckets whose TPOT tails are evaluated together (the same number of output gaps G and input classes Q,
    so every sum over classes has the length it has for one bucket alone)."""

    member: np.ndarray
    """(buckets,): in this group."""
    gaps: np.ndarray
    """(buckets, G): each member's output gaps (O_j - 1 of its classes with O_j > 1)."""
    q: int


def _groups(buckets: dict[int, Live], at: np.ndarray) -> list[_Group]:
    """The active buckets (`at`: each one's bucket, `buckets` one Live of each) grouped by their numbers of output
    gaps and input classes."""
    keys = {j: (len(b.gaps), len(b.bucket.input_q or (b.inp,))) for j, b in buckets.items()}
    groups = []
    for n_gaps, q in sorted(set(keys.values())):
        inside = np.zeros(max(buckets) + 1, dtype=bool)
        gaps = np.zeros((max(buckets) + 1, n_gaps))
        for j, key in keys.items():
            if key == (n_gaps, q):
                inside[j], gaps[j] = True, buckets[j].gaps
        groups.append(_Group(inside[at], gaps[at], q))
    return groups


@dataclass(frozen=True)
class LoadRow:
    """The active buckets of a `capacity_rows` call as arrays (one entry per bucket), built once and read by
    every pass over load points."""

    cfgs: Sequence[ServingConfig]
    active: list
    """(Live, t_prefill, t_prefill_tail, ttft0_ms, tpot0_ms) per bucket."""
    z: float
    figures: tuple[np.ndarray, ...]
    """inp, out, context, input_p99, t_prefill, t_prefill_tail and the token budget of each bucket."""
    classes: np.ndarray
    """(buckets, Q): input classes, padded by repeating the last (lateness uses the first Q of its group only)."""
    hit: np.ndarray
    n_cap: np.ndarray
    slots: np.ndarray
    """(buckets,): whether max_num_seqs, not the KV cache, caps the batch (requests then queue for a running slot)."""
    n_outputs: np.ndarray
    groups: list[_Group]
    steps: StepConstants | None
    """The configs' step constants by bucket (`row_steps`); None: one config's (or budget siblings') own."""

    @classmethod
    def of(cls, cfgs: Sequence[ServingConfig], active: list, p: float) -> "LoadRow":  # noqa: ANN001
        """The row's arrays; a bucket's lengths are the same for every config, so they are built once per bucket
        and gathered for the (config, bucket) entries."""
        lives = [b for b, *_ in active]
        at, variant = np.array([b.index for b in lives]), np.array([b.variant for b in lives])
        buckets = {b.index: b for b in lives}

        def per_bucket(value) -> np.ndarray:  # noqa: ANN001 - Live -> float
            out = np.zeros(max(buckets) + 1)
            out[list(buckets)] = [value(b) for b in buckets.values()]
            return out[at]

        budgets = np.array([c.engine.max_num_batched_tokens for c in cfgs], dtype=float)
        figures = (per_bucket(lambda b: b.inp), per_bucket(lambda b: b.out), per_bucket(lambda b: b.context),
                   per_bucket(lambda b: b.bucket.input_p99), np.array([a[1] for a in active]), np.array([a[2] for a in active]),
                   budgets[variant])
        qs = {j: np.asarray(b.bucket.input_q or (b.inp,), dtype=float) for j, b in buckets.items()}
        classes = np.zeros((max(buckets) + 1, max(len(q) for q in qs.values())))
        for j, q in qs.items():
            classes[j, :len(q)], classes[j, len(q):] = q, q[-1]
        return cls(cfgs, active, NormalDist().inv_cdf(p), figures, classes[at], per_bucket(lambda b: b.bucket.cache_hit),
                   np.array([b.n_cap for b in lives]), np.array([b.n_cap == cfgs[b.variant].engine.max_num_seqs for b in lives]),
                   per_bucket(lambda b: len(b.outputs)).astype(int), _groups(buckets, at),
                   row_steps(cfgs, lives))

    def evaluate(self, seg: np.ndarray, grid: np.ndarray, slo: SLO, p: float,
                 tpot: bool = True) -> tuple[Points, Load, dict[str, np.ndarray], np.ndarray]:
        """Every check at load points `grid` (mean batches) of buckets `seg`, and where all of them hold (`tpot`
        False: all but the TPOT tail, the costliest, for callers that only read the figures). Each point's
        figures are its own (no point depends on another), so any set of points may be evaluated."""
        inp, out, context, p99, t_prefill, t_tail, budget = (f[seg] for f in self.figures)
        n_cap, slots = self.n_cap[seg], self.slots[seg]
        n_max = np.where(slots, n_cap, np.inf)  # no step runs more than max_num_seqs sequences
        pts = Points(grid, grid + self.z * np.sqrt(grid), inp, out, context, p99, t_prefill, t_tail, self.classes, seg,
                     self.hit, budget, n_max)
        cfg = self.cfgs[0]
        if self.steps is not None:
            load = chunked_load(self.steps.take(seg), pts, p)
        else:
            load = (chunked_load if cfg.engine.chunked_prefill else serial_load)(cfg, pts, p)
        pts = replace(pts, n_hi=load.n_hi)
        if slots.any():  # max_num_seqs caps the batch: a request waits for a running slot, counted in its TTFT
            wait = admission_wait(grid, grid / np.maximum(load.rps, 1e-300), np.where(slots, n_cap, np.inf), p)
            load = replace(load, ttft=load.ttft + wait, admission_wait=wait)
        checks = {"prefill": load.rho < 1, "ttft": load.ttft * 1e3 <= slo.ttft_ms,
                  "batch": np.where(slots, grid < n_cap, load.n_kv <= n_cap), "full_step": load.full_step * 1e3 <= slo.tpot_ms}
        ok = checks["prefill"] & checks["ttft"] & checks["batch"] & checks["full_step"]
        if tpot:
            ok[ok] = _tpot_ok(load, seg, self.groups, self.n_outputs, ok, slo.tpot_ms / 1e3, 1 - p)[ok]
        return pts, load, checks, ok


def stackable(cfg: ServingConfig) -> bool:
    """Whether a config's load points may be evaluated with other configs' through stacked step constants: chunked
    prefill (the serial model's per-bucket prefill steps are not stacked) and no speculative decoding (two models)."""
    return cfg.engine.chunked_prefill and cfg.spec is None


def row_steps(cfgs: Sequence[ServingConfig], lives: Sequence[Live]) -> StepConstants | None:
    """The step constants of each bucket's config (`lives` in order) where several `stackable` configs of one model
    share a row; None where they differ only in the token budget (a per-point array of `Points`)."""
    if len(cfgs) == 1 or not all(stackable(c) and c.model == cfgs[0].model for c in cfgs):
        return None
    return StepConstants.stack(list(cfgs)).take(np.array([b.variant for b in lives]))


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
                               load.tpot_floor[idx], load.gap_time[idx], load.rps[idx], load.rho_tail[idx], load.step_cap[idx])
        ok[idx] = model.within(np.full(len(idx), slo_s), tail)
    return ok


SEARCH_POINTS = 1
"""Load points per bucket in each pass of the search for its first failing point: each pass cuts the open
interval into SEARCH_POINTS + 1 parts, so with 1 (bisection) a 1,048-point grid takes at most 11 passes (where a
coarse pass of 30 points and a scan of the gap after it took ~44). Fewest points in all; while each config was a
call of its own, a pass's few ms of fixed numpy work per config made 3 points best (widest 8B table, load ~5, CPU s:
1 point 7.5, 2 points 7.3, 3 points 5.1 and 6.3, 4 points 6.5, 6 points 6.0). With 64 configs a call
(planner.perf.capacity.ROW_CONFIGS), same table, load ~2, CPU s: 1 point 1.69 and 1.66, 2 points 1.91 and 1.65,
3 points 2.31 and 2.27, 4 points 2.35."""


def first_failures(row: LoadRow, grids: list[np.ndarray], slo: SLO, p: float) -> np.ndarray:
    """Index of each bucket's first failing point of its batch grid (the grid's length where none fails). The
    checks only turn from pass to fail as load grows, so the first failure is found by narrowing an interval
    (last known pass, first known failure) in passes of SEARCH_POINTS points; the batch check is known from
    the grid alone and starts the interval."""
    starts = np.concatenate([[0], np.cumsum([len(g) for g in grids])[:-1]])
    flat = np.concatenate(grids)
    hi = np.array([batch_limit(int(n), row.z, s) for n, s in zip(row.n_cap.tolist(), row.slots.tolist())])
    lo = np.full(len(grids), -1)
    k = np.arange(1, SEARCH_POINTS + 1)
    while (open_ := np.flatnonzero(hi - lo > 1)).size:
        width = (hi - lo)[open_, None]
        m = np.minimum(SEARCH_POINTS, width - 1)
        take = k <= m  # m points evenly inside (lo, hi): all of them when the interval holds m or fewer
        pos = (lo[open_, None] + k * width // (m + 1))[take]
        seg = np.broadcast_to(open_[:, None], take.shape)[take]
        ok = row.evaluate(seg, flat[starts[seg] + pos], slo, p)[-1]
        np.minimum.at(hi, seg[~ok], pos[~ok])
        passed = ok & (pos < hi[seg])
        np.maximum.at(lo, seg[passed], pos[passed])
    return hi


def first_false(passed: np.ndarray, position: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Position of the first False of `passed` within each bucket's segment (the segment's length if none)."""
    return np.minimum(np.minimum.reduceat(np.where(passed, len(passed), position), offsets[:-1]), np.diff(offsets))
