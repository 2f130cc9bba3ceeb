"""The single-GPU-type baselines are the same whether half of them are solved in a forked child or all here
(planner.plan.build.baselines, `spare_cpu`)."""
from __future__ import annotations

import pytest

from planner import api, forked
from planner.optimize.fleet import SolverSettings
from planner.plan.build import baselines
from planner.plan.fleet import fleet_setup
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def chat():
    problem = api.prepare(ROOT / "workloads" / "chat.yaml")
    return problem, fleet_setup(problem.loaded, problem.catalog, problem.table)


def _baselines(chat, spare_cpu: bool) -> tuple:
    problem, setup = chat
    return baselines(problem.table, problem.demand, problem.loaded.workload.utilization_target, SolverSettings(), setup, spare_cpu)


def test_split_baselines_equal_serial_ones(chat) -> None:
    serial = _baselines(chat, False)
    # chat.yaml allows six GPU types; the l4-only MILP is infeasible (tests/golden/solve-chat.json)
    assert [b.gpu for b in serial] == ["a100-40gb", "a100-80gb", "h100", "h200", "l4", "l40s"]
    assert sum(b.cost_per_hour is None for b in serial) == 1
    assert _baselines(chat, True) == serial


def test_one_cpu_solves_every_baseline_here(chat, monkeypatch) -> None:
    serial = _baselines(chat, False)
    monkeypatch.setattr(forked, "usable_cpus", lambda: 1)
    assert _baselines(chat, True) == serial
