"""One serving-benchmark run, whatever tool wrote it: the load, the mean request lengths, the mean and p99
TTFT/TPOT and the throughputs. Every benchmark-tool reader (vLLM, SGLang, AIPerf, GenAI-Perf, GuideLLM)
parses its file into `BenchRun`s; this module turns them into calibration Observations, so the tools differ
only in where they keep each number (docs/ingest.md).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.io.readers import ReadContext, ReadResult, read_head
from planner.schemas.observation import Observation


@dataclass(frozen=True)
class BenchRun:
    """One run at one load: means over its completed requests (p99s where the tool records them)."""

    tool: str
    ref: str
    """file name, plus `#k` for the k-th run of a file holding several."""
    mode: str
    """rate (open-loop Poisson/constant req/s), concurrency (closed-loop clients) or max-throughput (all at once)."""
    load: float
    """req/s for rate, clients for concurrency, 0 for max-throughput."""
    input_tokens: float
    output_tokens: float
    ttft_ms: float
    tpot_ms: float
    output_tok_s: float
    req_s: float
    ttft_p99_ms: float | None = None
    tpot_p99_ms: float | None = None

    def observations(self, context: ReadContext) -> list[Observation]:
        """Mean TTFT, mean TPOT and output tok/s at this load, on the hardware the context names."""
        if not (context.model and context.gpu):
            raise PlannerError(f"{self.ref}: a {self.tool} result does not record the hardware: give the model and GPU "
                               "it ran on (CLI: --model and --gpu, and --tp, --quant, --kv-dtype)")
        common = dict(source=self.ref.split("#")[0], model=context.model, gpu=context.gpu, tp=context.tp,
                      quant=context.quant, kv_dtype=context.kv_dtype, mode=self.mode, load=self.load,
                      input_tokens=max(1, round(self.input_tokens)), output_tokens=max(2, round(self.output_tokens)))
        values = {"ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms, "output_tok_s": self.output_tok_s}
        return [Observation(ref=f"{self.ref}:{metric}", metric=metric, measured=value, **common)
                for metric, value in values.items() if value > 0]


def runs_result(runs: list[BenchRun], context: ReadContext) -> ReadResult:
    """Observations of every run, in file order."""
    return ReadResult([o for run in runs for o in run.observations(context)])


@dataclass(frozen=True)
class RunLayout:
    """A Reader for one benchmark tool's file layout: recognised from the file's first bytes, parsed into runs."""

    name: str
    description: str
    sniff_text: Callable[[str], bool]
    """True when the first 64 KiB of a file look like this layout."""
    read_runs: Callable[[Path], list[BenchRun]]
    produces: str = "observations"

    def sniff(self, path: Path) -> bool:
        return self.sniff_text(read_head(path))

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        return runs_result(self.read_runs(path), context)


def load_json(path: Path, tool: str) -> Any:
    """The parsed JSON document, or a one-line error naming the file and the JSON problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlannerError(f"{path}: cannot read the {tool} result: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PlannerError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); expected a {tool} result file") from None


def load_records(path: Path, tool: str) -> list[tuple[int, dict]]:
    """(line, object) of a file holding one JSON object (pretty-printed or not) or one object a line (JSONL:
    `--append-result`, SGLang's `--output-file`); anything else is an error naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlannerError(f"{path}: cannot read the {tool} result: {exc}") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise PlannerError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); expected a {tool} result file") from None
    else:
        if not isinstance(whole, dict):
            raise PlannerError(f"{path}: expected a JSON object, got {type(whole).__name__}; expected a {tool} result file")
        return [(1, whole)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PlannerError(f"{path}:{n}: not valid JSON ({exc.msg}); expected one {tool} JSON object per line") from None
        if not isinstance(obj, dict):
            raise PlannerError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        out.append((n, obj))
    if not out:
        raise PlannerError(f"{path}: empty file; expected one {tool} JSON object per line")
    return out


def number(doc: Any, keys: tuple[str, ...], where: str, hint: str, positive: bool = True) -> float:
    """doc[k0][k1]... as a finite number (> 0 when `positive`, else >= 0); a clear error naming the field otherwise."""
    value = doc
    for i, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            field = ".".join(keys[: i + 1])
            raise PlannerError(f"{where}: {field}: missing; {hint}")
        value = value[key]
    field = ".".join(keys)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PlannerError(f"{where}: {field}: expected a number, got {value!r}; {hint}") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise PlannerError(f"{where}: {field}: expected a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return x


def optional(doc: Any, keys: tuple[str, ...]) -> float | None:
    """doc[k0][k1]... when it is a finite positive number, else None (fields some versions do not write)."""
    value = doc
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def open_loop(rate: Any, concurrency: Any) -> tuple[str, float]:
    """(mode, load) from a run's request rate and client cap: clients when capped, else req/s, inf = all at once."""
    if concurrency not in (None, "", 0):
        return "concurrency", float(concurrency)
    if rate in (None, "", "inf") or (isinstance(rate, float) and math.isinf(rate)):
        return "max-throughput", 0.0
    return "rate", float(rate)
