"""Request-trace readers: CSV, JSONL and Parquet through DuckDB (streams large files), with format detection.

Recognised layouts (docs/workload.md, "Traces"):
- planner's own: `arrival_s, input_tokens, output_tokens`
- Azure LLM inference 2023: `TIMESTAMP, ContextTokens, GeneratedTokens`
- Mooncake: `timestamp` (milliseconds), `input_length`, `output_length`
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from planner.errors import WorkloadError

# (arrival column, unit), input column, output column, layout name
_LAYOUTS = [
    (("arrival_s", "s"), "input_tokens", "output_tokens", "planner"),
    (("TIMESTAMP", "datetime"), "ContextTokens", "GeneratedTokens", "azure2023"),
    (("timestamp", "ms"), "input_length", "output_length", "mooncake"),
]
_READERS = {"csv": "read_csv_auto", "jsonl": "read_json_auto", "parquet": "read_parquet"}


@dataclass(frozen=True)
class Trace:
    """Requests as parallel numpy arrays, sorted by arrival; arrival_s starts at 0."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    layout: str = "planner"

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0


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
    con = duckdb.connect()
    try:
        source = f"{_READERS[fmt]}({_sql_str(str(path))})"
        try:
            con.execute(f"CREATE VIEW t AS SELECT row_number() OVER () AS rownum, * FROM {source}")
            columns = {row[0]: row[1] for row in con.execute("DESCRIBE t").fetchall()}
        except duckdb.Error as exc:
            raise WorkloadError(f"{path}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from None
        (arrival, unit), inp, out, layout = _layout(path, columns)
        first_line = 2 if fmt == "csv" else 1
        _check_rows(con, path, arrival, inp, out, first_line, columns[arrival])
        arrival_expr = _arrival_sql(arrival, unit, columns[arrival])
        result = con.execute(
            f'SELECT {arrival_expr} AS a, "{inp}"::BIGINT AS i, "{out}"::BIGINT AS o FROM t ORDER BY a, rownum'
        ).fetchnumpy()
    finally:
        con.close()
    arrival_s = np.asarray(result["a"], dtype=np.float64)
    if arrival_s.size == 0:
        raise WorkloadError(f"{path}: the trace has no requests")
    return Trace(arrival_s - arrival_s[0], np.asarray(result["i"], np.int64), np.asarray(result["o"], np.int64), layout)


def _layout(path: Path, columns: dict[str, str]) -> tuple:
    for layout in _LAYOUTS:
        (arrival, _), inp, out, _ = layout
        if {arrival, inp, out} <= set(columns):
            return layout
    names = ", ".join(c for c in columns if c != "rownum")
    expected = "; ".join(f"{a[0]}, {i}, {o} ({n})" for a, i, o, n in _LAYOUTS)
    raise WorkloadError(f"{path}: unrecognised trace columns ({names}); expected one of: {expected}")


def _arrival_sql(column: str, unit: str, dtype: str) -> str:
    if unit == "datetime" or dtype.startswith("TIMESTAMP"):
        return f'epoch_us("{column}"::TIMESTAMP) / 1e6'
    scale = 1000.0 if unit == "ms" else 1.0
    return f'"{column}"::DOUBLE / {scale}'


def _check_rows(con: duckdb.DuckDBPyConnection, path: Path, arrival: str, inp: str, out: str, first_line: int, arrival_type: str) -> None:
    """The first row with a missing, non-finite, negative or non-integer value is an error (file:line)."""
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


def write_trace_csv(trace: Trace) -> str:
    """The planner's own CSV layout (arrival_s with millisecond precision)."""
    lines = ["arrival_s,input_tokens,output_tokens"]
    lines += [f"{a:.3f},{i},{o}" for a, i, o in zip(trace.arrival_s, trace.input_tokens, trace.output_tokens)]
    return "\n".join(lines) + "\n"
