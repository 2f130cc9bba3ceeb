"""One serving replica as vLLM schedules it: iteration-level continuous batching over paged KV blocks.

Each scheduling round either prefills newly admitted requests (decode pauses, as in vLLM without chunked
prefill), runs one mixed step (chunked prefill: decode tokens plus prompt chunks within a token budget),
or runs k decode steps with an unchanged batch in one numpy expression. A run ends at the first
completion, at the first step that would need a KV block that is not free, or is cut at the first step
boundary after a new arrival. When the next token has no KV block the newest sequence is preempted and
recomputed later (docs/methodology.md, "Simulator").

Speed: every running sequence gains one token per decode step, so the batch is stored relative to a
per-replica token counter `off` (context = base + off, remaining = done_at - off). A run of k steps then
moves one integer instead of rewriting two arrays, and the batch's context sum and next completion are
kept as integers that change only when a sequence joins or leaves (docs/simulator.md, "Measured: speed").
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.simulate.steps import StepModel

WATERMARK = 0.01
"""Share of KV blocks vLLM keeps free when admitting a prompt (BlockSpaceManager watermark)."""
IDLE, DECODE, STEP = 0, 1, 2
EMPTY = np.empty(0, dtype=np.int64)
NEVER = 2**62
"""`next_done` of an empty batch."""


@dataclass
class RequestLog:
    """Per-request inputs and what happened to each request (NaN = not yet)."""

    arrival: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    remaining: np.ndarray = field(init=False)
    admitted: np.ndarray = field(init=False)
    first_token: np.ndarray = field(init=False)
    finish: np.ndarray = field(init=False)
    preemptions: np.ndarray = field(init=False)
    replica: np.ndarray = field(init=False)

    OUTCOMES = ("remaining", "admitted", "first_token", "finish", "preemptions", "replica")
    """The fields the simulation writes (copied back from a pool run in another process)."""

    def __post_init__(self) -> None:
        n = len(self.arrival)
        self.remaining = self.output.astype(np.int64).copy()
        self.admitted, self.first_token, self.finish = (np.full(n, np.nan) for _ in range(3))
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.replica = np.full(n, -1, dtype=np.int64)


def blocks_needed(model: StepModel, tokens: np.ndarray | int) -> np.ndarray | int:
    """KV blocks a sequence of `tokens` holds: its pages, or the contiguous reservation."""
    if model.reserve_blocks:
        return model.reserve_blocks + 0 * tokens
    return -(-tokens // model.block_size)


class Replica:
    """Scheduler state of one replica; plain numpy arrays for the running batch."""

    def __init__(self, model: StepModel, log: RequestLog, chunked: bool, record: bool) -> None:
        self.m, self.log, self.chunked = model, log, chunked
        self.waiting: deque[int] = deque()
        self.ids, self.base, self.done_at = EMPTY, EMPTY, EMPTY
        self.off = self.base_sum = 0
        self.next_done = NEVER
        self.pre: list[list[int]] = []  # [request, prefilled tokens, tokens to prefill, blocks held]
        self.pre_blocks = self.blocks_used = 0
        self.kind, self.t0, self.end = IDLE, 0.0, np.inf
        self.ends, self.chunks = np.empty(0), []
        self.watermark = int(WATERMARK * model.kv_blocks)
        self.busy_s = self.kv_block_s = 0.0
        self.kv_peak = self.steps = self.preemptions = self.served = 0
        self.timeline: list[tuple[float, int, int, int]] | None = [] if record else None

    @property
    def ctx(self) -> np.ndarray:
        """KV tokens of each running sequence."""
        return self.base + self.off

    @property
    def rem(self) -> np.ndarray:
        """Output tokens each running sequence still has to produce."""
        return self.done_at - self.off

    @property
    def load(self) -> int:
        return len(self.ids) + len(self.waiting) + len(self.pre)

    def _keep(self, keep: np.ndarray) -> None:
        """Drop the running sequences outside the mask `keep` (completed or preempted) and free their blocks."""
        self.ids, self.base, self.done_at = self.ids[keep], self.base[keep], self.done_at[keep]
        self.base_sum = int(self.base.sum())
        self.next_done = int(self.done_at.min()) if len(self.ids) else NEVER
        self._recount()

    def _recount(self) -> None:
        """Blocks held now: the running sequences' pages (or reservations) plus prompts being prefilled."""
        m = self.m
        if m.reserve_blocks:
            self.blocks_used = m.reserve_blocks * len(self.ids) + self.pre_blocks
        else:
            bs = m.block_size
            self.blocks_used = int(((self.base + (self.off + bs - 1)) // bs).sum()) + self.pre_blocks

    def _record(self, t: float) -> None:
        if self.timeline is not None:
            self.timeline.append((t, len(self.waiting), len(self.ids) + len(self.pre), self.blocks_used))

    def arrive(self, rid: int, t: float) -> float:
        """Queue request `rid` at time `t`; returns the (possibly new) end of the current run."""
        blocked = bool(self.waiting) or bool(self.pre)
        self.waiting.append(rid)
        if self.kind == IDLE:
            return self.plan(t)
        if self.kind == DECODE and not blocked:
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
        if self.kind == DECODE:
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
            batch = len(self.ids)
            self.ends = self.m.decode_run(batch, self.base_sum + batch * self.off, k).cumsum()
            self.ends += t
            self.kind, self.end = DECODE, float(self.ends[-1])
        else:
            self.kind, self.end = IDLE, np.inf
        return self.end

    def _fit_decode(self) -> tuple[int, bool]:
        """Decode steps until the next completion that the free KV blocks allow, preempting the newest
        sequences until one step fits."""
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

    def _admit(self, t: float) -> None:
        """Move waiting requests into prefill while sequences, KV blocks (above the watermark) and tokens allow."""
        log, m, chunked = self.log, self.m, self.chunked
        budget = m.token_budget - len(self.ids) if chunked else m.token_budget
        budget -= sum(p[2] - p[1] for p in self.pre)
        free = m.kv_blocks - self.blocks_used - self.watermark
        if chunked and not m.reserve_blocks and len(self.ids):  # the mixed step also appends one token per running sequence
            free -= int((self.ctx % m.block_size == 0).sum())
        while self.waiting and len(self.ids) + len(self.pre) < m.max_seqs:
            rid = self.waiting[0]
            tokens = int(log.prompt[rid] + log.output[rid] - log.remaining[rid])
            need = int(blocks_needed(m, tokens))
            fits_budget = budget > 0 if chunked else (tokens <= budget or not self.pre)
            if need > free or not fits_budget:
                break
            self.waiting.popleft()
            self.pre.append([rid, 0, tokens, need])
            self.pre_blocks += need
            self.blocks_used += need
            free -= need
            budget -= tokens
            if math.isnan(log.admitted[rid]):
                log.admitted[rid] = t

    def _plan_step(self, t: float) -> None:
        """One step that prefills (chunks of) the admitted prompts, plus one decode token each when chunked."""
        m, batch = self.m, len(self.ids)
        todo = [p[2] - p[1] for p in self.pre]
        if self.chunked:  # prompts in admission order fill the budget left after one token per running sequence
            room, before, clipped = max(m.token_budget - batch, 1), 0, []
            for n in todo:
                clipped.append(min(max(room - before, 0), n))
                before += n
            todo = clipped
        tokens = [n for n in todo if n > 0]
        prior = [p[1] for p, n in zip(self.pre, todo) if n > 0]
        if self.chunked:
            seconds = m.mixed_time(batch, self.base_sum + batch * self.off + batch, tokens, prior)
        else:
            seconds = m.prefill_time(tokens, prior)
        self.kind, self.chunks, self.end = STEP, todo, t + seconds

    def _commit_step(self) -> None:
        end = self.end
        start_blocks = self.blocks_used
        if self.chunked and len(self.ids):
            self.off += 1
            self._recount()
        done_prefill = []
        for p, chunk in zip(self.pre, self.chunks):
            p[1] += chunk
            if p[1] >= p[2]:
                done_prefill.append(p)
        if done_prefill:
            self._join(done_prefill, end)
        self._account(end, 1, start_blocks)
        self._complete(end)

    def _join(self, prefilled: list[list[int]], end: float) -> None:
        """Prefilled prompts join the running batch with their first token; their blocks move with them
        (a prompt of n tokens held ceil(n/block) blocks, as its sequence does), so blocks_used is unchanged."""
        log, off = self.log, self.off
        self.pre = [p for p in self.pre if p[1] < p[2]]
        rids, base, done_at = [], [], []
        for rid, _, tokens, blocks in prefilled:
            self.pre_blocks -= blocks
            if math.isnan(log.first_token[rid]):
                log.first_token[rid] = end
            rids.append(rid)
            base.append(tokens - off)
            done_at.append(int(log.remaining[rid]) - 1 + off)
        self.ids = np.concatenate((self.ids, rids)).astype(np.int64, copy=False)
        self.base = np.concatenate((self.base, base)).astype(np.int64, copy=False)
        self.done_at = np.concatenate((self.done_at, done_at)).astype(np.int64, copy=False)
        self.base_sum += sum(base)
        self.next_done = min(self.next_done, min(done_at))

    def _commit_decode(self, j: int) -> None:
        """Apply the first `j` decode steps of the current run."""
        end = float(self.ends[j - 1])
        start_blocks = self.blocks_used
        self.off += j
        self._recount()
        self._account(end, j, start_blocks)
        self._complete(end)

    def _account(self, end: float, steps: int, start_blocks: int) -> None:
        """Busy time, KV block-seconds (trapezoid over the run) and peak blocks, before completions free any."""
        blocks = self.blocks_used
        self.busy_s += end - self.t0
        self.kv_block_s += 0.5 * (start_blocks + blocks) * (end - self.t0)
        if blocks > self.kv_peak:
            self.kv_peak = blocks
        self.steps += steps

    def _complete(self, end: float) -> None:
        if self.next_done <= self.off:
            done = self.done_at <= self.off
            rids = self.ids[done]
            self.log.finish[rids] = end
            self.log.remaining[rids] = 0
            self.served += len(rids)
            self._keep(~done)
        self.kind = IDLE
