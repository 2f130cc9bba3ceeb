"""Calibration: fit the efficiency factors of the performance model to measurements.

`fit_efficiency` minimises the log error of the predictions (planner.calibration.predict) over the factors
of each GPU (least squares with a weak prior toward the starting catalog, bounds that keep every factor
physical: fractions of peak <= 1, overheads >= 0, so no prediction beats the roofline).
"""
from __future__ import annotations

import math

import numpy as np
import yaml

from planner.calibration.predict import predict, with_efficiency
from planner.errors import PlannerError
from planner.io.catalog import Catalog
from planner.schemas.catalog import Efficiency
from planner.schemas.observation import Observation

# the efficiency factors a fit may move, as `section.dtype` for per-dtype compute and plain names otherwise
FIELDS = ("compute.bf16", "compute.fp8", "compute.int8", "bandwidth", "gemm_half_tokens", "step_overhead_ms",
          "layer_overhead_us", "allreduce_latency_us", "allreduce_bw_efficiency")
BOUNDS = {"compute": (0.05, 1.0), "bandwidth": (0.3, 1.0), "gemm_half_tokens": (1.0, 2048.0), "step_overhead_ms": (0.05, 30.0),
          "layer_overhead_us": (1.0, 500.0), "allreduce_latency_us": (1.0, 300.0), "allreduce_bw_efficiency": (0.05, 1.0)}
"""Physical ranges: fractions of peak never exceed 1 and overheads stay positive (never faster than the roofline)."""
PRIOR = Efficiency(
    gpu="default", compute={"bf16": 0.6, "fp8": 0.5, "int8": 0.5}, bandwidth=0.8, gemm_half_tokens=64, step_overhead_ms=1.5,
    layer_overhead_us=50, allreduce_latency_us=40, allreduce_bw_efficiency=0.7,
    source="uncalibrated starting point of benchmarks/calibrate.py (round values, see docs/methodology.md)", date="2026-11-25",
    confidence="low",
)
"""Where every GPU's fit starts, so fitted factors depend on the data only (no leakage between folds)."""
PRIOR_WEIGHT = 0.3
"""Pull (in log units) of each factor toward its starting value: keeps unidentified factors where they were."""


def _get(eff: Efficiency, name: str) -> float | None:
    if name.startswith("compute."):
        return eff.compute.get(name.split(".")[1])
    return getattr(eff, name)


def _set(eff: Efficiency, values: dict[str, float], source: str, date: str) -> Efficiency:
    compute = dict(eff.compute)
    plain = {}
    for name, value in values.items():
        if name.startswith("compute."):
            compute[name.split(".")[1]] = round(value, 4)
        else:
            plain[name] = round(value, 4)
    return eff.model_copy(update={"compute": compute, **plain, "source": source, "date": date, "confidence": "medium"})


def _start(eff: Efficiency, catalog: Catalog, gpu: str) -> Efficiency:
    """`eff` for `gpu`, keeping only the compute dtypes that GPU has tensor cores for."""
    compute = {d: v for d, v in eff.compute.items() if d in catalog.gpu(gpu).tflops}
    return eff.model_copy(update={"gpu": gpu, "compute": compute})


def _free_params(obs: list[Observation], catalog: Catalog) -> list[tuple[str, str]]:
    """(gpu, field) pairs the observations can inform: compute per dtype seen, comm only with TP > 1."""
    out = []
    for gpu in sorted({o.gpu for o in obs}):
        mine = [o for o in obs if o.gpu == gpu]
        dtypes = {catalog.quant(o.quant).compute_dtype for o in mine}
        for name in FIELDS:
            if name.startswith("compute.") and name.split(".")[1] not in dtypes:
                continue
            if name.startswith("allreduce") and all(o.tp == 1 for o in mine):
                continue
            out.append((gpu, name))
    return out


def _weights(obs: list[Observation]) -> np.ndarray:
    """Each source and metric counts about equally, however many rows it has."""
    import pandas as pd

    groups = pd.Series([f"{o.source}/{o.metric}" for o in obs])
    return (1.0 / np.sqrt(groups.map(groups.value_counts()))).to_numpy()


MIN_ROWS_FOR_OVERHEADS = 20
"""A GPU with fewer measurements gets only its compute factors fitted; bandwidth, overheads and all-reduce
factors come from its nearest well-measured sibling (a handful of rows cannot separate them)."""


