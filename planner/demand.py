"""Demand: the workload's traffic reduced to request-size buckets, each with a design rate (req/s).

A trace is bucketed on an input x output grid with numpy (no per-request Python loop); the design rate
is the trace's peak, mean or p95 rate over `peak_window_s` windows, spread over buckets by their share
of requests (docs/methodology.md, "Demand").
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from planner.catalog import LLM
from planner.errors import WorkloadError
from planner.traces import Trace, read_trace
from planner.workload import LoadedWorkload, Traffic, input_error

log = logging.getLogger(__name__)
OPEN = 1 << 40  # upper edge of an open-ended bucket
OUTPUT_PERCENTILES = tuple(range(5, 100, 10))
"""Percentiles of input and output length kept per bucket: short outputs and long interrupting prompts
dominate the p99 TPOT."""
Rect = tuple[int, int, int, int]
"""A bucket's half-open token ranges: (input_lo, input_hi, output_lo, output_hi)."""


def bucket_label(rect: Rect) -> str:
    """`in 512-2047 / out 1-255` (`8192+` when open-ended)."""
    def rng(lo: int, hi: int) -> str:
        return f"{lo}+" if hi >= OPEN else f"{lo}-{hi - 1}"

    return f"in {rng(rect[0], rect[1])} / out {rng(rect[2], rect[3])}"


