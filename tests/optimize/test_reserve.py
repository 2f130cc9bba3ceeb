"""The decomposition over reserved levels (planner.optimize.reserve): a Lagrangian bound, raised by cutting
planes until it meets the cheapest choice over the slots' fleets, worked out by hand."""
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
    from planner.optimize.slots import optimize_slots

    problem = _problem()
    out = optimize_slots(problem, SETTINGS)
    sol = out.solution
    assert out.status.value == "optimal" and out.result.gap <= SETTINGS.mip_gap  # proven within the gap asked for
    assert sol.reserved_gpus == {"g0": 2} and sol.on_demand_gpus == [{}, {}, {"g1": 2}]
    assert sol.cost_per_month == pytest.approx(1200.0)


def test_cutting_planes_cheapest_choice_and_next_prices_by_hand():
    # The slots alone at the reserved price ($100 of g0 per slot) each use g0 only: 200 + 200 + 600 = 1000, and
    # their columns are 2, 2 and 6 g0 at no other cost. The cheapest choice over them reserves 2 (r=2: 600 + slot
    # 3's 4 g0 on demand at $200 = 1400; r=0: 2000; r=6: 1800). The cutting-plane LP over those columns with the
    # whole box (lam_t <= $200, the on-demand slot; sum <= $300, the reserved month) is max 2 lam1 + 2 lam2 + 6 lam3:
    # lam3 = 200 and lam1 + lam2 = 100, value 1400. At those prices slot 3 buys g1 (3 x 300 = 900 < 6 x 200), so
    # the bound is 200 + 900 = 1100, a new column (no g0, $900) cuts the LP, and the next one finds 75, 75, 150:
    # slots 1 and 2 pay 2 x 75, slot 3 1.5 per req/s on either GPU, 900: the bound is 1200, the optimum.
    from planner.optimize.reserve import cheapest, next_prices, price_slots

    problem = _problem()
    first = price_slots(problem, {"g0": problem.hours * 1.0}, SETTINGS, 30)
    assert first.bound == pytest.approx(1000.0)
    assert [(c.slot, c.uses, c.rest) for c in first.columns] == [(0, (("g0", 2),), 0.0), (1, (("g0", 2),), 0.0), (2, (("g0", 6),), 0.0)]
    cost, levels, chosen = cheapest(problem, first.columns, SETTINGS)
    assert cost == pytest.approx(1400.0) and levels == {"g0": 2} and len(chosen) == 3
    lam, value = next_prices(problem, first.columns, {"g0": problem.hours * 1.0}, 10.0, SETTINGS)
    assert value == pytest.approx(1400.0) and lam["g0"][2] == pytest.approx(200.0) and lam["g0"][:2].sum() == pytest.approx(100.0)
    step = price_slots(problem, lam, SETTINGS, 30)
    assert step.bound == pytest.approx(1100.0) and (2, (), pytest.approx(900.0)) in [(c.slot, c.uses, c.rest) for c in step.columns]
    best = price_slots(problem, {"g0": np.array([75.0, 75.0, 150.0])}, SETTINGS, 30)
    assert best.bound == pytest.approx(1200.0)


@pytest.mark.parametrize("prices", [(0.0, 0.0, 300.0), (150.0, 150.0, 0.0), (100.0, 0.0, 200.0), (75.0, 75.0, 150.0)])
def test_every_priced_bound_is_below_the_optimum(prices):
    # Any slot prices >= 0 adding up to the reserved month (300) bound the optimum (reserve module docstring):
    # (0, 0, 300): slot 3 pays min(300, 200) per g0, so g1's 1.5/req/s: 900; (150, 150, 0): 300 + 300 + 0 = 600.
    from planner.optimize.reserve import price_slots

    problem = _problem()
    got = price_slots(problem, {"g0": np.array(prices)}, SETTINGS, 30)
    assert got.bound <= 1200.0 + 1e-6
    expected = {(0.0, 0.0, 300.0): 900.0, (150.0, 150.0, 0.0): 600.0, (75.0, 75.0, 150.0): 1200.0}
    if prices in expected:
        assert got.bound == pytest.approx(expected[prices])


def test_slot_evaluations_mix_into_a_better_bound():
    # Prices a = (150, 150, 0): slots 1 and 2 pay min(2 g0 at $1.5/h, 1 g1 at $3/h) x 100 h = 300 each, slot 3
    # nothing: 600. Prices b = (0, 0, 200): slot 3's g0 at the on-demand $2/h, so 3 g1 = 900: 900. Mixed per slot
    # (weights w_t on the point with the slot's price > 0): max 300 w1 + 300 w2 + 900 w3 with 150 w1 + 150 w2 +
    # 200 w3 <= 300 (the reserved month). Per dollar of month slot 3 gives 4.5 and slots 1-2 give 2, so w3 = 1 and
    # w1 + w2 = 2/3: 900 + 200 = 1100, above both evaluations and below the optimum 1200.
    from planner.optimize.reserve import combined, price_slots

    problem = _problem()
    a = price_slots(problem, {"g0": np.array([150.0, 150.0, 0.0])}, SETTINGS, 30)
    b = price_slots(problem, {"g0": np.array([0.0, 0.0, 200.0])}, SETTINGS, 30)
    assert a.slots == [pytest.approx(300.0), pytest.approx(300.0), pytest.approx(0.0)]
    assert b.slots == [pytest.approx(0.0), pytest.approx(0.0), pytest.approx(900.0)]
    bound, mix = combined(problem, [a, b], SETTINGS)
    assert bound == pytest.approx(1100.0)
    assert mix["g0"][2] == pytest.approx(200.0) and mix["g0"].sum() == pytest.approx(300.0)
