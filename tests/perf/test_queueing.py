"""The prefill queue's waiting-time tail: Kingman's M/G/1 and the M/G/m pool behind least-loaded routing
(planner.perf.tail.erlang_c, queue_wait), with values worked out by hand."""
from __future__ import annotations

import math

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
