"""The utilization target is a hard limit: a knife-edge need (a whole number of replicas plus 1e-8 of one)
gets the extra replica the solver's feasibility tolerance would skip."""
from __future__ import annotations

import numpy as np
import pytest

from planner.optimize.fleet import optimize_fleet
from planner.optimize.formulation import FleetSolution
from planner.optimize.headroom import enforce_utilization
from planner.optimize.problem import FleetProblem, FleetRules, Shape
from planner.schemas.replica import ReplicaSpec

SPEC = ReplicaSpec("m", "g", "bf16", "fp16", 1)


def problem(rate: float, rho: float = 0.8, **kw) -> FleetProblem:
    # one config, one bucket: a replica serves 10 req/s, so rate 16 at rho 0.8 needs exactly 2 replicas
    return FleetProblem((SPEC,), np.array([2.0]), np.array([[10.0]]), np.array([rate]), rho, **kw)


@pytest.mark.parametrize("excess, expected", [(0.0, 2), (1e-8, 3), (1e-6, 3), (-1e-8, 2)])
def test_a_need_just_above_a_whole_number_buys_the_next_replica(excess, expected):
    rate = 16.0 * (1 + excess)  # need = rate / (10 x 0.8) = 2 x (1 + excess) replicas
    outcome = optimize_fleet(problem(rate))
    assert outcome.solution.replicas[SPEC] == expected
    util = rate / 10.0 / expected
    assert util <= 0.8 * (1 + 1e-12)
    assert outcome.cost_per_hour == pytest.approx(2.0 * expected)


def test_the_check_itself_is_exact_and_honours_n_plus_one_and_instances():
    sol = FleetSolution({SPEC: 2}, {(0, SPEC): 1.0})
    assert enforce_utilization(problem(16.0 * (1 + 1e-8)), sol).replicas[SPEC] == 3
    assert enforce_utilization(problem(16.0), sol) is sol
    n1 = problem(16.0, rules=FleetRules(redundancy=True))
    assert enforce_utilization(n1, sol).replicas[SPEC] == 3  # 2 for the load + 1 spare
    shaped = problem(16.0 * (1 + 1e-8), shapes=(Shape("box2", "g", 2, 5.0),))
    fixed = enforce_utilization(shaped, FleetSolution({SPEC: 2}, {(0, SPEC): 1.0}, {"box2": 1}))
    assert fixed.replicas[SPEC] == 3 and fixed.instances == {"box2": 2}
