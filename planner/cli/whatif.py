"""`planner compare | diff | sweep | sensitivity | report`: what-if studies for planning meetings (docs/whatif.md)."""
from __future__ import annotations

import functools
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from planner.cli.options import (
    FiniteFloat, RegularFile, Threshold, catalog_option, emit, format_option, output_option, scenario_option, set_option,
)
from planner.io.files import write_atomic

if TYPE_CHECKING:
    from planner.studies.parallel import Workers

workload_argument = click.argument("workload", type=RegularFile())


def parallel_options(command):  # noqa: ANN001, ANN201 - click decorator
    """--jobs, --backend and --ray-address, handed to the command as one `jobs: Workers`."""
    @functools.wraps(command)
    def run(*args: Any, jobs: int, backend: str, ray_address: str | None, **kwargs: Any) -> Any:
        if ray_address is not None and backend != "ray":
            raise click.BadParameter("--ray-address needs --backend ray", param_hint="--ray-address")
        from planner.studies.parallel import Workers

        return command(*args, jobs=Workers(jobs, backend, ray_address), **kwargs)  # type: ignore[arg-type]

    options = (
        click.option("--jobs", "-j", type=click.IntRange(min=-1), default=-1, show_default=True,
                     help="Parallel solves: local processes (joblib), or the CPUs of a local Ray instance; -1 = one per CPU."),
        click.option("--backend", type=click.Choice(["joblib", "ray"]), default="joblib", show_default=True,
                     help="Where the solves run: local joblib processes, or Ray tasks (needs pip install 'planner[ray]')."),
        click.option("--ray-address", default=None, metavar="ADDRESS",
                     help="With --backend ray: the cluster to join ('auto', or ray://host:10001); default a local instance."),
    )
    for option in reversed(options):
        run = option(run)
    return run


def study_options(command):  # noqa: ANN001, ANN201 - click decorator
    """--jobs/--backend, --set and --scenario: how a study runs and which variant of the workload it starts from."""
    return parallel_options(set_option(scenario_option(command)))


def _progress() -> bool:
    return sys.stderr.isatty()


def _comparison_text(comp, fmt: str, title: str) -> str:  # noqa: ANN001 - studies.compare.Comparison, imported lazily
    if fmt == "html":
        from planner.report.html import render_comparison_html

        return render_comparison_html(comp, title)
    from planner.report.whatif_text import render_comparison

    return render_comparison(comp, fmt)


@click.command()
@workload_argument
@click.option("--scenario", "scenarios", required=True, metavar="A,B,...",
              help="Comma-separated scenario names from the workload's `scenarios:`; `base` = the file as written.")
@catalog_option
@format_option("table", "md", "json", "html")
@output_option
@parallel_options
def compare(workload: str, scenarios: str, catalog_files: tuple[str, ...], fmt: str, output: str | None, jobs: "Workers") -> None:
    """Solve several scenarios and show them side by side, with cost changes against the first.

    Example: planner compare workloads/chat.yaml --scenario base,growth,int4 --format md
    """
    from planner.studies.compare import compare as compare_scenarios

    names = [s.strip() for s in scenarios.split(",") if s.strip()]
    comp = compare_scenarios(workload, names, catalog_files, jobs, _progress())
    emit(_comparison_text(comp, fmt, f"What-if: {Path(workload).name}"), output)


@click.command()
@click.argument("old", type=RegularFile())
@click.argument("new", type=RegularFile())
@format_option("table", "md", "json", "html")
@output_option
@click.option("--fail-above", "fail_above", type=Threshold(), default=None, metavar="PCT%|$USD",
              help="Exit 1 when the monthly cost grows by more than this: a percentage (5%, or 5) or dollars a month ($2000).")
def diff(old: str, new: str, fmt: str, output: str | None, fail_above: tuple[str, float] | None) -> None:
    """Compare two saved plans (planner solve --format json), Infracost-style: each added (+), removed (-) or
    resized (~) pool with its $/month, the total change, and the summaries; optionally fail as a CI gate.

    Example: planner diff plan-main.json plan-pr.json --fail-above 5%   (or --fail-above '$2000')
    """
    from planner.report.whatif_text import format_change, render_diff
    from planner.studies.compare import diff as diff_plans

    comp = diff_plans(old, new, (old, new))
    emit(render_diff(comp, fmt), output)
    if fail_above is None:
        return
    kind, limit = fail_above
    change = comp.changes()[1]
    if change is None:
        click.echo("error: one of the plans has no cost to compare", err=True)
        sys.exit(1)
    grown = (change.fraction if change.fraction is not None else math.inf) * 100 if kind == "%" else change.usd_per_month
    if grown > limit:
        allowed = f"{limit:g} %" if kind == "%" else f"${limit:,.0f}/month"
        click.echo(f"error: the monthly cost grows by {format_change(change)}, more than the allowed {allowed}", err=True)
        sys.exit(1)




