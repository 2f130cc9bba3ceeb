"""What-if studies: compare/diff equal the separate solves, --fail-above exit codes, sweep grids, sensitivity, frontier."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from planner.studies.compare import CostChange, compare, diff
from planner.studies.sensitivity import sensitivity
from planner.studies.sweep import expand_grid, parse_param, sweep
from planner.cli.main import cli
from planner.errors import WorkloadError
from planner.report.whatif_text import format_change
from tests.studies.whatif_workload import WORKLOAD


@pytest.fixture
def path(write):
    return write("w.yaml", WORKLOAD)


def test_format_change_is_infracost_style():
    assert format_change(CostChange(12300.4, 0.18)) == "+$12,300/month (+18 %)"
    assert format_change(CostChange(-450.0, -0.052)) == "-$450/month (-5 %)"
    assert format_change(None) == "-"


def test_parse_param_ranges_lists_and_sets():
    assert parse_param("slo.tpot_ms=20:100:10") == ("slo.tpot_ms", [20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert parse_param("traffic.rate_scale=0.5:1.5:0.25")[1] == [0.5, 0.75, 1, 1.25, 1.5]
    assert parse_param("traffic.rate_scale=1,2,4") == ("traffic.rate_scale", [1, 2, 4])
    assert parse_param("gpus=[h100],[h100, l4]") == ("gpus", [["h100"], ["h100", "l4"]])
    with pytest.raises(WorkloadError, match=r"^--param slo.tpot_ms=50:20:10: need STEP > 0 and HI >= LO$"):
        parse_param("slo.tpot_ms=50:20:10")
    with pytest.raises(WorkloadError, match="three finite numbers"):
        parse_param("slo.tpot_ms=a:b:c")
    assert len(expand_grid({"a": [1, 2, 3], "b": ["x", "y"]})) == 6


def test_compare_equals_the_separate_solves(path):
    comp = compare(path, ["base", "growth", "a100-only"])
    for col in comp.columns:
        plan = planner.solve(path, scenario=col.name)
        assert col.summary["cost_per_month"] == round(plan.cost_per_month, 2)
        assert col.summary["gpus_by_type"] == plan.gpus_by_type
        assert col.summary["tpot_ms"] == max(p.tpot_ms for p in plan.pools)
    base, growth, a100 = (c.summary["cost_per_month"] for c in comp.columns)
    changes = comp.changes()
    assert changes[0] == CostChange(0.0, 0.0)
    assert changes[1].usd_per_month == pytest.approx(growth - base) and changes[1].fraction == pytest.approx((growth - base) / base)
    assert a100 >= base  # fewer GPU types can never be cheaper
    assert list(comp.columns[2].summary["gpus_by_type"]) == ["a100-80gb"]


def test_compare_unknown_scenario_fails_before_solving(path):
    result = CliRunner().invoke(cli, ["compare", str(path), "--scenario", "base,grwth"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --scenario: unknown scenario 'grwth' (did you mean 'growth'?)"


def _save(path, tmp_path, name, **kw):
    out = tmp_path / name
    out.write_text(planner.solve(path, **kw).to_json())
    return out


def test_diff_and_fail_above_exit_codes(path, tmp_path):
    old, new = _save(path, tmp_path, "old.json"), _save(path, tmp_path, "new.json", scenario="growth")
    old_cost, new_cost = (json.loads(p.read_text())["cost_per_month"] for p in (old, new))
    comp = diff(old, new)
    assert [c.summary["cost_per_month"] for c in comp.columns] == [old_cost, new_cost]
    growth_pct = (new_cost - old_cost) / old_cost * 100
    runner = CliRunner()
    ok = runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", f"{growth_pct + 1:.2f}"])
    assert ok.exit_code == 0, ok.output
    assert f"+${new_cost - old_cost:,.0f}/month (+{growth_pct:.0f} %)" in ok.output
    fail = runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", f"{growth_pct - 1:.2f}"])
    assert fail.exit_code == 1 and "error: the monthly cost grows by" in fail.output
    shrink = runner.invoke(cli, ["diff", str(new), str(old), "--fail-above", "0"])
    assert shrink.exit_code == 0  # cost went down
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(cli, ["diff", str(bad), str(new)])
    assert res.exit_code == 2 and res.output.strip() == f"error: {bad}:1: not valid JSON: Expecting property name enclosed in double quotes"


def test_diff_is_infracost_shaped_with_money_and_percent_gates(path, tmp_path):
    old, new = _save(path, tmp_path, "old.json"), _save(path, tmp_path, "new.json", scenario="growth")
    a, b = planner.solve(path), planner.solve(path, scenario="growth")
    comp = diff(old, new)
    # every changed pool is one line; their monthly changes add up to the total change
    assert sum(p.usd_per_month for p in comp.pools) == pytest.approx(comp.changes()[1].usd_per_month, abs=0.02)
    keys = {p.key for p in a.pools} | {p.key for p in b.pools}
    assert {p.key for p in comp.pools} <= keys and all(p.action in "+-~" for p in comp.pools)
    out = CliRunner().invoke(cli, ["diff", str(old), str(new)]).output
    for p in comp.pools:
        assert next(ln for ln in out.splitlines() if ln.startswith(f"{p.action} {p.key} ")).endswith("/month")
    assert "Monthly cost change: +$" in out and "pools changed:" in out
    grown = comp.changes()[1].usd_per_month
    runner = CliRunner()
    assert runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", f"${grown + 10:.0f}"]).exit_code == 0
    money = runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", f"${grown - 10:.0f}"])
    assert money.exit_code == 1 and "more than the allowed $" in money.output
    assert runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", "5%"]).exit_code == 1
    assert runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", "500%"]).exit_code == 0
    for bad in ("nan", "inf", "-5%", "five"):
        res = runner.invoke(cli, ["diff", str(old), str(new), "--fail-above", bad])
        assert res.exit_code == 2 and "--fail-above" in res.output and "Traceback" not in res.output
    same = runner.invoke(cli, ["diff", str(old), str(old)]).output
    assert "no pool changed" in same and "Monthly cost change: $0/month" in same


def test_sweep_rows_include_infeasible_points_with_reason(path):
    result = sweep(path, {"slo.tpot_ms": [1, 50], "traffic.rate_scale": [1, 2]}, jobs=1)
    assert [(r["slo.tpot_ms"], r["traffic.rate_scale"]) for r in result.records] == [(1, 1), (1, 2), (50, 1), (50, 2)]
    infeasible = result.records[0]
    assert infeasible["status"] == "infeasible" and "TPOT 1 ms cannot be met" in infeasible["reason"]
    assert infeasible["cost_per_hour"] is None and infeasible["gpus_by_type"] == {}
    assert result.records[2]["cost_per_month"] == round(planner.solve(path).cost_per_month, 2)
    assert result.records[3]["cost_per_month"] == round(planner.solve(path, scenario="growth").cost_per_month, 2)
    frame = result.to_frame()
    assert list(frame.columns[:3]) == ["slo.tpot_ms", "traffic.rate_scale", "status"]
    assert frame.filter(like="gpus_").iloc[0].sum() == 0


def test_sweep_cli_json_csv_and_plots(path, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["sweep", str(path), "--param", "slo.tpot_ms=30,50", "--format", "json", "--jobs", "1",
                              "--plots", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["slo.tpot_ms"] for r in rows] == [30, 50]
    assert {"status", "cost_per_hour", "cost_per_month", "gpus_by_type"} <= set(rows[0])
    for name in ("cost_vs_slo_tpot_ms.png", "fleet_composition.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(cli, ["sweep", str(path), "--param", "slo.tpot=1,2"])
    assert bad.exit_code == 2 and "unknown key 'tpot' (did you mean 'tpot_ms'?)" in bad.output


def test_sensitivity_moves_costs_the_right_way(path):
    sens = sensitivity(path, 0.2, jobs=1)
    plan = planner.solve(path)
    base = sens.base_cost_per_month
    assert base == round(plan.cost_per_month, 2)
    by_path = {f.path: f for f in sens.factors}
    assert set(by_path) == {"pricing.overrides.h100", "pricing.overrides.a100-80gb", "pricing.overrides.l4",
                            "traffic.rate_scale", "slo.ttft_ms", "slo.tpot_ms"}
    traffic = by_path["traffic.rate_scale"]
    assert (traffic.low_value, traffic.high_value) == (0.8, 1.2)
    assert traffic.low_cost < base < traffic.high_cost
    for gpu in plan.gpus_by_type:  # a GPU the plan buys: a dearer one raises the cost, a cheaper one lowers it
        f = by_path[f"pricing.overrides.{gpu}"]
        assert f.low_cost < base < f.high_cost
    tpot = by_path["slo.tpot_ms"]
    assert tpot.low_cost >= base >= tpot.high_cost  # a tighter SLO is never cheaper
    swings = [f.swing for f in sens.factors]
    assert swings == sorted(swings, reverse=True)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=8, max_value=150), min_size=3, max_size=5, unique=True))
def test_frontier_is_monotone_in_the_tpot_slo(write, tpots):
    """Never cheaper at a tighter SLO: cost is non-increasing as the TPOT SLO loosens (infeasible = infinitely dear)."""
    path = write("w.yaml", WORKLOAD)
    result = sweep(path, {"slo.tpot_ms": sorted(tpots)}, jobs=1)
    costs = [r["cost_per_hour"] if r["cost_per_hour"] is not None else float("inf") for r in result.records]
    assert all(a >= b - 1e-9 for a, b in zip(costs, costs[1:])), list(zip(sorted(tpots), costs))


def test_rate_sweep_on_a_trace_equals_separate_solves():
    """The sweep's shared-capacity-table path (traffic-only points) gives the same plans as full solves."""
    from tests.conftest import WORKLOADS

    chat = WORKLOADS / "chat.yaml"
    if not chat.is_file():
        pytest.skip("workloads/chat.yaml absent")
    result = sweep(chat, {"traffic.target_rps": [20, 60]}, jobs=1)
    for r in result.records:
        plan = planner.solve(chat, overrides={"traffic.target_rps": r["traffic.target_rps"]})
        assert (r["cost_per_month"], r["gpus_by_type"]) == (round(plan.cost_per_month, 2), plan.gpus_by_type)
