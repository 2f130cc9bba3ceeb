"""When and how a pool is replayed by the compiled loop (planner.simulate.compiled) instead of the Python one.

The compiled loop gives the same outcomes (the same floats) as router.run_pool's Python loop, about 20-50x
faster, but numba has to be imported (~0.5 s) and the loop loaded from its on-disk cache (or compiled
once, ~10-30 s, then cached beside the module): a pool of fewer than COMPILED_MIN_REQUESTS requests stays in
Python, so a small replay (what `planner solve` does by default) never waits for numba. It covers the
`serial` and `chunked` schedulers, both routing policies and dense models whose step times have the
closed forms in planner.simulate.steps; anything else (a timeline, MoE, speculative decoding, another
registered scheduler or policy) runs in Python.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from types import ModuleType

import numpy as np

from planner.simulate.request_log import RequestLog
from planner.simulate.schedulers.base import WATERMARK, ReplicaScheduler
from planner.simulate.steps import StepModel

COMPILED_MIN_REQUESTS = 20_000
"""Smallest pool the compiled loop replays by default: the Python loop replays ~5-15k requests/s on this
2-core machine, so below this it finishes in about the time numba takes to import and load its cache."""
CHUNK = 50_000
"""Arrivals per call of the compiled loop: between calls `progress` is told how far the pool is."""
_SCHEDULERS = {"serial": 0, "chunked": 1}
_POLICIES = {"least-loaded": 0, "round-robin": 1}

Progress = Callable[[int], None]
"""Called with the number of a pool's requests routed so far (planner.simulate.progress)."""


def compiled_supported(model: StepModel, scheduler: str, policy: str, record: bool) -> bool:
    """Whether the compiled loop replays this pool exactly like the Python one."""
    return (not record and scheduler in _SCHEDULERS and policy in _POLICIES and model.mixed is not None
            and not model.mixed.moe and model.prefill is not None)


def use_compiled(model: StepModel, scheduler: str, policy: str, record: bool, requests: int, compiled: bool | None) -> bool:
    """`compiled` when given (True must be supported), else supported and at least COMPILED_MIN_REQUESTS requests."""
    supported = compiled_supported(model, scheduler, policy, record)
    if compiled is None:
        return supported and requests >= COMPILED_MIN_REQUESTS
    if compiled and not supported:
        raise ValueError("the compiled replay covers the serial and chunked schedulers, both routing policies and dense "
                         "models without speculative decoding, and records no timeline")
    return compiled


def compiled_module() -> ModuleType:
    """planner.simulate.compiled, imported so that numba can cache it: numba keeps compiled code in the package's
    __pycache__, else in the user's cache folder (or NUMBA_CACHE_DIR when set), and refuses to import a module of
    `cache=True` functions when none of them is writable (a read-only install run under a home without a
    writable cache folder). Then the cache goes to a folder under the system's temp folder instead."""
    try:
        from planner.simulate import compiled
    except RuntimeError as err:
        if "no locator available" not in str(err):
            raise
        import numba

        folder = os.path.join(tempfile.gettempdir(), f"planner-numba-{os.getuid()}")
        os.makedirs(folder, exist_ok=True)
        numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"] = folder  # the environment too: pool worker processes
        from planner.simulate import compiled
    return compiled


def run_compiled(model: StepModel, replicas: int, rids: np.ndarray, log: RequestLog, policy: str, scheduler: str,
                 make: type[ReplicaScheduler], progress: Progress | None = None) -> list[ReplicaScheduler]:
    """router.run_pool for requests `rids` on `replicas` replicas, by the compiled loop; writes the outcomes into
    `log` and returns replicas holding the run's accounting (busy time, KV block-seconds, peak, steps, ...)."""
    c = compiled_module()
    n = len(rids)
    seqs = model.max_seqs
    assert log.cached is not None  # set by RequestLog itself
    arrival, prompt, output, cached = (np.ascontiguousarray(a[rids]) for a in (log.arrival, log.prompt, log.output, log.cached))
    remaining, admitted, first_token, finish, preempts, replica = (
        np.ascontiguousarray(getattr(log, name)[rids]) for name in ("remaining", "admitted", "first_token", "finish", "preemptions", "replica"))
    ri = np.zeros((replicas, c.INT_FIELDS), dtype=np.int64)
    ri[:, c.NEXT_DONE] = c.NEVER
    rf = np.zeros((replicas, c.FLOAT_FIELDS))
    rf[:, c.END] = np.inf
    batch = [np.zeros((replicas, seqs), dtype=np.int64) for _ in range(8)]  # ids, base, done_at, pre_*, chunks
    ends = np.zeros((replicas, int(remaining.max(initial=1)) + 1))
    nxt = np.full(max(n, 1), -1, dtype=np.int64)
    geo = np.array([model.kv_blocks, model.block_size, model.reserve_blocks, model.max_seqs, model.token_budget,
                    int(WATERMARK * model.kv_blocks), _SCHEDULERS[scheduler], _POLICIES[policy]], dtype=np.int64)
    rows = np.array(model.rows, dtype=float)
    assert model.mixed is not None and model.prefill is not None  # compiled_supported
    one = np.array(model.prefill_one, dtype=float)  # a writable copy: a pool worker gets a read-only memmap, a 2nd compile
    constants = (rows, one, model.mixed.constants(), model.prefill.constants())
    def run(lo: int, hi: int) -> None:
        c.replay_pool(lo, hi, replicas, ri, rf, *batch, ends, nxt, geo, *constants, arrival, prompt, output, cached,
                      remaining, admitted, first_token, finish, preempts, replica)

    for lo in range(0, n, CHUNK):
        run(lo, min(lo + CHUNK, n))
        if progress is not None:
            progress(min(lo + CHUNK, n))
    # ReplicaScheduler.arrivals_ended at the last arrival, then the play-out
    busy_arriving = rf[:, c.BUSY] + np.where(ri[:, c.KIND] != c.IDLE, arrival[-1] - rf[:, c.T0], 0.0) if n else rf[:, c.BUSY]
    run(n, n)
    for name, values in (("remaining", remaining), ("admitted", admitted), ("first_token", first_token),
                         ("finish", finish), ("preemptions", preempts)):
        getattr(log, name)[rids] = values
    log.replica[rids] = replica
    fleet = []
    for r in range(replicas):
        rep = make(model, log, False)
        rep.busy_s, rep.kv_block_s = float(rf[r, c.BUSY]), float(rf[r, c.KVBS])
        if n:
            rep.busy_arriving_s, rep.last_arrival_s = float(busy_arriving[r]), float(arrival[-1])
        rep.kv_peak, rep.steps = int(ri[r, c.PEAK]), int(ri[r, c.STEPS])
        rep.preemptions, rep.served = int(ri[r, c.PREEMPT]), int(ri[r, c.SERVED])
        fleet.append(rep)
    return fleet
