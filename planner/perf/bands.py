"""Error bands: how far the performance model was off on measured data, for a GPU, engine and metric.

The bands are the leave-one-source-out errors of docs/accuracy.md, written by benchmarks/accuracy.py into
catalogs/error_bands.yaml. `band_for` picks the most specific band with enough rows; `bands_for` gives all
three metrics of one config, as estimates and plans carry them; `pessimistic` slows a GPU's efficiency
factors by a band's p90 so that `solve --confidence p90` sizes the fleet for the pessimistic end.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from planner.schemas.catalog import Efficiency, ErrorBand

if TYPE_CHECKING:
    from planner.io.catalog import Catalog

METRICS = ("ttft", "tpot", "throughput")
MIN_ROWS = 5
"""A band from fewer rows is skipped in favour of a wider scope (this GPU, any engine; any GPU, ...)."""
CONFIDENCE = ("p50", "p90")
"""`p50`: size on the model's own numbers; `p90`: on numbers slowed by the p90 |error| of the band."""


def band_for(bands: dict[str, ErrorBand], gpu: str, engine: str, metric: str) -> ErrorBand | None:
    """The band of (gpu, engine), else (gpu, any), (any, engine), (any, any): the first with MIN_ROWS rows."""
    for key in (f"{gpu}/{engine}/{metric}", f"{gpu}/any/{metric}", f"any/{engine}/{metric}", f"any/any/{metric}"):
        band = bands.get(key)
        if band is not None and band.n >= MIN_ROWS:
            return band
    return None


def bands_for(bands: dict[str, ErrorBand], gpu: str, engine: str) -> dict[str, dict[str, float | int | str]]:
    """{metric: {median_abs_pct, p90_abs_pct, median_signed_pct, n, scope}} for the metrics that have a band."""
    out: dict[str, dict[str, float | int | str]] = {}
    for metric in METRICS:
        band = band_for(bands, gpu, engine, metric)
        if band is not None:
            out[metric] = {"median_abs_pct": band.median_abs_pct, "p90_abs_pct": band.p90_abs_pct,
                           "median_signed_pct": band.median_signed_pct, "n": band.n, "scope": f"{band.gpu}/{band.engine}"}
    return out


def describe(band: dict[str, dict[str, float | int | str]], gpu: str, engine: str) -> str:
    """`expected error on h100 under vllm: TTFT +/-24 % (p90 45 %), ...` for people."""
    parts = [f"{m.upper() if m != 'throughput' else m} +/-{b['median_abs_pct']:.0f} % (p90 {b['p90_abs_pct']:.0f} %, "
             f"n {b['n']}, {b['scope']})" for m, b in band.items()]
    return f"expected error on {gpu} under {engine}: " + ", ".join(parts) if parts else f"no error band for {gpu} under {engine}"


def slowdown(bands: dict[str, ErrorBand], gpu: str, engine: str) -> float:
    """1 + the larger p90 |error| of TTFT and TPOT for this GPU and engine (1 when there is no band)."""
    worst = [b.p90_abs_pct for m in ("ttft", "tpot") if (b := band_for(bands, gpu, engine, m)) is not None]
    return 1.0 + max(worst, default=0.0) / 100.0


def pessimistic(eff: Efficiency, engine: str, factor: float) -> Efficiency:
    """`eff` with every step of `engine` `factor` times slower: kernel fractions / factor, overheads x factor."""
    kernel = dict(eff.engine_kernel)
    overhead = dict(eff.engine_overhead)
    kernel[engine] = kernel.get(engine, 1.0) / factor
    overhead[engine] = overhead.get(engine, 1.0) * factor
    return eff.model_copy(update={"engine_kernel": kernel, "engine_overhead": overhead,
                                  "allreduce_latency_us": eff.allreduce_latency_us * factor,
                                  "allreduce_bw_efficiency": eff.allreduce_bw_efficiency / factor})


def pessimistic_catalog(catalog: "Catalog", engine: str) -> "Catalog":
    """The catalog with every GPU's factors slowed by its own p90 band under `engine` (`solve --confidence p90`)."""
    from dataclasses import replace

    entries = {g: pessimistic(catalog.efficiency_for(g).model_copy(update={"gpu": g}), engine,
                              slowdown(catalog.error_bands, g, engine)) for g in catalog.gpus}
    return replace(catalog, efficiency={**catalog.efficiency, **entries})
