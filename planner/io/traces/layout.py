"""Trace layouts: which columns hold the arrival time, the prompt length and the output length.

Each layout is one module in this package that calls `register`; the reader tries them in registration
order. A new layout (another provider's log format) is one new module plus an import in __init__.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TimeUnit = Literal["s", "ms", "datetime"]


@dataclass(frozen=True)
class TraceLayout:
    """Column names of one trace format and the unit of its arrival column."""

    name: str
    arrival: str
    unit: TimeUnit
    input_tokens: str
    output_tokens: str

    @property
    def columns(self) -> set[str]:
        return {self.arrival, self.input_tokens, self.output_tokens}

    def describe(self) -> str:
        return f"{self.arrival}, {self.input_tokens}, {self.output_tokens} ({self.name})"


LAYOUTS: list[TraceLayout] = []
"""Known layouts, in the order they are tried."""


def register(layout: TraceLayout) -> TraceLayout:
    LAYOUTS.append(layout)
    return layout
