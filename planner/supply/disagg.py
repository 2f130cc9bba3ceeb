"""Disaggregated prefill/decode configs in the capacity table: every candidate's GPU x format x KV dtype x TP
once more as a `prefill` and as a `decode` replica (planner.perf.disagg), appended to the co-located rows.

The workload's `engine.disaggregation` says which rows the optimizer sees: `off` the co-located ones only, `on`
the role rows only, `auto` both (the MILP picks per bucket), where a bucket keeps its prefill/decode option unless
the cheapest pair's $/h per req/s is more than PAIR_SLACK above the cheapest co-located config's (the LP
relaxation's view of one bucket, loosened by what pooling and whole replicas can give; it keeps the MILP as small
as without disaggregation where disaggregation cannot win). GPUs without a network figure in the catalog get
no role rows (the KV transfer could not be priced).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.demand.series import DemandSeries
from planner.perf.disagg import decode_rows, prefill_rows
from planner.perf.memory import ServingConfig
from planner.schemas.replica import EngineParams, Role
from planner.schemas.workload import SLO
from planner.supply.candidates import Candidate
from planner.supply.table import CapacityTable

ROLES: tuple[Role, Role] = ("prefill", "decode")
PAIR_SLACK = 0.10
"""Under `auto` a bucket is offered prefill + decode pairs unless the cheapest pair's $/h per req/s is more than this
share above the cheapest co-located config's. The one-bucket test misses what whole replicas and pools shared
across buckets give: on the Mooncake conversation trace (70B, 30 s / 100 ms) a pair 7.2 % dearer per req/s on the
8k-32k / 256-1023 bucket saved 4 % of the plan ($171.91 -> $165.05/h); until 2026-12-03 pairs had to be 1 % cheaper,
and a better co-located capacity there then raised the plan's cost. At 10 % the five examples' plans and solve
times were unchanged but RAG's ($137.56 -> $125.90/h)."""


def role_config(cfg: ServingConfig) -> ServingConfig:
    """The config a role replica runs: whole prompts under vLLM's default token budget (a prefill replica has no
    decode steps to protect, a decode replica no prompts to chunk), so the chunk-budget search does not apply."""
    return replace(cfg, engine=replace(cfg.engine, chunked_prefill=False, max_num_batched_tokens=EngineParams.max_num_batched_tokens))


def without_roles(table: CapacityTable, why: str) -> CapacityTable:
    """`table` with its co-located rows only (a plan the pair rows do not reach: several models, time slots), and
    a note saying `why` when it had role rows."""
    keep = [k for k, spec in enumerate(table.configs) if spec.role == "unified"]
    if len(keep) == len(table.configs):
        return table
    cells = None if table.cells is None else tuple(table.cells[k] for k in keep)
    levels = tuple(replace(level, max_rps=level.max_rps[keep]) for level in table.levels)
    return CapacityTable(tuple(table.configs[k] for k in keep), table.costs[keep], table.buckets, table.max_rps[keep], cells,
                         table.source, table.notes + (f"engine.disaggregation: {why} plan co-located replicas only",), levels)


def _role_candidates(candidates: tuple[Candidate, ...]) -> list[Candidate]:
    """One candidate per GPU x format x KV dtype x TP with a network figure (the budget variants collapse)."""
    seen, out = set(), []
    for c in candidates:
        cfg = role_config(c.config)
        if cfg.gpu.network is None or cfg.spec is not None or cfg.replica in seen:
            continue
        seen.add(cfg.replica)
        out.append(Candidate(cfg, c.offer))
    return out


