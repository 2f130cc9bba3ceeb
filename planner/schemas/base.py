"""Shared pieces of every boundary schema: the strict immutable base model and constrained number types.

Defined once so that catalogs, workloads and plan documents refuse the same things the same way
(unknown keys, NaN, infinities, out-of-range fractions).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Confidence = Literal["high", "medium", "low"]


class Base(BaseModel):
    """Strict, immutable base: unknown keys are errors (usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(Base):
    """Every catalog figure names where it came from and when."""

    source: str = Field(min_length=3)
    date: str = Field(min_length=4)
    confidence: Confidence = "high"


