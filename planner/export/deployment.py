"""A plan as deployments: per pool, the vLLM server it runs (model, TP, quantization, KV dtype and the engine
limits the plan was sized with), how many replicas, on which GPU type, and the bucket -> pool routing table.

`deployment(plan)` resolves the plan's pools against the catalogs it was made with; the writers
(planner.export.k8s, planner.export.skypilot, and `vllm_command` here) turn a Deployment into files, and
`export_plan` writes them atomically into a folder (docs/export.md).
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import PlannerError, suggest
from planner.io.files import write_atomic
from planner.perf.memory import ServingConfig
from planner.schemas.ranges import OPEN

VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"
"""Container image of the vLLM OpenAI-compatible server the manifests run (override with --image)."""
PORT = 8000
QUANTIZATION = {"bf16": None, "fp8": "fp8", "int8": "compressed-tensors", "int8-wo": "experts_int8", "int4": "awq"}
"""Planner weight format -> vLLM --quantization. fp8 quantizes a 16-bit checkpoint online; int8 (W8A8) and int4
(AWQ) need a checkpoint quantized that way (--model-path); None: the checkpoint's own 16-bit dtype."""
KV_CACHE_DTYPE = {"fp16": "auto", "fp8": "fp8"}
GPU_PRODUCT = {"h100": "NVIDIA-H100-80GB-HBM3", "h200": "NVIDIA-H200", "a100-80gb": "NVIDIA-A100-SXM4-80GB",
               "a100-40gb": "NVIDIA-A100-SXM4-40GB", "l40s": "NVIDIA-L40S", "l4": "NVIDIA-L4", "a10g": "NVIDIA-A10G",
               "b200": "NVIDIA-B200", "h100-pcie": "NVIDIA-H100-PCIe"}
"""GPU id -> the `nvidia.com/gpu.product` node label NVIDIA's GPU feature discovery sets (node selectors)."""
SKYPILOT_ACCELERATOR = {"h100": "H100", "h200": "H200", "a100-80gb": "A100-80GB", "a100-40gb": "A100", "l40s": "L40S",
                        "l4": "L4", "a10g": "A10G", "b200": "B200"}
"""GPU id -> SkyPilot's accelerator name (`sky show-gpus`)."""


KV_TRANSFER_CONFIG = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
"""vLLM `--kv-transfer-config` of a disaggregated pool's servers: NIXL moves the KV from prefill to decode replicas;
the router sends a request to a prefill pool (max_tokens 1), then to the decode pool of its bucket."""


@dataclass(frozen=True)
class DeployPool:
    """One pool: `replicas` vLLM servers of one serving config."""

    name: str
    """DNS-safe name (`h100-fp8-tp2`), the Kubernetes Deployment / Service and SkyPilot service name."""
    key: str
    """The plan's config key (routing shares name pools by it)."""
    cfg: ServingConfig
    replicas: int
    model_path: str
    max_model_len: int
    """The longest request routed to the pool (input + output upper edges), at most the model's context."""
    role: str = "unified"
    """`prefill` or `decode`: one half of a disaggregated pair (its servers run vLLM's P/D KV connector)."""


@dataclass(frozen=True)
class Deployment:
    """Every pool of a plan and its routing table (bucket -> pool shares)."""

    model: str
    pools: tuple[DeployPool, ...]
    routes: tuple[dict[str, Any], ...]
    image: str = VLLM_IMAGE


def hf_model_id(cfg: ServingConfig) -> str:
    """The Hugging Face repo the model catalog cites (`huggingface.co/ORG/NAME ...`), else the catalog id."""
    match = re.search(r"huggingface\.co/([\w.-]+/[\w.-]+)", cfg.model.source)
    return match.group(1) if match else cfg.model.id


def pool_name(key: str) -> str:
    """`h100/fp8/tp2/kv-fp8` -> `h100-fp8-tp2-kv-fp8` (lower-case letters, digits and '-': a DNS-1123 label)."""
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-")[:63]


def deployment(plan: Any, catalog_files: tuple[str | Path, ...] = (), model_path: str | None = None,
               image: str = VLLM_IMAGE) -> Deployment:
    """The plan's pools (those with replicas) resolved to serving configs, with their routing."""
    from planner.plan.document import read_plan
    from planner.simulate.verify import build_fleet

    fleet = build_fleet(read_plan(plan), catalog_files)
    plan = fleet.plan
    longest: dict[str, int] = {}
    for r in plan.routing:
        total = (r.input_hi if r.input_hi < OPEN else 10**9) + (r.output_hi if r.output_hi < OPEN else 10**9)
        for key, share in r.shares.items():
            if share > 0:
                longest[key] = max(longest.get(key, 0), total)
    pools = []
    for p in fleet.pools:
        if p.replicas <= 0:
            continue
        context = min(longest.get(p.key, p.cfg.model.max_context), p.cfg.model.max_context)
        pools.append(DeployPool(pool_name(p.key), p.key, p.cfg, p.replicas, model_path or hf_model_id(p.cfg), context, p.role))
    routes = tuple({"bucket": r.bucket, "input_tokens": [r.input_lo, r.input_hi if r.input_hi < OPEN else None],
                    "output_tokens": [r.output_lo, r.output_hi if r.output_hi < OPEN else None],
                    "rate_rps": round(r.rate_rps, 6),
                    "pools": {pool_name(k): round(s, 6) for k, s in r.shares.items() if s > 0}} for r in plan.routing)
    return Deployment(plan.model, tuple(pools), routes, image)


