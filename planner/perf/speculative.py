"""Speculative decoding: a draft model proposes k tokens, the target verifies them in one step.

Per sequence, a round costs k draft decode steps plus one target step over k+1 tokens, and yields
on average (1 - a^(k+1)) / (1 - a) tokens for a per-token acceptance rate a (Leviathan et al.,
"Fast Inference from Transformers via Speculative Decoding", arXiv:2211.17192, eq. 1).
docs/methodology.md, section "Speculative decoding".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import PlannerError, suggest
from planner.schemas.catalog import LLM


@dataclass(frozen=True)
class SpecDecode:
    """A draft model, the tokens it proposes per round, and the per-token acceptance rate."""

    draft: LLM
    k: int
    acceptance: float

    def __post_init__(self) -> None:
        if self.k < 1:
            raise PlannerError(f"speculative decoding: k must be >= 1, got {self.k}")
        if not (0.0 <= self.acceptance < 1.0) or math.isnan(self.acceptance):
            raise PlannerError(f"speculative decoding: acceptance must be in [0, 1), got {self.acceptance}")

    @property
    def tokens_per_round(self) -> float:
        """Expected tokens a round emits (accepted draft tokens plus the target's own token)."""
        return expected_tokens_per_round(self.k, self.acceptance)


def expected_tokens_per_round(k: int, acceptance: float) -> float:
    """(1 - a^(k+1)) / (1 - a): 1 at a = 0, k + 1 as a -> 1."""
    if acceptance == 0.0:
        return 1.0
    return (1.0 - acceptance ** (k + 1)) / (1.0 - acceptance)


def parse_spec(text: str, models: dict[str, LLM]) -> SpecDecode:
    """Parse `DRAFT:K:ACCEPT` (e.g. `llama-3.2-1b:4:0.7`) against the model catalog."""
    parts = text.split(":")
    if len(parts) != 3:
        raise PlannerError(f"--spec-decode {text!r}: expected DRAFT:K:ACCEPT, e.g. llama-3-8b:4:0.7")
    draft_id, k_text, acc_text = parts
    if draft_id not in models:
        raise PlannerError(f"--spec-decode: unknown draft model {draft_id!r}{suggest(draft_id, models)}")
    try:
        k, acceptance = int(k_text), float(acc_text)
    except ValueError:
        raise PlannerError(f"--spec-decode {text!r}: K must be an integer and ACCEPT a number in [0, 1)") from None
    return SpecDecode(models[draft_id], k, acceptance)
