"""`planner solve`: the cheapest fleet for a workload."""
from __future__ import annotations

import sys

import click

from planner import api
from planner.cli.options import catalog_option, emit, format_option, output_option, scenario_option, set_option
from planner.report.plan_text import render_plan


@click.command()
@click.argument("workload", type=click.Path(exists=True, dir_okay=False))
@catalog_option
@format_option("table", "json", "csv", "md")
@output_option
@click.option("--solver", type=click.Choice(["highs", "cbc"]), default=None, help="MILP solver (default: the workload's, else HiGHS).")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.1), default=None, help="Solver time limit in seconds.")
@set_option
@scenario_option
def solve(workload: str, catalog_files: tuple[str, ...], fmt: str, output: str | None, solver: str | None, time_limit_s: float | None,
          overrides: tuple[str, ...], scenario: str | None) -> None:
    """Find the cheapest GPU fleet that meets the workload's SLOs.

    Example: planner solve workloads/chat.yaml --set slo.tpot_ms=30 --format json -o plan.json
    """
    plan = api.solve(workload, catalog_files=catalog_files, solver=solver, time_limit_s=time_limit_s,
                     overrides=overrides, scenario=scenario)
    emit(render_plan(plan, fmt, color=output is None and sys.stdout.isatty()), output)


COMMANDS = [solve]
