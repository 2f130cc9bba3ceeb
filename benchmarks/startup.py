"""CLI start-up and solve wall time: `planner --help` (target < 0.3 s) and `planner solve workloads/chat.yaml`
(target < 1.0 s), each the median of N fresh processes, plus where the solve's time goes (one in-process run).

    python benchmarks/startup.py            # prints the table and writes docs/benchmarks/startup.md
    python benchmarks/startup.py --runs 9 --no-write
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "startup.md"
TARGETS: dict[str, float | None] = {"planner --help": 0.3, "planner solve workloads/chat.yaml": 1.0,
                                     "planner solve workloads/chat.yaml --no-replay": None}
"""Commands timed and their targets (None: shown for reference; the solve replays its plan by default since the
chat trace has at most 20,000 requests)."""


NOTES_FILE = ROOT / "benchmarks" / "startup_notes.md"
NOTES: list[str] = NOTES_FILE.read_text().splitlines() if NOTES_FILE.is_file() else []
"""What the last speed work changed and measured, appended to the generated page (kept in its own file so that
regenerating the table does not drop it)."""


def wall(command: list[str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh runs of `command` (stdout discarded)."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - start)
    return out


def stages() -> list[tuple[str, float]]:
    """Seconds of each pipeline stage of the chat example, in a fresh process (imports included)."""
    code = r"""
import time
t = [time.perf_counter()]
import planner.api as api, planner.cli.solve, planner.report.plan_text as text
t.append(time.perf_counter())
from planner.demand.build import build_demand
from planner.supply.candidates import enumerate_candidates
from planner.supply.sources import AnalyticalModel
from planner.io.catalog import load_catalog
loaded = api.load("workloads/chat.yaml"); catalog = load_catalog(); t.append(time.perf_counter())
demand = build_demand(loaded, catalog.model(loaded.workload.model)); t.append(time.perf_counter())
cands, _ = enumerate_candidates(loaded, catalog)
table = AnalyticalModel(tuple(cands)).build(demand, loaded.workload.slo); t.append(time.perf_counter())
plan = api.plan_from_table(loaded, table, demand); t.append(time.perf_counter())
text.render_plan(plan, "table"); t.append(time.perf_counter())
from planner.simulate.verify import verify_plan
verify_plan(plan); t.append(time.perf_counter())
print(" ".join(f"{b - a:.4f}" for a, b in zip(t, t[1:])), len(cands) * len(demand.buckets))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    names = ["imports (api, CLI, renderer)", "workload + catalogs", "trace -> demand (DuckDB)",
             f"capacity table ({out[-1]} cells)", "MILP + baselines + simplest plan + pool curves", "render table",
             "replay of the plan (on by default)"]
    return list(zip(names, map(float, out[:-1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    planner = str(Path(sys.executable).with_name("planner"))
    load_start = os.getloadavg()[0]
    rows = []
    for label, target in TARGETS.items():
        times = wall([planner, *label.split()[1:]], args.runs)
        med = statistics.median(times)
        verdict = "" if target is None else "met" if med < target else "MISSED"
        rows.append(f"| `{label}` | {med:.3f} | {min(times):.3f} | {max(times):.3f} | {'' if target is None else f'{target:g}'} | {verdict} |")
    parts = [f"| {name} | {seconds:.3f} |" for name, seconds in stages()]
    load_end = os.getloadavg()[0]
    doc = "\n".join([
        "# CLI start-up and solve time", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}. Median of {args.runs} fresh "
        f"processes (wall clock, stdout discarded). Regenerate with `python benchmarks/startup.py`.", "",
        "| command | median s | min s | max s | target s | |", "|---|---|---|---|---|---|", *rows, "",
        "Where `planner solve workloads/chat.yaml` spends its time (one fresh process, stages in order):", "",
        "| stage | s |", "|---|---|", *parts, "",
        f"Last run: {time.strftime('%H:%M on %Y-%m-%d')}, load average {load_start:.1f} at the start, {load_end:.1f} at the end.", "",
        *NOTES, "",
    ])
    print(doc)
    if not args.no_write:
        DOC.write_text(doc)


if __name__ == "__main__":
    main()
