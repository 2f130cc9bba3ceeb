"""planner: the cheapest GPU fleet for LLM serving under p99 TTFT/TPOT SLOs.

    import planner
    plan = planner.solve("workloads/chat.yaml", overrides={"slo.tpot_ms": 30})
    plan.cost_per_month, plan.to_frame(), plan.to_json()

The API functions are loaded lazily so `import planner` stays light (the CLI starts without numpy).
"""
from __future__ import annotations

from typing import Any

_API = ("solve", "load", "prepare", "plan_from_table")
_WHATIF = ("compare", "sweep", "sensitivity")
__all__ = [*_API, *_WHATIF, "Workers"]


def __getattr__(name: str) -> Any:
    if name in _API:
        from planner import api
        return getattr(api, name)
    if name in _WHATIF:
        import importlib

        return getattr(importlib.import_module(f"planner.studies.{name}"), name)
    if name == "Workers":
        from planner.studies.parallel import Workers
        return Workers
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
