"""Demand from a workload: the traffic (trace or histogram) reduced to buckets with design rates.

A trace is bucketed on an input x output grid with numpy (no per-request Python loop); the design rate
is the trace's peak, mean or p95 rate over `peak_window_s` windows, spread over buckets by their share
of requests (docs/methodology.md, "Demand").
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from planner.demand.buckets import LENGTH_PERCENTILES, Bucket
from planner.demand.bursts import burst_windows, widest_burst

from planner.schemas.ranges import OPEN, Rect, locate_rectangles
from planner.demand.series import DemandSeries, RateStats, single_period
from planner.errors import WorkloadError
from planner.io.traces import Trace
from planner.io.traces.histogram import CellStats, TraceHistogram, summarise, window_sql
from planner.io.traces.layout import TraceLayout
from planner.io.traces.prefix import cached_prefix_tokens
from planner.io.traces.reader import keep_trace, small_trace
from planner.io.traces.scan import scan_trace, trace_files
from planner.io.workload import LoadedWorkload, input_error
from planner.schemas.catalog import LLM
from planner.schemas.workload import SLO, Traffic

log = logging.getLogger(__name__)


def build_demand(loaded: LoadedWorkload, model: LLM) -> DemandSeries:
    """Bucket the workload's trace or histogram and attach design rates."""
    traffic = loaded.workload.traffic
    if traffic.histogram is not None:
        return _from_histogram(loaded, traffic, model)
    trace_path = loaded.trace_path()
    assert trace_path is not None  # the schema guarantees a trace or a histogram
    edges_in, edges_out = traffic.buckets.input, traffic.buckets.output
    slo = loaded.workload.slo
    where = loaded.where("traffic", "trace")
    keep = small_trace(trace_files(trace_path, where))  # read in file order and kept for the replay (planner.io.traces.reader)
    with scan_trace(trace_path, traffic.format, traffic.on_bad_rows, where, ordered=keep) as scan:
        if keep:
            keep_trace(scan)
        histogram = summarise(scan, edges_in, edges_out, model.max_context, traffic.peak_window_s, LENGTH_PERCENTILES)
        files, fmt, layout, columns = scan.files, scan.fmt, scan.layout, scan.columns
        windows = burst_windows(traffic.burst_window_s, slo.ttft_ms, slo.tpot_ms, _output_mean(histogram),
                                traffic.peak_window_s)
        found = None if windows is None else scan.con.execute(window_sql("rows", windows[0], model.max_context)).fetchnumpy()
    burst = None if found is None else widest_burst(found["slot"], found["requests"], *windows, slo.percentile / 100)
    return demand_from_histogram(histogram, traffic, model, str(trace_path), _grid_rect(edges_in, edges_out),
                                 _trace_hits(traffic, files, fmt, layout, columns, model.max_context), burst)


def _output_mean(h: TraceHistogram) -> float:
    """Mean output length of the bucketed requests (0 when none are)."""
    n = sum(c.count for c in h.cells)
    return sum(c.count * c.output_mean for c in h.cells) / n if n else 0.0


def _trace_hits(traffic: Traffic, files: list, fmt: str, layout: TraceLayout, columns: dict[str, str],
                max_context: int) -> dict[int, float]:
    """Per grid cell, the prefix-cache hit share the workload plans with (planner.io.traces.prefix)."""
    cache = traffic.prefix_cache
    if not cache.enabled or cache.hit_rate is not None:
        return {}  # off, or the same given share for every request (applied per request below)
    found = cached_prefix_tokens(files, fmt, layout, columns)
    if found is None:
        return {}
    edges_in = np.asarray(traffic.buckets.input, dtype=np.int64)
    edges_out = np.asarray(traffic.buckets.output, dtype=np.int64)
    fits = found.input_tokens + found.output_tokens <= max_context
    inp, out = found.input_tokens[fits], found.output_tokens[fits]
    bi = np.searchsorted(edges_in, inp, side="right") - 1
    bo = np.searchsorted(edges_out, out, side="right") - 1
    return _cell_hits(np.where((bi >= 0) & (bo >= 0), bi * len(edges_out) + bo, -1), inp, found.cached[fits])


