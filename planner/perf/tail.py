"""Latency tails of one replica in steady state (docs/methodology.md, "Capacity under SLO"): the prefill
queue's p-quantile wait (Kingman; M/G/m with Erlang C for a pool behind least-loaded routing) and the share of a bucket's requests whose TPOT exceeds t (Poisson-counted
interruptions that are M/G/1 busy periods), both over arrays of load points so a whole capacity row is
evaluated at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ARRIVAL_SCV = 1.0
"""Squared coefficient of variation of arrivals (1 = Poisson) in the prefill-queue tail."""
SERVICE_SCV = 0.25
"""Squared coefficient of variation of prefill times within a bucket: a bucket spans a factor of 4 in prompt
length (planner.schemas.workload.DEFAULT_INPUT_EDGES); prompt lengths uniform over [L, 4L) have a CV of
0.35 (SCV 0.12) and log-normal ones spread like the Azure traces' about 0.5 (SCV 0.25): the heavier one."""


POOL_TIERS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Pool sizes at which a capacity is evaluated with an M/G/m queue (the MILP may use a tier's capacity once the pool
has at least that many replicas): doubling, so a pool of n uses at worst the capacity at n/2, where the M/G/m
gain is flattening (at 64 replicas and rho 0.9 Erlang C is already 0.28; Halfin-Whitt, sqrt(m) (1 - rho) = 0.8)."""


def erlang_c(servers: int, rho: np.ndarray | float) -> np.ndarray:
    """Erlang C: the probability that an arrival waits in an M/M/m queue of m = `servers` at per-server utilization
    rho (offered load a = m rho), by the Erlang B recursion B_k = a B_{k-1} / (k + a B_{k-1}), B_0 = 1 (no
    factorials, stable for any m), then C = B_m / (1 - rho (1 - B_m)). C = rho for m = 1; 1 where rho >= 1."""
    rho = np.asarray(rho, dtype=float)
    a = servers * rho
    b = np.ones_like(a)
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1, b / (1 - rho * (1 - b)), 1.0)


def queue_wait(rho: np.ndarray, service: np.ndarray | float, p: float, servers: int = 1,
               wait_p: np.ndarray | None = None) -> np.ndarray:
    """p-quantile wait in a queue of `servers` replicas fed by least-loaded routing, taken as one M/G/m queue at
    per-server utilization rho: P(W > t) = C(m, m rho) exp(-t / scale), scale = service (c_a^2 + c_s^2) /
    (2 m (1 - rho)) (the M/M/m tail, C Erlang's, scaled by Allen-Cunneen's (c_a^2 + c_s^2) / 2). With m = 1
    it is Kingman's M/G/1 tail, rho exp(-t / scale); 0 where C <= 1 - p (p of arrivals find a free server).
    `wait_p`: C at these points when the caller has it already (computed once for many cells)."""
    if wait_p is None:
        wait_p = erlang_c(servers, rho) if servers > 1 else np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = service * (ARRIVAL_SCV + SERVICE_SCV) / (2 * servers * (1 - rho))
        return np.where((wait_p > 1 - p) & (rho < 1), scale * np.log(wait_p / (1 - p)), np.where(rho >= 1, np.inf, 0.0))


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_STIRLERR = np.array([0.0] + [math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - _LOG_SQRT_2PI for n in range(1, 16)])
"""stirlerr(n) = ln n! - ln(sqrt(2 pi n) (n/e)^n) for n <= 15, from lgamma (absolute error ~1e-15)."""
SERIES_TOL = 2.0**-55
"""A Poisson-tail series stops when its term is below this share of its sum (half a float64 ulp of 1)."""
_BLOCK = 8
"""Series terms added between convergence checks (the converged elements then leave the arrays)."""


def _stirlerr(n: np.ndarray) -> np.ndarray:
    """stirlerr(n) for integers n >= 1: the table to 15, then Stirling's series 1/12n - 1/360n^3 + ... (5 terms:
    the first omitted one, 691/360360 n^-11, is 1e-16 at n = 16)."""
    m = np.maximum(n, 16.0)
    inv2 = 1.0 / (m * m)
    series = (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188)))) / m
    small = n <= 15
    return np.where(small, _STIRLERR[np.minimum(n, 15).astype(np.int64)], series) if small.any() else series


def _bd0(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """x ln(x / mu) + mu - x (mu > 0): Loader's series in v = (x - mu) / (x + mu) when |v| < 0.1 (8 terms reach
    1e-17), where the direct form would cancel."""
    d = x - mu
    near = np.abs(d) < 0.1 * (x + mu)
    v = np.where(near, d / (x + mu), 0.0)
    v2 = v * v
    s = v2 * (1 / 3 + v2 * (1 / 5 + v2 * (1 / 7 + v2 * (1 / 9 + v2 * (1 / 11 + v2 * (1 / 13 + v2 * (1 / 15 + v2 / 17)))))))
    series = d * v + 2 * x * v * s
    if near.all():
        return series
    return np.where(near, series, x * np.log(np.where(near, 1.0, x / mu)) - d)


def poisson_pmf(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(K = x) for K ~ Poisson(mu > 0), integer x >= 0: Loader's saddle-point form
    exp(-stirlerr(x) - bd0(x, mu)) / sqrt(2 pi x), whose exponent has no large cancelling terms."""
    xs = np.maximum(x, 1.0)
    pmf = np.exp(-_stirlerr(xs) - _bd0(xs, mu)) / np.sqrt(2 * np.pi * xs)
    zero = x == 0
    return np.where(zero, np.exp(-mu), pmf) if zero.any() else pmf


