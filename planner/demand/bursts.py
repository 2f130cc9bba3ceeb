"""Burst-aware design rate: the Poisson rate whose bursts on the SLO's time scale match the trace's.

The capacity model sizes a pool for Poisson arrivals at the design rate; a trace that arrives in second-scale
bursts (Azure 2023 code: 67 requests in one second against a 10.5 req/s peak minute) breaks a plan sized on
60 s windows. So the design rate is raised to the Poisson-equivalent rate of the trace's windows of W seconds
(W = the TTFT SLO, at least 1 s and at most `peak_window_s`): the rate mu / W at which the window a request
arrives in holds as many requests, at the SLO percentile over requests, as the trace's do
(docs/methodology.md, "Burst-aware design rate").
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

MIN_WINDOW_S = 1.0
"""The shortest burst window: below a second a window holds too few requests for its count to mean a rate."""


def burst_window(setting: float | str, ttft_ms: float, peak_window_s: float) -> float | None:
    """The burst time scale in seconds for `traffic.burst_window_s` (`auto`: the TTFT SLO), None when off."""
    if setting == "off":
        return None
    w = ttft_ms / 1e3 if setting == "auto" else float(setting)
    return min(max(w, MIN_WINDOW_S), peak_window_s)


def burst_rate(counts: np.ndarray, window_s: float, p: float) -> float:
    """The Poisson-equivalent rate of non-empty window `counts` of `window_s` seconds.

    Over requests, the count of the window a request arrives in is size-biased: for Poisson(mu) windows it is
    1 + Poisson(mu). Its p-quantile q is matched with the Cornish-Fisher form 1 + mu + z sqrt(mu) + (z^2 - 1) / 6
    (within a request of the exact Poisson quantile for mu >= 5), solved for sqrt(mu) in closed form.
    """
    counts = np.sort(np.asarray(counts, dtype=float))
    if counts.size == 0:
        return 0.0
    weight = np.cumsum(counts) / counts.sum()
    q = float(counts[min(int(np.searchsorted(weight, p)), counts.size - 1)])
    z = NormalDist().inv_cdf(p)
    c = (z * z - 1) / 6 - (q - 1)
    root = (-z + math.sqrt(max(z * z - 4 * c, 0.0))) / 2
    return max(root, 0.0) ** 2 / window_s
