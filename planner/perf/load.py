"""A replica's steady state at many load points at once (docs/methodology.md, "Capacity under SLO").

Every argument is an array over load points, which may belong to different buckets of one config (each
point carries its bucket's lengths), so a whole capacity row is one pass of numpy expressions:
  serial prefill:   lambda(N) = N / (O * T_decode(N) + N * T_prefill),  rho = lambda * T_prefill
  chunked prefill:  lambda(N) = N / (O * T_mixed(N, N * I / O)),        rho = lambda * I * T_mixed(N, room) / room
                    (room = budget - N: the prompts' share of the replica's time, steps full of chunks
                    clearing room prompt tokens each)
and, for chunked prefill, the full step T_mixed(N_hi, budget - N_hi) that bounds any request's TPOT.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from planner.perf.memory import ServingConfig
from planner.perf.step import StepConstants, StepTime, decode_step, mixed_step, prefill_step
from planner.perf.tail import queue_wait


@dataclass(frozen=True)
class Points:
    """Load points (mean live sequences N) and, per point, its bucket's figures."""

    grid: np.ndarray
    n_hi: np.ndarray
    """The p-quantile live batch: N + z sqrt(N) as given (a Poisson count), stalled_batch's once the load is known."""
    inp: np.ndarray
    out: np.ndarray
    context: np.ndarray
    input_p99: np.ndarray
    t_prefill: np.ndarray
    t_prefill_tail: np.ndarray
    bucket_classes: np.ndarray
    """(buckets, Q): each bucket's input classes (prompt sizes that interrupt decoding)."""
    seg: np.ndarray
    """Bucket (row of bucket_classes) of each point."""
    bucket_hit: np.ndarray
    """(buckets,): share of each bucket's prompt tokens served by the prefix cache (computed before, attended over)."""
    budget: np.ndarray
    """max_num_batched_tokens of each point's config (the chunk-budget search evaluates several at once)."""
    n_max: np.ndarray
    """The most sequences a step runs at each point (max_num_seqs where it caps the batch, else inf)."""

    @property
    def classes(self) -> np.ndarray:
        """(points, Q): the input classes of each point's bucket."""
        return self.bucket_classes[self.seg]

    @property
    def hit(self) -> np.ndarray:
        """Prefix-cache hit share at each point (its bucket's)."""
        return self.bucket_hit[self.seg]


@dataclass(frozen=True)
class Load:
    """Rate, prefill utilization, latency and the interruption model at each point."""

    rps: np.ndarray
    rho: np.ndarray
    """Prefill utilization: the share of the replica's time spent on prompts (chunked: at the rate steps full of
    prompt chunks clear them)."""
    ttft: np.ndarray
    tpot_floor: np.ndarray
    step: StepTime
    per_step: np.ndarray
    """(points, Q): time an interrupting prompt of each input class adds to each step it rides in."""
    steps: np.ndarray
    """(points, Q): steps it rides in."""
    mean_interrupt: np.ndarray
    gap_time: np.ndarray
    rho_tail: np.ndarray
    """rho as the busy-period model takes it (capped below 1 for chunked prefill)."""
    full_step: np.ndarray
    """Seconds of a step full of prompt chunks at the p-quantile batch, where the bucket's p99 prompt spans
    several steps (chunked prefill); 0 elsewhere and for serial prefill, whose interruptions the tail model counts."""
    step_cap: np.ndarray
    """(points,): the most prompt chunks can add to one step (a step full of them, `room` tokens, over the decode
    step): a backlog of prompts fills more steps, not longer ones (chunked prefill); inf for serial prefill."""
    n_hi: np.ndarray
    """(points,): the p-quantile live batch the figures are taken at (planner.perf.load.stalled_batch)."""
    n_kv: np.ndarray
    """(points,): the p-quantile live batch with its skew, which the KV cache must hold."""
    admission_wait: np.ndarray | None = None
    """(points,): the p-quantile wait for a running slot, in `ttft` (planner.perf.search.admission_wait); None: none."""


