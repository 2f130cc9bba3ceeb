"""From a replica's identity to what the performance model needs: ReplicaSpec + Catalog -> ServingConfig."""
from __future__ import annotations

from planner.errors import PlannerError
from planner.io.catalog import Catalog
from planner.perf.memory import GB, ServingConfig, kv_budget_bytes_per_gpu, tp_problem, weight_bytes_per_gpu
from planner.perf.speculative import SpecDecode
from planner.schemas.replica import EngineParams, ReplicaSpec


def resolve(spec: ReplicaSpec, catalog: Catalog) -> ServingConfig:
    """The catalog objects (model, GPU, formats, efficiency factors) behind `spec`; unknown ids raise CatalogError."""
    s = spec.speculative
    decode = None if s is None else SpecDecode(catalog.model(s.draft), s.k, s.acceptance)
    return ServingConfig(catalog.model(spec.model), catalog.gpu(spec.gpu), catalog.quant(spec.quant),
                         catalog.kv_dtype(spec.kv_dtype), spec.tp, catalog.efficiency_for(spec.gpu), spec.engine, decode)


def build_config(
    catalog: Catalog, model: str, gpu: str, quant: str = "bf16", kv_dtype: str = "fp16", tp: int = 1,
    engine: EngineParams | None = None, spec: SpecDecode | None = None,
) -> ServingConfig:
    """A validated replica config; unsupported combinations raise PlannerError with the reason and a fix."""
    m, g, q = catalog.model(model), catalog.gpu(gpu), catalog.quant(quant)
    if q.compute_dtype not in g.tflops:
        have = ", ".join(sorted(g.tflops))
        usable = ", ".join(f.id for f in catalog.quantization.values() if f.compute_dtype in g.tflops)
        raise PlannerError(f"quant {q.id}: {g.name} has no {q.compute_dtype} tensor cores (it has {have}); use one of: {usable}")
    cfg = ServingConfig(m, g, q, catalog.kv_dtype(kv_dtype), tp, catalog.efficiency_for(g.id), engine or EngineParams(), spec)
    problem = tp_problem(cfg)
    if problem:
        raise PlannerError(f"tp {tp}: {problem}")
    if kv_budget_bytes_per_gpu(cfg) <= 0:
        raise PlannerError(
            f"{m.id} does not fit: {weight_bytes_per_gpu(cfg) / GB:.1f} GB of {q.id} weights per GPU at TP {tp} leave no KV cache "
            f"in {g.memory_gb:g} GB x {cfg.engine.gpu_memory_utilization:g}; use a larger tp or a smaller quantization (fp8, int4)")
    return cfg
