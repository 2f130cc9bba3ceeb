"""The identity of a replica configuration, used by every stage: candidates, capacity tables, plans,
profiles and the simulator all name a config by one `ReplicaSpec` and its `.key`.

Plain frozen dataclasses (hashable, no catalog objects inside), so a spec is cheap to build, compare and
use as a dict key; planner.supply.replica resolves it against a catalog into a perf.ServingConfig.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["unified", "prefill", "decode"]
"""What a replica serves: whole requests (`unified`), or one half of a disaggregated pair (later)."""


@dataclass(frozen=True)
class EngineParams:
    """Serving-engine settings the performance model and the simulator take (vLLM's names and defaults).

    The workload schema's `engine:` section (planner.schemas.workload.Engine) converts to this record, so
    the performance model never depends on the workload schema.
    """

    gpu_memory_utilization: float = 0.9
    """vLLM `--gpu-memory-utilization` default."""
    block_size: int = 16
    """vLLM KV block size default (tokens per page)."""
    max_num_seqs: int = 256
    """vLLM `--max-num-seqs` default."""
    max_num_batched_tokens: int = 8192
    """Token budget per step (vLLM V1's default for online serving); the chunk size under chunked prefill."""
    paged_kv: bool = True
    flash_attention: bool = True
    chunked_prefill: bool = True
    """vLLM V1, SGLang and TensorRT-LLM all mix prompt chunks into decode steps by default."""
    cuda_graphs: bool = True
    """Whether the engine replays each step as captured CUDA graphs (vLLM V1, SGLang and TensorRT-LLM do by default);
    False for an eager engine (vLLM `--enforce-eager`, 2023 research stacks), whose host launches and per-rank
    synchronisation add the eager time of planner.schemas.engines (methodology "Engine profiles")."""
    # --- engine identity (issue 13, planner.schemas.engines holds each engine's defaults) ---
    kind: str = "vllm"
    """Which engine: vllm | sglang | trtllm. Selects the calibrated per-engine factors (efficiency `engine_overhead`)."""
    version: str = ""
    """The engine version the settings describe (informational; shown in plans and estimates)."""


def config_key(gpu: str, quant: str, tp: int, kv_dtype: str, role: Role = "unified", chunk: int | None = None) -> str:
    """`h100/fp8/tp2`, `/kv-fp8` appended for an fp8 KV cache, `/chunk2048` for a chunked-prefill token budget
    other than vLLM's default 8192, and `/prefill` or `/decode` for a disaggregated role: how plans, profiles,
    routing tables and the simulator name a config."""
    kv = "" if kv_dtype == "fp16" else f"/kv-{kv_dtype}"
    chunk_part = "" if chunk is None or chunk == EngineParams.max_num_batched_tokens else f"/chunk{chunk}"
    role_part = "" if role == "unified" else f"/{role}"
    return f"{gpu}/{quant}/tp{tp}{kv}{chunk_part}{role_part}"


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding as a replica runs it: draft model id, tokens it proposes per round, per-token
    acceptance rate (planner.perf.speculative.SpecDecode is the resolved form)."""

    draft: str
    k: int
    acceptance: float

    @property
    def key(self) -> str:
        """`/spec-llama-3.2-1b-k4`: the suffix a speculative config's key carries."""
        return f"/spec-{self.draft}-k{self.k}"


@dataclass(frozen=True)
class ReplicaSpec:
    """One replica design: `model` on `tp` GPUs of type `gpu`, weight format `quant`, KV dtype `kv_dtype`,
    serving `role` under `engine` settings. The key leaves out the model and the engine settings one plan
    shares, but names the chunk budget, which the planner searches per config."""

    model: str
    gpu: str
    quant: str
    kv_dtype: str
    tp: int
    role: Role = "unified"
    engine: EngineParams = field(default_factory=EngineParams)
    tag: str = ""
    """Prefix of the key (`llama-3.1-8b:h100/fp8/tp1`): the model id when one plan serves several models, so each
    model's pools keep their own names (docs/fleet.md, "Several models")."""
    speculative: Speculation | None = None
    """Speculative decoding (a searched dimension when the workload names draft models); None = off."""

    @property
    def key(self) -> str:
        spec = "" if self.speculative is None else self.speculative.key
        key = config_key(self.gpu, self.quant, self.tp, self.kv_dtype, self.role, self.chunk) + spec
        return f"{self.tag}:{key}" if self.tag else key

    @property
    def chunk(self) -> int | None:
        """The token budget per step when prompts are chunked (None under serial prefill)."""
        return self.engine.max_num_batched_tokens if self.engine.chunked_prefill else None

    @property
    def gpus(self) -> int:
        """GPUs one replica occupies."""
        return self.tp
