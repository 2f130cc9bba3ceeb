"""`planner catalog`: what the catalogs hold, with sources."""
from __future__ import annotations

import json

import click

from planner.cli.options import catalog_option, emit, format_option, output_option
from planner.io.catalog import Catalog, load_catalog

_COLUMNS = {
    "gpus": ["id", "name", "memory_gb", "memory_bandwidth_gbs", "tflops", "interconnect", "max_tp", "tdp_w", "source", "date", "confidence"],
    "models": ["id", "params_b", "active_params_b", "n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "vocab_size", "max_context", "source", "date"],
    "quant": ["id", "name", "aliases", "weight_bits", "group_size", "compute_dtype", "weight_only", "source", "date"],
    "prices": ["gpu", "provider", "tier", "usd_per_gpu_hour", "instance", "gpus_per_instance", "region", "source", "date", "confidence"],
    "instances": ["id", "provider", "gpu", "gpus", "region", "usd_per_hour", "source", "date", "confidence"],
    "efficiency": ["gpu", "compute", "bandwidth", "gemm_half_tokens", "step_overhead_ms", "layer_overhead_us", "allreduce_latency_us", "source", "date"],
}


def _entries(catalog: Catalog, what: str) -> list[dict]:
    table = {"gpus": catalog.gpus, "models": catalog.models, "quant": catalog.quantization,
             "prices": catalog.prices, "instances": catalog.instances, "efficiency": catalog.efficiency}[what]
    rows = [entry.model_dump(mode="json") for entry in table.values()]
    if what == "quant":
        rows += [kv.model_dump(mode="json") | {"name": f"KV cache {kv.id}", "weight_bits": kv.bytes * 8} for kv in catalog.kv_dtypes.values()]
    return rows


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


@click.command(name="catalog")
@click.argument("what", type=click.Choice(list(_COLUMNS)))
@catalog_option
@format_option("table", "json", "csv")
@output_option
def catalog(what: str, catalog_files: tuple[str, ...], fmt: str, output: str | None) -> None:
    """List the GPUs, models, quantization formats, prices, instance types or efficiency factors, with sources.

    Example: planner catalog gpus --catalog my-gpus.yaml
    """
    import pandas as pd
    from planner.report.tables import TableData, render_rich

    rows = _entries(load_catalog(catalog_files), what)
    if fmt == "json":
        emit(json.dumps(rows, indent=2) + "\n", output)
        return
    frame = pd.DataFrame([{c: _cell(r.get(c)) for c in _COLUMNS[what]} for r in rows])
    if fmt == "csv":
        emit(frame.to_csv(index=False), output)
        return
    cells = [[str(v) for v in row] for _, row in frame.iterrows()]
    table = TableData(f"catalog: {what}", list(_COLUMNS[what]), cells, frozenset(range(len(_COLUMNS[what]))))
    emit(render_rich([table]).removesuffix("\n"), output)


COMMANDS = [catalog]
