"""`planner trace`: generate synthetic traces, summarise trace files, and bucket them (or print the SQL that does)."""
from __future__ import annotations

from pathlib import Path

import click

from planner.cli.options import FiniteFloat, emit, on_bad_rows_option, output_option
from planner.demand.synthetic import KINDS
from planner.errors import WorkloadError
from planner.io.files import write_atomic
from planner.schemas.workload import DEFAULT_INPUT_EDGES, DEFAULT_OUTPUT_EDGES

MAX_GENERATED = 1e8
"""Most requests `trace generate` writes (~4 GB of CSV)."""
format_choice = click.option("--format", "trace_format", type=click.Choice(["auto", "csv", "jsonl", "parquet"]), default="auto",
                             help="Trace format (auto: from the file name; .csv.gz is csv).")
window_option = click.option("--window", type=FiniteFloat(min=0, min_open=True), default=60.0, show_default=True,
                             help="Window (s) for peak/p95 rates.")


@click.group()
def trace() -> None:
    """Make and inspect request traces."""


@trace.command()
@click.option("--kind", type=click.Choice(list(KINDS)), required=True, help="Traffic shape (see docs/traces.md).")
@click.option("--rps", type=float, required=True, help="Mean request rate (req/s).")
@click.option("--minutes", type=float, default=10.0, show_default=True, help="Trace length.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed (same seed, same trace).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output file: .csv, .jsonl or .parquet.")
def generate(kind: str, rps: float, minutes: float, seed: int, output: str) -> None:
    """Write a synthetic trace with bursty arrivals and realistic lengths.

    Example: planner trace generate --kind chat --rps 20 --minutes 10 --seed 1 -o traces/chat.csv
    """
    from planner.demand.synthetic import generate_trace
    from planner.io.traces.planner import serialise_trace

    if rps * minutes * 60 > MAX_GENERATED:  # NaN passes; generate_trace refuses it
        raise WorkloadError(f"--rps {rps:g} for --minutes {minutes:g} is {rps * minutes * 60:.3g} requests; at most {MAX_GENERATED:,.0f}")
    t = generate_trace(kind, rps, minutes, seed)
    write_atomic(Path(output), serialise_trace(t, Path(output)))
    click.echo(f"wrote {output}: {len(t)} requests over {t.duration_s / 60:.1f} min ({KINDS[kind].description})", err=True)


@trace.command()
@click.argument("path")
@format_choice
@window_option
@on_bad_rows_option
def stats(path: str, trace_format: str, window: float, on_bad_rows: str) -> None:
    """Summarise a trace (a file or a quoted glob): request count, rates (mean, p95, peak) and length quantiles.

    Example: planner trace stats workloads/traces/chat.csv
    """
    import numpy as np

    from planner.io.traces.histogram import summarise
    from planner.io.traces.scan import scan_trace

    with scan_trace(path, trace_format, on_bad_rows) as scan:  # type: ignore[arg-type]
        h = summarise(scan, [1], [1], 2**62, window, (50, 90, 99))
        layout = scan.layout.name
    (cell,) = h.cells
    rates = h.series_rps if h.duration_s > 0 else np.array([np.nan])
    skipped = f" ({h.skipped} bad rows skipped)" if h.skipped else ""
    lines = [
        f"trace      {path} ({layout} layout)",
        f"requests   {h.requests} over {h.duration_s:,.0f} s{skipped}",
        f"rate       mean {h.requests / max(h.duration_s, 1e-9):.3g}, p95 {np.percentile(rates, 95):.3g}, peak {rates.max():.3g} req/s ({window:g} s windows)",
        "input      p50/p90/p99/max " + "/".join(f"{v:.0f}" for v in cell.input_q) + f"/{cell.input_max} tokens",
        "output     p50/p90/p99/max " + "/".join(f"{v:.0f}" for v in cell.output_q) + f"/{cell.output_max} tokens",
    ]
    emit("\n".join(lines) + "\n", None)


def _edges(text: str, name: str) -> list[int]:
    try:
        edges = [int(e) for e in text.split(",")]
    except ValueError:
        raise WorkloadError(f"{name}: expected comma-separated whole numbers starting at 1, got {text!r}") from None
    if not edges or edges[0] != 1 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise WorkloadError(f"{name}: expected strictly increasing edges starting at 1, got {text!r}")
    return edges


@trace.command()
@click.argument("path")
@format_choice
@window_option
@on_bad_rows_option
@click.option("--input-edges", default=",".join(map(str, DEFAULT_INPUT_EDGES)), show_default=True, help="Lower edges of the input-length buckets.")
@click.option("--output-edges", default=",".join(map(str, DEFAULT_OUTPUT_EDGES)), show_default=True, help="Lower edges of the output-length buckets.")
@click.option("--design-rate", type=click.Choice(["peak", "mean", "p95"]), default="peak", show_default=True, help="The rate_rps written.")
@click.option("--max-context", type=click.IntRange(min=2), default=131072, show_default=True,
              help="Requests with input + output above this are left out (the model's context window).")
@click.option("--sql", is_flag=True, help="Print the SQL that computes this histogram where the data lives, instead of running it.")
@click.option("--dialect", type=click.Choice(["duckdb", "spark", "bigquery"]), default="duckdb", show_default=True, help="SQL dialect for --sql.")
@click.option("--table", default=None, help="With --sql: the table holding the log (default: the file, read by DuckDB).")
@output_option
def bucket(path: str, trace_format: str, window: float, on_bad_rows: str, input_edges: str, output_edges: str, design_rate: str,
           max_context: int, sql: bool, dialect: str, table: str | None, output: str | None) -> None:
    """Reduce a trace to the histogram `solve` plans from (a workload `traffic:` block), or print its SQL.

    Example: planner trace bucket 'logs/*.parquet' -o traffic.yaml; planner trace bucket logs.csv --sql --dialect spark
    """
    edges_in, edges_out = _edges(input_edges, "--input-edges"), _edges(output_edges, "--output-edges")
    if sql:
        from planner.io.traces.warehouse import bucket_sql

        emit(bucket_sql(path, trace_format, edges_in, edges_out, max_context, window, dialect, table), output)  # type: ignore[arg-type]
        return
    from planner.io.traces.warehouse import histogram_yaml

    emit(histogram_yaml(path, trace_format, on_bad_rows, edges_in, edges_out, max_context, window, design_rate), output)  # type: ignore[arg-type]


COMMANDS = [trace]