def stalled_batch(pts: Points, stall: np.ndarray) -> tuple[Points, np.ndarray]:
    """`pts` with the p-quantile live batch of a replica whose prompts stall every live sequence at once, and that
    quantile with the count's skew (what the KV cache must hold).

    Each arrival lengthens the time in which the others live by its stall (`stall` = rho_eff, the replica's time a
    prompt and the step time its sequence adds take, per second), and more arrive in that time: the live count is a
    Poisson number of clusters of Borel size, with variance N / (1 - rho_eff)^2 (measured in the simulator,
    benchmarks/batch_growth.md: 1.9-2.2 x N with the step times frozen, where 1 / (1 - rho)^2 is 1.98-2.25) and
    skewness (1 + 2 rho_eff) / ((1 - rho_eff) sqrt(N)) (1 / sqrt(N) for a Poisson count). The step figures are taken
    at N + z sigma (the batch the tail model was checked against the simulator with); the KV check at the
    Cornish-Fisher quantile N + sigma (z + (z^2 - 1) skew / 6), since a cache that fills stalls admissions for as
    long as its sequences take to finish."""
    rho = np.minimum(stall, MAX_STALL)
    n = np.maximum(pts.grid, 1e-12)
    z = (pts.n_hi - pts.grid) / np.sqrt(n)  # the Poisson quantile it was given: N + z sqrt(N)
    sigma = np.sqrt(n) / (1 - rho)
    skew = (1 + 2 * rho) / ((1 - rho) * np.sqrt(n))
    return (replace(pts, n_hi=np.minimum(pts.grid + sigma * z, pts.n_max)),
            np.minimum(pts.grid + sigma * (z + (z * z - 1) * skew / 6), pts.n_max))


MAX_STALL = 0.99
"""rho_eff at which the live batch's spread is capped (100x a Poisson count's: the batch check fails long before)."""

PREFILL_BATCH_ROUNDS = 3
"""Fixed-point rounds for the serial prefill batch (rate -> prompts per step -> rate): the batch moves the rate by a
few per cent, so the third round changes it by well under 0.1 %."""


def serial_load(cfg: ServingConfig, pts: Points, p: float) -> Load:
    """Prefills run as their own steps and pause decoding (vLLM without chunked prefill). The scheduler puts every
    waiting prompt (within the token budget) into one prefill step, so a step holds the prompts that arrived
    during the decode step before it, k = x / (1 - e^-x) of them on average given at least one (x = lambda
    T_decode, Poisson), and a prompt costs prefill(k prompts) / k: the step's fixed time is shared."""
    decode = decode_step(cfg, pts.grid, pts.context)
    t_decode = np.asarray(decode.total_s)
    new, cached = pts.inp * (1 - pts.hit), pts.inp * pts.hit
    share, k = np.ones_like(pts.grid), np.ones_like(pts.grid)  # a prompt's prefill time over its time alone
    for _ in range(PREFILL_BATCH_ROUNDS):
        x = pts.grid / (pts.out * t_decode + pts.grid * pts.t_prefill * share) * t_decode
        k = np.where(x > 1e-9, x / -np.expm1(-np.maximum(x, 1e-9)), 1.0)
        share = np.minimum(np.asarray(prefill_step(cfg, new, sequences=k, cached=cached).total_s) / (k * pts.t_prefill), 1.0)
    t_prompt = pts.t_prefill * share
    rps = pts.grid / (pts.out * t_decode + pts.grid * t_prompt)
    rho = rps * t_prompt
    grow = np.asarray(decode_step(cfg, pts.grid + 1, pts.context).total_s) - t_decode  # one more live sequence
    pts, n_kv = stalled_batch(pts, rps * (t_prompt + grow * pts.out / 2))
    t_decode_hi = np.asarray(decode_step(cfg, pts.n_hi, pts.context).total_s)
    hit = pts.bucket_hit[:, None]
    per_step = np.asarray(prefill_step(cfg, pts.bucket_classes * (1 - hit), cached=pts.bucket_classes * hit).total_s,
                          dtype=float)[pts.seg] * share[:, None]  # one prefill per class, its share of a batched step
    wait = queue_wait(rho, t_prompt, p)
    # own prefill (its batched step, bucket tail) and queueing are independent tails: combine their excess over the mean
    ttft = k * t_prompt + t_decode_hi + np.sqrt((pts.t_prefill_tail - pts.t_prefill) ** 2 + wait**2)
    return Load(rps, rho, ttft, t_decode_hi, decode, per_step, np.ones_like(per_step), t_prompt, t_decode, rho,
                np.zeros_like(rps), np.full_like(rps, np.inf), pts.n_hi, n_kv)


