"""SkyPilot service YAMLs for a plan's deployment (`sky serve up POOL.yaml`): per pool the accelerators of one
replica (GPU type x TP), the replica count, the readiness probe and the vLLM command."""
from __future__ import annotations

from typing import Any

from planner.export.deployment import PORT, SKYPILOT_ACCELERATOR, Deployment, DeployPool, router_config, vllm_command


def task(pool: DeployPool) -> dict[str, Any]:
    """One pool as a SkyServe service: `replicas` fixed replicas of `tp` accelerators each."""
    accel = SKYPILOT_ACCELERATOR.get(pool.cfg.gpu.id, pool.cfg.gpu.id.upper())
    return {
        "name": pool.name,
        "resources": {"accelerators": f"{accel}:{pool.cfg.tp}", "ports": PORT, "disk_size": 512},
        "envs": {"HF_TOKEN": ""},
        "service": {"readiness_probe": {"path": "/health", "initial_delay_seconds": 1800}, "replicas": pool.replicas},
        "setup": "pip install vllm",
        "run": vllm_command(pool) + " --host 0.0.0.0",
    }


def files(dep: Deployment) -> dict[str, str]:
    """One service YAML per pool and the router config (each pool's endpoint from `sky serve status`)."""
    import yaml

    out = {f"{p.name}.sky.yaml": yaml.safe_dump(task(p), sort_keys=False) for p in dep.pools}
    out["router.yaml"] = yaml.safe_dump(router_config(dep, "http://<sky serve status {pool} endpoint>"), sort_keys=False)
    return out
