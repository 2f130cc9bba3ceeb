"""Replay of a fleet with disaggregated pools: request -> prefill replica (prompt only) -> KV transfer (queued FIFO
on the sending replica's network link) -> decode replica (KV admitted, decode steps only).

Three passes, each over independent pools as in planner.simulate.replay: the co-located and prefill pools (a
prefill replica runs the `serial` scheduler on the prompt and its first token), the transfers, then the decode
pools on the requests' KV arrival times (`decode` scheduler). A disaggregated request's TTFT is its admission
on the decode replica (queueing + prefill + transfer + any wait for KV blocks) minus its arrival; its TPOT
comes from the decode replica. Co-located pools in the same fleet replay as usual.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.io.traces.trace import Trace
from planner.perf.disagg import kv_transfer_s
from planner.schemas.workload import SLO
from planner.simulate.metrics import request_latencies, slo_met
from planner.simulate.pools import run_pools
from planner.simulate.request_log import RequestLog
from planner.simulate.router import NO_ROUTE, RouteTable, route_requests
from planner.simulate.schedulers.base import WATERMARK, ReplicaScheduler, blocks_needed
from planner.simulate.steps import StepModel, build_step_model

PREFILL_SCHEDULER = "serial"
"""A prefill replica prefills whole prompts (no decode steps to protect)."""


def pair_routes(routes: RouteTable, roles: list[str], kv: list[str], log: RequestLog, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each request's first pool (co-located or prefill, by the non-decode shares) and, for requests sent to a
    prefill pool, its decode pool (by the decode shares of its bucket among pools of the same KV dtype)."""
    front = route_requests(replace(routes, shares=np.where(np.array(roles) == "decode", 0.0, routes.shares)), log.prompt, log.output, rng)
    decode = np.full(len(front), NO_ROUTE, dtype=np.int64)
    for dtype in sorted(set(kv)):
        mask = np.array([r == "decode" and d == dtype for r, d in zip(roles, kv)])
        drawn = route_requests(replace(routes, shares=np.where(mask, routes.shares, 0.0)), log.prompt, log.output, rng)
        senders = np.isin(front, [k for k, (r, d) in enumerate(zip(roles, kv)) if r == "prefill" and d == dtype])
        decode[senders] = drawn[senders]
    return front, decode


def transfer_done(log: RequestLog, rids: np.ndarray, pool: np.ndarray, seconds: dict[int, np.ndarray]) -> np.ndarray:
    """When each prefilled request's KV has reached its decode replica: transfers leave each prefill replica's link
    one at a time in the order their prefills finished (end = max(ready, link free) + bytes / bandwidth)."""
    done = np.full(len(rids), np.nan)
    ready = log.first_token[rids]
    for k in sorted(set(pool.tolist())):
        for r in sorted(set(log.replica[rids[pool == k]].tolist())):
            idx = np.flatnonzero((pool == k) & (log.replica[rids] == r))
            idx = idx[np.argsort(ready[idx], kind="stable")]
            free = -np.inf
            for i, t, s in zip(idx.tolist(), ready[idx].tolist(), seconds[k][idx].tolist()):
                free = max(t, free) + s
                done[i] = free
    return done


def _kv_too_big(models: list[StepModel], pool_of: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Requests whose sequence cannot fit their pool's whole usable KV cache."""
    out = np.zeros(len(tokens), dtype=bool)
    for k, model in enumerate(models):
        usable = model.kv_blocks - int(WATERMARK * model.kv_blocks)
        out |= (pool_of == k) & (blocks_needed(model, tokens) > usable)
    return out


def simulate_pairs(pools: list, routes: RouteTable, trace: Trace, slo: SLO, max_context: int, scheduler: str, policy: str,
                   seed: int, record: bool, jobs: int | None) -> tuple[RequestLog, np.ndarray, list[np.ndarray], list[list[ReplicaScheduler]], dict[str, np.ndarray]]:
    """Replay `trace` on `pools` (planner.simulate.replay.SimPool, some with role prefill/decode); returns the merged
    log, each request's first pool, every pool's members, the replicas of every pool and the rejection reasons."""
    rng = np.random.default_rng(seed)
    cached = None if trace.cached_tokens is None else trace.cached_tokens.astype(np.int64)
    log = RequestLog(trace.arrival_s.astype(float), trace.input_tokens.astype(np.int64), trace.output_tokens.astype(np.int64), cached)
    roles, kv = [p.role for p in pools], [p.cfg.kv.id for p in pools]
    front, decode = pair_routes(routes, roles, kv, log, rng)
    split = np.isin(front, [k for k, r in enumerate(roles) if r == "prefill"])
    models = [build_step_model(p.cfg) for p in pools]
    over = log.prompt + log.output > max_context
    no_route = ((front == NO_ROUTE) | (split & (decode == NO_ROUTE))) & ~over
    first_out = np.where(split, 1, log.output)
    too_big = (_kv_too_big(models, front, log.prompt + first_out) | _kv_too_big(models, decode, log.prompt + log.output)) & ~over & ~no_route
    served = ~(over | no_route | too_big)
    stage1 = RequestLog(log.arrival, log.prompt, first_out, log.cached)
    fleets: list[list[ReplicaScheduler]] = [[] for _ in pools]
    members = [np.flatnonzero(served & (front == k)) if r != "decode" else np.flatnonzero(served & (decode == k)) for k, r in enumerate(roles)]
    for group, name in (("unified", scheduler), ("prefill", PREFILL_SCHEDULER)):
        picked = [k for k, r in enumerate(roles) if r == group]
        ran = run_pools(models, [p.replicas if k in picked else 0 for k, p in enumerate(pools)],
                        [m if k in picked else m[:0] for k, m in enumerate(members)], stage1, policy, name, record, jobs)
        for k in picked:
            fleets[k] = ran[k]
    senders = np.flatnonzero(served & split)
    seconds = {k: np.asarray(kv_transfer_s(pools[k].cfg, log.prompt[senders]), dtype=float) for k in set(front[senders].tolist())}
    arrival2 = np.full(len(log.arrival), np.inf)
    arrival2[senders] = transfer_done(stage1, senders, front[senders], {k: s for k, s in seconds.items()})
    stage2 = RequestLog(arrival2, log.prompt, log.output, log.prompt.copy())
    decoders = [k for k, r in enumerate(roles) if r == "decode"]
    ordered = [members[k][np.argsort(arrival2[members[k]], kind="stable")] if k in decoders else members[k][:0] for k in range(len(pools))]
    ran = run_pools(models, [p.replicas if k in decoders else 0 for k, p in enumerate(pools)], ordered, stage2, policy, "decode", record, jobs)
    for k in decoders:
        fleets[k] = ran[k]
    for name in RequestLog.OUTCOMES:
        getattr(log, name)[:] = getattr(stage1, name)
    for name in ("remaining", "first_token", "finish", "replica"):
        getattr(log, name)[senders] = getattr(stage2, name)[senders]
    log.preemptions[senders] += stage2.preemptions[senders]
    reasons = {"over_context": over, "no_route": no_route, "kv_too_small": too_big}
    for k, p in enumerate(pools):
        if p.replicas == 0:
            reasons["no_route"][members[k]] = True
    return log, front, members, fleets, reasons


def latencies(log: RequestLog, slo: SLO) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-request latencies and whether each met both SLOs (as for a co-located replay)."""
    lat = request_latencies(log)
    return lat, slo_met(lat, slo.ttft_ms, slo.tpot_ms)