def _series(num: np.ndarray, dnum: np.ndarray, den: np.ndarray, dden: np.ndarray,
            blocks: int | None) -> tuple[np.ndarray, np.ndarray]:
    """1 + r_1 + r_1 r_2 + ... with r_n = (num + n dnum) / (den + n dden), positive and decreasing below 1:
    the partial sum and a bound on the rest (the last term times r / (1 - r) for the last ratio r), after
    `blocks` blocks of _BLOCK terms or (None) once that bound is below SERIES_TOL of the sum."""
    total, rest = np.empty(num.shape), np.empty(num.shape)
    live, num, den = np.arange(num.size), num.copy(), den.copy()
    part, term, ratio = np.ones(num.shape), np.ones(num.shape), np.empty(num.shape)
    n = 0
    while live.size:
        for _ in range(_BLOCK):
            num += dnum
            den += dden
            np.divide(num, den, out=ratio)
            term *= ratio
            part += term
        n += _BLOCK
        bound = np.maximum(term * ratio, 0.0) / (1 - ratio)
        done = bound <= SERIES_TOL * part if blocks is None or n < blocks * _BLOCK else np.ones(live.size, dtype=bool)
        total[live[done]], rest[live[done]] = part[done], bound[done]
        keep = ~done
        live, num, dnum, den, dden, part, term, ratio = (a[keep] for a in (live, num, dnum, den, dden, part, term, ratio))
    return total, rest


