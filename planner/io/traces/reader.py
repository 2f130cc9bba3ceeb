"""The trace reader: a validated trace (planner.io.traces.scan) as the in-memory Trace that replay needs.

Planning does not need the requests one by one: planner.io.traces.histogram reduces the same scan to
per-bucket statistics in SQL. Layouts are registered by the modules of this package
(planner.io.traces.layout); docs/workload.md, "Traces".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.io.traces.prefix import cached_prefix_tokens
from planner.io.traces.scan import BadRowPolicy, detect_format, scan_trace
from planner.io.traces.trace import Trace

__all__ = ["detect_format", "read_trace"]


def read_trace(path: str | Path, fmt: str = "auto", on_bad_rows: BadRowPolicy = "error", where: str | None = None) -> Trace:
    """Read a trace file (or glob) into arrays sorted by arrival (stable, so ties keep file order), starting at 0.

    Empty, unreadable or invalid traces are refused naming the file and the line of the first bad rows
    (`on_bad_rows`: planner.io.traces.scan.scan_trace). A trace with `hash_ids` or `cached_tokens` carries
    each request's prefix-cache hits (planner.io.traces.prefix).
    """
    with scan_trace(path, fmt, on_bad_rows, where, ordered=True) as scan:
        result = scan.con.execute("SELECT a, i, o FROM rows").fetchnumpy()
    arrival_s = np.asarray(result["a"], dtype=np.float64)
    inp, out = np.asarray(result["i"], np.int64), np.asarray(result["o"], np.int64)
    order = np.argsort(arrival_s, kind="stable") if arrival_s.size > 1 and bool((np.diff(arrival_s) < 0).any()) else None
    if order is not None:
        arrival_s, inp, out = arrival_s[order], inp[order], out[order]
    hits = cached_prefix_tokens(scan.files, scan.fmt, scan.layout, scan.columns)
    cached = None if hits is None else hits.cached
    return Trace(arrival_s - arrival_s[0], inp, out, scan.layout.name, skipped_rows=scan.skipped, cached_tokens=cached)
