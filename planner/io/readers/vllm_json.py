"""vLLM `benchmark_serving.py --save-result` (and `vllm bench serve --save-result`) JSON: mean TTFT, mean TPOT
and output tok/s at its load. The file does not record the hardware, so the context must name it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError
from planner.io.readers import ReadContext, ReadResult, read_head, register
from planner.schemas.observation import Observation

VLLM_METRICS = {"mean_ttft_ms": "ttft_ms", "mean_tpot_ms": "tpot_ms", "output_throughput": "output_tok_s"}


def read_vllm_result(path: str | Path, model: str, gpu: str, tp: int, quant: str, kv_dtype: str) -> list[Observation]:
    """A vLLM `benchmark_serving.py --save-result` JSON: mean TTFT, mean TPOT and output tok/s at its load.

    The load is `max_concurrency` clients if set, else Poisson `request_rate` req/s ("inf" = offline);
    lengths are the means total_input_tokens / completed and total_output_tokens / completed.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlannerError(f"{path}: not a readable JSON file ({exc})") from None
    need = ("completed", "total_input_tokens", "total_output_tokens", *VLLM_METRICS)
    missing = [k for k in need if k not in data]
    if missing:
        raise PlannerError(f"{path}: missing {', '.join(missing)}: expected a benchmark_serving.py --save-result JSON")
    done = data["completed"]
    if not done:
        raise PlannerError(f"{path}: completed = 0 requests; nothing to calibrate on")
    if data.get("max_concurrency"):
        mode, load = "concurrency", float(data["max_concurrency"])
    elif str(data.get("request_rate", "inf")) == "inf":
        mode, load = "max-throughput", 0.0
    else:
        mode, load = "rate", float(data["request_rate"])
    common = dict(source=Path(path).name, model=model, gpu=gpu, tp=tp, quant=quant, kv_dtype=kv_dtype, mode=mode,
                  input_tokens=round(data["total_input_tokens"] / done), output_tokens=max(2, round(data["total_output_tokens"] / done)),
                  load=load)
    return [Observation(ref=f"{Path(path).name}:{key}", metric=metric, measured=float(data[key]), **common)
            for key, metric in VLLM_METRICS.items() if data[key] and data[key] > 0]


@dataclass(frozen=True)
class VllmBenchmarkJson:
    name: str = "vllm-bench-json"
    produces: str = "observations"
    description: str = "vLLM benchmark_serving.py --save-result JSON (completed, total_*_tokens, mean_ttft_ms, mean_tpot_ms, output_throughput)"

    def sniff(self, path: Path) -> bool:
        head = read_head(path)
        return head.lstrip().startswith("{") and '"completed"' in head

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        if not (context.model and context.gpu):
            raise PlannerError(f"{path}: vLLM result JSON does not record the hardware: pass --model and --gpu (and --tp, --quant)")
        return ReadResult(read_vllm_result(path, context.model, context.gpu, context.tp, context.quant, context.kv_dtype))


register(VllmBenchmarkJson())
