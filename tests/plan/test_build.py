"""A plan's comparisons (single-GPU-type baselines, simplest plan) are the same whether a forked child works out
half of them or this process all (planner.plan.build.assemble_plan with a CPU to spare)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from planner import api, forked
from planner.plan.model import Plan
from tests.conftest import ROOT

CHAT = ROOT / "workloads" / "chat.yaml"
BATCH = ROOT / "workloads" / "batch.yaml"


def _timeless(plan: Plan) -> Plan:
    return replace(plan, runtime_s=0.0)


@pytest.mark.parametrize("workload,overrides", [(CHAT, ()), (CHAT, ("fleet.simplest_within=0.5",)), (BATCH, ())],
                         ids=["chat", "chat-simplest", "batch"])
def test_comparisons_in_a_child_equal_serial_ones(workload, overrides) -> None:
    serial = api.solve(workload, overrides=list(overrides))  # no on_pools hook: everything in this process
    split = api.solve(workload, overrides=list(overrides), on_pools=lambda plan: False)  # the hook leaves a CPU free
    # chat.yaml allows six GPU types; the l4-only MILP is infeasible (tests/golden/solve-chat.json)
    if workload == CHAT:
        assert [b.gpu for b in serial.baselines] == ["a100-40gb", "a100-80gb", "h100", "h200", "l4", "l40s"]
        assert sum(b.cost_per_hour is None for b in serial.baselines) == 1
    if overrides:  # within 50 % of the $21.67/h optimum (two pools) one pool of 2 x h100/fp8/tp2 at $27.52/h serves it
        assert serial.simplest is not None and serial.simplest.pools == {"h100/fp8/tp2/chunk2048": 2}
    assert _timeless(split) == _timeless(serial)


def test_one_cpu_works_out_every_comparison_here(monkeypatch) -> None:
    serial = api.solve(CHAT)
    monkeypatch.setattr(forked, "usable_cpus", lambda: 1)
    monkeypatch.setattr(forked.os, "fork", lambda: pytest.fail("forked with one CPU"))
    assert _timeless(api.solve(CHAT, on_pools=lambda plan: False)) == _timeless(serial)
