"""The trace reader: CSV, JSONL and Parquet through DuckDB (streams large files), with format and layout detection.

Layouts are registered by the modules of this package (planner.io.traces.layout); docs/workload.md, "Traces".
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import WorkloadError
from planner.io.traces.layout import LAYOUTS, TraceLayout
from planner.io.traces.trace import Trace

if TYPE_CHECKING:
    import duckdb

_READERS = {"csv": "read_csv_auto", "jsonl": "read_json_auto", "parquet": "read_parquet"}


def detect_format(path: Path, fmt: str = "auto") -> str:
    """csv / jsonl / parquet from the file name when `fmt` is auto."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in (".csv", ".tsv"):
            return "csv"
        if suffix in (".jsonl", ".json", ".ndjson"):
            return "jsonl"
        if suffix in (".parquet", ".pq"):
            return "parquet"
    raise WorkloadError(f"{path}: cannot tell the trace format from the file name; set traffic.format to csv, jsonl or parquet")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_trace(path: str | Path, fmt: str = "auto") -> Trace:
    """Read a trace file; refuse empty, unreadable or invalid ones with file:line of the first bad row."""
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"{path}: trace file not found")
    fmt = detect_format(path, fmt)
    import duckdb  # 0.15 s to import: only where a trace is read

    con = duckdb.connect()
    try:
        source = f"{_READERS[fmt]}({_sql_str(str(path))})"
        try:
            con.execute(f"CREATE VIEW t AS SELECT row_number() OVER () AS rownum, * FROM {source}")
            columns = {row[0]: row[1] for row in con.execute("DESCRIBE t").fetchall()}
        except duckdb.Error as exc:
            raise WorkloadError(f"{path}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from None
        layout = _layout(path, columns)
        arrival, inp, out = layout.arrival, layout.input_tokens, layout.output_tokens
        first_line = 2 if fmt == "csv" else 1
        _check_rows(con, path, arrival, inp, out, first_line, columns[arrival])
        arrival_expr = _arrival_sql(arrival, layout.unit, columns[arrival])
        result = con.execute(
            f'SELECT {arrival_expr} AS a, "{inp}"::BIGINT AS i, "{out}"::BIGINT AS o FROM t ORDER BY a, rownum'
        ).fetchnumpy()
    finally:
        con.close()
    arrival_s = np.asarray(result["a"], dtype=np.float64)
    if arrival_s.size == 0:
        raise WorkloadError(f"{path}: the trace has no requests")
    return Trace(arrival_s - arrival_s[0], np.asarray(result["i"], np.int64), np.asarray(result["o"], np.int64), layout.name)


def _layout(path: Path, columns: dict[str, str]) -> TraceLayout:
    for layout in LAYOUTS:
        if layout.columns <= set(columns):
            return layout
    names = ", ".join(c for c in columns if c != "rownum")
    expected = "; ".join(layout.describe() for layout in LAYOUTS)
    raise WorkloadError(f"{path}: unrecognised trace columns ({names}); expected one of: {expected}")


def _arrival_sql(column: str, unit: str, dtype: str) -> str:
    if unit == "datetime" or dtype.startswith("TIMESTAMP"):
        return f'epoch_us("{column}"::TIMESTAMP) / 1e6'
    scale = 1000.0 if unit == "ms" else 1.0
    return f'"{column}"::DOUBLE / {scale}'


def _check_rows(con: "duckdb.DuckDBPyConnection", path: Path, arrival: str, inp: str, out: str, first_line: int, arrival_type: str) -> None:
    """The first row with a missing, non-finite, negative or non-integer value is an error (file:line)."""
    import duckdb
    numeric_arrival = not arrival_type.startswith("TIMESTAMP") and arrival_type not in ("VARCHAR", "DATE")
    checks = [
        (f'"{inp}" IS NULL OR NOT isfinite("{inp}"::DOUBLE) OR "{inp}"::DOUBLE < 1 OR "{inp}"::DOUBLE <> round("{inp}"::DOUBLE)',
         f"{inp}: expected a whole number of tokens >= 1"),
        (f'"{out}" IS NULL OR NOT isfinite("{out}"::DOUBLE) OR "{out}"::DOUBLE < 1 OR "{out}"::DOUBLE <> round("{out}"::DOUBLE)',
         f"{out}: expected a whole number of tokens >= 1"),
    ]
    if numeric_arrival:
        checks.append((f'"{arrival}" IS NULL OR NOT isfinite("{arrival}"::DOUBLE) OR "{arrival}"::DOUBLE < 0',
                       f"{arrival}: expected a finite, non-negative time"))
    else:
        checks.append((f'"{arrival}" IS NULL', f"{arrival}: expected a timestamp"))
    for condition, message in checks:
        try:
            row = con.execute(f"SELECT rownum, * FROM t WHERE {condition} ORDER BY rownum LIMIT 1").fetchone()
        except duckdb.Error as exc:
            raise WorkloadError(f"{path}: {message}: {str(exc).splitlines()[0]}") from None
        if row is not None:
            line = int(row[0]) + first_line - 1
            raise WorkloadError(f"{path}:{line}: {message}; the trace must be cleaned, not planned around")
    if con.execute("SELECT count(*) FROM t").fetchone()[0] == 0:
        raise WorkloadError(f"{path}: the trace has no requests")
