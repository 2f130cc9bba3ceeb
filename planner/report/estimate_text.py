"""`planner estimate` and `planner calibrate` results for people: headline numbers, step breakdown, error tables."""
from __future__ import annotations

from typing import TYPE_CHECKING

from planner.calibration.predict import summarize
from planner.perf.bands import describe
from planner.perf.estimate import Estimate

if TYPE_CHECKING:
    import pandas as pd


def render_estimate(e: Estimate) -> str:
    """The human view: headline numbers, then where the prefill and decode step time goes."""
    lines = [f"{e.config}  {e.input_tokens} in / {e.output_tokens} out  mode {e.mode}  engine {e.engine}"]
    lines.append(f"  weights {e.weights_gb_per_gpu:.2f} GB/GPU, KV {e.kv_bytes_per_token / 1e3:.1f} kB/token, "
                 f"{e.kv_tokens} KV tokens, max batch {e.max_batch}, live batch {e.batch:.1f}")
    if e.kv_cache:
        k = e.kv_cache
        lines.append(f"  vLLM KV cache per GPU: {k['total']:.2f} GiB x {k['gpu_memory_utilization']:g} = {k['budget']:.2f} GiB"
                     f" - weights {k['weights']:.2f} - activations {k['activation']:.2f} - non-torch {k['non_torch']:.2f}"
                     f" = {k['kv']:.2f} GiB -> {k['blocks']:,} blocks of {k['block_size']} tokens"
                     f" ({k['tokens']:,} tokens); CUDA graphs ~{k['cuda_graph']:.1f} GiB on top")
    p99 = f" (p99 {e.p99_ttft_ms:.1f})" if e.p99_ttft_ms is not None else ""
    lines.append(f"  TTFT {e.ttft_ms:.1f} ms{p99}")
    p99 = f" (p99 {e.p99_tpot_ms:.2f})" if e.p99_tpot_ms is not None else ""
    lines.append(f"  TPOT {e.tpot_ms:.2f} ms{p99}")
    lines.append(f"  throughput {e.output_tok_s:,.0f} output tok/s, {e.total_tok_s:,.0f} total tok/s, {e.req_s:.3g} req/s (whole replica)")
    lines.append(f"  bound: {e.bound}")
    lines.append("  step breakdown (ms)   weights   KV/scores   matmul   attention   comm   overhead   total")
    for name, part in (("prefill", e.prefill_ms), ("decode/token", e.decode_ms)):
        lines.append(f"  {name:<20}" + "".join(f"{part[k]:>10.2f}" for k in ("weights_ms", "kv_ms", "matmul_ms", "attention_ms", "comm_ms", "overhead_ms", "total_ms")))
    lines.extend(f"  note: {n}" for n in e.notes)
    lines.append(f"  {describe(e.error_band, e.config.split('/')[0], (e.engine or 'vllm').split()[0])}")
    return "\n".join(lines) + "\n"


def render_error_table(before: "pd.DataFrame", after: "pd.DataFrame") -> str:
    """Median and p90 |error| per GPU and metric, before and after the fit."""
    b, a = summarize(before, ["gpu", "metric"]), summarize(after, ["gpu", "metric"])
    lines = ["gpu        metric          n   median|err| before -> after   p90|err| before -> after"]
    for (_, rb), (_, ra) in zip(b.iterrows(), a.iterrows()):
        lines.append(f"{rb.gpu:<10} {rb.metric:<14} {rb.n:>3}   {rb.median_pct:>8.1f}% -> {ra.median_pct:5.1f}%"
                     f"          {rb.p90_pct:>6.1f}% -> {ra.p90_pct:5.1f}%")
    return "\n".join(lines)
