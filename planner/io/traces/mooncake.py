"""Mooncake traces (kvcache-ai/Mooncake): `timestamp` in milliseconds, `input_length`, `output_length`."""
from __future__ import annotations

from planner.io.traces.layout import TraceLayout, register

MOONCAKE = register(TraceLayout("mooncake", "timestamp", "ms", "input_length", "output_length"))
