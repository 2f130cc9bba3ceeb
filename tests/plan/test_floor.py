"""The physical floor of a plan, worked out by hand, and its warning."""
from __future__ import annotations

import pytest

from planner import api
from planner.io.workload import workload_from_dict
from planner.plan.floor import floor_warning


def _workload(rate: float, **extra: object) -> dict:
    return {"model": "llama-3.1-8b", "slo": {"ttft_ms": 2000, "tpot_ms": 50},
            "traffic": {"rate_rps": rate, "histogram": [{"input": [1000, 1001], "output": [200, 201], "share": 1.0}]},
            "gpus": ["h100"], **extra}


def test_floor_by_hand(tmp_path) -> None:
    # Llama-3.1-8B BF16 on H100 ($6.88/GPU-h, 989.4 TFLOP/s dense, 3,350 GB/s, 80 GB), 10 req/s of
    # 1,000-token prompts and 200-token outputs.
    #   FLOPs per token: 2 x 6.9793e9 linear + 2 x 128,256 x 4,096 LM head = 1.50093e10; attention
    #   4 x 32 layers x 32 heads x 128 = 524,288 per attended token.
    #   prefill 10 x 1,000 x (1.50093e10 + 524,288 x 500) = 1.52715e14 FLOP/s
    #   decode  10 x 200 x (1.50093e10 + 524,288 x 1,100) = 3.11721e13 FLOP/s  -> 0.18586 H100 of compute
    #   KV read: 10 x 200 x 1,100 tokens x 131,072 B = 2.8836e11 B/s; weights W = 16.06 GB
    #   t: 3.35e12 x 2.8836e11 t^2 + (3.35e12 x 1.606e10 - 8e10 x 2.8836e11) t - 8e10 x 1.606e10 = 0 -> t = 23.88 ms
    #   bandwidth (2.8836e11 + 1.606e10 / 0.02388) / 3.35e12 = 0.2868 = memory (1.606e10 + 2.8836e11 x 0.02388) / 8e10
    #   -> bandwidth-bound, 1 whole H100: $6.88/h
    plan = api.solve(workload_from_dict(_workload(10.0), tmp_path))
    f = plan.floor
    assert f is not None and (f.gpu, f.quant, f.binding, f.gpus) == ("h100", "bf16", "bandwidth", 1)
    assert f.prefill_tflops == pytest.approx(152.7147, rel=1e-5)
    assert f.decode_tflops == pytest.approx(31.17209, rel=1e-5)
    assert f.compute_gpus == pytest.approx(0.185864, rel=1e-4)
    assert f.bandwidth_gpus == pytest.approx(f.memory_gpus, rel=1e-9) == pytest.approx(0.2868, rel=1e-3)
    assert f.cost_per_hour == pytest.approx(6.88)
    assert f.ratio == pytest.approx(plan.cost_per_hour / 6.88)
    assert plan.to_dict()["floor"]["binding"] == "bandwidth"


def test_more_traffic_never_lowers_the_floor(tmp_path) -> None:
    floors = [api.solve(workload_from_dict(_workload(r), tmp_path)).floor for r in (5.0, 50.0, 200.0)]
    assert [f.compute_gpus for f in floors] == sorted(f.compute_gpus for f in floors)
    assert [f.cost_per_hour for f in floors] == sorted(f.cost_per_hour for f in floors)


def test_prefix_hits_lower_the_compute_floor(tmp_path) -> None:
    plain = api.solve(workload_from_dict(_workload(50.0), tmp_path)).floor
    cached = api.solve(workload_from_dict(_workload(50.0, traffic={**_workload(50.0)["traffic"], "prefix_cache": {"hit_rate": 0.5}}), tmp_path)).floor
    assert cached.prefill_tflops < plain.prefill_tflops and cached.decode_tflops == pytest.approx(plain.decode_tflops)


def test_warning_names_the_costliest_pool_only_above_five_times(tmp_path) -> None:
    f = api.solve(workload_from_dict(_workload(10.0), tmp_path)).floor
    assert floor_warning(f.model_copy(update={"ratio": 4.9}), [(1.0, "a")]) is None
    text = floor_warning(f.model_copy(update={"ratio": 12.0}), [(1.0, "cheap: kv"), (9.0, "h100/bf16/tp1: slo: TPOT")])
    assert text is not None and "12.0x its physical floor" in text and "h100/bf16/tp1: slo: TPOT" in text
