"""Request-size buckets: half-open ranges of prompt and output tokens with the length statistics the
capacity model needs. Buckets hold no rates: how much traffic each gets lives in planner.demand.series."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OPEN = 1 << 40
"""Upper edge of an open-ended bucket (2^40 tokens: larger than any context window)."""
LENGTH_PERCENTILES = tuple(range(5, 100, 10))
"""Percentiles of input and output length kept per bucket (5th, 15th, ..., 95th: ten equal-weight classes):
short outputs and long interrupting prompts dominate the p99 TPOT."""
Rect = tuple[int, int, int, int]
"""A bucket's half-open token ranges: (input_lo, input_hi, output_lo, output_hi)."""


def bucket_label(rect: Rect) -> str:
    """`in 512-2047 / out 1-255` (`8192+` when open-ended)."""
    def rng(lo: int, hi: int) -> str:
        return f"{lo}+" if hi >= OPEN else f"{lo}-{hi - 1}"

    return f"in {rng(rect[0], rect[1])} / out {rng(rect[2], rect[3])}"


def locate_rectangles(rects: Sequence[Rect], input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """Index of the first rectangle containing each request (-1 where none does)."""
    idx = np.full(input_tokens.shape, -1, dtype=np.int64)
    for b, (ilo, ihi, olo, ohi) in enumerate(rects):
        inside = (idx < 0) & (input_tokens >= ilo) & (input_tokens < ihi) & (output_tokens >= olo) & (output_tokens < ohi)
        idx[inside] = b
    return idx


def overlap(a: Rect, b: Rect) -> float:
    """Number of (input, output) length pairs two buckets share."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[2], b[2]))


@dataclass(frozen=True)
class Bucket:
    """Requests with input in [input_lo, input_hi) and output in [output_lo, output_hi) tokens."""

    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    share: float
    """Fraction of the traffic's requests in this bucket."""
    input_mean: float
    output_mean: float
    input_p99: float
    """Long-prompt tail of the bucket: sets the TTFT a bucket must meet."""
    input_max: int
    output_max: int
    output_q: tuple[float, ...] = ()
    """Output lengths at LENGTH_PERCENTILES (equal-weight classes for the TPOT tail)."""
    input_q: tuple[float, ...] = ()
    """Input lengths at the same percentiles (sizes of the prefills that interrupt decoding)."""

    @property
    def rect(self) -> Rect:
        return (self.input_lo, self.input_hi, self.output_lo, self.output_hi)

    @property
    def label(self) -> str:
        return bucket_label(self.rect)
