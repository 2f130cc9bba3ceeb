"""Several models on one fleet (`models:`, planner.plan.models, planner.demand.models) from the MILP to the CLI."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import planner.api as api
from planner.cli.main import cli
from planner.errors import WorkloadError
from planner.optimize.slots import SlottedProblem, optimize_slots
from planner.plan.document import read_plan
from planner.schemas.replica import ReplicaSpec
from tests.test_api import histogram_workload


def test_two_models_share_one_reserved_pool():
    # One GPU type, two slots of 365 h, one bucket per model, one replica (1 GPU) serves 1 req/s, rho = 1.
    # Model a needs 2 then 1 GPUs, model b 1 then 2: 3 GPUs in both slots together. Reserved $0.6/GPU-h
    # (x 730 h = $438) against $1.0 on demand (x 365 h = $365 for one slot):
    #   each model alone: reserve 1 ($438) + 1 on demand in its busy slot ($365) = $803; both: $1,606
    #   shared: the busy slots interleave, so 3 reserved GPUs serve both slots: 3 x $438 = $1,314 (optimal;
    #   2 reserved + 1 on demand in each slot = $876 + $730 = $1,606)
    specs = (ReplicaSpec("a", "g", "bf16", "fp16", 1, tag="a"), ReplicaSpec("b", "g", "bf16", "fp16", 1, tag="b"))
    problem = SlottedProblem(specs, np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 1.0], [1.0, 2.0]]),
                             np.array([365.0, 365.0]), 1.0, on_demand=np.array([1.0, 1.0]), reserved=np.array([0.6, 0.6]),
                             spot=np.array([np.nan, np.nan]))
    sol = optimize_slots(problem).solution
    assert sol is not None
    assert sol.cost_per_month == pytest.approx(1314.0)
    assert sol.reserved_gpus == {"g": 3} and sol.on_demand_gpus == [{}, {}]
    assert sol.stable == [{specs[0]: 2, specs[1]: 1}, {specs[0]: 1, specs[1]: 2}]


def _two_models(**extra):
    a = histogram_workload(rate=10.0, gpus=("a100-80gb",))
    b = histogram_workload(rate=5.0, tpot=40.0)
    w = {key: value for key, value in a.items() if key not in ("model", "traffic")}
    w["models"] = [{"model": "llama-3-8b", "traffic": a["traffic"]},
                   {"model": "mistral-7b", "slo": b["slo"], "traffic": b["traffic"]}]
    w["pricing"] = {"provider": "aws", "reserved": "reserved-1y"}
    w.update(extra)
    return w


def test_plan_per_model_adds_up_and_round_trips():
    plan = api.solve(_two_models())
    assert plan.model == "llama-3-8b + mistral-7b"
    assert [m.model for m in plan.models] == ["llama-3-8b", "mistral-7b"]
    assert [m.tpot_ms for m in plan.models] == [50.0, 40.0]
    assert [m.peak_rps for m in plan.models] == pytest.approx([10.0, 5.0])
    # every pool serves one model, its key names it, and the models' costs add up to the fleet's
    assert {p.key.split(":")[0] for p in plan.pools} == {"llama-3-8b", "mistral-7b"}
    assert all(p.key.startswith(p.spec.model + ":") for p in plan.pools)
    assert sum(m.cost_per_month for m in plan.models) == pytest.approx(plan.cost_per_month, rel=1e-6)
    # each model's replicas are exactly its pools
    for m in plan.models:
        assert m.replicas == {p.key: p.replicas for p in plan.pools if p.spec.model == m.model}
    again = read_plan(plan.to_dict())
    assert again.models == plan.models and [p.key for p in again.pools] == [p.key for p in plan.pools]


def test_one_fleet_is_no_dearer_than_each_model_alone():
    plan = api.solve(_two_models())
    alone = 0.0
    for entry in _two_models()["models"]:
        w = {k: v for k, v in _two_models().items() if k != "models"} | entry
        w.setdefault("slo", _two_models()["slo"])
        alone += api.solve(w).cost_per_month
    assert plan.cost_per_month <= alone + 1e-6


def test_models_text_and_markdown_show_a_line_per_model():
    from planner.report.plan_text import render_markdown, render_table

    plan = api.solve(_two_models())
    text = render_table(plan, width=200)
    assert "Models (busiest slot" in text and "TPOT <= 40 ms" in text and "2 models on one fleet" in text
    assert "| model | GPU |" in render_markdown(plan)


def test_unknown_model_is_named_with_a_close_match():
    w = _two_models()
    w["models"][1]["model"] = "mistral-7"
    with pytest.raises(WorkloadError, match=r"models\.1\.model: unknown model 'mistral-7'.*mistral-7b"):
        api.solve(w)


def test_unknown_key_in_a_model_entry_is_refused(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("slo: {ttft_ms: 1000, tpot_ms: 50}\nmodels:\n  - model: llama-3-8b\n    trafic: {rate_rps: 1}\n")
    result = CliRunner().invoke(cli, ["solve", str(path)])
    assert result.exit_code == 2, result.output
    assert "trafic" in result.output and "Traceback" not in result.output


def test_top_level_model_must_be_the_first_entry():
    w = _two_models(model="mistral-7b")
    with pytest.raises(WorkloadError, match="top-level `model` differs from models\\[0\\]"):
        api.solve(w)


def test_models_cut_into_different_slots_are_refused():
    w = _two_models()
    w["models"][0]["traffic"] = {**w["models"][0]["traffic"], "slot_profile": [1.0, 0.5]}
    w["models"][1]["traffic"] = {**w["models"][1]["traffic"], "slot_profile": [1.0, 0.5, 0.2]}
    with pytest.raises(WorkloadError, match="cut into 3 slots"):
        api.solve(w)


def test_a_plan_of_several_models_is_not_replayed_as_one():
    """The simulator replays one model's plan; a joined plan is refused with the reason, not simulated wrongly."""
    from planner.simulate.verify import simulate_plan

    plan = api.solve(_two_models())
    with pytest.raises(WorkloadError, match="serves 2 models on one fleet .*replay each model's workload on its own"):
        simulate_plan(plan)


