"""A solved plan replayed on its own trace meets its SLOs; the same plan with a pool halved does not."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from planner import api
from planner.errors import WorkloadError
from planner.simulate.replay import SimOptions
from planner.verify import build_fleet, read_plan, requests_for, run_fleet, simulate_plan, verify_plan

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


def test_halving_a_pool_visibly_fails(chat_plan):
    fleet = build_fleet(read_plan(chat_plan))
    trace = requests_for(fleet)
    k = max(range(len(fleet.pools)), key=lambda i: fleet.pools[i].replicas)
    pools = list(fleet.pools)
    pools[k] = replace(pools[k], replicas=max(1, pools[k].replicas // 2))
    result = run_fleet(replace(fleet, pools=pools), trace, SimOptions())
    assert not result.met
    assert result.summary["pools"][k]["slo_attainment"] < 0.9


def test_repair_adds_replicas_until_the_slos_hold(chat_plan):
    pool = max(chat_plan.pools, key=lambda p: p.replicas)
    half = max(1, pool.replicas // 2)
    cut = replace(pool, replicas=half, gpus=half * pool.tp, cost_per_hour=pool.cost_per_hour / pool.replicas * half)
    weak = replace(chat_plan, pools=tuple(cut if p is pool else p for p in chat_plan.pools))
    check = verify_plan(weak, repair=True, max_rounds=6)
    assert check.result.met
    added = check.added[pool.key]
    assert added >= 1 and check.extra_cost_per_hour == pytest.approx(pool.cost_per_hour / pool.replicas * added)
    assert check.plan.cost_per_hour == pytest.approx(weak.cost_per_hour + check.extra_cost_per_hour)
    assert any("verify --repair added" in n for n in check.plan.notes)


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
