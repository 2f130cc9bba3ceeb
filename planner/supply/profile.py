"""A measured capacity profile as a CapacitySource: the user's CSV replaces the performance model.

The profile's buckets become the workload's buckets (planner.demand.rebucket); rows outside the
workload's gpus/quantization/tp/kv_dtype lists are left out; costs come from the profile, the workload's
pricing.overrides or the catalog (docs/profiles.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.demand.series import DemandSeries
from planner.errors import WorkloadError, suggest
from planner.io.catalog import Catalog
from planner.io.readers.profile_csv import Config, Profile, ProfileRow, read_profile
from planner.io.workload import LoadedWorkload, input_error
from planner.schemas.workload import SLO
from planner.supply.table import CapacityTable


@dataclass(frozen=True)
class MeasuredProfile:
    """The rows of a profile the workload allows, with the cost of one replica of each config."""

    profile: Profile
    rows: tuple[ProfileRow, ...]
    costs: dict[Config, float]
    model: str

    @classmethod
    def load(cls, loaded: LoadedWorkload, catalog: Catalog) -> "MeasuredProfile":
        """Read the workload's `capacity_profile` and keep the rows in scope; errors point at file:line."""
        path = loaded.profile_path()
        assert path is not None  # only called for workloads with a capacity_profile
        if not path.is_file():
            raise input_error(loaded, ("capacity_profile",), f"file not found: {path}")
        profile = read_profile(path)
        rows = _in_scope(profile, loaded, catalog)
        return cls(profile, tuple(rows), _config_costs(profile, rows, loaded, catalog), loaded.workload.model)

    def build(self, demand: DemandSeries, slo: SLO) -> CapacityTable:
        """The profile as a capacity table on `demand`'s buckets (the profile's own); every bucket must be served."""
        path = self.profile.path
        served = {r.bucket for r in self.rows}
        rates = demand.bucket_rates()
        unserved = [(b, r) for b, r in zip(demand.buckets, rates) if b.rect not in served]
        if unserved:
            listed = "; ".join(f"{b.label} ({b.share:.1%} of the traffic, {r:.3g} req/s)" for b, r in unserved)
            raise WorkloadError(f"{path}: no GPU config in scope can serve {listed}; add profile rows for these buckets "
                                "or widen the workload's gpus/quantization/tp/kv_dtype")
        configs = list(dict.fromkeys(r.config for r in self.rows))
        index = {b.rect: j for j, b in enumerate(demand.buckets)}
        max_rps = np.zeros((len(configs), len(demand.buckets)))
        for r in self.rows:
            if r.bucket in index:
                max_rps[configs.index(r.config), index[r.bucket]] = r.max_rps
        specs = tuple(ProfileRow.spec_of(c, self.model) for c in configs)
        costs = np.array([self.costs[c] for c in configs], dtype=float)
        note = (f"capacities from the capacity profile {path} (sha256 {self.profile.sha256[:12]}); "
                "the planner takes them as meeting the SLOs and does not check them")
        return CapacityTable(specs, costs, demand.buckets, max_rps, None, f"profile:{path}", (note,))


def _in_scope(profile: Profile, loaded: LoadedWorkload, catalog: Catalog) -> list[ProfileRow]:
    """Rows allowed by the workload's gpus/quantization/tp/kv_dtype lists, where the workload sets them explicitly."""
    w = loaded.workload

    def canonical(quant: str) -> str:
        return next((q.id for q in catalog.quantization.values() if quant == q.id or quant in q.aliases), quant)

    allowed = {
        0: set(w.gpus) if "gpus" in w.model_fields_set and w.gpus else None,
        1: {canonical(q) for q in w.quantization} if "quantization" in w.model_fields_set else None,
        2: set(w.tp) if "tp" in w.model_fields_set else None,
        3: set(w.kv_dtype) if "kv_dtype" in w.model_fields_set else None,
    }
    rows = [r for r in profile.rows
            if all(keep is None or (canonical(r.config[1]) if i == 1 else r.config[i]) in keep for i, keep in allowed.items())]
    if not rows:
        raise input_error(loaded, ("capacity_profile",), f"no row of {profile.path} is for a config the workload allows "
                          "(its gpus/quantization/tp/kv_dtype lists exclude them all)")
    return rows


def _config_costs(profile: Profile, rows: list[ProfileRow], loaded: LoadedWorkload, catalog: Catalog) -> dict[Config, float]:
    """USD/hour per replica: the profile's cost_per_hour, else pricing.overrides or the catalog price x tp."""
    pricing = loaded.workload.pricing
    given = {r.config: r.cost_per_hour for r in rows if r.cost_per_hour is not None}
    costs, problems = {}, []
    for r in rows:
        if r.config in costs:
            continue
        gpu, _, tp = r.config[:3]
        if r.config in given:
            costs[r.config] = given[r.config]
        elif gpu in pricing.overrides:
            costs[r.config] = pricing.overrides[gpu] * tp
        elif gpu not in catalog.gpus:
            problems.append((r.line, f"gpu: {gpu!r} is not in the catalog{suggest(gpu, catalog.gpus)} and the row has no cost_per_hour; "
                                     "give cost_per_hour (USD per replica-hour) or add the GPU with --catalog"))
        elif (price := catalog.price(gpu, pricing.provider, pricing.tier)) is not None:
            costs[r.config] = price.usd_per_gpu_hour * tp
        else:
            problems.append((r.line, f"cost_per_hour: no {pricing.provider} {pricing.tier} price for GPU {gpu!r}; "
                                     f"give cost_per_hour or set pricing.overrides.{gpu}"))
    if problems:
        raise WorkloadError("\n".join(f"{profile.path}:{line}: {msg}" for line, msg in sorted(problems)))
    return costs
