"""The prefill queue's waiting-time tail: Kingman's M/G/1 and the M/G/m pool behind least-loaded routing
(planner.perf.tail.erlang_c, queue_wait), with values worked out by hand."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from planner.perf.disagg import prefill_capacity
from planner.perf.tail import ARRIVAL_SCV, POOL_TIERS, SERVICE_SCV, erlang_c, queue_wait

from ._configs import config
from .test_disagg import LONG, SLO_LONG

RHO = np.linspace(0.0, 0.995, 200)


def test_erlang_c_by_hand():
    # C(m, a) = (a^m / m! * m / (m - a)) / (sum_{k<m} a^k / k! + a^m / m! * m / (m - a))
    # m = 2, a = 1 (rho 1/2): (1/2 * 2) / (1 + 1 + 1) = 1/3
    assert float(erlang_c(2, 0.5)) == pytest.approx(1 / 3, rel=1e-12)
    # m = 3, a = 2 (rho 2/3): (8/6 * 3) / (1 + 2 + 2 + 4) = 4/9
    assert float(erlang_c(3, 2 / 3)) == pytest.approx(4 / 9, rel=1e-12)
    # one server: an arrival waits with probability rho; saturated pools always wait
    assert np.allclose(erlang_c(1, RHO), RHO)
    assert float(erlang_c(8, 1.0)) == 1.0


def test_one_server_is_kingman_as_before():
    # the formula queue_wait had before pools (M/G/1): rho exp(-t / scale), scale = s (ca2 + cs2) / (2 (1 - rho))
    service, p = 2.5, 0.99
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = service * (ARRIVAL_SCV + SERVICE_SCV) / (2 * (1 - RHO))
        old = np.where((RHO > 1 - p) & (RHO < 1), scale * np.log(RHO / (1 - p)), np.where(RHO >= 1, np.inf, 0.0))
    assert np.array_equal(queue_wait(RHO, service, p), old)
    assert np.array_equal(queue_wait(RHO, service, p, servers=1), old)


def test_two_servers_by_hand():
    # m = 2, rho 1/2, service 1 s, p99: C = 1/3; scale = 1 x (1 + 0.25) / (2 x 2 x 0.5) = 0.625 s;
    # wait = 0.625 ln((1/3) / 0.01) = 0.625 x 3.50656 = 2.19160 s (M/G/1 at the same rho: 1.25 ln 50 = 4.89 s)
    assert float(queue_wait(np.array(0.5), 1.0, 0.99, servers=2)) == pytest.approx(0.625 * math.log(100 / 3), rel=1e-12)
    assert float(queue_wait(np.array(0.5), 1.0, 0.99)) == pytest.approx(1.25 * math.log(50), rel=1e-12)
    # 100 servers at rho 0.5: C is ~1e-8, far below 1 % of arrivals waiting, so the p99 wait is 0
    assert float(queue_wait(np.array(0.5), 1.0, 0.99, servers=100)) == 0.0


def test_wait_falls_with_the_pool_at_fixed_rho():
    waits = np.array([queue_wait(RHO, 3.0, 0.99, servers=m) for m in POOL_TIERS])
    finite = np.isfinite(waits).all(axis=0)
    assert finite[:-1].all()  # saturation only at rho >= 1
    assert (np.diff(waits, axis=0) <= 1e-12).all()  # never longer in a larger pool
    busy = RHO > 0.5
    assert (waits[1][busy] < waits[0][busy]).all()  # strictly shorter wherever one replica waits


def test_prefill_cell_pooled_capacities_grow_with_the_pool():
    cfg = config("llama-3.1-70b", "h100", "bf16", tp=4)
    cell = prefill_capacity(cfg, LONG, SLO_LONG)
    assert len(cell.pooled) == len(POOL_TIERS) - 1
    caps = (cell.max_rps,) + cell.pooled
    assert all(b >= a for a, b in zip(caps, caps[1:]))
    assert cell.pooled[-1] > 1.2 * cell.max_rps  # a large pool runs far busier within the same p99 TTFT


def test_busy_periods_sum_matches_three_moments_by_hand():
    # Two input classes whose prompts add 10 and 30 ms (mean 20 ms; E[S^2] / E[S]^2 = (100 + 900) / 2 / 400 = 1.25,
    # E[S^3] / E[S]^3 = (1,000 + 27,000) / 2 / 8,000 = 1.75), prefill utilization 0.5: an M/G/1 busy period has
    # E[B] = 20 / 0.5 = 40 ms, E[B^2] / E[B]^2 = 1.25 / 0.5 = 2.5 and (E[B^3] = E[S^3] / (1 - rho)^4
    # + 3 lambda E[S^2]^2 / (1 - rho)^5) E[B^3] / E[B]^3 = 1.75 x 2 + 3 x 0.5 x 1.25^2 x 2^2 = 12.875. The sum of a
    # Poisson number (mu = 0.65) of them is a + u P, P Poisson: u = E[B^3] / E[B^2] = 40 x 12.875 / 2.5 = 206 ms,
    # units mu E[B^2]^3 / E[B^3]^2 = 0.65 x 2.5^3 / 12.875^2 = 0.061269, a = mu E[B] (1 - 2.5^2 / 12.875) = 13.379 ms:
    # the same mean (26 ms), variance (mu E[B^2] = 2,600 ms^2) and third moment (mu E[B^3] = 535,600 ms^3), used where
    # the room exceeds a + u (the tail: a shifted count has no mass under a).
    from planner.perf.tail import Lateness
    one = np.ones(1)
    late = Lateness.build(np.array([[9.0]]), one, np.array([[0.010, 0.030]]), None, 0.020 * one, 0.005 * one,
                          0.005 * one, 10 * one, 0.5 * one)
    mu, u, nu, a = late.mu[0, 0], late.unit3[0], late.units3[0, 0], late.base[0, 0]
    assert mu == pytest.approx(10 * (0.005 * 9 + 0.020))  # 0.65 interruptions
    # below a + u (where most requests are) the two-moment fit: units of E[B^2] / E[B] = 2.5 x 40 = 100 ms, mu / 2.5
    assert (late.mean_interrupt[0], late.units[0, 0]) == (pytest.approx(0.100), pytest.approx(0.65 / 2.5))
    assert (u, nu, a) == (pytest.approx(0.206), pytest.approx(0.061269, rel=1e-4), pytest.approx(0.013379, rel=1e-4))
    assert (a + u * nu, u * u * nu, u**3 * nu) == (pytest.approx(0.026), pytest.approx(0.0026), pytest.approx(0.0005356))
    assert late.per_step[0].tolist() == pytest.approx([0.020, 0.060])  # one busy period of each class: 1 / (1 - rho) prompts


def test_the_live_batch_of_stalled_sequences_by_hand():
    # Mean batch 16, Poisson quantile 16 + 2.326 x 4 = 25.304, prompts that stall every sequence for 0.3 of the time:
    # clusters of Borel size, variance 16 / 0.7^2 = 32.65 (sigma 5.714), skewness (1 + 0.6) / (0.7 x 4) = 0.5714.
    # The step figures take 16 + 2.326 x 5.714 = 29.291; the KV check adds the Cornish-Fisher term
    # 5.714 x (2.326^2 - 1) x 0.5714 / 6 = 2.400: 31.691. max_num_seqs 30 caps the first: 29.291 stays, 31.691 -> 30.
    from planner.perf.load import Points, stalled_batch
    one = np.ones(1)
    pts = Points(16 * one, (16 + 2.326 * 4) * one, one, one, one, one, one, one, np.ones((1, 1)), np.array([0]),
                 np.zeros(1), one, np.inf * one)
    stalled, n_kv = stalled_batch(pts, 0.3 * one)
    assert (stalled.n_hi[0], n_kv[0]) == (pytest.approx(29.291, abs=1e-3), pytest.approx(31.691, abs=1e-3))
    capped, n_kv = stalled_batch(replace(pts, n_max=30 * one), 0.3 * one)
    assert (capped.n_hi[0], n_kv[0]) == (pytest.approx(29.291, abs=1e-3), 30.0)
    poisson, n_kv = stalled_batch(pts, 0 * one)  # no stall: the Poisson quantile, plus its own skew (z^2 - 1) / 6
    assert (poisson.n_hi[0], n_kv[0]) == (pytest.approx(25.304), pytest.approx(25.304 + (2.326**2 - 1) / 6, abs=1e-9))


def test_admission_wait_for_max_num_seqs_slots_by_hand():
    # 256 slots (max_num_seqs), mean batch 240 (rho = 0.9375), residence 2 s: an M/G/256 queue whose p99 wait is
    # scale ln(C / 0.01), scale = 2 (1 + 0.25) / (2 x 256 x 0.0625) = 0.078125 s. Far from the cap (N + 6 sqrt(N) <= 256)
    # no wait is computed.
    from planner.perf.search import admission_wait
    from planner.perf.tail import erlang_c
    c = float(erlang_c(256, 240 / 256))
    wait = admission_wait(np.array([240.0, 100.0, 256.0]), np.array([2.0, 2.0, 2.0]), np.full(3, 256.0), 0.99)
    assert wait[0] == pytest.approx(0.078125 * math.log(c / 0.01), rel=1e-12)
    assert 0 < c < 1 and wait[1] == 0.0 and wait[2] == 0.0  # at the cap the batch check fails instead
