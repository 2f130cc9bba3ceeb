"""`planner trace`: generate synthetic traces and summarize trace files."""
from __future__ import annotations

from pathlib import Path

import click

from planner.cli.options import emit
from planner.demand.synthetic import KINDS
from planner.errors import WorkloadError
from planner.io.files import write_atomic


@click.group()
def trace() -> None:
    """Make and inspect request traces."""


@trace.command()
@click.option("--kind", type=click.Choice(list(KINDS)), required=True, help="Traffic shape (see docs/traces.md).")
@click.option("--rps", type=float, required=True, help="Mean request rate (req/s).")
@click.option("--minutes", type=float, default=10.0, show_default=True, help="Trace length.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same trace).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output file: .csv, .jsonl or .parquet.")
def generate(kind: str, rps: float, minutes: float, seed: int, output: str) -> None:
    """Write a synthetic trace with bursty arrivals and realistic lengths.

    Example: planner trace generate --kind chat --rps 20 --minutes 10 --seed 1 -o traces/chat.csv
    """
    from planner.demand.synthetic import generate_trace
    from planner.io.traces.planner import serialise_trace

    t = generate_trace(kind, rps, minutes, seed)
    write_atomic(Path(output), serialise_trace(t, Path(output)))
    click.echo(f"wrote {output}: {len(t)} requests over {t.duration_s / 60:.1f} min ({KINDS[kind].description})", err=True)


@trace.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "trace_format", type=click.Choice(["auto", "csv", "jsonl", "parquet"]), default="auto")
@click.option("--window", type=float, default=60.0, show_default=True, help="Window (s) for peak/p95 rates.")
def stats(path: str, trace_format: str, window: float) -> None:
    """Summarise a trace: request count, rates (mean, p95, peak) and length quantiles.

    Example: planner trace stats workloads/traces/chat.csv
    """
    import numpy as np

    from planner.demand.build import window_rates
    from planner.io.traces import read_trace

    if not (np.isfinite(window) and window > 0):
        raise WorkloadError("--window must be a positive number of seconds")
    t = read_trace(path, trace_format)
    rates = window_rates(t.arrival_s, window) if t.duration_s > 0 else np.array([np.nan])
    q = [50, 90, 99]
    lines = [
        f"trace      {path} ({t.layout} layout)",
        f"requests   {len(t)} over {t.duration_s:,.0f} s",
        f"rate       mean {len(t) / max(t.duration_s, 1e-9):.3g}, p95 {np.percentile(rates, 95):.3g}, peak {rates.max():.3g} req/s ({window:g} s windows)",
        "input      p50/p90/p99/max " + "/".join(f"{v:.0f}" for v in np.percentile(t.input_tokens, q)) + f"/{t.input_tokens.max()} tokens",
        "output     p50/p90/p99/max " + "/".join(f"{v:.0f}" for v in np.percentile(t.output_tokens, q)) + f"/{t.output_tokens.max()} tokens",
    ]
    emit("\n".join(lines) + "\n", None)


COMMANDS = [trace]
