"""Request traces: the in-memory Trace, one module per file layout, and the DuckDB reader that detects them."""
from __future__ import annotations

from planner.io.traces import planner, azure2023, mooncake  # noqa: F401, I001 - registers the layouts in the order tried
from planner.io.traces.reader import detect_format, read_trace
from planner.io.traces.trace import Trace

__all__ = ["Trace", "detect_format", "read_trace"]
