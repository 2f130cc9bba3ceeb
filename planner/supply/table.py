"""The capacity table: max req/s of one replica of each config for each bucket.

This is the seam between supply and the optimizer (design.md): a CapacitySource (the analytical model, or
a measured profile) fills it; the optimizer only reads `max_rps` and the costs. Configs are ReplicaSpecs,
the identity every later stage uses.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from planner.demand.buckets import Bucket
from planner.perf.capacity import CellCapacity
from planner.perf.tail import POOL_TIERS
from planner.schemas.replica import ReplicaSpec

if TYPE_CHECKING:
    import pandas as pd

    from planner.supply.levels import ServiceLevel


@dataclass(frozen=True)
class CapacityTable:
    """`max_rps[k, b]`: req/s one replica of config k sustains for bucket b within the SLOs (0 = cannot)."""

    configs: tuple[ReplicaSpec, ...]
    costs: np.ndarray
    """USD per hour of one replica of each config (tp GPUs)."""
    buckets: tuple[Bucket, ...]
    max_rps: np.ndarray
    cells: tuple[tuple[CellCapacity, ...], ...] | None = None
    """The analytical model's detail per cell (None for a measured profile)."""
    source: str = "model"
    notes: tuple[str, ...] = field(default=())
    levels: tuple["ServiceLevel", ...] = ()
    """Under `slo.scope: fleet`: the SLO's own percentile (capacities `max_rps`), then the other percentiles a bucket
    may be served at (planner.supply.levels); empty under the bucket scope and for measured profiles."""

    def __post_init__(self) -> None:
        if self.max_rps.shape != (len(self.configs), len(self.buckets)):
            raise ValueError("max_rps must be configs x buckets")
        if self.costs.shape != (len(self.configs),):
            raise ValueError("costs must have one entry per config")

    def cell(self, k: int, b: int) -> CellCapacity | None:
        return self.cells[k][b] if self.cells is not None else None

    @functools.cached_property
    def pooled_rps(self) -> np.ndarray | None:
        """(tiers, configs, buckets): one replica's req/s in a pool of at least POOL_TIERS[1:] replicas where the
        model has it (prefill cells, M/G/m), else `max_rps` (0 wherever `max_rps` is); None when no cell has one.
        Worked out once per table (a plan reads it for every problem it solves: the baselines, the comparisons)."""
        if self.cells is None or not any(cell is not None and cell.pooled for row in self.cells for cell in row):
            return None
        tiers = len(POOL_TIERS) - 1  # a joined table (several models) has no cell in another model's buckets
        pooled = np.array([[(cell.pooled or (cell.max_rps,) * tiers) if cell is not None else (0.0,) * tiers for cell in row]
                           for row in self.cells], dtype=float)
        return np.where(self.max_rps > 0, np.moveaxis(pooled.reshape(*self.max_rps.shape, tiers), 2, 0), 0.0)

    def index(self) -> dict[ReplicaSpec, int]:
        """Row of each config."""
        return {spec: k for k, spec in enumerate(self.configs)}

    def to_frame(self) -> "pd.DataFrame":
        """One row per (config, bucket): the profile format of docs/profiles.md plus model details."""
        import pandas as pd

        rows = []
        for k, cfg in enumerate(self.configs):
            for b, bucket in enumerate(self.buckets):
                cell = self.cell(k, b)
                rows.append({
                    "config": cfg.key, "gpu": cfg.gpu, "quant": cfg.quant, "tp": cfg.tp, "kv_dtype": cfg.kv_dtype,
                    "cost_per_hour": float(self.costs[k]),
                    "input_lo": bucket.input_lo, "input_hi": bucket.input_hi,
                    "output_lo": bucket.output_lo, "output_hi": bucket.output_hi,
                    "max_rps": float(self.max_rps[k, b]),
                    "bound": cell.bound if cell else None, "detail": cell.detail if cell else None,
                })
        return pd.DataFrame(rows)
