"""The fleet MILP (formulation + solver adapter) on problems whose optimum is known by hand, on every installed solver."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from planner.optimize.formulation import FleetFormulation, dominated
from planner.optimize.problem import FleetProblem
from planner.optimize.solvers import SOLVERS as REGISTERED
from planner.optimize.solvers import SolveStatus, available_solvers, solve
from planner.schemas.replica import ReplicaSpec

SOLVERS = [pytest.param(s, id=s) for s in REGISTERED]


def _problem(costs, caps, rates, rho) -> FleetProblem:
    specs = tuple(ReplicaSpec("m", f"gpu{k}", "bf16", "fp16", 1) for k in range(len(costs)))
    return FleetProblem(specs, np.array(costs, float), np.array(caps, float), np.array(rates, float), rho)


def _formulation(costs, caps, rates, rho) -> FleetFormulation:
    return FleetFormulation(_problem(costs, caps, rates, rho))


def _solve(costs, caps, rates, rho, solver):
    form = _formulation(costs, caps, rates, rho)
    result = solve(form.model, solver)
    solution = form.decode(result.values)
    replicas = {int(spec.gpu[3:]): n for spec, n in solution.replicas.items()}
    return result, replicas


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_gpu_two_bucket_optimum(solver):
    if solver not in available_solvers():
        pytest.skip(f"{solver} not installed")
    # GPU A: $1/h, serves 5 req/s of bucket 0 or 1 req/s of bucket 1.  GPU B: $3/h, 10 or 8 req/s.
    # Demand: 10 req/s in bucket 0, 4 in bucket 1; rho = 1.
    # All-A needs 10/5 + 4/1 = 6 replicas ($6); all-B needs 10/10 + 4/8 = 1.5 -> 2 ($6).
    # One B takes all of bucket 1 (load 0.5) plus 5 req/s of bucket 0 (load 0.5); one A takes the other
    # 5 req/s of bucket 0 (load 1.0): $4. With no B, bucket 1 alone costs $4 on A; so $4 is optimal.
    result, replicas = _solve([1, 3], [[5, 1], [10, 8]], [10, 4], 1.0, solver)
    assert result.status == SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(4.0)
    assert replicas == {0: 1, 1: 1}


@pytest.mark.parametrize("solver", SOLVERS)
def test_utilization_target_adds_headroom(solver):
    if solver not in available_solvers():
        pytest.skip(f"{solver} not installed")
    # One config, 10 req/s at 4 req/s per replica: 2.5 replicas of load; at rho 0.8 that is 3.125 -> 4.
    result, replicas = _solve([2], [[4]], [10], 0.8, solver)
    assert replicas == {0: 4} and result.objective == pytest.approx(8.0)


def test_dominated_configs_are_pruned_but_ties_keep_one():
    costs = np.array([1.0, 2.0, 1.0, 5.0])
    caps = np.array([[5, 1], [1, 1], [5, 1], [6, 0]])
    # config 1 is dearer and no better than 0; config 2 ties with 0 exactly (0 is kept);
    # config 3 is dearer but better in bucket 0, so it stays.
    assert dominated(costs, caps).tolist() == [False, True, True, False]


def test_unservable_bucket_makes_milp_infeasible():
    # bucket 1 has traffic and no capacity anywhere: no variable can route it
    form = _formulation([1.0], [[5.0, 0.0]], [1.0, 1.0], 1.0)
    assert solve(form.model, "highs").status == SolveStatus.INFEASIBLE
    assert form.problem.unserved() == (1,)


def test_time_limit_is_reported_with_its_gap():
    """A solve stopped by the time limit says so, with its gap, and still returns its best plan."""
    rng = np.random.default_rng(0)
    costs = rng.uniform(1, 10, 120).round(4)
    caps = rng.uniform(0.5, 20, (120, 36)) * (rng.random((120, 36)) < 0.7)
    rates = rng.uniform(1, 50, 36)
    model = _formulation(costs, caps, rates, 0.8).model
    stopped = solve(model, "highs", 0.05, 1e-9)
    if stopped.status != SolveStatus.TIME_LIMIT:  # no incumbent yet, or proven optimal, on this machine's speed
        pytest.skip(f"HiGHS ended with {stopped.status} within 0.05 s here")
    assert stopped.gap > 0 and stopped.objective is not None
    full = solve(model, "highs", 60, 1e-9)
    assert full.status == SolveStatus.OPTIMAL and full.objective <= stopped.objective + 1e-9


@pytest.mark.parametrize("solver", SOLVERS)
def test_solving_never_mutates_the_model(solver):
    """The adapter translates the model afresh each time: the same model solves twice to the same answer."""
    if solver not in available_solvers():
        pytest.skip(f"{solver} not installed")
    model = _formulation([1, 3], [[5, 1], [10, 8]], [10, 4], 1.0).model
    before = copy.deepcopy(model)
    first, second = solve(model, solver), solve(model, solver)
    assert model == before
    assert first.values == second.values and first.objective == pytest.approx(4.0)


def test_formulation_rows_and_bounds():
    """x[b,k] only where cap > 0; n_k bounded by all its servable load on it alone over rho, rounded up."""
    form = _formulation([1, 3], [[5, 0], [10, 8]], [10, 4], 0.8)
    names = [v.name for v in form.model.variables]
    assert names == ["x_0_0", "x_0_1", "x_1_1", "n_0", "n_1"]
    # n_0 can take only bucket 0: 10/5 = 2 replicas of load -> ceil(2 / 0.8) = 3
    # n_1 both: 10/10 + 4/8 = 1.5 -> ceil(1.5 / 0.8) = 2
    assert [v.upper for v in form.model.variables[3:]] == [3, 2]
    assert [c.name for c in form.model.constraints] == ["route_0", "route_1", "room_0", "room_1"]


def test_unknown_solver_falls_back_with_a_warning(caplog):
    result = solve(_formulation([2], [[4]], [10], 0.8).model, "nope")
    assert result.solver in available_solvers() and "not available" in caplog.text
