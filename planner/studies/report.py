"""Everything a shareable report holds: the plan, a TPOT frontier, a traffic sweep, sensitivity, inputs and sources.

`build_report` runs the studies (planner.studies); html.py and markdown_report.py only render a ReportData.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from planner import api
from planner.io.catalog import Catalog
from planner.plan.model import Plan
from planner.io.overrides import Overrides, describe
from planner.studies.parallel import Workers, cached_catalog
from planner.studies.sensitivity import Sensitivity, sensitivity, traffic_inputs
from planner.studies.sweep import Sweep, sweep
from planner.supply.candidates import enumerate_candidates

FRONTIER_FACTORS = (0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0)
"""TPOT SLOs of the frontier, as multiples of the workload's."""
TRAFFIC_FACTORS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
"""Traffic levels of the cost-vs-traffic sweep, as multiples of the workload's design rate."""
ACCURACY_DOC = Path(__file__).resolve().parents[2] / "docs" / "accuracy.md"


def accuracy_text() -> str | None:
    """docs/accuracy.md as installed with the package (planner.docs, pyproject.toml), else from a source checkout."""
    import importlib.resources

    try:
        shipped = importlib.resources.files("planner.docs") / "accuracy.md"
        if shipped.is_file():
            return shipped.read_text(encoding="utf-8")
    except ModuleNotFoundError:  # an editable install maps only real packages; the source tree has the file
        pass
    return ACCURACY_DOC.read_text(encoding="utf-8") if ACCURACY_DOC.is_file() else None


@dataclass(frozen=True)
class Accuracy:
    """The model's known error bars: the first table of docs/accuracy.md and the heading above it."""

    heading: str
    header: list[str]
    rows: list[list[str]]
    path: str


@dataclass(frozen=True)
class ReportData:
    plan: Plan
    title: str
    workload_yaml: str
    whatif: dict[str, Any]
    frontier: Sweep
    traffic: Sweep
    sensitivity: Sensitivity
    sources: list[dict[str, str]]
    accuracy: Accuracy | None
    generated: str


def catalog_sources(loaded: Any, catalog: Catalog) -> list[dict[str, str]]:
    """One row per figure the plan rests on: model shape, each GPU's spec, price and efficiency, each format."""
    w = loaded.workload
    model = catalog.model(w.model)
    rows = [{"what": "model", "id": model.id, "value": f"{model.params_b:g} B params, {model.n_layers} layers, "
             f"{model.n_kv_heads} KV heads x {model.head_dim}", "source": model.source, "date": model.date}]
    candidates, _ = enumerate_candidates(loaded, catalog)
    prices = {c.config.gpu.id: (c.offer.usd_per_gpu_hour, c.offer.source) for c in candidates}
    for gpu_id in sorted(prices):
        gpu, eff = catalog.gpu(gpu_id), catalog.efficiency_for(gpu_id)
        tflops = ", ".join(f"{k} {v:g}" for k, v in gpu.tflops.items())
        usd, source = prices[gpu_id]
        rows += [
            {"what": "GPU spec", "id": gpu_id, "value": f"{gpu.memory_gb:g} GB, {gpu.memory_bandwidth_gbs:g} GB/s, dense TFLOPS {tflops}",
             "source": gpu.source, "date": gpu.date},
            {"what": f"price ({w.pricing.provider} {w.pricing.tier})", "id": gpu_id, "value": f"${usd:.4g} per GPU-hour",
             "source": source, "date": ""},
            {"what": "efficiency", "id": gpu_id, "value": f"compute {', '.join(f'{k} {v:g}' for k, v in eff.compute.items())}; "
             f"bandwidth {eff.bandwidth:g}", "source": eff.source, "date": eff.date},
        ]
    for quant_id in w.quantization:
        q = catalog.quant(quant_id)
        rows.append({"what": "quantization", "id": q.id, "value": f"{q.bytes_per_weight:g} bytes/weight, {q.compute_dtype} matmuls",
                     "source": q.source, "date": q.date})
    return rows


def read_accuracy(text: str, path: str = "docs/accuracy.md") -> Accuracy | None:
    """The first Markdown table of the accuracy doc (with its heading), or None when it has none."""
    heading, table = "", []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not table:
            heading = stripped.lstrip("#").strip()
        elif stripped.startswith("|"):
            table.append([c.strip() for c in stripped.strip("|").split("|")])
        elif table:
            break
    body = [r for r in table[1:] if not all(set(c) <= set(":- ") for c in r)]
    return Accuracy(heading, table[0], body, path) if table and body else None


def _scaled_sweep(loaded: Any, path: str, base: float, factors: tuple[float, ...], files: tuple[str, ...], jobs: int | Workers,
                  progress: bool) -> Sweep:
    values = sorted({round(base * f, 3) for f in factors})
    return sweep(loaded, {path: values}, files, jobs, progress)


def build_report(workload: api.WorkloadInput, overrides: Overrides | None = None, scenario: str | None = None,
                 catalog_files: tuple[str, ...] = (), jobs: int | Workers = 1, delta: float = 0.2, progress: bool = False) -> ReportData:
    """Solve the workload and run the report's studies: TPOT frontier, traffic sweep, ±delta sensitivity."""
    files = tuple(str(f) for f in catalog_files)
    loaded = api.load(workload, overrides, scenario)
    catalog = cached_catalog(files)
    plan = api.solve(loaded, files, catalog=catalog)
    w = loaded.workload
    _, traffic_path, traffic_base = traffic_inputs(w)[0]  # with `models:`, the first model's traffic
    text = accuracy_text()
    accuracy = read_accuracy(text, "docs/accuracy.md") if text is not None else None
    return ReportData(
        plan=plan,
        title=w.name or (str(loaded.doc.path.stem) if loaded.doc else "workload"),
        workload_yaml=yaml.safe_dump(w.model_dump(mode="json", exclude_defaults=True), sort_keys=False, default_flow_style=None),
        whatif=describe(overrides, scenario),
        frontier=_scaled_sweep(loaded, "slo.tpot_ms", w.slo.tpot_ms, FRONTIER_FACTORS, files, jobs, progress),
        traffic=_scaled_sweep(loaded, traffic_path, traffic_base, TRAFFIC_FACTORS, files, jobs, progress),
        sensitivity=sensitivity(loaded, delta, files, jobs, progress),
        sources=catalog_sources(loaded, catalog),
        accuracy=accuracy,
        generated=dt.date.today().isoformat(),
    )
