"""The event loop of one pool (planner.simulate.router.run_pool) and its replica schedulers, compiled by numba.

The same algorithm as the Python path, statement for statement (router.run_pool's loop, schedulers.base,
serial and chunked), with per-replica state in arrays instead of objects: the running batch and the
admitted prompts as rows of `[replicas, max_num_seqs]` arrays kept in the Python path's order, the
waiting queues as one linked list over the pool's requests (a request waits on one replica at a time), a
decode run's step ends in a `[replicas, max output]` array. Every float is computed with the Python path's
operands in its order (no fast-math), so the outcomes are the same floats bit for bit;
tests/simulate/test_compiled.py pins them on traces with preemption, prefix hits and both schedulers.

Step times: decode from the StepModel's table (StepModel.decode_run's branches), a chunked step from
MixedStep's constants, a prefill step from the one-prompt table or PrefillStep's constants
(planner.simulate.steps). The heap of the Python loop is a scan over replicas for the smallest (end,
replica): with one live event per replica it pops the same events in the same order.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# per-replica integer state: columns of `ri`
OFF, BASE_SUM, NEXT_DONE, NRUN, NPRE, PRE_BLOCKS, USED, KIND, NENDS, HEAD, TAIL, NWAIT, PEAK, STEPS, PREEMPT, SERVED = range(16)
INT_FIELDS = 16
# per-replica float state: columns of `rf`
T0, END, BUSY, KVBS = range(4)
FLOAT_FIELDS = 4
IDLE, DECODE, STEP = 0, 1, 2
SERIAL, CHUNKED = 0, 1
LEAST_LOADED, ROUND_ROBIN = 0, 1
NEVER = 2**62
# geometry: entries of `geo`
KV_BLOCKS, BLOCK_SIZE, RESERVE, MAX_SEQS, TOKEN_BUDGET, WATERMARK_BLOCKS, SCHEDULER, POLICY = range(8)


@njit(cache=True)
def _mixed(c, batch, context, extra, extra_context):  # noqa: ANN001, ANN202
    """steps.MixedStep.__call__ for a dense model (constants in `c`, in MixedStep.constants() order)."""
    tokens = batch + extra
    kv_read = batch * context * c[0]
    attended = batch * context + extra * extra_context
    weights_s, kv_s = c[3] / c[4], (kv_read + c[2] * attended) / c[4]
    rows = tokens if tokens > 1.0 else 1.0
    matmul_s = ((c[8] * tokens + c[9] * batch) / c[10]) / (c[5] * rows / (rows + c[7]))
    attention_s = c[1] * attended / (c[6] * rows / (rows + c[7]))
    comm = c[11] * (c[13] + c[14] * (tokens * c[12] * 2.0) / c[15]) if c[10] > 1.0 else 0.0
    return (max(matmul_s, weights_s) + max(attention_s, kv_s)) + comm + c[16]


@njit(cache=True)
def _prefill(c, prompt, sequences):  # noqa: ANN001, ANN202
    """steps.PrefillStep.__call__: prefill_step(cfg, prompt, sequences).total_s (constants in `c`)."""
    tokens = prompt * sequences
    attended = (math.pow(prompt, c[17]) + 2 * prompt * 0.0) * sequences  # libm pow, as Python's prompt**2 (c[17] = 2.0)
    rows = tokens if tokens > 1.0 else 1.0
    weights_s, kv_s = c[3] / c[4], (tokens * c[0] + c[2] * attended) / c[4]
    matmul_s = ((c[8] * tokens + c[9] * sequences) / c[10]) / (c[5] * rows / (rows + c[7]))
    attention_s = c[1] * attended / (c[6] * rows / (rows + c[7]))
    comm = c[11] * (c[13] + c[14] * (tokens * c[12] * 2.0) / c[15]) if c[10] > 1.0 else 0.0 * c[11]
    return max(matmul_s, weights_s) + max(attention_s, kv_s) + comm + c[16]


@njit(cache=True)
def _prefill_time(r, k0, use, pre_done, chunks, one, pc):  # noqa: ANN001, ANN202
    """StepModel.prefill_time over the chunks of `pre` rows `use` (k0 of them) of replica r."""
    if k0 == 1 and pre_done[r, use[0]] == 0 and chunks[r, use[0]] < len(one):
        return one[chunks[r, use[0]]]
    total, square = 0, 0
    for i in range(k0):
        n, p = chunks[r, use[i]], pre_done[r, use[i]]
        total += n
        square += (p + n) ** 2 - p * p
    t, s = float(total), float(square)
    return _prefill(pc, s / t, t * t / s)


@njit(cache=True)
def _recount(r, ri, base, geo):  # noqa: ANN001, ANN202
    n = ri[r, NRUN]
    if geo[RESERVE]:
        ri[r, USED] = geo[RESERVE] * n + ri[r, PRE_BLOCKS]
        return
    bs, off, used = geo[BLOCK_SIZE], ri[r, OFF], 0
    for i in range(n):
        used += (base[r, i] + (off + bs - 1)) // bs
    ri[r, USED] = used + ri[r, PRE_BLOCKS]


@njit(cache=True)
def _keep(r, drop, ri, ids, base, done_at, geo):  # noqa: ANN001, ANN202
    """Remove the running rows where `drop` (order kept), then base_sum, next_done and the block count."""
    w, bsum, nd = 0, 0, NEVER
    for i in range(ri[r, NRUN]):
        if not drop[i]:
            ids[r, w], base[r, w], done_at[r, w] = ids[r, i], base[r, i], done_at[r, i]
            bsum += base[r, i]
            nd = min(nd, done_at[r, i])
            w += 1
    ri[r, NRUN], ri[r, BASE_SUM], ri[r, NEXT_DONE] = w, bsum, nd
    _recount(r, ri, base, geo)


@njit(cache=True)
def _account(r, end, steps, start_blocks, ri, rf):  # noqa: ANN001, ANN202
    blocks = ri[r, USED]
    rf[r, BUSY] += end - rf[r, T0]
    rf[r, KVBS] += 0.5 * (start_blocks + blocks) * (end - rf[r, T0])
    if blocks > ri[r, PEAK]:
        ri[r, PEAK] = blocks
    ri[r, STEPS] += steps


@njit(cache=True)
def _complete(r, end, ri, ids, base, done_at, geo, finish, remaining):  # noqa: ANN001, ANN202
    if ri[r, NEXT_DONE] <= ri[r, OFF]:
        n, off = ri[r, NRUN], ri[r, OFF]
        drop = np.zeros(n, dtype=np.bool_)
        for i in range(n):
            if done_at[r, i] <= off:
                drop[i] = True
                finish[ids[r, i]] = end
                remaining[ids[r, i]] = 0
                ri[r, SERVED] += 1
        _keep(r, drop, ri, ids, base, done_at, geo)
    ri[r, KIND] = IDLE


@njit(cache=True)
def _commit_decode(r, j, ri, rf, ids, base, done_at, ends, geo, finish, remaining):  # noqa: ANN001, ANN202
    end = ends[r, j - 1]
    start_blocks = ri[r, USED]
    ri[r, OFF] += j
    _recount(r, ri, base, geo)
    _account(r, end, j, start_blocks, ri, rf)
    _complete(r, end, ri, ids, base, done_at, geo, finish, remaining)


@njit(cache=True)
def _fit_decode(r, ri, ids, base, done_at, geo, arrival, remaining, preempts, nxt):  # noqa: ANN001, ANN202
    """ReplicaScheduler._fit_decode (with _preempt_newest); returns (steps, preempted)."""
    preempted = False
    bs = geo[BLOCK_SIZE]
    while ri[r, NRUN]:
        horizon = ri[r, NEXT_DONE] - ri[r, OFF]
        if geo[RESERVE]:
            return horizon, preempted
        batch = ri[r, NRUN]
        free = geo[KV_BLOCKS] - ri[r, USED]
        if free >= batch * (horizon // bs + 1):
            return horizon, preempted
        first = np.empty(batch, dtype=np.int64)
        for i in range(batch):
            first[i] = (bs - (base[r, i] + ri[r, OFF]) % bs) % bs + 1  # Python's (-ctx) % bs + 1 for ctx > 0
        first.sort()
        kmax = first[free % batch] + (free // batch) * bs - 1
        if kmax >= 1:
            return min(kmax, horizon), preempted
        i_new = 0
        for i in range(1, batch):
            if arrival[ids[r, i]] > arrival[ids[r, i_new]]:
                i_new = i
        rid = ids[r, i_new]
        remaining[rid] = done_at[r, i_new] - ri[r, OFF]
        preempts[rid] += 1
        ri[r, PREEMPT] += 1
        drop = np.zeros(batch, dtype=np.bool_)
        drop[i_new] = True
        _keep(r, drop, ri, ids, base, done_at, geo)
        nxt[rid] = ri[r, HEAD]  # appendleft
        if ri[r, NWAIT] == 0:
            ri[r, TAIL] = rid
        ri[r, HEAD] = rid
        ri[r, NWAIT] += 1
        preempted = True
    return 0, preempted


@njit(cache=True)
def _admit(r, t, ri, base, pre_rid, pre_done, pre_tok, pre_blk, geo, prompt, output, cached, remaining, admitted, nxt):  # noqa: ANN001, ANN202, E501
    """ReplicaScheduler._admit with the serial or chunked budget and free-block rules."""
    if ri[r, NWAIT] == 0:
        return
    chunked = geo[SCHEDULER] == CHUNKED
    budget = geo[TOKEN_BUDGET] - (ri[r, NRUN] if chunked else 0)
    for i in range(ri[r, NPRE]):
        budget -= pre_tok[r, i] - pre_done[r, i]
    free = geo[KV_BLOCKS] - ri[r, USED] - geo[WATERMARK_BLOCKS]
    if chunked and not geo[RESERVE]:
        bs, off = geo[BLOCK_SIZE], ri[r, OFF]
        for i in range(ri[r, NRUN]):
            if (base[r, i] + off) % bs == 0:
                free -= 1
    while ri[r, NWAIT] and ri[r, NRUN] + ri[r, NPRE] < geo[MAX_SEQS]:
        rid = ri[r, HEAD]
        tokens = prompt[rid] + output[rid] - remaining[rid]
        hit = min(cached[rid], tokens - 1)
        need = geo[RESERVE] if geo[RESERVE] else -(-tokens // geo[BLOCK_SIZE])
        fits = budget > 0 if chunked else (tokens - hit <= budget or ri[r, NPRE] == 0)
        if need > free or not fits:
            break
        ri[r, HEAD] = nxt[rid]
        ri[r, NWAIT] -= 1
        k = ri[r, NPRE]
        pre_rid[r, k], pre_done[r, k], pre_tok[r, k], pre_blk[r, k] = rid, hit, tokens, need
        ri[r, NPRE] = k + 1
        ri[r, PRE_BLOCKS] += need
        ri[r, USED] += need
        free -= need
        budget -= tokens - hit
        if np.isnan(admitted[rid]):
            admitted[rid] = t


@njit(cache=True)
def _plan(r, t, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one, mc, pc,  # noqa: ANN001, ANN202
          arrival, prompt, output, cached, remaining, admitted, preempts, nxt):
    """ReplicaScheduler.plan: the next run from `t`; returns its end."""
    k, preempted = 0, False
    if ri[r, NRUN]:
        k, preempted = _fit_decode(r, ri, ids, base, done_at, geo, arrival, remaining, preempts, nxt)
    if not preempted:
        _admit(r, t, ri, base, pre_rid, pre_done, pre_tok, pre_blk, geo, prompt, output, cached, remaining, admitted, nxt)
    rf[r, T0] = t
    npre, batch = ri[r, NPRE], ri[r, NRUN]
    if npre:
        use = np.empty(npre, dtype=np.int64)
        k0 = 0
        if geo[SCHEDULER] == CHUNKED:
            room, before = max(geo[TOKEN_BUDGET] - batch, 1), 0
            for i in range(npre):
                n = pre_tok[r, i] - pre_done[r, i]
                chunks[r, i] = min(max(room - before, 0), n)
                before += n
        else:
            for i in range(npre):
                chunks[r, i] = pre_tok[r, i] - pre_done[r, i]
        for i in range(npre):
            if chunks[r, i] > 0:
                use[k0] = i
                k0 += 1
        if geo[SCHEDULER] == CHUNKED and batch:
            total, square = 0, 0
            for i in range(k0):
                n, p = chunks[r, use[i]], pre_done[r, use[i]]
                total += n
                square += (p + n) ** 2 - p * p
            context_tokens = ri[r, BASE_SUM] + batch * ri[r, OFF] + batch
            seconds = _mixed(mc, float(batch), context_tokens / batch, float(total), square / (2.0 * total))
        else:
            seconds = _prefill_time(r, k0, use, pre_done, chunks, one, pc)
        ri[r, KIND], rf[r, END] = STEP, t + seconds
    elif batch:
        _plan_decode(r, t, k, ri, rf, ends, rows)
    else:
        ri[r, KIND], rf[r, END] = IDLE, np.inf
    return rf[r, END]


@njit(cache=True)
def _plan_decode(r, t, k, ri, rf, ends, rows):  # noqa: ANN001, ANN202
    """StepModel.decode_run's k step times, cumulated, from t (the same branch on the same float tests)."""
    batch = ri[r, NRUN]
    ct = ri[r, BASE_SUM] + batch * ri[r, OFF]
    c0, cs, m0, ms, fixed = rows[batch, 0], rows[batch, 1], rows[batch, 2], rows[batch, 3], rows[batch, 4]
    lo, hi = ct + batch, ct + batch * k
    compute_lo, compute_hi, memory_lo, memory_hi = c0 + cs * lo, c0 + cs * hi, m0 + ms * lo, m0 + ms * hi
    mode = 2
    if compute_lo <= memory_lo and compute_hi <= memory_hi:
        mode = 0
    elif compute_lo >= memory_lo and compute_hi >= memory_hi:
        mode = 1
    acc = 0.0
    for i in range(k):
        context = batch * (i + 1) + ct
        if mode == 0:
            s = m0 + ms * context
        elif mode == 1:
            s = c0 + cs * context
        else:
            s = max(c0 + cs * context, m0 + ms * context)
        s += fixed
        acc = s if i == 0 else acc + s
        ends[r, i] = acc + t
    ri[r, NENDS] = k
    ri[r, KIND], rf[r, END] = DECODE, ends[r, k - 1]


