"""`planner estimate`: one replica configuration under one kind of load."""
from __future__ import annotations

import json

import click

from planner.cli.options import FiniteFloat, catalog_option, emit, format_option, renamed_option
from planner.errors import PlannerError

SCHEMA_VERSION = 2
"""Version of the `estimate --format json` document."""


@click.command()
@click.option("--model", required=True, help="Model id from the catalog (e.g. llama-3.1-8b).")
@click.option("--gpu", required=True, help="GPU id from the catalog (e.g. h100).")
@click.option("--quant", default="bf16", show_default=True, help="Weight format: bf16, fp8, int8, int8-wo, int4 (awq/gptq).")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), help="KV-cache dtype [default: the engine's choice for the checkpoint: "
              "fp8 for an fp8 checkpoint under trtllm, else fp16].")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel GPUs per replica.")
@click.option("--input-len", "inp", type=click.IntRange(min=1), help="Prompt tokens per request (required).")
@renamed_option("--input", "--input-len", "inp", type=click.IntRange(min=1))
@click.option("--output-len", "out", type=click.IntRange(min=1), help="Generated tokens per request (required).")
@renamed_option("--output", "--output-len", "out", type=click.IntRange(min=1))
@click.option("--batch", type=click.IntRange(min=1), help="B sequences in lockstep (vendor latency tables).")
@click.option("--max-throughput", is_flag=True, help="Offline: the largest batch memory and the engine allow.")
@click.option("--request-rate", "rate", type=FiniteFloat(min=0, min_open=True), help="Poisson arrivals, req/s, continuous batching.")
@renamed_option("--rate", "--request-rate", "rate", type=FiniteFloat(min=0, min_open=True))
@click.option("--max-concurrency", "concurrency", type=click.IntRange(min=1), help="C closed-loop clients, as `vllm bench serve --max-concurrency`.")
@renamed_option("--concurrency", "--max-concurrency", "concurrency", type=click.IntRange(min=1))
@click.option("--spec-decode", "spec", metavar="DRAFT:K:ACCEPT", help="Speculative decoding with a draft model, k tokens, acceptance rate.")
@click.option("--no-paged-kv", is_flag=True, help="Contiguous KV: reserve the full context per sequence.")
@click.option("--no-flash-attention", is_flag=True, help="Materialise attention scores in HBM.")
@click.option("--enforce-eager", is_flag=True, help="An engine run without CUDA graphs (vLLM's flag): adds the eager host time "
              "per layer and TP rank (docs/methodology.md, \"Engine profiles\").")
@click.option("--engine", "engine_kind", type=click.Choice(["vllm", "sglang", "trtllm"]), default="vllm", show_default=True,
              help="Serving engine: its defaults, limits and calibrated factors (docs/methodology.md, \"Engine profiles\").")
@click.option("--engine-version", default="", help="Engine version the settings describe (shown in the result).")
@click.option("--max-num-seqs", type=click.IntRange(min=1), help="Engine cap on live sequences [default: the engine's for this GPU].")
@click.option("--gpu-memory-utilization", type=FiniteFloat(0.05, 1.0), help="Fraction of GPU memory the engine may use [default: the engine's].")
@click.option("--max-num-batched-tokens", type=click.IntRange(min=1),
              help="Engine token budget per step (vLLM's profiling run measures the activation peak at it) [default: the engine's].")
@click.option("--block-size", type=click.Choice(["8", "16", "32"]), default="16", show_default=True, help="KV block size in tokens.")
@catalog_option
@format_option("table", "json")
@click.option("-o", "output", type=click.Path(dir_okay=False, writable=True),
              help="Write the result to this file (atomically).")
def estimate(model, gpu, quant, kv_dtype, tp, inp, out, batch, max_throughput, rate, concurrency, spec, no_paged_kv,  # noqa: ANN001, PLR0913
             no_flash_attention, enforce_eager, engine_kind, engine_version, max_num_seqs, gpu_memory_utilization, max_num_batched_tokens, block_size,
             catalog_files, fmt, output) -> None:
    """Latency and throughput of one replica configuration under one kind of load.

    Flags follow `vllm bench serve` (--input-len, --output-len, --request-rate, --max-concurrency); the older
    --input, --output, --rate and --concurrency still work, with a deprecation note.

    Example: planner estimate --model llama-3.1-8b --gpu h100 --input-len 512 --output-len 256 --request-rate 10
    """
    missing = [flag for flag, value in (("--input-len", inp), ("--output-len", out)) if value is None]
    if missing:
        raise click.UsageError(f"missing option {' and '.join(missing)}")
    modes = [m for m, on in (("--batch", batch), ("--max-throughput", max_throughput), ("--request-rate", rate),
                             ("--max-concurrency", concurrency)) if on]
    if len(modes) != 1:
        raise PlannerError(f"give exactly one of --batch, --max-throughput, --request-rate, --max-concurrency (got {', '.join(modes) or 'none'})")
    from planner.io.catalog import load_catalog
    from planner.perf import estimate as est
    from planner.perf.speculative import parse_spec
    from planner.report.estimate_text import render_estimate
    from planner.schemas.engines import default_kv_dtype, engine_params
    from planner.supply.replica import build_config

    catalog = load_catalog(catalog_files)
    g = catalog.gpu(gpu)
    given = {"max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens,
             "gpu_memory_utilization": gpu_memory_utilization}
    engine = engine_params(engine_kind, engine_version, g.memory_gb, g.name, tp, offline=bool(batch or max_throughput),
                           paged_kv=not no_paged_kv, flash_attention=not no_flash_attention, cuda_graphs=not enforce_eager,
                           block_size=int(block_size),
                           **{k: v for k, v in given.items() if v is not None})
    kv_dtype = kv_dtype or default_kv_dtype(engine_kind, catalog.quant(quant).id)
    cfg = build_config(catalog, model, gpu, quant, kv_dtype, tp, engine, parse_spec(spec, catalog.models) if spec else None)
    if batch:
        result = est.lockstep(cfg, inp, out, batch)
    elif max_throughput:
        result = est.max_throughput(cfg, inp, out)
    elif rate:
        result = est.at_rate(cfg, inp, out, rate)
    else:
        result = est.at_concurrency(cfg, inp, out, concurrency)
    from dataclasses import replace

    from planner.perf.bands import bands_for

    result = replace(result, error_band=bands_for(catalog.error_bands, cfg.gpu.id, engine.kind))
    if fmt == "json":
        emit(json.dumps({"schema_version": SCHEMA_VERSION, **result.to_dict()}, indent=2) + "\n", output)
    else:
        emit(render_estimate(result), output)


COMMANDS = [estimate]
