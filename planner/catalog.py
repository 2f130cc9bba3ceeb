"""Catalogs: GPUs, models, quantization formats, efficiency factors and prices, loaded from YAML with sources.

The package ships `planner/catalogs/*.yaml`; users add or override entries with their own files
(`--catalog my.yaml`): an entry with the same id (price: same gpu+provider+tier) replaces the shipped one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.errors import CatalogError
from planner.yamlio import load_yaml, suggest, validate

log = logging.getLogger(__name__)

ComputeDtype = Literal["bf16", "fp8", "int8"]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Confidence = Literal["high", "medium", "low"]


class Base(BaseModel):
    """Strict, immutable base: unknown keys are errors (usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(Base):
    """Every catalog figure names where it came from and when."""

    source: str = Field(min_length=3)
    date: str = Field(min_length=4)
    confidence: Confidence = "high"


class Interconnect(Base):
    kind: Literal["nvlink", "pcie"]
    unidirectional_gbs: Positive
    """Per-GPU bandwidth in one direction available to collectives (GB/s)."""


class GPU(Sourced):
    id: str
    name: str
    memory_gb: Positive
    """Device memory in decimal GB (80 GB = 74.5 GiB)."""
    memory_bandwidth_gbs: Positive
    tflops: dict[ComputeDtype, Positive]
    """Dense (non-sparse) tensor-core peak per dtype; int8 in TOPS. A missing key = unsupported."""
    interconnect: Interconnect
    max_tp: int = Field(ge=1, le=64)
    tdp_w: Positive
    memory_type: str = ""

    @model_validator(mode="after")
    def _needs_bf16(self) -> "GPU":
        if "bf16" not in self.tflops:
            raise ValueError("tflops must list at least bf16 (dense TFLOPS)")
        return self


class LLM(Sourced):
    """A model's architecture, as in its config.json."""

    id: str
    name: str
    params_b: Positive
    """Total parameters, billions (all experts for MoE)."""
    active_params_b: Positive | None = None
    """Parameters used per token (MoE); defaults to params_b."""
    n_layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    n_heads: int = Field(ge=1)
    n_kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    ffn_dim: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    max_context: int = Field(ge=1)
    tied_embeddings: bool = False
    n_experts: int = Field(default=1, ge=1)
    n_active_experts: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _shape(self) -> "LLM":
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.n_active_experts > self.n_experts:
            raise ValueError("n_active_experts cannot exceed n_experts")
        if self.active_params_b is not None and self.active_params_b > self.params_b:
            raise ValueError("active_params_b cannot exceed params_b")
        return self

    @property
    def active_b(self) -> float:
        return self.active_params_b or self.params_b


class QuantFormat(Sourced):
    """A weight/activation format: bytes per weight and which tensor-core dtype does the matmuls."""

    id: str
    name: str
    aliases: list[str] = []
    weight_bits: Positive
    group_size: int | None = Field(default=None, ge=1)
    """Weights per quantization group; each group stores `scale_bytes` of scale/zero point."""
    scale_bytes: NonNegative = 0
    compute_dtype: ComputeDtype
    """Tensor-core dtype of the matmuls (weight-only formats dequantize to bf16)."""
    weight_only: bool = False
    compute_efficiency: Fraction = 1.0
    """Multiplier on achievable compute (dequantization cost of weight-only kernels at large batch)."""

    @property
    def bytes_per_weight(self) -> float:
        extra = self.scale_bytes / self.group_size if self.group_size else 0.0
        return self.weight_bits / 8 + extra


class KVDtype(Sourced):
    id: Literal["fp16", "fp8"]
    bytes: Positive


class Efficiency(Sourced):
    """Achievable fractions of peak and fixed overheads; `gpu: default` applies where a GPU has none."""

    gpu: str
    compute: dict[ComputeDtype, Fraction]
    """Achievable fraction of dense peak for large matmuls, per dtype."""
    bandwidth: Fraction
    """Achievable fraction of peak HBM bandwidth for streaming weights and KV."""
    gemm_half_tokens: NonNegative = 64.0
    """Tokens per matmul at which efficiency reaches half its maximum (small GEMMs underuse the GPU)."""
    step_overhead_ms: NonNegative = 1.0
    """Fixed time per engine step (scheduling, sampling, launch)."""
    layer_overhead_us: NonNegative = 50.0
    """Per-layer, per-step fixed time (kernel launches, norms, rotary)."""
    allreduce_latency_us: NonNegative = 30.0
    """Latency of one all-reduce per extra GPU in the TP group (ring: grows with TP-1)."""
    allreduce_bw_efficiency: Fraction = 0.7


class Price(Sourced):
    gpu: str
    provider: str
    tier: Literal["on-demand", "reserved-1y", "reserved-3y", "spot"] = "on-demand"
    usd_per_gpu_hour: Positive
    instance: str = ""
    gpus_per_instance: int = Field(default=1, ge=1)
    usd_per_instance_hour: Positive | None = None
    region: str = ""


class CatalogFile(Base):
    """One catalog YAML file: any subset of the sections."""

    schema_version: Literal[1] = 1
    gpus: list[GPU] = []
    models: list[LLM] = []
    quantization: list[QuantFormat] = []
    kv_dtypes: list[KVDtype] = []
    efficiency: list[Efficiency] = []
    prices: list[Price] = []


_SECTIONS = ("gpus", "models", "quantization", "kv_dtypes", "efficiency", "prices")


def _key(section: str, entry: BaseModel) -> str:
    if section == "prices":
        return f"{entry.gpu}/{entry.provider}/{entry.tier}"  # type: ignore[attr-defined]
    if section == "efficiency":
        return entry.gpu  # type: ignore[attr-defined]
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
    files: tuple[str, ...] = field(default=())

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

    def providers(self) -> list[str]:
        return sorted({p.provider for p in self.prices.values()})

    @staticmethod
    def _get(table: dict, key: str, what: str):  # noqa: ANN205 - generic lookup
        if key not in table:
            raise CatalogError(f"unknown {what} {key!r}{suggest(key, table)}")
        return table[key]


def _builtin_paths() -> list[Path]:
    root = resources.files("planner") / "catalogs"
    return [Path(str(root / f"{name}.yaml")) for name in ("gpus", "models", "quantization", "efficiency", "prices")]


def load_catalog(extra: list[str | Path] | tuple[str | Path, ...] = ()) -> Catalog:
    """Load the shipped catalogs, then each user file in order (later entries replace earlier ones)."""
    tables: dict[str, dict[str, BaseModel]] = {s: {} for s in _SECTIONS}
    paths = _builtin_paths() + [Path(p) for p in extra]
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
    for eff in catalog.efficiency.values():
        if eff.gpu != "default" and eff.gpu not in catalog.gpus:
            problems.append(f"efficiency for unknown GPU {eff.gpu!r}{suggest(eff.gpu, catalog.gpus)}")
    if problems:
        raise CatalogError("catalog: " + "; ".join(problems))