def poisson_tail_bounds(k: np.ndarray, mu: np.ndarray, blocks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (low, high) on P(K > k) for K ~ Poisson(mu), integers k >= 0 and mu >= 0 (arrays of one shape),
    from `blocks` blocks of series terms; with blocks None, both are the value (see poisson_sf).

    At or above the mean (k + 1 >= mu): pmf(k + 1) (1 + mu/(k+2) + mu^2/((k+2)(k+3)) + ...); below it,
    1 - pmf(k) (1 + k/mu + k(k-1)/mu^2 + ...), a value above 1/2 so the difference does not cancel. Both
    series have positive terms with decreasing ratios below 1, so the rest after any term is at most that
    term times r / (1 - r); pmf by `poisson_pmf`. Both kinds are summed in one pass.
    """
    low, high = np.zeros(k.shape), np.zeros(k.shape)
    upper, lower = (k + 1 >= mu) & (mu > 0), k + 1 < mu
    live = upper | lower  # the rest (mu = 0) is 0
    if not live.any():
        return low, high
    kk, m, up = k[live], mu[live], upper[live]
    # upper: r_n = mu / (k + 1 + n); lower: r_n = (k + 1 - n) / mu
    factor = poisson_pmf(np.where(up, kk + 1, kk), m)
    part, rest = _series(np.where(up, m, kk + 1), np.where(up, 0.0, -1.0), np.where(up, kk + 1, m), up.astype(float), blocks)
    hi = part + rest if blocks else part
    low[live] = np.where(up, factor * part, 1 - factor * hi)
    high[live] = np.where(up, factor * hi, 1 - factor * part)
    return low, high


def poisson_sf(k: np.ndarray | float, mu: np.ndarray | float) -> np.ndarray:
    """P(K > k) for K ~ Poisson(mu), integers k >= 0 and mu >= 0, elementwise (broadcast): scipy.special.pdtrc
    without importing scipy (0.3 s) on the solve path. The series of `poisson_tail_bounds`, summed until the
    bound on their rest is below SERIES_TOL of their value; relative error below 1e-13 for values above
    1e-20 and about 1e-15 |ln P| for smaller ones (the float64 exponent's limit), as scipy's.
    """
    k, mu = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(mu, dtype=float))
    return poisson_tail_bounds(k, mu)[0]


def _chernoff(k: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chernoff's bound e^-mu (e mu / j)^j for integers k >= 1: on P(K >= k + 1) where k + 1 > mu (`above`:
    the tail P(K > k) is at most the bound), else on P(K <= k) (the tail is at least 1 - the bound)."""
    above = k + 1 > mu
    j = k + above
    with np.errstate(divide="ignore"):  # mu = 0: log 0 = -inf, a bound of 0
        exponent = np.log(mu / j)
    exponent += 1.0
    exponent *= j
    exponent -= mu
    return above, np.exp(exponent, out=exponent)


def _one(mu: np.ndarray) -> np.ndarray:
    """P(K = 1) for K ~ Poisson(mu): one interruption."""
    return mu * np.exp(-mu)


DECISION_MARGIN = 1e-9
"""Relative margin by which bounds must clear the SLO's tail share to decide a point without the exact sum:
far above the float error of that sum (~1e-15) and of the Poisson tails (~1e-13)."""


@dataclass(frozen=True)
class Lateness:
    """Share of requests late at TPOT t, for load points whose buckets have the same number of output
    classes (G gaps) and input classes (Q): per point, its bucket's output gaps and interruption costs.

    Each output-length class O_j (equal weight) spends O_j - 1 decode gaps of `gap_time`; prompts of new
    arrivals interrupt it a Poisson number K of times with mean rps * ((O_j - 1) * gap_time + own), where
    `own` (the mean interruption) counts the arrivals during its own prefill, served before its second
    token. An interruption is a busy period: the prompts that arrive while it runs queue behind it, so it
    lasts 1 / (1 - rho) prompts on average (M/G/1), which gives the mean TPOT gap_time / (1 - rho) and a
    heavier tail than single prompts. A request's TPOT is `floor` plus the interruptions' added time over
    O_j - 1, so it is late when they add more than R = (t - floor)(O_j - 1): with one interruption, when
    that prompt's cost exceeds R — drawn from the bucket's input classes, `per_step[n, q]` in each of
    `steps[n, q]` steps, of which at most O_j - 1 fall in the request's gaps; with more, when their sum does.
    That sum of K busy periods B is counted as a Poisson number of units of E[B^2] / E[B] with the same mean
    and variance (mu E[B]^2 / E[B^2] of them): for an M/G/1 busy period E[B^2] / E[B]^2 = (1 + c_s^2) / (1 - rho),
    c_s^2 the squared coefficient of variation of the prompts' costs over the bucket's input classes (the
    busy period's length varies more than its prompts do); in its tail (room past a + u3) as a + u3 Poisson(units3),
    which keeps the third moment too (E[B^3] / E[B]^3 = m3 / (1 - rho) + 3 rho m2^2 / (1 - rho)^2): a sum of a few
    busy periods is more skewed than a scaled Poisson count. Short outputs dominate: one interruption spread over
    few tokens. Single-token outputs have no TPOT. Under chunked prefill a step carries at most the token budget, so a busy period fills
    more steps, not longer ones: each step gains at most `ceiling` (a step full of chunks over the decode step),
    and no request is late at a t of `floor` plus that.
    """

    gaps: np.ndarray
    """(points, G): O_j - 1 of the bucket's output classes with O_j > 1."""
    n_outputs: np.ndarray
    """(points,): number of output classes, single-token ones included."""
    floor: np.ndarray
    mu: np.ndarray
    """Mean interruptions, (points, G)."""
    units: np.ndarray
    """Mean interruptions counted in units of `mean_interrupt` (mu / spread), (points, G)."""
    mean_interrupt: np.ndarray
    """Unit of interruption for two or more, (points,): the busy period's E[B^2] / E[B] (planner.perf.tail.Lateness)."""
    per_step: np.ndarray
    """(points, Q): time an interrupting busy period of each input class adds to each step it rides in."""
    steps: np.ndarray | None
    """(points, Q): steps it rides in; None when every prompt rides in one step (serial prefill)."""
    costliest: np.ndarray
    """(points,): the most one prompt can add (per_step x steps over the classes): no single prompt is
    late where the room is at least this."""
    ceiling: np.ndarray
    """(points,): the most any step gains (inf for serial prefill): no request is late where the room is at least
    this per gap."""
    units3: np.ndarray
    """(points, G): the same sum as a + u3 Poisson(units3), matching its first three moments (the tail's skew)."""
    unit3: np.ndarray
    """(points,): u3 = E[B^3] / E[B^2]."""
    base: np.ndarray
    """(points, G): a, the sure part of that three-moment fit: used where the room exceeds a + u3 (the tail), the
    two-moment units below it (a shifted count puts no mass under a, where a request without interruptions is)."""

    @classmethod
    def build(cls, gaps: np.ndarray, n_outputs: np.ndarray, per_step: np.ndarray, steps: np.ndarray | None,
              mean_interrupt: np.ndarray, floor: np.ndarray, gap_time: np.ndarray, rps: np.ndarray,
              rho: np.ndarray, cap: np.ndarray | None = None) -> "Lateness":
        """The model at each point from its load figures (`steps` None: one step per prompt; `cap`: the most
        prompt chunks add to one step, None or inf where prompts are not chunked)."""
        mu = rps[:, None] * (gap_time[:, None] * gaps + mean_interrupt[:, None])
        cluster = 1 / (1 - rho)
        work = per_step if steps is None else per_step * steps
        m1 = work.mean(axis=1)
        m2 = np.divide((work * work).mean(axis=1), m1 * m1, out=np.ones_like(m1), where=m1 > 0)
        m3 = np.divide((work ** 3).mean(axis=1), m1 ** 3, out=np.ones_like(m1), where=m1 > 0)
        spread = m2 * cluster  # E[B^2] / E[B]^2 of the busy period
        skew = m3 * cluster + 3 * rho * m2 * m2 * cluster * cluster  # E[B^3] / E[B]^3
        mean_b = mean_interrupt * cluster
        busy = per_step * cluster[:, None]
        unit2, unit3 = mean_b * spread, mean_b * skew / spread
        base = mu * (mean_b * (1 - spread * spread / skew))[:, None]
        ceiling = np.full(len(rho), np.inf)
        if cap is not None and np.isfinite(cap).any():
            # the busy period's work in steps of at most the cap (never below the class's own step)
            limit = np.maximum(cap[:, None], per_step)
            capped = np.minimum(busy, limit)
            longer = np.divide(busy, capped, out=np.ones_like(busy), where=capped > 0)
            steps, busy, ceiling = (longer if steps is None else steps * longer), capped, limit.max(axis=1)
        steps = None if steps is None or (steps == 1).all() else steps
        costliest = (busy if steps is None else busy * steps).max(axis=1)
        return cls(gaps, n_outputs, floor, mu, mu / spread[:, None], unit2, busy, steps, costliest, ceiling,
                   mu * (spread ** 3 / skew ** 2)[:, None], unit3, base)

    def within(self, t: np.ndarray, tail: float) -> np.ndarray:
        """Whether at most `tail` of requests have a TPOT above t[n], at each point n.

        The late share sums over output classes 1 (no room) or P(K = 1) P(one prompt costs more than the
        room) + P(the sum of the interruptions exceeds the room: Poisson units of the two-moment fit, or of the
        three-moment one past its sure part and one unit), over the number of classes. A point is decided from bounds
        on the terms where they clear the tail share by DECISION_MARGIN (the exact sum then compares the
        same way): first Chernoff bounds on the Poisson tail with the single-prompt share in [0, 1] (0 where
        no prompt outgrows the room), which settle most points; `_refine` tightens the rest.
        """
        room = (t - self.floor)[:, None] * self.gaps
        tail3 = room - self.base >= self.unit3[:, None]
        allowed = np.where(tail3, np.floor((room - self.base) / np.maximum(self.unit3, 1e-12)[:, None]),
                           np.maximum(np.floor(room / np.maximum(self.mean_interrupt, 1e-12)[:, None]), 1))  # more: late
        units = np.where(tail3, self.units3, self.units)
        no_room, limit = room < 0, tail * self.n_outputs
        free = room >= self.gaps * self.ceiling[:, None]  # every step may gain its most: never late
        above, bound = _chernoff(allowed, units)
        single = np.zeros(room.shape)  # at most P(K = 1), 0 where no prompt outgrows the room (most elements)
        outgrown = self.costliest[:, None] > room
        single[outgrown] = _one(self.mu[outgrown])
        late = np.where(no_room, 1.0, single + np.where(above, bound, 1.0))
        ok = np.where(free, 0.0, late).sum(axis=1) <= limit * (1 - DECISION_MARGIN)
        rows = np.flatnonzero(~ok)
        low = np.where(no_room[rows] | above[rows] | free[rows], 0.0, 1.0 - bound[rows])  # 1 where no room, counted below
        rows = rows[(low + no_room[rows]).sum(axis=1) <= limit[rows] * (1 + DECISION_MARGIN)]
        if len(rows):
            ok[rows] = self._refine(rows, room[rows], allowed[rows], units[rows], free[rows], tail)
        return ok

    def _refine(self, rows: np.ndarray, room: np.ndarray, allowed: np.ndarray, units: np.ndarray, free: np.ndarray,
                tail: float) -> np.ndarray:
        """`within` at points `rows` left open by the first bounds (`free`: the classes never late there): the
        single-prompt share exact and the Poisson tail bounded by its first series terms, then (the few points
        left) the exact sum."""
        no_room, limit = room < 0, tail * self.n_outputs[rows]
        share = _one(self.mu[rows]) * self._single(rows, room)
        low, high = (np.where(free, 0.0, np.where(no_room, 1.0, share + p)) for p in poisson_tail_bounds(allowed, units, 1))
        ok = high.sum(axis=1) <= limit * (1 - DECISION_MARGIN)
        at = np.flatnonzero(~ok & (low.sum(axis=1) <= limit * (1 + DECISION_MARGIN)))
        if len(at):
            late = np.where(free[at], 0.0, np.where(no_room[at], 1.0, share[at] + poisson_sf(allowed[at], units[at]))).sum(axis=1)
            ok[at] = late / self.n_outputs[rows[at]] <= tail
        return ok

    def _single(self, rows: np.ndarray, room: np.ndarray) -> np.ndarray:
        """Share of input classes whose one prompt adds more than `room` (rows x G) within the request's gaps,
        at points `rows`."""
        per_step, count = self.per_step[rows], np.zeros(room.shape)
        steps, gaps = (None, None) if self.steps is None else (self.steps[rows], self.gaps[rows])
        for q in range(per_step.shape[1]):
            cost = per_step[:, q, None] if steps is None else per_step[:, q, None] * np.minimum(steps[:, q, None], gaps)
            count += cost > room
        return count / per_step.shape[1]

    def quantile(self, floor: np.ndarray, slo_s: float, tail: float) -> np.ndarray:
        """The TPOT that `tail` of requests exceed at each point (all of which meet the SLO): bracket it by
        doubling from the decode step (up to the SLO), then bisect."""
        lo, hi = floor.copy(), np.minimum(2 * floor, slo_s)
        for _ in range(60):
            short = ~self.within(hi, tail)
            if not short.any():
                break
            lo, hi = np.where(short, hi, lo), np.where(short, np.minimum(2 * hi, slo_s), hi)
        for _ in range(14):
            mid = (lo + hi) / 2
            ok = self.within(mid, tail)
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        return hi


@dataclass(frozen=True, eq=False)
class CurvePoints:
    """Load figures at the kept load points of every cell of a capacity row (planner.perf.capacity keeps up
    to CURVE_POINTS per cell), gathered once, and the TPOT quantile there: for the whole row when a cell's
    curve is first asked, or for the cells a plan asks, batched over rows (`tpot_quantiles`); most cells of a
    table are never asked."""

    per_step: np.ndarray
    steps: np.ndarray
    mean_interrupt: np.ndarray
    floor: np.ndarray
    gap_time: np.ndarray
    rps: np.ndarray
    rho: np.ndarray
    step_cap: np.ndarray
    cells: tuple[tuple[int, int, np.ndarray, int, int], ...]
    """Per cell: its rows lo:hi, its bucket's output gaps (G,), number of output classes and of input classes."""
    slo_s: float
    tail: float
    tpot_ms: dict[int, tuple[float, ...]] = field(default_factory=dict, repr=False)
    """Each computed cell's TPOT quantile (ms) at its points."""

    def values_ms(self, cell: int) -> tuple[float, ...]:
        """Cell `cell`'s TPOT quantiles (ms); the first ask computes every cell of the row not yet computed."""
        if cell not in self.tpot_ms:
            tpot_quantiles([(self, i) for i in range(len(self.cells)) if i not in self.tpot_ms])
        return self.tpot_ms[cell]


def tpot_quantiles(cells: list[tuple[CurvePoints, int]]) -> None:
    """Compute the TPOT quantiles of `cells` (of any rows, one SLO) not computed yet: one bisection per group
    of cells with the same number of output gaps and input classes (each point's bisection is its own, so the
    grouping does not change a value)."""
    groups: dict[tuple[int, int, float, float], list[tuple[CurvePoints, int]]] = {}
    for points, i in dict.fromkeys(c for c in cells if c[1] not in c[0].tpot_ms):
        _, _, gaps, _, q = points.cells[i]
        groups.setdefault((len(gaps), q, points.slo_s, points.tail), []).append((points, i))
    for (g, q, slo_s, tail), members in groups.items():
        rows = [np.arange(pts.cells[i][0], pts.cells[i][1]) for pts, i in members]

        def gather(name: str, classes: bool = False) -> np.ndarray:
            return np.concatenate([getattr(pts, name)[(r, slice(q)) if classes else r] for (pts, _), r in zip(members, rows)])

        gaps = np.concatenate([np.broadcast_to(pts.cells[i][2], (len(r), g)) for (pts, i), r in zip(members, rows)])
        n_outputs = np.concatenate([np.full(len(r), pts.cells[i][3]) for (pts, i), r in zip(members, rows)])
        floor = gather("floor")
        model = Lateness.build(gaps, n_outputs, gather("per_step", True), gather("steps", True), gather("mean_interrupt"),
                               floor, gather("gap_time"), gather("rps"), gather("rho"), gather("step_cap"))
        values = (model.quantile(floor, slo_s, tail) * 1e3).tolist()
        start = 0
        for (pts, i), r in zip(members, rows):
            pts.tpot_ms[i], start = tuple(values[start:start + len(r)]), start + len(r)


@dataclass(frozen=True)
class TpotCurve:
    """The TPOT quantile curve of cell `cell` of a row's CurvePoints."""

    points: CurvePoints
    cell: int

    def values_ms(self) -> tuple[float, ...]:
        return self.points.values_ms(self.cell)
