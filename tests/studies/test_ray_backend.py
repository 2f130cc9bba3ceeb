"""Sweeps on Ray (`--backend ray`, extra planner[ray]): the same rows as joblib, on a local Ray instance; clean errors."""
from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import PlannerError
from planner.studies.parallel import Workers, run_parallel
from planner.studies.sweep import sweep
from tests.studies.whatif_workload import WORKLOAD


def test_sweep_on_a_local_ray_instance_equals_joblib(write):
    pytest.importorskip("ray")
    path = write("w.yaml", WORKLOAD)
    grid = {"slo.tpot_ms": [1, 30, 50], "traffic.rate_scale": [1, 2]}  # tpot 1 ms is infeasible: its reason must survive too
    on_ray = sweep(path, grid, jobs=Workers(jobs=2, backend="ray"))
    local = sweep(path, grid, jobs=1)
    assert on_ray.records == local.records
    assert sum(r["status"] == "infeasible" for r in on_ray.records) == 2


def test_ray_address_without_the_ray_backend_is_a_usage_error(write):
    path = write("w.yaml", WORKLOAD)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--param", "slo.tpot_ms=30", "--ray-address", "auto"])
    assert result.exit_code == 2
    assert "--ray-address needs --backend ray" in result.output


def test_the_ray_backend_without_ray_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(PlannerError, match=r"pip install 'planner\[ray\]'"):
        run_parallel([], Workers(backend="ray"), progress=False, label="sweep")
