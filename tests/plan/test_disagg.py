"""engine.disaggregation end to end: the solver picks prefill + decode pools where they are cheaper (the agent
example), keeps co-located replicas where they are not (chat), the plan says by how much, and a replay of the
disaggregated plan meets its SLO."""
from __future__ import annotations

import pytest

import planner.api as api
from planner.errors import PlannerError
from planner.plan.document import plan_document, read_plan
from planner.simulate.verify import verify_plan

from tests.conftest import WORKLOADS


@pytest.fixture(scope="module")
def agent_plan():
    return api.solve(WORKLOADS / "agent.yaml")


def test_agent_example_disaggregates_and_says_by_how_much(agent_plan):
    roles = {p.spec.role for p in agent_plan.pools}
    assert {"prefill", "decode"} <= roles
    d = agent_plan.disaggregation
    assert d is not None and d.mode == "auto"
    off = api.solve(WORKLOADS / "agent.yaml", overrides={"engine.disaggregation": "off"})
    assert all(p.spec.role == "unified" for p in off.pools)
    # the record's co-located cost is that of the solve without disaggregation
    assert d.colocated_cost_per_hour == pytest.approx(off.cost_per_hour)
    assert d.saving_per_hour == pytest.approx(off.cost_per_hour - agent_plan.cost_per_hour)
    assert agent_plan.cost_per_hour < off.cost_per_hour
    assert any(b.disaggregated_share > 0 for b in d.buckets)
    # prefill shares plus co-located shares route each bucket whole; decode shares repeat the prefill ones
    for route in agent_plan.routing:
        front = sum(s for k, s in route.shares.items() if not k.endswith("/decode"))
        back = sum(s for k, s in route.shares.items() if k.endswith("/decode"))
        prefill = sum(s for k, s in route.shares.items() if k.endswith("/prefill"))
        assert front == pytest.approx(1.0) and back == pytest.approx(prefill)


def test_plan_document_round_trip_keeps_roles(agent_plan):
    doc = plan_document(agent_plan)
    assert {p["role"] for p in doc["pools"]} >= {"prefill", "decode"}
    again = read_plan(doc)
    assert [(p.key, p.spec.role) for p in again.pools] == [(p.key, p.spec.role) for p in agent_plan.pools]
    assert again.disaggregation == agent_plan.disaggregation


def test_chat_keeps_colocated_replicas():
    plan = api.solve(WORKLOADS / "chat.yaml")
    assert all(p.spec.role == "unified" for p in plan.pools)


def test_on_disaggregates_every_bucket():
    plan = api.solve(WORKLOADS / "agent.yaml", overrides={"engine.disaggregation": "on"})
    assert {p.spec.role for p in plan.pools} == {"prefill", "decode"}


def test_replay_of_the_disaggregated_plan_meets_its_slo(agent_plan):
    check = verify_plan(agent_plan, duration_s=300)
    summary = check.result.summary
    assert check.result.met, summary
    assert summary["slo_attainment"] >= 0.99
    pools = {row["pool"] for row in summary["pools"]}
    assert any(k.endswith("/decode") for k in pools) and any(k.endswith("/prefill") for k in pools)


@pytest.mark.parametrize("value, ok", [("auto", True), ("off", True), (False, True), ("sometimes", False)])
def test_switch_is_validated(value, ok):
    overrides = {"engine.disaggregation": value}
    if ok:
        api.load(WORKLOADS / "chat.yaml", overrides)
    else:
        with pytest.raises(PlannerError, match="'auto', 'off' or 'on'"):
            api.load(WORKLOADS / "chat.yaml", overrides)


def test_unknown_key_names_the_close_match(write):
    path = write("w.yaml", "model: llama-3.1-8b\nslo: {ttft_ms: 1000, tpot_ms: 50}\nengine: {disagregation: on}\n"
                           "traffic: {rate_rps: 1, histogram: [{input: [1, 100], output: [1, 100], share: 1}]}\n")
    with pytest.raises(PlannerError, match="disaggregation"):
        api.load(path)
