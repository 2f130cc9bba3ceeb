"""A trace reduced to what planning needs, in SQL: per length bucket the request count and length statistics,
and the request count in every rate window. 10M requests become ~100 rows and one small array, so a
trace of any size plans in the memory of its histogram (docs/traces.md, "Large traces").

The same query text, in another dialect, is what `planner trace bucket FILE --sql` prints for a warehouse.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from planner.errors import WorkloadError
from planner.io.traces.scan import TraceScan

if TYPE_CHECKING:
    import duckdb

Dialect = Literal["duckdb", "spark", "bigquery"]
MAX_WINDOWS = 10_000_000
"""Most rate windows a trace may be cut into (80 MB of counts): more means a wrong time stamp or window."""


@dataclass(frozen=True)
class CellStats:
    """Length statistics of the requests in one grid cell (index = input bucket x n_output + output bucket)."""

    cell: int
    count: int
    input_mean: float
    output_mean: float
    input_max: int
    output_max: int
    input_p99: float
    input_q: tuple[float, ...]
    """Input length at each requested percentile, interpolated linearly (numpy's default, DuckDB's quantile_cont)."""
    output_q: tuple[float, ...]


@dataclass(frozen=True)
class TraceHistogram:
    """The requests that fit the context window, bucketed, with their arrival-rate series."""

    requests: int
    """Valid rows of the trace (bad rows skipped are in `skipped`, overflowing ones in `dropped`)."""
    dropped: int
    skipped: int
    duration_s: float
    series_rps: np.ndarray
    """Rate in each full window (the whole span when shorter than one window), requests that fit only."""
    cells: tuple[CellStats, ...]


def _cell_sql(col: str, edges: Sequence[int]) -> str:
    """Index of the last edge <= col (-1 below the first)."""
    whens = " ".join(f"WHEN {col} >= {e} THEN {k}" for k, e in reversed(list(enumerate(edges))))
    return f"CASE {whens} ELSE -1 END"


def _quantiles(col: str, qs: Sequence[float], dialect: Dialect) -> str:
    """One aggregate returning the list of `col`'s percentiles `qs` (one sort per group, not one per percentile)."""
    fractions = ", ".join(f"{q / 100:g}" for q in qs)
    if dialect == "duckdb":
        return f"quantile_cont({col}, [{fractions}])"
    if dialect == "spark":
        return f"percentile({col}, array({fractions}))"
    return f"ARRAY(SELECT q FROM UNNEST(APPROX_QUANTILES({col}, 1000)) AS q WITH OFFSET k WHERE k IN ({', '.join(str(round(q * 10)) for q in qs)}))"


def histogram_sql(table: str, edges_in: Sequence[int], edges_out: Sequence[int], max_context: int,
                  percentiles: Sequence[float], dialect: Dialect = "duckdb") -> str:
    """Per grid cell: count, means, maxima and length percentiles (as lists: 99th of the input, then `percentiles`
    of input and of output) of the requests of `table(a, i, o)` that fit the context window."""
    return (f"SELECT bi * {len(edges_out)} + bo AS cell, count(*) AS requests, avg(i) AS input_mean, avg(o) AS output_mean,\n"
            f"  max(i) AS input_max, max(o) AS output_max, {_quantiles('i', [99], dialect)} AS input_p99,\n"
            f"  {_quantiles('i', percentiles, dialect)} AS input_q,\n  {_quantiles('o', percentiles, dialect)} AS output_q\n"
            f"FROM (SELECT i, o, {_cell_sql('i', edges_in)} AS bi, {_cell_sql('o', edges_out)} AS bo\n"
            f"      FROM {table} WHERE CAST(i AS BIGINT) + o <= {max_context}) AS fits\n"
            f"WHERE bi >= 0 AND bo >= 0\nGROUP BY bi, bo\nORDER BY cell")


def window_sql(table: str, window_s: float, max_context: int) -> str:
    """Requests per rate window (windows counted from the first request that fits); non-empty windows only."""
    return (f"SELECT CAST(floor((a - t0) / {window_s!r}) AS BIGINT) AS slot, count(*) AS requests\n"
            f"FROM {table}, (SELECT min(a) AS t0 FROM {table} WHERE CAST(i AS BIGINT) + o <= {max_context}) AS first\n"
            f"WHERE CAST(i AS BIGINT) + o <= {max_context}\nGROUP BY slot\nORDER BY slot")


