"""Replay every pool of a fleet, one after another or in parallel processes (joblib).

Pools share no state once each request has its pool (routing draws happen before), so a pool replayed in
another process on a copy of its own requests gives exactly the numbers of the serial run; the outcomes
are copied back into the one RequestLog. Largest pools are dispatched first (longest-processing-time
order) so two cores finish together when they can.
"""
from __future__ import annotations

import os

import numpy as np

from planner.simulate.native import use_compiled
from planner.simulate.progress import FleetProgress
from planner.simulate.request_log import RequestLog
from planner.simulate.router import run_pool
from planner.simulate.schedulers.base import ReplicaScheduler
from planner.simulate.steps import StepModel

PARALLEL_MIN_REQUESTS = 50_000
"""Below this many requests in the Python loop the process start-up (~1 s on this machine) costs more than it saves."""


def pool_workers(jobs: int | None, sizes: list[int], in_python: list[int] | None = None) -> int:
    """Processes to use for pools with `sizes` requests: `jobs` (<= 0 or None: automatic), at most one per
    non-empty pool; automatic means one per CPU when the pools the Python loop replays (their sizes `in_python`,
    default all) hold PARALLEL_MIN_REQUESTS requests or more. Pools in the compiled loop do not count: it replays
    1M requests of the chat plan in 6.5 s serially but 10.4 s in two processes, each starting up and loading
    numba (docs/benchmarks/simulate_speed.md)."""
    busy = sum(1 for n in sizes if n)
    if jobs is None or jobs <= 0:
        slow = sum(sizes if in_python is None else in_python)
        jobs = (os.cpu_count() or 1) if slow >= PARALLEL_MIN_REQUESTS else 1
    return max(1, min(jobs, busy))


def run_pools(models: list[StepModel], replicas: list[int], members: list[np.ndarray], log: RequestLog, policy: str,
              scheduler: str, record: bool, jobs: int | None = None) -> list[list[ReplicaScheduler]]:
    """Replicas of every pool after replaying its requests `members[k]` (sorted by arrival) into `log`, routed
    by the routing policy named `policy` onto replicas run by the replica scheduler named `scheduler`."""
    sizes = [len(m) if n else 0 for m, n in zip(members, replicas)]
    in_python = [0 if use_compiled(model, scheduler, policy, record, size, None) else size for model, size in zip(models, sizes)]
    workers = pool_workers(jobs, sizes, in_python)
    tracker = FleetProgress(sizes)
    if workers == 1:
        return [run_pool(model, n, rids, log, policy, scheduler, record, progress=tracker.pool(k)) if n else []
                for k, (model, n, rids) in enumerate(zip(models, replicas, members))]
    from joblib import Parallel, delayed  # 0.11 s to import (load 2.9): only when pools run in parallel

    order = sorted((k for k, n in enumerate(replicas) if n), key=lambda k: -len(members[k]))
    assert log.cached is not None  # set by RequestLog itself
    tasks = [delayed(_run_detached)(models[k], replicas[k], log.arrival[members[k]], log.prompt[members[k]],
                                    log.output[members[k]], log.cached[members[k]], policy, scheduler, record) for k in order]
    fleets: list[list[ReplicaScheduler]] = [[] for _ in models]
    for k, (outcomes, fleet) in zip(order, Parallel(n_jobs=workers, return_as="generator")(tasks)):
        tracker.finished(k)
        for name, values in outcomes.items():
            getattr(log, name)[members[k]] = values
        for replica in fleet:
            replica.m, replica.log = models[k], log
        fleets[k] = fleet
    return fleets


def _run_detached(model: StepModel, replicas: int, arrival: np.ndarray, prompt: np.ndarray, output: np.ndarray,
                  cached: np.ndarray, policy: str, scheduler: str, record: bool) -> tuple[dict[str, np.ndarray], list[ReplicaScheduler]]:
    """One pool on a log of its own requests; returns the outcomes and the replicas without model or log."""
    log = RequestLog(arrival, prompt, output, cached)
    fleet = run_pool(model, replicas, np.arange(len(arrival)), log, policy, scheduler, record)
    for replica in fleet:
        replica.m = replica.log = None  # type: ignore[assignment]  # re-attached by the parent
    outcomes = {name: getattr(log, name) for name in RequestLog.OUTCOMES}
    return outcomes, fleet
