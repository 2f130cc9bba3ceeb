"""One serving replica as vLLM schedules it: iteration-level continuous batching over paged KV blocks.

Each scheduling round either prefills newly admitted requests (decode pauses, as in vLLM without chunked
prefill), runs one mixed step (chunked prefill: decode tokens plus prompt chunks within a token budget),
or runs k decode steps with an unchanged batch in one numpy expression. A run ends at the first
completion, at the first step that would need a KV block that is not free, or is cut at the first step
boundary after a new arrival. When the next token has no KV block the newest sequence is preempted and
recomputed later (docs/methodology.md, "Simulator").
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.simulate.steps import StepModel

WATERMARK = 0.01
"""Share of KV blocks vLLM keeps free when admitting a prompt (BlockSpaceManager watermark)."""
IDLE, DECODE, STEP = 0, 1, 2
EMPTY = np.empty(0, dtype=np.int64)


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
        self.ids, self.ctx, self.rem = EMPTY, EMPTY, EMPTY
        self.pre: list[list[int]] = []  # [request, prefilled tokens, tokens to prefill, blocks held]
        self.pre_blocks = self.blocks_used = 0
        self.kind, self.t0, self.ends, self.chunks = IDLE, 0.0, np.empty(0), np.empty(0, dtype=np.int64)
        self.watermark = int(WATERMARK * model.kv_blocks)
        self.busy_s = self.kv_block_s = 0.0
        self.kv_peak = self.steps = self.preemptions = self.served = 0
        self.timeline: list[tuple[float, int, int, int]] | None = [] if record else None

    @property
    def load(self) -> int:
        return len(self.ids) + len(self.waiting) + len(self.pre)

    def _recount(self) -> None:
        """Blocks held now: the running sequences' pages (or reservations) plus prompts being prefilled."""
        self.blocks_used = int(blocks_needed(self.m, self.ctx).sum()) + self.pre_blocks

    def end_time(self) -> float:
        return float(self.ends[-1]) if self.kind != IDLE else np.inf

    def arrive(self, rid: int, t: float) -> float:
        """Queue request `rid` at time `t`; returns the (possibly new) end of the current run."""
        blocked = bool(self.waiting) or bool(self.pre)
        self.waiting.append(rid)
        if self.kind == IDLE:
            return self.plan(t)
        if self.kind == DECODE and not blocked:
            j = int(np.searchsorted(self.ends, t, side="left")) + 1
            if j < len(self.ends):
                end = float(self.ends[j - 1])
                self._commit_decode(j)
                return self.plan(end)
        if self.timeline is not None:
            self.timeline.append((t, len(self.waiting), len(self.ids) + len(self.pre), self.blocks_used))
        return self.end_time()

    def advance(self) -> float:
        """Finish the current run at its end time and plan the next one."""
        end = self.end_time()
        if self.kind == DECODE:
            self._commit_decode(len(self.ends))
        else:
            self._commit_step()
        return self.plan(end)

    def plan(self, t: float) -> float:
        """Schedule the next run starting at `t`; returns its end (inf when idle)."""
        kfit, preempted = self._fit_decode() if len(self.ids) else (0, False)
        if not preempted:  # vLLM schedules no prefill in a round that had to preempt
            self._admit(t)
        if self.timeline is not None:
            self.timeline.append((t, len(self.waiting), len(self.ids) + len(self.pre), self.blocks_used))
        self.t0 = t
        if self.pre:
            self._plan_step(t)
        elif len(self.ids):
            k = min(kfit, int(self.rem.min()))
            steps = self.m.decode_times(len(self.ids), int(self.ctx.sum()) + len(self.ids) * np.arange(1, k + 1))
            self.kind, self.ends = DECODE, t + np.cumsum(steps)
        else:
            self.kind = IDLE
            return np.inf
        return float(self.ends[-1])

    def _fit_decode(self) -> tuple[int, bool]:
        """Decode steps the free KV blocks allow, preempting the newest sequences until one step fits."""
        preempted = False
        while len(self.ids):
            horizon = int(self.rem.min())
            if self.m.reserve_blocks:
                return horizon, preempted
            bs, batch = self.m.block_size, len(self.ids)
            free = self.m.kv_blocks - self.blocks_used
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
        self.log.remaining[rid] = self.rem[i]
        self.log.preemptions[rid] += 1
        self.preemptions += 1
        keep = np.arange(len(self.ids)) != i
        self.ids, self.ctx, self.rem = self.ids[keep], self.ctx[keep], self.rem[keep]
        self.waiting.appendleft(rid)
        self._recount()

    def _admit(self, t: float) -> None:
        """Move waiting requests into prefill while sequences, KV blocks (above the watermark) and tokens allow."""
        log, m = self.log, self.m
        budget = m.token_budget - len(self.ids) if self.chunked else m.token_budget
        budget -= sum(p[2] - p[1] for p in self.pre)
        free = m.kv_blocks - self.blocks_used - self.watermark
        if self.chunked and not m.reserve_blocks:  # the mixed step also appends one token per running sequence
            free -= int((self.ctx % m.block_size == 0).sum())
        while self.waiting and len(self.ids) + len(self.pre) < m.max_seqs:
            rid = self.waiting[0]
            tokens = int(log.prompt[rid] + log.output[rid] - log.remaining[rid])
            need = int(blocks_needed(m, tokens))
            fits_budget = budget > 0 if self.chunked else (tokens <= budget or not self.pre)
            if need > free or not fits_budget:
                break
            self.waiting.popleft()
            self.pre.append([rid, 0, tokens, need])
            self.pre_blocks += need
            self.blocks_used += need
            free -= need
            budget -= tokens
            if np.isnan(log.admitted[rid]):
                log.admitted[rid] = t

    def _plan_step(self, t: float) -> None:
        """One step that prefills (chunks of) the admitted prompts, plus one decode token each when chunked."""
        m = self.m
        todo = np.array([p[2] - p[1] for p in self.pre], dtype=np.int64)
        prior = np.array([p[1] for p in self.pre], dtype=np.int64)
        if self.chunked:
            room = max(m.token_budget - len(self.ids), 1)
            before = np.concatenate(([0], np.cumsum(todo)[:-1]))
            todo = np.clip(room - before, 0, todo)
        take = todo > 0
        seconds = m.prefill_time(todo[take], prior[take])
        if self.chunked and len(self.ids):
            seconds += float(m.decode_times(len(self.ids), np.array([self.ctx.sum() + len(self.ids)]))[0]) - m.overhead_s
        self.kind, self.chunks, self.ends = STEP, todo, np.array([t + seconds])

    def _commit_step(self) -> None:
        end = float(self.ends[-1])
        start_blocks = self.blocks_used
        if self.chunked and len(self.ids):
            self.ctx, self.rem = self.ctx + 1, self.rem - 1
            self._recount()
        done_prefill = []
        for p, chunk in zip(self.pre, self.chunks.tolist()):
            p[1] += chunk
            if p[1] >= p[2]:
                done_prefill.append(p)
        if done_prefill:
            log = self.log
            rids = np.array([p[0] for p in done_prefill], dtype=np.int64)
            self.pre = [p for p in self.pre if p[1] < p[2]]
            self.pre_blocks -= sum(p[3] for p in done_prefill)
            first = np.isnan(log.first_token[rids])
            log.first_token[rids[first]] = end
            self.ids = np.concatenate((self.ids, rids))
            self.ctx = np.concatenate((self.ctx, [p[2] for p in done_prefill])).astype(np.int64)
            self.rem = np.concatenate((self.rem, log.remaining[rids] - 1)).astype(np.int64)
            self._recount()
        self._account(end, 1, start_blocks)
        self._complete(end)

    def _commit_decode(self, j: int) -> None:
        """Apply the first `j` decode steps of the current run."""
        end = float(self.ends[j - 1])
        start_blocks = self.blocks_used
        self.ctx, self.rem = self.ctx + j, self.rem - j
        self._recount()
        self._account(end, j, start_blocks)
        self._complete(end)

    def _account(self, end: float, steps: int, start_blocks: int) -> None:
        """Busy time, KV block-seconds (trapezoid over the run) and peak blocks, before completions free any."""
        blocks = self.blocks_used
        self.busy_s += end - self.t0
        self.kv_block_s += 0.5 * (start_blocks + blocks) * (end - self.t0)
        self.kv_peak = max(self.kv_peak, blocks)
        self.steps += steps

    def _complete(self, end: float) -> None:
        done = self.rem <= 0
        if done.any():
            rids = self.ids[done]
            self.log.finish[rids] = end
            self.log.remaining[rids] = 0
            self.served += len(rids)
            keep = ~done
            self.ids, self.ctx, self.rem = self.ids[keep], self.ctx[keep], self.rem[keep]
            self._recount()
        self.kind = IDLE
