"""Fixtures for the simulator tests: a serving config with pinned efficiency factors (hand-checkable)."""
from __future__ import annotations

import numpy as np
import pytest

from planner.io.catalog import load_catalog
from planner.schemas.catalog import Efficiency
from planner.perf.memory import ServingConfig
from planner.io.traces import Trace
from planner.schemas.replica import EngineParams as Engine

# Pinned so the golden numbers below do not move when the shipped catalog is recalibrated.
EFF = Efficiency(gpu="h100", compute={"bf16": 0.6}, bandwidth=0.8, gemm_half_tokens=64, step_overhead_ms=1.0,
                 layer_overhead_us=50, allreduce_latency_us=30, source="test fixture", date="2026-01-01")


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def make_config(catalog, engine: Engine | None = None, model: str = "llama-3.1-8b") -> ServingConfig:
    return ServingConfig(catalog.model(model), catalog.gpu("h100"), catalog.quant("bf16"), catalog.kv_dtype("fp16"), 1, EFF,
                         engine or Engine())


@pytest.fixture
def cfg(catalog) -> ServingConfig:
    return make_config(catalog)


def poisson_trace(rps: float, n: int, seed: int = 0, prompt: tuple[float, float] = (1020, 1.0),
                  output: tuple[float, float] = (129, 0.8)) -> Trace:
    """Steady Poisson arrivals with log-normal lengths (chat-like by default)."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / rps, n))
    inp = np.clip(np.rint(rng.lognormal(np.log(prompt[0]), prompt[1], n)), 4, 8000).astype(np.int64)
    out = np.clip(np.rint(rng.lognormal(np.log(output[0]), output[1], n)), 2, 2000).astype(np.int64)
    return Trace(arrival - arrival[0], inp, out)
