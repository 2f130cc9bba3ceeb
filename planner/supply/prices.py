"""What a GPU costs: a PriceBook answers `offers(gpu)` with the tiers one may buy it at.

Today every GPU has one offer, at the workload's provider and tier (or its pricing.overrides); reserved,
spot and instance shapes are further offers behind the same call.
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

    def providers_selling(self, gpu: str) -> list[str]:
        """Providers with a price for `gpu` in the workload's tier (for error hints)."""
        return sorted(p.provider for p in self.catalog.prices.values() if p.gpu == gpu and p.tier == self.pricing.tier)
