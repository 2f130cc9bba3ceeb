"""The plan: pools, routing, costs and baselines, plus its JSON schema (SCHEMA_VERSION)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.capacity_table import CapacityTable, ConfigSpec
from planner.demand import Demand
from planner.optimize.fleet import FleetSolution

SCHEMA_VERSION = 1
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Pool:
    gpu: str
    quant: str
    tp: int
    kv_dtype: str
    replicas: int
    gpus: int
    cost_per_hour: float
    utilization: float
    """Share of the pool's SLO capacity used at the design rate (<= utilization_target)."""
    ttft_ms_p99: float | None
    tpot_ms_p99: float | None
    bound: str
    detail: str

    @property
    def key(self) -> str:
        return ConfigSpec(self.gpu, self.quant, self.tp, self.kv_dtype, 0.0).key


@dataclass(frozen=True)
class Route:
    bucket: str
    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    rate_rps: float
    shares: dict[str, float]


@dataclass(frozen=True)
class Baseline:
    gpu: str
    cost_per_hour: float | None
    gpus: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Plan:
    """Result of `planner solve`. `to_dict()` is the versioned JSON schema (docs/output.md)."""

    status: str
    solver: str
    gap: float | None
    runtime_s: float
    cost_per_hour: float
    pools: tuple[Pool, ...]
    routing: tuple[Route, ...]
    baselines: tuple[Baseline, ...]
    design_rps: float
    output_tokens_per_s: float
    input_tokens_per_s: float
    model: str
    slo: dict[str, float]
    utilization_target: float
    demand: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def cost_per_month(self) -> float:
        return self.cost_per_hour * HOURS_PER_MONTH

    @property
    def cost_per_million_output_tokens(self) -> float:
        return self.cost_per_hour / (self.output_tokens_per_s * 3600) * 1e6

    @property
    def mean_over_design(self) -> float | None:
        """Mean traffic / design rate: how busy the fleet bought for the design rate is on average.

        1 for histograms and `design_rate: mean`; mean/peak for `peak`; None for `p95` (the demand summary
        does not carry the unscaled p95 rate). Both rates are unscaled, so `rate_scale`/`target_rps` cancel.
        """
        method = str(self.demand.get("method", ""))
        if method.startswith(("histogram", "mean")):
            return 1.0
        mean, peak = self.demand.get("mean_rps"), self.demand.get("peak_rps")
        if method.startswith("peak") and mean and peak:
            return min(1.0, float(mean) / float(peak))
        return None

    def cost_per_million_tokens(self, kind: str = "output", at: str = "design") -> float | None:
        """USD per 1M `kind` ("input"/"output") tokens, charging the whole fleet to that kind, at the design rate
        or at the mean rate (the plan's actual average utilization); comparable with API list prices.
        """
        tokens_per_s = {"input": self.input_tokens_per_s, "output": self.output_tokens_per_s}[kind]
        scale = {"design": 1.0, "mean": self.mean_over_design}[at]
        if not tokens_per_s or not scale:
            return None
        return self.cost_per_hour / (tokens_per_s * scale * 3600) * 1e6

    @property
    def cheapest_baseline(self) -> Baseline | None:
        feasible = [b for b in self.baselines if b.cost_per_hour is not None]
        return min(feasible, key=lambda b: (b.cost_per_hour, b.gpu)) if feasible else None

    @property
    def saving_vs_single_type(self) -> float | None:
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
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status,
            "solver": {"name": self.solver, "gap": self.gap, "runtime_s": round(self.runtime_s, 4)},
            "model": self.model,
            "slo": self.slo,
            "utilization_target": self.utilization_target,
            "cost_per_hour": round(self.cost_per_hour, 4),
            "cost_per_month": round(self.cost_per_month, 2),
            "cost_per_million_output_tokens": round(self.cost_per_million_output_tokens, 4),
            "cost_per_million_tokens": {
                at: {kind: _round(self.cost_per_million_tokens(kind, at), 4) for kind in ("input", "output")}
                for at in ("design", "mean")
            } | {"mean_over_design": self.mean_over_design},
            "design_rps": self.design_rps,
            "output_tokens_per_s": self.output_tokens_per_s,
            "input_tokens_per_s": self.input_tokens_per_s,
            "gpus_by_type": self.gpus_by_type,
            "pools": [asdict(p) | {"config": p.key} for p in self.pools],
            "routing": [asdict(r) for r in self.routing],
            "baselines": [asdict(b) for b in self.baselines],
            "saving_vs_cheapest_single_type": self.saving_vs_single_type,
            "demand": self.demand,
            "inputs": self.inputs,
            "notes": list(self.notes),
        }

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(_jsonable(self.to_dict()), indent=indent) + "\n"

    def to_frame(self) -> pd.DataFrame:
        """One row per (pool, routed bucket): a tidy table of pools and routing (also the CSV format)."""
        rows = []
        for pool in self.pools:
            for route in self.routing:
                share = route.shares.get(pool.key)
                if not share:
                    continue
                rows.append({
                    "config": pool.key, "gpu": pool.gpu, "quant": pool.quant, "tp": pool.tp, "kv_dtype": pool.kv_dtype,
                    "replicas": pool.replicas, "gpus": pool.gpus, "pool_cost_per_hour": pool.cost_per_hour,
                    "utilization": pool.utilization, "ttft_ms_p99": pool.ttft_ms_p99, "tpot_ms_p99": pool.tpot_ms_p99,
                    "bound": pool.bound, "bucket": route.bucket, "bucket_rate_rps": route.rate_rps, "share": share,
                })
        return pd.DataFrame(rows)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _jsonable(value: Any) -> Any:
    """Replace NaN/inf by null and numpy scalars by Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def build_pools(table: CapacityTable, rates: np.ndarray, solution: FleetSolution) -> tuple[tuple[Pool, ...], tuple[Route, ...]]:
    """Pools (with utilization and predicted p99 latency at their load) and the routing table."""
    pools = []
    for k, n in sorted(solution.replicas.items(), key=lambda kv: table.configs[kv[0]].key):
        cfg = table.configs[k]
        loads = {b: rates[b] * s / table.max_rps[k, b] for (b, kk), s in solution.shares.items() if kk == k}
        util = sum(loads.values()) / n
        ttft, tpot, bound, detail = None, None, "", ""
        if loads:
            main = max(loads, key=lambda b: loads[b])
            cells = [(b, table.cell(k, b)) for b in loads]
            if all(c is not None for _, c in cells):
                lat = [c.latency_at(util * table.max_rps[k, b]) for b, c in cells]  # type: ignore[union-attr]
                ttft, tpot = max(t for t, _ in lat), max(t for _, t in lat)
            main_cell = table.cell(k, main)
            bound, detail = (main_cell.bound, main_cell.detail) if main_cell else ("measured", "capacity from a measured profile")
        pools.append(Pool(cfg.gpu, cfg.quant, cfg.tp, cfg.kv_dtype, n, n * cfg.tp, n * cfg.cost_per_hour, util, ttft, tpot, bound, detail))
    routes = []
    for b, bucket in enumerate(table.buckets):
        shares = {table.configs[k].key: s for (bb, k), s in solution.shares.items() if bb == b}
        total = sum(shares.values()) or 1.0
        routes.append(Route(bucket.label, bucket.input_lo, bucket.input_hi, bucket.output_lo, bucket.output_hi,
                            float(rates[b]), {key: s / total for key, s in sorted(shares.items())}))
    return tuple(pools), tuple(routes)


def demand_summary(demand: Demand) -> dict[str, Any]:
    return {
        "design_rps": demand.design_rps, "method": demand.method, "mean_rps": demand.mean_rps,
        "peak_rps": demand.peak_rps, "requests": demand.n_requests, "duration_s": demand.duration_s,
        "dropped_requests": demand.dropped_requests, "dropped_share": demand.dropped_share,
        "buckets": [
            {"bucket": b.label, "rate_rps": b.rate_rps, "share": b.share, "input_mean": b.input_mean,
             "output_mean": b.output_mean, "input_p99": b.input_p99}
            for b in demand.buckets
        ],
    }