@njit(cache=True)
def _commit_step(r, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, geo,  # noqa: ANN001, ANN202
                 remaining, first_token, finish):
    """ReplicaScheduler._commit_step and _join: the step's decode token (chunked), the chunks, the joins."""
    end = rf[r, END]
    start_blocks = ri[r, USED]
    if geo[SCHEDULER] == CHUNKED and ri[r, NRUN]:
        ri[r, OFF] += 1
        _recount(r, ri, base, geo)
    off, n, w = ri[r, OFF], ri[r, NRUN], 0
    joined, nd = False, ri[r, NEXT_DONE]
    for i in range(ri[r, NPRE]):
        pre_done[r, i] += chunks[r, i]
        if pre_done[r, i] >= pre_tok[r, i]:
            rid = pre_rid[r, i]
            ri[r, PRE_BLOCKS] -= pre_blk[r, i]
            if np.isnan(first_token[rid]):
                first_token[rid] = end
            ids[r, n], base[r, n], done_at[r, n] = rid, pre_tok[r, i] - off, remaining[rid] - 1 + off
            ri[r, BASE_SUM] += base[r, n]
            nd = min(nd, done_at[r, n])
            n += 1
            joined = True
        else:
            pre_rid[r, w], pre_done[r, w], pre_tok[r, w], pre_blk[r, w] = pre_rid[r, i], pre_done[r, i], pre_tok[r, i], pre_blk[r, i]
            w += 1
    ri[r, NPRE], ri[r, NRUN] = w, n
    if joined:
        ri[r, NEXT_DONE] = nd
    _account(r, end, 1, start_blocks, ri, rf)
    _complete(r, end, ri, ids, base, done_at, geo, finish, remaining)


