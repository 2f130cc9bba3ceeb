"""The loaded catalog: GPUs, models, formats, efficiency factors and prices keyed by id, from YAML with sources.

The package ships `catalogs/*.yaml`; users add or override entries with their own files
(`--catalog my.yaml`): an entry with the same id (price: same gpu+provider+tier) replaces the shipped one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from planner.errors import CatalogError, suggest
from planner.io.yamldoc import load_yaml, validate
from planner.schemas.catalog import GPU, LLM, CatalogFile, Efficiency, ErrorBand, Instance, KVDtype, Price, QuantFormat

log = logging.getLogger(__name__)

_SECTIONS = ("gpus", "models", "quantization", "kv_dtypes", "efficiency", "prices", "instances", "error_bands")


def _key(section: str, entry: BaseModel) -> str:
    if section == "prices":
        return f"{entry.gpu}/{entry.provider}/{entry.tier}"  # type: ignore[attr-defined]
    if section == "instances":
        return f"{entry.provider}/{entry.id}"  # type: ignore[attr-defined]
    if section == "efficiency":
        return entry.gpu  # type: ignore[attr-defined]
    if section == "error_bands":
        return f"{entry.gpu}/{entry.engine}/{entry.metric}"  # type: ignore[attr-defined]
    return entry.id  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Catalog:
    """Everything the planner knows about hardware, models, formats and prices, keyed by id."""

    gpus: dict[str, GPU]
    models: dict[str, LLM]
    quantization: dict[str, QuantFormat]
    kv_dtypes: dict[str, KVDtype]
    efficiency: dict[str, Efficiency]
    prices: dict[str, Price]
    instances: dict[str, Instance] = field(default_factory=dict)
    files: tuple[str, ...] = field(default=())
    error_bands: dict[str, ErrorBand] = field(default_factory=dict)
    """Accuracy per `gpu/engine/metric` (`any` for all), from catalogs/error_bands.yaml (perf.bands looks them up)."""

    def gpu(self, gpu_id: str) -> GPU:
        return self._get(self.gpus, gpu_id, "GPU")

    def model(self, model_id: str) -> LLM:
        return self._get(self.models, model_id, "model")

    def quant(self, quant_id: str) -> QuantFormat:
        for q in self.quantization.values():
            if quant_id in q.aliases:
                return q
        return self._get(self.quantization, quant_id, "quantization format")

    def kv_dtype(self, kv_id: str) -> KVDtype:
        return self._get(self.kv_dtypes, kv_id, "KV-cache dtype")

    def efficiency_for(self, gpu_id: str) -> Efficiency:
        if gpu_id in self.efficiency:
            return self.efficiency[gpu_id]
        if "default" not in self.efficiency:
            raise CatalogError(f"no efficiency factors for GPU {gpu_id!r} and no 'default' entry")
        return self.efficiency["default"]

    def price(self, gpu_id: str, provider: str, tier: str = "on-demand") -> Price | None:
        return self.prices.get(f"{gpu_id}/{provider}/{tier}")

    def instances_for(self, gpu_id: str, provider: str, tier: str = "on-demand") -> list[Instance]:
        """The instance types of `provider` holding `gpu_id` with a `tier` price, fewest GPUs first: the `instances:`
        section plus every price row that names its instance and instance price (one entry per instance id)."""
        out = {i.id: i for i in self.instances.values() if i.gpu == gpu_id and i.provider == provider and tier in i.usd_per_hour}
        price = self.price(gpu_id, provider, tier)
        if price is not None and price.instance and price.usd_per_instance_hour and price.instance not in out:
            out[price.instance] = Instance(id=price.instance, provider=provider, gpu=gpu_id, gpus=price.gpus_per_instance,
                                           region=price.region, usd_per_hour={tier: price.usd_per_instance_hour},  # type: ignore[dict-item]
                                           source=price.source, date=price.date, confidence=price.confidence)
        return sorted(out.values(), key=lambda i: (i.gpus, i.usd_per_hour[tier], i.id))  # type: ignore[index]

    def instance_names(self) -> set[str]:
        """Every instance type the catalog names (its `instances:` and the price rows' instances)."""
        return {i.id for i in self.instances.values()} | {p.instance for p in self.prices.values() if p.instance}

    def providers(self) -> list[str]:
        return sorted({p.provider for p in self.prices.values()})

    @staticmethod
    def _get(table: dict, key: str, what: str):  # noqa: ANN205 - generic lookup
        if key not in table:
            raise CatalogError(f"unknown {what} {key!r}{suggest(key, table)}")
        return table[key]


CATALOG_FILES = ("gpus", "models", "quantization", "efficiency", "prices", "instances", "error_bands")
"""The shipped catalogs, in load order (later files may refer to ids of earlier ones)."""


def builtin_paths() -> list[Path]:
    """The shipped YAML files: the top-level `catalogs/` folder, installed as the package `planner.catalogs`."""
    root = resources.files("planner.catalogs")
    return [Path(str(root / f"{name}.yaml")) for name in CATALOG_FILES]


def load_catalog(extra: list[str | Path] | tuple[str | Path, ...] = ()) -> Catalog:
    """Load the shipped catalogs, then each user file in order (later entries replace earlier ones)."""
    tables: dict[str, dict[str, BaseModel]] = {s: {} for s in _SECTIONS}
    paths = builtin_paths() + [Path(p) for p in extra]
    for path in paths:
        doc = load_yaml(path, CatalogError)
        parsed = validate(CatalogFile, doc, CatalogError)
        for section in _SECTIONS:
            for entry in getattr(parsed, section):
                tables[section][_key(section, entry)] = entry
    catalog = Catalog(files=tuple(str(p) for p in paths), **tables)  # type: ignore[arg-type]
    _check_references(catalog)
    return catalog


def _check_references(catalog: Catalog) -> None:
    """Prices and efficiency entries must name known GPUs."""
    problems = []
    for price in catalog.prices.values():
        if price.gpu not in catalog.gpus:
            problems.append(f"price for unknown GPU {price.gpu!r}{suggest(price.gpu, catalog.gpus)}")
    for inst in catalog.instances.values():
        if inst.gpu not in catalog.gpus:
            problems.append(f"instance {inst.id!r} of unknown GPU {inst.gpu!r}{suggest(inst.gpu, catalog.gpus)}")
    for eff in catalog.efficiency.values():
        if eff.gpu != "default" and eff.gpu not in catalog.gpus:
            problems.append(f"efficiency for unknown GPU {eff.gpu!r}{suggest(eff.gpu, catalog.gpus)}")
    if problems:
        raise CatalogError("catalog: " + "; ".join(problems))
