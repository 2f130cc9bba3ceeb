"""Replay requests through a fleet: route by bucket share, run every pool's replicas, summarize.

Pure: arrays and configs in, a SimResult out (no files, no printing). Every arrival either completes or
is counted as rejected with a reason: longer than the model's context (`over_context`, dropped by the plan
by design), in no bucket of the routing table (`no_route`), or longer than its pool's whole KV cache
(`kv_too_small`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.perf.memory import ServingConfig
from planner.simulate.metrics import group_summary, per_minute, request_latencies, slo_met
from planner.simulate.policies import Policy, routing_policy
from planner.simulate.pools import run_pools
from planner.simulate.request_log import RequestLog
from planner.simulate.router import NO_ROUTE, RouteTable, route_requests
from planner.simulate.schedulers import scheduler_class
from planner.simulate.schedulers.base import WATERMARK, ReplicaScheduler, blocks_needed
from planner.simulate.steps import build_step_model
from planner.io.traces.trace import Trace
from planner.schemas.workload import SLO

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class SimPool:
    """`replicas` replicas of one serving config, named by its plan key."""

    key: str
    cfg: ServingConfig
    replicas: int
    role: str = "unified"
    """`prefill` or `decode` for one half of a disaggregated pair (planner.simulate.disagg replays those)."""


@dataclass(frozen=True)
class SimOptions:
    """How to replay: routing draws, routing policy, replica scheduler, timeline, processes."""

    seed: int = 0
    policy: Policy = "least-loaded"
    """Routing policy within a pool, a name in planner.simulate.policies.POLICIES."""
    chunked_prefill: bool = False
    """vLLM's chunked prefill: picks the `chunked` replica scheduler instead of `serial` (unless `scheduler` is set)."""
    record_timeline: bool = False
    jobs: int | None = None
    """Processes for the pools (planner.simulate.pools): None or <= 0 automatic, 1 serial; same numbers either way."""
    scheduler: str | None = None
    """Replica scheduler, a name in planner.simulate.schedulers.SCHEDULERS; None: from chunked_prefill."""

    def __post_init__(self) -> None:
        """Unknown policy or scheduler names fail here, naming the valid ones, before any replay work."""
        routing_policy(self.policy)
        scheduler_class(self.scheduler_name)

    @property
    def scheduler_name(self) -> str:
        """The replica scheduler the replay uses."""
        if self.scheduler is not None:
            return self.scheduler
        return "chunked" if self.chunked_prefill else "serial"


@dataclass
class SimResult:
    """The summary (JSON-ready, schema SCHEMA_VERSION) plus per-request and per-replica detail."""

    summary: dict[str, Any]
    log: RequestLog
    pool_of: np.ndarray
    fleets: list[list[ReplicaScheduler]]
    latencies: dict[str, np.ndarray] = field(repr=False)

    @property
    def met(self) -> bool:
        """Whether the SLOs hold at their percentile over the requests the SLO's scope names: under `bucket`, the
        fleet and every pool (each bucket is held on its own, so a pool that misses while the fleet's average passes
        is still a miss); under `fleet`, the fleet's attainment alone decides."""
        if self.summary["slo"].get("scope") == "fleet":
            return bool(self.summary["slo_met"])
        return bool(self.summary["slo_met"]) and all(bool(row["slo_met"]) for row in self.summary["pools"])

    def busiest(self) -> tuple[str, int, ReplicaScheduler] | None:
        """(pool key, replica index, replica) with the most busy time."""
        best = None
        for p, fleet in enumerate(self.fleets):
            for r, rep in enumerate(fleet):
                if best is None or rep.busy_s > best[2].busy_s:
                    best = (self.summary["pools"][p]["pool"], r, rep)
        return best

    def per_minute(self) -> dict[str, list[float]]:
        """Latency percentiles by minute of arrival (planner.simulate.metrics.per_minute)."""
        return per_minute(self.log, self.latencies)


