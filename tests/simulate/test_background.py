"""The replay in a forked child gives what the replay in the parent gives; without fork, or when the child fails,
the parent replays itself (planner.simulate.background)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from planner import api, forked
from planner.simulate.background import PendingReplay
from planner.simulate.replay import SimOptions
from planner.simulate.verify import verify_plan

CHAT = Path(__file__).resolve().parents[2] / "workloads" / "chat.yaml"
needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or forked.usable_cpus() < 2, reason="needs fork and 2 CPUs")


@pytest.fixture(scope="module")
def chat_plan():
    return api.solve(CHAT)


@needs_fork
def test_the_forked_replay_equals_the_parents(chat_plan) -> None:
    pending = PendingReplay(chat_plan, SimOptions(seed=3))
    assert pending.child is not None
    forked = pending.verification(chat_plan)
    here = verify_plan(chat_plan, options=SimOptions(seed=3))
    assert forked.plan is chat_plan and forked.result.summary == here.result.summary
    assert forked.result.summary["completed"] > 5000


def test_one_cpu_replays_in_the_parent(chat_plan, monkeypatch) -> None:
    monkeypatch.setattr(forked, "usable_cpus", lambda: 1)
    pending = PendingReplay(chat_plan, SimOptions(seed=3))
    assert pending.child is None
    assert pending.verification(chat_plan).result.summary == verify_plan(chat_plan, options=SimOptions(seed=3)).result.summary


def test_solve_calls_on_pools_once_with_the_final_pools(chat_plan) -> None:
    seen = []
    plan = api.solve(CHAT, on_pools=seen.append)
    assert len(seen) == 1
    core = seen[0]
    assert core.baselines == () and plan.baselines  # the hook runs before the comparisons
    assert [p.key for p in core.pools] == [p.key for p in plan.pools] and core.routing == plan.routing
    assert core.cost_per_hour == plan.cost_per_hour == chat_plan.cost_per_hour
