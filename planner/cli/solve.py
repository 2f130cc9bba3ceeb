"""`planner solve`: the cheapest fleet for a workload."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from planner.cli.options import (
    BAD_ROWS_HELP, SEED, FiniteFloat, RegularFile, catalog_option, emit, format_option, output_option, scenario_option,
    set_option,
)
from planner.cli.progress import quiet_option, replay_bar
from planner.optimize.solvers import SOLVERS

if TYPE_CHECKING:
    from planner.plan.model import Plan
    from planner.simulate.background import PendingReplay


@click.command()
@click.argument("workload", type=RegularFile())
@catalog_option
@format_option("table", "json", "csv", "md")
@output_option
@click.option("--solver", type=click.Choice(list(SOLVERS)), default=None, help="MILP solver (default: the workload's, else HiGHS).")
@click.option("--time-limit", "time_limit_s", type=FiniteFloat(min=0.1), default=None, help="Solver time limit in seconds.")
@set_option
@scenario_option
@click.option("--on-bad-rows", type=click.Choice(["error", "skip", "report"]), default=None,
              help=BAD_ROWS_HELP + " Default: the workload's traffic.on_bad_rows (error).")
@click.option("--verify", is_flag=True, help="Replay the workload's traffic through the plan (planner simulate) and print the verdict.")
@click.option("--repair", is_flag=True, help="With --verify: add replicas to pools that miss their SLOs until they hold.")
@click.option("--max-repair-steps", type=click.IntRange(min=1), default=10, show_default=True, help="Repair rounds before giving up.")
@click.option("--replay/--no-replay", default=None,
              help="Replay the plan against its trace and show the attainment next to the cost (default: when the workload has a "
                   "trace of at most 20,000 requests; a report, not a check: --verify makes a miss exit 1).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the verification run.")
@click.option("--confidence", type=click.Choice(["p50", "p90"]), default="p50", show_default=True,
              help="p90: size for the pessimistic end of the model's error band (docs/accuracy.md, \"Error bands\").")
@quiet_option
@click.pass_context
def solve(ctx: click.Context, workload: str, catalog_files: tuple[str, ...], fmt: str, output: str | None, solver: str | None, time_limit_s: float | None,
          overrides: tuple[str, ...], scenario: str | None, on_bad_rows: str | None, verify: bool, repair: bool, max_repair_steps: int,
          replay: bool | None, seed: int, confidence: str, quiet: bool) -> None:
    """Find the cheapest GPU fleet that meets the workload's SLOs.

    Example: planner solve workloads/chat.yaml --set slo.tpot_ms=30 --format json -o plan.json

    A plan from a trace of at most 20,000 requests is replayed against it and its attainment shown next to the
    cost (--no-replay skips it, --replay forces it). With --verify the replay is a check: the verdict per pool
    follows, and the command exits 1 when the SLOs are missed (in the SLO's scope); --repair grows missing pools
    and shrinks oversized ones, re-simulating after every step.
    """
    from planner import api
    from planner.report.plan_text import render_plan

    from planner.io.catalog import load_catalog

    catalog = load_catalog(catalog_files)
    if on_bad_rows is not None:
        overrides = (*overrides, f"traffic.on_bad_rows={on_bad_rows}")
    if repair and not verify:
        raise click.UsageError("--repair needs --verify")
    pending: list[PendingReplay] = []

    def replays(p: Plan) -> bool:  # the simulator's modules are imported only when a replay may run
        if verify or replay is not None:
            return verify or replay
        from planner.simulate.verify import replay_skipped

        return replay_skipped(p) is None

    def start_replay(core: Plan) -> bool:  # the replay runs beside the plan's comparisons (simulate.background)
        if not repair and replays(core):
            from planner.simulate.background import PendingReplay
            from planner.simulate.replay import SimOptions

            pending.append(PendingReplay(core, SimOptions(seed=seed), catalog_files, catalog))
            return pending[0].child is not None
        return False

    plan = api.solve(workload, catalog=catalog, catalog_files=catalog_files, solver=solver, time_limit_s=time_limit_s,
                     overrides=overrides, scenario=scenario, confidence=confidence, on_pools=start_replay)
    color = output is None and sys.stdout.isatty()
    if not replays(plan):
        emit(render_plan(plan, fmt, color=color), output)
        return
    from planner.report.sim_text import render_replayed, render_verification
    from planner.simulate.replay import SimOptions
    from planner.simulate.verify import verify_plan

    options = SimOptions(seed=seed)
    if not verify:
        with replay_bar(quiet, "replaying the plan"):
            check = pending[0].verification(plan) if pending else verify_plan(plan, options=options, catalog_files=catalog_files,
                                                                              catalog=catalog)
        emit(render_replayed(check, fmt, color=color), output)
        return

    with replay_bar(quiet, "verifying" if not repair else "verifying and repairing"):
        check = pending[0].verification(plan) if pending else verify_plan(
            plan, options=options, repair=repair, max_rounds=max_repair_steps, catalog_files=catalog_files, catalog=catalog)
    emit(render_verification(check, fmt, color=color), output)
    if not check.result.met:
        click.echo("error: the plan misses its SLOs in simulation (see Verification above)", err=True)
        ctx.exit(1)


COMMANDS = [solve]
