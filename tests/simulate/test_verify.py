"""A solved plan replayed on its own trace meets its SLOs; at twice its design load it does not, and repair fixes that."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner import api
from planner.errors import WorkloadError
from planner.simulate.replay import SimOptions
from planner.plan.document import read_plan
from planner.simulate.verify import build_fleet, requests_for, run_fleet, simulate_plan, verify_plan

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "workloads" / "chat.yaml"
BATCH = ROOT / "workloads" / "batch.yaml"


@pytest.fixture(scope="module")
def chat_plan():
    if not CHAT.is_file():
        pytest.skip("workloads/chat.yaml is absent")
    return api.solve(CHAT)


def test_solved_plan_meets_its_slos_on_its_own_trace(chat_plan):
    check = verify_plan(chat_plan)
    s = check.result.summary
    assert s["rejected"] == 0 and s["completed"] == s["requests"] > 5000
    assert s["slo_attainment"] >= 0.99
    assert check.result.met and not check.added and check.extra_cost_per_hour == 0


def test_twice_the_design_load_visibly_fails(chat_plan):
    # doubling the arrival rate halves every pool's headroom (a plan of 1-replica pools cannot be halved)
    fleet = build_fleet(read_plan(chat_plan))
    trace = requests_for(fleet, rate_scale=2.0)
    result = run_fleet(fleet, trace, SimOptions())
    assert not result.met
    assert min(pool["slo_attainment"] for pool in result.summary["pools"]) < 0.9


def test_repair_adds_replicas_until_the_slos_hold(chat_plan):
    check = verify_plan(chat_plan, repair=True, max_rounds=6, rate_scale=2.0)
    assert check.result.met and check.rounds >= 1 and check.added
    per_replica = {p.key: p.cost_per_hour / p.replicas for p in chat_plan.pools}
    assert check.extra_cost_per_hour == pytest.approx(sum(per_replica[key] * n for key, n in check.added.items()))
    assert check.plan.cost_per_hour == pytest.approx(chat_plan.cost_per_hour + check.extra_cost_per_hour)
    for pool in check.plan.pools:
        assert pool.replicas == {p.key: p.replicas for p in chat_plan.pools}[pool.key] + check.added.get(pool.key, 0)
    assert any("verify --repair added" in n for n in check.plan.notes)
    assert check.plan.status == "repaired" and check.plan.to_dict()["status"] == "repaired"
    assert all(row["slo_met"] for row in check.result.summary["pools"])  # met means every pool, not the average


def test_histogram_workload_is_drawn_at_its_rate(tmp_path):
    if not BATCH.is_file():
        pytest.skip("workloads/batch.yaml is absent")
    plan = api.solve(BATCH)
    fleet = build_fleet(read_plan(plan))
    trace = requests_for(fleet, duration_s=200, seed=1)
    # 6 req/s for 200 s: 1,200 expected, Poisson sd 35
    assert abs(len(trace) - 1200) < 4 * 35
    assert trace.input_tokens.min() >= 256 and trace.input_tokens.max() < 7000
    assert trace.output_tokens.min() >= 128 and trace.output_tokens.max() < 2048


def test_bad_plan_file_errors_point_at_the_field(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"schema_version": 1, "pools": [{"gpu": "h100"}], "routing": [], "inputs": {"workload": {}}}))
    with pytest.raises(WorkloadError) as err:
        simulate_plan(path)
    assert f"{path}:1: pools[0].quant: Field required" in str(err.value)


def test_one_pool_cut_to_half_its_replicas_visibly_fails():
    """The issue's check, on a plan large enough to halve: chat at 160 req/s has multi-replica pools."""
    from dataclasses import replace

    plan = api.solve(CHAT, overrides={"traffic.target_rps": 160})
    biggest = max(plan.pools, key=lambda p: (p.replicas, p.key))
    assert biggest.replicas >= 2
    kept = biggest.replicas // 2
    cut = replace(biggest, replicas=kept, cost_per_hour=biggest.cost_per_hour * kept / biggest.replicas)
    halved = replace(plan, pools=tuple(cut if p is biggest else p for p in plan.pools))
    assert verify_plan(plan).result.met
    result = verify_plan(halved).result
    assert not result.met
    pool = next(p for p in result.summary["pools"] if p["pool"].startswith(biggest.key))
    assert pool["slo_attainment"] < 0.9
