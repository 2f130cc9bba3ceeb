"""Kubernetes manifests for a plan's deployment: per pool a Deployment (replicas, GPUs per pod = TP, a node
selector for the GPU type, readiness/liveness probes on vLLM's /health) and a ClusterIP Service, plus the
router configuration as a ConfigMap. Validated against the Kubernetes OpenAPI schema in the tests."""
from __future__ import annotations

from typing import Any

from planner.export.deployment import GPU_PRODUCT, PORT, Deployment, DeployPool, router_config, speculation_note, vllm_args

SHM_GIB = 16
"""/dev/shm for the TP workers' shared memory (NCCL, vLLM's multiprocessing): the container default of 64 MiB is too small."""


def _labels(pool: DeployPool) -> dict[str, str]:
    role = {} if pool.role == "unified" else {"planner/role": pool.role}  # prefill | decode half of a pair
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/part-of": "planner", "planner/pool": pool.name} | role


def deployment_manifest(pool: DeployPool, image: str) -> dict[str, Any]:
    """One pool's Deployment: `replicas` pods, each a vLLM server on `tp` GPUs of the pool's type. The startup
    probe allows 30 min for the weights to download and load (180 x 10 s); then a pod is ready while /health answers."""
    gpus = str(pool.cfg.tp)

    def probe(**kw: int) -> dict[str, Any]:
        return {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": 10, **kw}

    container = {
        "name": "vllm", "image": image, "command": ["vllm", "serve"], "args": vllm_args(pool),
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}],
        "resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"nvidia.com/gpu": gpus}},
        "readinessProbe": probe(failureThreshold=3),
        "livenessProbe": probe(failureThreshold=6),
        "startupProbe": probe(failureThreshold=180),
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
    }
    spec = {"containers": [container], "nodeSelector": {"nvidia.com/gpu.product": GPU_PRODUCT.get(pool.cfg.gpu.id, pool.cfg.gpu.id)},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB}Gi"}}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": pool.name, "labels": _labels(pool), "annotations": _annotations(pool)},
            "spec": {"replicas": pool.replicas, "selector": {"matchLabels": {"planner/pool": pool.name}},
                     "template": {"metadata": {"labels": _labels(pool)}, "spec": spec}}}


def _annotations(pool: DeployPool) -> dict[str, str]:
    """The plan's config key and, for a speculative pool, the draft, k and acceptance it was planned with."""
    note = speculation_note(pool.cfg)
    return {"planner/config": pool.key} | ({} if note is None else {"planner/speculative": note})


def service_manifest(pool: DeployPool) -> dict[str, Any]:
    """A ClusterIP Service over the pool's ready pods (the router sends each pool's share here)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": pool.name, "labels": _labels(pool)},
            "spec": {"selector": {"planner/pool": pool.name}, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}}


def router_configmap(dep: Deployment) -> dict[str, Any]:
    import yaml

    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planner-router", "labels": {"app.kubernetes.io/part-of": "planner"}},
            "data": {"router.yaml": yaml.safe_dump(router_config(dep), sort_keys=False)}}


def manifests(dep: Deployment) -> list[dict[str, Any]]:
    """Every object, in apply order: per pool its Service and Deployment, then the router ConfigMap."""
    out: list[dict[str, Any]] = []
    for pool in dep.pools:
        out += [service_manifest(pool), deployment_manifest(pool, dep.image)]
    return out + [router_configmap(dep)]


def files(dep: Deployment) -> dict[str, str]:
    """One multi-document YAML per pool (Service + Deployment) and router.yaml (the ConfigMap)."""
    import yaml

    out = {f"{p.name}.yaml": yaml.safe_dump_all([service_manifest(p), deployment_manifest(p, dep.image)], sort_keys=False)
           for p in dep.pools}
    out["router.yaml"] = yaml.safe_dump(router_configmap(dep), sort_keys=False)
    return out
