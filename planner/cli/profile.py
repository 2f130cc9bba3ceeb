"""`planner profile`: export the performance model's capacity table as a profile CSV (docs/profiles.md)."""
from __future__ import annotations

import click

from planner.cli.options import RegularFile, catalog_option, emit, output_option


@click.group()
def profile() -> None:
    """Measured capacity profiles: the capacity table as a CSV you can edit or replace with benchmarks."""


@profile.command()
@click.argument("workload", type=RegularFile())
@catalog_option
@output_option
def export(workload: str, catalog_files: tuple[str, ...], output: str | None) -> None:
    """Write the performance model's max req/s per config and bucket for WORKLOAD as a profile CSV.

    Use it as `capacity_profile:` in a workload (round trip: the same plan), or as a template to fill
    with your own benchmark results.

    Example: planner profile export workloads/chat.yaml -o chat-profile.csv
    """
    from planner import api
    from planner.export.profile_csv import export_comments, profile_csv
    from planner.io.workload import load_workload

    problem = api.prepare(load_workload(workload).without_profile(), catalog_files)
    emit(profile_csv(problem.table, export_comments(problem.loaded, problem.table)), output)


@profile.command("from-runs")
@click.argument("runs", nargs=-1, required=True)
@click.option("--workload", required=True, type=RegularFile(), help="Workload whose SLOs the rates must meet.")
@click.option("--gpu", help="GPU id the runs were measured on (or per file: FILE@gpu/quant/tpN[/kv-fp8]).")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="TP of the runs.")
@click.option("--quant", default="bf16", show_default=True, help="Weight format of the runs.")
@click.option("--kv-dtype", type=click.Choice(["fp16", "fp8"]), default="fp16", show_default=True, help="KV dtype of the runs.")
@output_option
def from_runs(runs, workload, gpu, tp, quant, kv_dtype, output) -> None:  # noqa: ANN001
    """Turn benchmark runs (any layout planner reads: vLLM, SGLang, AIPerf, GenAI-Perf, GuideLLM) into a capacity
    profile: per config and request size the runs were made at, the highest rate within the workload's SLOs.

    RUNS are files, each FILE or FILE@CONFIG with CONFIG a pool key (h100/fp8/tp2, a100-80gb/bf16/tp1/kv-fp8);
    without @ the --gpu/--quant/--tp/--kv-dtype options say the config.

    Example: planner profile from-runs h100.json@h100/bf16/tp1 a100.json@a100-80gb/bf16/tp1 --workload w.yaml -o p.csv
    """
    from pathlib import Path

    from planner.errors import PlannerError
    from planner.io.readers.bench_profile import RunsOf, parse_target, profile_csv_text, profile_rows, read_runs
    from planner.io.workload import load_workload

    slo = load_workload(workload).workload.slo
    groups: dict[tuple[str, str, int, str], list] = {}
    for arg in runs:
        path, config = parse_target(arg, (gpu, quant, tp, kv_dtype))
        if not Path(path).is_file():
            raise PlannerError(f"{path}: no such file")
        groups.setdefault(config, []).extend(read_runs([path]))
    rows = profile_rows([RunsOf(*config, tuple(found)) for config, found in groups.items()], slo.ttft_ms, slo.tpot_ms)
    comments = [f"capacity profile from benchmark runs ({', '.join(runs)}) by `planner profile from-runs`",
                f"max_rps: the highest measured req/s with p99 TTFT <= {slo.ttft_ms:g} ms and TPOT <= {slo.tpot_ms:g} ms "
                f"({workload}); see docs/ingest.md"]
    emit(profile_csv_text(rows, comments), output)


COMMANDS = [profile]
