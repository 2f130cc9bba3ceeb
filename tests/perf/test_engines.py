"""Engine profiles (planner/schemas/engines.py): defaults per engine and GPU, selectable from the CLI and the
workload, visible in estimates and plans, and their calibrated factors applied by the step model."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.perf.step import decode_step
from planner.schemas.engines import default_kv_dtype, engine_params
from planner.schemas.workload import Engine
from tests.perf._configs import ROUND_EFF, config


def test_vllm_v1_defaults_follow_the_gpu_and_entry_point() -> None:
    # vLLM get_batch_defaults: >= 70 GiB and not A100 -> 1024 seqs, 16384 offline / 8192 online tokens; else 256, 8192 / 2048
    h100 = engine_params("vllm", memory_gb=80, gpu_name="NVIDIA H100 SXM5 80GB", offline=True)
    assert (h100.max_num_seqs, h100.max_num_batched_tokens) == (1024, 16384)
    online = engine_params("vllm", memory_gb=80, gpu_name="NVIDIA H100 SXM5 80GB")
    assert (online.max_num_seqs, online.max_num_batched_tokens) == (1024, 8192)
    a100 = engine_params("vllm", memory_gb=80, gpu_name="NVIDIA A100 SXM4 80GB", offline=True)
    assert (a100.max_num_seqs, a100.max_num_batched_tokens) == (256, 8192)
    l4 = engine_params("vllm", memory_gb=24, gpu_name="NVIDIA L4")
    assert (l4.max_num_seqs, l4.max_num_batched_tokens) == (256, 2048)


def test_explicit_settings_win_over_the_profile() -> None:
    engine = engine_params("trtllm", max_num_seqs=64, gpu_memory_utilization=0.8)
    assert (engine.kind, engine.max_num_seqs, engine.gpu_memory_utilization, engine.max_num_batched_tokens) == ("trtllm", 64, 0.8, 8192)


def test_kv_dtype_follows_the_checkpoint_and_engine() -> None:
    assert default_kv_dtype("trtllm", "fp8") == "fp8"
    assert default_kv_dtype("trtllm", "bf16") == "fp16"
    assert default_kv_dtype("vllm", "fp8") == "fp16"  # kv_cache_dtype "auto" = the model dtype


def test_workload_engine_kind_takes_that_engines_defaults() -> None:
    assert Engine(kind="trtllm").params().max_num_seqs == 2048
    assert Engine(kind="trtllm", max_num_seqs=128).params().max_num_seqs == 128
    assert Engine().params().kind == "vllm"
    assert Engine(kind="sglang").params().gpu_memory_utilization == 0.88


def test_engine_overhead_factor_scales_the_fixed_step_time() -> None:
    # ROUND_EFF: 1 ms step overhead, 0 per layer; an engine_overhead of 0.5 for trtllm halves it
    eff = ROUND_EFF.model_copy(update={"engine_overhead": {"trtllm": 0.5}, "engine_kernel": {"trtllm": 1.0}})
    trt = decode_step(config("llama-2-7b", "h100", eff=eff, engine=engine_params("trtllm")), 1.0, 1000.0)
    vllm = decode_step(config("llama-2-7b", "h100", eff=eff), 1.0, 1000.0)
    assert float(trt.overhead_s) == pytest.approx(0.5e-3) and float(vllm.overhead_s) == pytest.approx(1e-3)


def test_engine_kernel_factor_slows_only_that_engine() -> None:
    eff = ROUND_EFF.model_copy(update={"engine_kernel": {"vllm": 0.8}})
    slow = decode_step(config("llama-2-7b", "h100", eff=eff), 1.0, 1000.0)
    trt = decode_step(config("llama-2-7b", "h100", eff=eff, engine=engine_params("trtllm")), 1.0, 1000.0)
    assert float(slow.weights_s) == pytest.approx(float(trt.weights_s) / 0.8)


def test_estimate_cli_engine_is_selectable_and_visible() -> None:
    args = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--quant", "fp8", "--input-len", "2048", "--output-len", "128",
            "--max-throughput", "--format", "json"]
    trt = json.loads(CliRunner().invoke(cli, [*args, "--engine", "trtllm"]).output)
    vllm = json.loads(CliRunner().invoke(cli, args).output)
    assert trt["engine"] == "trtllm 0.17" and trt["config"].endswith("/kv-fp8")
    assert vllm["engine"].startswith("vllm") and not vllm["config"].endswith("/kv-fp8")
    assert trt["max_batch"] > vllm["max_batch"]  # 2048-sequence cap and fp8 KV against vLLM's 1024 and fp16 KV


def test_plan_shows_its_engine() -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["solve", "workloads/chat.yaml", "--set", "engine.kind=trtllm"])
    assert table.exit_code == 0, table.output
    assert "engine                trtllm 0.17" in table.output
    doc = json.loads(runner.invoke(cli, ["solve", "workloads/chat.yaml", "--set", "engine.kind=sglang", "--format", "json"]).output)
    assert doc["inputs"]["workload"]["engine"]["kind"] == "sglang"


def test_enforce_eager_from_the_cli() -> None:
    """`estimate --enforce-eager` runs the step model's eager term: for Llama-2-70B
    at TP4 (80 layers) 80 x (46.9 + 2 x 18.2 x 3) us = 12.488 ms more per decode step than with CUDA graphs."""
    args = ["estimate", "--model", "llama-2-70b", "--gpu", "a100-80gb", "--tp", "4", "--input-len", "512", "--output-len", "128",
            "--batch", "1", "--format", "json"]
    graphs = json.loads(CliRunner().invoke(cli, args).output)
    eager = json.loads(CliRunner().invoke(cli, [*args, "--enforce-eager"]).output)
    assert eager["tpot_ms"] - graphs["tpot_ms"] == pytest.approx(12.488, rel=1e-6)
    assert Engine().params().cuda_graphs is True