def _scale(traffic: Traffic, design: float) -> float:
    if traffic.target_rps is not None:
        return traffic.target_rps / design
    return traffic.rate_scale


def _check_overflow(h: TraceHistogram, model: LLM, traffic: Traffic, where: str) -> None:
    """Requests longer than the context window: refused (overflow: error, or all of them) or dropped with a warning."""
    if h.dropped == 0:
        return
    what = (f"{h.dropped} of {h.requests} requests ({h.dropped / h.requests:.2%}) are longer than {model.id}'s "
            f"{model.max_context}-token context window")
    if h.dropped == h.requests:
        raise WorkloadError(f"{where}: every request overflows: {what}; choose a model with a longer context")
    if traffic.overflow == "error":
        raise WorkloadError(f"{where}: {what} (traffic.overflow: error); set traffic.overflow: drop to plan without them")
    log.warning("%s: %s; dropping them (traffic.overflow: drop)", where, what)


def window_rates(arrival_s: np.ndarray, window_s: float) -> np.ndarray:
    """Request rate in each full window of `window_s` seconds (the whole span if shorter than a window)."""
    span = float(arrival_s[-1] - arrival_s[0])
    n_full = int(span // window_s)
    if n_full == 0:
        return np.array([len(arrival_s) / max(span, window_s)])
    slot = ((arrival_s - arrival_s[0]) // window_s).astype(np.int64)
    counts = np.bincount(slot[slot < n_full], minlength=n_full)
    return counts / window_s


def demand_from_trace(trace: Trace, traffic: Traffic, model: LLM, where: str, loaded: LoadedWorkload | None = None) -> DemandSeries:
    """Bucket a trace on the traffic's grid; rates from `design_rate` over `peak_window_s` windows."""
    edges_in = np.asarray(traffic.buckets.input, dtype=np.int64)
    edges_out = np.asarray(traffic.buckets.output, dtype=np.int64)

    def cells(t: Trace) -> np.ndarray:
        bi = np.searchsorted(edges_in, t.input_tokens, side="right") - 1
        bo = np.searchsorted(edges_out, t.output_tokens, side="right") - 1
        return np.where((bi >= 0) & (bo >= 0), bi * len(edges_out) + bo, -1)

    return _bucket_trace(trace, traffic, model, where, cells, _grid_rect(traffic.buckets.input, traffic.buckets.output))


def _grid_rect(edges_in: Sequence[int], edges_out: Sequence[int]) -> Callable[[int], Rect]:
    """The token ranges of grid cell c = input bucket x len(edges_out) + output bucket."""
    def rect(c: int) -> Rect:
        i, o = divmod(c, len(edges_out))
        return (int(edges_in[i]), int(edges_in[i + 1]) if i + 1 < len(edges_in) else OPEN,
                int(edges_out[o]), int(edges_out[o + 1]) if o + 1 < len(edges_out) else OPEN)
    return rect


def demand_on_rectangles(trace: Trace, traffic: Traffic, model: LLM, where: str, rects: Sequence[Rect],
                         slo: SLO) -> DemandSeries:
    """Bucket a trace on explicit, possibly irregular, non-overlapping buckets (a measured profile's), with the
    design rate raised for the trace's bursts under `slo` as on the grid (planner.demand.bursts).

    Requests in no rectangle belong to no bucket, so the buckets' shares then sum to less than 1.
    """
    return _bucket_trace(trace, traffic, model, where, lambda t: locate_rectangles(rects, t.input_tokens, t.output_tokens),
                         lambda c: rects[c], slo)


def _bucket_trace(trace: Trace, traffic: Traffic, model: LLM, where: str, cells_of: Callable[[Trace], np.ndarray],
                  rect_of: Callable[[int], Rect], slo: SLO | None = None) -> DemandSeries:
    """The trace's histogram in numpy (one CellStats per cell index >= 0 with requests), then its demand; with
    `slo`, the design rate raised for the trace's bursts (without: the trace's own statistic, which is what
    replay's `target_rps` scaling divides by)."""
    fits = (trace.input_tokens + trace.output_tokens) <= model.max_context
    kept = trace.select(fits)
    series = window_rates(kept.arrival_s, traffic.peak_window_s) if len(kept) > 1 else np.empty(0)
    cell = cells_of(kept)
    order = np.argsort(cell, kind="stable")
    cells, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
    stats = []
    for c, start, count in zip(cells, starts, counts):
        if c < 0:
            continue
        members = order[start:start + count]
        inp, out = kept.input_tokens[members], kept.output_tokens[members]
        stats.append(CellStats(int(c), int(count), float(inp.mean()), float(out.mean()), int(inp.max()), int(out.max()),
                               float(np.percentile(inp, 99)), tuple(np.percentile(inp, LENGTH_PERCENTILES).tolist()),
                               tuple(np.percentile(out, LENGTH_PERCENTILES).tolist())))
    histogram = TraceHistogram(len(trace), len(trace) - len(kept), trace.skipped_rows, kept.duration_s, series, tuple(stats))
    recorded = kept.cached_tokens if kept.cached_tokens is not None else np.zeros(len(kept), dtype=np.int64)
    windows = None if slo is None or len(kept) < 2 else burst_windows(
        traffic.burst_window_s, slo.ttft_ms, slo.tpot_ms, float(kept.output_tokens.mean()), traffic.peak_window_s)
    burst = None
    if windows is not None:
        slots, counts = np.unique(np.floor((kept.arrival_s - kept.arrival_s.min()) / windows[0]).astype(np.int64),
                                  return_counts=True)
        burst = widest_burst(slots, counts.astype(float), *windows, slo.percentile / 100)
    return demand_from_histogram(histogram, traffic, model, where, rect_of, _cell_hits(cell, kept.input_tokens, recorded),
                                 burst)


def _hit_share(traffic: Traffic, hits: dict[int, float], cell: int) -> float:
    """A bucket's prefix-cache hit share: 0 when caching is off, the workload's rate, else the trace's."""
    cache = traffic.prefix_cache
    if not cache.enabled:
        return 0.0
    return cache.hit_rate if cache.hit_rate is not None else hits.get(cell, 0.0)


def _cell_hits(cell: np.ndarray, inp: np.ndarray, cached: np.ndarray) -> dict[int, float]:
    """Per cell index >= 0, the share of its prompt tokens the prefix cache serves."""
    valid = cell >= 0
    cells = cell[valid]
    size = int(cells.max()) + 1 if cells.size else 0
    tokens = np.bincount(cells, weights=inp[valid], minlength=size)
    hit = np.bincount(cells, weights=cached[valid], minlength=size)
    return {int(c): float(hit[c] / tokens[c]) for c in np.flatnonzero(tokens)}


def demand_from_histogram(h: TraceHistogram, traffic: Traffic, model: LLM, where: str, rect_of: Callable[[int], Rect],
                          hits: dict[int, float] | None = None, burst: tuple[float, float] | None = None) -> DemandSeries:
    """Design rate of a bucketed trace (planner.io.traces.histogram, or the numpy path above) and its Buckets,
    with each cell's prefix-cache hit share from `hits` (none given: none). `burst` (rate, window s): the
    Poisson-equivalent rate of the trace's bursts, which raises the design rate when above it; `target_rps`
    and `rate_scale` scale the trace's own statistic, the burst raise applies on top."""
    hits = hits or {}
    _check_overflow(h, model, traffic, where)
    kept = h.requests - h.dropped
    if h.duration_s <= 0:
        raise WorkloadError(f"{where}: all requests arrive at the same instant; a rate cannot be measured (use a histogram with rate_rps)")
    series = h.series_rps
    mean = kept / h.duration_s
    raw = {"peak": float(series.max()), "mean": mean, "p95": float(np.percentile(series, 95))}[traffic.design_rate]
    raised = burst is not None and burst[0] > raw
    design = (burst[0] if raised else raw) * _scale(traffic, raw)  # type: ignore[index] - raised implies burst
    buckets, rates = [], []
    for c in h.cells:
        ilo, ihi, olo, ohi = rect_of(c.cell)
        share = c.count / kept
        rates.append(design * share)
        buckets.append(Bucket(
            input_lo=ilo, input_hi=ihi, output_lo=olo, output_hi=ohi, share=share,
            input_mean=c.input_mean, output_mean=c.output_mean, input_p99=c.input_p99, input_max=c.input_max,
            output_max=c.output_max, output_q=c.output_q, input_q=c.input_q, cache_hit=_hit_share(traffic, hits, c.cell),
        ))
    stats = RateStats(traffic.design_rate, traffic.peak_window_s, mean, float(series.max()), series,
                      *(burst if raised else (None, None)))  # type: ignore[misc] - raised implies burst
    return single_period(model.id, tuple(buckets), rates, design, stats, n_requests=h.requests, duration_s=h.duration_s,
                         dropped_requests=h.dropped, dropped_share=h.dropped / h.requests, skipped_rows=h.skipped)


def cached_tokens(trace: Trace, traffic: Traffic) -> np.ndarray:
    """Per request, the prompt tokens the prefix cache serves: none when caching is off, the workload's
    hit rate when it gives one, else what the trace records (planner.io.traces.prefix)."""
    cache = traffic.prefix_cache
    if not cache.enabled:
        return np.zeros(len(trace), dtype=np.int64)
    if cache.hit_rate is not None:
        return np.floor(trace.input_tokens * cache.hit_rate).astype(np.int64)
    return trace.cached_tokens if trace.cached_tokens is not None else np.zeros(len(trace), dtype=np.int64)


def _from_histogram(loaded: LoadedWorkload, traffic: Traffic, model: LLM) -> DemandSeries:
    """Each histogram entry is a bucket; lengths are taken as uniform within its ranges."""
    assert traffic.histogram is not None and traffic.rate_rps is not None
    design = traffic.rate_rps * _scale(traffic, traffic.rate_rps)
    buckets, rates, dropped_share = [], [], 0.0
    for n, entry in enumerate(traffic.histogram):
        (ilo, ihi), (olo, ohi) = entry.input, entry.output
        room = model.max_context - (olo + ohi - 1) / 2  # longest input that fits with a mean-length output
        if ilo > room:
            dropped_share += entry.share
            continue
        kept = min(1.0, (room + 1 - ilo) / (ihi - ilo))
        dropped_share += entry.share * (1 - kept)
        ihi = min(ihi, int(room) + 1)
        rates.append(design * entry.share * kept)
        buckets.append(Bucket(
            input_lo=ilo, input_hi=ihi, output_lo=olo, output_hi=ohi, share=entry.share * kept,
            input_mean=(ilo + ihi - 1) / 2, output_mean=(olo + ohi - 1) / 2,
            input_p99=ilo + 0.99 * (ihi - 1 - ilo), input_max=ihi - 1, output_max=ohi - 1,
            output_q=tuple(olo + (ohi - 1 - olo) * q / 100 for q in LENGTH_PERCENTILES),
            input_q=tuple(ilo + (ihi - 1 - ilo) * q / 100 for q in LENGTH_PERCENTILES),
            cache_hit=(traffic.prefix_cache.hit_rate or 0.0) if traffic.prefix_cache.enabled else 0.0,
        ))
    if not buckets:
        raise input_error(loaded, ("traffic", "histogram"), f"every entry is longer than {model.id}'s {model.max_context}-token context window")
    if dropped_share > 0:
        message = f"{dropped_share:.2%} of the histogram's traffic is longer than {model.id}'s {model.max_context}-token context window"
        if traffic.overflow == "error":
            raise input_error(loaded, ("traffic", "histogram"), message + " (traffic.overflow: error)")
        log.warning("%s: %s; dropping it (traffic.overflow: drop)", loaded.where("traffic", "histogram"), message)
    stats = RateStats("histogram", traffic.peak_window_s, traffic.rate_rps, traffic.rate_rps)
    return single_period(model.id, tuple(buckets), rates, design * (1 - dropped_share), stats, dropped_share=dropped_share)
