"""Service levels for the fleet SLO scope: the capacity of every config x bucket at a menu of percentiles.

Under `slo.scope: fleet` the percentile holds over all requests, not per bucket, so the optimizer may serve a
rare, expensive bucket at a looser percentile and the others at a tighter one (planner.optimize.scope, and
docs/methodology.md, "SLO scope"). This module gives it the capacities to choose from: the same performance
model (planner.perf.capacity's public `every_row`) at each percentile of the menu, with the bucket's tail
prompt (the one TTFT must hold for) taken at that percentile of the bucket's prompt lengths.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from planner.demand.buckets import LENGTH_PERCENTILES, Bucket
from planner.perf.capacity import every_row
from planner.perf.memory import ServingConfig
from planner.schemas.workload import SLO

MISS_FACTORS = (0.1, 0.5, 2.0, 5.0, 10.0, 20.0)
"""The menu, as multiples of the SLO's miss share 1 - p (p99: 99.9, 99.5, [99], 98, 95, 90, 80). Tighter levels let
cheap buckets give budget to an expensive one (with every bucket at p, the budget is already spent); looser ones
down to 20x the miss share reach a bucket of a few percent of the traffic. Percentiles below 50 are dropped."""


@dataclass(frozen=True)
class ServiceLevel:
    """One replica's max req/s per (config, bucket) when the bucket is held to `percentile` (0 = cannot)."""

    percentile: float
    max_rps: np.ndarray

    @property
    def miss(self) -> float:
        """Share of the bucket's requests allowed outside the SLO at this level."""
        return 1.0 - self.percentile / 100.0


def menu(percentile: float) -> tuple[float, ...]:
    """The percentiles other than the SLO's own that a fleet-scope bucket may be served at, tightest first."""
    miss = 100.0 - percentile
    return tuple(round(100.0 - f * miss, 6) for f in MISS_FACTORS if 100.0 - f * miss >= 50.0)


def bucket_at(bucket: Bucket, percentile: float) -> Bucket:
    """The bucket as the capacity model should see it at `percentile`: its tail prompt (`input_p99`, which TTFT
    must hold for) becomes the prompt length at that percentile of the bucket, interpolated through the stored
    length percentiles (5th..95th, 99th, and the maximum at 100)."""
    if percentile == 99.0:
        return bucket
    xs = [*LENGTH_PERCENTILES, 99.0, 100.0] if bucket.input_q else [99.0, 100.0]
    ys = [*bucket.input_q, bucket.input_p99, float(bucket.input_max)] if bucket.input_q else [bucket.input_p99, float(bucket.input_max)]
    xs_arr, ys_arr = np.asarray(xs, dtype=float), np.maximum.accumulate(np.asarray(ys, dtype=float))
    return replace(bucket, input_p99=float(np.interp(percentile, xs_arr, ys_arr)))


def service_levels(cfgs: tuple[ServingConfig, ...], buckets: tuple[Bucket, ...], slo: SLO) -> tuple[ServiceLevel, ...]:
    """Capacities at every percentile of `menu(slo.percentile)` (the SLO's own level is the capacity table's)."""
    out = []
    for q in menu(slo.percentile):
        at_q = tuple(bucket_at(b, q) for b in buckets)
        level_slo = slo.model_copy(update={"percentile": q})
        rows = every_row(cfgs, at_q, level_slo)
        out.append(ServiceLevel(q, np.array([[cell.max_rps for cell in row] for row in rows], dtype=float).reshape(len(cfgs), len(buckets))))
    return tuple(out)
