"""Latency tails of one replica in steady state (docs/methodology.md, "Capacity under SLO"): the prefill
queue's p-quantile wait (Kingman) and the share of a bucket's requests whose TPOT exceeds t (Poisson-counted
interruptions that are M/G/1 busy periods), both over arrays of load points so a whole capacity row is
evaluated at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARRIVAL_SCV = 1.0
"""Squared coefficient of variation of arrivals (1 = Poisson) in the prefill-queue tail."""
SERVICE_SCV = 0.25
"""Squared coefficient of variation of prefill times within a bucket: a bucket spans a factor of 4 in prompt
length (planner.schemas.workload.DEFAULT_INPUT_EDGES); prompt lengths uniform over [L, 4L) have a CV of
0.35 (SCV 0.12) and log-normal ones spread like the Azure traces' about 0.5 (SCV 0.25): the heavier one."""


def queue_wait(rho: np.ndarray, service: np.ndarray | float, p: float) -> np.ndarray:
    """p-quantile wait for the prefill server: Kingman's M/G/1 exponential tail, rho * exp(-t / scale)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = service * (ARRIVAL_SCV + SERVICE_SCV) / (2 * (1 - rho))
        return np.where((rho > 1 - p) & (rho < 1), scale * np.log(rho / (1 - p)), np.where(rho >= 1, np.inf, 0.0))


NEGLIGIBLE = 1e-20
"""Poisson tails below this are not computed: the lateness they enter is only ever compared with the SLO's
tail share (>= 1e-6), next to which 1e-20 cannot change a comparison (nor the float sum it is added to)."""


def _log_chernoff(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """log of the Chernoff bound e^-mu (e mu / k)^k on P(K >= k) (k > mu) or P(K <= k) (k < mu)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mu > 0, -mu + k * (1.0 + np.log(mu) - np.log(k)), -np.inf)


def poisson_sf(k: np.ndarray, mu: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray:
    """P(K > k) for K ~ Poisson(mu) and integer k >= 1, elementwise; 0 where `skip` is true (value not needed).

    scipy.special.pdtrc (imported here: 0.25 s, so importing the performance model stays light), called only
    where the answer is neither 1 nor negligible by the Chernoff bound: the special function otherwise
    dominates the capacity table's time. Below the band P(K <= k) < 1e-18 rounds 1 - P to 1.0 in float64;
    above it the tail is under NEGLIGIBLE and taken as 0.
    """
    upper = (k + 1 > mu) & (_log_chernoff(k + 1, mu) < np.log(NEGLIGIBLE))
    lower = (k < mu) & (_log_chernoff(k, mu) < np.log(1e-18))
    out = np.where(lower, 1.0, 0.0) if skip is None else np.where(lower & ~skip, 1.0, 0.0)
    need = ~(upper | lower) if skip is None else ~(upper | lower | skip)
    if need.any():
        from scipy.special import pdtrc

        out[need] = pdtrc(k[need], mu[need])
    return out


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
    `steps[n, q]` steps, of which at most O_j - 1 fall in the request's gaps; with more, when K mean
    interruptions do. Short outputs dominate: one interruption spread over few tokens. Single-token
    outputs have no TPOT.
    """

    gaps: np.ndarray
    """(points, G): O_j - 1 of the bucket's output classes with O_j > 1."""
    n_outputs: np.ndarray
    """(points,): number of output classes, single-token ones included."""
    floor: np.ndarray
    mu: np.ndarray
    one: np.ndarray
    """P(K = 1), (points, G)."""
    mean_interrupt: np.ndarray
    """Mean busy-period interruption, (points,)."""
    cost: np.ndarray
    """Time one interrupting prompt adds within a request's gaps, (points, G, Q)."""

    @classmethod
    def build(cls, gaps: np.ndarray, n_outputs: np.ndarray, per_step: np.ndarray, steps: np.ndarray,
              mean_interrupt: np.ndarray, floor: np.ndarray, gap_time: np.ndarray, rps: np.ndarray,
              rho: np.ndarray) -> "Lateness":
        mu = rps[:, None] * (gap_time[:, None] * gaps + mean_interrupt[:, None])
        one = mu * np.exp(-mu)
        cluster = 1 / (1 - rho)
        per_step, mean_interrupt = per_step * cluster[:, None], mean_interrupt * cluster
        cost = per_step[:, None, :] * np.minimum(steps[:, None, :], gaps[:, :, None])
        return cls(gaps, n_outputs, floor, mu, one, mean_interrupt, cost)

    def late_at(self, t: np.ndarray, points: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Share of requests with TPOT above `t` (one value per selected point)."""
        room = (t - self.floor[points])[:, None] * self.gaps[points]
        allowed = np.maximum(np.floor(room / np.maximum(self.mean_interrupt[points], 1e-12)[:, None]), 1)  # more: late
        single = (self.cost[points] > room[:, :, None]).mean(axis=2)
        late = np.where(room < 0, 1.0, self.one[points] * single + poisson_sf(allowed, self.mu[points], room < 0))
        return late.sum(axis=1) / self.n_outputs[points]

    def quantile(self, floor: np.ndarray, slo_s: float, tail: float, points: np.ndarray) -> np.ndarray:
        """The TPOT that `tail` of requests exceed at `points` (all of which meet the SLO): bracket it by
        doubling from the decode step (up to the SLO), then bisect."""
        lo, hi = floor.copy(), np.minimum(2 * floor, slo_s)
        for _ in range(60):
            short = self.late_at(hi, points) > tail
            if not short.any():
                break
            lo, hi = np.where(short, hi, lo), np.where(short, np.minimum(2 * hi, slo_s), hi)
        for _ in range(14):
            mid = (lo + hi) / 2
            ok = self.late_at(mid, points) <= tail
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        return hi


@dataclass(frozen=True)
class TpotCurve:
    """What the TPOT-quantile bisection of one cell needs at its kept load points (planner.perf.capacity keeps
    up to CURVE_POINTS): evaluated only when a plan or an estimate asks for the cell's latency curve."""

    gaps: np.ndarray
    n_outputs: np.ndarray
    per_step: np.ndarray
    steps: np.ndarray
    mean_interrupt: np.ndarray
    floor: np.ndarray
    gap_time: np.ndarray
    rps: np.ndarray
    rho: np.ndarray
    slo_s: float
    tail: float

    def values_ms(self) -> tuple[float, ...]:
        model = Lateness.build(self.gaps, self.n_outputs, self.per_step, self.steps, self.mean_interrupt, self.floor,
                               self.gap_time, self.rps, self.rho)
        return tuple((model.quantile(self.floor, self.slo_s, self.tail, np.arange(len(self.floor))) * 1e3).tolist())
