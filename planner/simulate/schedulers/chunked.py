"""vLLM V1 scheduling (chunked prefill): every step decodes the running batch and fills the rest of
max_num_batched_tokens with prompt chunks, so decode never pauses for a long prompt.

A round admits waiting prompts while the step has tokens left after one per running sequence; prompts
take the remaining budget in admission order and a prompt longer than it is prefilled over several steps
on top of its cached chunks. Admission also keeps free the KV blocks the running sequences' decode
tokens of this step open.
"""
from __future__ import annotations

import numpy as np

from planner.simulate.schedulers.base import ReplicaScheduler

_count = np.count_nonzero


class ChunkedScheduler(ReplicaScheduler):
    """Mixed steps (decode tokens plus prompt chunks) while prompts are admitted, decode runs otherwise."""

    name = "chunked"

    def _prompt_budget(self) -> int:
        """The token budget less one decode token per running sequence."""
        return self.m.token_budget - len(self.ids)

    def _fits_budget(self, tokens: int, budget: int) -> bool:
        """Any token left: the prompt's first chunk takes what there is."""
        return budget > 0

    def _free_blocks(self) -> int:
        """Free blocks above the watermark, less a new block for each running sequence whose decode token
        of the mixed step starts one (paged KV only: a contiguous reservation already holds it)."""
        free = super()._free_blocks()
        m = self.m
        if not m.reserve_blocks and len(self.ids):
            free -= int(_count((self.base + self.off) % m.block_size == 0))
        return free

    def _step_chunks(self) -> list[int]:
        """Prompts in admission order fill the budget left after one token per running sequence (at least
        one token, so a full batch still makes progress on its prompts)."""
        room, before, clipped = max(self.m.token_budget - len(self.ids), 1), 0, []
        for p in self.pre:
            n = p.tokens - p.done
            clipped.append(min(max(room - before, 0), n))
            before += n
        return clipped

    def _step_seconds(self, tokens: list[int], prior: list[int]) -> float:
        """One planner.perf.step.mixed_step: the batch's decode tokens (context after the step) plus the
        chunks (StepModel.mixed_time; a plain prefill step when nothing is running)."""
        batch = len(self.ids)
        return self.m.mixed_time(batch, self.base_sum + batch * self.off + batch, tokens, prior)

    def _decode_in_step(self) -> None:
        """Each running sequence gains its decode token of the mixed step (and maybe a KV block)."""
        if len(self.ids):
            self.off += 1
            self._recount()
