"""`planner export`: per pool a vLLM command, Kubernetes Deployment + Service, a SkyPilot service, and the router
table; the manifests validate against the Kubernetes OpenAPI schema (kubernetes-validate, strict: unknown
fields are errors)."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import planner.api as api
from planner.cli.main import cli
from planner.errors import PlannerError
from planner.export.deployment import GPU_PRODUCT, QUANTIZATION, deployment, export_plan

from tests.conftest import ROOT

K8S_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:  # noqa: ANN001
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(api.solve(ROOT / "workloads" / "batch.yaml").to_json())
    return path


@pytest.fixture(scope="module")
def chat_plan_file(tmp_path_factory) -> Path:  # noqa: ANN001
    path = tmp_path_factory.mktemp("chat") / "plan.json"
    path.write_text(api.solve(ROOT / "workloads" / "chat.yaml").to_json())
    return path


def test_k8s_manifests_validate_and_match_the_plan(plan_file: Path, tmp_path: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    doc = yaml.safe_load(plan_file.read_text())
    written = export_plan(plan_file, "k8s", tmp_path)
    assert sorted(p.name for p in written) == sorted([f"{p['config'].replace('/', '-')}.yaml" for p in doc["pools"]] + ["router.yaml"])
    objects = [o for p in written for o in yaml.safe_load_all(p.read_text())]
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    for pool in doc["pools"]:
        d = deployments[pool["config"].replace("/", "-")]
        pod = d["spec"]["template"]["spec"]
        assert d["spec"]["replicas"] == pool["replicas"]
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == str(pool["tp"])
        assert pod["nodeSelector"] == {"nvidia.com/gpu.product": GPU_PRODUCT[pool["gpu"]]}
        assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/health"
        args = pod["containers"][0]["args"]
        assert args[args.index("--tensor-parallel-size") + 1] == str(pool["tp"])
    assert {o["kind"] for o in objects} == {"Deployment", "Service", "ConfigMap"}


def test_vllm_command_carries_the_plans_settings(plan_file: Path, tmp_path: Path) -> None:
    dep = deployment(plan_file)
    engine = yaml.safe_load(plan_file.read_text())["inputs"]["workload"].get("engine", {})
    for path in export_plan(plan_file, "vllm", tmp_path):
        if path.suffix != ".sh":
            continue
        argv = shlex.split(path.read_text().splitlines()[-1])
        assert argv[:3] == ["exec", "vllm", "serve"]
        pool = next(p for p in dep.pools if path.stem == p.name)
        opts = dict(zip(argv[4::2], argv[5::2]))
        assert opts["--tensor-parallel-size"] == str(pool.cfg.tp)
        assert opts["--quantization"] == QUANTIZATION[pool.cfg.quant.id]  # batch.yaml: each pool's own format
        assert opts["--kv-cache-dtype"] == "auto"  # fp16 KV
        assert opts["--max-num-seqs"] == str(engine.get("max_num_seqs", 256))
        planned = next(p for p in yaml.safe_load(plan_file.read_text())["pools"] if p["config"] == pool.key)
        assert opts["--max-num-batched-tokens"] == str(planned["max_num_batched_tokens"])  # the pool's searched chunk budget
        assert int(opts["--max-model-len"]) <= pool.cfg.model.max_context


def test_router_and_skypilot(plan_file: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(plan_file.read_text())
    written = {p.name: p for p in export_plan(plan_file, "skypilot", tmp_path)}
    router = yaml.safe_load(written["router.yaml"].read_text())
    assert [r["bucket"] for r in router["routes"]] == [r["bucket"] for r in doc["routing"]]
    for route, planned in zip(router["routes"], doc["routing"]):
        assert route["pools"] == {k.replace("/", "-"): pytest.approx(v, abs=1e-6) for k, v in planned["shares"].items() if v > 0}
    for pool in doc["pools"]:
        task = yaml.safe_load(written[f"{pool['config'].replace('/', '-')}.sky.yaml"].read_text())
        assert task["resources"]["accelerators"].endswith(f":{pool['tp']}") and task["service"]["replicas"] == pool["replicas"]
        assert task["service"]["readiness_probe"]["path"] == "/health" and task["run"].startswith("vllm serve ")


def test_cli_export_and_errors(plan_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(plan_file), "--to", "k8s", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0 and "wrote" in result.output and (tmp_path / "out" / "router.yaml").is_file()
    bad = CliRunner().invoke(cli, ["export", str(plan_file), "--to", "nomad", "-o", str(tmp_path)])
    assert bad.exit_code == 2 and "nomad" in bad.output
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    res = CliRunner().invoke(cli, ["export", str(broken), "--to", "k8s", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    with pytest.raises(PlannerError, match="unknown target"):
        export_plan(plan_file, "helm", tmp_path)


def test_exported_manifests_replay_exactly_as_the_plan(chat_plan_file: Path, tmp_path: Path) -> None:
    """Round trip of the export itself: the Kubernetes manifests and router.yaml read back (GPU from the node
    selector, TP from the GPU limit, quantization, KV dtype and engine limits from the vLLM arguments, replicas,
    routing shares) and simulated on the plan's traffic give bit for bit the replay of the plan itself, pool by
    pool, with the plan's replica counts, and meet its SLOs."""
    from planner.export.replay import replay_export
    from planner.simulate.replay import SimOptions
    from planner.simulate.verify import simulate_plan

    export_plan(chat_plan_file, "k8s", tmp_path)
    rows = replay_export(chat_plan_file, tmp_path, duration_s=300, seed=3)
    direct = simulate_plan(chat_plan_file, duration_s=300, options=SimOptions(seed=3)).summary["pools"]
    planned = {p["config"].replace("/", "-"): p for p in yaml.safe_load(chat_plan_file.read_text())["pools"]}
    assert [r["pool"] for r in rows] == [d["pool"].replace("/", "-") for d in direct] == list(planned)
    for r, d in zip(rows, direct):
        assert (r["simulated_p99_ttft_ms"], r["simulated_p99_tpot_ms"]) == (d["p99_ttft_ms"], d["p99_tpot_ms"])
        assert r["replicas"] == planned[r["pool"]]["replicas"]
        assert r["slo_met"]


def test_replayed_latency_within_the_plans_prediction(chat_plan_file: Path, tmp_path: Path) -> None:
    """The exported deployment replayed gives back the plan's predicted latency: every pool's simulated p99 TPOT
    at most the plan's prediction +15 % (docs/simulator.md's band) and its TTFT at most 1.6x it. It failed while
    chunked prefill's queue wait took the prompts' share of the token budget as the utilization (3 % on the chat
    plan's 2048-8191-token bucket, whose prompts hold 42 % of the replica's time; planner.perf.load)."""
    from planner.export.replay import replay_export

    export_plan(chat_plan_file, "k8s", tmp_path)
    for r in replay_export(chat_plan_file, tmp_path, duration_s=300, seed=3):
        assert r["simulated_p99_ttft_ms"] <= 1.6 * r["planned_ttft_ms"]
        assert r["simulated_p99_tpot_ms"] <= 1.15 * r["planned_tpot_ms"]
