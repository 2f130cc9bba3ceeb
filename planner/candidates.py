"""Candidate replica configs: every allowed GPU x quantization x KV dtype x TP that can hold the model."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from planner.catalog import Catalog
from planner.perf.memory import ServingConfig, kv_budget_bytes_per_gpu, weight_bytes_per_gpu
from planner.workload import LoadedWorkload, input_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A config the optimizer may buy, with its price for one replica (tp GPUs)."""

    config: ServingConfig
    usd_per_gpu_hour: float
    price_source: str

    @property
    def cost_per_hour(self) -> float:
        return self.usd_per_gpu_hour * self.config.tp


@dataclass(frozen=True)
class Rejection:
    key: str
    reason: str


def _gpu_prices(loaded: LoadedWorkload, catalog: Catalog) -> tuple[dict[str, tuple[float, str]], list[Rejection]]:
    """USD per GPU-hour of every GPU in scope; an explicitly listed GPU without a price is an error."""
    w = loaded.workload
    pricing = w.pricing
    prices, rejected = {}, []
    for i, gpu_id in enumerate(w.gpus or sorted(catalog.gpus)):
        if gpu_id in pricing.overrides:
            prices[gpu_id] = (pricing.overrides[gpu_id], "pricing.overrides in the workload")
            continue
        price = catalog.price(gpu_id, pricing.provider, pricing.tier)
        if price is not None:
            prices[gpu_id] = (price.usd_per_gpu_hour, f"{price.source} ({price.date})")
            continue
        offered = sorted(p.provider for p in catalog.prices.values() if p.gpu == gpu_id and p.tier == pricing.tier)
        if w.gpus is not None:
            hint = f"providers with a {pricing.tier} price for it: {', '.join(offered)}" if offered else "no provider lists it"
            raise input_error(loaded, ("gpus", i), f"no {pricing.provider} {pricing.tier} price for GPU {gpu_id!r} ({hint}); set pricing.overrides.{gpu_id}")
        rejected.append(Rejection(gpu_id, f"no {pricing.provider} {pricing.tier} price"))
        log.info("skipping %s: no %s %s price", gpu_id, pricing.provider, pricing.tier)
    return prices, rejected


def enumerate_candidates(loaded: LoadedWorkload, catalog: Catalog) -> tuple[list[Candidate], list[Rejection]]:
    """All configs worth a capacity estimate, in a deterministic order, plus why the others were left out."""
    w = loaded.workload
    model = catalog.model(w.model)
    prices, rejected = _gpu_prices(loaded, catalog)
    out: list[Candidate] = []
    for gpu_id in sorted(prices):
        gpu = catalog.gpu(gpu_id)
        eff = catalog.efficiency_for(gpu_id)
        for quant_id in w.quantization:
            quant = catalog.quant(quant_id)
            if quant.compute_dtype not in gpu.tflops:
                rejected.append(Rejection(f"{gpu_id}/{quant.id}", f"{gpu.name} has no {quant.compute_dtype} tensor cores"))
                continue
            for kv_id in w.kv_dtype:
                for tp in sorted(w.tp):
                    cfg = ServingConfig(model, gpu, quant, catalog.kv_dtype(kv_id), tp, eff, w.engine)
                    reason = tp_problem(cfg)
                    if reason is None and kv_budget_bytes_per_gpu(cfg) <= 0:
                        reason = (f"weights need {weight_bytes_per_gpu(cfg) / 1e9:.1f} GB per GPU; "
                                  f"no room for KV cache in {gpu.memory_gb:g} GB")
                    if reason:
                        rejected.append(Rejection(cfg.key, reason))
                        continue
                    usd, source = prices[gpu_id]
                    out.append(Candidate(cfg, usd, source))
    return out, rejected


def tp_problem(cfg: ServingConfig) -> str | None:
    """Why `cfg.tp` cannot shard this model on this GPU node, or None when it can."""
    m, tp = cfg.model, cfg.tp
    if tp > cfg.gpu.max_tp:
        return f"TP {tp} exceeds the {cfg.gpu.max_tp} GPUs of one {cfg.gpu.id} node"
    if m.n_heads % tp:
        return f"TP {tp} does not divide {m.n_heads} attention heads"
    if m.n_kv_heads % tp and tp % m.n_kv_heads:
        return f"TP {tp} and {m.n_kv_heads} KV heads: neither divides the other"
    return None
