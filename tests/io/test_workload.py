"""Workload schema: defaults, path resolution, and file:line errors for every kind of bad input."""
from __future__ import annotations

import pytest

from planner.io.catalog import load_catalog
from planner.errors import WorkloadError
from planner.io.workload import check_ids, load_workload

GOOD = """\
model: llama-3-8b
slo: {ttft_ms: 1000, tpot_ms: 50}
traffic:
  rate_rps: 10
  histogram:
    - {input: [1, 512], output: [1, 256], share: 0.6}
    - {input: [512, 2048], output: [1, 256], share: 0.4}
"""


def errors_of(path) -> str:
    with pytest.raises(WorkloadError) as err:
        check_ids(load_workload(path), load_catalog())
    return str(err.value)


def test_defaults_and_relative_trace_path(write):
    loaded = load_workload(write("w.yaml", GOOD))
    w = loaded.workload
    assert (w.slo.percentile, w.utilization_target, w.quantization, w.tp) == (99.0, 0.8, ["bf16"], [1, 2, 4, 8])
    assert w.pricing.provider == "aws" and w.engine.block_size == 16
    traced = load_workload(write("sub/w2.yaml", "model: llama-3-8b\nslo: {ttft_ms: 1, tpot_ms: 1}\ntraffic: {trace: t/x.csv}\n"))
    assert traced.trace_path() == traced.doc.path.parent / "t" / "x.csv"
    assert len(loaded.sha256) == 64


def test_unknown_key_suggests_and_points_at_line(write):
    path = write("w.yaml", GOOD.replace("slo:", "sloo:"))
    text = errors_of(path)
    assert f"{path}:2: sloo: unknown key (did you mean 'slo'?)" in text
    assert f"{path}:1: slo: Field required" in text


def test_nested_unknown_key_and_bad_value(write):
    path = write("w.yaml", GOOD.replace("tpot_ms: 50", "tpot_mss: 50").replace("rate_rps: 10", "rate_rps: -3"))
    text = errors_of(path)
    assert f"{path}:2: slo.tpot_mss: unknown key (did you mean 'tpot_ms'" in text
    assert f"{path}:2: slo.tpot_ms: Field required" in text
    assert f"{path}:4: traffic.rate_rps: Input should be greater than 0, got -3" in text


@pytest.mark.parametrize("bad, message", [
    ("rate_rps: .inf", "traffic.rate_rps: Input should be a finite number"),
    ("rate_rps: ten", "traffic.rate_rps: Input should be a valid number"),
    ("share: 0.6}", None),
])
def test_non_finite_and_non_numeric_rates(write, bad, message):
    if message is None:  # shares not summing to 1
        path = write("w.yaml", GOOD.replace("share: 0.4", "share: 0.3"))
        assert "histogram shares must sum to 1, got 0.9000" in errors_of(path)
        return
    path = write("w.yaml", GOOD.replace("rate_rps: 10", bad))
    assert f"{path}:4: {message}" in errors_of(path)


def test_trace_and_histogram_are_exclusive(write):
    path = write("w.yaml", GOOD.replace("  rate_rps: 10\n", "  trace: x.csv\n  rate_rps: 10\n"))
    assert "give either `trace` or `histogram`" in errors_of(path)


def test_histogram_range_must_be_ordered(write):
    path = write("w.yaml", GOOD.replace("input: [1, 512]", "input: [512, 1]"))
    assert f"{path}:6: traffic.histogram[0].input: expected [lo, hi) with hi > lo, got [512, 1)" in errors_of(path)


def test_unknown_ids_get_close_matches(write):
    path = write("w.yaml", GOOD.replace("llama-3-8b", "llama3-8b") + "gpus: [h100, a100]\nquantization: [int3]\n")
    text = errors_of(path)
    assert f"{path}:1: model: unknown model 'llama3-8b' (did you mean 'llama-3-8b'" in text
    assert f"{path}:8: gpus.1: unknown GPU 'a100' (did you mean" in text
    assert f"{path}:9: quantization.0: unknown quantization format 'int3'" in text


def test_malformed_yaml_and_missing_file(write, tmp_path):
    path = write("w.yaml", "model: [unclosed\n")
    with pytest.raises(WorkloadError, match=r"w.yaml:2: invalid YAML"):
        load_workload(path)
    with pytest.raises(WorkloadError, match="cannot read file"):
        load_workload(tmp_path / "missing.yaml")
    empty = write("e.yaml", "")
    with pytest.raises(WorkloadError, match="the file is empty"):
        load_workload(empty)
    dup = write("d.yaml", GOOD + "model: llama-3-8b\n")
    with pytest.raises(WorkloadError, match=r"d.yaml:8: invalid YAML: duplicate key 'model'"):
        load_workload(dup)


def test_fleet_limits_name_known_gpus_or_instances(write):
    path = write("w.yaml", GOOD + "fleet:\n  limits: {h100: 8, p5.48xlarg: 1}\n")
    text = errors_of(path)
    assert f"{path}:9: fleet.limits.p5.48xlarg: unknown GPU or instance type 'p5.48xlarg' (did you mean 'p5.48xlarge'" in text


def test_fleet_rules_refuse_bad_values(write):
    for bad, field in (("max_pools: 0", "fleet.max_pools"), ("budget_per_month: -5", "fleet.budget_per_month"),
                       ("redundancy: n+2", "fleet.redundancy"), ("power: {max_kw: .nan}", "fleet.power.max_kw")):
        with pytest.raises(WorkloadError, match=field.replace(".", r"\.")):
            load_workload(write("w.yaml", GOOD + f"fleet:\n  {bad}\n"))
