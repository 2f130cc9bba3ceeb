"""Routing: bucket -> pool by the plan's shares, then a replica within the pool, and the pool's event loop.

Pools are independent once every request has a pool, so each pool is replayed on its own. Within a pool the
loop orders events by (time, replica index): a replica's run end is processed before an arrival at the
same instant, so one seed gives one run. The replica for each request comes from a routing policy
(planner.simulate.policies) and each replica runs a replica scheduler (planner.simulate.schedulers), both
chosen by name.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from planner.simulate.native import Progress, run_compiled, use_compiled
from planner.simulate.policies import Policy, routing_policy
from planner.simulate.progress import REPORT_EVERY
from planner.simulate.request_log import RequestLog
from planner.simulate.schedulers import scheduler_class
from planner.simulate.schedulers.base import ReplicaScheduler
from planner.simulate.steps import StepModel

__all__ = ["NO_ROUTE", "Policy", "RouteTable", "route_requests", "run_pool"]
NO_ROUTE = -1


@dataclass(frozen=True)
class RouteTable:
    """Bucket edges [lo, hi) of input and output tokens, and each bucket's shares over pools (rows sum to 1)."""

    input_lo: np.ndarray
    input_hi: np.ndarray
    output_lo: np.ndarray
    output_hi: np.ndarray
    shares: np.ndarray
    """buckets x pools."""


def route_requests(table: RouteTable, prompt: np.ndarray, output: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pool index of every request (NO_ROUTE where no bucket of the plan contains it), drawn by share."""
    pool = np.full(len(prompt), NO_ROUTE, dtype=np.int64)
    draw = rng.random(len(prompt))
    for b in range(len(table.input_lo)):
        inside = ((prompt >= table.input_lo[b]) & (prompt < table.input_hi[b])
                  & (output >= table.output_lo[b]) & (output < table.output_hi[b]) & (pool == NO_ROUTE))
        cumulative = np.cumsum(table.shares[b])
        if cumulative[-1] <= 0:
            continue
        choice = np.searchsorted(cumulative / cumulative[-1], draw[inside], side="right")
        pool[inside] = np.minimum(choice, len(cumulative) - 1)
    return pool


def run_pool(model: StepModel, replicas: int, rids: np.ndarray, log: RequestLog, policy: str = "least-loaded",
             scheduler: str = "serial", record: bool = False, compiled: bool | None = None,
             progress: Progress | None = None) -> list[ReplicaScheduler]:
    """Replay requests `rids` (sorted by arrival) on `replicas` replicas of one config until all finish;
    `policy` and `scheduler` are names in planner.simulate.policies.POLICIES and
    planner.simulate.schedulers.SCHEDULERS. The loop below, or the same loop compiled
    (planner.simulate.native: `compiled` None picks it for large pools it covers); `progress` is told how
    many of the pool's requests have arrived, now and then."""
    make = scheduler_class(scheduler)
    if use_compiled(model, scheduler, policy, record, len(rids), compiled):
        return run_compiled(model, replicas, rids, log, policy, scheduler, make, progress)
    pick = routing_policy(policy).pick
    fleet = [make(model, log, record) for _ in range(replicas)]
    version = [0] * replicas
    loads = [0] * replicas
    heap: list[tuple[float, int, int]] = []

    def settle(r: int, end: float) -> None:
        version[r] += 1
        loads[r] = fleet[r].load
        if end < np.inf:
            heapq.heappush(heap, (end, r, version[r]))

    def pop_until(t: float) -> None:
        while heap and heap[0][0] <= t:
            _, r, v = heapq.heappop(heap)
            if v == version[r]:
                settle(r, fleet[r].advance())

    arrivals = log.arrival[rids].tolist()
    every = REPORT_EVERY if progress is not None else 0
    for n, (rid, t) in enumerate(zip(rids.tolist(), arrivals)):
        pop_until(t)
        r = pick(n, loads)
        log.replica[rid] = r
        settle(r, fleet[r].arrive(rid, t))
        if every and n % every == 0:
            progress(n)  # type: ignore[misc]  # every is 0 without progress
    if arrivals:
        for replica in fleet:
            replica.arrivals_ended(arrivals[-1])
    pop_until(np.inf)
    if progress is not None:
        progress(len(rids))
    return fleet
