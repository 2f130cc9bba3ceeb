"""Request-size ranges: half-open [lo, hi) token ranges of prompt and output, as workloads, profiles and
routing tables name them. planner.demand.buckets adds the length statistics of the traffic inside."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OPEN = 1 << 40
"""Upper edge of an open-ended bucket (2^40 tokens: larger than any context window)."""
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
