"""Request traces: the in-memory Trace, one module per file layout, and the DuckDB reader that detects them."""
from __future__ import annotations

from planner.io.traces import azure2023, mooncake, planner  # noqa: F401 - registers the layouts, in this order
from planner.io.traces.reader import detect_format, read_trace
from planner.io.traces.trace import Trace

__all__ = ["Trace", "detect_format", "read_trace"]
