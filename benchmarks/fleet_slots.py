"""Issue 14's solver target: 24 time slots x every catalog GPU x all quantizations x TP 1-8 x 36 buckets x 2 models,
with reserved GPUs shared by the slots and the models, proven optimal or within 0.5 % in < 30 s.

Run: python benchmarks/fleet_slots.py [LIMIT_S ...]   (writes docs/benchmarks/fleet_slots.md; needs ../shared/data)
Two models on one fleet (`models:`): Llama 3.1 8B on the Azure 2023 conversation trace and Mistral 7B on the
Azure 2023 code trace, each one hour cut into 24 slots of 2.5 min; buckets are a finer length grid (6 x 6 edges
per model). Wall and CPU time of the MILP stage (capacity tables built once, outside the timing).
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import planner.api as api
from planner.optimize.fleet import SolverSettings
from planner.optimize.slots import SlottedFormulation, optimize_slots
from planner.plan.slots import slotted_problem

ROOT = Path(__file__).resolve().parents[1]
TRACES = (ROOT / ".." / "shared" / "data" / "traces" / "azure2023").resolve()
TRACE = TRACES / "AzureLLMInferenceTrace_conv.csv"
BUCKETS = {"input": [1, 256, 512, 1024, 2048, 4096], "output": [1, 64, 128, 256, 512, 1024]}
WORKLOAD = {
    "slo": {"ttft_ms": 1000, "tpot_ms": 50},
    "models": [{"model": "llama-3.1-8b", "traffic": {"trace": str(TRACE), "slots": 24, "buckets": BUCKETS}},
               {"model": "mistral-7b", "traffic": {"trace": str(TRACES / "AzureLLMInferenceTrace_code.csv"), "slots": 24, "buckets": BUCKETS}}],
    "quantization": ["bf16", "fp8", "int8", "int8-wo", "int4"], "tp": [1, 2, 4, 8],
    "pricing": {"provider": "aws", "reserved": "reserved-1y"},
    "solver": {"mip_gap": 0.005, "time_limit_s": 30},
}


WHY = [
    "## How the bound is proven, and what was measured on the way",
    "",
    "(The dollar figures below are those of the runs that measured them, on the capacity model of 2026-12-02/03 before",
    "its later changes; the same problem now costs $10,439/month at its optimum.)",
    "",
    "- Decomposition over the reserved level R_g per GPU type, the only thing the slots share",
    "  (planner.optimize.reserve, whose docstring proves the bound). Lower bound: a Lagrangian one. Each slot t pays",
    "  lam[g][t] per GPU of a reservable type g (at most on demand); then any fleet costs at least the sum of each",
    "  model's and slot's own optimum at those prices, plus sum_g R_g (p_res_g H - sum_t lam[g][t]). Prices by cutting",
    "  planes (Kelley in a trust region) over the fleets found (columns: one model in one slot); the evaluations are",
    "  mixed per slot (each slot's optimum is concave in its prices). Upper bound: a small MILP picks one column per",
    "  model and slot and R (the cheapest choice over every fleet found, < 0.2 s).",
    "- New: branching over the levels (planner.optimize.levels). In a box lo_g <= R_g <= hi_g the reserved part of the",
    "  bound is at its least at an end of each range, so every box is bounded by an LP over the same evaluations; a",
    "  box gets pricing rounds while the cutting-plane LP over its whole range could still reach the incumbent within",
    "  the gap, then is split in three around the incumbent's level of one type (below, at, above). A box of one point",
    "  couples nothing: each slot solved on those R seats is exact (its MILP bound closes the point). R_g above the",
    "  incumbent's cost over one reserved month of g is never cheaper, which caps every range.",
    "- Why branching (measured, 120-s run of the previous code, load 2-3): the first evaluation bounds $11,243 at 6 s,",
    "  rounds raise it to $11,889 by 120 s, and the cutting-plane LP over all 682 columns found, over the whole price",
    "  box, is $11,894: no slot prices prove more, 1.3 % under the optimum $12,046. Fixing R_{a100-40gb} alone gives",
    "  LP estimates 12,278 / 12,027 / 11,894 / 12,168 / 12,863 (R = 0..4, other types free), and fixing every type",
    "  (R = 2 a100-40gb, nothing else) still 11,894: the duality gap is inside the slots (the Lagrangian mixes a",
    "  slot's fleets, half of one with 4 reserved GPUs and half of one with none, as tests/optimize/test_levels.py",
    "  shows by hand), so only a point solved on its seats closes it: there 24 slot MILPs give $12,046, proven",
    "  >= $12,039.",
    "- Both sides were weak at 30 s before: the incumbent re-solved on its seats before any pricing round took 20 s",
    "  of the 30 ($12,453 -> $12,112); after the rounds instead, 30 s at load 3.5 went from 6.71 % to 2.57 % (bound",
    "  $11,788, $12,100 from the cheapest choice). With branching, 30 s reports 4.3-6.1 % (the root is split after",
    "  two rounds, and the lowest of its boxes is the bound), and the 0.5 % proof arrives at 100-120 s of wall.",
    "- The coupled MILP (all slots in one HiGHS model, 61,839 columns after presolve, the incumbent $12,100.5 given",
    "  as objective bound): root bound $10,874 after 150 s, under the first evaluation; it was the fallback and is gone.",
    "- Slot MILPs are the cost (48 per pricing pass, 4-7 s; a point's 24 two-model MILPs 17-18 s at load 3-4). Two",
    "  processes (joblib, warm workers) on 24 of them: 5.4 s against 4.0 s serial at load 3.4, slower on this",
    "  shared machine. A warm start can save at most what starting at the optimum saves: 24 MILPs 1.73 s -> 1.14 s",
    "  (load 3.2), 34 %. Earlier: x[b,k] <= n_k lifts the slot LP from 48-91 % to 62-100 % of the MILP optimum, the",
    "  MILP is not faster. None of these closes the factor of ~3 between the CPU the proof takes (68-78 CPU-s) and",
    "  30 s on a machine where this process gets 0.6-0.9 of a core.",
]


def main() -> None:
    if not TRACE.is_file():
        print(f"skipped: {TRACE} absent")
        return
    load = os.getloadavg()[0]
    problem = api.prepare(WORKLOAD)
    sp = slotted_problem(problem.loaded, problem.catalog, problem.table, problem.demand)
    form = SlottedFormulation(sp)
    ints = sum(v.integer for v in form.model.variables)
    rows = []
    for limit in tuple(float(a) for a in sys.argv[1:]) or (30.0,):  # time limits from the command line (default: the target's)
        settings = SolverSettings(mip_gap=0.005, time_limit_s=limit)
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = optimize_slots(sp, settings)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        res = outcome.result
        gap = "-" if res is None or res.gap is None else f"{res.gap:.2%}"
        cost = "-" if outcome.solution is None else f"${outcome.solution.cost_per_month:,.0f}/month"
        met = outcome.status.value == "optimal" and wall < 30
        rows.append(f"| {len(sp.hours)} | {len(problem.demand.models)} | {len(sp.configs)} | {sp.max_rps.shape[1]} | "
                    f"{len(form.model.variables):,} ({ints:,}) | {len(form.model.constraints):,} | {limit:g} | {outcome.status.value} | {gap} | "
                    f"{cost} | {wall:.1f} | {cpu:.1f} | {'met' if met else 'missed'} |")
    lines = [
        "# Fleet over 24 slots: solver time", "",
        "Written by `python benchmarks/fleet_slots.py` (issue 14: < 30 s, proven within 0.5 %, 24 slots, 2 models).", "",
        f"Machine: {platform.machine()}, Python {sys.version.split()[0]}, {platform.system()}, {os.cpu_count()} cores; shared with "
        f"other jobs (load average {load:.1f} at the start, so wall time is up to {max(1.0, load / (os.cpu_count() or 1)):.1f}x the CPU time).", "",
        "| slots | models | configs | buckets | variables (integer) | rows | time limit s | status | gap | $/month | wall s | CPU s | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Configs: every catalog GPU with an AWS price x bf16/fp8/int8/int8-wo/int4 x TP 1-8 that fit, before",
        "dominance pruning; the MILP is built after pruning, so the variable count above is of the unpruned model.",
        "The gap is proven: the bound is the least over the boxes of reserved levels still open (each the best",
        "per-slot mix of the Lagrangian evaluations) and the points solved (planner.optimize.levels).", "",
        *WHY,
    ]
    out = ROOT / "docs" / "benchmarks" / "fleet_slots.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
