"""`planner profile`: export the performance model's capacity table as a profile CSV (docs/profiles.md)."""
from __future__ import annotations

import click

from planner.cli.options import catalog_option, emit, output_option


@click.group()
def profile() -> None:
    """Measured capacity profiles: the capacity table as a CSV you can edit or replace with benchmarks."""


@profile.command()
@click.argument("workload", type=click.Path(exists=True, dir_okay=False))
@catalog_option
@output_option
def export(workload: str, catalog_files: tuple[str, ...], output: str | None) -> None:
    """Write the performance model's max req/s per config and bucket for WORKLOAD as a profile CSV.

    Use it as `capacity_profile:` in a workload (round trip: the same plan), or as a template to fill
    with your own benchmark results.

    Example: planner profile export workloads/chat.yaml -o chat-profile.csv
    """
    from planner import api
    from planner.export.profile_csv import export_comments, profile_csv
    from planner.io.workload import load_workload

    problem = api.prepare(load_workload(workload).without_profile(), catalog_files)
    emit(profile_csv(problem.table, export_comments(problem.loaded, problem.table)), output)


COMMANDS = [profile]
