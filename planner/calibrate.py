"""Calibration: fit the efficiency factors of the performance model to measurements.

An `Observation` is one measured number (TTFT, TPOT, throughput, an operator time) with everything
`planner estimate` needs to predict it. `fit_efficiency` minimises the log error of the predictions
over the factors of each GPU (least squares with a weak prior toward the starting catalog, bounds that
keep every factor physical: fractions of peak <= 1, overheads >= 0, so no prediction beats the
roofline). Users bring vLLM `benchmark_serving.py` result JSON or the CSV of docs/calibration.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

from planner.catalog import Catalog, Efficiency
from planner.errors import PlannerError
from planner.perf import estimate
from planner.perf.memory import ServingConfig, linear_params
from planner.perf.step import achievable_bandwidth, allreduce_s, peak_flops
from planner.workload import Engine

MODES = ("batch", "max-throughput", "rate", "concurrency", "op-matmul", "op-allreduce")
METRICS = ("ttft_ms", "tpot_ms", "e2e_ms", "output_tok_s", "total_tok_s", "req_s", "layer_matmul_ms", "allreduce_ms")
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
    engine: Engine = Engine()


def config_for(obs: Observation, catalog: Catalog) -> ServingConfig:
    return ServingConfig(catalog.model(obs.model), catalog.gpu(obs.gpu), catalog.quant(obs.quant),
                         catalog.kv_dtype(obs.kv_dtype), obs.tp, catalog.efficiency_for(obs.gpu), obs.engine)


def _operator_ms(obs: Observation, cfg: ServingConfig) -> float:
    """Kernel time of one layer's four matmuls (op-matmul) or one all-reduce (op-allreduce)."""
    if obs.mode == "op-allreduce":
        return float(allreduce_s(cfg, obs.load)) * 1e3
    layer = linear_params(cfg.model) / cfg.model.n_layers / cfg.tp
    flops = 2.0 * layer * obs.load
    return max(flops / float(peak_flops(cfg, obs.load)), layer * cfg.quant.bytes_per_weight / achievable_bandwidth(cfg)) * 1e3


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
    return replace(catalog, efficiency={**catalog.efficiency, **entries})


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


def errors(obs: list[Observation], catalog: Catalog) -> pd.DataFrame:
    """One row per observation: predicted, measured and signed relative error (pred / measured - 1)."""
    rows = []
    for o in obs:
        pred = predict(o, catalog)
        rows.append({"source": o.source, "ref": o.ref, "gpu": o.gpu, "model": o.model, "tp": o.tp, "quant": o.quant,
                     "mode": o.mode, "metric": o.metric, "measured": o.measured, "predicted": pred,
                     "error": pred / o.measured - 1 if math.isfinite(pred) else math.nan})
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """n, median and p90 |error| (percent) per group."""
    abs_err = table.assign(abs_pct=table["error"].abs() * 100)
    grouped = abs_err.groupby(by)["abs_pct"]
    return pd.DataFrame({"n": grouped.size(), "median_pct": grouped.median(), "p90_pct": grouped.quantile(0.9)}).reset_index()


# ---- user measurements ---------------------------------------------------------------------------

CSV_COLUMNS = ("model", "gpu", "tp", "quant", "kv_dtype", "mode", "input_tokens", "output_tokens", "load", "metric", "value")
"""The documented CSV (docs/calibration.md): one measured metric a row."""


def read_user_csv(path: str | Path) -> list[Observation]:
    """Rows of the documented CSV; every problem is reported as `file:line: column: message`."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise PlannerError(f"{path}:1: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
    obs, problems = [], []
    for i, row in enumerate(df.to_dict("records"), start=2):
        try:
            obs.append(_csv_observation(row, str(path), i))
        except ValueError as exc:
            problems.append(f"{path}:{i}: {exc}")
    if problems:
        raise PlannerError("\n".join(problems))
    return obs


def _number(row: dict, key: str, kind: type = float) -> float:
    try:
        value = kind(row[key])
    except ValueError:
        raise ValueError(f"{key}: expected a number, got {row[key]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key}: expected a finite non-negative number, got {row[key]!r}")
    return value


def _csv_observation(row: dict, path: str, line: int) -> Observation:
    if row["mode"] not in MODES[:4]:
        raise ValueError(f"mode: expected one of {', '.join(MODES[:4])}, got {row['mode']!r}")
    if row["metric"] not in METRICS[:6]:
        raise ValueError(f"metric: expected one of {', '.join(METRICS[:6])}, got {row['metric']!r}")
    value = _number(row, "value")
    if value <= 0:
        raise ValueError("value: must be > 0")
    return Observation(source=row.get("source") or Path(path).name, ref=f"{Path(path).name}:{line}", model=row["model"],
                       gpu=row["gpu"], tp=int(_number(row, "tp", int)), quant=row["quant"], kv_dtype=row["kv_dtype"] or "fp16",
                       mode=row["mode"], input_tokens=int(_number(row, "input_tokens", int)),
                       output_tokens=int(_number(row, "output_tokens", int)), load=_number(row, "load"),
                       metric=row["metric"], measured=value)


VLLM_METRICS = {"mean_ttft_ms": "ttft_ms", "mean_tpot_ms": "tpot_ms", "output_throughput": "output_tok_s"}


def read_vllm_result(path: str | Path, model: str, gpu: str, tp: int, quant: str, kv_dtype: str) -> list[Observation]:
    """A vLLM `benchmark_serving.py --save-result` JSON: mean TTFT, mean TPOT and output tok/s at its load.

    The load is `max_concurrency` clients if set, else Poisson `request_rate` req/s ("inf" = offline);
    lengths are the means total_input_tokens / completed and total_output_tokens / completed.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlannerError(f"{path}: not a readable JSON file ({exc})") from None
    need = ("completed", "total_input_tokens", "total_output_tokens", *VLLM_METRICS)
    missing = [k for k in need if k not in data]
    if missing:
        raise PlannerError(f"{path}: missing {', '.join(missing)}: expected a benchmark_serving.py --save-result JSON")
    done = data["completed"]
    if not done:
        raise PlannerError(f"{path}: completed = 0 requests; nothing to calibrate on")
    if data.get("max_concurrency"):
        mode, load = "concurrency", float(data["max_concurrency"])
    elif str(data.get("request_rate", "inf")) == "inf":
        mode, load = "max-throughput", 0.0
    else:
        mode, load = "rate", float(data["request_rate"])
    common = dict(source=Path(path).name, model=model, gpu=gpu, tp=tp, quant=quant, kv_dtype=kv_dtype, mode=mode,
                  input_tokens=round(data["total_input_tokens"] / done), output_tokens=max(2, round(data["total_output_tokens"] / done)),
                  load=load)
    return [Observation(ref=f"{Path(path).name}:{key}", metric=metric, measured=float(data[key]), **common)
            for key, metric in VLLM_METRICS.items() if data[key] and data[key] > 0]


def overlay_yaml(entries: dict[str, Efficiency]) -> str:
    """A catalog overlay (`--catalog overlay.yaml`) holding the fitted efficiency entries."""
    order = ("gpu", *Efficiency.model_fields)
    docs = [{k: e.model_dump()[k] for k in dict.fromkeys(order)} for _, e in sorted(entries.items())]
    return yaml.safe_dump({"schema_version": 1, "efficiency": docs}, sort_keys=False)
