"""Repair a plan by replay, both ways (`solve --verify --repair`): grow the pools that miss their SLOs, then
shrink the pools replay shows to be oversized, re-simulating after every step so the SLOs still hold.

Which pools miss depends on the SLO's scope (planner.simulate.replay.SimResult.met): under `bucket` every pool
must meet the percentile, under `fleet` only the fleet must, so growth goes to the pools with the most misses.
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

from planner.io.traces import Trace
from planner.schemas.workload import SLO
from planner.simulate.replay import SimOptions, SimResult

log = logging.getLogger(__name__)
REPAIR_STEP = 0.05
"""Growth of a missing pool per repair round: one replica, or 5 % of a large pool (above 20 replicas +1
changes too little to converge in a few rounds; 5 % keeps the overshoot within one replica in 20)."""
OVERSIZED = 0.5
"""A pool of several replicas whose replayed p99 TTFT and TPOT are both under this share of the SLO is oversized:
replay says it has far more room than the plan sized for (issue 12: pools 2-5 % busy at a quarter of the TPOT
SLO passed as ok)."""


def oversized(row: dict[str, Any], slo: dict[str, Any]) -> bool:
    """Whether a pool's replay row (SimResult.summary["pools"]) shows it oversized: several replicas, and p99 TTFT
    and TPOT both under OVERSIZED x the SLO."""
    ttft, tpot = row.get("p99_ttft_ms"), row.get("p99_tpot_ms")
    if ttft is None or tpot is None or row["replicas"] <= 1:
        return False
    return ttft < OVERSIZED * slo["ttft_ms"] and tpot < OVERSIZED * slo["tpot_ms"]


def _run(fleet: Any, pools: list, trace: Trace, options: SimOptions) -> tuple[Any, SimResult]:  # noqa: ANN401 - a verify.Fleet
    from planner.simulate.verify import run_fleet

    fleet = replace(fleet, pools=pools)
    return fleet, run_fleet(fleet, trace, options)


def _missing(result: SimResult, scope: str) -> list[int]:
    """Pools to grow: those under the percentile; under the fleet scope with none under it, the one with the
    lowest attainment (the fleet misses while every pool passes only through rounding)."""
    rows = result.summary["pools"]
    below = [k for k, row in enumerate(rows) if not row["slo_met"]]
    if below or scope != "fleet":
        return below
    scored = [(row["slo_attainment"], k) for k, row in enumerate(rows) if row["slo_attainment"] is not None]
    return [min(scored)[1]] if scored else []


def grow(fleet: Any, trace: Trace, options: SimOptions, result: SimResult, max_rounds: int) -> tuple[Any, SimResult, int]:  # noqa: ANN401
    """Add replicas to the pools that miss (+1, or +REPAIR_STEP of a pool above 20) until the SLOs hold or
    `max_rounds` is reached; returns the fleet, its replay and the rounds used."""
    scope = fleet.loaded.workload.slo.scope
    rounds = 0
    while not result.met and rounds < max_rounds:
        missing = _missing(result, scope)
        if not missing:
            break
        pools = list(fleet.pools)
        for k in missing:
            pools[k] = replace(pools[k], replicas=pools[k].replicas + max(1, math.ceil(REPAIR_STEP * pools[k].replicas)))
        fleet, result = _run(fleet, pools, trace, options)
        rounds += 1
        log.info("repair round %d (grow): %s", rounds, ", ".join(f"{p.key} x{p.replicas}" for p in pools))
    return fleet, result, rounds


def shrink(fleet: Any, trace: Trace, options: SimOptions, result: SimResult, max_rounds: int) -> tuple[Any, SimResult, int]:  # noqa: ANN401
    """Remove replicas from pools of several replicas while the SLOs hold (the plan's SLOs, in its scope): the
    pools flagged `oversized` first, then the others, costliest first within each group.

    Per pool, bisection on its replica count between 0 (assumed to miss) and the last count that held; every try
    is one replay, at most `max_rounds` over all pools. The replay's busy share does not bound the count: under
    continuous batching a replica steps whenever any sequence is live, so it reads near 100 % on pools that are
    several times too large. Returns the fleet, its replay and the rounds used."""
    slo = fleet.loaded.workload.slo.model_dump()
    rows = result.summary["pools"]
    order = sorted((k for k, p in enumerate(fleet.pools) if p.replicas > 1),
                   key=lambda k: (not oversized(rows[k], slo), -fleet.pools[k].replicas * fleet.pools[k].cfg.tp))
    rounds = 0
    for k in order:
        ok, bad = fleet.pools[k].replicas, 0
        while ok - bad > 1 and rounds < max_rounds:
            trial = (bad + ok) // 2
            pools = list(fleet.pools)
            pools[k] = replace(pools[k], replicas=trial)
            tried, outcome = _run(fleet, pools, trace, options)
            rounds += 1
            log.info("repair round %d (shrink): %s x%d %s", rounds, pools[k].key, trial, "holds" if outcome.met else "misses")
            if outcome.met:
                fleet, result, ok = tried, outcome, trial
            else:
                bad = trial
    return fleet, result, rounds
