"""Latency curves of capacity cells: the load points a cell keeps (up to CURVE_POINTS, from light load to its
capacity point) and, for a row of cells evaluated together (planner.perf.capacity), their req/s, TTFT and the
TPOT quantile there (planner.perf.tail.CurvePoints, computed on first use)."""
from __future__ import annotations

import numpy as np

from planner.perf.load import Load
from planner.perf.tail import CurvePoints, TpotCurve

CURVE_POINTS = 24
"""Load points kept per cell for interpolating predicted latencies at a pool's utilization."""


def curve_points(last: int) -> np.ndarray:
    """CURVE_POINTS load points spread evenly over 0..last (all of them when fewer): linspace rounded, whose
    steps of more than 1 never round two points together."""
    if last < CURVE_POINTS:
        return np.arange(last + 1)
    keep = np.rint(np.arange(CURVE_POINTS) * (last / (CURVE_POINTS - 1))).astype(int)  # np.linspace's arithmetic
    keep[-1] = last
    return keep


class Curves:
    """The latency curves of a row's cells at their kept load points, gathered in one pass (one per bucket
    with a capacity point, i.e. first failure j > 0, in order)."""

    def __init__(self, load: Load, active: list, first_bad: list[int], offsets: np.ndarray,  # noqa: ANN001
                 slo_s: float, tail: float) -> None:
        keeps = [lo + curve_points(j - 1) for lo, j in zip(offsets[:-1], first_bad) if j > 0]
        keep = np.concatenate(keeps) if keeps else np.zeros(0, dtype=int)
        ends = np.cumsum([0] + [len(k) for k in keeps]).tolist()
        cells = [(b, j) for (b, *_), j in zip(active, first_bad) if j > 0]
        layout = tuple((lo, hi, b.gaps, len(b.outputs), len(b.bucket.input_q or (b.inp,)))
                       for lo, hi, (b, _) in zip(ends[:-1], ends[1:], cells))
        self.rps, self.ttft_ms, self.ends = load.rps[keep].tolist(), (load.ttft[keep] * 1e3).tolist(), ends
        self.points = CurvePoints(load.per_step[keep], load.steps[keep], load.mean_interrupt[keep], load.tpot_floor[keep],
                                  load.gap_time[keep], load.rps[keep], load.rho_tail[keep], load.step_cap[keep], layout,
                                  slo_s, tail)

    def cell(self, i: int) -> tuple[tuple[float, ...], tuple[float, ...], TpotCurve]:
        """Cell i's curve req/s and TTFT ms, and its TPOT curve."""
        lo, hi = self.ends[i], self.ends[i + 1]
        return tuple(self.rps[lo:hi]), tuple(self.ttft_ms[lo:hi]), TpotCurve(self.points, i)
