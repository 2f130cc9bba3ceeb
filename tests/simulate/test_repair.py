"""Repair both ways: a pool three times too large is shrunk by bisection while the SLOs hold in replay; solve
replays a small trace's plan by default and shows the attainment next to the cost."""
from __future__ import annotations

import json
from dataclasses import replace

from click.testing import CliRunner

from planner import api
from planner.cli.main import cli
from planner.simulate.verify import REPLAY_MAX_REQUESTS, replay_skipped, verify_plan
from tests.conftest import WORKLOADS
from tests.optimize.test_scope import RARE


def test_repair_shrinks_an_oversized_pool_and_the_slos_still_hold() -> None:
    # the fleet-scope plan of tests/optimize/test_scope.py is 1 x A100-80GB TP2 ($6.8618/h); bought 5, bisection on the
    # count between 0 (assumed to miss) and 5: 2 holds, 1 holds: 2 replays, 4 replicas removed, back at $6.86/h
    plan = api.solve({**RARE, "slo": {**RARE["slo"], "scope": "fleet"}})
    pool = plan.pools[0]
    assert (pool.key, pool.replicas) == ("a100-80gb/bf16/tp2", 1)
    fat = replace(plan, pools=(replace(pool, replicas=5, cost_per_hour=5 * pool.cost_per_replica_hour),),
                  cost_per_hour=5 * pool.cost_per_replica_hour)
    check = verify_plan(fat, repair=True)
    assert check.removed == {pool.key: 4} and not check.added and check.rounds == 2
    assert check.result.met and check.result.summary["slo_attainment"] >= 0.99
    assert check.plan.status == "repaired" and round(check.plan.cost_per_hour, 2) == 6.86
    assert check.extra_cost_per_hour == -4 * pool.cost_per_replica_hour
    assert check.plan.notes[-1].startswith(f"verify --repair removed 4 x {pool.key} (-$27.45/hour)")


def test_solve_replays_a_small_trace_by_default() -> None:
    chat = WORKLOADS / "chat.yaml"
    out = CliRunner().invoke(cli, ["solve", str(chat)])
    assert out.exit_code == 0, out.output
    line = next(ln for ln in out.output.splitlines() if ln.startswith(" replay"))
    assert "of requests within both SLOs: p99 met" in line and "6,723 requests replayed, seed 0" in out.output
    doc = json.loads(CliRunner().invoke(cli, ["solve", str(chat), "--format", "json"]).output)
    assert doc["verification"]["slo_met"] is True and doc["verification"]["simulation"]["requests"] == 6723
    skipped = CliRunner().invoke(cli, ["solve", str(chat), "--no-replay", "--format", "json"]).output
    assert "verification" not in json.loads(skipped)


def test_replay_is_skipped_where_it_is_not_cheap() -> None:
    plan = api.solve(WORKLOADS / "batch.yaml")
    assert replay_skipped(plan).startswith("the workload has no trace")
    chat = api.solve(WORKLOADS / "chat.yaml")
    assert replay_skipped(chat) is None
    big = replace(chat, demand=chat.demand.model_copy(update={"requests": REPLAY_MAX_REQUESTS + 1}))
    assert f"the trace has {REPLAY_MAX_REQUESTS + 1:,} requests" in replay_skipped(big)
