"""The exported deployment "deployed" in the simulator: the Kubernetes manifests and router.yaml that
`planner export --to k8s` wrote are read back (GPU type from the node selector, TP from the GPU limit,
quantization, KV dtype and engine limits from the vLLM arguments, replicas, routing shares), run on the plan's
own traffic, and each pool's simulated p99 TTFT/TPOT set against the plan's prediction (docs/export.md)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.export.deployment import GPU_PRODUCT, KV_CACHE_DTYPE, QUANTIZATION, pool_name
from planner.plan.document import read_plan
from planner.schemas.replica import EngineParams, ReplicaSpec, Speculation

ENGINE_FLAGS = {"--max-num-seqs": "max_num_seqs", "--max-num-batched-tokens": "max_num_batched_tokens",
                "--gpu-memory-utilization": "gpu_memory_utilization", "--block-size": "block_size"}


DeployedPool = tuple[str, ReplicaSpec, int]
"""(Deployment name, what its pods run, replicas), as read back from a manifest."""


def _invert(table: dict[str, Any]) -> dict[Any, str]:
    return {v: k for k, v in table.items()}


def _speculation(path: Path, obj: dict[str, Any], opts: dict[str, str]) -> Speculation | None:
    """The draft model a Deployment runs: k from `--speculative-config`, draft and acceptance from the annotation."""
    if "--speculative-config" not in opts:
        return None
    note = obj["metadata"].get("annotations", {}).get("planner/speculative", "")
    parts = note.split(":")
    k = json.loads(opts["--speculative-config"]).get("num_speculative_tokens")
    if len(parts) != 3 or str(k) != parts[1]:
        raise PlannerError(f"{path}: --speculative-config {opts['--speculative-config']} without a matching "
                           f"planner/speculative annotation (DRAFT:K:ACCEPT), got {note!r}")
    return Speculation(parts[0], int(parts[1]), float(parts[2]))


def read_manifests(export_dir: str | Path, model: str) -> tuple[list[DeployedPool], dict[str, Any]]:
    """The pools of the Deployments in `export_dir`/*.yaml and the routing of its router ConfigMap."""
    import yaml

    pools, router = [], None
    for path in sorted(Path(export_dir).glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == "planner-router":
                router = yaml.safe_load(obj["data"]["router.yaml"])
            if obj.get("kind") != "Deployment":
                continue
            pod = obj["spec"]["template"]["spec"]
            c = pod["containers"][0]
            args = c["args"]
            opts = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
            engine = EngineParams(**{f: type(getattr(EngineParams, f))(opts[flag]) for flag, f in ENGINE_FLAGS.items()},
                                  chunked_prefill="--enable-chunked-prefill" in args,
                                  cuda_graphs="--enforce-eager" not in args)
            gpu = _invert(GPU_PRODUCT)[pod["nodeSelector"]["nvidia.com/gpu.product"]]
            quant = _invert(QUANTIZATION).get(opts.get("--quantization"), "bf16")
            kv = _invert(KV_CACHE_DTYPE)[opts["--kv-cache-dtype"]]
            tp = int(c["resources"]["limits"]["nvidia.com/gpu"])
            if int(opts["--tensor-parallel-size"]) != tp:
                raise PlannerError(f"{path}: --tensor-parallel-size {opts['--tensor-parallel-size']} but {tp} GPUs per pod")
            spec = _speculation(path, obj, opts)
            pools.append((obj["metadata"]["name"], ReplicaSpec(model, gpu, quant, kv, tp, engine=engine, speculative=spec),
                          int(obj["spec"]["replicas"])))
    if router is None or not pools:
        raise PlannerError(f"{export_dir}: no Deployments and router ConfigMap found; expected `planner export --to k8s` output")
    return pools, router


def replay_export(plan: Any, export_dir: str | Path, duration_s: float | None = None, seed: int = 0,
                  catalog_files: tuple[str | Path, ...] = ()) -> list[dict[str, Any]]:
    """Per pool: the plan's predicted p99 TTFT/TPOT and the simulated ones of the deployment read back."""
    from planner.simulate.replay import SimOptions, SimPool
    from planner.simulate.router import RouteTable
    from planner.simulate.verify import build_fleet, requests_for, run_fleet
    from planner.supply.replica import resolve

    plan = read_plan(plan)
    fleet = build_fleet(plan, catalog_files)
    deployed, router = read_manifests(export_dir, plan.model)
    order = {pool_name(p.key): k for k, p in enumerate(plan.pools)}
    deployed.sort(key=lambda d: order.get(d[0], len(order)))  # the plan's pool order: the same routing draws
    pools = [SimPool(name, resolve(spec, fleet.catalog), replicas) for name, spec, replicas in deployed]
    index = {p.key: k for k, p in enumerate(pools)}
    shares = np.zeros((len(router["routes"]), len(pools)))
    for b, route in enumerate(router["routes"]):
        for name, share in route["pools"].items():
            shares[b, index[name]] = share
    edges = [np.array([r[side][i] if r[side][i] is not None else 2**62 for r in router["routes"]], dtype=np.int64)
             for side, i in (("input_tokens", 0), ("input_tokens", 1), ("output_tokens", 0), ("output_tokens", 1))]
    deployed_fleet = replace(fleet, pools=pools, routes=RouteTable(*edges, shares))
    options = SimOptions(seed=seed)
    result = run_fleet(deployed_fleet, requests_for(fleet, None, duration_s, seed), options)
    planned = {pool_name(p.key): p for p in plan.pools}
    return [{"pool": row["pool"], "replicas": pools[k].replicas,
             "planned_ttft_ms": planned[row["pool"]].ttft_ms, "simulated_p99_ttft_ms": row["p99_ttft_ms"],
             "planned_tpot_ms": planned[row["pool"]].tpot_ms, "simulated_p99_tpot_ms": row["p99_tpot_ms"],
             "slo_met": row["slo_met"]} for k, row in enumerate(result.summary["pools"])]
