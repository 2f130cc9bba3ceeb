"""The replay progress bar: rich, on stderr only, off when stderr is not a terminal or with --quiet, so JSON or
tables on stdout (and files written with -o) are the same with or without it."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr (it is off anyway when stderr is not a terminal).")


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (a bar drawn into a pipe or a log file is noise)."""
    return sys.stderr.isatty()


@contextmanager
def replay_bar(quiet: bool, label: str = "replaying") -> Iterator[None]:
    """Draw every replay run inside the block as a transient bar of requests replayed (planner.simulate.progress)."""
    if quiet or not stderr_is_terminal():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from planner.simulate.progress import reporting

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("requests"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True, force_terminal=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        with reporting(lambda done, total: bar.update(task, completed=done, total=total)):
            yield
