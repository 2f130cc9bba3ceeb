"""The plan document (`planner solve --format json`), schema version 2: one PlanDoc used by the writer
(planner.plan.document.plan_document) and by every reader (simulate, diff, verify), so both sides agree.

Keys not listed here are ignored when reading (a newer planner may add some); listed ones are checked.
docs/output.md describes every field.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SolverDoc(_Doc):
    name: str
    gap: float | None = None
    runtime_s: float = 0.0


class PoolDoc(_Doc):
    gpu: str
    quant: str
    tp: int = Field(ge=1)
    kv_dtype: str
    replicas: int = Field(ge=0)
    gpus: int = Field(ge=0)
    cost_per_hour: float
    utilization: float
    ttft_ms: float | None = Field(default=None, validation_alias=AliasChoices("ttft_ms", "ttft_ms_p99"))
    """Predicted TTFT at the plan's SLO percentile (`slo.percentile`); schema 1 called it ttft_ms_p99."""
    tpot_ms: float | None = Field(default=None, validation_alias=AliasChoices("tpot_ms", "tpot_ms_p99"))
    """Predicted TPOT at the plan's SLO percentile; schema 1 called it tpot_ms_p99."""
    bound: str = ""
    detail: str = ""
    config: str
    """The pool's ReplicaSpec key, as routing shares name it."""
    max_num_batched_tokens: int | None = Field(default=None, ge=1)
    """The token budget per step the pool's engine runs with (vLLM's flag); None under serial prefill."""
    role: Literal["unified", "prefill", "decode"] = "unified"
    """Whole requests, or one half of a disaggregated pair (docs/methodology.md, "Disaggregated prefill/decode")."""
    speculative: dict[str, float | int | str] | None = None
    """Speculative decoding the pool runs: {draft, k, acceptance}; absent when off."""
    error_band: dict[str, dict[str, float | int | str]] = {}
    """{ttft|tpot|throughput: {median_abs_pct, p90_abs_pct, median_signed_pct, n, scope}} (docs/accuracy.md)."""
    model: str | None = None
    """The model this pool serves when the plan serves several (`models:`); its config key then starts with it."""


class RouteDoc(_Doc):
    bucket: str
    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    rate_rps: float
    shares: dict[str, float]


class BaselineDoc(_Doc):
    gpu: str
    cost_per_hour: float | None = None
    gpus: int | None = None
    reason: str | None = None


class InstanceDoc(_Doc):
    """Instances of one type the plan buys (`pricing.unit: instance`)."""

    name: str
    gpu: str
    count: int = Field(ge=0)
    gpus_per_instance: int = Field(ge=1)
    usd_per_hour: float
    """Price of one instance."""


class AlternativeDoc(_Doc):
    """Another fleet shown beside the plan: the simplest one within `fleet.simplest_within` of the cheapest."""

    label: str
    cost_per_hour: float
    pools: dict[str, int]
    """Replicas by config key."""
    instances: dict[str, int] = {}
    gpus_by_type: dict[str, int] = {}


class RuleDoc(_Doc):
    """A fleet rule that shapes the plan, said in words, with the fleet's cost without it (its price)."""

    rule: str
    text: str
    cost_per_hour_without: float | None = None


class SlotDoc(_Doc):
    """One time slot of a plan over slots: its hours, traffic, GPUs by tier and replicas (config key -> count)."""

    label: str
    hours_per_month: float
    rate_rps: float
    replicas: dict[str, int] = {}
    """Replicas on reserved or on-demand GPUs."""
    spot: dict[str, int] = {}
    """Replicas on spot GPUs."""
    reserved_gpus: dict[str, int] = {}
    on_demand_gpus: dict[str, int] = {}
    cost_per_hour: float
    gpus_by_type: dict[str, int] = {}
    gpus_by_tier: dict[str, dict[str, int]] = {}
    """GPUs paid for by tier ("reserved", "on-demand", "spot") and GPU type (the HTML report's stacked chart)."""


class ModelDoc(_Doc):
    """One model of a plan serving several (`models:`): its SLO, traffic, pools and share of the month's cost."""

    model: str
    ttft_ms: float
    tpot_ms: float
    peak_rps: float
    """Its rate in the busiest slot of the whole fleet."""
    replicas: dict[str, int] = {}
    """Replicas by config key in the fleet's busiest slot."""
    gpus_by_type: dict[str, int] = {}
    cost_per_month: float
    """Its replicas' GPU-hours over the month at each slot's blended tier price (idle reserved GPUs are in none)."""