@click.command()
@workload_argument
@click.option("--param", "params", multiple=True, required=True, metavar="KEY.PATH=LO:HI:STEP|V1,V2",
              help="A swept workload field: an inclusive range or a list of values; may repeat (grid).")
@catalog_option
@format_option("table", "csv", "json", "md")
@output_option
@study_options
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Also write PNG plots here: cost vs each parameter and the fleet composition.")
def sweep(workload: str, params: tuple[str, ...], catalog_files: tuple[str, ...], fmt: str, output: str | None, jobs: "Workers",
          overrides: tuple[str, ...], scenario: str | None, plot_dir: str | None) -> None:
    """Solve a grid of what-ifs in parallel; infeasible points are rows with their reason.

    Example: planner sweep workloads/chat.yaml --param slo.tpot_ms=20:100:10 --param traffic.target_rps=40,80 --format csv
    """
    from planner.report.whatif_text import render_sweep
    from planner.studies.sweep import parse_param
    from planner.studies.sweep import sweep as sweep_grid

    grid = dict(parse_param(p) for p in params)
    result = sweep_grid(workload, grid, catalog_files, jobs, _progress(), overrides, scenario)
    emit(render_sweep(result, fmt), output)
    if plot_dir:
        from planner.report.plots import composition_png, cost_curve_png

        for param, values in grid.items():
            if all(isinstance(v, (int, float)) for v in values):
                _write(Path(plot_dir) / f"cost_vs_{param.replace('.', '_')}.png", cost_curve_png(result, param))
        _write(Path(plot_dir) / "fleet_composition.png", composition_png(result))


@click.command()
@workload_argument
@click.option("--delta", type=FiniteFloat(min=0, max=100, min_open=True, max_open=True), default=20.0, show_default=True,
              help="Vary each input by ± this many percent.")
@catalog_option
@format_option("table", "csv", "json", "md")
@output_option
@study_options
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False), default=None, help="Also write the tornado chart (PNG).")
def sensitivity(workload: str, delta: float, catalog_files: tuple[str, ...], fmt: str, output: str | None, jobs: "Workers",
                overrides: tuple[str, ...], scenario: str | None, plot_file: str | None) -> None:
    """Monthly cost when each GPU price, the traffic and each SLO moves by ±delta, one at a time.

    Example: planner sensitivity workloads/chat.yaml --delta 20 --plot tornado.png
    """
    from planner.report.whatif_text import render_sensitivity
    from planner.studies.sensitivity import sensitivity as sensitivity_study

    result = sensitivity_study(workload, delta / 100, catalog_files, jobs, _progress(), overrides, scenario)
    emit(render_sensitivity(result, fmt), output)
    if plot_file:
        from planner.report.plots import tornado_png

        _write(Path(plot_file), tornado_png(result))


@click.command()
@workload_argument
@catalog_option
@format_option("html", "md", default="html")
@output_option
@study_options
@click.option("--delta", type=FiniteFloat(min=0, max=100, min_open=True, max_open=True), default=20.0, show_default=True,
              help="Sensitivity range in percent.")
def report(workload: str, catalog_files: tuple[str, ...], fmt: str, output: str | None, jobs: "Workers", overrides: tuple[str, ...],
           scenario: str | None, delta: float) -> None:
    """A shareable report: headline, pools, routing, baselines, frontier, sensitivity, inputs and sources.

    HTML is one self-contained file (plots embedded). Markdown links its plots as PNG files beside `-o FILE`.

    Example: planner report workloads/chat.yaml -o report.html
    """
    from planner.studies.report import build_report

    data = build_report(workload, overrides, scenario, catalog_files, jobs, delta / 100, _progress())
    if fmt == "html":
        from planner.report.html import render_report_html

        emit(render_report_html(data), output)
        return
    from planner.report.markdown_report import render_report_markdown

    prefix = f"{Path(output).stem}_" if output else None
    text, images = render_report_markdown(data, prefix)
    for name, png in images.items():
        _write(Path(output).parent / name, png)  # type: ignore[arg-type]
    emit(text, output)


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data)
    click.echo(f"wrote {path}", err=True)


COMMANDS = [compare, diff, sweep, sensitivity, report]
