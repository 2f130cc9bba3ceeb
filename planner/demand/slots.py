"""Demand over time: a DemandSeries with one period per time slot (docs/fleet.md, "Slots and tiers").

A trace is cut into slots of `traffic.slots` (hourly, 15 min, or N equal slots over the trace); each slot's rate
is the design statistic (peak, mean or p95) of its own `peak_window_s` windows, scaled like the whole trace's
design rate, and spread over the buckets by the whole trace's mix (the mix is not re-measured per slot). A
histogram's `slot_profile` gives each equal slot's rate as a multiple of `rate_rps`. The trace stands for a
repeating day: each slot lasts its share of the trace's span of the 730-hour month.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.demand.series import HOURS_PER_MONTH, DemandSeries, Period
from planner.errors import WorkloadError
from planner.schemas.workload import Traffic

SLOT_SECONDS = {"hourly": 3600.0, "15min": 900.0}


def _design(series: np.ndarray, how: str) -> float:
    return {"peak": float(series.max()), "mean": float(series.mean()), "p95": float(np.percentile(series, 95))}[how]


def slot_windows(traffic: Traffic, n_windows: int) -> list[tuple[int, int]]:
    """[start, end) window indices of each slot (the last slot may be shorter; none is empty)."""
    assert traffic.slots is not None
    if isinstance(traffic.slots, int):
        count = min(traffic.slots, n_windows)
        edges = np.linspace(0, n_windows, count + 1).round().astype(int)
    else:
        per = max(1, int(round(SLOT_SECONDS[traffic.slots] / traffic.peak_window_s)))
        edges = np.append(np.arange(0, n_windows, per), n_windows)
    return [(int(a), int(b)) for a, b in zip(edges, edges[1:]) if b > a]


def _label(start_s: float, length_s: float) -> str:
    def hhmm(s: float) -> str:
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}"

    return f"{hhmm(start_s)}-{hhmm(start_s + length_s)}"


def with_slots(demand: DemandSeries, traffic: Traffic, where: str) -> DemandSeries:
    """The demand with one period per slot (unchanged when the traffic asks for none)."""
    if traffic.slot_profile is not None:
        profile = np.asarray(traffic.slot_profile, dtype=float)
        hours = HOURS_PER_MONTH / len(profile)
        periods = tuple(Period(f"slot {t + 1}", hours) for t in range(len(profile)))
        return replace(demand, periods=periods, rates=demand.rates[:, :1, :] * profile[None, :, None])
    if traffic.slots is None:
        return demand
    series = demand.rate.series_rps
    if len(series) < 2:
        raise WorkloadError(f"{where}: traffic.slots: the trace spans one {traffic.peak_window_s:g} s window or less; nothing to cut")
    whole = _design(series, traffic.design_rate)
    window = traffic.peak_window_s
    spans = slot_windows(traffic, len(series))
    total = float(sum(b - a for a, b in spans))
    factors = np.array([_design(series[a:b], traffic.design_rate) / whole for a, b in spans])
    periods = tuple(Period(_label(a * window, (b - a) * window), HOURS_PER_MONTH * (b - a) / total) for a, b in spans)
    return replace(demand, periods=periods, rates=demand.rates[:, :1, :] * factors[None, :, None])
