"""Overrides and scenarios: dotted paths, YAML values, schema checks with did-you-mean, pydantic errors naming the key."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import planner
from planner.cli.main import cli
from planner.errors import WorkloadError
from planner.io.overrides import parse_assignment
from tests.studies.whatif_workload import WORKLOAD


@pytest.fixture
def path(write):
    return write("w.yaml", WORKLOAD)


def error(path, **kw) -> str:
    with pytest.raises(WorkloadError) as err:
        planner.load(path, **kw)
    return str(err.value)


def test_parse_assignment_values_are_yaml():
    assert parse_assignment("slo.tpot_ms=30") == ("slo.tpot_ms", 30)
    assert parse_assignment("traffic.rate_scale=1.5") == ("traffic.rate_scale", 1.5)
    assert parse_assignment("gpus=[h100, l4]") == ("gpus", ["h100", "l4"])
    assert parse_assignment("engine.paged_kv=false") == ("engine.paged_kv", False)
    assert parse_assignment("name=a=b") == ("name", "a=b")
    with pytest.raises(WorkloadError, match=r"^--set slo: expected KEY.PATH=VALUE, e.g. --set slo.tpot_ms=30$"):
        parse_assignment("slo")


def test_set_replaces_fields_lists_and_map_entries(path):
    loaded = planner.load(path, ["slo.tpot_ms=30", "traffic.histogram.1.share=0.4", "pricing.overrides.h100=2.5", "tp=[1]"])
    w = loaded.workload
    assert (w.slo.tpot_ms, w.slo.ttft_ms, w.pricing.overrides, w.tp) == (30, 1000, {"h100": 2.5}, [1])
    # created on the fly: `engine` is absent from the file
    assert planner.load(path, {"engine.max_num_seqs": 128}).workload.engine.max_num_seqs == 128
    base = planner.load(path)
    assert base.workload.slo.tpot_ms == 50 and loaded.sha256 != base.sha256


def test_scenarios_chain_on_their_base(path):
    w = planner.load(path, scenario="growth-tight").workload
    assert (w.traffic.rate_scale, w.slo.tpot_ms) == (2.0, 30)
    # --set applies after the scenario
    assert planner.load(path, ["slo.tpot_ms=40"], scenario="growth-tight").workload.slo.tpot_ms == 40
    # `base` is the workload as written
    assert planner.load(path, scenario="base").workload == planner.load(path).workload


def test_unknown_keys_name_the_key_with_a_suggestion(path):
    assert error(path, overrides=["slo.tpot=3"]) == "--set slo.tpot=3: slo: unknown key 'tpot' (did you mean 'tpot_ms'?)"
    assert error(path, overrides=["trafic.rate_scale=2"]) == "--set trafic.rate_scale=2: trafic.rate_scale: unknown key 'trafic' (did you mean 'traffic'?)"
    assert error(path, overrides={"traffic.histogram.2.share": 1}) == (
        "--set traffic.histogram.2.share=1: traffic.histogram: index 2 out of range (the list has 2 entries, 0..1)")
    assert error(path, overrides=["slo.tpot_ms.x=1"]) == "--set slo.tpot_ms.x=1: slo.tpot_ms: is the value 50, it has no field 'x'"
    assert "scenarios cannot be overridden" in error(path, overrides=["scenarios.growth.base=x"])


def test_invalid_values_get_the_pydantic_message_naming_the_key(path):
    assert error(path, overrides=["slo.tpot_ms=-5"]) == "--set slo.tpot_ms=-5: slo.tpot_ms: Input should be greater than 0, got -5"
    assert error(path, overrides=["slo.tpot_ms=.nan"]).startswith("--set slo.tpot_ms=.nan: slo.tpot_ms: ")
    # a cross-field rule of the section the override touched
    assert error(path, overrides=["traffic.histogram.0.share=0.5"]) == (
        "--set traffic.histogram.0.share=0.5: traffic: histogram shares must sum to 1, got 0.9000")


def test_scenario_errors_point_at_the_file(write):
    bad = write("bad.yaml", WORKLOAD + "  typo:\n    set: {slo.ttft: 5}\n  loop1: {base: loop2}\n  loop2: {base: loop1}\n")
    assert error(bad, scenario="typo") == f"{bad}:25: scenarios.typo.set.slo.ttft: slo: unknown key 'ttft' (did you mean 'ttft_ms'?)"
    assert error(bad, scenario="loop1") == f"{bad}:26: scenarios.loop1.base: cycle loop1 -> loop2 -> loop1"
    assert error(bad, scenario="grwth") == "--scenario: unknown scenario 'grwth' (did you mean 'growth'?)"


def test_solve_with_overrides_equals_solving_the_edited_file(path, write):
    edited = write("edited.yaml", WORKLOAD.replace("tpot_ms: 50", "tpot_ms: 30").replace("rate_rps: 20", "rate_rps: 40"))
    via_set = planner.solve(path, overrides={"slo.tpot_ms": 30, "traffic.rate_rps": 40})
    direct = planner.solve(edited)
    assert via_set.cost_per_hour == direct.cost_per_hour and via_set.pools == direct.pools
    assert via_set.inputs["overrides"] == ["slo.tpot_ms=30", "traffic.rate_rps=40"]
    assert planner.solve(path, scenario="growth").cost_per_hour == planner.solve(path, overrides=["traffic.rate_scale=2"]).cost_per_hour


def test_cli_set_and_scenario(path):
    runner = CliRunner()
    bad = runner.invoke(cli, ["solve", str(path), "--set", "slo.tpot=3"])
    assert bad.exit_code == 2 and bad.output.strip() == "error: --set slo.tpot=3: slo: unknown key 'tpot' (did you mean 'tpot_ms'?)"
    ok = runner.invoke(cli, ["solve", str(path), "--scenario", "growth", "--set", "slo.tpot_ms=40", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"scenario": "growth"' in ok.output and '"slo.tpot_ms=40"' in ok.output
