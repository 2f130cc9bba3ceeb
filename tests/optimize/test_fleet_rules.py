"""Fleet rules and instances in the MILP (planner.optimize.formulation, .tradeoffs) on problems solved by hand."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.optimize.fleet import SolverSettings, optimize_fleet
from planner.optimize.problem import FleetProblem, FleetRules, Shape
from planner.optimize.solvers import SolveStatus
from planner.optimize.tradeoffs import binding_rules, pool_candidates, relaxations, simplest_within
from planner.schemas.replica import ReplicaSpec

SETTINGS = SolverSettings()


def _problem(configs, costs, caps, rates, rho=1.0, **extra) -> FleetProblem:
    """`configs`: (gpu, tp) per config; `caps[k][b]` req/s of one replica."""
    specs = tuple(ReplicaSpec("m", gpu, "bf16", "fp16", tp) for gpu, tp in configs)
    return FleetProblem(specs, np.array(costs, float), np.array(caps, float), np.array(rates, float), rho, **extra)


def _fleet(problem: FleetProblem) -> tuple[dict[str, int], dict[str, int], float | None]:
    out = optimize_fleet(problem, SETTINGS)
    if out.solution is None:
        return {}, {}, None
    return {s.key: n for s, n in out.solution.replicas.items()}, out.solution.instances, out.cost_per_hour


def test_seven_gpus_of_need_buy_one_eight_gpu_instance():
    # One tp1 replica serves 1 req/s; 7 req/s at rho 1 -> 7 replicas = 7 GPUs.
    # 7 x the 1-GPU shape ($1.50) = $10.50 > one 8-GPU shape ($8.00): one 8-GPU instance, one GPU idle.
    shapes = (Shape("x.1", "x", 1, 1.5), Shape("x.8", "x", 8, 8.0))
    replicas, instances, cost = _fleet(_problem([("x", 1)], [1.0], [[1.0]], [7.0], shapes=shapes))
    assert replicas == {"x/bf16/tp1": 7} and instances == {"x.8": 1} and cost == pytest.approx(8.0)
    # At 4 req/s: 4 x $1.50 = $6 < $8, so four small instances.
    assert _fleet(_problem([("x", 1)], [1.0], [[1.0]], [4.0], shapes=shapes))[1] == {"x.1": 4}


def test_tp_group_stays_inside_one_instance_unless_allowed():
    # Only a tp2 config exists (2 req/s per replica) and only 1-GPU instances are sold ($1 each): a tp2 group
    # cannot be placed, so no fleet; allowing cross-instance TP, 4 req/s -> 2 replicas -> 4 instances = $4.
    shapes = (Shape("x.1", "x", 1, 1.0),)
    base = _problem([("x", 2)], [2.0], [[2.0]], [4.0], shapes=shapes)
    assert optimize_fleet(base, SETTINGS).status == SolveStatus.INFEASIBLE
    replicas, instances, cost = _fleet(replace(base, cross_instance_tp=True))
    assert (replicas, instances, cost) == ({"x/bf16/tp2": 2}, {"x.1": 4}, pytest.approx(4.0))


def test_mixed_tp_sizes_pack_into_instances():
    # tp2 (bucket 0 only, 2 req/s) and tp1 (bucket 1 only, 1 req/s): demand 2 and 2 -> 1 tp2 + 2 tp1 = 4 GPUs.
    # Shapes: 2-GPU at $2.5 and 4-GPU at $4: one 4-GPU instance holds all ($4 < 2 x $2.5).
    shapes = (Shape("x.2", "x", 2, 2.5), Shape("x.4", "x", 4, 4.0))
    replicas, instances, cost = _fleet(_problem([("x", 2), ("x", 1)], [2.0, 1.0], [[2.0, 0.0], [0.0, 1.0]], [2.0, 2.0], shapes=shapes))
    assert replicas == {"x/bf16/tp2": 1, "x/bf16/tp1": 2} and instances == {"x.4": 1} and cost == pytest.approx(4.0)


def test_gpu_cap_forces_a_second_gpu_type():
    # a: $1/h, 1 req/s; b: $3/h, 2 req/s. 4 req/s: 4 x a = $4 (b: 2 x $3 = $6). Cap a at 2 GPUs ->
    # 2 x a (2 req/s) + 1 x b (2 req/s) = $5; the cap's price is $1/h.
    problem = _problem([("a", 1), ("b", 1)], [1.0, 3.0], [[1.0], [2.0]], [4.0])
    assert _fleet(problem)[0] == {"a/bf16/tp1": 4}
    capped = problem.with_rules(FleetRules(gpu_caps={"a": 2}))
    best = optimize_fleet(capped, SETTINGS)
    assert _fleet(capped)[0] == {"a/bf16/tp1": 2, "b/bf16/tp1": 1} and best.cost_per_hour == pytest.approx(5.0)
    [effect] = binding_rules(capped, SETTINGS, best)
    assert effect.rule == "gpu_caps" and effect.cost_without == pytest.approx(4.0)


def test_n_plus_one_adds_exactly_one_replica_to_a_single_pool_plan():
    # 2.5 req/s on 1 req/s replicas at rho 1 -> 3 replicas; N+1: the load must fit in n - 1 -> 4.
    problem = _problem([("a", 1)], [1.0], [[1.0]], [2.5])
    assert _fleet(problem)[0] == {"a/bf16/tp1": 3}
    assert _fleet(problem.with_rules(FleetRules(redundancy=True)))[0] == {"a/bf16/tp1": 4}


def test_min_replicas_per_pool():
    # Two buckets, each best on its own GPU (a serves bucket 0 at 1 req/s, b bucket 1); 0.5 req/s each.
    # Without the rule: 1 + 1 replicas. min_replicas 2 -> 2 + 2 ($4), unless one pool serves both (none can).
    problem = _problem([("a", 1), ("b", 1)], [1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5])
    assert _fleet(problem.with_rules(FleetRules(min_replicas=2)))[0] == {"a/bf16/tp1": 2, "b/bf16/tp1": 2}


def test_pool_count_limit_changes_the_answer_and_the_simplest_plan():
    # a: $1/h, bucket 0 at 1 req/s, bucket 1 at 0.25; b: $1/h, bucket 0 at 0.25, bucket 1 at 1. Demand 1 and 1.
    # Two pools: 1 a + 1 b = $2. One pool: all on a -> 1/1 + 1/0.25 = 5 replicas = $5 (same on b).
    problem = _problem([("a", 1), ("b", 1)], [1.0, 1.0], [[1.0, 0.25], [0.25, 1.0]], [1.0, 1.0])
    best = optimize_fleet(problem, SETTINGS)
    assert best.cost_per_hour == pytest.approx(2.0)
    one = problem.with_rules(FleetRules(max_pools=1))
    assert _fleet(one)[2] == pytest.approx(5.0) and len(_fleet(one)[0]) == 1
    # The simplest plan within 100 % ($4) does not exist with 1 pool ($5); within 150 % it is the 1-pool fleet.
    assert simplest_within(problem, SETTINGS, best, 1.0) is None
    assert simplest_within(problem, SETTINGS, best, 1.5).cost_per_hour == pytest.approx(5.0)


def test_pair_screen_keeps_the_pairs_that_can_be_within_the_ceiling():
    # Demand 1 and 1 req/s, rho 1. a ($1): caps 1, 0.25; b ($1): 0.25, 1; c ($3): 1, 1.
    # Bounds: a alone 1/1 + 1/0.25 = $5 (b alone $5), c alone 1/1 x 3 + 1/1 x 3 = $6; a+b: 1 + 1 = $2,
    # a+c: bucket 0 on a ($1), bucket 1 on c ($3) = $4 (b+c $4). Ceiling $3: only a and b can be used.
    problem = _problem([("a", 1), ("b", 1), ("c", 1)], [1.0, 1.0, 3.0], [[1.0, 0.25], [0.25, 1.0], [1.0, 1.0]], [1.0, 1.0])
    assert pool_candidates(problem, 3.0, 2) == [0, 1]
    assert pool_candidates(problem, 4.0, 2) == [0, 1, 2]
    assert pool_candidates(problem, 1.9, 2) == []


def test_simplest_two_pool_fleet_matches_the_full_milp_on_random_problems():
    # The screened two-pool solve must find the same cost as the two-pool MILP over every config (15 of the 20
    # draws have an optimum of three or more pools).
    rng = np.random.default_rng(7)
    for _ in range(20):
        k, b = 6, 5
        caps = rng.uniform(0.2, 2.0, (k, b)) * (rng.random((k, b)) > 0.3)
        caps[0] = rng.uniform(0.2, 2.0, b)  # one config serves everything, so the problem is feasible
        problem = _problem([(f"g{i}", 1) for i in range(k)], rng.uniform(1, 4, k), caps, rng.uniform(0.5, 3, b), rho=0.8)
        best = optimize_fleet(problem, SETTINGS)
        if len(best.solution.replicas) < 3:
            continue
        two = optimize_fleet(problem.with_rules(FleetRules(max_pools=2)), SETTINGS).cost_per_hour
        simpler = simplest_within(problem, SETTINGS, best, two / best.cost_per_hour - 1 + 1e-9)
        assert simpler is not None and simpler.cost_per_hour == pytest.approx(two)  # a one-pool fleet costs at least as much


def test_screened_three_pool_fleet_matches_the_full_milp_on_random_problems():
    # The 3-pool MILP over pool_candidates has the full 3-pool MILP's cost whenever that is within the ceiling (here
    # the ceiling is that cost, the tightest case), and the screen drops configs on most draws.
    rng = np.random.default_rng(11)
    dropped = 0
    for _ in range(20):
        k, b = 8, 6
        caps = rng.uniform(0.2, 2.0, (k, b)) * (rng.random((k, b)) > 0.3)
        caps[0] = rng.uniform(0.2, 2.0, b)
        problem = _problem([(f"g{i}", 1) for i in range(k)], rng.uniform(1, 4, k), caps, rng.uniform(0.5, 3, b), rho=0.8)
        three = problem.with_rules(FleetRules(max_pools=3))
        full = optimize_fleet(three, SETTINGS).cost_per_hour
        keep = pool_candidates(problem, full + 1e-9, 3)
        dropped += keep != list(range(k))
        assert optimize_fleet(three.restricted(keep), SETTINGS).cost_per_hour == pytest.approx(full)
    assert dropped >= 10


def test_pool_overhead_merges_pools():
    # Same problem with $4/h per pool: two pools cost 2 + 8 = $10, one pool 5 + 4 = $9 -> one pool.
    problem = _problem([("a", 1), ("b", 1)], [1.0, 1.0], [[1.0, 0.25], [0.25, 1.0]], [1.0, 1.0],
                       rules=FleetRules(pool_overhead_per_hour=4.0))
    replicas, _, cost = _fleet(problem)
    assert len(replicas) == 1 and cost == pytest.approx(9.0)


def test_power_cap_picks_the_efficient_gpu():
    # a: $1/h, 1 req/s, 700 W; b: $2/h, 1 req/s, 100 W. 2 req/s: 2 x a = $2 (1.4 kW). Cap 1 kW -> 1 a + 1 b
    # (800 W, $3); cap 0.5 kW -> 2 x b ($4, 200 W).
    problem = _problem([("a", 1), ("b", 1)], [1.0, 2.0], [[1.0], [1.0]], [2.0], watts=np.array([700.0, 100.0]))
    assert _fleet(problem.with_rules(FleetRules(power_w=1000)))[2] == pytest.approx(3.0)
    assert _fleet(problem.with_rules(FleetRules(power_w=500)))[0] == {"b/bf16/tp1": 2}


def test_infeasible_rules_are_explained_one_relaxation_at_a_time():
    # 3 req/s on 1 req/s replicas at $1: $3 minimum. Budget $2 and N+1 both active: without the budget
    # the fleet is 4 replicas ($4); without N+1 still over budget ($3 > $2).
    problem = _problem([("a", 1)], [1.0], [[1.0]], [3.0], rules=FleetRules(budget_per_hour=2.0, redundancy=True))
    assert optimize_fleet(problem, SETTINGS).status == SolveStatus.INFEASIBLE
    effects = {e.rule: e.cost_without for e in relaxations(problem, SETTINGS)}
    assert effects == {"redundancy": None, "budget_per_hour": pytest.approx(4.0)}


def test_rules_relax_and_list_active():
    rules = FleetRules(max_pools=2, gpu_caps={"a": 1})
    assert rules.active() == ["max_pools", "gpu_caps"]
    assert rules.relaxed("gpu_caps").active() == ["max_pools"]


def test_single_pool_closed_form_matches_the_milp():
    # Three configs over two buckets; the closed form and the MILP with max_pools 1 agree on cost and config.
    from planner.optimize.tradeoffs import single_pool

    problem = _problem([("a", 1), ("b", 1), ("c", 2)], [1.0, 1.3, 2.0], [[1.0, 0.3], [0.7, 0.9], [3.0, 0.0]], [2.2, 0.8], rho=0.8)
    closed = single_pool(problem)
    milp = optimize_fleet(problem.with_rules(FleetRules(max_pools=1)), SETTINGS)
    assert closed.cost_per_hour == pytest.approx(milp.cost_per_hour)
    assert closed.solution.replicas == milp.solution.replicas


# ---- slots and tiers (planner.optimize.slots) ----
def _slotted(rates, hours, od, res, spot=None, **extra):
    from planner.optimize.slots import SlottedProblem

    n = len(od)
    specs = tuple(ReplicaSpec("m", f"g{k}", "bf16", "fp16", 1) for k in range(n))
    nan = np.full(n, np.nan)
    return SlottedProblem(specs, np.ones((n, 1)), np.array(rates, float).reshape(-1, 1), np.array(hours, float), 1.0,
                          np.array(od, float), np.array(res, float) if res is not None else nan,
                          np.array(spot, float) if spot is not None else nan, **extra)


def test_two_slots_reserve_exactly_the_baseline():
    # Slot A needs 2 replicas, slot B 4 (1 req/s each, rho 1), 365 h each. On-demand $1/h, reserved $0.6/h
    # (paid all 730 h). Reserving r: 0.6*730 r + 365 (max(0, 2-r) + max(0, 4-r)):
    # r=0: 2190, r=1: 1898, r=2: 1606, r=3: 1679, r=4: 1752 -> reserve 2 (the baseline), 2 more on demand in B.
    # (A 3rd reserved replica is busy half the time: 0.6 > 0.5 x $1, so it loses.)
    from planner.optimize.slots import optimize_slots

    out = optimize_slots(_slotted([2.0, 4.0], [365, 365], [1.0], [0.6]), SETTINGS)
    sol = out.solution
    # proven, not just found: slot prices (73, 365) per GPU (<= 365 on demand, adding up to 438 = the reserved
    # month) bound any fleet by 2 x 73 + 4 x 365 = 1606 (planner.optimize.reserve), the optimum itself
    assert out.status.value == "optimal" and out.result.gap <= 1e-6
    assert sol.reserved_gpus == {"g0": 2} and sol.on_demand_gpus == [{}, {"g0": 2}]
    assert [sum(d.values()) for d in sol.stable] == [2, 4] and sol.cost_per_month == pytest.approx(1606.0)
    # One fleet all day: 4 on demand = 2920 $/month; 4 reserved = 1752.
    problem = _slotted([2.0, 4.0], [365, 365], [1.0], [0.6])
    assert optimize_slots(problem.all_day("on-demand"), SETTINGS).solution.cost_per_month == pytest.approx(2920.0)
    assert optimize_slots(problem.all_day("reserved"), SETTINGS).solution.cost_per_month == pytest.approx(1752.0)


def test_spot_counts_net_of_its_loss_and_within_its_cap():
    # One slot of 730 h, 3 req/s. On-demand $1, spot $0.3 with 50 % loss: a spot replica counts as 0.5.
    # Spot capped at 4 GPUs: 4 spot (= 2 replicas' worth) + 1 on demand = 4 x 0.3 + 1 = $2.2/h < 3 on demand.
    from planner.optimize.slots import optimize_slots

    sol = optimize_slots(_slotted([3.0], [730], [1.0], None, [0.3], spot_loss=0.5, spot_gpus={"g0": 4}), SETTINGS).solution
    assert sum(sol.spot[0].values()) == 4 and sol.on_demand_gpus[0] == {"g0": 1}
    assert sol.cost_per_month == pytest.approx(2.2 * 730)


def test_two_models_share_a_reserved_pool():
    # Models A and B each on GPU g (tp1), one bucket each, 1 req/s per replica, rho 1, two slots of 365 h.
    # A needs 3 then 1 replicas, B 1 then 3: 4 GPUs in use in both slots. On-demand $1/h, reserved $0.6/h.
    # Reserved GPUs are shared, so 4 reserved GPUs serve A's peak in slot 1 and B's in slot 2:
    # 4 x 0.6 x 730 = $1,752/month. Reserving per model (3 + 3 at their peaks, or 1 + 1 with 2 + 2 on demand)
    # would cost more: 1 + 1 reserved and 2 on demand in each slot = 2 x 0.6 x 730 + 2 x 2 x 365 = $2,336.
    from planner.optimize.slots import SlottedProblem, optimize_slots

    specs = (ReplicaSpec("A", "g", "bf16", "fp16", 1), ReplicaSpec("B", "g", "bf16", "fp16", 1))
    caps = np.array([[1.0, 0.0], [0.0, 1.0]])  # a model's replica serves only its own model's bucket
    problem = SlottedProblem(specs, caps, np.array([[3.0, 1.0], [1.0, 3.0]]), np.array([365.0, 365.0]), 1.0,
                             np.array([1.0, 1.0]), np.array([0.6, 0.6]), np.full(2, np.nan))
    sol = optimize_slots(problem, SETTINGS).solution
    assert sol.reserved_gpus == {"g": 4} and sol.on_demand_gpus == [{}, {}]
    assert [{s.model: n for s, n in d.items()} for d in sol.stable] == [{"A": 3, "B": 1}, {"A": 1, "B": 3}]
    assert sol.cost_per_month == pytest.approx(1752.0)