def vllm_args(pool: DeployPool) -> list[str]:
    """`vllm serve` arguments for one replica of the pool: what the plan's capacity assumed."""
    cfg, e = pool.cfg, pool.cfg.engine
    args = [pool.model_path, "--tensor-parallel-size", str(cfg.tp)]
    if QUANTIZATION.get(cfg.quant.id):
        args += ["--quantization", QUANTIZATION[cfg.quant.id]]
    args += ["--kv-cache-dtype", KV_CACHE_DTYPE.get(cfg.kv.id, "auto"), "--max-num-seqs", str(e.max_num_seqs),
             "--max-num-batched-tokens", str(e.max_num_batched_tokens), "--max-model-len", str(pool.max_model_len),
             "--gpu-memory-utilization", f"{e.gpu_memory_utilization:g}", "--block-size", str(e.block_size)]
    args += ["--enable-chunked-prefill"] if e.chunked_prefill else ["--no-enable-chunked-prefill"]
    args += [] if e.cuda_graphs else ["--enforce-eager"]
    if pool.role != "unified":  # vLLM's NIXL P/D connector on both halves (docs.vllm.ai, "NixlConnector Usage Guide")
        args += ["--kv-transfer-config", json.dumps(KV_TRANSFER_CONFIG, separators=(",", ":"))]
    if cfg.spec is not None and cfg.draft is not None:
        draft = {"model": hf_model_id(cfg.draft), "num_speculative_tokens": cfg.spec.k}
        args += ["--speculative-config", json.dumps(draft, separators=(",", ":"))]
    return args + ["--port", str(PORT)]


def speculation_note(cfg: ServingConfig) -> str | None:
    """`DRAFT:K:ACCEPT` (as `estimate --spec-decode` takes it) for a speculative pool: the acceptance rate the plan
    assumed is no vLLM flag, so the manifests carry it in an annotation for the replay."""
    return None if cfg.spec is None else f"{cfg.spec.draft.id}:{cfg.spec.k}:{cfg.spec.acceptance:g}"


def vllm_command(pool: DeployPool) -> str:
    """The shell command that starts one replica."""
    return "vllm serve " + " ".join(shlex.quote(a) for a in vllm_args(pool))


def router_config(dep: Deployment, url: str = "http://{pool}:" + str(PORT)) -> dict[str, Any]:
    """The routing table a load balancer needs: per bucket of (input, output) tokens, the pools and their shares.

    A request goes to the first bucket whose [lo, hi) ranges hold its prompt and max_tokens (null = no upper
    limit), then to a pool drawn by share; within a pool, to the least-loaded replica.
    """
    return {"model": dep.model, "served_model_name": dep.pools[0].model_path if dep.pools else dep.model,
            "pools": {p.name: {"url": url.format(pool=p.name), "replicas": p.replicas, "config": p.key}
                      | ({} if p.role == "unified" else {"role": p.role}) for p in dep.pools},
            "routes": list(dep.routes)}


def export_plan(plan: Any, to: str, out_dir: str | Path, catalog_files: tuple[str | Path, ...] = (),
                model_path: str | None = None, image: str = VLLM_IMAGE) -> list[Path]:
    """Write the plan's deployment files for `to` (vllm | k8s | skypilot) into `out_dir`, atomically; the paths."""
    from planner.export import k8s, skypilot

    writers = {"vllm": vllm_files, "k8s": k8s.files, "skypilot": skypilot.files}
    if to not in writers:
        raise PlannerError(f"--to: unknown target {to!r}{suggest(to, writers)}")
    dep = deployment(plan, catalog_files, model_path, image)
    if not dep.pools:
        raise PlannerError("the plan has no pool with replicas; nothing to deploy")
    written = []
    for name, text in writers[to](dep).items():
        path = Path(out_dir) / name
        write_atomic(path, text)
        written.append(path)
    return written


def vllm_files(dep: Deployment) -> dict[str, str]:
    """One launch script per pool (run it on each of the pool's replicas) and the router config."""
    import yaml

    files = {}
    for p in dep.pools:
        files[f"{p.name}.sh"] = (f"#!/bin/sh\n# pool {p.key}: {p.replicas} replica(s) of {p.cfg.tp} x {p.cfg.gpu.id}, "
                                 f"one server per replica (planner export --to vllm)\nexec {vllm_command(p)}\n")
    files["router.yaml"] = yaml.safe_dump(router_config(dep, "http://{pool}-replicas:" + str(PORT)), sort_keys=False)
    return files
