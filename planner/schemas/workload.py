"""The workload schema (docs/workload.md): model, SLOs, traffic (trace or histogram), search space, pricing."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from planner.schemas.base import Base, Fraction, Positive
from planner.schemas.catalog import PriceTier
from planner.schemas.replica import EngineParams

TokenCount = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
"""Requests per second: positive and at most a billion (beyond that the MILP's replica counts overflow)."""
Scale = Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
UtilizationTarget = Annotated[float, Field(ge=0.01, le=1, allow_inf_nan=False)]
"""Planned share of each pool's capacity: from 1 % (below, the replica counts explode) to 100 %."""
Percentile = Annotated[float, Field(ge=50, lt=100, allow_inf_nan=False)]

DEFAULT_INPUT_EDGES = (1, 128, 512, 2048, 8192, 32768)
"""Prompt-length bucket edges: factors of 4 from 128 tokens (chat turns) to 32k (long RAG contexts), so each
bucket's prefill cost varies by at most ~4x inside it; the last bucket is open-ended."""
DEFAULT_OUTPUT_EDGES = (1, 64, 256, 1024, 4096)
"""Output-length edges: factors of 4 from 64 tokens (code completions, short answers) to 4k (long generations)."""


class SLO(Base):
    ttft_ms: Positive
    """Time to first token at the given percentile, milliseconds."""
    tpot_ms: Positive
    """Time per output token (after the first) at the given percentile, milliseconds."""
    percentile: Percentile = 99.0
    scope: Literal["bucket", "fleet"] = "bucket"
    """Over which requests the percentile is taken. `bucket` (default): every request-size bucket on its own, so
    no class of requests (e.g. the longest prompts) may be sacrificed; `fleet`: over all requests together, as users
    and benchmark tools measure it, letting the plan serve a rare, expensive bucket at a looser percentile while the
    others run tighter (docs/methodology.md, "SLO scope")."""


class HistogramEntry(Base):
    """Share of requests whose lengths fall in half-open ranges [lo, hi) tokens."""

    input: tuple[TokenCount, TokenCount]
    output: tuple[TokenCount, TokenCount]
    share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

    @field_validator("input", "output")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[1] <= value[0]:
            raise ValueError(f"expected [lo, hi) with hi > lo, got [{value[0]}, {value[1]})")
        return value


class BucketEdges(Base):
    """Lower edges of the length buckets; the last bucket is open-ended (capped by the model's context)."""

    input: list[TokenCount] = list(DEFAULT_INPUT_EDGES)
    output: list[TokenCount] = list(DEFAULT_OUTPUT_EDGES)

    @field_validator("input", "output")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if not value or value[0] != 1:
            raise ValueError("edges must start at 1")
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"edges must be strictly increasing, got {value}")
        return value


class PrefixCache(Base):
    """Automatic prefix caching (on by default in vLLM V1 and SGLang): prompt tokens already in a replica's KV
    cache skip prefill compute but still occupy KV. The planner assumes prefix-affinity routing (a request
    goes where its prefix is cached) and a cache large enough for the reuse the trace shows
    (docs/methodology.md, "Prefix caching")."""

    enabled: bool = True
    hit_rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    """Share of prompt tokens served from the cache; default: measured from the trace's `hash_ids` or
    `cached_tokens` column (0 when it has neither, and for histograms)."""


