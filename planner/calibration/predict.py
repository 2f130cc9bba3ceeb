"""What the performance model predicts for an Observation, and its error against the measurement."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from planner.errors import PlannerError
from planner.io.catalog import Catalog
from planner.perf import estimate
from planner.perf.memory import ServingConfig, linear_params
from planner.perf.step import GEMMS_PER_LAYER, achievable_bandwidth, allreduce_s, peak_flops
from planner.schemas.catalog import Efficiency
from planner.schemas.observation import Observation

if TYPE_CHECKING:
    import pandas as pd


def config_for(obs: Observation, catalog: Catalog) -> ServingConfig:
    """The replica config an observation was measured on."""
    return ServingConfig(catalog.model(obs.model), catalog.gpu(obs.gpu), catalog.quant(obs.quant),
                         catalog.kv_dtype(obs.kv_dtype), obs.tp, catalog.efficiency_for(obs.gpu), obs.engine)


def _operator_ms(obs: Observation, cfg: ServingConfig) -> float:
    """Kernel time of one layer's four matmuls (op-matmul) or one all-reduce (op-allreduce)."""
    if obs.mode == "op-allreduce":
        return float(allreduce_s(cfg, obs.load)) * 1e3
    layer = linear_params(cfg.model) / cfg.model.n_layers / cfg.tp
    flops = 2.0 * layer * obs.load
    roofline = max(flops / float(peak_flops(cfg, obs.load)), layer * cfg.quant.bytes_per_weight / achievable_bandwidth(cfg))
    return (roofline + GEMMS_PER_LAYER * cfg.eff.gemm_latency_us * 1e-6) * 1e3


def predict(obs: Observation, catalog: Catalog) -> float:
    """What the model says `obs.metric` is (NaN when the model cannot run that load)."""
    cfg = config_for(obs, catalog)
    if obs.mode.startswith("op-"):
        return _operator_ms(obs, cfg)
    inp, out = obs.input_tokens, obs.output_tokens
    try:
        if obs.mode == "batch":
            est = estimate.lockstep(cfg, inp, out, int(obs.load))
        elif obs.mode == "max-throughput":
            est = estimate.max_throughput(cfg, inp, out)
        elif obs.mode == "rate":
            est = estimate.at_rate(cfg, inp, out, obs.load)
        else:
            est = estimate.at_concurrency(cfg, inp, out, int(obs.load))
    except PlannerError:
        return math.nan
    if obs.metric == "e2e_ms":
        return est.ttft_ms + (out - 1) * est.tpot_ms
    return float(getattr(est, obs.metric))


def with_efficiency(catalog: Catalog, entries: dict[str, Efficiency]) -> Catalog:
    """The catalog with `entries` replacing its efficiency factors for their GPUs."""
    return replace(catalog, efficiency={**catalog.efficiency, **entries})


def errors(obs: list[Observation], catalog: Catalog) -> "pd.DataFrame":
    """One row per observation: predicted, measured and signed relative error (pred / measured - 1)."""
    import pandas as pd

    rows = []
    for o in obs:
        pred = predict(o, catalog)
        rows.append({"source": o.source, "ref": o.ref, "gpu": o.gpu, "engine": o.engine.kind, "model": o.model, "tp": o.tp, "quant": o.quant,
                     "mode": o.mode, "metric": o.metric, "measured": o.measured, "predicted": pred,
                     "error": pred / o.measured - 1 if math.isfinite(pred) else math.nan})
    return pd.DataFrame(rows)


def summarize(table: "pd.DataFrame", by: list[str]) -> "pd.DataFrame":
    """n, median and p90 |error| (percent) per group."""
    import pandas as pd

    abs_err = table.assign(abs_pct=table["error"].abs() * 100)
    grouped = abs_err.groupby(by)["abs_pct"]
    return pd.DataFrame({"n": grouped.size(), "median_pct": grouped.median(), "p90_pct": grouped.quantile(0.9)}).reset_index()


