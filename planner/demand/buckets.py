"""Request-size buckets: half-open ranges of prompt and output tokens with the length statistics the
capacity model needs. Buckets hold no rates: how much traffic each gets lives in planner.demand.series."""
from __future__ import annotations

from dataclasses import dataclass

from planner.schemas.ranges import Rect, bucket_label

LENGTH_PERCENTILES = tuple(range(5, 100, 10))
"""Percentiles of input and output length kept per bucket (5th, 15th, ..., 95th: ten equal-weight classes):
short outputs and long interrupting prompts dominate the p99 TPOT."""


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
    cache_hit: float = 0.0
    """Share of the bucket's prompt tokens served from the prefix cache: they skip prefill compute but still
    occupy KV (docs/methodology.md, "Prefix caching")."""

    @property
    def rect(self) -> Rect:
        return (self.input_lo, self.input_hi, self.output_lo, self.output_hi)

    @property
    def label(self) -> str:
        return bucket_label(self.rect)
