"""Mutated workloads, catalogs, traces, plan files, calibration files, `--set` values and CLI flags: a result or a
clean error naming the file, exit 2; never a traceback or a hang (tests/fuzz/conftest.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import WORKLOADS
from tests.fuzz.conftest import FUZZ, run
from tests.fuzz.strategies import NUMBERS, VALUES, mutated, mutated_bytes

WORKLOAD = {
    "model": "llama-3.1-8b",
    "slo": {"ttft_ms": 1000, "tpot_ms": 50, "percentile": 99},
    "traffic": {"rate_rps": 8, "histogram": [{"input": [1, 512], "output": [1, 256], "share": 0.7},
                                             {"input": [512, 4096], "output": [64, 512], "share": 0.3}]},
    "gpus": ["h100", "l4"],
    "quantization": ["bf16"],
    "utilization_target": 0.8,
    "engine": {"gpu_memory_utilization": 0.9},
}
TRACE = "arrival_s,input_tokens,output_tokens\n" + "".join(f"{k * 0.7:.1f},{100 + 37 * k % 900},{20 + 11 * k % 300}\n" for k in range(120))
OVERLAY = {"gpus": [{"id": "h100-fuzz", "name": "H100 fuzz", "memory_gb": 80, "memory_bandwidth_gbs": 3350,
                     "tflops": {"bf16": 989, "fp8": 1979}, "interconnect": {"kind": "nvlink", "unidirectional_gbs": 450},
                     "max_tp": 8, "tdp_w": 700, "source": "fuzz", "date": "2024-01"}]}


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    (folder / "w.yaml").write_text(yaml.safe_dump(WORKLOAD))
    out = folder / "plan.json"
    run(["solve", folder / "w.yaml", "--format", "json", "-o", out])
    return out


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@FUZZ
@given(doc=mutated(WORKLOAD))
@example(doc={**WORKLOAD, "utilization_target": 5e-324})
@example(doc={**WORKLOAD, "traffic": {**WORKLOAD["traffic"], "rate_rps": 1e308}})
@example(doc={**WORKLOAD, "engine": {"gpu_memory_utilization": float("nan")}})
def test_mutated_workloads(tmp_path, doc):
    path = _write(tmp_path, "w.yaml", yaml.safe_dump(doc, allow_unicode=True))
    run(["solve", path], [path])


@FUZZ
@given(data=mutated_bytes(yaml.safe_dump(WORKLOAD).encode()))
@example(data=b"model: llama-3.1-8b\x00\n")
@example(data=b"a: &a [*a]\n")
@example(data=b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
              b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")
@example(data=b"utilization_target: " + b"9" * 5000 + b"\n")
@example(data=b"? [1, 2]\n: 3\n")
@example(data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
def test_mutated_workload_bytes(tmp_path, data):
    path = _write(tmp_path, "w.yaml", data)
    run(["solve", path], [path])


@FUZZ
@given(data=mutated_bytes(TRACE.encode()))
@example(data=b"")
@example(data=b"arrival_s,input_tokens,output_tokens\n0,5,5\n1,5\n")
@example(data=b"TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,5,5\n2023-01-01 00:00:00,5,5\n")
@example(data=b"TIMESTAMP,ContextTokens,GeneratedTokens\n0001-01-01 00:00:00,5,5\n2023-01-01 00:00:00,5,5\n")
@example(data=b"arrival_s,input_tokens,output_tokens\n0,99999999999999999999999,5\n1,5,5\n")
def test_mutated_traces(tmp_path, data):
    trace = _write(tmp_path, "t.csv", data)
    run(["trace", "stats", trace], [trace])
    run(["trace", "bucket", trace, "--on-bad-rows", "skip"], [trace])
    workload = {k: v for k, v in WORKLOAD.items() if k != "traffic"} | {"traffic": {"trace": "t.csv", "on_bad_rows": "report"}}
    path = _write(tmp_path, "w.yaml", yaml.safe_dump(workload))
    run(["solve", path], [path, trace])


@FUZZ
@given(doc=mutated(OVERLAY, max_changes=2))
def test_mutated_catalog_overlays(tmp_path, doc):
    overlay = _write(tmp_path, "gpus.yaml", yaml.safe_dump(doc, allow_unicode=True))
    run(["catalog", "gpus", "--catalog", overlay], [overlay])
    path = _write(tmp_path, "w.yaml", yaml.safe_dump({**WORKLOAD, "gpus": ["h100-fuzz", "h100"]}))
    run(["solve", path, "--catalog", overlay], [overlay, path])


@FUZZ
@given(data=st.data())
def test_mutated_plan_files(tmp_path, plan_json, data):
    doc = json.loads(plan_json.read_text())
    bad = data.draw(st.one_of(mutated(doc, max_changes=2).map(lambda d: json.dumps(d, allow_nan=True).encode()),
                              mutated_bytes(plan_json.read_bytes()), st.just(b'{"pools": true}')))
    path = _write(tmp_path, "new.json", bad)
    run(["diff", plan_json, path], [path], ok=(0, 1))


@FUZZ
@given(key=st.sampled_from(["slo.tpot_ms", "slo.ttft_ms", "traffic.rate_rps", "utilization_target", "gpus", "gpus.0",
                            "engine.gpu_memory_utilization", "traffic.histogram.0.share", "solver.time_limit_s", "nosuch.key"]),
       value=st.one_of(NUMBERS.map(repr), st.text(max_size=12), st.sampled_from(["nan", "inf", "[h100", "{}", "[]", "1e308"])))
def test_mutated_set_values(tmp_path, key, value):
    path = _write(tmp_path, "w.yaml", yaml.safe_dump(WORKLOAD))
    run(["solve", path, "--set", f"{key}={value}"], [path, "--set"])


@FUZZ
@given(flag=st.sampled_from(["--time-limit", "--seed", "--max-repair-steps"]), value=st.one_of(NUMBERS.map(str), st.text(max_size=6)))
def test_mutated_solve_flags(tmp_path, flag, value):
    path = _write(tmp_path, "w.yaml", yaml.safe_dump(WORKLOAD))
    run(["solve", path, flag, value], [path])


@FUZZ
@given(rate=NUMBERS.map(str), inp=st.one_of(st.integers(-5, 10**7).map(str), st.just("nan")))
def test_mutated_estimate_flags(rate, inp):
    run(["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input-len", inp, "--output-len", "64", "--request-rate", rate])


@FUZZ
@given(threshold=st.one_of(NUMBERS.map(str), st.text(max_size=6), st.sampled_from(["5%", "$2000", "$", "%", "nan%", "$inf"])))
def test_mutated_fail_above(plan_json, threshold):
    run(["diff", plan_json, plan_json, "--fail-above", threshold], ok=(0, 1))


CALIBRATION_CSV = ("model,gpu,tp,quant,kv_dtype,input_tokens,output_tokens,batch,ttft_ms,tpot_ms,source\n"
                   "llama-3.1-8b,h100,1,bf16,fp16,512,128,8,40.0,7.5,fuzz\n"
                   "llama-3.1-8b,h100,1,bf16,fp16,2048,128,16,160.0,9.0,fuzz\n")


@FUZZ
@given(data=st.one_of(mutated_bytes(CALIBRATION_CSV.encode()), st.just(b""), st.just("ttft_ms\n\xe9\n".encode("latin-1"))))
def test_mutated_calibration_files(tmp_path, data):
    results = _write(tmp_path, "runs.csv", data)
    run(["calibrate", results, "-o", tmp_path / "overlay.yaml"], [results])


@FUZZ
@given(doc=mutated({"input_len": 512, "output_len": 128, "request_rate": 4.0, "median_ttft_ms": 40.0, "median_tpot_ms": 8.0,
                    "p99_ttft_ms": 60.0, "p99_tpot_ms": 9.0, "completed": 100, "duration": 25.0}, max_changes=2))
def test_mutated_vllm_json(tmp_path, doc):
    results = _write(tmp_path, "vllm.json", json.dumps(doc, allow_nan=True))
    run(["calibrate", results, "--model", "llama-3.1-8b", "--gpu", "h100", "-o", tmp_path / "overlay.yaml"], [results])


def test_profile_files_and_the_shipped_example_survive_hostile_edits(tmp_path):
    source = WORKLOADS / "profiles" / "llama-3.1-8b-mix.csv"
    for cut in (0, 40, 200, len(source.read_bytes()) // 2):
        shutil.copy(WORKLOADS / "profile-mix.yaml", tmp_path / "w.yaml")
        (tmp_path / "profiles").mkdir(exist_ok=True)
        (tmp_path / "profiles" / "llama-3.1-8b-mix.csv").write_bytes(source.read_bytes()[:cut] + b"\n\x00,nan,-1\n")
        run(["solve", tmp_path / "w.yaml"], [tmp_path / "profiles" / "llama-3.1-8b-mix.csv", tmp_path / "w.yaml"])
