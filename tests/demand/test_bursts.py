"""Burst-aware design rate: Poisson traffic is left alone, bursts raise the rate, the window follows the SLO."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import shared_file

from planner.demand.bursts import burst_rate, burst_windows, widest_burst


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


def test_the_windows_run_from_the_ttft_slo_to_a_requests_live_time_within_bounds() -> None:
    # auto: base = TTFT 1 s; live time 1 s + 28 tokens x 40 ms = 2.12 s, so windows of 1 and 2 s
    assert burst_windows("auto", 1000, 40, 28, 60) == (1.0, (1, 2))
    # 2 s + 211 x 50 ms = 12.55 s: 2, 4 and 8 s (16 s is past the live time)
    assert burst_windows("auto", 2000, 50, 211, 60) == (2.0, (1, 2, 4))
    assert burst_windows("auto", 200, 10, 10, 60) == (1.0, (1,))  # never below a second
    assert burst_windows("auto", 120_000, 100, 300, 60) == (60.0, (1,))  # never above the peak window
    assert burst_windows(5.0, 1000, 40, 300, 60) == (5.0, (1,)) and burst_windows("off", 1000, 40, 28, 60) is None


def test_the_widest_burst_wins_over_the_windows() -> None:
    # 3,500 quiet 1 s windows of 2 requests, then 100 seconds alternating 60 and 0 requests (50 busy seconds):
    # over 1 s windows the p99 request sees 60 (mu = 43.01 as above, 43.01 req/s); over 2 s windows every busy
    # pair holds 60 too, mu = 43.01 over 2 s = 21.5 req/s: the 1 s window wins.
    quiet = np.arange(3500)
    busy = 3500 + 2 * np.arange(50)
    slots = np.concatenate([quiet, busy])
    counts = np.concatenate([np.full(3500, 2.0), np.full(50, 60.0)])
    assert widest_burst(slots, counts, 1.0, (1, 2), 0.99) == pytest.approx((43.01, 1.0), abs=0.01)
    # 30 requests in each of 100 consecutive seconds: 1 s windows see 30 (mu = 18.9), 2 s windows see 60 (43.01
    # over 2 s = 21.5 req/s): a burst sustained past the TTFT is sized on the longer window.
    slots = np.concatenate([quiet, 3500 + np.arange(100)])
    counts = np.concatenate([np.full(3500, 2.0), np.full(100, 30.0)])
    rate, window = widest_burst(slots, counts, 1.0, (1, 2), 0.99)
    assert window == 2.0 and rate == pytest.approx(43.01 / 2, abs=0.01)
    assert rate > burst_rate(counts, 1.0, 0.99)


def test_the_azure_code_trace_is_sized_on_its_two_second_bursts() -> None:
    from planner import api
    from planner.io.workload import workload_from_dict

    trace = shared_file("traces/azure2023/AzureLLMInferenceTrace_code.csv")
    fields = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 40}, "gpus": ["h100"], "traffic": {"trace": str(trace)}}
    demand = api.prepare(workload_from_dict(fields, trace.parent)).demand
    # 1 s windows: 43.01 req/s; 2 s windows (the mean request lives 1 s + 28 tokens x 40 ms): 50.9 req/s
    assert demand.design_rps == pytest.approx(50.9, abs=0.05)
    assert "raised for bursts in 2 s windows" in demand.rate.method


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


def test_a_measured_profiles_buckets_are_sized_for_the_same_bursts(tmp_path) -> None:
    """The trace bucketed on a profile's rectangles (numpy path) gets the same burst raise as on the grid (SQL)."""
    from planner import api
    from planner.demand.build import demand_on_rectangles
    from planner.io.traces import read_trace
    from planner.io.workload import workload_from_dict
    from planner.schemas.ranges import OPEN

    rows = ["arrival_s,input_tokens,output_tokens"]
    rows += [f"{t:.3f},500,50" for t in np.arange(0, 600, 0.5)]
    rows += [f"{300 + k / 100:.3f},500,50" for k in range(80)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    fields = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "gpus": ["h100"], "traffic": {"trace": "t.csv"}}
    prepared = api.prepare(workload_from_dict(fields, tmp_path))
    traffic, slo = prepared.loaded.workload.traffic, prepared.loaded.workload.slo
    model = prepared.catalog.model("llama-3.1-8b")
    trace = read_trace(tmp_path / "t.csv", traffic.format)
    on_rects = demand_on_rectangles(trace, traffic, model, "t.csv", [(1, OPEN, 1, OPEN)], slo)
    assert on_rects.design_rps == pytest.approx(prepared.demand.design_rps, rel=1e-9)
    assert on_rects.design_rps > 2 * 3.33 and "raised for bursts" in on_rects.rate.method
