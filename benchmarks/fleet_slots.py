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
    "## Why the gap, and what closed part of it",
    "",
    "- Decomposition over the reserved level R_g per GPU type, the only thing the slots share",
    "  (planner.optimize.reserve, whose docstring proves the bound). Lower bound: a Lagrangian one. Each slot t pays",
    "  lam[g][t] per GPU of a reservable type g (at most on demand), the prices of a type adding up to at most its",
    "  reserved month; then any fleet costs at least the sum of each model's and slot's own optimum at those prices.",
    "  Equal shares (lam = h_t p_res) are the slots alone at the reserved price, the first evaluation.",
    "- Prices by cutting planes (Kelley in a trust region) over the fleets found (columns: one model in one slot),",
    "  and the bound mixes the evaluations per slot (each slot's optimum is concave in its prices, so an LP over",
    "  convex weights per slot within the reserved month is a bound; a round cut short still counts). It replaced",
    "  projected subgradient steps. Upper bound: a small MILP picks one column per model and slot and R (the",
    "  cheapest choice over every fleet found, < 0.2 s), then each slot is re-solved on those reserved seats.",
    "- Slot MILPs are the cost (HiGHS, 85-95 % of the time): pruned by dominance on the slot's own buckets and",
    "  prices across GPU types (54 -> 26 configs per model and slot) and solved without presolve; a pass over the",
    "  48 slot MILPs went from 15.5 s to 6.8 s (load ~3; the same optima).",
    "- Back to back, load 5.0 at both starts, before = main at b746ed7 (subgradient): 30 s 7.49 %, $12,657/month,",
    "  37.5 s wall (the seated re-solve gave each slot 0.5 s past the limit) -> 7.49 %, $12,657, 30.5 s wall; 120 s",
    "  4.56 %, $12,523/month -> 2.52 %, $12,494/month. At 30 s only the first evaluation and part of the re-solve",
    "  fit (14.6 CPU-s in 30 s of wall), so the gap is the slots-alone one either way.",
    "- Why 0.5 % is out of reach of any slot prices: in a 240 s run the cutting-plane LP over all 556 columns found,",
    "  over the whole price box, is $12,255; it over-estimates every slot's optimum at any prices, so it bounds the",
    "  Lagrangian from above: 1.9 % under the incumbent. That is a duality gap: the Lagrangian is the LP over each",
    "  slot's convex hull of fleets, which may mix half of a fleet with one reserved A100 and half of one without.",
    "  Fixing R does not remove it (on-demand cost max(0, u - R) is convex in u, so mixing still pays less).",
    "  Closing it needs branching on per-slot GPU counts u_{g,t} (branch-and-price, columns reused by every node),",
    "  each node a few pricing rounds of 48 MILPs at 0.05-0.9 s: not in 30 s on this shared machine. Measured for",
    "  that: adding x[b,k] <= n_k (no share of a bucket on a config without a replica) lifts the slot LP from 48-91 %",
    "  to 62-100 % of the MILP optimum (12 model-slots) at 0.02-0.04 s, a cheap node bound; the MILP is not faster.",
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
        f"other jobs (load average {load:.1f} at the start, so wall time is up to {load / (os.cpu_count() or 1):.1f}x the CPU time).", "",
        "| slots | models | configs | buckets | variables (integer) | rows | time limit s | status | gap | $/month | wall s | CPU s | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Configs: every catalog GPU with an AWS price x bf16/fp8/int8/int8-wo/int4 x TP 1-8 that fit, before",
        "dominance pruning; the MILP is built after pruning, so the variable count above is of the unpruned model.",
        "The gap is proven: the bound is the best per-slot mix of the Lagrangian evaluations (the first is the",
        "slots alone at the reserved price) or the coupled MILP's bound (planner.optimize.reserve).", "",
        *WHY,
    ]
    out = ROOT / "docs" / "benchmarks" / "fleet_slots.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
