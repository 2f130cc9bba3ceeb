"""Running many solves: one catalog parse per worker process, one solve per what-if point, joblib workers
with a progress bar on stderr. Shared by compare, sweep and sensitivity."""
from __future__ import annotations

import functools
from typing import Any

from planner import api
from planner.errors import InfeasibleError, SolverError
from planner.io.catalog import Catalog, load_catalog
from planner.io.workload import LoadedWorkload
from planner.plan.model import Plan
from planner.io.overrides import Overrides


@functools.lru_cache(maxsize=4)
def cached_catalog(files: tuple[str, ...]) -> Catalog:
    """One parsed catalog per worker process (parsing the YAML costs more than a small solve)."""
    return load_catalog(files)


def solve_point(loaded: LoadedWorkload, catalog_files: tuple[str, ...], overrides: Overrides | None = None,
                scenario: str | None = None) -> tuple[Plan | None, str | None]:
    """The plan for one what-if, or (None, why) when no fleet meets the SLOs."""
    try:
        return api.solve(loaded, catalog_files, overrides=overrides, scenario=scenario, catalog=cached_catalog(catalog_files)), None
    except (InfeasibleError, SolverError) as exc:
        return None, str(exc)


def run_parallel(tasks: list[Any], jobs: int, progress: bool, label: str) -> list[Any]:
    """Run joblib `delayed` tasks on `jobs` processes, in order, with a progress bar on stderr."""
    from joblib import Parallel
    from rich.console import Console
    from rich.progress import Progress

    runner = Parallel(n_jobs=jobs or 1, return_as="generator")
    out: list[Any] = []
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task(label, total=len(tasks))
        for result in runner(tasks):
            out.append(result)
            bar.advance(task)
    return out