def summarise(scan: TraceScan, edges_in: Sequence[int], edges_out: Sequence[int], max_context: int, window_s: float,
              percentiles: Sequence[float]) -> TraceHistogram:
    """The histogram and rate series of a scanned trace, computed in DuckDB (planner.io.traces.scan)."""
    con = scan.con
    total, kept, lo, hi = con.execute(f"SELECT count(*), count(*) FILTER (WHERE CAST(i AS BIGINT) + o <= {max_context}), "
                                      f"min(a) FILTER (WHERE CAST(i AS BIGINT) + o <= {max_context}), "
                                      f"max(a) FILTER (WHERE CAST(i AS BIGINT) + o <= {max_context}) FROM rows").fetchone()
    if kept == 0:
        return TraceHistogram(int(total), int(total), scan.skipped, 0.0, np.empty(0), ())
    span = float(hi - lo)
    n_full = int(span // window_s)
    if n_full > MAX_WINDOWS:
        raise WorkloadError(f"{scan.label}: the trace spans {span:,.0f} s, {n_full:,} windows of {window_s:g} s "
                            f"(at most {MAX_WINDOWS:,}); check its time stamps, or use a longer traffic.peak_window_s")
    cells, slots, slot_counts = _group(con, edges_in, edges_out, max_context, lo, window_s)
    if n_full == 0:
        series = np.array([kept / max(span, window_s)])
    else:
        counts = np.zeros(n_full)
        inside = slots < n_full
        counts[slots[inside]] = slot_counts[inside]
        series = counts / window_s
    return TraceHistogram(int(total), int(total - kept), scan.skipped, span, series, _cell_stats(cells, percentiles))


def _group(con: "duckdb.DuckDBPyConnection", edges_in: Sequence[int], edges_out: Sequence[int], max_context: int,
           t0: float, window_s: float) -> tuple[dict[str, tuple[np.ndarray, ...]], np.ndarray, np.ndarray]:
    """One scan with three grouping sets: how often each input length and each output length occurs per cell
    (hash aggregation, not a sort per cell) and the requests per rate window."""
    n_out = len(edges_out)
    got = con.execute(
        f"SELECT grouping(cell, i, o, slot) AS g, cell, i, o, slot, count(*) AS n FROM ("
        f"SELECT CASE WHEN bi >= 0 AND bo >= 0 THEN bi * {n_out} + bo ELSE -1 END AS cell, i, o, slot FROM ("
        f"SELECT {_cell_sql('i', edges_in)} AS bi, {_cell_sql('o', edges_out)} AS bo, i, o, "
        f"CAST(floor((a - {t0!r}) / {window_s!r}) AS BIGINT) AS slot FROM rows WHERE CAST(i AS BIGINT) + o <= {max_context}))"
        f" GROUP BY GROUPING SETS ((cell, i), (cell, o), (slot)) ORDER BY g, cell, i, o, slot").fetchnumpy()
    g = np.asarray(got["g"])
    by_i, by_o, by_slot = g == 0b0011, g == 0b0101, g == 0b1110
    cells = {}
    for col, mask in (("i", by_i), ("o", by_o)):
        keep = mask & (np.asarray(got["cell"]) >= 0)
        cells[col] = (np.asarray(got["cell"])[keep], np.asarray(got[col])[keep].astype(np.int64), np.asarray(got["n"])[keep].astype(np.int64))
    return cells, np.asarray(got["slot"])[by_slot].astype(np.int64), np.asarray(got["n"])[by_slot].astype(np.int64)


def _cell_stats(by: dict[str, tuple[np.ndarray, ...]], percentiles: Sequence[float]) -> tuple[CellStats, ...]:
    """Per-cell statistics from the length counts; the percentiles are exact (see `exact_percentiles`)."""
    out = []
    for cell in np.unique(by["i"][0]):
        stats = {}
        for col in ("i", "o"):
            keys, values, counts = by[col]
            lo, hi = np.searchsorted(keys, cell, "left"), np.searchsorted(keys, cell, "right")
            stats[col] = (values[lo:hi], counts[lo:hi])
        (iv, ic), (ov, oc) = stats["i"], stats["o"]
        n = int(ic.sum())
        out.append(CellStats(int(cell), n, float(iv @ ic) / n, float(ov @ oc) / n, int(iv[-1]), int(ov[-1]),
                             exact_percentiles(iv, ic, [99])[0], exact_percentiles(iv, ic, percentiles),
                             exact_percentiles(ov, oc, percentiles)))
    return tuple(out)


def exact_percentiles(values: np.ndarray, counts: np.ndarray, qs: Sequence[float]) -> tuple[float, ...]:
    """np.percentile (linear interpolation) of the sample where sorted `values[k]` occurs `counts[k]` times."""
    cum = np.cumsum(counts)
    pos = np.asarray(qs, dtype=float) / 100 * (cum[-1] - 1)
    lo = np.floor(pos).astype(np.int64)
    x_lo = values[np.searchsorted(cum, lo, side="right")]
    x_hi = values[np.searchsorted(cum, np.minimum(lo + 1, cum[-1] - 1), side="right")]
    return tuple((x_lo + (pos - lo) * (x_hi - x_lo)).tolist())
