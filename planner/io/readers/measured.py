"""Readers for the measured data sets the shipped efficiency factors are calibrated on.

Each reader turns one data set of `../shared/data/measured/` (see its PROVENANCE file) into
`Observation`s: published_calibration.csv (vendor/benchmark tables), splitwise_perf_model_tp2_tp4.csv
(Llama-2-70B prefill and decode-iteration times) and vidur_profiling/ (per-operator matmul and
all-reduce times). Rows a mode cannot reproduce (lengths or TP not stated) are returned as skipped,
with the reason, so the accuracy report can list them. docs/accuracy.md, "Data".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.io.readers import ReadContext, ReadResult, Skipped, read_head, register
from planner.schemas.observation import Observation
from planner.schemas.engines import engine_params
from planner.schemas.replica import EngineParams

if TYPE_CHECKING:
    import pandas as pd

TRT_ENGINE = engine_params("trtllm")
"""TensorRT-LLM / NIM: the trtllm profile (max_batch_size 2048, max_num_tokens 8192, kv_cache_free_gpu_mem_fraction
0.95, in-flight batching of prompt chunks with decode steps; planner.schemas.engines)."""
VLLM_CI_ENGINE = EngineParams(kind="vllm", version="CI build 9523")
"""vLLM CI on A100-80GB: the V1 defaults there are EngineParams' own (256 sequences, 8192 offline tokens)."""
SPLITWISE_ENGINE = EngineParams(kind="splitwise", version="2023 research prototype", cuda_graphs=False)
"""The Splitwise measurements come from the paper's own serving stack: an engine kind of its own, so its speed
gets its own calibrated factors instead of pulling the GPU factors of the production engines. Declared eager
(no CUDA graphs): a 2023 stack, measured before vLLM made graphs its default (PR #1926, December 2023), and its
decode step shrinks from TP2 to TP4 by less than halving the weights saves (docs/accuracy.md)."""
VIDUR_MODELS = {"Llama-2-70b-hf": "llama-2-70b", "Llama-2-7b-hf": "llama-2-7b",
                "Meta-Llama-3-70B": "llama-3-70b", "Meta-Llama-3-8B": "llama-3-8b"}
VIDUR_GPUS = {"a100": "a100-80gb", "h100": "h100"}
SPLITWISE_GPUS = {"a100-80gb": "a100-80gb", "h100-80gb": "h100"}
"""h100-80gb-pcap (power-capped H100) is not a catalog GPU; its rows are skipped."""
MATMUL_OPS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
OP_TOKENS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
"""Token counts sampled from the operator profiles: every power of two the profiles hold up to 4096."""
ALLREDUCE_SIZES = 2.0 ** np.arange(11, 29, 2)
"""Message sizes (bytes) sampled from the all-reduce profiles: 2 KiB .. 128 MiB, every factor of 4."""



def _source_name(text: str) -> str:
    for key in ("MLPerf", "TensorRT-LLM", "NIM", "vLLM"):
        if key in text:
            return {"MLPerf": "mlperf-v4.1", "TensorRT-LLM": "trtllm-perf-overview", "NIM": "nim-benchmarks", "vLLM": "vllm-ci"}[key]
    return text[:24]


def _mode(row: "pd.Series") -> tuple[str, float]:
    load = str(row["batch_or_concurrency"]).strip()
    if load == "max":
        return "max-throughput", 0.0
    if str(row["request_rate"]).strip() not in ("", "nan"):
        return "rate", float(row["request_rate"])
    if row["metric"] == "e2e_ms":
        return "batch", float(load)
    return "concurrency", float(load)


def read_published(path: str | Path) -> tuple[list[Observation], list[Skipped]]:
    """published_calibration.csv: one row a measured metric of a whole TP group."""
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    obs, skipped = [], []
    for _, row in df.iterrows():
        if not row["input_len"] or not row["output_len"]:
            skipped.append((row["id"], "input/output lengths not stated (variable-length dataset)"))
            continue
        if not row["tp"]:
            skipped.append((row["id"], "tensor-parallel layout not stated"))
            continue
        source = _source_name(row["source"])
        trt = source in ("trtllm-perf-overview", "nim-benchmarks") and row["quant"] == "fp8"
        mode, load = _mode(row)
        obs.append(Observation(
            source=source, ref=row["id"], model=row["model"], gpu=row["gpu"], tp=int(row["tp"]), quant=row["quant"],
            kv_dtype="fp8" if trt else "fp16", mode=mode, input_tokens=int(row["input_len"]),
            output_tokens=int(row["output_len"]), load=load, metric=row["metric"], measured=float(row["value"]),
            engine=TRT_ENGINE if source in ("trtllm-perf-overview", "nim-benchmarks") else VLLM_CI_ENGINE,
        ))
    return obs, skipped


