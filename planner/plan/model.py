"""The plan: pools, routing, costs and single-GPU-type baselines, as typed objects (PlanDoc is its JSON).

Routes, baselines and per-bucket demand are the plan document's own records (planner.schemas.plan), so the
object and its JSON cannot drift apart; pools carry their ReplicaSpec, which the document flattens."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner.demand.series import HOURS_PER_MONTH
from planner.schemas.plan import BaselineDoc as Baseline
from planner.schemas.plan import DemandDoc as DemandSummary
from planner.schemas.plan import AlternativeDoc, InstanceDoc, ModelDoc, RuleDoc, SlotDoc, TiersDoc
from planner.schemas.plan import DisaggregationDoc as Disaggregation
from planner.schemas.plan import FloorDoc as Floor
from planner.schemas.plan import RouteDoc as Route
from planner.schemas.replica import ReplicaSpec
from planner.schemas.workload import SLO

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Pool:
    """`replicas` replicas of one config, what they cost, how busy they are and their predicted latency."""

    spec: ReplicaSpec
    replicas: int
    cost_per_hour: float
    utilization: float
    """Share of the pool's SLO capacity used at the design rate (<= utilization_target)."""
    ttft_ms: float | None
    """Predicted TTFT at the SLO percentile, at the pool's load (None for measured profiles)."""
    tpot_ms: float | None
    bound: str
    detail: str
    error_band: dict = field(default_factory=dict)
    """Held-out error of the performance model for this pool's GPU and engine (perf.bands.bands_for; JSON too)."""

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def gpu(self) -> str:
        return self.spec.gpu

    @property
    def quant(self) -> str:
        return self.spec.quant

    @property
    def tp(self) -> int:
        return self.spec.tp

    @property
    def kv_dtype(self) -> str:
        return self.spec.kv_dtype

    @property
    def gpus(self) -> int:
        return self.replicas * self.spec.tp

    @property
    def cost_per_replica_hour(self) -> float:
        return self.cost_per_hour / self.replicas if self.replicas else 0.0