class Traffic(Base):
    trace: str | None = None
    """Path to a request trace (relative to the workload file)."""
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    rate_rps: Rate | None = None
    """Mean request rate when the traffic is a histogram."""
    histogram: list[HistogramEntry] | None = None
    rate_scale: Scale = 1.0
    """Multiply the design rate (growth what-ifs)."""
    target_rps: Rate | None = None
    """Scale the trace so its design rate is exactly this many requests/s."""
    design_rate: Literal["peak", "mean", "p95"] = "peak"
    peak_window_s: Positive = 60.0
    burst_window_s: Positive | Literal["auto", "off"] = "auto"
    """Raise the design rate to the Poisson-equivalent rate of the trace's bursts on this time scale (`auto`: the
    largest over windows from the TTFT SLO to a request's mean live time, within 1 s to `peak_window_s`; `off`: no
    raise). planner.demand.bursts; trace only."""
    """Window over which the trace's rate is measured for `peak` and `p95`."""
    overflow: Literal["drop", "error"] = "drop"
    """Requests longer than the model's context window: drop them (with a warning) or refuse the trace."""
    on_bad_rows: Literal["error", "skip", "report"] = "error"
    """Trace rows with a missing or invalid value: refuse the trace naming the first five (file:line), or plan
    without them (`skip`: counted in the plan's notes; `report`: also list the first five on stderr)."""
    buckets: BucketEdges = BucketEdges()
    prefix_cache: PrefixCache = PrefixCache()
    # ---- demand over time (issue 14) ----
    slots: Literal["hourly", "15min"] | Annotated[int, Field(ge=1, le=1000)] | None = None
    """Cut the trace into time slots sized separately: `hourly`, `15min`, or N equal slots over the trace
    (docs/fleet.md, "Slots and tiers"); each slot's rate is the design rate of its own windows."""
    slot_profile: list[Positive] | None = None
    """With a histogram: the rate of each equal-length slot as a multiple of `rate_rps` (e.g. 24 hourly values)."""

    @model_validator(mode="after")
    def _one_source(self) -> "Traffic":
        if (self.trace is None) == (self.histogram is None):
            raise ValueError("give either `trace` or `histogram` (with `rate_rps`), not both and not neither")
        if self.histogram is not None:
            if self.rate_rps is None:
                raise ValueError("a `histogram` needs `rate_rps` (requests per second)")
            total = sum(e.share for e in self.histogram)
            if abs(total - 1.0) > 1e-3:
                raise ValueError(f"histogram shares must sum to 1, got {total:.4f}")
        elif self.rate_rps is not None:
            raise ValueError("`rate_rps` goes with `histogram`; to rescale a trace use `target_rps` or `rate_scale`")
        if self.target_rps is not None and self.rate_scale != 1.0:
            raise ValueError("give `target_rps` or `rate_scale`, not both")
        if self.slots is not None and self.trace is None:
            raise ValueError("`slots` cuts a trace; with a histogram give `slot_profile` (one rate multiple per slot)")
        if self.slot_profile is not None and self.histogram is None:
            raise ValueError("`slot_profile` goes with `histogram`; a trace is cut with `slots`")
        return self


class Spot(Base):
    """Spot capacity: at most `max_gpus` per GPU type per slot, and a replica counts as (1 - loss) of one."""

    max_gpus: dict[str, Annotated[int, Field(ge=0)]]
    """Spot GPUs one can expect to get per slot, by GPU id (types not listed: no spot)."""
    loss: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
    """Share of spot capacity to assume lost to interruptions at any time (your provider's interruption rate
    plus replacement time); the SLO is met with the rest. No default: it is your risk to choose."""


class Pricing(Base):
    provider: str = "aws"
    tier: PriceTier = "on-demand"
    overrides: dict[str, Positive] = {}
    """USD per GPU-hour by GPU id, replacing the catalog price (negotiated rates, a private cluster): such a GPU
    is bought per GPU even when `unit` is `instance`."""
    unit: Literal["gpu", "instance"] = "gpu"
    """`instance`: pools are made of whole instances of the provider's instance types (catalogs/instances.yaml and
    the instance named by each price row), priced per instance; `gpu`: per GPU-hour, as if GPUs were sold singly."""
    cross_instance_tp: bool = False
    """With `unit: instance`, let a TP group span instances (only over a fast inter-node fabric; off by default)."""
    reserved: Literal["reserved-1y", "reserved-3y"] | None = None
    """Also buy reserved capacity at this commitment, paid in every slot and shared by all (docs/fleet.md)."""
    spot: Spot | None = None
    """Also buy spot capacity per slot, within an availability cap and counted net of its interruption loss."""


