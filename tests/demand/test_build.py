"""Bucketing and design rates, checked against counts worked out by hand."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from planner.io.catalog import load_catalog
from planner.schemas.ranges import OPEN
from planner.demand.build import build_demand, demand_from_trace, window_rates
from planner.errors import WorkloadError
from planner.io.traces import Trace
from planner.io.workload import load_workload
from planner.schemas.workload import Traffic


def _trace() -> Trace:
    # 10 s windows: window 0 has 5 arrivals, window 1 has 15, window 2 has 10; one more at t=30 opens a
    # partial 4th window, which is not counted. Alternate short (100-token) and long (1000-token) prompts.
    arrivals = np.concatenate([np.linspace(0, 9, 5), np.linspace(10, 19.5, 15), np.linspace(20, 29, 10), [30.0]])
    n = arrivals.size
    inp = np.where(np.arange(n) % 2 == 0, 100, 1000)
    return Trace(arrivals, inp, np.full(n, 50), "planner")


def test_window_rates_ignore_the_partial_window():
    assert window_rates(_trace().arrival_s, 10.0).tolist() == [0.5, 1.5, 1.0]


@pytest.mark.parametrize("method, design", [("peak", 1.5), ("mean", 31 / 30), ("p95", float(np.percentile([0.5, 1.5, 1.0], 95)))])
def test_design_rate_methods(method, design):
    model = load_catalog().model("llama-3-8b")
    demand = demand_from_trace(_trace(), Traffic(trace="x", design_rate=method, peak_window_s=10), model, "x")
    assert demand.design_rps == pytest.approx(design)
    # 16 short prompts (even indexes of 31) fall in [1, 128); 15 long ones in [512, 2048); outputs in [1, 64)
    (short, long_) = demand.buckets
    assert (short.input_lo, short.input_hi, short.output_lo, short.output_hi) == (1, 128, 1, 64)
    assert (long_.input_lo, long_.input_hi) == (512, 2048)
    assert short.share == pytest.approx(16 / 31) and long_.share == pytest.approx(15 / 31)
    assert demand.bucket_rates().sum() == pytest.approx(design)
    assert short.input_mean == 100 and long_.input_max == 1000


def test_rate_scale_and_target_rps():
    model = load_catalog().model("llama-3-8b")
    scaled = demand_from_trace(_trace(), Traffic(trace="x", peak_window_s=10, rate_scale=3), model, "x")
    assert scaled.design_rps == pytest.approx(4.5)
    target = demand_from_trace(_trace(), Traffic(trace="x", peak_window_s=10, target_rps=120), model, "x")
    assert target.design_rps == pytest.approx(120)


def test_overflow_drop_warns_and_error_refuses(caplog):
    model = load_catalog().model("llama-2-7b")  # 4096-token context
    t = _trace()
    t = Trace(t.arrival_s, np.where(np.arange(len(t)) < 3, 5000, t.input_tokens), t.output_tokens)
    with caplog.at_level(logging.WARNING):
        demand = demand_from_trace(t, Traffic(trace="x", peak_window_s=10), model, "x.csv")
    assert demand.dropped_requests == 3 and demand.dropped_share == pytest.approx(3 / 31)
    assert "x.csv: 3 of 31 requests (9.68%) are longer than llama-2-7b's 4096-token context window; dropping them" in caplog.text
    with pytest.raises(WorkloadError, match=r"x.csv: 3 of 31 requests .* \(traffic.overflow: error\)"):
        demand_from_trace(t, Traffic(trace="x", peak_window_s=10, overflow="error"), model, "x.csv")
    everything = Trace(t.arrival_s, np.full(len(t), 9000), t.output_tokens)
    with pytest.raises(WorkloadError, match="every request overflows"):
        demand_from_trace(everything, Traffic(trace="x"), model, "x.csv")


def test_locate_matches_bucketing():
    model = load_catalog().model("llama-3-8b")
    t = _trace()
    demand = demand_from_trace(t, Traffic(trace="x", peak_window_s=10), model, "x")
    idx = demand.locate(t.input_tokens, t.output_tokens)
    assert (idx == np.where(t.input_tokens == 100, 0, 1)).all()
    assert demand.buckets[-1].input_hi == 2048 and OPEN > 10**12


def test_histogram_entries_become_buckets(write):
    path = write("w.yaml", """\
model: llama-2-7b
slo: {ttft_ms: 1000, tpot_ms: 50}
traffic:
  rate_rps: 10
  histogram:
    - {input: [1, 101], output: [10, 20], share: 0.5}
    - {input: [3000, 5001], output: [100, 101], share: 0.5}
""")
    demand = build_demand(load_workload(path), load_catalog().model("llama-2-7b"))
    first, second = demand.buckets
    assert (demand.bucket_rates()[0], first.input_mean, first.output_mean, first.input_max) == (5.0, 50.5, 14.5, 100)
    # the 4096-token context leaves room for inputs up to 4096 - 100 = 3996: (3996 + 1 - 3000) / 2001 of the entry
    kept = 997 / 2001
    assert second.share == pytest.approx(0.5 * kept) and second.input_max == 3996
    assert demand.dropped_share == pytest.approx(0.5 * (1 - kept))


def test_bucket_cache_hit_is_the_token_weighted_share_of_cached_prompt_tokens():
    base = _trace()
    cached = np.where(base.input_tokens == 1000, 600, 0)  # long prompts reuse 600 tokens, short ones nothing
    trace = Trace(base.arrival_s, base.input_tokens, base.output_tokens, "planner", cached_tokens=cached)
    model = load_catalog().model("llama-3.1-8b")
    edges = {"input": [1, 512], "output": [1]}
    traffic = Traffic(trace="t.csv", buckets=edges)
    short, long = demand_from_trace(trace, traffic, model, "t.csv").buckets
    assert (short.cache_hit, long.cache_hit) == (0.0, pytest.approx(0.6))
    off = Traffic(trace="t.csv", buckets=edges, prefix_cache={"enabled": False})
    assert [b.cache_hit for b in demand_from_trace(trace, off, model, "t.csv").buckets] == [0.0, 0.0]
    given = Traffic(trace="t.csv", buckets=edges, prefix_cache={"hit_rate": 0.25})
    assert [b.cache_hit for b in demand_from_trace(base, given, model, "t.csv").buckets] == [pytest.approx(0.25, abs=0.01)] * 2
