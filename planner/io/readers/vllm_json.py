"""vLLM `vllm bench serve --save-result` JSON (and the older `benchmarks/benchmark_serving.py --save-result`):
one JSON object per run. Fields used: completed, total_input_tokens, total_output_tokens, request_rate,
max_concurrency, mean/p99 TTFT and TPOT (ms), output_throughput, request_throughput. Ignored: the per-request
arrays (input_lens, ttfts, itls, generated_texts, errors), ITL and E2E statistics, goodput, date and ids.
The file does not record the hardware, so the context must name it."""
from __future__ import annotations

from pathlib import Path

from planner.io.readers import ReadContext, register
from planner.io.readers.bench_run import BenchRun, RunLayout, load_records, number, open_loop, optional, runs_result
from planner.schemas.observation import Observation

HINT = "expected a vllm bench serve --save-result JSON"
SGLANG_MARKERS = ('"total_output_tokens_retokenized"', '"sharegpt_output_len"', '"mean_e2e_latency_ms"')
"""Keys only SGLang's bench_serving writes (vLLM calls the E2E latency mean_e2el_ms)."""


def vllm_run(data: dict, ref: str, where: str, tool: str = "vllm") -> BenchRun:
    """A vLLM-style result object (SGLang's bench_serving writes the same field names) as a BenchRun."""
    done = number(data, ("completed",), where, f"{HINT} (completed = 0: nothing to calibrate on)")
    mode, load = open_loop(data.get("request_rate", "inf"), data.get("max_concurrency"))
    return BenchRun(
        tool=tool, ref=ref, mode=mode, load=load,
        input_tokens=number(data, ("total_input_tokens",), where, HINT) / done,
        output_tokens=number(data, ("total_output_tokens",), where, HINT) / done,
        ttft_ms=number(data, ("mean_ttft_ms",), where, HINT, positive=False),
        tpot_ms=number(data, ("mean_tpot_ms",), where, HINT, positive=False),
        output_tok_s=number(data, ("output_throughput",), where, HINT, positive=False),
        req_s=optional(data, ("request_throughput",)) or 0.0,
        ttft_p99_ms=optional(data, ("p99_ttft_ms",)), tpot_p99_ms=optional(data, ("p99_tpot_ms",)),
    )


def read_records(path: str | Path, tool: str) -> list[BenchRun]:
    """Every run of a vLLM-style result file: one JSON object, or one a line (`--append-result`, SGLang)."""
    path = Path(path)
    records = load_records(path, f"{tool} benchmark")
    return [vllm_run(obj, f"{path.name}#{k}" if len(records) > 1 else path.name, f"{path}:{n}", tool)
            for k, (n, obj) in enumerate(records, 1)]


def read_vllm_runs(path: str | Path) -> list[BenchRun]:
    """The runs of a vLLM result JSON (one, or one a line with --append-result)."""
    return read_records(path, "vllm")


def read_vllm_result(path: str | Path, model: str, gpu: str, tp: int, quant: str, kv_dtype: str) -> list[Observation]:
    """Mean TTFT, mean TPOT and output tok/s of a vLLM result JSON, measured on the given hardware."""
    return runs_result(read_vllm_runs(path), ReadContext(model, gpu, tp, quant, kv_dtype)).items


def _sniff(head: str) -> bool:
    head = head.lstrip()
    return head.startswith("{") and '"completed"' in head and '"total_input_tokens"' in head \
        and not any(m in head for m in SGLANG_MARKERS)


register(RunLayout("vllm-bench-json", "vllm bench serve / benchmark_serving.py --save-result JSON (completed, mean_ttft_ms, ...)",
                   _sniff, read_vllm_runs))
