"""A disaggregated decode replica: prompts arrive with their KV cache already computed (by a prefill replica,
over the network), so admitting one costs KV blocks but no compute, and every step is a decode step.

Admission happens at step boundaries, as vLLM's scheduler admits a transferred request at its next iteration;
the request's first token leaves at admission (the prefill replica computed it). A request preempted here for
lack of KV blocks is re-admitted without recompute cost (the engine would re-fetch its KV; rare at the
planned load, and said in docs/simulator.md).
"""
from __future__ import annotations

from planner.simulate.schedulers.base import ReplicaScheduler


class DecodeScheduler(ReplicaScheduler):
    """Decode runs only; an admission round is a step of zero seconds that joins the arrived sequences."""

    name = "decode"

    def _prompt_budget(self) -> int:
        """No token budget: nothing is prefilled here."""
        return 2**62

    def _fits_budget(self, tokens: int, budget: int) -> bool:
        """Only KV blocks and max_num_seqs limit admission."""
        return True

    def _step_chunks(self) -> list[int]:
        """Every admitted prompt is complete on arrival."""
        return [p.tokens - p.done for p in self.pre]

    def _step_seconds(self, tokens: list[int], prior: list[int]) -> float:
        """The KV came over the network: joining the batch takes no GPU time."""
        return 0.0

    def _decode_in_step(self) -> None:
        """Nothing: the admission round is instantaneous."""
