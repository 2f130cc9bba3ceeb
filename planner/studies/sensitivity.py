"""One-at-a-time sensitivity: the monthly cost when each GPU price, the traffic and each SLO moves by ±delta."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from planner import api
from planner.errors import WorkloadError
from planner.io.overrides import Overrides
from planner.studies.parallel import Workers, cached_catalog, run_parallel, solve_point


@dataclass(frozen=True)
class Factor:
    """One sensitivity input varied low/high with the monthly cost at each end (None: infeasible)."""

    name: str
    path: str
    base_value: float
    low_value: float
    high_value: float
    low_cost: float | None
    high_cost: float | None
    low_reason: str | None = None
    high_reason: str | None = None

    @property
    def swing(self) -> float:
        costs = [c for c in (self.low_cost, self.high_cost) if c is not None]
        return max(costs) - min(costs) if len(costs) == 2 else math.inf


@dataclass(frozen=True)
class Sensitivity:
    """Base monthly cost and each factor's low/high costs, widest swing first (a tornado chart's order)."""

    delta: float
    base_cost_per_month: float
    factors: tuple[Factor, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "delta": self.delta, "base_cost_per_month": self.base_cost_per_month,
                "factors": [f.__dict__ | {"swing": None if math.isinf(f.swing) else f.swing} for f in self.factors]}


def traffic_inputs(w: Any) -> list[tuple[str, str, float]]:
    """(label, override path, base value) of the traffic: its target req/s, or its rate scale. With `models:` one per
    model, at models.N.traffic (the top-level traffic is the first model's and cannot be set on its own)."""
    entries = [("", "traffic", w.traffic)] if not w.models else \
        [(f"{e.model} ", f"models.{i}.traffic", e.traffic) for i, e in enumerate(w.models)]
    return [(f"{name}traffic (target req/s)", f"{path}.target_rps", t.target_rps) if t.target_rps is not None
            else (f"{name}traffic (rate scale)", f"{path}.rate_scale", t.rate_scale) for name, path, t in entries]


def sensitivity_inputs(problem: api.Problem) -> list[tuple[str, str, float]]:
    """(label, override path, base value) for each GPU price in scope, the traffic and each SLO."""
    w = problem.loaded.workload
    prices = {c.gpu: cost / c.tp for c, cost in zip(problem.table.configs, problem.table.costs)}
    out = [(f"{gpu} price $/GPU-h", f"pricing.overrides.{gpu}", usd) for gpu, usd in sorted(prices.items())]
    out += traffic_inputs(w)
    out += [("TTFT SLO ms", "slo.ttft_ms", w.slo.ttft_ms), ("TPOT SLO ms", "slo.tpot_ms", w.slo.tpot_ms)]
    return out


def sensitivity(workload: api.WorkloadInput, delta: float = 0.2, catalog_files: Sequence[str] = (), jobs: int | Workers = 1,
                progress: bool = False, overrides: Overrides | None = None, scenario: str | None = None) -> Sensitivity:
    """Vary each GPU price, the traffic and each SLO by ±`delta` (a fraction) one at a time; monthly cost at each end."""
    if not (0 < delta < 1):
        raise WorkloadError(f"sensitivity: delta is a fraction between 0 and 1 (exclusive), got {delta:g} (CLI: --delta in percent)")
    loaded = api.load(workload, overrides, scenario)
    files = tuple(str(f) for f in catalog_files)
    problem = api.prepare(loaded, files, cached_catalog(files))
    base = api.plan_from_table(problem.loaded, problem.table, problem.demand, files, catalog=problem.catalog)
    inputs = sensitivity_inputs(problem)
    ends = [(path, round(v * (1 - delta), 6)) for _, path, v in inputs] + [(path, round(v * (1 + delta), 6)) for _, path, v in inputs]
    from joblib import delayed

    results = run_parallel([delayed(solve_point)(loaded, files, {p: v}) for p, v in ends], jobs, progress, "sensitivity")
    n = len(inputs)
    factors = []
    for i, (label, path, value) in enumerate(inputs):
        (lo_plan, lo_why), (hi_plan, hi_why) = results[i], results[n + i]
        factors.append(Factor(label, path, value, ends[i][1], ends[n + i][1],
                              round(lo_plan.cost_per_month, 2) if lo_plan else None, round(hi_plan.cost_per_month, 2) if hi_plan else None,
                              lo_why, hi_why))
    factors.sort(key=lambda f: (-f.swing, f.name))
    return Sensitivity(delta, round(base.cost_per_month, 2), tuple(factors))  # rounded as in Plan.to_dict


