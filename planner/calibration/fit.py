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
FIELDS = ("compute.bf16", "compute.fp8", "compute.int8", "bandwidth", "gemm_half_tokens", "gemm_latency_us", "step_overhead_ms",
          "layer_overhead_us", "allreduce_latency_us", "allreduce_bw_efficiency")
GEMM_HALF_MAX = 64.0
"""Upper bound of gemm_half_tokens. Above ~100 the small-M efficiency curve T / (T + half) makes a batch-1 BF16 GEMM's
compute time exceed its weight-streaming time on low-FLOP/byte GPUs (A10G: 117 FLOP/B), i.e. batch-1 decode would
be compute-bound, against every measurement (a GEMV streams its weights). Unbounded fits on the Vidur profiles
reach 80-150 at the small token counts, trading the curve against bandwidth; 64 keeps every catalog GPU
memory-bound at batch 1 with margin."""
ENGINE_FIELDS = ("engine_kernel", "engine_overhead")
"""Per-engine factors, fitted as `engine_kernel.<kind>` for every engine kind a GPU was measured under except its
reference kind (REFERENCE_ENGINE if present, else its most-measured one), which keeps factor 1."""
ENGINE_START_MARGIN = 0.05
"""Engine factors start this far (log units) inside their bounds: a trust-region fit started on a bound (factor 1)
scales the step by the distance to it and never leaves."""
REFERENCE_ENGINE = "trtllm"
"""The engine the GPU factors describe where it was measured: the most rows with fully stated settings."""
BOUNDS = {"engine_kernel": (0.3, 1.0), "engine_overhead": (0.2, 5.0), "compute": (0.05, 1.0), "bandwidth": (0.3, 1.0), "gemm_half_tokens": (1.0, GEMM_HALF_MAX), "gemm_latency_us": (0.5, 50.0), "step_overhead_ms": (0.05, 30.0),
          "layer_overhead_us": (1.0, 500.0), "allreduce_latency_us": (1.0, 300.0), "allreduce_bw_efficiency": (0.05, 1.0)}
"""Physical ranges: fractions of peak never exceed 1 and overheads stay positive (never faster than the roofline)."""
PRIOR = Efficiency(
    gpu="default", compute={"bf16": 0.6, "fp8": 0.5, "int8": 0.5}, bandwidth=0.8, gemm_half_tokens=32, gemm_latency_us=5.0,
    step_overhead_ms=1.5,
    layer_overhead_us=30, allreduce_latency_us=40, allreduce_bw_efficiency=0.7,
    source="uncalibrated starting point of benchmarks/calibrate.py (round values, see docs/methodology.md)", date="2026-11-25",
    confidence="low",
)
"""Where every GPU's fit starts, so fitted factors depend on the data only (no leakage between folds)."""
ROBUST_SCALE = 0.3
"""Soft-L1 loss scale (log units): a row off by more than ~35 % counts linearly, not squared, so one row the
model cannot represent (NIM's 8 s TTFT at 100 clients, where queueing dominates) does not drag a factor that
every other row pins (it pulled H100's fp8 compute to 0.30 under a plain least-squares fit)."""
PRIOR_WEIGHT = 0.3
"""Pull (in log units) of each factor toward its starting value: keeps unidentified factors where they were."""


def _get(eff: Efficiency, name: str) -> float | None:
    """A factor by name: `compute.bf16`, `engine_kernel.vllm` (1 when absent) or a plain field."""
    if "." in name:
        section, key = name.split(".")
        return getattr(eff, section).get(key, 1.0 if section in ENGINE_FIELDS else None)
    return getattr(eff, name)


def _set(eff: Efficiency, values: dict[str, float], source: str, date: str, digits: int | None = 4) -> Efficiency:
    """`eff` with `values` set, rounded to `digits` (None while fitting: rounding would hide the finite-difference steps)."""
    sections = {name: dict(getattr(eff, name)) for name in ("compute", *ENGINE_FIELDS)}
    plain = {}
    for name, value in values.items():
        if "." in name:
            section, key = name.split(".")
            sections[section][key] = round(value, digits) if digits is not None else value
        else:
            plain[name] = round(value, digits) if digits is not None else value
    return eff.model_copy(update={**sections, **plain, "source": source, "date": date, "confidence": "medium"})


