"""What users would see: latency percentiles, SLO attainment, throughput, utilization, KV occupancy.

TTFT = first token - arrival; TPOT = (finish - first token) / (output - 1), the per-request mean gap
(requests with one output token have no TPOT and meet the TPOT SLO); queueing delay = first admission -
arrival. SLO attainment is the share of requests (excluding those longer than the model's context, which
the plan drops by design) that complete with both TTFT and TPOT within the SLO.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from planner.simulate.request_log import RequestLog
from planner.simulate.schedulers.base import ReplicaScheduler

QUANTILES = (50, 90, 99)


def _pcts(values: np.ndarray, name: str) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {f"p{q}_{name}": None for q in QUANTILES}
    return {f"p{q}_{name}": float(v) for q, v in zip(QUANTILES, np.percentile(values, QUANTILES))}


def request_latencies(log: RequestLog) -> dict[str, np.ndarray]:
    """Per-request TTFT, TPOT, end-to-end and queueing delay in ms (NaN where not applicable)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(log.output > 1, (log.finish - log.first_token) / (log.output - 1), np.nan)
    return {
        "ttft_ms": (log.first_token - log.arrival) * 1e3,
        "tpot_ms": tpot * 1e3,
        "e2el_ms": (log.finish - log.arrival) * 1e3,
        "queue_ms": (log.admitted - log.arrival) * 1e3,
    }


def slo_met(lat: dict[str, np.ndarray], ttft_ms: float, tpot_ms: float) -> np.ndarray:
    """True where a request completed within both SLOs."""
    tpot_ok = np.isnan(lat["tpot_ms"]) | (lat["tpot_ms"] <= tpot_ms)
    return np.isfinite(lat["e2el_ms"]) & (lat["ttft_ms"] <= ttft_ms) & tpot_ok


def group_summary(log: RequestLog, lat: dict[str, np.ndarray], members: np.ndarray, counted: np.ndarray,
                  met: np.ndarray, fleet: list[ReplicaScheduler], span_s: float) -> dict[str, Any]:
    """Metrics of the requests in `members` (bool mask) served by the replicas in `fleet`."""
    done = members & np.isfinite(log.finish)
    n_counted = int((members & counted).sum())
    busy = sum(r.busy_s for r in fleet)
    capacity = sum(r.m.kv_blocks for r in fleet)
    out: dict[str, Any] = {
        "requests": int(members.sum()),
        "completed": int(done.sum()),
        "rejected": int((members & ~np.isfinite(log.finish)).sum()),
        "slo_attainment": float((met & members & counted).sum() / n_counted) if n_counted else None,
    }
    for name in ("ttft_ms", "tpot_ms", "e2el_ms", "queue_ms"):
        out |= _pcts(lat[name][done], name)
    out |= {
        "request_throughput": float(done.sum() / span_s) if span_s > 0 else None,
        "output_throughput": float(log.output[done].sum() / span_s) if span_s > 0 else None,
        "replicas": len(fleet),
        "gpu_utilization": float(busy / (len(fleet) * span_s)) if fleet and span_s > 0 else None,
        "gpu_utilization_arrival_window": _busy_while_arriving(log, fleet),
        "kv_occupancy_mean": float(sum(r.kv_block_s for r in fleet) / (capacity * span_s)) if capacity and span_s > 0 else None,
        "kv_occupancy_peak": max((r.kv_peak / r.m.kv_blocks for r in fleet), default=None),
        "preemptions": int(sum(r.preemptions for r in fleet)),
        "steps": int(sum(r.steps for r in fleet)),
    }
    return out


def _busy_while_arriving(log: RequestLog, fleet: list[ReplicaScheduler]) -> float | None:
    """Busy share of the replicas from the replay's first arrival to each one's pool's last arrival: a pool's
    use while traffic comes in, which a drain of long outputs after the last arrival does not dilute (a trace
    compressed by `target_rps` ends in a drain of its longest outputs; prefill pools idle through it)."""
    t0 = float(log.arrival.min()) if len(log.arrival) else 0.0
    windows = [(r.busy_arriving_s, r.last_arrival_s - t0) for r in fleet if r.last_arrival_s - t0 > 0]
    return float(sum(b for b, _ in windows) / sum(w for _, w in windows)) if windows else None


def per_minute(log: RequestLog, lat: dict[str, np.ndarray], window_s: float = 60.0) -> dict[str, list[float]]:
    """p50/p99 TTFT and TPOT of the requests arriving in each window (for the timeline plot)."""
    done = np.isfinite(log.finish)
    if not done.any():
        return {"t_s": []}
    slot = ((log.arrival - log.arrival.min()) // window_s).astype(np.int64)
    rows: dict[str, list[float]] = {"t_s": [], "p50_ttft_ms": [], "p99_ttft_ms": [], "p50_tpot_ms": [], "p99_tpot_ms": []}
    for s in range(int(slot[done].max()) + 1):
        sel = done & (slot == s)
        if not sel.any():
            continue
        rows["t_s"].append(s * window_s)
        for name in ("ttft_ms", "tpot_ms"):
            values = lat[name][sel]
            values = values[np.isfinite(values)]
            p50, p99 = np.percentile(values, [50, 99]) if values.size else (np.nan, np.nan)
            rows[f"p50_{name}"].append(float(p50))
            rows[f"p99_{name}"].append(float(p99))
    return rows
