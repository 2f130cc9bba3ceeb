"""Error bands (planner/perf/bands.py): lookup from the most specific scope, the pessimistic slow-down, and
the bands carried by `planner estimate` and plans (JSON too); `solve --confidence p90` never plans cheaper."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from planner import api
from planner.cli.main import cli
from planner.perf.bands import band_for, bands_for, pessimistic, slowdown
from planner.perf.step import decode_step
from planner.schemas.catalog import ErrorBand
from tests.perf._configs import CATALOG, ROUND_EFF, config


def _band(gpu: str, engine: str, metric: str, n: int, p50: float, p90: float) -> ErrorBand:
    return ErrorBand(gpu=gpu, engine=engine, metric=metric, n=n, median_abs_pct=p50, p90_abs_pct=p90, median_signed_pct=-p50,
                     source="test fixture", date="2026-12-02")


BANDS = {f"{b.gpu}/{b.engine}/{b.metric}": b for b in (
    _band("h100", "trtllm", "tpot", 12, 8.0, 20.0), _band("h100", "vllm", "tpot", 3, 5.0, 9.0),
    _band("h100", "any", "tpot", 40, 12.0, 30.0), _band("any", "any", "tpot", 90, 15.0, 35.0),
    _band("any", "any", "ttft", 90, 10.0, 25.0),
)}


def test_band_lookup_prefers_the_most_specific_scope_with_enough_rows() -> None:
    assert band_for(BANDS, "h100", "trtllm", "tpot").median_abs_pct == 8.0
    assert band_for(BANDS, "h100", "vllm", "tpot").gpu == "h100" and band_for(BANDS, "h100", "vllm", "tpot").engine == "any"  # 3 rows: too few
    assert band_for(BANDS, "l4", "vllm", "tpot").gpu == "any"
    assert band_for(BANDS, "l4", "vllm", "throughput") is None
    assert set(bands_for(BANDS, "h100", "trtllm")) == {"ttft", "tpot"}


def test_slowdown_is_one_plus_the_worse_p90() -> None:
    # h100/trtllm: TPOT p90 20 %, TTFT falls back to any/any p90 25 % -> 1.25
    assert slowdown(BANDS, "h100", "trtllm") == pytest.approx(1.25)
    assert slowdown({}, "h100", "vllm") == 1.0


def test_pessimistic_factors_slow_every_step_by_the_factor() -> None:
    # memory-bound decode with ROUND_EFF: (weights + KV) / bandwidth + 1 ms overhead; all three scale by 1.25
    base = decode_step(config("llama-2-7b", "h100", eff=ROUND_EFF), 1.0, 1000.0)
    slow = decode_step(config("llama-2-7b", "h100", eff=pessimistic(ROUND_EFF, "vllm", 1.25)), 1.0, 1000.0)
    assert float(slow.total_s) == pytest.approx(1.25 * float(base.total_s), rel=1e-9)


def test_estimate_json_carries_the_band() -> None:
    result = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input-len", "512", "--output-len", "128",
                                      "--request-rate", "4", "--format", "json"])
    doc = json.loads(result.output)
    assert "error_band" in doc
    assert set(doc["error_band"]) <= {"ttft", "tpot", "throughput"}
    for band in doc["error_band"].values():
        assert band["p90_abs_pct"] >= band["median_abs_pct"] >= 0 and band["n"] >= 5


def test_plan_pools_carry_bands_and_p90_never_plans_cheaper() -> None:
    p50 = api.solve("workloads/chat.yaml", catalog=CATALOG)
    p90 = api.solve("workloads/chat.yaml", catalog=CATALOG, confidence="p90")
    assert p90.cost_per_hour >= p50.cost_per_hour
    assert any("confidence p90" in n for n in p90.notes)
    doc = json.loads(CliRunner().invoke(cli, ["solve", "workloads/chat.yaml", "--format", "json"]).output)
    assert all("error_band" in pool for pool in doc["pools"])
    assert {pool.gpu: pool.error_band for pool in p50.pools} == {p["gpu"]: p["error_band"] for p in doc["pools"]}


def test_unknown_confidence_is_refused() -> None:
    result = CliRunner().invoke(cli, ["solve", "workloads/chat.yaml", "--confidence", "p99"])
    assert result.exit_code == 2 and "Traceback" not in result.output
