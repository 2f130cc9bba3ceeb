"""The capacity table: max req/s of one replica of each config for each bucket.

This is the seam between the performance model and the optimizer (design.md): the analytical model
fills it, and a measured profile may replace it; the optimizer only reads `max_rps` and costs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.candidates import Candidate
from planner.demand import Bucket
from planner.perf.capacity import CellCapacity, cell_capacity
from planner.perf.memory import config_key
from planner.workload import SLO


@dataclass(frozen=True)
class ConfigSpec:
    """What the optimizer needs to know about a config: identity and price of one replica."""

    gpu: str
    quant: str
    tp: int
    kv_dtype: str
    cost_per_hour: float

    @property
    def key(self) -> str:
        return config_key(self.gpu, self.quant, self.tp, self.kv_dtype)


@dataclass(frozen=True)
class CapacityTable:
    """`max_rps[k, b]`: req/s one replica of config k sustains for bucket b within the SLOs (0 = cannot)."""

    configs: tuple[ConfigSpec, ...]
    buckets: tuple[Bucket, ...]
    max_rps: np.ndarray
    cells: tuple[tuple[CellCapacity, ...], ...] | None = None
    source: str = "model"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.max_rps.shape != (len(self.configs), len(self.buckets)):
            raise ValueError("max_rps must be configs x buckets")

    def cell(self, k: int, b: int) -> CellCapacity | None:
        return self.cells[k][b] if self.cells is not None else None

    def subset(self, keep: list[int]) -> "CapacityTable":
        """The table restricted to configs `keep` (in that order)."""
        cells = tuple(self.cells[k] for k in keep) if self.cells is not None else None
        return CapacityTable(tuple(self.configs[k] for k in keep), self.buckets, self.max_rps[keep, :], cells, self.source, self.notes)

    def to_frame(self) -> pd.DataFrame:
        """One row per (config, bucket): the profile format of docs/profiles.md plus model details."""
        rows = []
        for k, cfg in enumerate(self.configs):
            for b, bucket in enumerate(self.buckets):
                cell = self.cell(k, b)
                rows.append({
                    "config": cfg.key, "gpu": cfg.gpu, "quant": cfg.quant, "tp": cfg.tp, "kv_dtype": cfg.kv_dtype,
                    "cost_per_hour": cfg.cost_per_hour,
                    "input_lo": bucket.input_lo, "input_hi": bucket.input_hi,
                    "output_lo": bucket.output_lo, "output_hi": bucket.output_hi,
                    "max_rps": float(self.max_rps[k, b]),
                    "bound": cell.bound if cell else None, "detail": cell.detail if cell else None,
                })
        return pd.DataFrame(rows)


def build_capacity_table(candidates: list[Candidate], buckets: tuple[Bucket, ...], slo: SLO) -> CapacityTable:
    """Run the performance model for every candidate x bucket."""
    cells = tuple(tuple(cell_capacity(c.config, b, slo) for b in buckets) for c in candidates)
    max_rps = np.array([[cell.max_rps for cell in row] for row in cells], dtype=float).reshape(len(candidates), len(buckets))
    configs = tuple(
        ConfigSpec(c.config.gpu.id, c.config.quant.id, c.config.tp, c.config.kv.id, c.cost_per_hour) for c in candidates
    )
    return CapacityTable(configs, buckets, max_rps, cells, "model")
