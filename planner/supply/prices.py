"""What a GPU costs: a PriceBook answers `offers(gpu)` with the per-GPU price at the workload's provider and
tier (or its pricing.overrides), and `instances(gpu)` with the instance types it is sold in when the workload
buys whole instances (`pricing.unit: instance`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from planner.io.catalog import Catalog
from planner.schemas.workload import Pricing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offer:
    """One way to pay for a GPU: its tier, USD per GPU-hour, commitment in months (0 = none), and the source."""

    tier: str
    usd_per_gpu_hour: float
    commitment_months: int = 0
    source: str = ""


@dataclass(frozen=True)
class InstanceOffer:
    """One instance type a GPU is sold in: `gpus` GPUs for `usd_per_hour` per instance, at `tier`."""

    name: str
    gpu: str
    gpus: int
    tier: str
    usd_per_hour: float
    source: str = ""


@dataclass(frozen=True)
class PriceBook:
    """Prices of the catalog's GPUs under the workload's pricing settings."""

    catalog: Catalog
    pricing: Pricing

    def offers(self, gpu: str) -> list[Offer]:
        """The offers for `gpu` (empty when the chosen provider does not sell it in that tier)."""
        if gpu in self.pricing.overrides:
            return [Offer(self.pricing.tier, self.pricing.overrides[gpu], 0, "pricing.overrides in the workload")]
        price = self.catalog.price(gpu, self.pricing.provider, self.pricing.tier)
        if price is None:
            return []
        return [Offer(price.tier, price.usd_per_gpu_hour, 0, f"{price.source} ({price.date})")]

    def instances(self, gpu: str) -> list[InstanceOffer]:
        """The instance types `gpu` is bought in (fewest GPUs first); empty when it is bought per GPU (unit `gpu`,
        or a per-GPU override for it)."""
        if self.pricing.unit != "instance" or gpu in self.pricing.overrides:
            return []
        tier = self.pricing.tier
        return [InstanceOffer(i.id, gpu, i.gpus, tier, i.usd_per_hour[tier], f"{i.source} ({i.date})")  # type: ignore[index]
                for i in self.catalog.instances_for(gpu, self.pricing.provider, tier)]

    def tier_price(self, gpu: str, tier: str) -> Offer | None:
        """USD per GPU-hour of `gpu` at `tier` at the workload's provider: the catalog's per-GPU row for that tier,
        else the instance the on-demand row names, at that tier, divided by its GPUs (how prices.yaml derives
        its per-GPU rates). None when the catalog has no such price. A pricing.overrides rate applies to every tier."""
        if gpu in self.pricing.overrides:
            return Offer(tier, self.pricing.overrides[gpu], 0, "pricing.overrides in the workload")
        months = {"reserved-1y": 12, "reserved-3y": 36}.get(tier, 0)
        row = self.catalog.price(gpu, self.pricing.provider, tier)
        if row is not None:
            return Offer(tier, row.usd_per_gpu_hour, months, f"{row.source} ({row.date})")
        base = self.catalog.price(gpu, self.pricing.provider, "on-demand")
        for inst in self.catalog.instances_for(gpu, self.pricing.provider, tier):
            if base is not None and inst.id == base.instance:
                return Offer(tier, inst.usd_per_hour[tier] / inst.gpus, months, f"{inst.id}: {inst.source} ({inst.date})")  # type: ignore[index]
        return None

    def providers_selling(self, gpu: str) -> list[str]:
        """Providers with a price for `gpu` in the workload's tier (for error hints)."""
        return sorted(p.provider for p in self.catalog.prices.values() if p.gpu == gpu and p.tier == self.pricing.tier)