def locate_rectangles(rects: Sequence[Rect], input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """Index of the first rectangle containing each request (-1 where none does)."""
    idx = np.full(input_tokens.shape, -1, dtype=np.int64)
    for b, (ilo, ihi, olo, ohi) in enumerate(rects):
        inside = (idx < 0) & (input_tokens >= ilo) & (input_tokens < ihi) & (output_tokens >= olo) & (output_tokens < ohi)
        idx[inside] = b
    return idx


@dataclass(frozen=True)
class Bucket:
    """Requests with input in [input_lo, input_hi) and output in [output_lo, output_hi) tokens."""

    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    rate_rps: float
    share: float
    input_mean: float
    output_mean: float
    input_p99: float
    """Long-prompt tail of the bucket: sets the TTFT a bucket must meet."""
    input_max: int
    output_max: int
    output_q: tuple[float, ...] = ()
    """Output lengths at the 5th, 15th, ..., 95th percentile (equal-weight classes for the TPOT tail)."""
    input_q: tuple[float, ...] = ()
    """Input lengths at the same percentiles (sizes of the prefills that interrupt decoding)."""

    @property
    def rect(self) -> Rect:
        return (self.input_lo, self.input_hi, self.output_lo, self.output_hi)

    @property
    def label(self) -> str:
        return bucket_label(self.rect)


@dataclass(frozen=True)
class Demand:
    """All buckets with traffic, and how the design rate was derived."""

    buckets: tuple[Bucket, ...]
    design_rps: float
    mean_rps: float
    peak_rps: float
    n_requests: int
    duration_s: float
    dropped_requests: int
    dropped_share: float
    method: str

    def locate(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        """Bucket index of every request (-1 where none contains it)."""
        return locate_rectangles([b.rect for b in self.buckets], input_tokens, output_tokens)

    def scaled(self, factor: float) -> "Demand":
        """The same mix at `factor` times the rate."""
        buckets = tuple(replace(b, rate_rps=b.rate_rps * factor) for b in self.buckets)
        return replace(self, buckets=buckets, design_rps=self.design_rps * factor)


def build_demand(loaded: LoadedWorkload, model: LLM) -> Demand:
    """Bucket the workload's trace or histogram and attach design rates."""
    traffic = loaded.workload.traffic
    if traffic.histogram is not None:
        return _from_histogram(loaded, traffic, model)
    trace_path = loaded.trace_path()
    assert trace_path is not None  # schema guarantees trace or histogram
    return demand_from_trace(read_trace(trace_path, traffic.format), traffic, model, str(trace_path), loaded)


def _scale(traffic: Traffic, design: float) -> float:
    if traffic.target_rps is not None:
        return traffic.target_rps / design
    return traffic.rate_scale


def _drop_overflow(trace: Trace, model: LLM, traffic: Traffic, where: str) -> tuple[Trace, int]:
    fits = (trace.input_tokens + trace.output_tokens) <= model.max_context
    dropped = int((~fits).sum())
    if dropped == 0:
        return trace, 0
    share = dropped / len(trace)
    what = f"{dropped} of {len(trace)} requests ({share:.2%}) are longer than {model.id}'s {model.max_context}-token context window"
    if dropped == len(trace):
        raise WorkloadError(f"{where}: every request overflows: {what}; choose a model with a longer context")
    if traffic.overflow == "error":
        raise WorkloadError(f"{where}: {what} (traffic.overflow: error); set traffic.overflow: drop to plan without them")
    log.warning("%s: %s; dropping them (traffic.overflow: drop)", where, what)
    kept = Trace(trace.arrival_s[fits], trace.input_tokens[fits], trace.output_tokens[fits], trace.layout)
    return kept, dropped


def window_rates(arrival_s: np.ndarray, window_s: float) -> np.ndarray:
    """Request rate in each full window of `window_s` seconds (the whole span if shorter than a window)."""
    span = float(arrival_s[-1] - arrival_s[0])
    n_full = int(span // window_s)
    if n_full == 0:
        return np.array([len(arrival_s) / max(span, window_s)])
    slot = ((arrival_s - arrival_s[0]) // window_s).astype(np.int64)
    counts = np.bincount(slot[slot < n_full], minlength=n_full)
    return counts / window_s


def demand_from_trace(trace: Trace, traffic: Traffic, model: LLM, where: str, loaded: LoadedWorkload | None = None) -> Demand:
    """Bucket a trace on the traffic's grid; rates from `design_rate` over `peak_window_s` windows."""
    edges_in = np.asarray(traffic.buckets.input, dtype=np.int64)
    edges_out = np.asarray(traffic.buckets.output, dtype=np.int64)

    def cells(t: Trace) -> np.ndarray:
        bi = np.searchsorted(edges_in, t.input_tokens, side="right") - 1
        bo = np.searchsorted(edges_out, t.output_tokens, side="right") - 1
        return bi * len(edges_out) + bo

    def rect(c: int) -> Rect:
        i, o = divmod(c, len(edges_out))
        return (int(edges_in[i]), int(edges_in[i + 1]) if i + 1 < len(edges_in) else OPEN,
                int(edges_out[o]), int(edges_out[o + 1]) if o + 1 < len(edges_out) else OPEN)

    return _bucket_trace(trace, traffic, model, where, cells, rect)


def demand_on_rectangles(trace: Trace, traffic: Traffic, model: LLM, where: str, rects: Sequence[Rect]) -> Demand:
    """Bucket a trace on explicit, possibly irregular, non-overlapping buckets (a measured profile's).

    Requests in no rectangle belong to no bucket, so the buckets' shares then sum to less than 1.
    """
    return _bucket_trace(trace, traffic, model, where, lambda t: locate_rectangles(rects, t.input_tokens, t.output_tokens),
                         lambda c: rects[c])


def _bucket_trace(trace: Trace, traffic: Traffic, model: LLM, where: str,
                  cells_of: Callable[[Trace], np.ndarray], rect_of: Callable[[int], Rect]) -> Demand:
    """Design rate of the trace, and one Bucket (with length statistics) per cell index >= 0 that has requests."""
    total = len(trace)
    trace, dropped = _drop_overflow(trace, model, traffic, where)
    if trace.duration_s <= 0:
        raise WorkloadError(f"{where}: all requests arrive at the same instant; a rate cannot be measured (use a histogram with rate_rps)")
    rates = window_rates(trace.arrival_s, traffic.peak_window_s)
    mean = len(trace) / trace.duration_s
    design = {"peak": float(rates.max()), "mean": mean, "p95": float(np.percentile(rates, 95))}[traffic.design_rate]
    design *= _scale(traffic, design)
    cell = cells_of(trace)
    order = np.argsort(cell, kind="stable")
    cells, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
    buckets = []
    for c, start, count in zip(cells, starts, counts):
        if c < 0:
            continue
        members = order[start:start + count]
        ilo, ihi, olo, ohi = rect_of(int(c))
        inp, out = trace.input_tokens[members], trace.output_tokens[members]
        share = count / len(trace)
        buckets.append(Bucket(
            input_lo=ilo, input_hi=ihi, output_lo=olo, output_hi=ohi,
            rate_rps=design * share, share=share,
            input_mean=float(inp.mean()), output_mean=float(out.mean()),
            input_p99=float(np.percentile(inp, 99)), input_max=int(inp.max()), output_max=int(out.max()),
            output_q=tuple(np.percentile(out, OUTPUT_PERCENTILES).tolist()),
            input_q=tuple(np.percentile(inp, OUTPUT_PERCENTILES).tolist()),
        ))
    return Demand(
        buckets=tuple(buckets), design_rps=design, mean_rps=mean, peak_rps=float(rates.max()),
        n_requests=total, duration_s=trace.duration_s, dropped_requests=dropped, dropped_share=dropped / total,
        method=f"{traffic.design_rate} over {traffic.peak_window_s:g} s windows",
    )


def _from_histogram(loaded: LoadedWorkload, traffic: Traffic, model: LLM) -> Demand:
    """Each histogram entry is a bucket; lengths are taken as uniform within its ranges."""
    assert traffic.histogram is not None and traffic.rate_rps is not None
    design = traffic.rate_rps * _scale(traffic, traffic.rate_rps)
    buckets, dropped_share = [], 0.0
    for n, entry in enumerate(traffic.histogram):
        (ilo, ihi), (olo, ohi) = entry.input, entry.output
        room = model.max_context - (olo + ohi - 1) / 2  # longest input that fits with a mean-length output
        if ilo > room:
            dropped_share += entry.share
            continue
        kept = min(1.0, (room + 1 - ilo) / (ihi - ilo))
        dropped_share += entry.share * (1 - kept)
        ihi = min(ihi, int(room) + 1)
        buckets.append(Bucket(
            input_lo=ilo, input_hi=ihi, output_lo=olo, output_hi=ohi,
            rate_rps=design * entry.share * kept, share=entry.share * kept,
            input_mean=(ilo + ihi - 1) / 2, output_mean=(olo + ohi - 1) / 2,
            input_p99=ilo + 0.99 * (ihi - 1 - ilo), input_max=ihi - 1, output_max=ohi - 1,
            output_q=tuple(olo + (ohi - 1 - olo) * q / 100 for q in OUTPUT_PERCENTILES),
            input_q=tuple(ilo + (ihi - 1 - ilo) * q / 100 for q in OUTPUT_PERCENTILES),
        ))
    if not buckets:
        raise input_error(loaded, ("traffic", "histogram"), f"every entry is longer than {model.id}'s {model.max_context}-token context window")
    if dropped_share > 0:
        message = f"{dropped_share:.2%} of the histogram's traffic is longer than {model.id}'s {model.max_context}-token context window"
        if traffic.overflow == "error":
            raise input_error(loaded, ("traffic", "histogram"), message + " (traffic.overflow: error)")
        log.warning("%s: %s; dropping it (traffic.overflow: drop)", loaded.where("traffic", "histogram"), message)
    return Demand(
        buckets=tuple(buckets), design_rps=design * (1 - dropped_share), mean_rps=traffic.rate_rps,
        peak_rps=traffic.rate_rps, n_requests=0, duration_s=0.0, dropped_requests=0,
        dropped_share=dropped_share, method="histogram rate_rps",
    )
