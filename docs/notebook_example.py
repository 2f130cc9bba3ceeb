"""A short what-if study with the Python API, as one would run it in a notebook.

Run from the repository root: /work/venv/bin/python docs/notebook_example.py
"""
from __future__ import annotations

from pathlib import Path

import planner

ROOT = Path(__file__).resolve().parents[1]
CHAT = ROOT / "workloads" / "chat.yaml"

# 1. The plan as written, and the same plan if the TPOT SLO tightens to 30 ms.
base = planner.solve(CHAT)
tight = planner.solve(CHAT, overrides={"slo.tpot_ms": 30})
print(f"base:  ${base.cost_per_month:,.0f}/month on {base.gpus_by_type}")
print(f"30 ms: ${tight.cost_per_month:,.0f}/month on {tight.gpus_by_type}")
print(f"per 1M output tokens: ${base.cost_per_million_tokens('output'):.2f} at the design rate, "
      f"${base.cost_per_million_tokens('output', at='mean'):.2f} at the mean rate")
print(base.to_frame()[["config", "replicas", "bucket", "share"]].head())

# 2. Named scenarios side by side (workloads/chat-whatif.yaml defines them).
comparison = planner.compare(ROOT / "workloads" / "chat-whatif.yaml", ["base", "growth", "a100-only"])
for column, change in zip(comparison.columns, comparison.changes()):
    print(f"{column.name:>10}: ${column.summary['cost_per_month']:,.0f}/month ({change.fraction:+.0%} vs base)")

# 3. A grid: TPOT SLO x traffic, as a DataFrame (infeasible points are rows with a reason).
grid = planner.sweep(CHAT, {"slo.tpot_ms": [20, 40, 80], "traffic.target_rps": [40, 80]}, jobs=2)
print(grid.to_frame()[["slo.tpot_ms", "traffic.target_rps", "status", "cost_per_month"]])

# 4. Which input moves the bill most (±20 %, one at a time).
sens = planner.sensitivity(CHAT, delta=0.2, jobs=2)
top = sens.factors[0]
print(f"widest swing: {top.name}: ${top.low_cost:,.0f} .. ${top.high_cost:,.0f} per month")
