"""What disaggregation did for a plan: per bucket the share sent through a prefill + decode pair and each mode's
cheapest $/h per req/s, and the fleet against the co-located-only solve (docs/methodology.md, "Disaggregated
prefill/decode")."""
from __future__ import annotations

import math

from planner.demand.series import DemandSeries
from planner.optimize.disagg import colocated_rows, has_roles
from planner.optimize.fleet import FleetOutcome, SolverSettings, optimize_fleet
from planner.optimize.problem import FleetProblem
from planner.schemas.plan import DisaggBucketDoc, DisaggregationDoc
from planner.supply.disagg import unit_costs
from planner.supply.table import CapacityTable


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def disaggregation_doc(table: CapacityTable, demand: DemandSeries, problem: FleetProblem, best: FleetOutcome,
                       settings: SolverSettings, mode: str) -> DisaggregationDoc | None:
    """The plan's disaggregation record (None when the table has no prefill/decode rows). The co-located-only
    solve runs only when the plan uses a disaggregated pool (otherwise it is the plan itself)."""
    if mode not in ("auto", "on") or not has_roles(table.configs) or best.solution is None or best.cost_per_hour is None:
        return None
    co, dis = unit_costs(table.configs, table.costs, table.max_rps)
    shares = [0.0] * len(table.buckets)
    for (b, spec), share in best.solution.shares.items():
        if spec.role == "prefill":
            shares[b] += share
    buckets = [DisaggBucketDoc(bucket=bucket.label, disaggregated_share=round(min(s, 1.0), 6), colocated_usd_per_rps=_finite(c),
                               disaggregated_usd_per_rps=_finite(d))
               for bucket, s, c, d in zip(table.buckets, shares, co, dis) if demand.bucket_rates()[table.buckets.index(bucket)] > 0]
    uses = any(spec.role != "unified" for spec in best.solution.replicas)
    rows = colocated_rows(problem.configs)
    if not uses:
        colocated = best.cost_per_hour
    elif rows:
        colocated = optimize_fleet(problem.restricted(rows), settings).cost_per_hour
    else:
        colocated = None
    saving = None if colocated is None else colocated - best.cost_per_hour
    return DisaggregationDoc(mode=mode, colocated_cost_per_hour=colocated, saving_per_hour=saving, buckets=buckets)  # type: ignore[arg-type]
