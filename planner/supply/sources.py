"""Capacity sources: where a capacity table comes from. The optimizer cannot tell them apart.

- `AnalyticalModel`: the performance model (planner.perf) over every candidate config x bucket.
- `MeasuredProfile` (planner.supply.profile): a user's capacity-profile CSV.
A new source (a kernel database, a fitted surrogate) is one class with `build`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from planner.demand.series import DemandSeries
from planner.perf.capacity import every_row
from planner.schemas.workload import SLO
from planner.supply.candidates import Candidate
from planner.supply.levels import ServiceLevel, service_levels
from planner.supply.table import CapacityTable


class CapacitySource(Protocol):
    """Anything that fills a capacity table for the demand's buckets."""

    def build(self, demand: DemandSeries, slo: SLO) -> CapacityTable:
        """Max req/s per (config, bucket) within `slo`."""
        ...


@dataclass(frozen=True)
class AnalyticalModel:
    """The performance model: one capacity row per candidate config (many configs in one pass: perf.capacity.every_row)."""

    candidates: tuple[Candidate, ...]

    def build(self, demand: DemandSeries, slo: SLO) -> CapacityTable:
        cells = tuple(every_row([c.config for c in self.candidates], demand.buckets, slo))
        shape = (len(self.candidates), len(demand.buckets))
        max_rps = np.array([[cell.max_rps for cell in row] for row in cells], dtype=float).reshape(shape)
        configs = tuple(c.config.replica for c in self.candidates)
        costs = np.array([c.cost_per_hour for c in self.candidates], dtype=float)
        levels = ()
        if slo.scope == "fleet":  # the SLO's own level first, then the menu (planner.supply.levels)
            levels = (ServiceLevel(slo.percentile, max_rps), *service_levels(tuple(c.config for c in self.candidates), demand.buckets, slo))
        return CapacityTable(configs, costs, demand.buckets, max_rps, cells, "model", levels=levels)
