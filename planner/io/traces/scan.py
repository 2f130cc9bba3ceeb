"""One streaming pass over a trace: DuckDB reads CSV, CSV.gz, JSONL or Parquet (one file or a glob of many),
validates every row and keeps three typed columns in a table that the reader and the histogram query share.

The file is parsed once. Every column is read as text and cast with TRY_CAST, so a bad value becomes a
flagged row, never DuckDB's internal cast error; rows the CSV parser itself rejects (ragged rows, broken
encoding) are kept by DuckDB's `store_rejects` with their line. Only when bad rows exist is the file read a
second time, to find the first five with their line numbers (docs/traces.md, "Bad rows").
"""
from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from planner.errors import WorkloadError
from planner.io.traces.layout import LAYOUTS, TraceLayout

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
BadRowPolicy = Literal["error", "skip", "report"]
BAD_ROW_POLICIES: tuple[str, ...] = ("error", "skip", "report")
MAX_TOKENS = 2**31 - 1
"""Largest token count a row may hold (stored as INTEGER; no context window comes near it)."""
SHOWN_BAD_ROWS = 5
_CODES = {1: "{inp}: expected a whole number of tokens from 1 to 2147483647",
          2: "{out}: expected a whole number of tokens from 1 to 2147483647",
          3: "{arrival}: expected {arrival_kind}"}


def connect() -> "duckdb.DuckDBPyConnection":
    """An in-memory DuckDB connection without the progress bar (it would draw on stderr)."""
    import duckdb  # 0.15 s to import: only where a trace is read

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def detect_format(path: Path, fmt: str = "auto") -> str:
    """csv / jsonl / parquet from the file name (`.csv.gz` is csv) when `fmt` is auto."""
    if fmt != "auto":
        return fmt
    for suffix in reversed([s.lower() for s in path.suffixes]):
        if suffix in (".csv", ".tsv"):
            return "csv"
        if suffix in (".jsonl", ".json", ".ndjson"):
            return "jsonl"
        if suffix in (".parquet", ".pq"):
            return "parquet"
    raise WorkloadError(f"{path}: cannot tell the trace format from the file name; set traffic.format to csv, jsonl or parquet")


def trace_files(path: str | Path, where: str | None = None) -> list[Path]:
    """The regular files a trace path names: the file itself, or every match of a glob (sorted)."""
    text = str(path)
    prefix = f"{where}: " if where else ""
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True))
        if not files:
            raise WorkloadError(f"{prefix}{text}: no trace file matches this pattern")
    else:
        files = [Path(text)]
    for f in files:
        if not f.exists():
            raise WorkloadError(f"{prefix}{f}: trace file not found (resolved to {f.resolve()})")
        if not f.is_file():
            raise WorkloadError(f"{prefix}{f}: not a regular file (a directory, FIFO or device); give a trace file")
    return files


@dataclass(frozen=True)
class BadRow:
    """One row that failed validation: where it is and what was wrong."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class TraceScan:
    """A trace loaded into the DuckDB table `rows(a DOUBLE seconds, i INTEGER, o INTEGER)` of valid rows only."""

    con: "duckdb.DuckDBPyConnection"
    files: list[Path]
    fmt: str
    layout: TraceLayout
    skipped: int = 0
    """Bad rows left out (on_bad_rows skip or report); 0 under `error`, which refuses them."""
    bad: list[BadRow] = field(default_factory=list)
    """The first bad rows (at most SHOWN_BAD_ROWS), with file and line."""
    columns: dict[str, str] = field(default_factory=dict)
    """The first file's columns and their DuckDB types (text for CSV), as read once at the start."""

    @property
    def label(self) -> str:
        return str(self.files[0]) if len(self.files) == 1 else f"{self.files[0].parent}/ ({len(self.files)} files)"

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "TraceScan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_text(path: Path, fmt: str) -> None:
    """Refuse empty files and text that is not UTF-8 (csv/jsonl), naming the file, before DuckDB sees them."""
    size = path.stat().st_size
    if size == 0:
        raise WorkloadError(f"{path}: empty file; expected a header line (e.g. arrival_s,input_tokens,output_tokens) "
                            "and one request per line")
    if fmt == "parquet" or path.suffix.lower() == ".gz":
        return
    with path.open("rb") as fh:
        head = fh.read(65536)
    if b"\0" in head:
        raise WorkloadError(f"{path}: binary data (NUL bytes) where a {fmt} trace was expected")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise WorkloadError(f"{path}: not UTF-8 text (byte 0x{head[exc.start]:02x} at offset {exc.start}); "
                                "save the trace as UTF-8") from None


def _csv_options(path: Path) -> str:
    """Text columns, a header, and the delimiter fixed (comma; tab for .tsv): DuckDB's sniffer guesses wrong on
    a file whose sample holds a ragged row, and then reports one column named after the whole header."""
    delim = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    return f"all_varchar=true, header=true, delim='{delim}', quote='\"', escape='\"'"


