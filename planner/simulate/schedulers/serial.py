"""vLLM V0 scheduling: prefills are steps of their own and decode pauses while they run.

A round admits waiting prompts whole while their tokens fit max_num_batched_tokens (a prompt longer than
the budget is admitted alone, so it is never stuck), and the next step prefills all of them at once.
"""
from __future__ import annotations

from planner.simulate.schedulers.base import ReplicaScheduler


class SerialScheduler(ReplicaScheduler):
    """Prefill steps and decode runs alternate; a prefill step carries no decode tokens."""

    name = "serial"

    def _prompt_budget(self) -> int:
        """The whole token budget: the prefill step carries no decode tokens."""
        return self.m.token_budget

    def _fits_budget(self, tokens: int, budget: int) -> bool:
        """The whole prompt fits what is left, or it is the first prompt of the step."""
        return tokens <= budget or not self.pre

    def _step_chunks(self) -> list[int]:
        """Every admitted prompt is prefilled whole (a preempted one: prompt plus generated tokens)."""
        return [p.tokens - p.done for p in self.pre]

    def _step_seconds(self, tokens: list[int], prior: list[int]) -> float:
        """One planner.perf.step.prefill_step over the prompts (StepModel.prefill_time)."""
        return self.m.prefill_time(tokens, prior)

    def _decode_in_step(self) -> None:
        """Nothing: the running batch waits for the prefill step."""
