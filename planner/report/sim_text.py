"""A simulation summary as a terminal table or JSON, and the one-line verdict shown next to a plan."""
from __future__ import annotations

import json
from typing import Any

from planner.io.files import jsonable as _jsonable
from planner.report.tables import TableData, per_month, render_rich
from planner.simulate.repair import OVERSIZED, oversized


def _num(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2%}"


def verdict_line(summary: dict[str, Any]) -> str:
    """`SLOs met: 99.87% of requests within both SLOs (p99 TTFT 312 ms <= 1000, p99 TPOT 21.4 ms <= 50)`."""
    slo = summary["slo"]
    missed = [row["pool"] for row in summary.get("pools", ()) if not row["slo_met"]]
    fleet_scope = slo.get("scope") == "fleet"
    if summary["slo_met"] and missed and fleet_scope:
        head = f"p{slo['percentile']:g} SLOs met over all requests (fleet scope; below p{slo['percentile']:g} on their own: {', '.join(missed)})"
    elif summary["slo_met"] and missed:
        head = f"p{slo['percentile']:g} SLOs MISSED by {', '.join(missed)} (met over the whole fleet)"
    else:
        head = f"p{slo['percentile']:g} SLOs met" if summary["slo_met"] else f"p{slo['percentile']:g} SLOs MISSED"
    ttft, tpot = summary["p99_ttft_ms"], summary["p99_tpot_ms"]
    return (f"{head}: {_pct(summary['slo_attainment'])} of requests within both SLOs "
            f"(TTFT {_pct(summary['ttft_attainment'])} <= {slo['ttft_ms']:g} ms, p99 {_num(ttft)} ms; "
            f"TPOT {_pct(summary['tpot_attainment'])} <= {slo['tpot_ms']:g} ms, p99 {_num(tpot, 1)} ms)")


_COLUMNS = (
    ("requests", "requests", 0), ("rejected", "rejected", 0), ("SLO ok", "slo_attainment", None),
    ("TTFT p50/p99 ms", ("p50_ttft_ms", "p99_ttft_ms"), 0), ("TPOT p50/p99 ms", ("p50_tpot_ms", "p99_tpot_ms"), 1),
    ("E2E p50/p99 s", ("p50_e2el_ms", "p99_e2el_ms"), -3), ("queue p99 ms", "p99_queue_ms", 0),
    ("req/s", "request_throughput", 2), ("GPU busy", "gpu_utilization", None), ("KV mean/peak", ("kv_occupancy_mean", "kv_occupancy_peak"), None),
    ("preempt", "preemptions", 0),
)


def _cell(row: dict[str, Any], key: str | tuple[str, str], digits: int | None) -> str:
    if isinstance(key, tuple):
        return "/".join(_cell(row, k, digits) for k in key)
    value = row.get(key)
    if digits is None:
        return "-" if value is None else f"{value:.1%}"
    if digits < 0:
        return _num(None if value is None else value / 1e3, 1)
    return _num(value, digits)


def render_simulation(summary: dict[str, Any], fmt: str = "table") -> str:
    """The summary as `table` (overall and per pool) or `json` (the versioned schema)."""
    if fmt == "json":
        return json.dumps(_jsonable(summary), indent=2) + "\n"
    rows = [[f"{row['pool']} x{row['replicas']}" if row["replicas"] else row["pool"], *[_cell(row, key, digits) for _, key, digits in _COLUMNS]]
            for row in summary["pools"] + [dict(summary, pool="all", replicas=None)]]
    title = f"Simulation ({summary['routing_policy']} routing, seed {summary['seed']}, {summary['duration_s']:,.0f} s)"
    table = render_rich([TableData(title, ["pool", *(name for name, _, _ in _COLUMNS)], rows)]).removesuffix("\n")
    rejected = {k: v for k, v in summary["rejected_by_reason"].items() if v}
    lines = [table.rstrip("\n"), verdict_line(summary)]
    if rejected:
        lines.append("rejected: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in rejected.items()))
    return "\n".join(lines) + "\n"


def render_verification(check: "Verification", fmt: str, color: bool = False) -> str:  # noqa: F821 - planner.simulate.verify imports us
    """The (possibly repaired) plan followed by the simulation verdict (JSON: the plan with a `verification` object)."""
    from planner.report.plan_text import render_plan

    if fmt == "json":
        return json.dumps(_jsonable(check.plan.to_dict() | {"verification": check.to_dict()}), indent=2) + "\n"
    plan_text = render_plan(check.plan, fmt, color)
    s = check.result.summary
    lines = ["", f"Verification (simulated {s['requests']:,} requests, {s['duration_s']:,.0f} s): {verdict_line(s)}"]
    slo = s["slo"]
    for row in s["pools"]:
        mark = "ok" if row["slo_met"] else "MISSED"
        if not row["slo_met"] and slo.get("scope") == "fleet":
            mark = "below the percentile on its own" + (" (the fleet's attainment decides, and it holds)" if s["slo_met"] else "")
        if row["slo_met"] and oversized(row, slo):
            hint = "repair found no smaller count that holds within its rounds" if check.rounds else "fewer replicas may hold; --repair shrinks it"
            mark = f"ok but OVERSIZED (p99 TTFT and TPOT under {OVERSIZED:.0%} of the SLO: {hint})"
        lines.append(f"  {row['pool']} x{row['replicas']}: {mark}, {_pct(row['slo_attainment'])} within both SLOs, "
                     f"p99 TTFT {_num(row['p99_ttft_ms'])} ms, p99 TPOT {_num(row['p99_tpot_ms'], 1)} ms")
    if check.added or check.removed:
        changes = ", ".join([f"+{n} x {key}" for key, n in check.added.items()] + [f"-{n} x {key}" for key, n in check.removed.items()])
        extra = check.extra_cost_per_hour
        lines.append(f"Repair ({check.rounds} rounds): {changes}, {'extra' if extra >= 0 else 'saving'} ${abs(extra):,.2f}/hour "
                     f"(${per_month(abs(extra)):,.0f}/month); the plan above includes them")
    if check.rounds and not check.result.met:
        lines.append(f"Repair stopped after {check.rounds} rounds without meeting the SLOs (raise --max-repair-steps, or see the pools marked MISSED)")
    if fmt == "csv":
        return plan_text  # CSV stays machine-readable; the CLI's exit code carries the verdict
    return plan_text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"


def replay_line(summary: dict[str, Any]) -> str:
    """`99.97% of requests within both SLOs: p99 met (6,723 requests replayed, seed 0)`: the headline of a default replay."""
    slo = summary["slo"]
    missed = [row["pool"] for row in summary.get("pools", ()) if not row["slo_met"]]
    if summary["slo_met"] and (not missed or slo.get("scope") == "fleet"):
        verdict = f"p{slo['percentile']:g} met" + (" over all requests" if slo.get("scope") == "fleet" else "")
    else:
        verdict = f"p{slo['percentile']:g} MISSED" + (f" by {', '.join(missed)}" if missed else "") + " (solve --verify --repair fixes it)"
    return (f"{_pct(summary['slo_attainment'])} of requests within both SLOs: {verdict} "
            f"({summary['requests']:,} requests replayed, seed {summary['seed']})")


def render_replayed(check: "Verification", fmt: str, color: bool = False) -> str:  # noqa: F821
    """The plan with its default replay's attainment next to the cost (JSON: a `verification` object, as --verify)."""
    from dataclasses import replace

    from planner.report.plan_text import render_plan

    if fmt == "json":
        return render_verification(check, fmt, color)
    return render_plan(replace(check.plan, replay=replay_line(check.result.summary)), fmt, color)