def fit_efficiency(
    obs: list[Observation], catalog: Catalog, source: str, date: str, start: Efficiency | None = None
) -> dict[str, Efficiency]:
    """Fitted efficiency entries for every GPU in `obs` (log-error least squares, bounded, weak prior).

    Each GPU starts from `start` (e.g. `PRIOR`) or, by default, from its entry in `catalog`. Well-measured
    GPUs are fitted first, on every factor; sparsely measured ones then on their compute factors only.
    """
    if not obs:
        raise PlannerError("calibration: no usable measurements")
    import pandas as pd

    counts = pd.Series([o.gpu for o in obs]).value_counts()
    rich = [g for g in counts.index if counts[g] >= MIN_ROWS_FOR_OVERHEADS]
    sparse = [g for g in counts.index if g not in rich]
    fitted: dict[str, Efficiency] = {}
    if rich:
        fitted |= _fit([o for o in obs if o.gpu in rich], catalog, source, date, start, all_fields=True)
    for gpu in sparse:
        base = fitted[sibling(gpu, list(fitted), catalog)] if fitted else start
        fitted |= _fit([o for o in obs if o.gpu == gpu], catalog, source, date, base, all_fields=not fitted)
    return fitted


def sibling(gpu: str, measured: list[str], catalog: Catalog) -> str:
    """The measured GPU most like `gpu`: same interconnect kind first, then the closest bf16 peak (H200 -> H100)."""
    g = catalog.gpu(gpu)

    def distance(other: str) -> tuple[bool, float]:
        o = catalog.gpu(other)
        return o.interconnect.kind != g.interconnect.kind, abs(math.log(o.tflops["bf16"] / g.tflops["bf16"]))

    return min(sorted(measured), key=distance)


def _fit(obs: list[Observation], catalog: Catalog, source: str, date: str, start: Efficiency | None,
         all_fields: bool) -> dict[str, Efficiency]:
    params = [(g, n) for g, n in _free_params(obs, catalog) if all_fields or n.startswith("compute")]
    gpus = sorted({o.gpu for o in obs})
    start_of = {g: _start(start or catalog.efficiency_for(g), catalog, g) for g in gpus}
    catalog = with_efficiency(catalog, start_of)
    x0 = np.array([math.log(_get(start_of[g], n) or _get(start_of[g], "compute.bf16")) for g, n in params])
    lo = np.log([BOUNDS[n.split(".")[0]][0] for _, n in params])
    hi = np.log([BOUNDS[n.split(".")[0]][1] for _, n in params])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    weights, measured = _weights(obs), np.array([o.measured for o in obs])

    def entries(x: np.ndarray) -> dict[str, Efficiency]:
        values: dict[str, dict[str, float]] = {g: {} for g in gpus}
        for (g, n), v in zip(params, np.exp(x)):
            values[g][n] = float(v)
        return {g: _set(start_of[g], values[g], source, date) for g in gpus}

    def residuals(x: np.ndarray) -> np.ndarray:
        cat = with_efficiency(catalog, entries(x))
        pred = np.array([predict(o, cat) for o in obs])
        err = np.where(np.isfinite(pred) & (pred > 0), np.log(np.maximum(pred, 1e-12) / measured), 3.0)
        return np.concatenate([err * weights, PRIOR_WEIGHT * (x - x0) / math.sqrt(len(x))])

    from scipy.optimize import least_squares  # 0.5 s to import: only calibration needs it

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=1.0, diff_step=1e-3, max_nfev=60 * len(x0))
    return entries(result.x)


def default_entry(entries: dict[str, Efficiency], source: str, date: str) -> Efficiency:
    """The `default` entry for GPUs without measurements: the median of each fitted factor."""
    fitted = list(entries.values())
    compute = {d: float(np.median([e.compute[d] for e in fitted if d in e.compute]))
               for d in ("bf16", "fp8", "int8") if any(d in e.compute for e in fitted)}
    plain = {n: float(np.median([getattr(e, n) for e in fitted])) for n in FIELDS if "." not in n}
    values = {f"compute.{d}": v for d, v in compute.items()} | plain
    return _set(fitted[0].model_copy(update={"gpu": "default"}), values, source, date).model_copy(update={"confidence": "low"})


def overlay_yaml(entries: dict[str, Efficiency]) -> str:
    """A catalog overlay (`--catalog overlay.yaml`) holding the fitted efficiency entries."""
    order = ("gpu", *Efficiency.model_fields)
    docs = [{k: e.model_dump()[k] for k in dict.fromkeys(order)} for _, e in sorted(entries.items())]
    return yaml.safe_dump({"schema_version": 1, "efficiency": docs}, sort_keys=False)
