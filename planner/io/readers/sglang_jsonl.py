"""SGLang `python -m sglang.bench_serving --output-file F.jsonl`: one JSON object per run, appended a line
each run. Fields used: as vLLM's (completed, total_input_tokens, total_output_tokens, request_rate,
max_concurrency, mean/p99 TTFT and TPOT, output_throughput, request_throughput); recognised by
total_output_tokens_retokenized, which only SGLang writes. Ignored: E2E and ITL statistics, retokenized counts,
accept_length, the dataset arguments. The file does not record the hardware, so the context must name it."""
from __future__ import annotations

from pathlib import Path

from planner.io.readers import register
from planner.io.readers.bench_run import BenchRun, RunLayout
from planner.io.readers.vllm_json import SGLANG_MARKERS, read_records


def read_sglang_runs(path: str | Path) -> list[BenchRun]:
    """Every run (line) of an SGLang bench_serving JSONL."""
    return read_records(path, "sglang")


def _sniff(head: str) -> bool:
    head = head.lstrip()
    return head.startswith("{") and '"completed"' in head and any(m in head for m in SGLANG_MARKERS)


register(RunLayout("sglang-bench-jsonl", "SGLang bench_serving JSONL (one run a line, with total_output_tokens_retokenized)",
                   _sniff, read_sglang_runs))