def simulate(pools: list[SimPool], routes: RouteTable, trace: Trace, slo: SLO, max_context: int,
             options: SimOptions = SimOptions()) -> SimResult:
    """Replay `trace` against the fleet; deterministic for a given `options.seed`."""
    if any(p.role != "unified" for p in pools):
        from planner.simulate.disagg import latencies, simulate_pairs

        log, first, members, fleets, reasons = simulate_pairs(pools, routes, trace, slo, max_context, options.scheduler_name,
                                                              options.policy, options.seed, options.record_timeline, options.jobs)
        lat, met = latencies(log, slo)
        summary = _summarize(pools, log, lat, met, first, fleets, reasons, slo, options, members)
        return SimResult(summary, log, first, fleets, lat)
    rng = np.random.default_rng(options.seed)
    log = RequestLog(trace.arrival_s.astype(float), trace.input_tokens.astype(np.int64), trace.output_tokens.astype(np.int64),
                     None if trace.cached_tokens is None else trace.cached_tokens.astype(np.int64))
    pool_of = route_requests(routes, log.prompt, log.output, rng)
    total = log.prompt + log.output
    over = total > max_context
    reasons = {"over_context": over, "no_route": (pool_of == NO_ROUTE) & ~over}
    models = [build_step_model(p.cfg) for p in pools]
    too_big = np.zeros(len(log.arrival), dtype=bool)
    for k, model in enumerate(models):
        usable = model.kv_blocks - int(WATERMARK * model.kv_blocks)
        too_big |= (pool_of == k) & ~over & (blocks_needed(model, total) > usable)
    reasons["kv_too_small"] = too_big
    served = ~(over | reasons["no_route"] | too_big)
    members = [np.flatnonzero(served & (pool_of == k)) for k in range(len(pools))]
    for pool, rids in zip(pools, members):
        if pool.replicas == 0:
            reasons["no_route"][rids] = True
    fleets = run_pools(models, [p.replicas for p in pools], members, log, options.policy, options.scheduler_name,
                       options.record_timeline, options.jobs)
    lat = request_latencies(log)
    met = slo_met(lat, slo.ttft_ms, slo.tpot_ms)
    summary = _summarize(pools, log, lat, met, pool_of, fleets, reasons, slo, options)
    return SimResult(summary, log, pool_of, fleets, lat)


def _summarize(pools: list[SimPool], log: RequestLog, lat: dict[str, np.ndarray], met: np.ndarray, pool_of: np.ndarray,
               fleets: list[list[ReplicaScheduler]], reasons: dict[str, np.ndarray], slo: SLO, options: SimOptions,
               members_of: list[np.ndarray] | None = None) -> dict[str, Any]:
    """The JSON summary: fleet-wide metrics and verdict, then one row per pool (`members_of`: each pool's request
    ids, when a request passes through two pools; default: the pool `pool_of` names)."""
    counted = ~reasons["over_context"]
    finish = log.finish[np.isfinite(log.finish)]
    span = float(finish.max() - log.arrival.min()) if finish.size else 0.0
    everyone = np.ones(len(log.arrival), dtype=bool)
    top = group_summary(log, lat, everyone, counted, met, [r for f in fleets for r in f], span)
    top["rejected_by_reason"] = {k: int(v.sum()) for k, v in reasons.items()}
    top |= _verdict(lat, counted, slo)
    rows = []
    for k, pool in enumerate(pools):
        if members_of is None:
            members = pool_of == k
        else:
            members = np.zeros(len(pool_of), dtype=bool)
            members[members_of[k]] = True
        row = {"pool": pool.key, **group_summary(log, lat, members, counted, met, fleets[k], span)}
        rows.append(row | _verdict(lat, counted & members, slo))
    return {
        "schema_version": SCHEMA_VERSION, "seed": options.seed, "routing_policy": options.policy,
        "chunked_prefill": options.scheduler_name == "chunked", "slo": slo.model_dump(), "duration_s": span, **top, "pools": rows,
    }


def _verdict(lat: dict[str, np.ndarray], counted: np.ndarray, slo: SLO) -> dict[str, Any]:
    """Share of requests within each SLO (a rejected request misses both); met when both reach the percentile."""
    n = int(counted.sum())
    if n == 0:
        return {"ttft_attainment": None, "tpot_attainment": None, "slo_met": True}
    ttft_ok = lat["ttft_ms"][counted] <= slo.ttft_ms
    tpot = lat["tpot_ms"][counted]
    tpot_ok = np.isfinite(lat["e2el_ms"][counted]) & (np.isnan(tpot) | (tpot <= slo.tpot_ms))
    need = slo.percentile / 100
    ttft_share, tpot_share = float(ttft_ok.mean()), float(tpot_ok.mean())
    return {"ttft_attainment": ttft_share, "tpot_attainment": tpot_share, "slo_met": ttft_share >= need and tpot_share >= need}
