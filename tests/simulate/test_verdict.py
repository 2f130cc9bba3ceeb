"""The verification verdict: a pool that misses makes the plan miss; oversized pools are flagged; repair says so."""
from __future__ import annotations

from planner.report.sim_text import verdict_line
from planner.simulate.repair import oversized

SLO = {"ttft_ms": 1000.0, "tpot_ms": 50.0, "percentile": 99.0}


def _summary(fleet_met: bool, pools: list[tuple[str, bool]]) -> dict:
    return {"slo": SLO, "slo_met": fleet_met, "slo_attainment": 0.995, "ttft_attainment": 1.0, "tpot_attainment": 0.995,
            "p99_ttft_ms": 300.0, "p99_tpot_ms": 30.0, "pools": [{"pool": k, "slo_met": m} for k, m in pools]}


def test_a_missed_pool_is_a_missed_plan_even_when_the_fleet_average_passes() -> None:
    assert verdict_line(_summary(True, [("a", True), ("b", True)])).startswith("p99 SLOs met:")
    line = verdict_line(_summary(True, [("a", True), ("b", False)]))
    assert line.startswith("p99 SLOs MISSED by b (met over the whole fleet)")


def test_under_the_fleet_scope_a_pool_below_the_percentile_is_not_a_miss() -> None:
    fleet = {**SLO, "scope": "fleet"}
    line = verdict_line({**_summary(True, [("a", True), ("b", False)]), "slo": fleet})
    assert line.startswith("p99 SLOs met over all requests (fleet scope; below p99 on their own: b)")
    assert verdict_line({**_summary(False, [("a", True), ("b", False)]), "slo": fleet}).startswith("p99 SLOs MISSED:")


def test_oversized_needs_several_replicas_and_both_latencies_under_half_the_slo() -> None:
    assert oversized({"p99_ttft_ms": 400.0, "p99_tpot_ms": 20.0, "replicas": 2}, SLO)
    assert not oversized({"p99_ttft_ms": 400.0, "p99_tpot_ms": 20.0, "replicas": 1}, SLO)
    assert not oversized({"p99_ttft_ms": 600.0, "p99_tpot_ms": 20.0, "replicas": 2}, SLO)
    assert not oversized({"p99_ttft_ms": 400.0, "p99_tpot_ms": 30.0, "replicas": 2}, SLO)
    assert not oversized({"p99_ttft_ms": None, "p99_tpot_ms": 1.0, "replicas": 2}, SLO)
