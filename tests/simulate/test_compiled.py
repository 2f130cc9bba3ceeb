"""The compiled pool loop (planner.simulate.compiled) gives the Python loop's outcomes, float for float.

Each case replays one trace twice through router.run_pool, once in Python and once compiled, and compares
every per-request outcome (admission, first token, finish, so TTFT and TPOT; preemptions, replica) and each
replica's accounting with ==, not a tolerance. The cases reach the branches: an overloaded small KV cache
(preemption, cut decode runs), contiguous reservations, prefix-cache hits (prefills on top of cached
tokens), several replicas under both routing policies, both schedulers, TP 2 (all-reduce terms).
The first run compiles the loop (tens of seconds on a loaded machine) and caches it beside the module.
"""
from __future__ import annotations

import numpy as np
import pytest

from planner.perf.memory import ServingConfig
from planner.simulate.native import COMPILED_MIN_REQUESTS, compiled_supported
from planner.simulate.request_log import RequestLog
from planner.simulate.router import run_pool
from planner.simulate.steps import build_step_model
from planner.schemas.replica import EngineParams as Engine
from tests.simulate.conftest import EFF, make_config, poisson_trace

ACCOUNTING = ("busy_s", "kv_block_s", "kv_peak", "steps", "preemptions", "served", "busy_arriving_s", "last_arrival_s")


def _both(cfg: ServingConfig, trace, replicas: int, policy: str, scheduler: str, cached: bool):  # noqa: ANN001, ANN202
    model = build_step_model(cfg)
    runs = []
    for compiled in (False, True):
        log = RequestLog(trace.arrival_s, np.minimum(trace.input_tokens, 2000), np.minimum(trace.output_tokens, 2000),
                         trace.input_tokens // 3 if cached else None)
        fleet = run_pool(model, replicas, np.arange(len(trace)), log, policy, scheduler, compiled=compiled)
        runs.append((log, [tuple(getattr(r, f) for f in ACCOUNTING) for r in fleet]))
    return runs


CASES = [  # (engine, model, rps, replicas, policy, scheduler, cached)
    (Engine(gpu_memory_utilization=0.3), "llama-3.1-8b", 50.0, 1, "round-robin", "serial", False),
    (Engine(gpu_memory_utilization=0.3), "llama-3.1-8b", 50.0, 1, "round-robin", "chunked", True),
    (Engine(gpu_memory_utilization=0.3, paged_kv=False), "llama-2-7b", 30.0, 2, "least-loaded", "serial", False),
    (Engine(gpu_memory_utilization=0.5, max_num_batched_tokens=512), "llama-3.1-8b", 40.0, 3, "least-loaded", "chunked", True),
    (Engine(), "llama-3.1-8b", 12.0, 2, "least-loaded", "serial", True),
]


@pytest.mark.parametrize(("engine", "model_id", "rps", "replicas", "policy", "scheduler", "cached"), CASES)
def test_compiled_loop_is_the_python_loop_float_for_float(catalog, engine, model_id, rps, replicas, policy, scheduler, cached):
    cfg = make_config(catalog, engine, model_id)
    trace = poisson_trace(rps, 500, seed=3, prompt=(600, 0.7), output=(300, 0.6))
    (py_log, py_fleet), (c_log, c_fleet) = _both(cfg, trace, replicas, policy, scheduler, cached)
    for name in RequestLog.OUTCOMES:
        np.testing.assert_array_equal(getattr(c_log, name), getattr(py_log, name), err_msg=name)
    assert c_fleet == py_fleet
    if engine.gpu_memory_utilization == 0.3 and engine.paged_kv:
        assert sum(row[4] for row in py_fleet) > 0  # the overloaded cases really preempt


def test_tp2_and_prefix_hits_through_the_compiled_loop(catalog):
    cfg = ServingConfig(catalog.model("llama-3.1-8b"), catalog.gpu("h100"), catalog.quant("fp8"), catalog.kv_dtype("fp8"), 2, EFF,
                        Engine(gpu_memory_utilization=0.4))
    trace = poisson_trace(60.0, 400, seed=8, prompt=(1500, 0.8), output=(200, 0.8))
    (py_log, py_fleet), (c_log, c_fleet) = _both(cfg, trace, 2, "round-robin", "chunked", True)
    for name in RequestLog.OUTCOMES:
        np.testing.assert_array_equal(getattr(c_log, name), getattr(py_log, name), err_msg=name)
    assert c_fleet == py_fleet


def test_what_the_compiled_loop_covers(catalog):
    model = build_step_model(make_config(catalog))
    assert compiled_supported(model, "chunked", "least-loaded", record=False)
    assert not compiled_supported(model, "chunked", "least-loaded", record=True)  # a timeline: Python
    assert not compiled_supported(model, "decode", "least-loaded", record=False)
    moe = build_step_model(make_config(catalog, model="mixtral-8x7b"))
    assert not compiled_supported(moe, "serial", "least-loaded", record=False)
    log = RequestLog(np.zeros(2), np.full(2, 10), np.full(2, 5))
    with pytest.raises(ValueError, match="compiled replay covers"):
        run_pool(model, 1, np.arange(2), log, "least-loaded", "serial", record=True, compiled=True)
    assert COMPILED_MIN_REQUESTS > 10_000  # small replays (solve's default) stay in Python: no numba import


def test_a_read_only_install_caches_the_compiled_loop_under_the_temp_folder(tmp_path):
    """numba refuses to import cache=True functions when neither the package's __pycache__ nor the user's cache
    folder is writable (a read-only install, a home without a cache folder); the loop then caches under TMPDIR."""
    import os
    import subprocess
    import sys

    script = (
        "import numba.core.caching as c\n"
        "def refuse(self): raise OSError('read-only file system')\n"
        "c.InTreeCacheLocator.ensure_cache_path = c.UserWideCacheLocator.ensure_cache_path = refuse\n"
        "import numba\n"
        "from planner.simulate.native import compiled_module\n"
        "print(compiled_module().__name__, numba.config.CACHE_DIR)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["planner.simulate.compiled", str(tmp_path / f"planner-numba-{os.getuid()}")]
