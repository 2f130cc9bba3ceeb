"""A small histogram workload with scenarios, shared by the what-if tests (3 GPU types, TP 1-2: fast to solve)."""
from __future__ import annotations

WORKLOAD = """\
name: whatif-test
model: llama-3.1-8b
slo: {ttft_ms: 1000, tpot_ms: 50}
traffic:
  rate_rps: 20
  histogram:
    - {input: [128, 512], output: [64, 256], share: 0.6}
    - {input: [512, 2048], output: [256, 1024], share: 0.4}
gpus: [h100, a100-80gb, l4]
quantization: [bf16]
tp: [1, 2]
scenarios:
  growth:
    description: traffic doubles
    set: {traffic.rate_scale: 2}
  growth-tight:
    base: growth
    set:
      slo.tpot_ms: 30
  a100-only:
    set: {gpus: [a100-80gb]}
  fp8:
    set: {quantization: [bf16, fp8]}
"""