# ---- fleet rules (issue 14: simple fleets, caps, budget, power, redundancy) ----
class Power(Base):
    """A power cap for the fleet: GPUs' TDP (catalogs/gpus.yaml) times `overhead` must stay within `max_kw`."""

    max_kw: Positive
    overhead: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 1.82
    """Whole-server watts per GPU watt: NVIDIA DGX H100 draws up to 10.2 kW for 8 x 700 W GPUs (10.2 / 5.6 = 1.82;
    docs/methodology.md, "Fleet rules"). Add cooling (PUE) here if the cap is at the facility."""


class Fleet(Base):
    """Rules the fleet must obey beyond the SLOs (docs/fleet.md); each one that binds is reported with its cost."""

    max_pools: Annotated[int, Field(ge=1)] | None = None
    """At most this many pools (distinct configs) in the fleet."""
    pool_overhead_per_hour: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    """USD per hour charged for each pool in use (operating one more deployment), added to the plan's cost."""
    simplest_within: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = 0.05
    """Also find the plan with the fewest pools costing at most this fraction more than the cheapest, and show it
    beside it (null: skip). Default 5 %: within the performance model's own error (docs/accuracy.md)."""
    min_replicas: Annotated[int, Field(ge=1)] = 1
    """Every pool in use has at least this many replicas."""
    redundancy: Literal["none", "n+1"] = "none"
    """`n+1`: every pool in use keeps the SLOs with one replica lost."""
    limits: dict[str, Annotated[int, Field(ge=0)]] = {}
    """Availability caps: GPUs per GPU id (`h100: 16`), or instances per instance type (`p5.48xlarge: 2`)."""
    budget_per_month: Positive | None = None
    """USD per month (730 h) the fleet may cost at most."""
    power: Power | None = None


CHUNK_BUDGETS = (512, 2048, 8192)
"""Token budgets per step searched under chunked prefill (`max_num_batched_tokens: auto`): factors of 4 from
512 (short chunks keep TPOT low next to long prompts) to vLLM V1's default for online serving, 8192 (large
chunks run prefill GEMMs near peak). On the five example workloads and the Mooncake conversation trace the six
powers of two 512..16384 found no cheaper plan than these three (measured 2026-12-02, docs/methodology.md),
at twice the capacity-table time; a list searches other values."""