def _slotted_models_file(tmp_path):
    """_two_models cut into two slots (quiet half, busy half) with a scenario, as a workload file for the CLI."""
    import yaml

    w = _two_models()
    for entry in w["models"]:
        entry["traffic"]["slot_profile"] = [0.5, 1.0]
    # 25 ms: tight enough to change the plan (30 ms no longer did once busy periods fill steps of at most a full chunk)
    w["scenarios"] = {"tight": {"set": {"models.1.slo.tpot_ms": 25}}}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(w))
    return path


def test_compare_diff_and_sweep_understand_slotted_models(tmp_path):
    # issue 14: compare, diff and sweep on a slotted two-model workload; a tighter TPOT for mistral can only cost more
    path = _slotted_models_file(tmp_path)
    run = CliRunner()
    for name, scenario in (("base", "base"), ("tight", "tight")):
        out = run.invoke(cli, ["solve", str(path), "--scenario", scenario, "--format", "json", "-o", str(tmp_path / f"{name}.json")])
        assert out.exit_code == 0, out.output
    base, tight = (read_plan(__import__("json").loads((tmp_path / f"{n}.json").read_text())) for n in ("base", "tight"))
    assert len(base.slots) == 2 and base.tiers.reserved_gpus and tight.cost_per_month >= base.cost_per_month
    diff = run.invoke(cli, ["diff", str(tmp_path / "base.json"), str(tmp_path / "tight.json")])
    assert diff.exit_code == 0 and "Monthly cost change" in diff.output and "mistral-7b:" in diff.output
    compare = run.invoke(cli, ["compare", str(path), "--scenario", "base,tight", "-j", "1", "--format", "json"])
    assert compare.exit_code == 0, compare.output
    sweep = run.invoke(cli, ["sweep", str(path), "--param", "models.1.slo.tpot_ms=30,40", "-j", "1", "--format", "csv"])
    assert sweep.exit_code == 0 and sweep.output.count("optimal") == 2, sweep.output


def test_report_of_slotted_models_scales_each_models_traffic(tmp_path):
    # The report's traffic sweep and sensitivity used to set traffic.rate_scale, which `models:` refuses (exit 2):
    # each model's traffic is its own factor now, at models.N.traffic.
    from planner.studies.sensitivity import traffic_inputs

    path = _slotted_models_file(tmp_path)
    w = api.load(str(path)).workload
    assert [p for _, p, _ in traffic_inputs(w)] == ["models.0.traffic.rate_scale", "models.1.traffic.rate_scale"]
    out = CliRunner().invoke(cli, ["report", str(path), "-j", "1", "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "r.html").read_text()
    assert "Cost vs traffic" in html and "mistral-7b traffic (rate scale)" in html