class TiersDoc(_Doc):
    """A plan over slots in $/month: the tier mix against one fleet all day, on demand (sized for the peak) or
    all reserved (None when no reserved tier was asked for or no GPU type has a reserved price)."""

    reserved_tier: str | None = None
    reserved_gpus: dict[str, int] = {}
    """The reserved baseline: GPUs by type, paid every hour and shared by every slot and config."""
    mix_per_month: float
    all_on_demand_at_peak_per_month: float | None = None
    all_reserved_per_month: float | None = None


class BucketDemandDoc(_Doc):
    bucket: str
    rate_rps: float
    share: float
    input_mean: float
    output_mean: float
    input_p99: float


class DemandDoc(_Doc):
    design_rps: float
    method: str
    mean_rps: float
    peak_rps: float
    requests: int
    duration_s: float
    dropped_requests: int
    dropped_share: float
    buckets: list[BucketDemandDoc]


class FloorDoc(_Doc):
    """The plan's physical floor (planner.plan.floor): the cheapest allowed GPU type at dense peak and datasheet
    bandwidth, fractional GPUs; `ratio` is the plan's cost over it."""

    cost_per_hour: float
    gpu: str
    quant: str
    kv_dtype: str
    gpus: float
    binding: Literal["compute", "bandwidth", "memory"]
    compute_gpus: float
    bandwidth_gpus: float
    memory_gpus: float
    prefill_tflops: float
    """Prefill FLOPs per second of the uncached prompt tokens, TFLOP/s."""
    decode_tflops: float
    hbm_tb_per_s: float
    """Weights (once per step at the TPOT pace) plus the KV every output token reads, TB/s."""
    live_kv_gb: float
    weights_gb: float
    ratio: float


class DisaggBucketDoc(_Doc):
    """One bucket under `engine.disaggregation`: the share the plan sends through a prefill + decode pair, and the
    cheapest $/h per req/s of each mode for this bucket alone. `disaggregated_usd_per_rps` is null where no prefill +
    decode pair can serve the bucket or, under `auto`, where no pair beats co-located per req/s (the option is then
    not offered to the solver: planner.supply.disagg)."""

    bucket: str
    disaggregated_share: float
    colocated_usd_per_rps: float | None = None
    disaggregated_usd_per_rps: float | None = None


class DisaggregationDoc(_Doc):
    """Which mode won and by how much: the plan's cost against the co-located-only solve of the same problem."""

    mode: Literal["auto", "on"]
    colocated_cost_per_hour: float | None = None
    """The cheapest fleet without disaggregated pools (null: none meets the SLO)."""
    saving_per_hour: float | None = None
    """colocated_cost_per_hour - cost_per_hour (positive: disaggregation saves)."""
    buckets: list[DisaggBucketDoc] = []


class InputsDoc(BaseModel):
    """Where the plan came from: the workload (echoed whole), its trace and catalogs with hashes."""

    model_config = ConfigDict(extra="allow", frozen=True)

    workload_file: str | None = None
    workload_sha256: str | None = None
    workload: dict[str, Any]
    trace_file: str | None = None
    trace_sha256: str | None = None
    catalog_files: list[str] = []
    catalog_sha256: dict[str, str] = {}
    capacity_source: str = "model"


class PerTokenDoc(_Doc):
    input: float | None = None
    output: float | None = None


class CostPerTokensDoc(_Doc):
    design: PerTokenDoc
    mean: PerTokenDoc
    mean_over_design: float | None = None
    basis: Literal["mean", "design"] = "design"
    """The rate cost_per_million_output_tokens is quoted at (Plan.token_cost_basis): the trace's mean where known."""


class PlanDoc(_Doc):
    """The whole plan document."""

    schema_version: Literal[1, 2]
    """2 since the pools' latencies are named ttft_ms/tpot_ms (schema 1: ttft_ms_p99/tpot_ms_p99, still read)."""
    status: str
    solver: SolverDoc
    model: str
    slo: dict[str, float | str]
    """ttft_ms, tpot_ms, percentile (numbers) and scope (`bucket` or `fleet`)."""
    utilization_target: float
    cost_per_hour: float
    cost_per_month: float
    cost_per_million_output_tokens: float
    cost_per_million_tokens: CostPerTokensDoc
    design_rps: float
    output_tokens_per_s: float
    input_tokens_per_s: float
    gpus_by_type: dict[str, int]
    pools: list[PoolDoc]
    routing: list[RouteDoc]
    baselines: list[BaselineDoc] = []
    saving_vs_cheapest_single_type: float | None = None
    demand: DemandDoc
    instances: list[InstanceDoc] = []
    simplest: AlternativeDoc | None = None
    rules: list[RuleDoc] = []
    floor: FloorDoc | None = None
    disaggregation: DisaggregationDoc | None = None
    slots: list[SlotDoc] = []
    tiers: TiersDoc | None = None
    models: list[ModelDoc] = []
    inputs: InputsDoc
    notes: list[str] = []
