"""`planner estimate`: one replica configuration under one kind of load."""
from __future__ import annotations

import json

import click

from planner.cli.options import FiniteFloat, catalog_option, emit, format_option
from planner.errors import PlannerError

SCHEMA_VERSION = 1
"""Version of the `estimate --format json` document."""


@click.command()
@click.option("--model", required=True, help="Model id from the catalog (e.g. llama-3.1-8b).")
@click.option("--gpu", required=True, help="GPU id from the catalog (e.g. h100).")
@click.option("--quant", default="bf16", show_default=True, help="Weight format: bf16, fp8, int8, int8-wo, int4 (awq/gptq).")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), default="fp16", show_default=True, help="KV-cache dtype.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel GPUs per replica.")
@click.option("--input", "inp", type=click.IntRange(min=1), required=True, help="Prompt tokens per request.")
@click.option("--output", "out", type=click.IntRange(min=1), required=True, help="Generated tokens per request.")
@click.option("--batch", type=click.IntRange(min=1), help="B sequences in lockstep (vendor latency tables).")
@click.option("--max-throughput", is_flag=True, help="Offline: the largest batch memory and the engine allow.")
@click.option("--rate", type=FiniteFloat(min=0, min_open=True), help="Poisson arrivals, req/s, continuous batching.")
@click.option("--concurrency", type=click.IntRange(min=1), help="C closed-loop clients (benchmark_serving --max-concurrency).")
@click.option("--spec-decode", "spec", metavar="DRAFT:K:ACCEPT", help="Speculative decoding with a draft model, k tokens, acceptance rate.")
@click.option("--no-paged-kv", is_flag=True, help="Contiguous KV: reserve the full context per sequence.")
@click.option("--no-flash-attention", is_flag=True, help="Materialise attention scores in HBM.")
@click.option("--max-num-seqs", type=click.IntRange(min=1), default=256, show_default=True, help="Engine cap on live sequences.")
@click.option("--gpu-memory-utilization", type=FiniteFloat(0.05, 1.0), default=0.9, show_default=True, help="Fraction of GPU memory the engine may use.")
@click.option("--max-num-batched-tokens", type=click.IntRange(min=1), default=8192, show_default=True,
              help="Engine token budget per step (vLLM's profiling run measures the activation peak at it).")
@click.option("--block-size", type=click.Choice(["8", "16", "32"]), default="16", show_default=True, help="KV block size in tokens.")
@catalog_option
@format_option("table", "json")
@click.option("-o", "output", type=click.Path(dir_okay=False, writable=True),
              help="Write the result to this file (atomically); --output is the output length here.")
def estimate(model, gpu, quant, kv_dtype, tp, inp, out, batch, max_throughput, rate, concurrency, spec, no_paged_kv,  # noqa: ANN001, PLR0913
             no_flash_attention, max_num_seqs, gpu_memory_utilization, max_num_batched_tokens, block_size, catalog_files, fmt,
             output) -> None:
    """Latency and throughput of one replica configuration under one kind of load.

    Example: planner estimate --model llama-3.1-8b --gpu h100 --input 512 --output 256 --rate 10
    """
    modes = [m for m, on in (("--batch", batch), ("--max-throughput", max_throughput), ("--rate", rate), ("--concurrency", concurrency)) if on]
    if len(modes) != 1:
        raise PlannerError(f"give exactly one of --batch, --max-throughput, --rate, --concurrency (got {', '.join(modes) or 'none'})")
    from planner.io.catalog import load_catalog
    from planner.perf import estimate as est
    from planner.perf.speculative import parse_spec
    from planner.report.estimate_text import render_estimate
    from planner.schemas.replica import EngineParams
    from planner.supply.replica import build_config

    catalog = load_catalog(catalog_files)
    engine = EngineParams(paged_kv=not no_paged_kv, flash_attention=not no_flash_attention, max_num_seqs=max_num_seqs,
                    gpu_memory_utilization=gpu_memory_utilization, max_num_batched_tokens=max_num_batched_tokens,
                    block_size=int(block_size))
    cfg = build_config(catalog, model, gpu, quant, kv_dtype, tp, engine, parse_spec(spec, catalog.models) if spec else None)
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


COMMANDS = [estimate]