def _engine_params(mine: list[Observation]) -> list[str]:
    """`engine_kernel.<kind>` and `engine_overhead.<kind>` for each non-reference engine of one GPU's rows."""
    import collections

    kinds = collections.Counter(o.engine.kind for o in mine if not o.mode.startswith("op-"))
    if len(kinds) < 2:
        return []
    reference = REFERENCE_ENGINE if REFERENCE_ENGINE in kinds else kinds.most_common(1)[0][0]
    return [f"{field}.{kind}" for kind in sorted(kinds) if kind != reference for field in ENGINE_FIELDS]


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
        out.extend((gpu, name) for name in _engine_params(mine))
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
    return {g: _int8_like_fp8(e, obs, catalog) for g, e in fitted.items()}


def _int8_like_fp8(eff: Efficiency, obs: list[Observation], catalog: Catalog) -> Efficiency:
    """Without INT8 W8A8 rows, a GPU's int8 factor follows its fitted fp8 one (same tensor-core rate on Hopper and
    Ada), so that an unmeasured format never looks better than the measured one."""
    measured = {catalog.quant(o.quant).compute_dtype for o in obs if o.gpu == eff.gpu}
    if "fp8" not in eff.compute or "int8" not in eff.compute or "int8" in measured:
        return eff
    return eff.model_copy(update={"compute": {**eff.compute, "int8": eff.compute["fp8"]}})


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
    inside = np.array([n.split(".")[0] in ENGINE_FIELDS for _, n in params], dtype=bool)
    x0 = np.where(inside, np.clip(x0, lo + ENGINE_START_MARGIN, hi - ENGINE_START_MARGIN), x0)
    weights, measured = _weights(obs), np.array([o.measured for o in obs])

    def entries(x: np.ndarray, digits: int | None = 4) -> dict[str, Efficiency]:
        values: dict[str, dict[str, float]] = {g: {} for g in gpus}
        for (g, n), v in zip(params, np.exp(x)):
            values[g][n] = float(v)
        return {g: _set(start_of[g], values[g], source, date, digits) for g in gpus}

    def residuals(x: np.ndarray) -> np.ndarray:
        cat = with_efficiency(catalog, entries(x, digits=None))
        pred = np.array([predict(o, cat) for o in obs])
        err = np.where(np.isfinite(pred) & (pred > 0), np.log(np.maximum(pred, 1e-12) / measured), 3.0)
        return np.concatenate([err * weights, PRIOR_WEIGHT * (x - x0) / math.sqrt(len(x))])

    from scipy.optimize import least_squares  # 0.5 s to import: only calibration needs it

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=1.0, diff_step=1e-3, max_nfev=60 * len(x0),
                           loss="soft_l1", f_scale=ROBUST_SCALE)
    return entries(result.x)


def default_entry(entries: dict[str, Efficiency], source: str, date: str) -> Efficiency:
    """The `default` entry for GPUs without measurements: the median of each fitted factor."""
    fitted = list(entries.values())
    compute = {d: float(np.median([e.compute[d] for e in fitted if d in e.compute]))
               for d in ("bf16", "fp8", "int8") if any(d in e.compute for e in fitted)}
    plain = {n: float(np.median([getattr(e, n) for e in fitted])) for n in FIELDS if "." not in n}
    engine = {f"{section}.{kind}": float(np.median([getattr(e, section)[kind] for e in fitted if kind in getattr(e, section)]))
              for section in ENGINE_FIELDS for kind in sorted({k for e in fitted for k in getattr(e, section)})}
    values = {f"compute.{d}": v for d, v in compute.items()} | plain | engine
    return _set(fitted[0].model_copy(update={"gpu": "default"}), values, source, date).model_copy(update={"confidence": "low"})


def overlay_yaml(entries: dict[str, Efficiency]) -> str:
    """A catalog overlay (`--catalog overlay.yaml`) holding the fitted efficiency entries."""
    order = ("gpu", *Efficiency.model_fields)
    docs = [{k: e.model_dump()[k] for k in dict.fromkeys(order)} for _, e in sorted(entries.items())]
    return yaml.safe_dump({"schema_version": 1, "efficiency": docs}, sort_keys=False)
