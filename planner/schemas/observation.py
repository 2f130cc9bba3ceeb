"""A measurement the performance model can be checked or calibrated against: one number, with everything
`planner estimate` needs to predict it. Benchmark-file readers (planner.io.readers) produce them."""
from __future__ import annotations

from dataclasses import dataclass, field

from planner.schemas.replica import EngineParams

MODES = ("batch", "max-throughput", "rate", "concurrency", "op-matmul", "op-allreduce")
"""How the load was applied (planner estimate's modes) or which operator was timed."""
METRICS = ("ttft_ms", "tpot_ms", "e2e_ms", "output_tok_s", "total_tok_s", "req_s", "layer_matmul_ms", "allreduce_ms")


@dataclass(frozen=True)
class Observation:
    """One measured number and the configuration and load that produced it."""

    source: str
    ref: str
    model: str
    gpu: str
    tp: int
    quant: str
    kv_dtype: str
    mode: str
    input_tokens: int
    output_tokens: int
    load: float
    """Batch size (batch), req/s (rate), clients (concurrency), tokens (op-matmul), bytes (op-allreduce)."""
    metric: str
    measured: float
    engine: EngineParams = field(default_factory=EngineParams)