def chunked_load(cfg: ServingConfig | StepConstants, pts: Points, p: float) -> Load:
    """Chunked prefill (vLLM V1): every step carries one decode token per running sequence plus prompt
    tokens within max_num_batched_tokens. On average a step carries N * I / O prompt tokens; a prompt
    rides in ceil(I / room) steps, each slowed by its chunk (the interruption a decoding request sees).
    `cfg` may be StepConstants with one entry per point (several configs at once)."""
    wide = cfg.column() if isinstance(cfg, StepConstants) else cfg  # broadcasts against (points, k) arguments
    room = np.maximum(pts.budget - pts.grid, 1.0)
    hit = pts.hit
    new = pts.inp * (1 - hit)  # prompt tokens to compute; the cached prefix is attended over, not recomputed
    prompt, prompt_context = pts.grid * new / pts.out, pts.inp * (1 + hit) / 2
    step = mixed_step(cfg, pts.grid, pts.context, prompt, extra_context=prompt_context)
    t_step = np.asarray(step.total_s)
    rps = pts.grid / (pts.out * t_step)
    # Prefill utilization as a share of the replica's time, not of its token budget: a step that carries prompt
    # chunks is long (compute-bound), so prompts that use 3 % of the budget can hold 40 % of the time. At most the
    # replica computes `room` prompt tokens per step full of chunks, T_full(N, room); prompts arrive at rps * new
    # tokens/s, so rho = rps * new * T_full / room (M/G/1 utilization of that token server; queued prompts pack
    # into full steps, so this, not one step per prompt, is the rate at which the server clears them).
    t_full_mean = np.asarray(mixed_step(cfg, pts.grid, pts.context, room, extra_context=pts.inp * (1 + hit) / 2).total_s)
    rho = rps * new * t_full_mean / room
    t_decode = np.asarray(mixed_step(cfg, pts.grid, pts.context, 0.0).total_s)
    # One more live sequence slows the mean step (chunks included) by `grow`; a prompt stalls the decodes by what its
    # chunks add to their steps, not by the whole steps it rides in (planner.perf.load.stalled_batch).
    grow = np.asarray(mixed_step(cfg, pts.grid + 1, pts.context, prompt, extra_context=prompt_context).total_s) - t_step
    pts, n_kv = stalled_batch(pts, rho * (1 - t_decode / t_full_mean) + rps * grow * pts.out / 2)
    room_hi = np.maximum(pts.budget - pts.n_hi, 1.0)
    t_base = np.asarray(mixed_step(cfg, pts.n_hi, pts.context, 0.0).total_s)

    def added(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Time a prompt of `tokens` (points x k) adds to each step it rides in, and how many steps. Its chunks
        attend over the cached prefix and the chunks before them: on average over its steps, half its fresh
        tokens (attention per chunk is linear in the prefix, so the mean prefix gives the exact sum)."""
        fresh = tokens * (1 - hit[:, None])
        chunk = np.minimum(fresh, room_hi[:, None])
        heavy = np.asarray(mixed_step(wide, pts.n_hi[:, None], pts.context[:, None], chunk,
                                      extra_context=tokens * hit[:, None] + fresh / 2).total_s)
        return heavy - t_base[:, None], np.ceil(fresh / room_hi[:, None])

    def total(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A prompt's added time over its steps (what it costs the decoding requests beside it), and its own
        prefill time: every step it rides in, in full (it cannot finish sooner than its steps run)."""
        per_step, steps = added(tokens[:, None])
        return (per_step * steps)[:, 0], ((per_step + t_base[:, None]) * steps)[:, 0]

    own, service = total(pts.inp)
    per_step, steps = added(pts.classes)
    service_tail = total(pts.input_p99)[1]
    wait = queue_wait(rho, service, p)
    ttft = service + t_step + np.sqrt((service_tail - service) ** 2 + wait**2)
    # A prompt longer than the budget fills step after step with chunks, so a short-output request beside it (of
    # this bucket or of any other the MILP routes to the pool) may decode in full steps only; there the full step
    # must also be within the TPOT SLO. Chunks late in the bucket's p99 prompt attend over most of it. A backlog
    # of shorter prompts is the busy period the TPOT tail counts (planner.perf.tail: clusters of 1 / (1 - rho),
    # rho the share of time above, in steps of at most `cap` added time each), so it is not also a hard limit here.
    full = np.asarray(mixed_step(cfg, pts.n_hi, pts.context, room_hi,
                                 extra_context=np.maximum(pts.input_p99 - room_hi / 2, room_hi / 2)).total_s)
    fills = pts.input_p99 * (1 - hit) > room_hi
    # A step full of chunks of the bucket's mean prompt (its attention context as in `added`): what a backlog of
    # prompts adds to each step it fills.
    cap = np.asarray(mixed_step(cfg, pts.n_hi, pts.context, room_hi, extra_context=pts.inp * (1 + hit) / 2).total_s) - t_base
    return Load(rps, rho, ttft, t_base, step, per_step, steps, own, t_step, np.minimum(rho, 0.999), np.where(fills, full, 0.0),
                cap, pts.n_hi, n_kv)
