"""Re-bucketing demand onto given rectangles (a measured profile's buckets).

A trace is bucketed on them request by request; a histogram entry that straddles them is split by
overlap, taking lengths as uniform within the entry's ranges (the assumption planner.demand.build makes
for histograms). Traffic outside every rectangle is an error naming it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from planner.demand.buckets import Bucket

from planner.schemas.ranges import OPEN, Rect, overlap
from planner.demand.build import build_demand, demand_on_rectangles
from planner.demand.series import DemandSeries
from planner.errors import WorkloadError
from planner.io.traces import read_trace
from planner.io.workload import LoadedWorkload, input_error
from planner.schemas.catalog import LLM


def demand_on_buckets(loaded: LoadedWorkload, model: LLM, buckets: Sequence[Rect], where: str) -> DemandSeries:
    """The workload's traffic on `buckets` (those of the file `where`); traffic outside every bucket is an error."""
    tiles = list(buckets) + _gaps(buckets)
    traffic = loaded.workload.traffic
    trace_path = loaded.trace_path()
    if trace_path is None:
        demand = split_demand(build_demand(loaded, model), tiles)
    else:
        demand = demand_on_rectangles(read_trace(trace_path, traffic.format), traffic, model, str(trace_path), tiles,
                                      loaded.workload.slo)
    inside = set(buckets)
    outside = sorted((b for b in demand.buckets if b.rect not in inside), key=lambda b: -b.share)
    if outside:
        total = sum(b.share for b in outside)
        listed = ", ".join(f"{b.label} ({b.share:.1%})" for b in outside[:5]) + (", ..." if len(outside) > 5 else "")
        message = (f"{total:.1%} of the traffic falls in no bucket of the profile {where}: {listed}; "
                   "add profile rows covering these lengths")
        raise WorkloadError(f"{trace_path}: {message}") if trace_path else input_error(loaded, ("traffic", "histogram"), message)
    keep = [j for j, b in enumerate(demand.buckets) if b.rect in inside]
    return demand.with_buckets(tuple(demand.buckets[j] for j in keep), demand.bucket_rates()[keep])


def _gaps(buckets: Sequence[Rect]) -> list[Rect]:
    """Cells of the grid spanned by the buckets' edges that no bucket covers (together they tile every length)."""
    def edges(lo: int, hi: int) -> list[int]:
        return sorted({1} | {b[lo] for b in buckets} | {b[hi] for b in buckets if b[hi] < OPEN})

    ins, outs = edges(0, 1), edges(2, 3)
    gaps = []
    for i, ilo in enumerate(ins):
        ihi = ins[i + 1] if i + 1 < len(ins) else OPEN
        for o, olo in enumerate(outs):
            cell = (ilo, ihi, olo, outs[o + 1] if o + 1 < len(outs) else OPEN)
            if not any(overlap(cell, b) for b in buckets):
                gaps.append(cell)
    return gaps


def split_demand(demand: DemandSeries, rects: Sequence[Rect]) -> DemandSeries:
    """Move each bucket's traffic onto `rects` in proportion to overlap, lengths uniform within each bucket.

    Traffic outside every rect is lost (callers pass rects that tile all lengths to account for it).
    """
    parts: dict[int, list[tuple[Bucket, float, Rect, float]]] = {}
    for bucket, rate in zip(demand.buckets, demand.bucket_rates()):
        size = (bucket.input_hi - bucket.input_lo) * (bucket.output_hi - bucket.output_lo)
        for t, rect in enumerate(rects):
            common = (max(bucket.input_lo, rect[0]), min(bucket.input_hi, rect[1]), max(bucket.output_lo, rect[2]), min(bucket.output_hi, rect[3]))
            frac = overlap(bucket.rect, rect) / size
            if frac > 0:
                parts.setdefault(t, []).append((bucket, frac, common, float(rate)))
    targets = sorted(parts)
    buckets = tuple(_merge(rects[t], parts[t]) for t in targets)
    return demand.with_buckets(buckets, [sum(rate * f for _, f, _, rate in parts[t]) for t in targets])


def _merge(rect: Rect, parts: list[tuple[Bucket, float, Rect, float]]) -> Bucket:
    """One bucket from uniform pieces: shares add, means weight by share, the p99 is the mixture's."""
    weights = np.array([b.share * f for b, f, _, _ in parts])
    ins = [(c[0], c[1] - 1) for _, _, c, _ in parts]
    outs = [(c[2], c[3] - 1) for _, _, c, _ in parts]
    return Bucket(
        input_lo=rect[0], input_hi=rect[1], output_lo=rect[2], output_hi=rect[3], share=float(weights.sum()),
        input_mean=float(np.average([(a + z) / 2 for a, z in ins], weights=weights)),
        output_mean=float(np.average([(a + z) / 2 for a, z in outs], weights=weights)),
        input_p99=_uniform_mixture_quantile(ins, weights, 0.99),
        input_max=max(z for _, z in ins), output_max=max(z for _, z in outs),
        cache_hit=float(np.average([b.cache_hit for b, _, _, _ in parts], weights=weights)),
    )


def _uniform_mixture_quantile(ranges: list[tuple[int, int]], weights: np.ndarray, q: float) -> float:
    """q-quantile of a mixture of continuous uniforms on [a, z] (a point mass where a == z), by bisection."""
    lo_s = np.array([a for a, _ in ranges], dtype=float)
    hi_s = np.array([z for _, z in ranges], dtype=float)
    w = weights / weights.sum()

    def cdf(x: float) -> float:
        width = np.maximum(hi_s - lo_s, 1e-300)
        frac = np.where(hi_s > lo_s, np.clip((x - lo_s) / width, 0.0, 1.0), (x >= lo_s).astype(float))
        return float(w @ frac)

    lo, hi = float(lo_s.min()), float(hi_s.max())
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
    return hi

