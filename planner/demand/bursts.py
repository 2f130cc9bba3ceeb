"""Burst-aware design rate: the Poisson rate whose bursts on the SLO's time scales match the trace's.

The capacity model sizes a pool for Poisson arrivals at the design rate; a trace that arrives in second-scale
bursts (Azure 2023 code: 67 requests in one second against a 10.5 req/s peak minute) breaks a plan sized on
60 s windows. So the design rate is raised to the Poisson-equivalent rate of the trace's windows of W seconds:
the rate mu / W at which the window a request arrives in holds as many requests, at the SLO percentile over
requests, as the trace's do. A burst hurts on every time scale from the TTFT SLO (prompts queue) to the time a
request stays live (the TTFT plus its decode, `mean output x TPOT` seconds, during which the burst's prompts
interrupt its steps), so W runs over that range and the largest rate wins (docs/methodology.md,
"Burst-aware design rate").
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

MIN_WINDOW_S = 1.0
"""The shortest burst window: below a second a window holds too few requests for its count to mean a rate."""


def burst_windows(setting: float | str, ttft_ms: float, tpot_ms: float, output_mean: float,
                  peak_window_s: float) -> tuple[float, tuple[int, ...]] | None:
    """The burst time scales for `traffic.burst_window_s`: a base window in seconds and the multiples of it to try
    (`auto`: from the TTFT SLO to the mean request's live time TTFT + output x TPOT, doubling; a number: that
    window alone), all within [1 s, `peak_window_s`]; None when off."""
    if setting == "off":
        return None
    clamp = lambda w: min(max(w, MIN_WINDOW_S), peak_window_s)  # noqa: E731 - one bound, used twice
    if setting != "auto":
        return clamp(float(setting)), (1,)
    base = clamp(ttft_ms / 1e3)
    longest = clamp(ttft_ms / 1e3 + output_mean * tpot_ms / 1e3)
    multiples = [1]
    while multiples[-1] * 2 * base <= longest * (1 + 1e-9):
        multiples.append(multiples[-1] * 2)
    return base, tuple(multiples)


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


def widest_burst(slots: np.ndarray, counts: np.ndarray, base_s: float, multiples: tuple[int, ...],
                 p: float) -> tuple[float, float]:
    """The largest burst rate over windows of `base_s x k` seconds, k in `multiples`, and its window, from the
    non-empty `counts` of base windows numbered `slots` (windows of k base windows are merged from them)."""
    best = (0.0, base_s)
    for k in multiples:
        merged = np.bincount(np.asarray(slots, dtype=np.int64) // k, weights=counts)
        rate = burst_rate(merged[merged > 0], base_s * k, p)
        if rate > best[0]:
            best = (rate, base_s * k)
    return best
