"""Solve time from a measured profile: 6x6 buckets, 4 GPU types, 1-1000 req/s, must be proven optimal in < 1 s.

Synthetic but shaped like real profiles (seeded): one replica's max req/s falls with prompt and output
length, scaled by a per-GPU speed (H100 > A100 > L40S > L4) with +-20 % noise so no two GPUs are
exactly proportional; L4 and L40S leave out the longest-prompt buckets (they "cannot serve" them).
Traffic is a random histogram over the 36 buckets. Prices are the catalog's AWS on-demand ones.
Each case goes through `planner.api.solve` (CSV parsing, demand mapping, main MILP, one baseline MILP
per GPU type); `runtime_s` is the main MILP's solver time.

    python benchmarks/profile_speed.py            # prints the table and updates docs/profiles.md
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from planner import api
from planner.io.workload import workload_from_dict
from planner.io.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "profiles.md"
INPUT_EDGES = [1, 256, 1024, 2048, 4096, 8192, 16384]
OUTPUT_EDGES = [1, 64, 128, 256, 512, 1024, 2048]
SPEED = {"h100": 1.0, "a100-80gb": 0.55, "l40s": 0.35, "l4": 0.12}
LONGEST_INPUT = {"l40s": 8192, "l4": 4096}  # buckets starting at or above this are left out
VARIANTS = {"4 configs (1 per GPU type)": [(1, "bf16")], "16 configs (tp 1/2 x bf16/fp8)": [(1, "bf16"), (2, "bf16"), (1, "fp8"), (2, "fp8")]}
RATES = (1, 10, 100, 1000)
SEEDS = range(5)


def profile_csv(rng: np.random.Generator, configs: list[tuple[int, str]]) -> str:
    lines = ["gpu,input_lo,input_hi,output_lo,output_hi,max_rps,quant,tp"]
    for gpu, speed in SPEED.items():
        for tp, quant in configs:
            boost = tp ** 0.9 * (1.4 if quant == "fp8" else 1.0)
            for ilo, ihi in zip(INPUT_EDGES, INPUT_EDGES[1:]):
                if ilo >= LONGEST_INPUT.get(gpu, 1 << 30):
                    continue
                for olo, ohi in zip(OUTPUT_EDGES, OUTPUT_EDGES[1:]):
                    work = (ilo + ihi) / 2 / 4000 + (olo + ohi) / 2 / 40  # prefill + decode seconds-ish per request
                    rps = 20 * speed * boost / work * rng.uniform(0.8, 1.2)
                    lines.append(f"{gpu},{ilo},{ihi},{olo},{ohi},{rps:.4g},{quant},{tp}")
    return "\n".join(lines) + "\n"


def workload(rng: np.random.Generator, rate: float) -> dict:
    shares = rng.dirichlet(np.ones(36))
    cells = [(i, o) for i in zip(INPUT_EDGES, INPUT_EDGES[1:]) for o in zip(OUTPUT_EDGES, OUTPUT_EDGES[1:])]
    histogram = [{"input": list(i), "output": list(o), "share": float(s)} for (i, o), s in zip(cells, shares)]
    histogram[-1]["share"] = float(1 - sum(h["share"] for h in histogram[:-1]))
    return {"model": "llama-3.1-8b", "slo": {"ttft_ms": 2000, "tpot_ms": 50}, "utilization_target": 1.0,
            "traffic": {"rate_rps": rate, "histogram": histogram, "overflow": "drop"},
            "capacity_profile": "profile.csv", "solver": {"time_limit_s": 30}}


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant, configs in VARIANTS.items():
            for rate in RATES:
                solver_s, total_s, statuses = [], [], set()
                for seed in SEEDS:
                    rng = np.random.default_rng(seed)
                    (Path(tmp) / "profile.csv").write_text(profile_csv(rng, configs))
                    loaded = workload_from_dict(workload(rng, rate), tmp)
                    start = time.perf_counter()
                    plan = api.solve(loaded)
                    total_s.append(time.perf_counter() - start)
                    solver_s.append(plan.runtime_s)
                    statuses.add(f"{plan.status} (gap {plan.gap or 0:.0e})")
                    replicas = sum(p.replicas for p in plan.pools)
                rows.append({"variant": variant, "rate": rate, "solver_max_s": max(solver_s), "solver_median_s": float(np.median(solver_s)),
                             "total_max_s": max(total_s), "status": ", ".join(sorted(statuses)), "replicas_last": replicas})
                print(rows[-1], file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({platform.python_implementation()} {platform.python_version()}), "
             f"HiGHS through PuLP, 1 thread; {len(SEEDS)} seeds per row, `utilization_target: 1.0`, mip_gap 1e-6.", "",
             "| profile | req/s | status | MILP solve, median / max (s) | whole `api.solve`, max (s) | replicas (last seed) |",
             "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['rate']} | {r['status']} | {r['solver_median_s']:.3f} / {r['solver_max_s']:.3f} | "
                     f"{r['total_max_s']:.2f} | {r['replicas_last']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-doc", action="store_true", help="print only; do not update docs/profiles.md")
    args = parser.parse_args()
    rows = run()
    table = markdown(rows)
    print(table)
    goal = next(iter(VARIANTS))
    worst = max(r["solver_max_s"] for r in rows if r["variant"] == goal)
    optimal = all(r["status"].startswith("optimal") for r in rows if r["variant"] == goal)
    print(f"{goal}: worst MILP solve {worst:.3f} s, all proven optimal: {optimal} (goal: < 1 s, optimal)", file=sys.stderr)
    if not args.no_doc:
        text = DOC.read_text()
        start, end = "<!-- profile_speed:start -->", "<!-- profile_speed:end -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        write_atomic(DOC, f"{head}{start}\n{table}{end}{tail}")


if __name__ == "__main__":
    main()
