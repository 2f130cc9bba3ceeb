"""Configs for the perf tests: catalog entries plus a round-number efficiency entry for golden values."""
from __future__ import annotations

from planner.io.catalog import load_catalog
from planner.schemas.catalog import Efficiency
from planner.perf.memory import ServingConfig
from planner.perf.speculative import SpecDecode
from planner.schemas.replica import EngineParams as Engine

CATALOG = load_catalog()
ROUND_EFF = Efficiency(
    gpu="default", compute={"bf16": 0.5, "fp8": 0.5, "int8": 0.5}, bandwidth=0.8, gemm_half_tokens=0, step_overhead_ms=1.0,
    layer_overhead_us=0, allreduce_latency_us=0, allreduce_bw_efficiency=1.0, source="round test values", date="2026",
)
"""Half of peak FLOPs, 80 % of peak bandwidth, 1 ms per step and nothing else: easy to work out by hand."""


def config(model: str, gpu: str, quant: str = "bf16", tp: int = 1, kv: str = "fp16", eff: Efficiency | None = None,
           engine: Engine | None = None, spec: SpecDecode | None = None) -> ServingConfig:
    return ServingConfig(CATALOG.model(model), CATALOG.gpu(gpu), CATALOG.quant(quant), CATALOG.kv_dtype(kv), tp,
                         eff or CATALOG.efficiency_for(gpu), engine or Engine(), spec)
