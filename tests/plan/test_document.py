"""The plan document: written and read through one PlanDoc; schema 1 files (before vLLM-style names) still read."""
from __future__ import annotations

import json

import pytest

from planner.api import solve
from planner.plan.document import plan_document, read_plan
from planner.schemas.plan import SCHEMA_VERSION


@pytest.fixture(scope="module")
def doc() -> dict:
    return plan_document(solve("workloads/chat.yaml"))


def test_round_trip_keeps_every_field(doc: dict) -> None:
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert plan_document(read_plan(json.loads(json.dumps(doc)))) == doc


def test_schema_1_names_are_read(doc: dict) -> None:
    old = json.loads(json.dumps(doc))
    old["schema_version"] = 1
    for pool in old["pools"]:
        pool["ttft_ms_p99"], pool["tpot_ms_p99"] = pool.pop("ttft_ms"), pool.pop("tpot_ms")
    plan = read_plan(old)
    assert [(p.ttft_ms, p.tpot_ms) for p in plan.pools] == [(p["ttft_ms"], p["tpot_ms"]) for p in doc["pools"]]
    assert all(p.ttft_ms is not None for p in plan.pools)


def test_cost_per_token_is_quoted_at_the_mean_rate(doc: dict) -> None:
    """One definition: $ / 1M output tokens at the trace's mean rate (the chat trace: mean / design < 1), so it
    is the design-rate figure divided by mean_over_design."""
    per = doc["cost_per_million_tokens"]
    assert per["basis"] == "mean" and 0 < per["mean_over_design"] < 1
    assert doc["cost_per_million_output_tokens"] == pytest.approx(per["mean"]["output"], rel=1e-6)
    assert per["mean"]["output"] == pytest.approx(per["design"]["output"] / per["mean_over_design"], rel=1e-3)
