"""Traces that do not fit one machine: the histogram as a workload `traffic:` block, and the portable SQL that
computes it where the data lives (DuckDB, Spark SQL, BigQuery), so only ~100 rows travel to `planner solve`.

`planner trace bucket FILE` runs the DuckDB version here; `--sql` prints it (docs/traces.md, "Large traces").
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from planner.io.traces.histogram import Dialect, histogram_sql, summarise, window_sql
from planner.io.traces.scan import BadRowPolicy, connect, detect_format, layout_of, raw_source, scan_trace, sql_str, trace_files

_INT = {"duckdb": "BIGINT", "spark": "BIGINT", "bigquery": "INT64"}
_FLOAT = {"duckdb": "DOUBLE", "spark": "DOUBLE", "bigquery": "FLOAT64"}
_EPOCH = {"duckdb": "epoch_us", "spark": "unix_micros", "bigquery": "UNIX_MICROS"}
NOTES = {
    "duckdb": "-- DuckDB: runs as is (duckdb -c or a Python connection), and a glob in the path reads many files.",
    "spark": "-- Spark SQL: `percentile` is exact (linear interpolation, as planner), the table is --table.",
    "bigquery": "-- BigQuery: APPROX_QUANTILES is approximate (1000 quantiles); counts, means and maxima are exact.",
}


def bucket_sql(path: str, fmt: str, edges_in: Sequence[int], edges_out: Sequence[int], max_context: int, window_s: float,
               dialect: Dialect = "duckdb", table: str | None = None) -> str:
    """Two statements: the per-cell histogram and the requests per rate window, over the trace's valid rows."""
    files = trace_files(path)
    fmt = detect_format(files[0], fmt)
    con = connect()
    try:
        columns = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {raw_source(files[0], fmt)}").fetchall()}
    finally:
        con.close()
    layout = layout_of(files[0], columns)
    arrival, inp, out = (f'"{c}"' if dialect == "duckdb" else f"`{c}`" for c in (layout.arrival, layout.input_tokens, layout.output_tokens))
    if layout.unit == "datetime" or columns[layout.arrival].startswith("TIMESTAMP"):
        a_sql = f"{_EPOCH[dialect]}(CAST({arrival} AS TIMESTAMP)) / 1e6"
    else:
        a_sql = f"CAST({arrival} AS {_FLOAT[dialect]})" + (" / 1000.0" if layout.unit == "ms" else "")
    source = table or (f"{raw_source(Path(path), fmt).split('(')[0]}({sql_str(str(path))})" if dialect == "duckdb" else "requests_log")
    requests = (f"WITH requests AS (\n  SELECT {a_sql} AS a, CAST({inp} AS {_INT[dialect]}) AS i, CAST({out} AS {_INT[dialect]}) AS o\n"
                f"  FROM {source}\n  WHERE {inp} >= 1 AND {out} >= 1 AND {arrival} IS NOT NULL\n)\n")
    return (f"-- planner trace bucket {path}: {layout.name} layout, input edges {list(edges_in)}, output edges {list(edges_out)}\n"
            f"{NOTES[dialect]}\n-- 1. requests and length statistics per cell (cell = input bucket * {len(edges_out)} + output bucket)\n"
            f"{requests}{histogram_sql('requests', edges_in, edges_out, max_context, (5, 15, 25, 35, 45, 55, 65, 75, 85, 95), dialect)};\n\n"
            f"-- 2. requests per {window_s:g} s window : the peak and p95 rates. Windows with no request are absent (count them as 0), and the last, partial window is left out\n"
            f"{requests}{window_sql('requests', window_s, max_context)};\n")


def histogram_yaml(path: str, fmt: str, on_bad_rows: BadRowPolicy, edges_in: Sequence[int], edges_out: Sequence[int],
                   max_context: int, window_s: float, design_rate: str) -> str:
    """The trace as a workload `traffic:` block (rate_rps + histogram) that `planner solve` accepts unchanged."""
    import numpy as np

    with scan_trace(path, fmt, on_bad_rows) as scan:
        h = summarise(scan, edges_in, edges_out, max_context, window_s, (50,))
    kept = h.requests - h.dropped
    if kept == 0 or h.duration_s <= 0:
        from planner.errors import WorkloadError

        raise WorkloadError(f"{path}: no measurable rate (every request overflows --max-context, or all arrive at one instant)")
    rate = {"peak": float(h.series_rps.max()), "mean": kept / h.duration_s, "p95": float(np.percentile(h.series_rps, 95))}[design_rate]
    lines = [f"# planner trace bucket {path}: {h.requests} requests over {h.duration_s:,.0f} s; "
             f"{h.dropped} over the {max_context}-token context left out, {h.skipped} bad rows skipped",
             "traffic:", f"  rate_rps: {rate:.6g}    # {design_rate} over {window_s:g} s windows", "  histogram:"]
    shares = [c.count / kept for c in h.cells]
    shares[int(np.argmax(shares))] += 1.0 - sum(round(s, 6) for s in shares)  # rounded shares still sum to 1
    for c, share in zip(h.cells, shares):
        i, o = divmod(c.cell, len(edges_out))
        ihi = edges_in[i + 1] if i + 1 < len(edges_in) else c.input_max + 1
        ohi = edges_out[o + 1] if o + 1 < len(edges_out) else c.output_max + 1
        lines.append(f"    - {{input: [{edges_in[i]}, {ihi}], output: [{edges_out[o]}, {ohi}], share: {share:.6f}}}")
    return "\n".join(lines) + "\n"