def read_splitwise(path: str | Path) -> tuple[list[Observation], list[Skipped]]:
    """Median of the five repetitions of each point: prefill of the batch (TTFT) and decode iteration (TPOT)."""
    import pandas as pd

    df = pd.read_csv(path)
    keys = ["hardware", "tensor_parallel", "prompt_size", "batch_size", "token_size"]
    med = df.groupby(keys, as_index=False)[["prompt_time", "token_time"]].median()
    obs, skipped = [], []
    for row in med.itertuples(index=False):
        ref = f"{row.hardware}/tp{row.tensor_parallel}/p{row.prompt_size}/b{row.batch_size}/t{row.token_size}"
        if row.hardware not in SPLITWISE_GPUS:
            skipped.append((ref, "power-capped H100 is not a catalog GPU"))
            continue
        for metric, value in (("ttft_ms", row.prompt_time), ("tpot_ms", row.token_time)):
            obs.append(Observation(
                source="splitwise", ref=ref, model="llama-2-70b", gpu=SPLITWISE_GPUS[row.hardware],
                tp=int(row.tensor_parallel), quant="bf16", kv_dtype="fp16", mode="batch",
                input_tokens=int(row.prompt_size), output_tokens=int(row.token_size), load=float(row.batch_size),
                metric=metric, measured=float(value), engine=SPLITWISE_ENGINE,
            ))
    return obs, skipped


def read_vidur(directory: str | Path) -> list[Observation]:
    """Per-layer matmul time (QKV, O, up, down) vs tokens and TP, and all-reduce time vs bytes and GPUs."""
    import pandas as pd

    directory = Path(directory)
    obs: list[Observation] = []
    for path in sorted(directory.glob("*_mlp.csv")):
        gpu_key, model_key = path.stem.removesuffix("_mlp").split("_", 1)
        df = pd.read_csv(path)
        df = df[df["num_tokens"].isin(OP_TOKENS)]
        total = sum(df[f"time_stats.{op}.median"] for op in MATMUL_OPS)
        for tokens, tp, ms in zip(df["num_tokens"], df["num_tensor_parallel_workers"], total):
            obs.append(Observation(
                source="vidur", ref=f"{path.stem}/tp{tp}/n{tokens}", model=VIDUR_MODELS[model_key], gpu=VIDUR_GPUS[gpu_key],
                tp=int(tp), quant="bf16", kv_dtype="fp16", mode="op-matmul", input_tokens=int(tokens), output_tokens=1,
                load=float(tokens), metric="layer_matmul_ms", measured=float(ms),
            ))
    for path in sorted(directory.glob("*_all_reduce.csv")):
        gpu = VIDUR_GPUS[path.stem.split("_")[0]]
        df = pd.read_csv(path)
        df = df[(df["devices_per_node"] == df["num_workers"]) & df["size"].isin(ALLREDUCE_SIZES) & (df["rank"] == 0)]
        for size, tp, ms in zip(df["size"], df["num_workers"], df["time_stats.all_reduce.median"]):
            obs.append(Observation(
                source="vidur", ref=f"{path.stem}/tp{tp}/{size}B", model="llama-2-7b", gpu=gpu, tp=int(tp), quant="bf16",
                kv_dtype="fp16", mode="op-allreduce", input_tokens=1, output_tokens=1, load=float(size),
                metric="allreduce_ms", measured=float(ms),
            ))
    return obs


def read_all(root: str | Path) -> tuple[list[Observation], list[Skipped]]:
    """Every observation of the three data sets under `root` (../shared/data/measured)."""
    root = Path(root)
    published, skipped_p = read_published(root / "published_calibration.csv")
    splitwise, skipped_s = read_splitwise(root / "splitwise_perf_model_tp2_tp4.csv")
    return published + splitwise + read_vidur(root / "vidur_profiling"), skipped_p + skipped_s


@dataclass(frozen=True)
class _DataSet:
    """A measured data set of ../shared/data/measured, recognised by its header (or folder contents)."""

    name: str
    description: str
    marker: str
    """A column name (or, for a folder, a file-name suffix) only this data set has."""
    load: Callable[[Path], tuple[list[Observation], list[Skipped]]]
    produces: str = "observations"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(path.glob(f"*{self.marker}"))
        head = read_head(path).splitlines()
        return bool(head) and self.marker in head[0].split(",")

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        items, skipped = self.load(path)
        return ReadResult(items, skipped)


register(_DataSet("published-calibration", "published_calibration.csv (id, source, batch_or_concurrency, metric, value, ...)",
                  "batch_or_concurrency", read_published))
register(_DataSet("splitwise", "Splitwise perf-model CSV (hardware, tensor_parallel, prompt_size, batch_size, token_size, "
                  "prompt_time, token_time)", "prompt_time", read_splitwise))
register(_DataSet("vidur-profiling", "Vidur profiling folder (*_mlp.csv per-operator times, *_all_reduce.csv)", "_mlp.csv",
                  lambda path: (read_vidur(path), [])))