@dataclass(frozen=True)
class Plan:
    """Result of `planner solve`. `to_dict()` is the versioned JSON document (planner.schemas.plan.PlanDoc)."""

    status: str
    """`optimal`, or `time_limit` when the solver stopped at its time limit (then `gap` says how far from proven)."""
    solver: str
    """The MILP solver that produced it (`highs` or `cbc`)."""
    gap: float | None
    """Relative gap between the plan's cost and the solver's proven bound (0 when optimal; None when unknown)."""
    runtime_s: float
    """Solver wall time, seconds."""
    cost_per_hour: float
    """USD per hour of the whole fleet (cost_per_month is this x 730 h)."""
    pools: tuple[Pool, ...]
    """One pool per config bought: replicas, cost, utilization, predicted p99 latency, binding resource."""
    routing: tuple[Route, ...]
    """Per request-size bucket, the share of its traffic each pool takes (what a load balancer needs)."""
    baselines: tuple[Baseline, ...]
    """The cheapest fleet of each single GPU type (cost None with the reason where that type cannot serve it all)."""
    design_rps: float
    """Request rate the fleet is sized for (req/s)."""
    output_tokens_per_s: float
    """Output tokens per second at the design rate."""
    input_tokens_per_s: float
    """Prompt tokens per second at the design rate."""
    model: str
    """Catalog id of the served model."""
    slo: SLO
    """The latency SLOs the plan meets (TTFT, TPOT at a percentile)."""
    utilization_target: float
    """Most of its SLO capacity any pool runs at, at the design rate (a hard limit: planner.optimize.headroom)."""
    demand: DemandSummary
    """What the plan was sized for: design rate, how it was derived, each bucket's share and rate."""
    instances: tuple[InstanceDoc, ...] = ()
    """Instances bought, by type (`pricing.unit: instance`; empty when GPUs are priced singly)."""
    simplest: AlternativeDoc | None = None
    """The fleet with the fewest pools within `fleet.simplest_within` of this one's cost (None: this one is it)."""
    rules: tuple[RuleDoc, ...] = ()
    """Fleet rules that bind, each with the cost without it."""
    slots: tuple[SlotDoc, ...] = ()
    """The fleet per time slot (`traffic.slots`); pools and routing are then the busiest slot's, and the cost
    is the month's mix over 730 h."""
    tiers: TiersDoc | None = None
    """Reserved / on-demand / spot split when the workload plans price tiers (None otherwise)."""
    models: tuple[ModelDoc, ...] = ()
    """Per model, when the fleet serves several (`models:`): SLO, peak rate, replicas and share of the cost."""
    mean_over_design: float | None = None
    """Mean traffic / design rate (planner.demand.series.RateStats.mean_over_design): how busy the fleet is on average."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Echo of what produced the plan: the workload, its hash, the trace and catalog files with their hashes."""
    notes: tuple[str, ...] = ()
    """Caveats to read with the plan (time limit hit, requests dropped, bad trace rows skipped, ...)."""
    floor: Floor | None = None
    """The physical floor (planner.plan.floor) and the plan's ratio to it; None without a catalog."""
    replay: str | None = None
    """The replay's verdict in one line, shown next to the cost when `solve` replayed the plan (not saved in the
    plan's JSON, whose `verification` object carries the replay in full)."""
    disaggregation: Disaggregation | None = None
    """Under `engine.disaggregation: auto | on`: which mode won per bucket and by how much (planner.plan.disagg)."""

    @property
    def cost_per_month(self) -> float:
        return self.cost_per_hour * HOURS_PER_MONTH

    @property
    def token_cost_basis(self) -> str:
        """The one rate "$ / 1M tokens" is quoted at everywhere: the trace's mean rate ("mean": what the fleet
        actually serves on average), or the design rate where the mean is not known ("design": a p95 design rate)."""
        return "design" if self.mean_over_design is None else "mean"

    @property
    def cost_per_million_output_tokens(self) -> float:
        """USD per 1M output tokens at `token_cost_basis` (the whole fleet charged to output tokens)."""
        return self.cost_per_million_tokens("output") or 0.0

    def cost_per_million_tokens(self, kind: str = "output", at: str | None = None) -> float | None:
        """USD per 1M `kind` ("input"/"output") tokens, charging the whole fleet to that kind, at the design rate
        or at the mean rate (the plan's actual average utilization); comparable with API list prices. `at` defaults
        to `token_cost_basis`, the one rate every output quotes.
        """
        tokens_per_s = {"input": self.input_tokens_per_s, "output": self.output_tokens_per_s}[kind]
        scale = {"design": 1.0, "mean": self.mean_over_design}[at or self.token_cost_basis]
        if not tokens_per_s or not scale:
            return None
        return self.cost_per_hour / (tokens_per_s * scale * 3600) * 1e6

    @property
    def cheapest_baseline(self) -> Baseline | None:
        feasible = [b for b in self.baselines if b.cost_per_hour is not None]
        return min(feasible, key=lambda b: (b.cost_per_hour, b.gpu)) if feasible else None

    @property
    def saving_vs_cheapest_single_type(self) -> float | None:
        """Fraction saved against the cheapest single-GPU-type fleet (0 when the plan is single-type)."""
        best = self.cheapest_baseline
        if best is None or not best.cost_per_hour:
            return None
        return (best.cost_per_hour - self.cost_per_hour) / best.cost_per_hour

    @property
    def gpus_by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for pool in self.pools:
            out[pool.gpu] = out.get(pool.gpu, 0) + pool.gpus
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema 1) as Python data."""
        from planner.plan.document import plan_document

        return plan_document(self)

    def to_json(self, indent: int = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent) + "\n"

    def to_frame(self) -> "pd.DataFrame":
        """One row per (pool, routed bucket): a tidy table of pools and routing (also the CSV format)."""
        import pandas as pd

        rows = []
        for pool in self.pools:
            for route in self.routing:
                share = route.shares.get(pool.key)
                if not share:
                    continue
                rows.append({
                    "config": pool.key, "gpu": pool.gpu, "quant": pool.quant, "tp": pool.tp, "kv_dtype": pool.kv_dtype,
                    "replicas": pool.replicas, "gpus": pool.gpus, "pool_cost_per_hour": pool.cost_per_hour,
                    "utilization": pool.utilization, "ttft_ms": pool.ttft_ms, "tpot_ms": pool.tpot_ms,
                    "bound": pool.bound, "bucket": route.bucket, "bucket_rate_rps": route.rate_rps, "share": share,
                })
        return pd.DataFrame(rows)
