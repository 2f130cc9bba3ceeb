"""One serving replica as vLLM schedules it: iteration-level continuous batching over paged KV blocks.

ReplicaScheduler holds what every vLLM scheduler shares: the running batch, KV block accounting,
recompute preemption, decode runs, completion, and the per-replica accounting and timeline. What differs
between schedulers is how a round admits waiting prompts and what the step that prefills them is; a
subclass overrides only those hooks (planner.simulate.schedulers.serial: prefills as their own steps,
decode pauses, vLLM V0; planner.simulate.schedulers.chunked: prompt chunks ride in mixed steps with one
decode token per running sequence, vLLM V1).

Each scheduling round either runs one prefill/mixed step or k decode steps with an unchanged batch in
one numpy expression. A decode run ends at the first completion, at the first step that would need a KV
block that is not free, or is cut at the first step boundary after a new arrival. When the next token
has no KV block the newest sequence is preempted and recomputed later (docs/methodology.md, "Simulator").

Speed: every running sequence gains one token per decode step, so the batch is stored relative to a
per-replica token counter `off` (context = base + off, remaining = done_at - off). A run of k steps then
moves one integer instead of rewriting two arrays, and the batch's context sum and next completion are
kept as integers that change only when a sequence joins or leaves (docs/simulator.md, "Measured: speed").
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np

from planner.simulate.request_log import RequestLog
from planner.simulate.steps import StepModel

WATERMARK = 0.01
"""Share of KV blocks vLLM keeps free when admitting a prompt (BlockSpaceManager watermark)."""
EMPTY = np.empty(0, dtype=np.int64)
NEVER = 2**62
"""`next_done` of an empty batch."""
_sum, _min = np.add.reduce, np.minimum.reduce
"""ndarray.sum() and .min() without their Python wrapper (numpy._core._methods): ~1 us less per call, and the
loop makes ~5 of them per request."""


class RunKind(Enum):
    """What a replica is doing until its `end`."""

    IDLE = "idle"
    """Nothing to run; `end` is inf."""
    DECODE = "decode"
    """k decode steps of an unchanged batch; their end times are in `ends`."""
    STEP = "step"
    """One step that prefills (chunks of) the admitted prompts; the tokens of each are in `chunks`."""


IDLE, DECODE, STEP = RunKind.IDLE, RunKind.DECODE, RunKind.STEP
"""Module names for the members: reading an Enum member off its class costs ~0.15 us in Python 3.11 and
the run kind is read on every event."""


@dataclass(slots=True)
class Prefill:
    """An admitted prompt: `done` of its `tokens` are in the KV cache; it holds `blocks` KV blocks."""

    rid: int
    done: int
    tokens: int
    blocks: int


def blocks_needed(model: StepModel, tokens: np.ndarray | int) -> np.ndarray | int:
    """KV blocks a sequence of `tokens` holds: its pages, or the contiguous reservation."""
    if model.reserve_blocks:
        return model.reserve_blocks + 0 * tokens
    return -(-tokens // model.block_size)


class ReplicaScheduler(ABC):
    """Scheduler state of one replica; plain numpy arrays for the running batch.

    The event loop (planner.simulate.router.run_pool) calls `arrive` for each request routed here and
    `advance` when the current run reaches `end`; both return the new end. Subclasses define the
    admission budget (`_prompt_budget`, `_fits_budget`, `_free_blocks`) and the prefill step
    (`_step_chunks`, `_step_seconds`, `_decode_in_step`), and register in planner.simulate.schedulers.
    """

    name: ClassVar[str]
    """The registry name (SimOptions.scheduler)."""

    def __init__(self, model: StepModel, log: RequestLog, record: bool) -> None:
        self.m, self.log = model, log
        self.waiting: deque[int] = deque()
        self.ids, self.base, self.done_at = EMPTY, EMPTY, EMPTY
        self.off = self.base_sum = 0
        self.next_done = NEVER
        self.pre: list[Prefill] = []
        self.pre_blocks = self.blocks_used = 0
        self.kind, self.t0, self.end = IDLE, 0.0, np.inf
        self.ends: np.ndarray = np.empty(0)
        self.chunks: list[int] = []
        self.watermark = int(WATERMARK * model.kv_blocks)
        self.busy_s = self.kv_block_s = 0.0
        self.busy_arriving_s, self.last_arrival_s = 0.0, math.nan  # busy time up to the pool's last arrival, and it
        self.kv_peak = self.steps = self.preemptions = self.served = 0
        # (time, waiting, running + prefilling, KV blocks held) at every scheduling decision, when recorded
        self.timeline: list[tuple[float, int, int, int]] | None = [] if record else None

    @property
    def ctx(self) -> np.ndarray:
        """KV tokens of each running sequence."""
        return self.base + self.off

    @property
    def load(self) -> int:
        """Requests on this replica (waiting, prefilling or running): what least-loaded routing compares."""
        return len(self.ids) + len(self.waiting) + len(self.pre)

    # Events -------------------------------------------------------------------------------------------

    def arrive(self, rid: int, t: float) -> float:
        """Queue request `rid` at time `t`; returns the (possibly new) end of the current run.

        A decode run with nothing else waiting is cut at the first step boundary after `t` so that the
        newcomer is admitted there, as vLLM's scheduler would at its next iteration.
        """
        blocked = bool(self.waiting) or bool(self.pre)
        self.waiting.append(rid)
        if self.kind is IDLE:
            return self.plan(t)
        if self.kind is DECODE and not blocked:
            j = int(self.ends.searchsorted(t, "left")) + 1
            if j < len(self.ends):
                end = float(self.ends[j - 1])
                self._commit_decode(j)
                return self.plan(end)
        self._record(t)
        return self.end

    def advance(self) -> float:
        """Finish the current run at its end time and plan the next one."""
        end = self.end
        if self.kind is DECODE:
            self._commit_decode(len(self.ends))
        else:
            self._commit_step()
        return self.plan(end)

    def plan(self, t: float) -> float:
        """Schedule the next run starting at `t`; returns its end (inf when idle)."""
        k, preempted = self._fit_decode() if len(self.ids) else (0, False)
        if not preempted:  # vLLM schedules no prefill in a round that had to preempt
            self._admit(t)
        self._record(t)
        self.t0 = t
        if self.pre:
            self._plan_step(t)
        elif len(self.ids):
            self._plan_decode(t, k)
        else:
            self.kind, self.end = IDLE, np.inf
        return self.end

    # Decode runs and preemption -----------------------------------------------------------------------

    def _plan_decode(self, t: float, k: int) -> None:
        """A run of `k` decode steps of the running batch from `t` (one numpy expression)."""
        batch = len(self.ids)
        self.ends = self.m.decode_run(batch, self.base_sum + batch * self.off, k).cumsum()
        self.ends += t
        self.kind, self.end = DECODE, float(self.ends[-1])

    def _fit_decode(self) -> tuple[int, bool]:
        """Decode steps until the next completion that the free KV blocks allow, preempting the newest
        sequences until one step fits; returns (steps, whether any sequence was preempted)."""
        preempted = False
        m = self.m
        while len(self.ids):
            horizon = self.next_done - self.off
            if m.reserve_blocks:
                return horizon, preempted
            bs, batch = m.block_size, len(self.ids)
            free = m.kv_blocks - self.blocks_used
            if free >= batch * (horizon // bs + 1):
                return horizon, preempted
            first = np.sort((-self.ctx) % bs + 1)  # step at which each sequence needs its next block
            kmax = int(first[free % batch]) + (free // batch) * bs - 1
            if kmax >= 1:
                return min(kmax, horizon), preempted
            self._preempt_newest()
            preempted = True
        return 0, preempted

    def _preempt_newest(self) -> None:
        """Recompute preemption: drop the latest-arrived running sequence's KV, requeue it at the front."""
        i = int(np.argmax(self.log.arrival[self.ids]))
        rid = int(self.ids[i])
        self.log.remaining[rid] = self.done_at[i] - self.off
        self.log.preemptions[rid] += 1
        self.preemptions += 1
        self._keep(np.arange(len(self.ids)) != i)
        self.waiting.appendleft(rid)

    def _commit_decode(self, j: int) -> None:
        """Apply the first `j` decode steps of the current run."""
        end = float(self.ends[j - 1])
        start_blocks = self.blocks_used
        self.off += j
        self._recount()
        self._account(end, j, start_blocks)
        self._complete(end)

    # Admission ----------------------------------------------------------------------------------------

    def _admit(self, t: float) -> None:
        """Move waiting requests (front first) into prefill while sequences, KV blocks above the watermark
        and the step's token budget allow; a preempted request comes back with its generated tokens."""
        if not self.waiting:
            return
        log, m = self.log, self.m
        budget = self._prompt_budget() - sum(p.tokens - p.done for p in self.pre)
        prompt, output, remaining, cached = log.prompt, log.output, log.remaining, log.cached
        reserve, bs = m.reserve_blocks, m.block_size
        free = self._free_blocks()
        while self.waiting and len(self.ids) + len(self.pre) < m.max_seqs:
            rid = self.waiting[0]
            tokens = int(prompt[rid] + output[rid] - remaining[rid])
            hit = min(int(cached[rid]), tokens - 1)  # the cached prefix holds KV blocks but needs no compute
            need = reserve if reserve else -(-tokens // bs)  # blocks_needed, inlined: this runs once per admission
            if need > free or not self._fits_budget(tokens - hit, budget):
                break
            self.waiting.popleft()
            self.pre.append(Prefill(rid, hit, tokens, need))
            self.pre_blocks += need
            self.blocks_used += need
            free -= need
            budget -= tokens - hit
            if math.isnan(log.admitted[rid]):
                log.admitted[rid] = t

    @abstractmethod
    def _prompt_budget(self) -> int:
        """Tokens the next prefill step has for prompts, before those already admitted take theirs."""

    @abstractmethod
    def _fits_budget(self, tokens: int, budget: int) -> bool:
        """Whether a prompt of `tokens` is admitted when `budget` tokens are left this round."""

    def _free_blocks(self) -> int:
        """KV blocks a new prompt may take: those free above vLLM's admission watermark."""
        return self.m.kv_blocks - self.blocks_used - self.watermark

    # The prefill (or mixed) step ----------------------------------------------------------------------

    def _plan_step(self, t: float) -> None:
        """One step from `t` that prefills this round's chunk of each admitted prompt."""
        chunks = self._step_chunks()
        tokens = [n for n in chunks if n > 0]
        prior = [p.done for p, n in zip(self.pre, chunks) if n > 0]
        self.kind, self.chunks, self.end = STEP, chunks, t + self._step_seconds(tokens, prior)

    @abstractmethod
    def _step_chunks(self) -> list[int]:
        """Tokens of each admitted prompt (in `pre` order) that the next step prefills (0 = none)."""

    @abstractmethod
    def _step_seconds(self, tokens: list[int], prior: list[int]) -> float:
        """Seconds of the step prefilling chunks of `tokens[i]` on top of `prior[i]` cached tokens."""

    @abstractmethod
    def _decode_in_step(self) -> None:
        """What the running batch does during a prefill step (applied when the step commits)."""

    def _commit_step(self) -> None:
        """Apply the prefill step: the batch's share of it, then the chunks; finished prompts join."""
        end = self.end
        start_blocks = self.blocks_used
        self._decode_in_step()
        prefilled = []
        for p, chunk in zip(self.pre, self.chunks):
            p.done += chunk
            if p.done >= p.tokens:
                prefilled.append(p)
        if prefilled:
            self._join(prefilled, end)
        self._account(end, 1, start_blocks)
        self._complete(end)

    def _join(self, prefilled: list[Prefill], end: float) -> None:
        """Prefilled prompts join the running batch with their first token; their blocks move with them
        (a prompt of n tokens held ceil(n/block) blocks, as its sequence does), so blocks_used is unchanged."""
        log, off = self.log, self.off
        self.pre = [p for p in self.pre if p.done < p.tokens]
        rids, base, done_at = [], [], []
        for p in prefilled:
            self.pre_blocks -= p.blocks
            if math.isnan(log.first_token[p.rid]):
                log.first_token[p.rid] = end
            rids.append(p.rid)
            base.append(p.tokens - off)
            done_at.append(int(log.remaining[p.rid]) - 1 + off)
        self.ids = np.concatenate((self.ids, rids)).astype(np.int64, copy=False)
        self.base = np.concatenate((self.base, base)).astype(np.int64, copy=False)
        self.done_at = np.concatenate((self.done_at, done_at)).astype(np.int64, copy=False)
        self.base_sum += sum(base)
        self.next_done = min(self.next_done, min(done_at))

    # Batch bookkeeping and accounting -----------------------------------------------------------------

    def _keep(self, keep: np.ndarray) -> None:
        """Drop the running sequences outside the mask `keep` (completed or preempted) and free their blocks."""
        self.ids, self.base, self.done_at = self.ids[keep], self.base[keep], self.done_at[keep]
        self.base_sum = int(_sum(self.base))
        self.next_done = int(_min(self.done_at)) if len(self.ids) else NEVER
        self._recount()

    def _recount(self) -> None:
        """Blocks held now: the running sequences' pages (or reservations) plus prompts being prefilled."""
        m = self.m
        if m.reserve_blocks:
            self.blocks_used = m.reserve_blocks * len(self.ids) + self.pre_blocks
        else:
            bs = m.block_size
            self.blocks_used = int(_sum((self.base + (self.off + bs - 1)) // bs)) + self.pre_blocks

    def arrivals_ended(self, t: float) -> None:
        """Note the busy time up to `t`, the pool's last arrival: the replay's busy share over the arrival window,
        which a drain of long outputs after it does not dilute. The run in progress started at t0 and counts to
        `t`; t0 > t when `arrive` cut a decode run at its first step boundary after `t`, which was then
        accounted to t0, so the overhang is taken off."""
        self.busy_arriving_s = self.busy_s + (t - self.t0 if self.kind is not IDLE else 0.0)
        self.last_arrival_s = t

    def _account(self, end: float, steps: int, start_blocks: int) -> None:
        """Busy time, KV block-seconds (trapezoid over the run) and peak blocks, before completions free any."""
        blocks = self.blocks_used
        self.busy_s += end - self.t0
        self.kv_block_s += 0.5 * (start_blocks + blocks) * (end - self.t0)
        if blocks > self.kv_peak:
            self.kv_peak = blocks
        self.steps += steps

    def _complete(self, end: float) -> None:
        """Retire the sequences that produced their last token by `end`; the replica is idle until planned."""
        if self.next_done <= self.off:
            done = self.done_at <= self.off
            rids = self.ids[done]
            self.log.finish[rids] = end
            self.log.remaining[rids] = 0
            self.served += len(rids)
            self._keep(~done)
        self.kind = IDLE

    def _record(self, t: float) -> None:
        """Append a timeline row (planner.report.timeline plots the busiest replica's)."""
        if self.timeline is not None:
            self.timeline.append((t, len(self.waiting), len(self.ids) + len(self.pre), self.blocks_used))
