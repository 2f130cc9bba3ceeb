"""Speculative decoding as a searched candidate dimension: candidates, the plan, its JSON, export and replay
(workloads/spec-interactive.yaml where it wins, workloads/spec-batch.yaml where it loses)."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import planner.api as api
from planner.cli.main import cli
from planner.errors import PlannerError
from planner.io.catalog import load_catalog
from planner.io.workload import workload_from_dict
from planner.perf.speculative import SpecDecode
from planner.perf.step import decode_step, mixed_step
from planner.supply.candidates import enumerate_candidates
from planner.supply.replica import build_config

from tests.conftest import ROOT

BASE = {"model": "llama-3.1-70b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "gpus": ["h200"], "tp": [1], "quantization": ["fp8"],
        "engine": {"max_num_batched_tokens": 2048},
        "traffic": {"rate_rps": 1, "histogram": [{"input": [1, 100], "output": [1, 100], "share": 1.0}]}}


def _without_speculation(name: str, tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "workloads" / f"{name}.yaml").read_text())
    doc.pop("speculative")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_each_draft_and_k_is_a_candidate_beside_no_speculation(tmp_path: Path) -> None:
    spec = {"speculative": {"drafts": ["llama-3.2-1b", "llama-3.2-3b"], "k": [2, 4]}}
    cands, _ = enumerate_candidates(workload_from_dict(BASE | spec, tmp_path), load_catalog())
    assert [c.config.key for c in cands] == ["h200/fp8/tp1/chunk2048", "h200/fp8/tp1/chunk2048/spec-llama-3.2-1b-k2",
                                             "h200/fp8/tp1/chunk2048/spec-llama-3.2-1b-k4", "h200/fp8/tp1/chunk2048/spec-llama-3.2-3b-k2",
                                             "h200/fp8/tp1/chunk2048/spec-llama-3.2-3b-k4"]
    assert all(c.config.spec is None or c.config.spec.acceptance == 0.7 for c in cands)  # the sourced default
    plain, _ = enumerate_candidates(workload_from_dict(BASE, tmp_path), load_catalog())
    assert [c.config.key for c in plain] == ["h200/fp8/tp1/chunk2048"]


@pytest.mark.parametrize(("drafts", "message"), [
    (["llama-3.2-1"], r"unknown draft model 'llama-3.2-1' \(did you mean 'llama-3.2-1b'"),
    (["llama-2-7b"], r"must be smaller than llama-3.1-70b .* share its vocabulary \(128256\)"),   # 32000-token vocabulary
    (["llama-3.1-70b"], r"must be smaller than"),
])
def test_a_bad_draft_is_an_input_error(tmp_path: Path, drafts: list[str], message: str) -> None:
    with pytest.raises(PlannerError, match=message):
        enumerate_candidates(workload_from_dict(BASE | {"speculative": {"drafts": drafts}}, tmp_path), load_catalog())


def test_bad_speculative_settings_exit_2(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "workloads" / "spec-interactive.yaml").read_text())
    for section, expected in (({"drafts": ["llama-3.2-1b"], "acceptance": 1.2}, "acceptance"),
                              ({"drafts": ["llama-3.2-1b"], "k": [0]}, "k"),
                              ({"drafts": ["llama-3.2-1b"], "depth": 3}, "depth")):
        path = tmp_path / "w.yaml"
        path.write_text(yaml.safe_dump(doc | {"speculative": section}))
        result = CliRunner().invoke(cli, ["solve", str(path)])
        assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_a_mixed_step_without_chunks_is_the_speculative_decode_round() -> None:
    cat = load_catalog()
    cfg = build_config(cat, "llama-3.1-70b", "h200", "fp8", spec=SpecDecode(cat.model("llama-3.2-1b"), 4, 0.7))
    for batch in (1.0, 32.0, 256.0):
        assert float(mixed_step(cfg, batch, 1500.0, 0.0).total_s) == pytest.approx(float(decode_step(cfg, batch, 1500.0).total_s), rel=1e-12)
    # chunks make the round dearer, and the round carries tokens_per_round emitted tokens' worth of them
    assert float(mixed_step(cfg, 8.0, 1500.0, 64.0).total_s) > float(mixed_step(cfg, 8.0, 1500.0, 0.0).total_s)


def test_speculation_wins_at_small_batch_and_tight_tpot(tmp_path: Path) -> None:
    # Llama 3.1 70B FP8 is ~70 GB: one H200 streams it in 70 / 4.8 TB/s = 14.6 ms at full bandwidth, before any
    # overhead, so a 15 ms p99 TPOT needs TP >= 2 without speculation. With a 1B draft (k 4, acceptance 0.7:
    # (1 - 0.7^5) / 0.3 = 2.77 tokens a round for 4 draft steps + 1 verify) one H200 holds it.
    plan = api.solve(ROOT / "workloads" / "spec-interactive.yaml")
    off = api.solve(_without_speculation("spec-interactive", tmp_path))
    assert all(p.spec.speculative is not None for p in plan.pools)
    assert plan.cost_per_hour < off.cost_per_hour
    assert all(p.tpot_ms <= 15.0 for p in plan.pools)
    assert all(p.spec.tp >= 2 for p in off.pools)


def test_speculation_loses_at_large_batch(tmp_path: Path) -> None:
    plan = api.solve(ROOT / "workloads" / "spec-batch.yaml")
    assert all(p.spec.speculative is None for p in plan.pools)
    assert plan.cost_per_hour == pytest.approx(api.solve(_without_speculation("spec-batch", tmp_path)).cost_per_hour)


def test_plan_json_export_and_replay_carry_the_draft(tmp_path: Path) -> None:
    from planner.export.deployment import export_plan
    from planner.export.replay import replay_export
    from planner.plan.document import read_plan

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(api.solve(ROOT / "workloads" / "spec-interactive.yaml").to_json())
    pool = json.loads(plan_file.read_text())["pools"][0]
    k = pool["speculative"]["k"]  # the searched depth the plan chose (2 since chunked prefill's time-share utilization)
    assert pool["speculative"] == {"draft": "llama-3.2-1b", "k": k, "acceptance": 0.7} and f"/spec-llama-3.2-1b-k{k}" in pool["config"]
    assert read_plan(plan_file).pools[0].key == pool["config"]  # the document reads back to the same config
    script = next(p for p in export_plan(plan_file, "vllm", tmp_path / "vllm") if p.suffix == ".sh")
    argv = shlex.split(script.read_text().splitlines()[-1])
    assert json.loads(argv[argv.index("--speculative-config") + 1]) == {"model": "meta-llama/Llama-3.2-1B", "num_speculative_tokens": k}
    export_plan(plan_file, "k8s", tmp_path / "k8s")
    rows = replay_export(plan_file, tmp_path / "k8s", duration_s=120, seed=3)
    assert rows[0]["simulated_p99_tpot_ms"] <= 1.15 * rows[0]["planned_tpot_ms"]  # docs/simulator.md's band
