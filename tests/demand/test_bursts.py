"""Burst-aware design rate: Poisson traffic is left alone, bursts raise the rate, the window follows the SLO."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.bursts import burst_rate, burst_window


@pytest.mark.parametrize("rate", [5.0, 20.0, 100.0])
def test_poisson_traffic_gives_back_its_rate(rate: float) -> None:
    rng = np.random.default_rng(0)
    arrivals = np.sort(rng.uniform(0, 3600, rng.poisson(rate * 3600)))
    counts = np.bincount(arrivals.astype(int))
    assert burst_rate(counts[counts > 0], 1.0, 0.99) == pytest.approx(rate, rel=0.03)


def test_bursts_raise_the_rate_by_what_the_requests_see() -> None:
    # 3,500 quiet seconds of 2 requests, then 100 seconds of 60: 6,000 of the 13,000 requests arrive in a 60-request
    # second, so the p99 request sees a window of 60 = 1 + mu + z sqrt(mu) + (z^2 - 1)/6 with z = 2.3263:
    # sqrt(mu) = (-2.3263 + sqrt(2.3263^2 + 4 x 58.2647)) / 2 = 6.5581 -> mu = 43.01
    counts = np.array([2] * 3500 + [60] * 100)
    assert burst_rate(counts, 1.0, 0.99) == pytest.approx(43.01, abs=0.01)
    assert burst_rate(counts, 2.0, 0.99) == pytest.approx(43.01 / 2, abs=0.01)  # the same counts over 2 s windows


def test_the_window_is_the_ttft_slo_within_bounds() -> None:
    assert burst_window("auto", 1000, 60) == 1.0
    assert burst_window("auto", 200, 60) == 1.0  # never below a second
    assert burst_window("auto", 120_000, 60) == 60.0  # never above the peak window
    assert burst_window(5.0, 1000, 60) == 5.0 and burst_window("off", 1000, 60) is None


def test_a_bursty_trace_plans_for_its_bursts(tmp_path) -> None:
    from planner import api
    from planner.io.workload import workload_from_dict

    rows = ["arrival_s,input_tokens,output_tokens"]
    rows += [f"{t:.3f},500,50" for t in np.arange(0, 600, 0.5)]  # 2 req/s
    rows += [f"{300 + k / 100:.3f},500,50" for k in range(80)]  # 80 requests within 0.8 s
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    base = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "gpus": ["h100"], "traffic": {"trace": "t.csv"}}
    plain = api.prepare(workload_from_dict(base | {"traffic": {"trace": "t.csv", "burst_window_s": "off"}}, tmp_path)).demand
    bursty = api.prepare(workload_from_dict(base, tmp_path)).demand
    assert plain.design_rps == pytest.approx(3.33, abs=0.01)  # the busiest minute: 120 + 80 requests
    assert bursty.design_rps > 2 * plain.design_rps and "raised for bursts in 1 s windows" in bursty.rate.method
