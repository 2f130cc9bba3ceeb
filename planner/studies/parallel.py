"""Running many solves: one catalog parse per worker process, one solve per what-if point, on local joblib
processes or on a Ray cluster, with a progress bar on stderr. Shared by compare, sweep and sensitivity."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from planner import api
from planner.errors import InfeasibleError, PlannerError, SolverError
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


@dataclass(frozen=True)
class Workers:
    """Where a study's solves run: `jobs` local joblib processes (-1 = one per CPU), or Ray tasks on the cluster
    at `address` ("auto" = the running cluster; None = start a local Ray instance of `jobs` CPUs)."""

    jobs: int = 1
    backend: Literal["joblib", "ray"] = "joblib"
    address: str | None = None


def as_workers(jobs: int | Workers) -> Workers:
    """An int means that many local joblib processes, as before the Ray backend."""
    return jobs if isinstance(jobs, Workers) else Workers(jobs)


def run_parallel(tasks: list[Any], jobs: int | Workers, progress: bool, label: str) -> list[Any]:
    """Run joblib `delayed` tasks on the chosen workers, results in task order, with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import Progress

    workers = as_workers(jobs)
    out: list[Any] = []
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task(label, total=len(tasks))
        done = _ray_results(tasks, workers) if workers.backend == "ray" else _joblib_results(tasks, workers.jobs)
        for result in done:
            out.append(result)
            bar.advance(task)
    return out


def _joblib_results(tasks: list[Any], jobs: int) -> Any:
    from joblib import Parallel

    return Parallel(n_jobs=jobs or 1, return_as="generator")(tasks)


def _call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One joblib `delayed` triple, run inside a Ray worker."""
    return func(*args, **kwargs)


def _ray_results(tasks: list[Any], workers: Workers) -> Any:
    """Submit every task to Ray at once, then yield the results in task order, each as soon as it is ready."""
    try:
        import ray
    except ImportError:
        raise PlannerError("the Ray backend needs Ray: pip install 'planner[ray]' (or use the default --backend joblib)") from None
    started = not ray.is_initialized()
    if started:
        local_cpus = workers.jobs if workers.jobs > 0 and workers.address is None else None
        try:
            ray.init(address=workers.address, num_cpus=local_cpus, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise PlannerError(f"cannot reach the Ray cluster at {workers.address!r}: {exc} "
                               "(hint: 'auto' joins the cluster this machine is part of; omit --ray-address for a local instance)") from None
    try:
        remote = ray.remote(_call)
        refs = [remote.remote(func, args, kwargs) for func, args, kwargs in tasks]
        for ref in refs:
            try:
                yield ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # the task's own error (a PlannerError says what was wrong)
                raise (exc.cause if isinstance(exc.cause, Exception) else exc) from None
    finally:
        if started:
            ray.shutdown()
