"""Options shared by several commands, defined once, and the one way results leave the process."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from planner.io.files import write_atomic

class FiniteFloat(click.FloatRange):
    """A number option that refuses NaN and infinities (click's FloatRange lets NaN through every bound)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def renamed_option(old: str, new: str, dest: str, **kw: Any):  # noqa: ANN201
    """The option's old name, still accepted (hidden) with a deprecation note on stderr; the value goes to `dest`
    unless the new name was given too (click stores the first value set)."""
    def note(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            click.echo(f"note: {old} is deprecated; use {new}", err=True)
            if ctx.params.get(dest) is None:
                ctx.params[dest] = value
    return click.option(old, f"{dest}_deprecated", hidden=True, expose_value=False, callback=note, **kw)


class Threshold(click.ParamType):
    """`5%` or `5` (percent of the old monthly cost) or `$2000` (dollars a month): ('%', 5.0) or ('$', 2000.0)."""

    name = "threshold"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().replace(",", "")
        kind = "$" if text.startswith("$") else "%"
        try:
            number = float(text.strip("$%").strip())
        except ValueError:
            self.fail(f"{value!r}: expected a percentage (5%) or dollars a month ($2000)", param, ctx)
        if not math.isfinite(number) or number < 0:
            self.fail(f"{value!r}: expected a finite, non-negative threshold", param, ctx)
        return kind, number


class RegularFile(click.Path):
    """An existing regular file: FIFOs and devices are refused before anything blocks reading them."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        if not Path(path).is_file():
            self.fail(f"{value}: not a regular file (a FIFO or device); give a file", param, ctx)
        return path


SEED = click.IntRange(min=0, max=2**63 - 1)
"""A random seed: numpy's generators take non-negative integers."""

catalog_option = click.option(
    "--catalog", "catalog_files", multiple=True, type=RegularFile(),
    help="Extra catalog YAML (GPUs, models, prices); may repeat. Entries replace shipped ones with the same id.",
)
output_option = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True),
    help="Write the result to this file (atomically) instead of stdout.",
)

set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a workload field by dotted path (lists by index), e.g. --set slo.tpot_ms=30; may repeat.",
)
BAD_ROWS_HELP = ("Trace rows with missing or invalid values: refuse (listing the first five, file:line), skip them (counted), "
                 "or skip and list them.")
on_bad_rows_option = click.option("--on-bad-rows", type=click.Choice(["error", "skip", "report"]), default="error",
                                  show_default=True, help=BAD_ROWS_HELP)
scenario_option = click.option(
    "--scenario", default=None, metavar="NAME", help="Apply a named scenario from the workload's `scenarios:` (before --set).",
)


def format_option(*choices: str, default: str = "table"):  # noqa: ANN201 - click decorator
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format.")


def emit(text: str, output: str | None) -> None:
    """Print `text` to stdout, or write it to `output` atomically and say so on stderr."""
    if output:
        write_atomic(Path(output), text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))
