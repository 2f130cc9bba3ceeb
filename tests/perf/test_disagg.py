"""Disaggregated prefill/decode capacities (planner.perf.disagg), with hand-checked KV transfer numbers."""
from __future__ import annotations

import numpy as np
import pytest

from planner.demand.buckets import Bucket
from planner.perf.capacity import cell_capacity
from planner.perf.disagg import (LINK_EFFICIENCY, decode_capacity, kv_transfer_bytes, kv_transfer_s, link_bytes_per_s,
                                 prefill_capacity)
from planner.perf.step import decode_step, prefill_step
from planner.schemas.workload import SLO

from ._configs import config

LONG = Bucket(8192, 16384, 128, 256, 1.0, 12000.0, 200.0, 15000.0, 16000, 255, cache_hit=0.4)
SLO_LONG = SLO(ttft_ms=8000, tpot_ms=50, percentile=99)


def test_kv_transfer_of_one_8k_prompt_by_hand():
    # llama-3.1-70b: 80 layers x 8 KV heads x 128 dims, K and V, FP8 KV (1 byte): 2 * 80 * 8 * 128 * 1 = 163,840 B/token;
    # 8192 tokens -> 1,342,177,280 B (1.34 GB). H100 nodes: 400 Gb/s per GPU (p5.48xlarge: 3,200 Gbps / 8 GPUs) = 50 GB/s;
    # a TP4 prefill replica sends over 4 NICs at 80 % of line rate: 4 * 50e9 * 0.8 = 160 GB/s -> 1.342e9 / 160e9 = 8.389 ms.
    cfg = config("llama-3.1-70b", "h100", "bf16", tp=4, kv="fp8")
    assert kv_transfer_bytes(cfg, 8192) == 1_342_177_280
    assert link_bytes_per_s(cfg) == pytest.approx(4 * 50e9 * LINK_EFFICIENCY)
    assert kv_transfer_s(cfg, 8192) * 1e3 == pytest.approx(8.388608, rel=1e-9)
    # FP16 KV doubles the bytes; an A100 node (p4de: 400 Gbps / 8 GPUs = 50 Gb/s per GPU) is 8x slower per GPU
    assert kv_transfer_s(config("llama-3.1-70b", "h100", "bf16", tp=4), 8192) == pytest.approx(2 * 8.388608e-3)
    assert kv_transfer_s(config("llama-3.1-70b", "a100-80gb", "bf16", tp=4, kv="fp8"), 8192) == pytest.approx(8 * 8.388608e-3)


def test_prefill_replica_at_light_load_is_prefill_plus_transfer():
    cfg = config("llama-3.1-70b", "h100", "bf16", tp=4)
    cell = prefill_capacity(cfg, LONG, SLO_LONG)
    # zero-load TTFT: the p99 prompt's uncached tokens prefilled on top of its cached prefix, then its KV sent
    tail = LONG.input_p99
    expected = float(prefill_step(cfg, tail * 0.6, cached=tail * 0.4).total_s) + float(kv_transfer_s(cfg, tail))
    assert cell.ttft0_ms == pytest.approx(expected * 1e3)
    assert cell.max_rps > 0 and cell.curve_ttft_ms[-1] <= SLO_LONG.ttft_ms
    # one prompt at a time: utilization = rate x mean prefill time stays below 1
    service = float(prefill_step(cfg, LONG.input_mean * 0.6, cached=LONG.input_mean * 0.4).total_s)
    assert cell.max_rps * service < 1
    # a tighter TTFT never raises the capacity
    tighter = prefill_capacity(cfg, LONG, SLO(ttft_ms=4000, tpot_ms=50, percentile=99))
    assert tighter.max_rps <= cell.max_rps


def test_decode_replica_obeys_littles_law_and_its_kv_cache():
    cfg = config("llama-3.1-70b", "h100", "fp8", tp=4)
    cell = decode_capacity(cfg, LONG, SLO_LONG)
    n = cell.batch
    # Little: N live sequences each stay O - 1 decode steps (the first token came with the KV)
    context = LONG.input_mean + LONG.output_mean / 2  # one output class: I + O/2
    step = float(decode_step(cfg, n, context).total_s)
    assert cell.max_rps == pytest.approx(n / ((LONG.output_mean - 1) * step))
    # the p99 batch decodes within the TPOT SLO
    assert cell.curve_tpot_ms[-1] <= SLO_LONG.tpot_ms
    # with no prompt chunks in its steps a decode replica beats a co-located one at this TPOT
    assert cell.max_rps > cell_capacity(cfg, LONG, SLO_LONG).max_rps


def test_no_network_no_disaggregation():
    cfg = config("llama-3.1-8b", "h100-pcie")  # the catalog lists no network for it
    assert link_bytes_per_s(cfg) == 0
    assert prefill_capacity(cfg, LONG, SLO_LONG).max_rps == 0
    assert decode_capacity(cfg, LONG, SLO_LONG).max_rps == 0
    assert np.isinf(kv_transfer_s(cfg, 1000))


def test_rows_of_many_configs_equal_each_cell_alone_and_the_bisection_a_full_scan():
    """prefill_rows/decode_rows evaluate all (config, bucket) cells together and find a prefill cell's capacity
    point by bisection: the same cells as one at a time, and the same point as scanning the whole grid."""
    from planner.perf.disagg import PREFILL_GRID, _PrefillTimes, decode_rows, prefill_rows

    cfgs = [config("llama-3.1-70b", "h100", "bf16", tp=4), config("llama-3.1-70b", "h100", "fp8", tp=2, kv="fp8"),
            config("llama-3.1-70b", "a100-80gb", "bf16", tp=8)]
    short = Bucket(128, 512, 64, 256, 1.0, 300.0, 150.0, 500.0, 511, 255)
    buckets = (LONG, short)
    for rows, one in ((prefill_rows(cfgs, buckets, SLO_LONG), prefill_capacity), (decode_rows(cfgs, buckets, SLO_LONG), decode_capacity)):
        for cfg, row in zip(cfgs, rows):
            for bucket, cell in zip(buckets, row):
                alone = one(cfg, bucket, SLO_LONG)
                assert (cell.max_rps, cell.bound, cell.detail, cell.batch, cell.curve_rps, cell.pooled) == \
                       (alone.max_rps, alone.bound, alone.detail, alone.batch, alone.curve_rps, alone.pooled)
    assert any(cell.max_rps > 0 for row in prefill_rows(cfgs, buckets, SLO_LONG) for cell in row)
    for cfg in cfgs:
        cell = prefill_capacity(cfg, LONG, SLO_LONG)
        service = float(prefill_step(cfg, LONG.input_mean * 0.6, cached=LONG.input_mean * 0.4).total_s)
        tail = float(prefill_step(cfg, LONG.input_p99 * 0.6, cached=LONG.input_p99 * 0.4).total_s)
        times = _PrefillTimes(np.array([service]), np.array([tail]), np.array([float(kv_transfer_s(cfg, LONG.input_mean))]),
                              np.array([float(kv_transfer_s(cfg, LONG.input_p99))]), 0.99)
        rps, rho, rho_link, ttft = times.single(np.zeros(len(PREFILL_GRID), dtype=int), np.arange(len(PREFILL_GRID)))
        ok = (ttft * 1e3 <= SLO_LONG.ttft_ms) & (rho < 1) & (rho_link < 1)
        last = (int(np.argmin(ok)) if not ok.all() else len(ok)) - 1  # the scan: the end of the passing prefix
        assert cell.max_rps == (float(rps[last]) if last >= 0 else 0.0)
