"""A request trace in memory: parallel numpy arrays, the one shape every reader returns."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Trace:
    """Requests sorted by arrival; arrival_s starts at 0."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    layout: str = "planner"
    skipped_rows: int = 0
    """Bad rows of the file left out under `on_bad_rows: skip|report` (counted, never silently dropped)."""
    cached_tokens: np.ndarray | None = None
    """Prompt tokens of each request already in the prefix cache (planner.io.traces.prefix), or None."""

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0

    def select(self, keep: np.ndarray) -> "Trace":
        """The requests where the boolean mask `keep` is true (order kept)."""
        cached = None if self.cached_tokens is None else self.cached_tokens[keep]
        return Trace(self.arrival_s[keep], self.input_tokens[keep], self.output_tokens[keep], self.layout, self.skipped_rows, cached)
