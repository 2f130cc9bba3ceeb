"""The physical floor of a plan: the $/h of the cheapest allowed GPU type doing the workload's arithmetic at
dense peak and its memory traffic at datasheet bandwidth, holding the weights and the KV cache that Little's
law says is live at the best decode pace the TPOT SLO allows (docs/methodology.md, "Physical floor").

It is the back-of-envelope a reviewer does before trusting a plan: no scheduler, no SLO tail, no queueing,
perfect batching. A plan many times its floor is not wrong by itself (tight SLOs force small batches), but
it must say why; `Plan.notes` carries that warning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.demand.series import DemandSeries
from planner.io.catalog import Catalog
from planner.perf.memory import embedding_params, kv_bytes_per_token, weight_bytes
from planner.schemas.plan import FloorDoc
from planner.schemas.workload import SLO
from planner.supply.table import CapacityTable

WARN_RATIO = 5.0
"""A plan above this multiple of its floor gets a warning naming what binds it (issue 12's review bar: a
plan 6-20x its floor went unnoticed; well-fitted plans of this project's examples sit at 1.5-4x)."""


@dataclass(frozen=True)
class Work:
    """What the workload asks of the hardware per second, independent of the GPU."""

    prefill_flops: float
    decode_flops: float
    kv_read_tokens: float
    """KV tokens decode reads per second: each output token reads its sequence's whole context (times the
    bytes per token of a KV dtype, this is also the live KV per second of step time, by Little's law)."""


def workload_work(catalog: Catalog, model_id: str, demand: DemandSeries) -> Work:
    """FLOPs/s of prefill (uncached prompt tokens) and decode, and the KV tokens/s decode reads."""
    m = catalog.model(model_id)
    rates = demand.bucket_rates()
    inp = np.array([b.input_mean for b in demand.buckets])
    out = np.array([max(b.output_mean, 1.0) for b in demand.buckets])
    uncached = inp * (1.0 - np.array([b.cache_hit for b in demand.buckets]))
    linear = 2.0 * (m.active_b * 1e9 - embedding_params(m)) + 2.0 * m.vocab_size * m.hidden_size
    attn = 4.0 * m.n_layers * m.n_heads * m.head_dim  # FLOPs per token per attended token (QK^T and PV)
    # a prompt token attends on average over half the prompt; a decode token over the prompt and half the output
    prefill = float(np.sum(rates * uncached * (linear + attn * (inp - uncached + uncached / 2))))
    context = inp + out / 2
    decode = float(np.sum(rates * out * (linear + attn * context)))
    return Work(prefill, decode, float(np.sum(rates * out * context)))


def physical_floor(catalog: Catalog, table: CapacityTable, demand: DemandSeries, slo: SLO, plan_cost: float) -> FloorDoc | None:
    """The cheapest GPU type / weight format / KV dtype among the table's configs at its physical floor (None
    when no config's GPU is in the catalog)."""
    if not table.configs:
        return None
    spec0 = table.configs[0]
    work = workload_work(catalog, spec0.model, demand)
    model = catalog.model(spec0.model)
    best: FloorDoc | None = None
    seen = set()
    for spec, cost in zip(table.configs, table.costs.tolist()):
        combo = (spec.gpu, spec.quant, spec.kv_dtype)
        if combo in seen or spec.gpu not in catalog.gpus:  # a measured profile may name GPUs the catalog lacks
            continue
        seen.add(combo)
        gpu, quant, kv = catalog.gpu(spec.gpu), catalog.quant(spec.quant), catalog.kv_dtype(spec.kv_dtype)
        peak = gpu.tflops.get(quant.compute_dtype, gpu.tflops["bf16"]) * 1e12
        weights = weight_bytes(model, quant)
        kv_rate = work.kv_read_tokens * kv_bytes_per_token(model, kv)
        step = _best_step(weights, kv_rate, gpu.memory_gb * 1e9, gpu.memory_bandwidth_gbs * 1e9, slo.tpot_ms / 1e3)
        kv_live = kv_rate * step  # Little's law: each live sequence's KV is read once a step
        traffic = kv_rate + weights / step
        needs = {
            "compute": (work.prefill_flops + work.decode_flops) / peak,
            "bandwidth": traffic / (gpu.memory_bandwidth_gbs * 1e9),
            "memory": (weights + kv_live) / (gpu.memory_gb * 1e9),
        }
        binding = max(needs, key=needs.__getitem__)
        gpus = math.ceil(needs[binding] - 1e-9)  # whole GPUs: the fleet cannot rent 0.6 of one
        price = cost / spec.tp
        if best is None or gpus * price < best.cost_per_hour:
            best = FloorDoc(cost_per_hour=gpus * price, gpu=spec.gpu, quant=spec.quant, kv_dtype=spec.kv_dtype, gpus=gpus,
                            binding=binding, compute_gpus=needs["compute"], bandwidth_gpus=needs["bandwidth"],
                            memory_gpus=needs["memory"], prefill_tflops=work.prefill_flops / 1e12,
                            decode_tflops=work.decode_flops / 1e12, hbm_tb_per_s=traffic / 1e12, live_kv_gb=kv_live / 1e9,
                            weights_gb=weights / 1e9, ratio=0.0)
    if best is None:
        return None
    ratio = plan_cost / best.cost_per_hour if best.cost_per_hour > 0 else float("inf")
    return best.model_copy(update={"ratio": ratio})


def _best_step(weights: float, kv_rate: float, hbm: float, bandwidth: float, tpot_s: float) -> float:
    """The decode step time t (at most the TPOT SLO) that needs the fewest GPUs: weights are read once a step
    (W / t bytes/s) besides the KV every token reads (kv_rate), and the live KV is kv_rate * t bytes, so
    bandwidth needs (kv_rate + W / t) / BW GPUs and memory (W + kv_rate t) / HBM; the two are equal at the
    positive root of BW kv_rate t^2 + (BW W - HBM kv_rate) t - HBM W = 0."""
    if kv_rate <= 0:
        return tpot_s
    a, b, c = bandwidth * kv_rate, bandwidth * weights - hbm * kv_rate, -hbm * weights
    return min(tpot_s, (-b + (b * b - 4 * a * c) ** 0.5) / (2 * a))


def floor_warning(floor: FloorDoc, pool_details: list[tuple[float, str]]) -> str | None:
    """A note when the plan is more than WARN_RATIO times its floor, naming what binds the costliest pool."""
    if floor.ratio <= WARN_RATIO:
        return None
    why = max(pool_details)[1] if pool_details else "no pool detail"
    return (f"this plan costs {floor.ratio:.1f}x its physical floor (${floor.cost_per_hour:,.2f}/h: {floor.gpus:g} x "
            f"{floor.gpu} at dense peak and datasheet bandwidth, {floor.binding}-bound); what binds its costliest pool: {why}")