def with_roles(table: CapacityTable, candidates: tuple[Candidate, ...], demand: DemandSeries, slo: SLO, mode: str) -> CapacityTable:
    """`table` with prefill and decode rows per `mode` (`off`: unchanged; `on`: role rows only; `auto`: both)."""
    if mode == "off":
        return table
    role = _role_candidates(candidates)
    cfgs = [c.config for c in role]
    pairs = zip(prefill_rows(cfgs, demand.buckets, slo), decode_rows(cfgs, demand.buckets, slo)) if cfgs else ()
    configs, costs, rows = [], [], []
    for c, both in zip(role, pairs):
        for name, row in zip(ROLES, both):
            configs.append(replace(c.config.replica, role=name))
            costs.append(c.cost_per_hour)
            rows.append(row)
    if not configs:
        note = "engine.disaggregation: no allowed GPU has a network figure in the catalog; co-located replicas only"
        return replace(table, notes=table.notes + (note,))
    max_rps = np.array([[cell.max_rps for cell in row] for row in rows], dtype=float).reshape(len(configs), len(demand.buckets))
    if mode == "auto":  # keep a bucket's pair option unless it is PAIR_SLACK dearer per req/s than co-located (the LP
        # test, loosened), at one replica's capacities: taking prefill cells at their largest pool's
        # (planner.optimize.pooling) kept pairs on the chat example for a $0.71/h win from rounding at 4x the solve time,
        # and $6.68/h of $4,670 at 150 req/s
        co, dis = unit_costs(table.configs + tuple(configs), np.concatenate([table.costs, costs]),
                             np.vstack([table.max_rps, max_rps]))
        max_rps[:, ~(np.isfinite(dis) & (dis <= co * (1 + PAIR_SLACK)))] = 0.0  # no pair: no half of one either
        keep = [k for k in range(len(configs)) if (max_rps[k] > 0).any()]
        configs, costs, rows, max_rps = [configs[k] for k in keep], [costs[k] for k in keep], [rows[k] for k in keep], max_rps[keep]
        if not configs:
            return table
    cells = table.cells if table.cells is not None else ()  # the analytical model always fills them
    # fleet SLO scope: a pair is offered at the SLO's own percentile only (its rows are at that level; the other
    # levels of the menu, planner.supply.levels, are co-located capacities), so its shares spend the miss budget as
    # the bucket scope would
    at = [max_rps] + [np.zeros_like(max_rps)] * (len(table.levels) - 1)  # levels[0] is the SLO's own: the table's
    if mode == "on":
        levels = tuple(replace(level, max_rps=rps) for level, rps in zip(table.levels, at))
        return CapacityTable(tuple(configs), np.array(costs), table.buckets, max_rps, tuple(rows), table.source, table.notes,
                             levels)
    levels = tuple(replace(level, max_rps=np.vstack([level.max_rps, rps])) for level, rps in zip(table.levels, at))
    return CapacityTable(table.configs + tuple(configs), np.concatenate([table.costs, costs]), table.buckets,
                         np.vstack([table.max_rps, max_rps]), cells + tuple(rows), table.source, table.notes, levels)


def unit_costs(configs: tuple[ReplicaSpec, ...], costs: np.ndarray, max_rps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket, the cheapest $/h per req/s co-located (min_k cost_k / cap[k,b]) and disaggregated (for the best
    KV dtype, min_p cost_p / cap[p,b] + min_q cost_q / cap[q,b]); inf where a mode cannot serve the bucket. The
    LP relaxation's view of one bucket alone: what "by how much" each mode wins by, before whole replicas."""
    with np.errstate(divide="ignore"):
        per = np.where(max_rps > 0, costs[:, None] / np.where(max_rps > 0, max_rps, 1.0), np.inf)
    roles = np.array([c.role for c in configs])
    kvs = np.array([c.kv_dtype for c in configs])
    n_buckets = max_rps.shape[1]
    co = per[roles == "unified"].min(axis=0) if (roles == "unified").any() else np.full(n_buckets, np.inf)
    dis = np.full(n_buckets, np.inf)
    for kv in sorted(set(kvs.tolist())):
        pre, dec = (roles == "prefill") & (kvs == kv), (roles == "decode") & (kvs == kv)
        if pre.any() and dec.any():
            dis = np.minimum(dis, per[pre].min(axis=0) + per[dec].min(axis=0))
    return co, dis
