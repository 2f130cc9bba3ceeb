"""`planner estimate` (one configuration, one load) and `planner calibrate` (fit factors to your measurements)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from planner.calibrate import errors, fit_efficiency, overlay_yaml, read_user_csv, read_vllm_result, summarise, with_efficiency
from planner.catalog import load_catalog
from planner.cli.options import catalog_option, emit, format_option, output_option
from planner.errors import PlannerError
from planner.perf import estimate as est
from planner.perf.speculative import parse_spec
from planner.workload import Engine

SCHEMA_VERSION = 1
"""Version of the `estimate --format json` document."""


@click.command()
@click.option("--model", required=True, help="Model id from the catalog (e.g. llama-3.1-8b).")
@click.option("--gpu", required=True, help="GPU id from the catalog (e.g. h100).")
@click.option("--quant", default="bf16", show_default=True, help="Weight format: bf16, fp8, int8, int8-wo, int4 (awq/gptq).")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), default="fp16", show_default=True, help="KV-cache dtype.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel GPUs per replica.")
@click.option("--input", "inp", type=click.IntRange(min=1), required=True, help="Prompt tokens per request.")
@click.option("--output", "out", type=click.IntRange(min=2), required=True, help="Generated tokens per request.")
@click.option("--batch", type=click.IntRange(min=1), help="B sequences in lockstep (vendor latency tables).")
@click.option("--max-throughput", is_flag=True, help="Offline: the largest batch memory and the engine allow.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Poisson arrivals, req/s, continuous batching.")
@click.option("--concurrency", type=click.IntRange(min=1), help="C closed-loop clients (benchmark_serving --max-concurrency).")
@click.option("--spec-decode", "spec", metavar="DRAFT:K:ACCEPT", help="Speculative decoding with a draft model, k tokens, acceptance rate.")
@click.option("--no-paged-kv", is_flag=True, help="Contiguous KV: reserve the full context per sequence.")
@click.option("--no-flash-attention", is_flag=True, help="Materialise attention scores in HBM.")
@click.option("--max-num-seqs", type=click.IntRange(min=1), default=256, show_default=True, help="Engine cap on live sequences.")
@click.option("--gpu-memory-utilization", type=click.FloatRange(0.05, 1.0), default=0.9, show_default=True, help="Fraction of GPU memory the engine may use.")
@catalog_option
@format_option("table", "json")
@click.option("-o", "output", type=click.Path(dir_okay=False, writable=True),
              help="Write the result to this file (atomically); --output is the output length here.")
def estimate(model, gpu, quant, kv_dtype, tp, inp, out, batch, max_throughput, rate, concurrency, spec, no_paged_kv,  # noqa: ANN001, PLR0913
             no_flash_attention, max_num_seqs, gpu_memory_utilization, catalog_files, fmt, output) -> None:
    """Latency and throughput of one replica configuration under one kind of load.

    Example: planner estimate --model llama-3.1-8b --gpu h100 --input 512 --output 256 --rate 10
    """
    modes = [m for m, on in (("--batch", batch), ("--max-throughput", max_throughput), ("--rate", rate), ("--concurrency", concurrency)) if on]
    if len(modes) != 1:
        raise PlannerError(f"give exactly one of --batch, --max-throughput, --rate, --concurrency (got {', '.join(modes) or 'none'})")
    catalog = load_catalog(catalog_files)
    engine = Engine(paged_kv=not no_paged_kv, flash_attention=not no_flash_attention, max_num_seqs=max_num_seqs,
                    gpu_memory_utilization=gpu_memory_utilization)
    cfg = est.build_config(catalog, model, gpu, quant, kv_dtype, tp, engine, parse_spec(spec, catalog.models) if spec else None)
    if batch:
        result = est.lockstep(cfg, inp, out, batch)
    elif max_throughput:
        result = est.max_throughput(cfg, inp, out)
    elif rate:
        result = est.at_rate(cfg, inp, out, rate)
    else:
        result = est.at_concurrency(cfg, inp, out, concurrency)
    if fmt == "json":
        emit(json.dumps({"schema_version": SCHEMA_VERSION, **result.to_dict()}, indent=2) + "\n", output)
    else:
        emit(render_estimate(result), output)


def render_estimate(e: est.Estimate) -> str:
    """The human view: headline numbers, then where the prefill and decode step time goes."""
    lines = [f"{e.config}  {e.input_tokens} in / {e.output_tokens} out  mode {e.mode}"]
    lines.append(f"  weights {e.weights_gb_per_gpu:.2f} GB/GPU, KV {e.kv_bytes_per_token / 1e3:.1f} kB/token, "
                 f"{e.kv_tokens} KV tokens, max batch {e.max_batch}, live batch {e.batch:.1f}")
    p99 = f" (p99 {e.ttft_ms_p99:.1f})" if e.ttft_ms_p99 is not None else ""
    lines.append(f"  TTFT {e.ttft_ms:.1f} ms{p99}")
    p99 = f" (p99 {e.tpot_ms_p99:.2f})" if e.tpot_ms_p99 is not None else ""
    lines.append(f"  TPOT {e.tpot_ms:.2f} ms{p99}")
    lines.append(f"  throughput {e.output_tok_s:,.0f} output tok/s, {e.total_tok_s:,.0f} total tok/s, {e.req_s:.3g} req/s (whole replica)")
    lines.append(f"  bound: {e.bound}")
    lines.append("  step breakdown (ms)   weights   KV/scores   matmul   attention   comm   overhead   total")
    for name, part in (("prefill", e.prefill_ms), ("decode/token", e.decode_ms)):
        lines.append(f"  {name:<20}" + "".join(f"{part[k]:>10.2f}" for k in ("weights_ms", "kv_ms", "matmul_ms", "attention_ms", "comm_ms", "overhead_ms", "total_ms")))
    lines.extend(f"  note: {n}" for n in e.notes)
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", help="Model id the vLLM JSON results were measured with (CSV rows name their own).")
@click.option("--gpu", help="GPU id of the vLLM JSON results.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="TP of the vLLM JSON results.")
@click.option("--quant", default="bf16", show_default=True, help="Weight format of the vLLM JSON results.")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), default="fp16", show_default=True, help="KV dtype of the vLLM JSON results.")
@catalog_option
@output_option
def calibrate(results, model, gpu, tp, quant, kv_dtype, catalog_files, output) -> None:  # noqa: ANN001
    """Fit efficiency factors to your measurements; write a catalog overlay and print the before/after error.

    RESULTS are vLLM benchmark_serving.py --save-result JSON files and/or CSV files (docs/calibration.md).

    Example: planner calibrate run1.json run2.json --model llama-3.1-8b --gpu h100 -o my-h100.yaml
    """
    catalog = load_catalog(catalog_files)
    obs = []
    for path in results:
        if Path(path).suffix.lower() == ".json":
            if not (model and gpu):
                raise PlannerError(f"{path}: vLLM result JSON does not record the hardware: pass --model and --gpu (and --tp, --quant)")
            obs += read_vllm_result(path, model, gpu, tp, quant, kv_dtype)
        else:
            obs += read_user_csv(path)
    for o in obs:
        est.build_config(catalog, o.model, o.gpu, o.quant, o.kv_dtype, o.tp)
    click.echo(f"fitting {len(obs)} measurements ...", err=True)
    fitted = fit_efficiency(obs, catalog, f"calibrated: planner calibrate on {', '.join(Path(p).name for p in results)}",
                            date.today().isoformat())
    before, after = errors(obs, catalog), errors(obs, with_efficiency(catalog, fitted))
    click.echo(render_error_table(before, after), err=output is not None)
    emit(overlay_yaml(fitted), output)


def render_error_table(before, after) -> str:  # noqa: ANN001 - DataFrames
    """Median and p90 |error| per GPU and metric, before and after the fit."""
    b, a = summarise(before, ["gpu", "metric"]), summarise(after, ["gpu", "metric"])
    lines = ["gpu        metric          n   median|err| before -> after   p90|err| before -> after"]
    for (_, rb), (_, ra) in zip(b.iterrows(), a.iterrows()):
        lines.append(f"{rb.gpu:<10} {rb.metric:<14} {rb.n:>3}   {rb.median_pct:>8.1f}% -> {ra.median_pct:5.1f}%"
                     f"          {rb.p90_pct:>6.1f}% -> {ra.p90_pct:5.1f}%")
    return "\n".join(lines)


COMMANDS = [estimate, calibrate]
