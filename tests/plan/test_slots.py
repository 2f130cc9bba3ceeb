"""Plans over time slots and tiers (planner.plan.slots, planner.demand.slots) end to end."""
from __future__ import annotations

import pytest

import planner.api as api
from planner.errors import WorkloadError
from planner.plan.document import read_plan
from tests.test_api import histogram_workload


def _workload(**pricing):
    w = histogram_workload(rate=20.0, gpus=("a100-80gb",))
    w["traffic"]["slot_profile"] = [0.5, 1.0]
    w["pricing"] = {"provider": "aws", **pricing}
    return w


def test_reserved_baseline_is_the_quiet_slot_and_the_mix_beats_one_fleet_all_day():
    # Two equal slots, the second at twice the rate. a100-80gb reserved-1y is $2.1752/GPU-h (p4de.24xlarge
    # $17.401365 / 8) against $3.4309 on demand: 63 % of the price, so a replica needed only in the busy half of
    # the day (50 % of the time) is cheaper on demand, and every replica of the quiet slot is worth reserving.
    plan = api.solve(_workload(reserved="reserved-1y"))
    quiet, busy = plan.slots
    assert quiet.hours_per_month == busy.hours_per_month == pytest.approx(365.0)
    assert busy.rate_rps == pytest.approx(2 * quiet.rate_rps)
    assert plan.tiers.reserved_gpus == quiet.reserved_gpus == quiet.gpus_by_type and not quiet.on_demand_gpus
    assert sum(busy.on_demand_gpus.values()) > 0
    t = plan.tiers
    assert t.mix_per_month <= t.all_on_demand_at_peak_per_month and t.mix_per_month <= t.all_reserved_per_month
    assert plan.cost_per_month == pytest.approx(t.mix_per_month)
    # the plan's document round-trips with its slots
    again = read_plan(plan.to_dict())
    assert again.slots == plan.slots and again.tiers == plan.tiers


def test_on_demand_only_slots_are_each_slots_own_optimum():
    # Slots plan co-located replicas only (disaggregated rows are not built for slots yet; the plan says so), so
    # each slot is the optimum of its own rate with engine.disaggregation: off; at 20 req/s a disaggregated
    # plan is cheaper ($20.59/h against $27.45/h), which the slots do not reach yet.
    plan = api.solve(_workload())
    assert any("engine.disaggregation" in n and "co-located replicas only" in n for n in plan.notes)
    single = [api.solve(histogram_workload(rate=r, gpus=("a100-80gb",), engine={"disaggregation": "off"})) for r in (10.0, 20.0)]
    for slot, alone in zip(plan.slots, single):
        assert slot.cost_per_hour == pytest.approx(alone.cost_per_hour)


def test_slots_refuse_rules_they_do_not_model():
    w = _workload(reserved="reserved-1y")
    w["fleet"] = {"redundancy": "n+1"}
    with pytest.raises(WorkloadError, match="fleet.redundancy: not modelled with slots"):
        api.solve(w)


def test_slot_table_and_stacked_chart():
    from planner.report.plan_text import render_table
    from planner.report.plots import slots_png

    plan = api.solve(_workload(reserved="reserved-1y"))
    text = render_table(plan)
    assert "Fleet per slot" in text and "reserved baseline" in text and "all on demand at peak" in text
    assert slots_png(plan)[:8] == b"\x89PNG\r\n\x1a\n"
    assert plan.slots[0].gpus_by_tier == {"reserved": plan.slots[0].gpus_by_type}
    assert sum(sum(v.values()) for v in plan.slots[1].gpus_by_tier.values()) == sum(plan.slots[1].gpus_by_type.values())


def test_infeasible_slots_say_which_rule_to_relax():
    from planner.errors import InfeasibleError

    w = _workload(reserved="reserved-1y")
    w["fleet"] = {"limits": {"a100-80gb": 1}, "budget_per_month": 100000}
    with pytest.raises(InfeasibleError) as err:
        api.solve(w)
    text = str(err.value)
    assert "- without the GPU caps (fleet.limits): feasible at $" in text
    assert "- without the budget (fleet.budget_per_month): still infeasible" in text
