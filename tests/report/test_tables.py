"""Terminal tables: they fit the terminal (COLUMNS honoured), long cells are cut with a legend instead of wrapped,
swept values are shown as swept, and signs read right."""
from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

import planner.api as api
from planner.cli.main import cli
from planner.report.plan_text import headline
from planner.report.tables import TableData, fit, render_rich, terminal_width
from tests.conftest import WORKLOADS


@pytest.mark.parametrize("columns", [80, 100, 140])
def test_solve_fits_the_terminal_and_keeps_one_line_per_pool(columns):
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["solve", str(WORKLOADS / "batch.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    plan = api.solve(WORKLOADS / "batch.yaml")
    # a pool's line starts with its GPU id, or with the id cut to a legend entry ("a100…[4]") at 80 columns
    pool_lines = [ln for ln in lines if any(ln.strip("│┃ ").startswith((f"{p.gpu} ", p.gpu[:4])) for p in plan.pools) and "$" in ln
                  and ("…[" in ln or any(f"{p.bound}:" in ln for p in plan.pools))]
    assert len(pool_lines) == len(plan.pools)  # nothing wrapped onto a second line
    for pool in plan.pools:  # the binding text is whole, in a cell or in the legend
        assert f"{pool.bound}: {pool.detail}" in result.output


def test_cut_cells_get_a_legend_and_numbers_are_never_cut():
    data = TableData("t", ["name", "value"], [["x" * 60, "1,234.5"], ["short", "2"], ["x" * 60, "3"]])
    fitted, legend, _ = fit(data, 40)
    assert fitted.rows[0][0].endswith("…[1]") and fitted.rows[2][0] == fitted.rows[0][0]  # one legend entry per text
    assert legend == ["[1] " + "x" * 60] and fitted.rows[0][1] == "1,234.5" and fitted.rows[1][0] == "short"
    text = render_rich([data], 40)
    assert max(len(line) for line in text.splitlines()) <= 40 and "[1] " in text and "x" * 60 in "".join(text.split())


def test_columns_env_wins_and_non_terminals_get_a_wide_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "77")
    assert terminal_width() == 77
    monkeypatch.setenv("COLUMNS", "junk")
    assert terminal_width() == 140  # pytest's stdout is not a terminal


def test_sweep_shows_the_swept_gpu_sets_in_table_and_csv():
    args = ["sweep", str(WORKLOADS / "chat.yaml"), "--param", "gpus=[h100],[a100-80gb]", "-j", "1"]
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert "│ [h100] " in table.output and "│ [a100-80gb] " in table.output
    csv = CliRunner().invoke(cli, [*args, "--format", "csv"]).output.splitlines()
    assert csv[0].startswith("gpus,status,") and "total_gpus" in csv[0]
    assert csv[1].startswith("[h100],optimal,") and csv[2].startswith("[a100-80gb],optimal,")


def test_a_plan_dearer_than_a_single_type_fleet_says_so_without_a_negative_saving():
    plan = api.solve(WORKLOADS / "batch.yaml")
    cheaper = [b.model_copy(update={"cost_per_hour": plan.cost_per_hour / 2}) if b is plan.cheapest_baseline else b
               for b in plan.baselines]
    text = dict(headline(replace(plan, baselines=tuple(cheaper))))["vs single GPU type"]
    assert "this plan costs 100.0% more" in text and "-" not in text.split(":")[-1]
