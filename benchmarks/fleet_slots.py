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
    "- Before (one coupled MILP, 24 x 109 configs after dominance pruning, ~78k routing variables): its LP relaxation",
    "  prices replicas fractionally and HiGHS found no good incumbent; with 2 models it stopped at 30 s with a 95 %",
    "  gap and a $174,208/month fleet (one model: 32 % gap before issue 13's capacity refits).",
    "- Decomposition over the reserved level R_g per GPU type, the only thing the slots share",
    "  (planner.optimize.reserve, whose docstring proves the bound). Lower bound: a Lagrangian one. Each slot t pays",
    "  lam[g][t] per GPU of a reservable type g (capped at on demand), with the prices of a type adding up to its",
    "  reserved month; then any fleet costs at least the sum of the slots' own optima at those prices. Equal shares",
    "  (lam = h_t p_res) are the old bound, the slots alone at the reserved price; projected subgradient (Polyak)",
    "  steps raise the price where a slot uses more GPUs of g than the mean and lower it in quiet slots.",
    "- Upper bound: the slots' fleets with the cheapest reserved level per type over their GPU counts, each slot",
    "  re-solved with those GPUs as free seats (models together; dealing the seats to the models and solving each",
    "  apart was 20.6 s instead of 35.7 s but $9,331 instead of $9,183/month); each Lagrangian step's fleets too.",
    "- Under load the re-solve is cut short (half a second a slot) and can be far worse than the slots' first",
    "  fleets on the same seats, so each slot keeps the cheaper of the two. Back to back, load 5.1-5.3, 30 s: before",
    "  (main at 01db264) 98.53 % gap, $583,334/month, 39.7 s wall; after 7.95 %, $9,345/month, 47.0 s wall.",
    "- What limits it: one evaluation is 24 slots x 2 models of MILPs, 12-17 s here (HiGHS is 85 % of it), and the",
    "  incumbent's re-solve 20-35 s, so at 30 s no subgradient step fits and the gap is the slots-alone one. Given",
    "  time, the steps raise the bound (measured, from the incumbent $9,183: 8,603 -> 8,268 -> 8,693 -> 8,805, the",
    "  steps oscillate between the slots' integer fleets). The coupled MILP runs only with time left after the",
    "  steps; on this benchmark it never raised the bound (main before the decomposition: 6.32 % at 120 s, the",
    "  slots-alone gap). Left: cheaper steps (warm-started slot MILPs, the slots in parallel) and a stabilised",
    "  (bundle) step instead of plain subgradient.",
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
        "The gap is proven: the bound is the best Lagrangian bound over the slot prices tried (the first is the",
        "slots alone at the reserved price) or the coupled MILP's bound (planner.optimize.reserve).", "",
        *WHY,
    ]
    out = ROOT / "docs" / "benchmarks" / "fleet_slots.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
