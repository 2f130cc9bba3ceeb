"""`planner` command line: a thin shell over the Python API (parse, call, render).

Commands are loaded lazily: `planner --help` imports click and nothing else, and a command imports only
what it uses. Errors in the user's input print one line per problem to stderr and exit 2 (3 when no fleet
meets the SLOs); `--debug` shows the traceback instead.
"""
from __future__ import annotations

import importlib
import logging

import click

from planner.errors import PlannerError

COMMANDS = {
    "solve": ("solve", "Find the cheapest GPU fleet that meets the workload's SLOs."),
    "catalog": ("catalog_cmd", "List the GPUs, models, quantization formats, prices or efficiency factors, with sources."),
    "trace": ("trace", "Make and inspect request traces."),
    "profile": ("profile", "Measured capacity profiles: the capacity table as a CSV you can edit or replace with benchmarks."),
    "estimate": ("estimate", "Latency and throughput of one replica configuration under one kind of load."),
    "calibrate": ("calibrate", "Fit efficiency factors to your measurements; write a catalog overlay and print the before/after error."),
    "compare": ("whatif", "Solve several scenarios and show them side by side, with cost changes against the first."),
    "diff": ("whatif", "Compare two saved plans (planner solve --format json); optionally fail when cost grows too much."),
    "sweep": ("whatif", "Solve a grid of what-ifs in parallel; infeasible points are rows with their reason."),
    "sensitivity": ("whatif", "Monthly cost when each GPU price, the traffic and each SLO moves by ±delta, one at a time."),
    "report": ("whatif", "A shareable report: headline, pools, routing, baselines, frontier, sensitivity, inputs and sources."),
    "export": ("export", "Write a plan as deployment files: vLLM launch commands, Kubernetes manifests, SkyPilot services."),
    "simulate": ("simulate", "Replay requests through a plan's pools and replicas: p50/p90/p99 TTFT, TPOT, SLO attainment, utilization."),
}
"""Command name -> (module under planner.cli defining it, one-line help shown by `planner --help`)."""


class PlannerClickError(click.ClickException):
    """A PlannerError shown as `error: ...` with the error's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"error: {self.format_message()}", err=True)


class PlannerGroup(click.Group):
    """Loads commands on demand; turns PlannerError into a clean one-line error."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"planner.cli.{COMMANDS[cmd_name][0]}")
        return next(c for c in module.COMMANDS if c.name == cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS, without importing any command module."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except PlannerError as exc:
            if ctx.meta.get("planner.debug"):
                raise
            raise PlannerClickError(str(exc), exc.exit_code) from None


@click.group(cls=PlannerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.version_option(package_name="planner")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """Capacity planner for LLM serving: the cheapest GPU fleet that meets p99 TTFT/TPOT SLOs.

    Example: planner solve workloads/chat.yaml
    """
    ctx.meta["planner.debug"] = debug
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s: %(message)s", force=True)


def main() -> None:
    cli()