class Engine(Base):
    """Serving-engine settings the performance model assumes; defaults are EngineParams' (vLLM's), defined once there."""

    gpu_memory_utilization: Fraction = EngineParams.gpu_memory_utilization
    block_size: TokenCount = EngineParams.block_size
    max_num_seqs: TokenCount = EngineParams.max_num_seqs
    max_num_batched_tokens: TokenCount | list[TokenCount] | Literal["auto"] = "auto"
    """Tokens per step. Under chunked prefill it trades TTFT against TPOT, so `auto` searches CHUNK_BUDGETS
    and a list searches those values; each pool of a plan names its own. Serial prefill takes one value
    (`auto`: EngineParams' 8192)."""
    paged_kv: bool = EngineParams.paged_kv
    flash_attention: bool = EngineParams.flash_attention
    chunked_prefill: bool = EngineParams.chunked_prefill
    """Prompts are split into chunks that ride along with decode steps (vLLM V1's default, and SGLang's and
    TensorRT-LLM's) instead of running as their own steps that pause decoding (vLLM V0)."""

    @field_validator("disaggregation", mode="before")
    @classmethod
    def _yaml_switch(cls, value: object) -> object:
        """YAML 1.1 reads a bare `off` / `on` as false / true: take them as the words they were."""
        return {False: "off", True: "on"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("max_num_batched_tokens")
    @classmethod
    def _budgets(cls, value: int | list[int] | str) -> int | list[int] | str:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(f"expected a non-empty list of distinct token budgets, got {value}")
        return value

    @model_validator(mode="after")
    def _serial_one_budget(self) -> "Engine":
        if not self.chunked_prefill and isinstance(self.max_num_batched_tokens, list) and len(self.max_num_batched_tokens) > 1:
            raise ValueError("a list of max_num_batched_tokens is searched under chunked prefill only; "
                             "with chunked_prefill: false give one value")
        return self

    def budgets(self) -> tuple[int, ...]:
        """The token budgets the search tries: the list or `auto`'s CHUNK_BUDGETS under chunked prefill, else one."""
        value = self.max_num_batched_tokens
        if value == "auto":
            return CHUNK_BUDGETS if self.chunked_prefill else (EngineParams.max_num_batched_tokens,)
        return tuple(sorted(value)) if isinstance(value, list) else (value,)

    disaggregation: Literal["auto", "off", "on"] = "auto"
    """Disaggregated prefill/decode (DistServe, Splitwise, Mooncake; docs/methodology.md, "Disaggregated prefill/decode"):
    `auto` lets the solver choose per bucket between co-located replicas and a prefill pool plus a decode pool
    (the default: the MILP only picks it where it is cheaper, so it never costs more than `off`), `off` plans
    co-located replicas only, `on` disaggregates every bucket."""

    # --- engine profile (issue 13): planner.schemas.engines ---
    kind: Literal["vllm", "sglang", "trtllm"] = "vllm"
    """The serving engine: selects its calibrated factors and, for sglang/trtllm, its defaults for the fields above
    this section leaves unset (vLLM's are the defaults shown)."""
    version: str = ""
    """Engine version the settings describe (shown in the plan)."""

    def params(self, budget: int | None = None) -> EngineParams:
        """The same settings as the plain record the performance model takes, at `budget` tokens per step
        (default: the workload's one value, else the engine's own default, as a measured profile ran). For sglang
        and trtllm, the fields this section leaves unset take that engine's profile defaults."""
        fields = self.model_dump(exclude={"disaggregation"})  # a planning choice, not an engine setting
        one = self.max_num_batched_tokens if isinstance(self.max_num_batched_tokens, int) else EngineParams.max_num_batched_tokens
        fields["max_num_batched_tokens"] = one if budget is None else budget
        if self.kind == "vllm":
            return EngineParams(**fields)
        from planner.schemas.engines import engine_params

        explicit = {k: fields[k] for k in self.model_fields_set if k != "kind" and k in fields}
        if budget is not None or "max_num_batched_tokens" in explicit:
            explicit["max_num_batched_tokens"] = fields["max_num_batched_tokens"]
        return engine_params(self.kind, **explicit)


DEFAULT_ACCEPTANCE = 0.7
"""Per-token acceptance rate of a draft model when the workload does not give one: the middle of the 0.5-0.8
that Leviathan et al. measured for drafts one to two orders of magnitude smaller than their target
("Fast Inference from Transformers via Speculative Decoding", arXiv:2211.17192, table 3). It depends on the
draft, the task and the sampling temperature: measure yours (vLLM logs its draft acceptance rate)."""


class Speculative(Base):
    """Speculative decoding as a searched dimension (docs/workload.md): every draft x k below is a candidate
    config beside the same config without speculation, and the plan keeps speculation where it is cheaper."""

    drafts: list[str] = Field(min_length=1)
    """Draft model ids from the catalog; each must share the target's tokenizer (vocabulary)."""
    k: list[Annotated[int, Field(ge=1, le=16)]] = [4]
    """Tokens the draft proposes per round (vLLM `num_speculative_tokens`)."""
    acceptance: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = DEFAULT_ACCEPTANCE
    """Per-token probability that the target accepts a drafted token."""

    @field_validator("drafts", "k")
    @classmethod
    def _distinct(cls, value: list[Any]) -> list[Any]:
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate entries in {value}")
        return value


class SolverOptions(Base):
    name: Literal["highs", "cbc"] = "highs"
    time_limit_s: Annotated[float, Field(ge=0.1, le=86400, allow_inf_nan=False)] = 30.0
    """Seconds the MILP solver may run (0.1 s to a day; the CLI's --time-limit has the same floor)."""
    mip_gap: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 1e-6


class Scenario(Base):
    """A named what-if: overrides by dotted path (`slo.tpot_ms: 30`), optionally on top of another scenario."""

    base: str | None = None
    """Name of the scenario this one builds on (its overrides apply first)."""
    description: str = ""
    set: dict[str, Any] = {}
    """Dotted workload path -> value, as `planner solve --set` takes them (docs/whatif.md)."""


class ModelEntry(Base):
    """One model of several served by one fleet (`models:`): its own traffic and SLOs, sharing the fleet's GPU
    types, caps, budget and reserved GPUs with the others (docs/fleet.md, "Several models")."""

    model: str
    slo: SLO | None = None
    """Default: the workload's top-level `slo`."""
    traffic: Traffic


class Workload(Base):
    """What to serve, how fast, and where the planner may look."""

    name: str = ""
    description: str = ""
    model: str
    slo: SLO
    traffic: Traffic
    gpus: list[str] | None = None
    """GPU ids to consider; default: every GPU with a price from the chosen provider."""
    quantization: list[str] = ["bf16"]
    """Weight formats to consider. Default bf16 only: quantization changes quality, so it is opt-in."""
    kv_dtype: list[Literal["fp16", "fp8"]] = ["fp16"]
    tp: list[Annotated[int, Field(ge=1, le=64)]] = [1, 2, 4, 8]
    pricing: Pricing = Pricing()
    utilization_target: UtilizationTarget = 0.8
    engine: Engine = Engine()
    speculative: Speculative | None = None
    """Draft models to try (speculative decoding); default: none."""
    solver: SolverOptions = SolverOptions()
    fleet: Fleet = Fleet()
    """Fleet rules: simplicity, caps, budget, power, redundancy (docs/fleet.md)."""
    capacity_profile: str | None = None
    """Measured capacity profile CSV (relative to the workload file) replacing the performance model (docs/profiles.md)."""
    scenarios: dict[str, Scenario] = {}
    """Named what-ifs for `--scenario NAME` and `planner compare` (docs/whatif.md)."""
    models: list[ModelEntry] = []
    """Several models on one fleet, each with its traffic and SLOs (docs/fleet.md, "Several models"). The top-level
    `model` and `traffic` may then be left out: they default to the first entry's (and must equal it if given)."""

    @model_validator(mode="before")
    @classmethod
    def _first_model(cls, data: Any) -> Any:
        """With `models:`, the top-level model/traffic (and slo, when no entry lacks one) come from the first entry."""
        if not isinstance(data, dict) or not isinstance(data.get("models"), list) or not data["models"]:
            return data
        first = data["models"][0]
        if not isinstance(first, dict):
            return data
        out = dict(data)
        for key in ("model", "traffic", "slo"):
            if key not in out and key in first:
                out[key] = first[key]
            elif key in ("model", "traffic") and key in first and out[key] != first[key]:
                raise ValueError(f"top-level `{key}` differs from models[0].{key}; with `models:` give each model's "
                                 f"{key} in its entry and leave the top level out")
        return out

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, value: list[ModelEntry]) -> list[ModelEntry]:
        ids = [e.model for e in value]
        if len(set(ids)) != len(ids):
            raise ValueError(f"each model appears once in `models:`, got {ids}")
        return value

    def model_entries(self) -> list[ModelEntry]:
        """Every model the fleet serves, with its SLO filled in (one entry for a single-model workload)."""
        if not self.models:
            return [ModelEntry(model=self.model, slo=self.slo, traffic=self.traffic)]
        return [e if e.slo is not None else e.model_copy(update={"slo": self.slo}) for e in self.models]

    @field_validator("gpus", "quantization", "kv_dtype", "tp")
    @classmethod
    def _non_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("expected at least one entry (omit the key for the default)")
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"duplicate entries in {value}")
        return value
