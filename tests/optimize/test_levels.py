"""Branching over reserved levels (planner.optimize.levels) on an instance with a duality gap, worked out by hand:
no slot prices prove the optimum, the boxes and points do."""
from __future__ import annotations

import numpy as np
import pytest

from planner.optimize.fleet import SolverSettings
from planner.schemas.replica import ReplicaSpec

SETTINGS = SolverSettings(mip_gap=1e-6, time_limit_s=30)


def _problem():
    """Two slots of 100 h (H = 200), one bucket at 4 then 2 req/s (rho 1). g0 serves 1 req/s per replica at $2/h on
    demand ($200 a slot) or $1/h reserved ($200 a month); g1 serves 4 req/s at $5/h, on demand only ($500 a slot).

    With R reserved g0, slot 1 costs V1 = 500, 500, 400, 200, 0 (R = 0..4: one g1, or g0 on demand for the rest) and
    slot 2 V2 = 400, 200, 0 (R = 0..2), so 200 R + V1 + V2 = 900, 900, 800, 800, 800: the optimum is $800/month.
    The Lagrangian is max over lam1 + lam2 <= 200 (lam_t <= 200) of min(4 lam1, 500) + 2 lam2 = 650 at (125, 75):
    it may mix slot 1's 4 g0 (0 other cost) with its g1 ($500) at half weight each, 2 g0 on average for $250."""
    from planner.optimize.slots import SlottedProblem

    specs = (ReplicaSpec("m", "g0", "bf16", "fp16", 1), ReplicaSpec("m", "g1", "bf16", "fp16", 1))
    return SlottedProblem(specs, np.array([[1.0], [4.0]]), np.array([[4.0], [2.0]]), np.array([100.0, 100.0]), 1.0,
                          np.array([2.0, 5.0]), np.array([1.0, np.nan]), np.full(2, np.nan))


def test_no_slot_prices_prove_the_optimum():
    from planner.optimize.reserve import next_prices, price_slots

    problem = _problem()
    best = price_slots(problem, {"g0": np.array([125.0, 75.0])}, SETTINGS, 30)
    assert best.bound == pytest.approx(650.0)
    # the cutting-plane LP over slot 1's two fleets and slot 2's one, over the whole box: 650 as well (docstring)
    columns = best.columns + price_slots(problem, {"g0": np.array([100.0, 100.0])}, SETTINGS, 30).columns
    assert sorted((c.slot, c.uses, c.rest) for c in columns) == [(0, (), 500.0), (0, (("g0", 4),), 0.0), (1, (("g0", 2),), 0.0),
                                                                  (1, (("g0", 2),), 0.0)]
    _, value = next_prices(problem, columns, {"g0": np.array([100.0, 100.0])}, 1e9, SETTINGS)
    assert value == pytest.approx(650.0)


def test_boxes_of_levels_bound_by_hand():
    # Evaluations a = (125, 75): slots 500 + 150; b = (200, 200), on demand: 500 + 400 (b's 400 of month is over the
    # reserved 200, so without a box only a counts: 650). R = 0: nothing reserved, b's slots as they are: 900, the
    # exact cost. R in 2..4: with weights w_t on b, a = 200 - (125 + 75 w1) - (75 + 125 w2) <= 0, so the reserved
    # part is 4 a: 650 + 250 w2 - 300 w1 - 500 w2, at most 650 (w = 0).
    from planner.optimize.reserve import Box, combined, price_slots

    problem = _problem()
    a = price_slots(problem, {"g0": np.array([125.0, 75.0])}, SETTINGS, 30)
    b = price_slots(problem, {"g0": np.array([200.0, 200.0])}, SETTINGS, 30)
    assert b.slots == [pytest.approx(500.0), pytest.approx(400.0)]
    assert combined(problem, [a, b], SETTINGS)[0] == pytest.approx(650.0)
    assert combined(problem, [a, b], SETTINGS, Box({"g0": 0}, {"g0": 0}))[0] == pytest.approx(900.0)
    assert combined(problem, [a, b], SETTINGS, Box({"g0": 2}, {"g0": 4}))[0] == pytest.approx(650.0)


def test_split_puts_the_best_levels_on_a_point_of_their_own():
    from planner.optimize.levels import _split
    from planner.optimize.reserve import Box

    boxes = _split(Box({"a": 0, "b": 0}, {"a": 3, "b": 5}), {"b": 2})
    assert [(x.lo, x.hi) for x in boxes] == [({"a": 0, "b": 0}, {"a": 3, "b": 1}), ({"a": 0, "b": 2}, {"a": 3, "b": 2}),
                                             ({"a": 0, "b": 3}, {"a": 3, "b": 5})]
    assert [(x.lo, x.hi) for x in _split(Box({"a": 0}, {"a": 3}), {})] == [({"a": 0}, {"a": 0}), ({"a": 1}, {"a": 3})]


def test_branching_proves_the_optimum_the_lagrangian_cannot():
    from planner.optimize.slots import optimize_slots

    out = optimize_slots(_problem(), SETTINGS)
    assert out.status.value == "optimal" and out.result.gap <= SETTINGS.mip_gap
    assert out.solution.cost_per_month == pytest.approx(800.0) and out.solution.reserved_gpus["g0"] in (2, 3, 4)


def test_a_slot_met_again_at_its_prices_is_not_solved_again():
    # (125, 75) then (125, 200): slot 1's price is the same, so its fleet and bound (500) come from `known` and only
    # slot 2 is solved again (2 g0 at $200 = 400, g1 would be 500): 900, one new column
    from planner.optimize.reserve import price_slots

    problem, known = _problem(), {}
    first = price_slots(problem, {"g0": np.array([125.0, 75.0])}, SETTINGS, 30, known=known)
    again = price_slots(problem, {"g0": np.array([125.0, 200.0])}, SETTINGS, 30, known=known)
    assert len(known) == 3 and first.bound == pytest.approx(650.0) and again.bound == pytest.approx(900.0)
    assert [(c.slot, c.uses, c.rest) for c in again.columns] == [(1, (("g0", 2),), 0.0)]
