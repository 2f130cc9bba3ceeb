"""Capacity rows: one pass over every bucket of a config gives each bucket's own cell, the values of the
per-cell code before the row existed, and the numpy Poisson tail matches scipy's (and exact values)."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.buckets import Bucket
from planner.perf.capacity import capacity_row, cell_capacity
from planner.perf.curves import CURVE_POINTS, curve_points
from planner.perf import tail
from planner.perf.tail import Lateness, poisson_sf, poisson_tail_bounds
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


def test_curve_points_are_rounded_linspace() -> None:
    for last in range(0, 3000):
        expected = np.unique(np.linspace(0, last, min(last + 1, CURVE_POINTS)).round().astype(int))
        assert np.array_equal(curve_points(last), expected)


def test_tighter_tpot_slo_never_raises_capacity() -> None:
    config = cfg("llama-3.1-8b", "a100-80gb")
    caps = [capacity_row(config, BUCKETS[:3], SLO(ttft_ms=1000, tpot_ms=t)) for t in (20, 35, 50, 80)]
    for tight, loose in zip(caps, caps[1:]):
        assert all(a.max_rps <= b.max_rps for a, b in zip(tight, loose))


GOLDEN = {
    # (model, gpu, quant, tp, chunked prefill, bucket): (max_rps, bound, batch, last curve TTFT ms, last curve TPOT ms)
    # regression values on the shipped catalog, re-taken whenever catalogs/efficiency.yaml is refitted (issue 13: flat
    # all-reduce latency, GEMM latency, per-engine factors, BF16 attention under FP8 weights; the 70B FP8 long-prompt
    # cell moved from TP2, which no longer meets the 1 s TTFT, to TP4): the curves' shape is unchanged. The two
    # chunked cells re-taken when chunked prefill's utilization became the prompts' share of time (planner.perf.load):
    # 21.30 -> 19.19 and 1.099 -> 0.899 req/s, the busy periods that interrupt decoding now longer. All re-taken at the
    # refit after the eager-engine change (2026-12-03): H100 step overheads lower (8B 18.32 -> 18.87 req/s; the 70B FP8
    # cell 0.586 -> 0.705 req/s, batch 7 -> 8), A100 within 0.5 %. The batch grid's 5 % steps from 1 to 16
    # (planner.perf.search.SMALL_BATCH): that cell's TTFT binds between batch 8 and 9, now at 8.10 (0.705 -> 0.712).
    # Two or more interruptions counted in units of the busy period's E[B^2] / E[B] (planner.perf.tail.Lateness; the
    # TPOT-bound cells 2.5-9 % lower: 18.87 -> 18.07, 20.04 -> 19.54, 53.0 -> 48.6, 0.901 -> 0.819 req/s); serial
    # prefill then batches the waiting prompts (planner.perf.load.serial_load: the serial cells re-taken). The live
    # batch of stalled sequences (planner.perf.load.stalled_batch) and the three-moment busy-period sum
    # (planner.perf.tail.Lateness): the 8B cells 1.6-6.5 % lower (18.32 -> 18.04, 19.54 -> 19.13, 77.65 -> 72.61), the
    # 70B cells unchanged (their TTFT binds)
    ('llama-3.1-8b', 'h100', 'bf16', 1, False, (512, 2048, 64, 256, True)):
        (18.035114610956335, 'slo', 90.0, 253.48979446010668, 49.61845027280029),
    ('llama-3.1-8b', 'h100', 'bf16', 1, True, (512, 2048, 64, 256, True)):
        (19.129577953419744, 'slo', 49.0, 300.8673473387491, 49.253616366405645),
    ('llama-3.1-8b', 'a100-80gb', 'bf16', 1, False, (1, 128, 1, 64, True)):
        (72.60876831477343, 'slo', 66.0, 71.81553094899469, 49.73156255985778),
    ('llama-3.1-70b', 'h100', 'fp8', 4, False, (2048, 8192, 256, 1024, False)):
        (0.7117695740080554, 'slo', 8.097877728587795, 999.579271162977, 23.545623198636594),
    ('llama-3.1-70b', 'a100-80gb', 'bf16', 4, True, (512, 2048, 256, 1024, True)):
        (0.8185668081410611, 'slo', 18.0, 917.7091614044497, 49.76465113917203),
}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_cells_keep_their_values(case: tuple) -> None:
    model, gpu, quant, tp, chunked, bucket = case
    cell = cell_capacity(cfg(model, gpu, quant, tp, engine=EngineParams(chunked_prefill=chunked)), _bucket(*bucket), SLO_CHAT)
    max_rps, bound, batch, ttft_ms, tpot_ms = GOLDEN[case]
    assert (cell.bound, cell.batch, len(cell.curve_rps)) == (bound, batch, 24)
    assert cell.max_rps == pytest.approx(max_rps, rel=1e-12)
    assert cell.curve_ttft_ms[-1] == pytest.approx(ttft_ms, rel=1e-12)
    assert cell.curve_tpot_ms[-1] == pytest.approx(tpot_ms, rel=1e-12)


def test_poisson_tail_matches_scipy() -> None:
    from scipy.special import pdtrc

    rng = np.random.default_rng(0)
    k = np.floor(np.concatenate([rng.uniform(1, 60, 20_000), rng.uniform(1, 5000, 20_000)]))
    mu = np.concatenate([rng.uniform(0, 60, 20_000), rng.uniform(0, 3000, 20_000)])
    near = rng.uniform(1, 3000, 20_000)  # around the mean, where the series are longest
    k = np.concatenate([k, np.maximum(np.floor(near + rng.normal(0, 4, near.size) * np.sqrt(near)), 1)])
    mu = np.concatenate([mu, near])
    ours, theirs = poisson_sf(k, mu), pdtrc(k, mu)
    rel = np.abs(ours - theirs) / np.maximum(theirs, 1e-300)
    big = theirs >= 1e-20
    assert rel[big].max() < 5e-13  # both are within ~1.4e-13 of exact values here
    small = ~big & (theirs >= 1e-300)  # the float64 exponent limits both to ~1e-15 |ln P|
    assert (rel[small] <= 5e-14 * -np.log(theirs[small])).all()
    assert (ours[theirs < 1e-300] < 1e-290).all()


@pytest.mark.parametrize(("k", "mu", "exact"), [
    # 20 digits from mpmath (sum of pmf terms at 40 digits); scipy is off by 1.4e-5 in the first one
    (4267575, 4244969.891551163, 2.9038366006709796966e-28),
    (330, 300.0, 0.040776327479980718579),
    (299, 300.0, 0.50767778888626349925),
    (100, 40.0, 4.747510530761333567e-16),
    (5, 1e-3, 1.3876989333774599333e-21),
    (1, 2.5, 0.71270250481635421691),
])
def test_poisson_tail_exact_values(k: int, mu: float, exact: float) -> None:
    assert poisson_sf(k, mu) == pytest.approx(exact, rel=2e-13)
    assert poisson_sf(k, 0.0) == 0.0


def test_poisson_tail_bounds_hold() -> None:
    rng = np.random.default_rng(1)
    mu = rng.uniform(0, 2000, 50_000)
    k = np.maximum(np.floor(mu + rng.normal(0, 5, mu.size) * np.sqrt(mu + 1)), 0)
    exact = poisson_sf(k, mu)
    widths = []
    for blocks in (1, 2, 4):
        low, high = poisson_tail_bounds(k, mu, blocks)
        assert (low <= exact * (1 + 1e-13)).all() and (high >= exact * (1 - 1e-13)).all()
        widths.append(float(np.median((high - low) / np.maximum(exact, 1e-300))))
    assert widths[0] > widths[1] > widths[2] and widths[2] < 1e-3
    assert np.array_equal(poisson_tail_bounds(k, mu)[0], exact) and np.array_equal(poisson_tail_bounds(k, mu)[1], exact)


@pytest.mark.parametrize("chunked", [False, True])
def test_bounds_first_decide_as_the_exact_sum(chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lateness.within decides most points from bounds; with an infinite margin every point gets the exact sum."""
    config = cfg("llama-3.1-8b", "a100-80gb", engine=EngineParams(chunked_prefill=chunked))
    seen: list[tuple[Lateness, np.ndarray]] = []
    within = Lateness.within
    monkeypatch.setattr(Lateness, "within", lambda self, t, share: seen.append((self, t)) or within(self, t, share))
    capacity_row(config, BUCKETS[:3], SLO_CHAT)
    scales = (0.5, 0.9, 1.0, 1.1, 2.0)  # the SLO's TPOT and around it: some points pass, some do not
    fast = [within(model, t * scale, 0.01) for model, t in seen for scale in scales]
    monkeypatch.setattr(tail, "DECISION_MARGIN", np.inf)
    exact = [within(model, t * scale, 0.01) for model, t in seen for scale in scales]
    assert len(fast) > 5 and all(np.array_equal(a, b) for a, b in zip(fast, exact))
    decided = np.concatenate(exact)
    assert decided.any() and not decided.all()
