"""The decomposition over reserved levels (planner.optimize.reserve): a Lagrangian bound that closes the gap
the slots-alone bound leaves, worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from planner.optimize.fleet import SolverSettings
from planner.schemas.replica import ReplicaSpec

SETTINGS = SolverSettings(mip_gap=1e-6, time_limit_s=30)


def _problem():
    """Three slots of 100 h; one bucket at 2, 2 and 6 req/s (rho 1). GPU g0 serves 1 req/s per replica at $2/h on
    demand or $1/h reserved (paid all 300 h); g1 serves 2 req/s at $3/h, on demand only ($1.5 per req/s-hour).

    Reserving r of g0 costs 300 r, and each slot buys what r does not serve at $1.5 per req/s (whole g1 replicas,
    or g0 on demand at $2): r=0: 300+300+900 = 1500; r=1: 300 + 2 x 200 + (2 x 300 + 200) = 1500; r=2: 600 + 2 x 300
    (slot 3: 4 req/s on 2 g1) = 1200; r=3: 900 + 300 + 200 = 1400; r=4: 1200 + 300 = 1500; r=6: 1800. Optimum: 2
    reserved g0 and 2 g1 on demand in slot 3, $1,200/month."""
    from planner.optimize.slots import SlottedProblem

    specs = (ReplicaSpec("m", "g0", "bf16", "fp16", 1), ReplicaSpec("m", "g1", "bf16", "fp16", 1))
    return SlottedProblem(specs, np.array([[1.0], [2.0]]), np.array([[2.0], [2.0], [6.0]]), np.array([100.0, 100.0, 100.0]), 1.0,
                          np.array([2.0, 3.0]), np.array([1.0, np.nan]), np.full(2, np.nan))


def test_reserved_level_found_and_proven_by_the_lagrangian_bound():
    from planner.optimize.reserve import fleet_cost, lagrangian, priced_slots, usage
    from planner.optimize.slots import optimize_slots

    problem = _problem()
    out = optimize_slots(problem, SETTINGS)
    sol = out.solution
    assert out.status.value == "optimal" and out.result.gap <= SETTINGS.mip_gap  # proven within the gap asked for
    assert sol.reserved_gpus == {"g0": 2} and sol.on_demand_gpus == [{}, {}, {"g1": 2}]
    assert sol.cost_per_month == pytest.approx(1200.0)
    # The slots alone at the reserved price ($100 of g0 per slot) each use g0 only: 200 + 200 + 600 = 1000, a
    # 16.7 % gap. Their GPU counts 2, 2, 6 (mean 10/3) give the subgradient (-4/3, -4/3, 8/3), |.|^2 = 96/9; the
    # Polyak step (1200 - 1000) / (96/9) = 18.75 moves the slot prices of g0 to 75, 75, 150 (they still add up to
    # 300, the reserved GPU's month). At those prices slots 1 and 2 pay 2 x 75 = 150 and slot 3 pays 1.5 per
    # req/s on either GPU, 900: the bound is 1200, the optimum, so no coupled MILP is needed.
    hours = problem.hours
    first = priced_slots(problem, {"g0": hours * 1.0}, SETTINGS, 30)
    assert first.bound == pytest.approx(1000.0)
    assert fleet_cost(problem, usage(problem, first.parts)) == ({"g0": 2}, [{}, {}, {"g0": 4}], pytest.approx(1400.0))
    bound, _, upper, trace = lagrangian(problem, first, 1200.0, SETTINGS, 30)
    assert trace == [pytest.approx(1000.0), pytest.approx(1200.0)] and bound == pytest.approx(1200.0) and upper == 1200.0


@pytest.mark.parametrize("prices", [(0.0, 0.0, 300.0), (150.0, 150.0, 0.0), (100.0, 0.0, 200.0), (75.0, 75.0, 150.0)])
def test_every_priced_bound_is_below_the_optimum(prices):
    # Any slot prices >= 0 adding up to the reserved month (300) bound the optimum (reserve module docstring):
    # (0, 0, 300): slot 3 pays min(300, 200) per g0, so g1's 1.5/req/s: 900; (150, 150, 0): 300 + 300 + 0 = 600.
    from planner.optimize.reserve import priced_slots

    problem = _problem()
    got = priced_slots(problem, {"g0": np.array(prices)}, SETTINGS, 30)
    assert got.bound <= 1200.0 + 1e-6
    expected = {(0.0, 0.0, 300.0): 900.0, (150.0, 150.0, 0.0): 600.0, (75.0, 75.0, 150.0): 1200.0}
    if prices in expected:
        assert got.bound == pytest.approx(expected[prices])


def test_projection_keeps_prices_in_their_box_and_sum():
    from planner.optimize.reserve import project

    got = project(np.array([-50.0, 100.0, 400.0]), np.array([200.0, 200.0, 200.0]), 300.0)
    assert got.sum() == pytest.approx(300.0) and (got >= 0).all() and (got <= 200.0 + 1e-9).all()
    # -50 and 400 clip to 0 and 200, leaving 100 for the middle one: tau = 0 works
    assert got == pytest.approx([0.0, 100.0, 200.0])
