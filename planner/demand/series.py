"""DemandSeries: how many requests per second each bucket must be served at, per model and time period.

`rates[model, period, bucket]` is the design rate (req/s) the fleet is sized for. Today a workload has one
model and one period (the whole trace, or the histogram's rate); the axes are there so that time slots
and several models are new builders, not new shapes. The trace's rate series over its windows is kept,
not collapsed to one number, with the statistics the design rate was chosen from.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from planner.demand.buckets import Bucket

from planner.schemas.ranges import locate_rectangles

DesignRate = Literal["peak", "mean", "p95", "histogram"]
HOURS_PER_MONTH = 730.0
"""Hours in the average month (8,760 h / 12), the convention of cloud price pages (AWS, GCP)."""


@dataclass(frozen=True)
class Period:
    """A time period the fleet is sized for, and how many hours a month it lasts."""

    name: str
    hours_per_month: float = HOURS_PER_MONTH


@dataclass(frozen=True)
class RateStats:
    """The traffic's arrival rate: the series it was measured on and the figures taken from it (unscaled)."""

    design_rate: DesignRate
    window_s: float
    mean_rps: float
    peak_rps: float
    series_rps: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    """Rate in each full window of `window_s` seconds (empty for a histogram)."""
    burst_rps: float | None = None
    """The Poisson-equivalent rate of the trace's bursts (planner.demand.bursts) when it raised the design rate."""
    burst_window_s: float | None = None

    @property
    def method(self) -> str:
        """How the design rate was derived, for people: `peak over 60 s windows`, `histogram rate_rps`."""
        if self.design_rate == "histogram":
            return "histogram rate_rps"
        base = f"{self.design_rate} over {self.window_s:g} s windows"
        if self.burst_rps is not None:
            return f"{base}, raised for bursts in {self.burst_window_s:g} s windows"
        return base

    @property
    def mean_over_design(self) -> float | None:
        """Mean traffic / design rate: how busy a fleet bought for the design rate is on average (unscaled rates,
        so rate_scale/target_rps cancel). 1 for histograms and `mean`; None for `p95` (not kept unscaled here)."""
        if self.design_rate in ("histogram", "mean"):
            return 1.0
        if self.design_rate == "peak" and self.mean_rps and self.peak_rps:
            return min(1.0, self.mean_rps / max(self.peak_rps, self.burst_rps or 0.0))
        return None


@dataclass(frozen=True)
class DemandSeries:
    """Buckets, design rates per (model, period, bucket), and what the traffic was measured from."""

    buckets: tuple[Bucket, ...]
    models: tuple[str, ...]
    periods: tuple[Period, ...]
    rates: np.ndarray
    """req/s, shape (models, periods, buckets)."""
    design_rps: float
    """The design rate of the whole traffic (after scaling and dropping what does not fit)."""
    rate: RateStats
    n_requests: int = 0
    duration_s: float = 0.0
    dropped_requests: int = 0
    dropped_share: float = 0.0
    skipped_rows: int = 0
    """Bad trace rows left out under traffic.on_bad_rows skip/report (not in n_requests)."""

    def __post_init__(self) -> None:
        if self.rates.shape != (len(self.models), len(self.periods), len(self.buckets)):
            raise ValueError("rates must be models x periods x buckets")

    def bucket_rates(self, model: int = 0, period: int = 0) -> np.ndarray:
        """req/s of each bucket for one model in one period."""
        return self.rates[model, period]

    def scaled(self, factor: float) -> "DemandSeries":
        """The same mix at `factor` times the rate."""
        return replace(self, rates=self.rates * factor, design_rps=self.design_rps * factor)

    def with_buckets(self, buckets: tuple[Bucket, ...], rates: np.ndarray) -> "DemandSeries":
        """Other buckets (e.g. a profile's) with their rates for the one model and period."""
        return replace(self, buckets=buckets, rates=np.asarray(rates, dtype=float).reshape(1, 1, len(buckets)))

    def locate(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        """Bucket index of every request (-1 where none contains it)."""
        return locate_rectangles([b.rect for b in self.buckets], input_tokens, output_tokens)


def single_period(model: str, buckets: tuple[Bucket, ...], rates: list[float] | np.ndarray, design_rps: float,
                  rate: RateStats, **counts: float) -> DemandSeries:
    """A DemandSeries of one model over one period (the whole trace or the histogram's rate)."""
    array = np.asarray(rates, dtype=float).reshape(1, 1, len(buckets))
    return DemandSeries(buckets, (model,), (Period("all"),), array, design_rps, rate, **counts)  # type: ignore[arg-type]
