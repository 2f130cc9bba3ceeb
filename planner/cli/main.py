"""`planner` command line: a thin shell over the Python API (parse, call, render).

Errors in the user's input print one line per problem to stderr and exit 2 (3 when no fleet meets the
SLOs); `--debug` shows the traceback instead.
"""
from __future__ import annotations

import importlib
import logging

import click

from planner.errors import PlannerError

COMMAND_MODULES = ("solve", "catalog_cmd", "trace", "profile", "estimate", "whatif", "simulate")
"""Modules under planner.cli that each define click commands registered on the group (see _register)."""


class PlannerClickError(click.ClickException):
    """A PlannerError shown as `error: ...` with the error's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"error: {self.format_message()}", err=True)


class PlannerGroup(click.Group):
    """Turns PlannerError into a clean one-line error, and unexpected errors into a short report."""

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


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"planner.cli.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli()
