"""Benchmark runs made in planner's simulator, as a serving benchmark would measure them on a real engine."""
from __future__ import annotations

import numpy as np

from planner.io.catalog import load_catalog
from planner.io.readers.bench_run import BenchRun
from planner.io.traces import Trace
from planner.schemas.replica import EngineParams
from planner.schemas.workload import SLO
from planner.simulate.replay import SimPool, simulate
from planner.simulate.router import RouteTable
from planner.supply.replica import build_config


def simulated_requests(rate: float, inp: int, out: int, n: int = 400, seed: int = 0, model: str = "llama-3.1-8b",
                       gpu: str = "h100") -> dict[str, np.ndarray]:
    """Per-request arrival, TTFT, TPOT, lengths and finish of n Poisson arrivals at `rate` on one replica."""
    cfg = build_config(load_catalog(()), model, gpu, "bf16", "fp16", 1, EngineParams())
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / rate, n))
    arrival -= arrival[0]
    trace = Trace(arrival, np.full(n, inp, dtype=np.int64), np.full(n, out, dtype=np.int64), "planner")
    one = np.array([1])
    routes = RouteTable(one * 1, one * 10**9, one * 1, one * 10**9, np.ones((1, 1)))
    result = simulate([SimPool("p", cfg, 1)], routes, trace, SLO(ttft_ms=1e9, tpot_ms=1e9), 10**9)
    lat = result.latencies
    return {"arrival_s": arrival, "finish_s": result.log.finish, "ttft_ms": lat["ttft_ms"], "tpot_ms": lat["tpot_ms"],
            "isl": trace.input_tokens, "osl": trace.output_tokens}


def simulated_run(rate: float, inp: int, out: int, **kw) -> BenchRun:  # noqa: ANN003
    """The requests of `simulated_requests` summarised as vLLM's benchmark does (means, p99, rates over the span)."""
    r = simulated_requests(rate, inp, out, **kw)
    span = float(r["finish_s"].max() - r["arrival_s"].min())
    n = len(r["arrival_s"])
    return BenchRun("planner-simulated", "sim", "rate", rate, float(r["isl"].mean()), float(r["osl"].mean()),
                    float(r["ttft_ms"].mean()), float(r["tpot_ms"].mean()), float(r["osl"].sum()) / span, n / span,
                    float(np.percentile(r["ttft_ms"], 99)), float(np.percentile(r["tpot_ms"], 99)))
