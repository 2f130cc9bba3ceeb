"""planner/perf/estimate.py and `planner estimate`: every mode for every GPU x format, refusals, JSON keys."""
from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import PlannerError
from planner.perf import estimate as est
from planner.supply.replica import build_config
from tests.perf._configs import CATALOG

JSON_KEYS = {"weights_gb_per_gpu", "kv_bytes_per_token", "max_batch", "ttft_ms", "tpot_ms", "output_tok_s",
             "total_tok_s", "req_s", "bound"}
SUPPORTED = [(g, q.id) for g in sorted(CATALOG.gpus) for q in CATALOG.quantization.values() if q.compute_dtype in CATALOG.gpu(g).tflops]


@pytest.mark.parametrize(("gpu", "quant"), SUPPORTED)
def test_every_mode_for_every_gpu_and_format(gpu: str, quant: str) -> None:
    cfg = build_config(CATALOG, "llama-3.1-8b", gpu, quant)
    results = [est.lockstep(cfg, 512, 128, 8), est.max_throughput(cfg, 512, 128),
               est.at_rate(cfg, 512, 128, 0.5), est.at_concurrency(cfg, 512, 128, 4)]
    for r in results:
        assert r.bound in ("compute", "bandwidth", "kv_memory")
        for value in (r.ttft_ms, r.tpot_ms, r.output_tok_s, r.total_tok_s, r.req_s):
            assert math.isfinite(value) and value > 0
        assert r.total_tok_s == pytest.approx(r.req_s * (512 + 128))


def test_lockstep_arithmetic() -> None:
    cfg = build_config(CATALOG, "llama-3.1-8b", "h100")
    r = est.lockstep(cfg, 1000, 200, 4)
    e2e_s = (r.ttft_ms + 199 * r.tpot_ms) / 1e3
    assert r.output_tok_s == pytest.approx(4 * 200 / e2e_s)
    assert r.req_s == pytest.approx(4 / e2e_s)


def test_rate_reports_p99_above_mean_and_overload() -> None:
    cfg = build_config(CATALOG, "llama-3.1-8b", "h100")
    light = est.at_rate(cfg, 512, 256, 2.0)
    assert light.p99_ttft_ms >= light.ttft_ms and light.p99_tpot_ms >= light.tpot_ms and not light.overloaded
    heavy = est.at_rate(cfg, 512, 256, 1e4)
    assert heavy.overloaded and heavy.notes[0].startswith("overloaded: max sustainable is")
    assert heavy.req_s == pytest.approx(heavy.max_rps)


def test_throughput_grows_with_load_up_to_the_max() -> None:
    cfg = build_config(CATALOG, "llama-3.1-8b", "a100-80gb")
    one, many = est.at_concurrency(cfg, 512, 256, 1), est.at_concurrency(cfg, 512, 256, 64)
    assert one.output_tok_s < many.output_tok_s
    assert one.tpot_ms < many.tpot_ms


def test_refusals() -> None:
    with pytest.raises(PlannerError, match="quant fp8: NVIDIA A100 SXM4 80GB has no fp8 tensor cores"):
        build_config(CATALOG, "llama-3.1-8b", "a100-80gb", "fp8")
    with pytest.raises(PlannerError, match="llama-3.1-70b does not fit: 141.1 GB of bf16 weights per GPU at TP 1"):
        build_config(CATALOG, "llama-3.1-70b", "h100")
    with pytest.raises(PlannerError, match="tp 3: TP 3 does not divide 64 attention heads"):
        build_config(CATALOG, "llama-3.1-70b", "h100", tp=3)


def _run(*args: str):  # noqa: ANN202
    return CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--input-len", "512", "--output-len", "128", *args])


def test_cli_json_keys() -> None:
    result = _run("--gpu", "h100", "--request-rate", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert JSON_KEYS | {"p99_ttft_ms", "p99_tpot_ms", "schema_version"} <= set(doc)


def test_cli_table_shows_breakdown() -> None:
    result = _run("--gpu", "h200", "--quant", "fp8", "--batch", "1")
    assert result.exit_code == 0, result.output
    assert "step breakdown (ms)   weights   KV/scores   matmul   attention   comm   overhead   total" in result.output
    assert "bound: bandwidth" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("--gpu", "a100-80gb", "--quant", "fp8", "--batch", "1"), "error: quant fp8: NVIDIA A100 SXM4 80GB has no fp8 tensor cores"),
    (("--gpu", "h100", "--batch", "1", "--request-rate", "2"), "error: give exactly one of --batch, --max-throughput, --request-rate, --max-concurrency (got --batch, --request-rate)"),
    (("--gpu", "h100", "--batch", "1", "--spec-decode", "nope:4:0.5"), "error: --spec-decode: unknown draft model 'nope'"),
])
def test_cli_refuses_with_exit_2(args: tuple[str, ...], message: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("mode", ["--batch=1", "--batch=8", "--max-throughput", "--request-rate=2", "--max-concurrency=4"])
def test_cli_accepts_one_output_token(mode: str) -> None:
    """`--output-len 1` (a TTFT benchmark): accepted in every mode; lockstep E2E is the prefill alone."""
    result = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input-len", "512",
                                      "--output-len", "1", mode, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["output_tokens"] == 1 and doc["ttft_ms"] > 0
    assert est.ONE_TOKEN_NOTE in doc["notes"]


def test_one_output_token_lockstep_is_prefill_only() -> None:
    cfg = build_config(CATALOG, "llama-3.1-8b", "h100")
    r = est.lockstep(cfg, 512, 1, 4)
    assert r.req_s == pytest.approx(4 / (r.ttft_ms / 1e3))  # E2E = TTFT + (1 - 1) x TPOT


def test_old_flag_names_still_work_with_a_deprecation_note() -> None:
    """--input/--output/--rate/--concurrency (before vLLM's names) give the same JSON, plus a note on stderr."""
    new = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input-len", "512", "--output-len", "128",
                                   "--request-rate", "4", "--format", "json"])
    old = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input", "512", "--output", "128",
                                   "--rate", "4", "--format", "json"])
    assert old.exit_code == 0 and json.loads(old.stdout) == json.loads(new.stdout)
    assert "note: --input is deprecated; use --input-len" in old.stderr
    assert "note: --rate is deprecated; use --request-rate" in old.stderr
    conc = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--input", "512", "--output", "128",
                                    "--concurrency", "8", "--format", "json"])
    assert conc.exit_code == 0 and json.loads(conc.stdout)["mode"] == "concurrency"
    assert "note: --concurrency is deprecated; use --max-concurrency" in conc.stderr


def test_missing_lengths_are_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "1"])
    assert result.exit_code == 2 and "missing option --input-len and --output-len" in result.output
