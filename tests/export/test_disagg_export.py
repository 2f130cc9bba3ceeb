"""Exports of a disaggregated plan: prefill and decode pools are labelled and their servers run the P/D connector."""
from __future__ import annotations

import json

import yaml

import planner.api as api
from planner.export.deployment import KV_TRANSFER_CONFIG, export_plan

from tests.conftest import WORKLOADS


def test_vllm_and_k8s_label_prefill_and_decode_pools(tmp_path):
    plan = api.solve(WORKLOADS / "agent.yaml", overrides={"engine.disaggregation": "on"})
    export_plan(plan, "vllm", tmp_path / "vllm")
    scripts = {p.name: p.read_text() for p in (tmp_path / "vllm").glob("*.sh")}
    assert scripts and all("--kv-transfer-config" in text for text in scripts.values())
    assert all(json.dumps(KV_TRANSFER_CONFIG, separators=(",", ":")) in text for text in scripts.values())
    router = yaml.safe_load((tmp_path / "vllm" / "router.yaml").read_text())
    assert {pool["role"] for pool in router["pools"].values()} == {"prefill", "decode"}
    export_plan(plan, "k8s", tmp_path / "k8s")
    roles = set()
    for path in (tmp_path / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                roles.add(doc["metadata"]["labels"]["planner/role"])
    assert roles == {"prefill", "decode"}