@njit(cache=True)
def replay_pool(lo, hi, replicas, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, nxt,  # noqa: ANN001, ANN201
                geo, rows, one, mc, pc, arrival, prompt, output, cached, remaining, admitted, first_token, finish,
                preempts, replica):
    """router.run_pool's loop over the pool's arrivals lo..hi-1 (state kept in the arrays between calls); with
    lo == hi == len(arrival), every run still open is played out."""
    n_req = len(arrival)
    last = lo == hi == n_req
    for n in range(lo, hi + (1 if last else 0)):
        t = arrival[n] if n < n_req else np.inf
        while True:  # pop_until(t): the smallest (end, replica) while end <= t
            best = -1
            for q in range(replicas):
                if rf[q, END] <= t and rf[q, END] < np.inf and (best < 0 or rf[q, END] < rf[best, END]):
                    best = q
            if best < 0:
                break
            q = best
            end = rf[q, END]
            if ri[q, KIND] == DECODE:
                _commit_decode(q, ri[q, NENDS], ri, rf, ids, base, done_at, ends, geo, finish, remaining)
            else:
                _commit_step(q, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, geo,
                             remaining, first_token, finish)
            _plan(q, end, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one,
                  mc, pc, arrival, prompt, output, cached, remaining, admitted, preempts, nxt)
        if n == n_req:
            break
        if geo[POLICY] == ROUND_ROBIN:
            r = n % replicas
        else:
            r, low = 0, NEVER
            for q in range(replicas):
                load = ri[q, NRUN] + ri[q, NWAIT] + ri[q, NPRE]
                if load < low:
                    r, low = q, load
        replica[n] = r
        _arrive(r, n, t, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one,
                mc, pc, arrival, prompt, output, cached, remaining, admitted, finish, preempts, nxt)


