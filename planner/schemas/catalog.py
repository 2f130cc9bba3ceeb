"""Catalog schemas: GPUs, models, quantization formats, KV dtypes, efficiency factors and prices (every figure sourced).

The YAML files live in the top-level `catalogs/` folder (shipped in the wheel as `planner.catalogs`);
planner.io.catalog loads them into a Catalog.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.base import Base, Fraction, NonNegative, Positive, Sourced

ComputeDtype = Literal["bf16", "fp8", "int8"]
PriceTier = Literal["on-demand", "reserved-1y", "reserved-3y", "spot"]


class Interconnect(Base):
    kind: Literal["nvlink", "pcie", "xgmi"]
    """nvlink (NVIDIA NVLink + NVSwitch), pcie (no GPU fabric; or NVLink bridges of pairs only), xgmi (AMD Infinity Fabric)."""
    unidirectional_gbs: Positive
    """Per-GPU bandwidth in one direction available to collectives (GB/s)."""


class Network(Sourced):
    """The node's scale-out network as one GPU sees it: what a disaggregated prefill replica sends its KV over."""

    kind: Literal["infiniband", "roce", "efa", "ethernet"]
    gbps_per_gpu: Positive
    """NIC line rate per GPU, one direction, in Gb/s (bits): the instance's network bandwidth over its GPUs."""


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
    network: Network | None = None
    """Scale-out network per GPU (sourced on its own); None: disaggregated prefill/decode is not offered on it."""

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
    """Per-layer, per-step fixed time (kernel launches, norms, rotary) besides the GEMMs' own latency."""
    gemm_latency_us: NonNegative = 0.0
    """Fixed time of one GEMM kernel (ramp-up, tail, launch), four per layer (QKV, O, gate/up, down); fitted on the
    Vidur per-operator profiles, where it halves the small-token error (docs/methodology.md, "Step time")."""
    allreduce_latency_us: NonNegative = 30.0
    """Fixed latency of one all-reduce, the same at every TP degree (perf.step.allreduce_s)."""
    allreduce_bw_efficiency: Fraction = 0.7
    engine_kernel: dict[str, Fraction] = {}
    """Per engine kind (vllm, sglang, trtllm): multiplier of the compute and bandwidth fractions for that engine's
    kernels on this GPU (<= 1, so never faster than the roofline); an engine not listed gets 1."""
    engine_overhead: dict[str, Positive] = {}
    """Per engine kind: multiplier of the fixed step and per-layer overheads (scheduler, launches); absent = 1."""


class Price(Sourced):
    gpu: str
    provider: str
    tier: PriceTier = "on-demand"
    usd_per_gpu_hour: Positive
    instance: str = ""
    gpus_per_instance: int = Field(default=1, ge=1)
    usd_per_instance_hour: Positive | None = None
    region: str = ""


class Instance(Sourced):
    """An instance type as a cloud sells it: a whole number of one GPU type, priced per instance-hour by tier.

    A pool is made of whole instances; the per-GPU rows under `prices:` that name an instance are instances too
    (planner.io.catalog.Catalog.instances_for), so this section only adds shapes they do not name.
    """

    id: str
    """The provider's instance name (`g6.xlarge`)."""
    provider: str
    gpu: str
    gpus: int = Field(ge=1)
    """GPUs in one instance (a TP group must fit in one unless the workload allows otherwise)."""
    region: str = ""
    usd_per_hour: dict[PriceTier, Positive]
    """USD per instance-hour by tier."""
class ErrorBand(Sourced):
    """How far `planner estimate` was off on measured data (docs/accuracy.md, leave-one-source-out), for one GPU
    (or `any`), engine kind (or `any`) and metric; written by benchmarks/accuracy.py."""

    gpu: str
    engine: str
    metric: Literal["ttft", "tpot", "throughput"]
    n: int = Field(ge=1)
    median_abs_pct: NonNegative
    p90_abs_pct: NonNegative
    median_signed_pct: float = Field(allow_inf_nan=False)
    """Median of predicted / measured - 1, percent: negative latency = predicted faster, negative throughput = slower."""


class CatalogFile(Base):
    """One catalog YAML file: any subset of the sections."""

    schema_version: Literal[1] = 1
    gpus: list[GPU] = []
    models: list[LLM] = []
    quantization: list[QuantFormat] = []
    kv_dtypes: list[KVDtype] = []
    efficiency: list[Efficiency] = []
    prices: list[Price] = []
    instances: list[Instance] = []
    error_bands: list[ErrorBand] = []
