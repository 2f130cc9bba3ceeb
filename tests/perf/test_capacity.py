"""Capacity rows: one pass over every bucket of a config gives each bucket's own cell, and the pruned Poisson
tail equals scipy's wherever it can matter."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.buckets import Bucket
from planner.perf.capacity import capacity_row, cell_capacity
from planner.perf.tail import NEGLIGIBLE, poisson_sf
from planner.schemas.workload import SLO
from planner.schemas.replica import EngineParams
from tests.perf._configs import config as cfg

SLO_CHAT = SLO(ttft_ms=1000, tpot_ms=50)


def _bucket(lo: int, hi: int, olo: int, ohi: int, quantiles: bool = True) -> Bucket:
    qs = tuple(np.linspace(olo, ohi - 1, 10).tolist()) if quantiles else ()
    iq = tuple(np.linspace(lo, hi - 1, 10).tolist()) if quantiles else ()
    return Bucket(lo, hi, olo, ohi, 0.1, (lo + hi - 1) / 2, (olo + ohi - 1) / 2, lo + 0.99 * (hi - 1 - lo), hi - 1, ohi - 1, qs, iq)


BUCKETS = (
    _bucket(1, 128, 1, 64),            # outputs of 1 token among the classes (fewer TPOT gaps)
    _bucket(512, 2048, 64, 256),
    _bucket(2048, 8192, 256, 1024, quantiles=False),   # a histogram bucket: one input and one output class
    _bucket(450_000, 460_000, 1, 4),   # more tokens than the H100 KV cache holds (412k): a kv_memory zero
    _bucket(30_000, 32_000, 512, 600),  # prefill over the 1 s TTFT SLO even at zero load: an slo zero
)


@pytest.mark.parametrize("chunked", [False, True])
def test_row_equals_each_bucket_alone(chunked: bool) -> None:
    config = cfg("llama-3.1-8b", "h100", engine=EngineParams(chunked_prefill=chunked))
    row = capacity_row(config, BUCKETS, SLO_CHAT)
    for bucket, cell in zip(BUCKETS, row):
        alone = cell_capacity(config, bucket, SLO_CHAT)
        assert (cell.max_rps, cell.bound, cell.detail, cell.batch) == (alone.max_rps, alone.bound, alone.detail, alone.batch)
        assert cell.curve_rps == alone.curve_rps and cell.curve_tpot_ms == alone.curve_tpot_ms
    assert row[3].max_rps == 0 and row[3].bound == "kv_memory"
    assert row[4].max_rps == 0 and row[4].bound == "slo" and "even at zero load" in row[4].detail
    assert all(c.max_rps > 0 for c in row[:3])


def test_tpot_curve_is_within_the_slo_and_grows_with_load() -> None:
    cell = cell_capacity(cfg("llama-3.1-8b", "h100"), BUCKETS[1], SLO_CHAT)
    tpot = np.array(cell.curve_tpot_ms)
    assert len(tpot) == len(cell.curve_rps) and tpot.max() <= SLO_CHAT.tpot_ms + 1e-9
    assert tpot[-1] >= tpot[0]


def test_tighter_tpot_slo_never_raises_capacity() -> None:
    config = cfg("llama-3.1-8b", "a100-80gb")
    caps = [capacity_row(config, BUCKETS[:3], SLO(ttft_ms=1000, tpot_ms=t)) for t in (20, 35, 50, 80)]
    for tight, loose in zip(caps, caps[1:]):
        assert all(a.max_rps <= b.max_rps for a, b in zip(tight, loose))


def test_poisson_tail_matches_scipy_where_it_matters() -> None:
    from scipy.special import pdtrc

    rng = np.random.default_rng(0)
    k = np.floor(rng.uniform(1, 5000, 100_000))
    mu = rng.uniform(0, 3000, 100_000)
    ours, theirs = poisson_sf(k, mu), pdtrc(k, mu)
    assert np.abs(ours - theirs).max() < NEGLIGIBLE * 10  # identical where scipy's value is above the cut
    assert np.array_equal(ours[theirs > NEGLIGIBLE * 10], theirs[theirs > NEGLIGIBLE * 10])
    skip = rng.random(100_000) < 0.5
    assert (poisson_sf(k, mu, skip)[skip] == 0).all()
