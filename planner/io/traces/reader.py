"""The trace reader: a validated trace (planner.io.traces.scan) as the in-memory Trace that replay needs.

Planning does not need the requests one by one: planner.io.traces.histogram reduces the same scan to
per-bucket statistics in SQL. Layouts are registered by the modules of this package
(planner.io.traces.layout); docs/workload.md, "Traces".

A small trace is read once per process: the demand scan (planner.demand.build) keeps the Trace it holds
(`keep_trace`), so `solve`'s replay of the plan does not parse the file a second time; the file's size and
modification time are part of the key, so an edited file is read again.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.io.traces.prefix import cached_prefix_tokens
from planner.io.traces.scan import BadRowPolicy, TraceScan, detect_format, scan_trace, trace_files
from planner.io.traces.trace import Trace

__all__ = ["KEEP_MAX_BYTES", "detect_format", "keep_trace", "read_trace"]
KEEP_MAX_BYTES = 4 * 2**20
"""Traces up to this many bytes on disk are kept after the demand scan: the example traces are 0.1-0.6 MB and
`solve` replays traces of up to 20,000 requests by default (planner.simulate.verify.REPLAY_MAX_REQUESTS), about
0.5 MB of CSV at ~25 bytes a row; a larger trace is re-read by the replay rather than held in memory."""
_KEPT: dict[tuple[object, ...], Trace] = {}
"""The one kept trace, by identity (planner.io.traces.reader._identity)."""


def read_trace(path: str | Path, fmt: str = "auto", on_bad_rows: BadRowPolicy = "error", where: str | None = None) -> Trace:
    """Read a trace file (or glob) into arrays sorted by arrival (stable, so ties keep file order), starting at 0.

    Empty, unreadable or invalid traces are refused naming the file and the line of the first bad rows
    (`on_bad_rows`: planner.io.traces.scan.scan_trace). A trace with `hash_ids` or `cached_tokens` carries
    each request's prefix-cache hits (planner.io.traces.prefix). The trace the demand scan kept is returned
    as it is (it had no bad rows, so every policy reads it the same).
    """
    files = trace_files(path, where)
    kept = _KEPT.get(_identity(files, detect_format(files[0], fmt)))
    if kept is not None:
        return kept
    with scan_trace(path, fmt, on_bad_rows, where, ordered=True) as scan:
        return trace_of(scan)


def trace_of(scan: TraceScan) -> Trace:
    """The Trace of a scan made with `ordered=True` (file order, so that ties of arrival keep it)."""
    result = scan.con.execute("SELECT a, i, o FROM rows").fetchnumpy()
    arrival_s = np.asarray(result["a"], dtype=np.float64)
    inp, out = np.asarray(result["i"], np.int64), np.asarray(result["o"], np.int64)
    order = np.argsort(arrival_s, kind="stable") if arrival_s.size > 1 and bool((np.diff(arrival_s) < 0).any()) else None
    if order is not None:
        arrival_s, inp, out = arrival_s[order], inp[order], out[order]
    hits = cached_prefix_tokens(scan.files, scan.fmt, scan.layout, scan.columns)
    cached = None if hits is None else hits.cached
    return Trace(arrival_s - arrival_s[0], inp, out, scan.layout.name, skipped_rows=scan.skipped, cached_tokens=cached)


def small_trace(files: list[Path]) -> bool:
    """Whether the files are small enough to keep (KEEP_MAX_BYTES); the demand scan then reads them in file order."""
    return sum(f.stat().st_size for f in files) <= KEEP_MAX_BYTES


def keep_trace(scan: TraceScan) -> None:
    """Keep the Trace of an ordered scan of a `small_trace` for the next `read_trace` of it (the replay), in place
    of the one kept before; not when rows were skipped (a replay under on_bad_rows error must refuse them)."""
    if scan.skipped:
        return
    _KEPT.clear()
    _KEPT[_identity(scan.files, scan.fmt)] = trace_of(scan)


def _identity(files: list[Path], fmt: str) -> tuple[object, ...]:
    """Format, then each file's resolved path, size and modification time (an edited file is a new trace)."""
    stats = [(str(f.resolve()), f.stat()) for f in files]
    return (fmt, *((name, s.st_size, s.st_mtime_ns) for name, s in stats))