@njit(cache=True)
def _arrive(r, rid, t, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one,  # noqa: ANN001, ANN202
            mc, pc, arrival, prompt, output, cached, remaining, admitted, finish, preempts, nxt):
    """ReplicaScheduler.arrive: queue `rid`; an idle replica plans, a decode run alone is cut after t."""
    blocked = ri[r, NWAIT] > 0 or ri[r, NPRE] > 0
    if ri[r, NWAIT] == 0:
        ri[r, HEAD] = rid
    else:
        nxt[ri[r, TAIL]] = rid
    ri[r, TAIL] = rid
    ri[r, NWAIT] += 1
    if ri[r, KIND] == IDLE:
        _plan(r, t, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one, mc, pc,
              arrival, prompt, output, cached, remaining, admitted, preempts, nxt)
    elif ri[r, KIND] == DECODE and not blocked:
        j = np.searchsorted(ends[r, :ri[r, NENDS]], t, side="left") + 1
        if j < ri[r, NENDS]:
            end = ends[r, j - 1]
            _commit_decode(r, j, ri, rf, ids, base, done_at, ends, geo, finish, remaining)
            _plan(r, end, ri, rf, ids, base, done_at, pre_rid, pre_done, pre_tok, pre_blk, chunks, ends, geo, rows, one,
                  mc, pc, arrival, prompt, output, cached, remaining, admitted, preempts, nxt)
