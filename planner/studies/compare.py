"""Comparing plans: scenarios of one workload side by side, or two saved plans (`planner diff`), with
Infracost-style cost changes against the first column (docs/whatif.md)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner import api
from planner.demand.series import HOURS_PER_MONTH
from planner.errors import WorkloadError
from planner.plan.document import read_plan
from planner.plan.model import Plan
from planner.demand.series import HOURS_PER_MONTH
from planner.studies.parallel import Workers, run_parallel, solve_point


def summarize(plan: Plan) -> dict[str, Any]:
    """The numbers a comparison shows (saved plans and fresh solves compare alike)."""
    ttft = [p.ttft_ms for p in plan.pools if p.ttft_ms is not None]
    tpot = [p.tpot_ms for p in plan.pools if p.tpot_ms is not None]
    return {
        "status": plan.status,
        "cost_per_hour": round(plan.cost_per_hour, 4),
        "cost_per_month": round(plan.cost_per_month, 2),
        "cost_per_million_output_tokens": round(plan.cost_per_million_output_tokens, 4),
        "cost_per_million_input_tokens": _round(plan.cost_per_million_tokens("input"), 4),
        "gpus": sum(plan.gpus_by_type.values()),
        "gpus_by_type": plan.gpus_by_type,
        "ttft_ms": max(ttft) if ttft else None,
        "tpot_ms": max(tpot) if tpot else None,
        "pools": len(plan.pools),
        "simplest_cost_per_month": None if plan.simplest is None else round(plan.simplest.cost_per_hour * HOURS_PER_MONTH, 2),
        "instances": {i.name: i.count for i in plan.instances},
        "slots": len(plan.slots),
        "reserved": dict(plan.tiers.reserved_gpus) if plan.tiers else {},
        "models": {m.model: round(m.cost_per_month, 2) for m in plan.models},
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class CostChange:
    """Monthly cost of a column minus the reference column's, in USD and as a fraction."""

    usd_per_month: float
    fraction: float | None


@dataclass(frozen=True)
class Column:
    """One scenario (or saved plan) in a comparison: its summary, or why it has none."""

    name: str
    summary: dict[str, Any] | None
    reason: str | None = None


@dataclass(frozen=True)
class PoolChange:
    """One pool of a plan diff, Infracost-style: added (+), removed (-) or changed (~), with its monthly cost change."""

    key: str
    action: str
    """`+` added, `-` removed, `~` changed replica count."""
    old_replicas: int
    new_replicas: int
    old_gpus: int
    new_gpus: int
    usd_per_month: float
    """New monthly cost of the pool minus the old (negative when it shrinks or goes)."""


def pool_changes(old: Plan, new: Plan) -> tuple[PoolChange, ...]:
    """Pools that differ between two plans, matched by config key; unchanged pools are left out."""
    before, after = {p.key: p for p in old.pools}, {p.key: p for p in new.pools}
    out = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is not None and b is not None and a.replicas == b.replicas:
            continue
        action = "+" if a is None else "-" if b is None else "~"
        old_cost, new_cost = (a.cost_per_hour if a else 0.0), (b.cost_per_hour if b else 0.0)
        out.append(PoolChange(key, action, a.replicas if a else 0, b.replicas if b else 0, a.gpus if a else 0,
                              b.gpus if b else 0, (new_cost - old_cost) * HOURS_PER_MONTH))
    return tuple(out)


@dataclass(frozen=True)
class Comparison:
    """Scenarios side by side; the first column is the reference every change is measured against."""

    columns: tuple[Column, ...]
    pools: tuple[PoolChange, ...] = ()
    """Per-pool changes between the two plans of a `diff` (empty for scenario comparisons)."""

    def changes(self) -> list[CostChange | None]:
        """Change in $/month of each column against the first (None where either side has no plan)."""
        ref = self.columns[0].summary
        out: list[CostChange | None] = []
        for col in self.columns:
            if ref is None or col.summary is None:
                out.append(None)
                continue
            old, new = ref["cost_per_month"], col.summary["cost_per_month"]
            out.append(CostChange(new - old, (new - old) / old if old else None))
        return out

    def max_growth(self) -> float | None:
        """Largest cost growth against the reference as a fraction (inf when a column became infeasible)."""
        growth = [c.fraction if c and c.fraction is not None else math.inf for c in self.changes()[1:]]
        return max(growth) if growth else None

    def to_dict(self) -> dict[str, Any]:
        out = {"schema_version": 2, "reference": self.columns[0].name, "columns": [
            {"name": c.name, "summary": c.summary, "reason": c.reason,
             "change_per_month": None if ch is None else ch.usd_per_month,
             "change_fraction": None if ch is None else ch.fraction}
            for c, ch in zip(self.columns, self.changes())]}
        if self.pools:
            out["pools"] = [vars(p) for p in self.pools]
        return out


def compare(workload: api.WorkloadInput, scenarios: Sequence[str], catalog_files: Sequence[str] = (), jobs: int | Workers = 1,
            progress: bool = False) -> Comparison:
    """Solve each named scenario ("base" = the workload as written) and line them up against the first."""
    if not scenarios:
        raise WorkloadError("compare: name at least one scenario, e.g. base and growth (CLI: --scenario base,growth)")
    loaded = api.as_loaded(workload)
    for name in scenarios:
        api.load(loaded, scenario=name)  # fail fast on unknown names and bad overrides
    files = tuple(str(f) for f in catalog_files)
    from joblib import delayed

    tasks = [delayed(solve_point)(loaded, files, None, name) for name in scenarios]
    results = run_parallel(tasks, jobs, progress, "compare")
    return Comparison(tuple(Column(name, summarize(plan) if plan else None, reason)
                            for name, (plan, reason) in zip(scenarios, results)))


def diff(old: Plan | str | Path, new: Plan | str | Path, names: tuple[str, str] | None = None) -> Comparison:
    """Two plans (saved by `planner solve --format json`, or Plan objects) as a two-column comparison."""
    names = names or (str(old) if not isinstance(old, Plan) else "old", str(new) if not isinstance(new, Plan) else "new")
    a, b = read_plan(old), read_plan(new)
    return Comparison((Column(names[0], summarize(a)), Column(names[1], summarize(b))), pool_changes(a, b))