def raw_source(path: Path, fmt: str, columns: list[str] | None = None) -> str:
    """The DuckDB table function that reads one file with every column as text (parquet: its own types)."""
    if fmt == "csv":
        return f"read_csv({sql_str(str(path))}, {_csv_options(path)}, store_rejects=true)"
    if fmt == "jsonl":
        if columns is None:
            return f"read_json_auto({sql_str(str(path))}, format='newline_delimited', ignore_errors=true)"
        cols = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in columns)
        return f"read_json({sql_str(str(path))}, format='newline_delimited', columns={{{cols}}}, ignore_errors=true)"
    return f"read_parquet({sql_str(str(path))})"


def _columns(con: "duckdb.DuckDBPyConnection", path: Path, fmt: str) -> dict[str, str]:
    import duckdb

    source = raw_source(path, fmt)
    try:
        return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    except duckdb.Error as exc:
        raise WorkloadError(f"{path}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from None


def layout_of(path: Path, columns: dict[str, str]) -> TraceLayout:
    """The first registered layout whose three columns the file has."""
    for layout in LAYOUTS:
        if layout.columns <= set(columns):
            return layout
    names = ", ".join(columns)
    expected = "; ".join(layout.describe() for layout in LAYOUTS)
    if len(columns) == 1:
        hint = "; is the header line missing or the delimiter not a comma?"
    else:
        hint = ""
    raise WorkloadError(f"{path}: the header names columns ({names}), none of the known layouts; expected one of: {expected}{hint}")


def typed_columns(layout: TraceLayout, dtypes: dict[str, str]) -> tuple[str, str, str, str]:
    """SQL for (arrival seconds, input tokens, output tokens, bad-row code) over a raw row; code 0 = valid.

    The arrival is a time stamp when the layout says so or the column is typed as one (parquet).
    """
    arrival, inp, out = (f'"{c}"' for c in (layout.arrival, layout.input_tokens, layout.output_tokens))
    if layout.unit == "datetime" or dtypes.get(layout.arrival, "").startswith("TIMESTAMP"):
        ts = f"TRY_CAST({arrival} AS TIMESTAMP)"
        a_sql = f"epoch_us({ts}) / 1e6"
        a_bad = f"{ts} IS NULL OR NOT isfinite({ts})"
    else:
        scale = 1000.0 if layout.unit == "ms" else 1.0
        a_sql = f"TRY_CAST({arrival} AS DOUBLE) / {scale}"
        a_bad = f"{a_sql} IS NULL OR NOT isfinite({a_sql}) OR {a_sql} < 0"

    def tok_bad(col: str) -> str:
        v = f"TRY_CAST({col} AS DOUBLE)"
        return f"{v} IS NULL OR NOT isfinite({v}) OR {v} < 1 OR {v} > {MAX_TOKENS} OR {v} <> round({v})"

    code = f"CASE WHEN {tok_bad(inp)} THEN 1 WHEN {tok_bad(out)} THEN 2 WHEN {a_bad} THEN 3 ELSE 0 END"
    tok = "CASE WHEN {bad} THEN NULL ELSE CAST(TRY_CAST({col} AS DOUBLE) AS INTEGER) END"
    return (f"CASE WHEN {a_bad} THEN NULL ELSE {a_sql} END", tok.format(bad=tok_bad(inp), col=inp),
            tok.format(bad=tok_bad(out), col=out), code)


def scan_trace(path: str | Path, fmt: str = "auto", on_bad_rows: BadRowPolicy = "error", where: str | None = None,
               ordered: bool = False) -> TraceScan:
    """Read, validate and keep a trace's valid rows in one DuckDB pass; `where` (workload file:line) prefixes
    a missing-file error; `ordered` keeps the rows in file order (replay needs it for ties; costs memory). Bad rows: `error` refuses the trace listing the first five with file:line; `skip`
    leaves them out (counted in `skipped`); `report` does the same and logs the first five."""
    files = trace_files(path, where)
    fmt = detect_format(files[0], fmt)
    import duckdb

    for f in files:
        _check_text(f, fmt)
    con = connect()
    try:
        if not ordered:
            con.execute("SET preserve_insertion_order = false")  # an unordered table lets DuckDB stream
        dtypes = _columns(con, files[0], fmt)
        layout = layout_of(files[0], dtypes)
        for f in files[1:]:
            other = layout_of(f, _columns(con, f, fmt))
            if other != layout:
                raise WorkloadError(f"{f}: {other.name} layout, but {files[0]} is {layout.name}; a glob must match one layout")
        a_sql, i_sql, o_sql, code = typed_columns(layout, dtypes)
        cols = [layout.arrival, layout.input_tokens, layout.output_tokens]
        union = " UNION ALL ".join(f"SELECT * FROM {raw_source(f, fmt, cols)}" for f in files)
        select = ", ".join(f'"{c}"' for c in cols)
        try:
            con.execute(f"CREATE TEMP TABLE raw_rows AS SELECT {a_sql} AS a, {i_sql} AS i, {o_sql} AS o, "
                        f"({code})::UTINYINT AS bad FROM (SELECT {select} FROM ({union}))")
        except duckdb.Error as exc:
            raise WorkloadError(f"{files[0]}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from None
        n_bad, n_valid = con.execute("SELECT count(*) FILTER (WHERE bad > 0), count(*) FILTER (WHERE bad = 0) FROM raw_rows").fetchone()
        n_bad += _rejected(con) if fmt == "csv" else 0
        scan = TraceScan(con, files, fmt, layout, columns=dtypes)
        if n_bad:
            scan.bad = first_bad_rows(con, files, fmt, layout, dtypes)
            _apply_policy(scan, n_bad, on_bad_rows)
        con.execute("CREATE TEMP VIEW rows AS SELECT a, i, o FROM raw_rows WHERE bad = 0")
        if n_valid == 0:
            raise WorkloadError(f"{scan.label}: the trace has no requests" + (f" ({scan.skipped} bad rows skipped)" if scan.skipped else ""))
        return scan
    except BaseException:
        con.close()
        raise


def _rejected(con: "duckdb.DuckDBPyConnection") -> int:
    try:
        return int(con.execute("SELECT count(*) FROM reject_errors").fetchone()[0])
    except Exception:  # no rejects table when nothing was rejected  # noqa: BLE001
        return 0


def _apply_policy(scan: TraceScan, n_bad: int, policy: BadRowPolicy) -> None:
    shown = "\n".join(f"  {row}" for row in scan.bad)
    more = f"\n  ... and {n_bad - len(scan.bad)} more" if n_bad > len(scan.bad) else ""
    if policy == "error" and n_bad == 1 and scan.bad:
        raise WorkloadError(f"{scan.bad[0]}; clean the trace, or plan without the row with --on-bad-rows skip (traffic.on_bad_rows)")
    if policy == "error":
        raise WorkloadError(f"{scan.label}: {n_bad} bad row{'s' if n_bad > 1 else ''} (first {len(scan.bad)} below); clean the trace, "
                            f"or plan without them with --on-bad-rows skip (traffic.on_bad_rows):\n{shown}{more}")
    scan.skipped = n_bad
    if policy == "report":
        log.warning("%s: skipped %d bad rows (traffic.on_bad_rows: report):\n%s%s", scan.label, n_bad, shown, more)


def first_bad_rows(con: "duckdb.DuckDBPyConnection", files: list[Path], fmt: str, layout: TraceLayout,
                   dtypes: dict[str, str]) -> list[BadRow]:
    """The first SHOWN_BAD_ROWS bad rows with file and line: a second, ordered read, only when there are some."""
    _, _, _, code = typed_columns(layout, dtypes)
    cols = [layout.arrival, layout.input_tokens, layout.output_tokens]
    arrival_kind = ("a time stamp (e.g. 2023-11-16 18:15:46.68)" if layout.unit == "datetime"
                    else f"a finite, non-negative time in {layout.unit}")
    names = {"inp": layout.input_tokens, "out": layout.output_tokens, "arrival": layout.arrival, "arrival_kind": arrival_kind}
    header = 1 if fmt == "csv" else 0
    found: list[BadRow] = []
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")
    for f in files:
        rejects = _file_rejects(con, f) if fmt == "csv" else []
        rejected_lines = sorted(line for line, _ in rejects)
        select = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute(f"SELECT rn, c, {select} FROM (SELECT row_number() OVER () AS rn, {code} AS c, {select} "
                           f"FROM {raw_source(f, fmt, cols)}) WHERE c > 0 ORDER BY rn LIMIT {SHOWN_BAD_ROWS}").fetchall()
        for rn, c, *values in rows:
            line = header + int(rn)
            for r in rejected_lines:  # rows the parser rejected are not numbered: shift past them
                if r <= line:
                    line += 1
            column = {1: 1, 2: 2, 3: 0}[c]
            found.append(BadRow(f, line, f"{_CODES[c].format(**names)}, got {values[column]!r}"))
        found += [BadRow(f, line, message) for line, message in rejects]
        found.sort(key=lambda b: (files.index(b.file), b.line))
        if len(found) >= SHOWN_BAD_ROWS:
            break
    con.execute(f"SET preserve_insertion_order = {bool(ordered)}")
    return found[:SHOWN_BAD_ROWS]


def _file_rejects(con: "duckdb.DuckDBPyConnection", path: Path) -> list[tuple[int, str]]:
    """(line, message) of the rows DuckDB's CSV parser rejected in `path` (wrong column count, encoding)."""
    try:
        rows = con.execute("SELECT DISTINCT e.line, e.error_type, e.error_message FROM reject_errors e "
                           "JOIN reject_scans s USING (scan_id, file_id) WHERE s.file_path = ? ORDER BY e.line",
                           [str(path)]).fetchall()
    except Exception:  # noqa: BLE001 - no rejects table: nothing was rejected
        return []
    kinds = {"MISSING COLUMNS": "too few columns", "TOO MANY COLUMNS": "too many columns", "INVALID ENCODING": "not UTF-8 text"}
    return [(int(line), f"{kinds.get(kind, kind.lower())} ({message.rstrip('.')})") for line, kind, message in rows]
