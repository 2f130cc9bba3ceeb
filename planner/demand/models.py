"""Several models on one fleet (docs/fleet.md, "Several models"): the DemandSeries of each model joined into one,
with the models' buckets side by side (a bucket belongs to one model: `rates[m, t, b]` is 0 for every other
model) and one set of time periods.
"""
from __future__ import annotations

import numpy as np

from planner.demand.series import DemandSeries, RateStats
from planner.errors import WorkloadError


def _periods_of(demands: list[DemandSeries], where: str) -> int:
    """Index of the demand whose periods every model follows: all models with several periods must cut the day
    into as many slots (slot t of every model is the same part of the day); a model with one period is the same in
    every slot. The first cut model's slot names and hours are used: N equal slots over traces of different
    spans round to whole rate windows differently, so their lengths may differ by a window."""
    sliced = [i for i, d in enumerate(demands) if len(d.periods) > 1]
    if not sliced:
        return 0
    ref = demands[sliced[0]].periods
    for i in sliced[1:]:
        got = demands[i].periods
        if len(got) != len(ref):
            raise WorkloadError(f"{where}: models[{i}] is cut into {len(got)} slots and models[{sliced[0]}] into {len(ref)}; "
                                f"hint: give every model the same traffic.slots (N slots, or hourly/15min over traces of one span)")
    return sliced[0]


def joined_demand(demands: list[DemandSeries], where: str) -> DemandSeries:
    """One DemandSeries for all models: buckets concatenated in model order, rates (models, periods, all buckets)."""
    ref = demands[_periods_of(demands, where)]
    n_periods, n_buckets = len(ref.periods), sum(len(d.buckets) for d in demands)
    rates = np.zeros((len(demands), n_periods, n_buckets))
    start = 0
    for m, d in enumerate(demands):
        width = len(d.buckets)
        rates[m, :, start:start + width] = np.broadcast_to(d.rates[0], (n_periods, width))
        start += width
    stats = RateStats("peak", ref.rate.window_s, sum(d.rate.mean_rps for d in demands), sum(d.rate.peak_rps for d in demands))
    return DemandSeries(tuple(b for d in demands for b in d.buckets), tuple(m for d in demands for m in d.models), ref.periods,
                        rates, float(sum(d.design_rps for d in demands)), stats, sum(d.n_requests for d in demands),
                        max(d.duration_s for d in demands), sum(d.dropped_requests for d in demands), 0.0,
                        sum(d.skipped_rows for d in demands))

