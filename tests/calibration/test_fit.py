"""planner/calibrate.py and `planner calibrate`: readers, a fit that recovers known factors, the overlay."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.calibration.fit import fit_efficiency
from planner.calibration.predict import errors, predict, with_efficiency
from planner.io.readers.calibration_csv import read_user_csv
from planner.io.readers.vllm_json import read_vllm_result
from planner.schemas.observation import Observation
from planner.io.catalog import load_catalog
from planner.cli.main import cli
from planner.errors import PlannerError
from tests.conftest import shared_file

CATALOG = load_catalog()
VLLM = {"completed": 100, "total_input_tokens": 51200, "total_output_tokens": 12800, "mean_ttft_ms": 30.0,
        "mean_tpot_ms": 9.5, "output_throughput": 1200.0, "request_rate": 10.0, "max_concurrency": None}


def _truth():  # noqa: ANN202
    """The shipped catalog with H100 bandwidth 0.6 and step overhead 2 ms: what the fit must recover."""
    h100 = CATALOG.efficiency_for("h100").model_copy(update={"bandwidth": 0.6, "step_overhead_ms": 2.0})
    return with_efficiency(CATALOG, {"h100": h100})


def _synthetic() -> list[Observation]:
    base = Observation("synthetic", "", "llama-3.1-8b", "h100", 1, "bf16", "fp16", "batch", 512, 128, 1, "tpot_ms", 1.0)
    rows = [replace(base, ref=f"b{b}/{m}", load=b, metric=m) for b in (1, 4, 16, 64) for m in ("tpot_ms", "ttft_ms")]
    truth = _truth()
    return [replace(o, measured=predict(o, truth)) for o in rows]


def test_fit_recovers_known_factors() -> None:
    obs = _synthetic()
    fitted = fit_efficiency(obs, CATALOG, "test", "2026")
    after = errors(obs, with_efficiency(CATALOG, fitted))
    assert after["error"].abs().max() < 0.05  # not exact: the weak prior toward the start pulls a little
    assert errors(obs, CATALOG)["error"].abs().max() > 0.1  # the shipped factors were off for this "hardware"
    assert fitted["h100"].bandwidth == pytest.approx(0.6, rel=0.1)


def test_read_vllm_result(write) -> None:  # noqa: ANN001
    path = write("run.json", json.dumps(VLLM))
    obs = read_vllm_result(path, "llama-3.1-8b", "h100", 1, "bf16", "fp16")
    assert {(o.mode, o.load, o.input_tokens, o.output_tokens) for o in obs} == {("rate", 10.0, 512, 128)}
    assert {o.metric: o.measured for o in obs} == {"ttft_ms": 30.0, "tpot_ms": 9.5, "output_tok_s": 1200.0}
    concurrent = write("c.json", json.dumps({**VLLM, "max_concurrency": 32, "request_rate": "inf"}))
    assert read_vllm_result(concurrent, "llama-3.1-8b", "h100", 1, "bf16", "fp16")[0].mode == "concurrency"


def test_read_vllm_result_errors(write) -> None:  # noqa: ANN001
    path = write("bad.json", json.dumps({"completed": 3}))
    with pytest.raises(PlannerError, match="bad.json:1: total_input_tokens: missing; expected a vllm bench serve --save-result JSON"):
        read_vllm_result(path, "llama-3.1-8b", "h100", 1, "bf16", "fp16")


CSV_HEADER = "model,gpu,tp,quant,kv_dtype,mode,input_tokens,output_tokens,load,metric,value\n"


def test_read_user_csv_reports_every_bad_line(write) -> None:  # noqa: ANN001
    path = write("m.csv", CSV_HEADER + "llama-3.1-8b,h100,1,bf16,fp16,batch,512,128,8,tpot_ms,9.1\n"
                 "llama-3.1-8b,h100,1,bf16,fp16,warp,512,128,8,tpot_ms,9.1\n"
                 "llama-3.1-8b,h100,1,bf16,fp16,batch,512,128,8,tpot_ms,nan\n")
    with pytest.raises(PlannerError) as info:
        read_user_csv(path)
    assert str(info.value) == (f"{path}:3: mode: expected one of batch, max-throughput, rate, concurrency, got 'warp'\n"
                               f"{path}:4: value: expected a finite non-negative number, got 'nan'")
    assert len(read_user_csv(write("ok.csv", CSV_HEADER + "llama-3.1-8b,h100,1,bf16,fp16,batch,512,128,8,tpot_ms,9.1\n"))) == 1


def test_cli_calibrate_writes_a_loadable_overlay(write, tmp_path: Path) -> None:  # noqa: ANN001
    lines = [f"{o.model},{o.gpu},{o.tp},{o.quant},{o.kv_dtype},{o.mode},{o.input_tokens},{o.output_tokens},{o.load},{o.metric},{o.measured}"
             for o in _synthetic()]
    csv = write("measured.csv", CSV_HEADER + "\n".join(lines) + "\n")
    out = tmp_path / "overlay.yaml"
    result = CliRunner().invoke(cli, ["calibrate", str(csv), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "median|err| before -> after" in result.output
    overlay = load_catalog([out])
    assert overlay.efficiency["h100"].source.startswith("calibrated: planner calibrate on measured.csv")


def test_cli_calibrate_json_needs_hardware(write) -> None:  # noqa: ANN001
    path = write("run.json", json.dumps(VLLM))
    result = CliRunner().invoke(cli, ["calibrate", str(path)])
    assert result.exit_code == 2
    assert "a vllm result does not record the hardware: give the model and GPU it ran on (CLI: --model and --gpu" in result.output


def test_measured_data_sets_load() -> None:
    from planner.io.readers.measured import read_published, read_splitwise

    published, skipped = read_published(shared_file("measured/published_calibration.csv"))
    assert len(published) + len(skipped) == 64  # PROVENANCE: 64 rows
    assert {s[1] for s in skipped} <= {"input/output lengths not stated (variable-length dataset)", "tensor-parallel layout not stated"}
    splitwise, _ = read_splitwise(shared_file("measured/splitwise_perf_model_tp2_tp4.csv"))
    assert {o.gpu for o in splitwise} == {"a100-80gb", "h100"}
