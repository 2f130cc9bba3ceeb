"""`planner calibrate`: fit the performance model's efficiency factors to your measurements."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from planner.cli.options import RegularFile, catalog_option, emit, output_option


@click.command()
@click.argument("results", nargs=-1, required=True, type=RegularFile())
@click.option("--model", help="Model id the vLLM JSON results were measured with (CSV rows name their own).")
@click.option("--gpu", help="GPU id of the vLLM JSON results.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="TP of the vLLM JSON results.")
@click.option("--quant", default="bf16", show_default=True, help="Weight format of the vLLM JSON results.")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), default="fp16", show_default=True, help="KV dtype of the vLLM JSON results.")
@catalog_option
@output_option
def calibrate(results, model, gpu, tp, quant, kv_dtype, catalog_files, output) -> None:  # noqa: ANN001
    """Fit efficiency factors to your measurements; write a catalog overlay and print the before/after error.

    RESULTS are benchmark result files, their layout detected from their content (docs/ingest.md): vllm bench
    serve / benchmark_serving.py JSON, SGLang bench_serving JSONL, AIPerf and GenAI-Perf profile exports (JSON,
    JSONL, CSV), GuideLLM JSON/CSV, or the calibration CSV (docs/calibration.md). Many runs (a folder of them)
    fit one overlay; the fit is reported per run, and runs that disagree with the rest are flagged.

    Example: planner calibrate results/*.json --model llama-3.1-8b --gpu h100 -o my-h100.yaml
    """
    from planner.calibration.fit import fit_efficiency, overlay_yaml
    from planner.calibration.predict import errors, with_efficiency
    from planner.calibration.runs import per_run
    from planner.io.catalog import load_catalog
    from planner.io.readers import ReadContext, detect
    from planner.report.calibration_text import render_runs
    from planner.report.estimate_text import render_error_table
    from planner.supply.replica import build_config

    catalog = load_catalog(catalog_files)
    context = ReadContext(model, gpu, tp, quant, kv_dtype)
    obs = []
    for path in results:
        obs += detect(path, "observations").read(Path(path), context).items
    for o in obs:
        build_config(catalog, o.model, o.gpu, o.quant, o.kv_dtype, o.tp)
    click.echo(f"fitting {len(obs)} measurements ...", err=True)
    fitted = fit_efficiency(obs, catalog, f"calibrated: planner calibrate on {', '.join(Path(p).name for p in results)}",
                            date.today().isoformat())
    before, after = errors(obs, catalog), errors(obs, with_efficiency(catalog, fitted))
    click.echo(render_error_table(before, after), err=output is not None)
    click.echo("\nfit per run (predicted / measured - 1, after the fit)\n" + render_runs(per_run(obs, list(after["error"]))),
               err=output is not None)
    emit(overlay_yaml(fitted), output)


COMMANDS = [calibrate]
