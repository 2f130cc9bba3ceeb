"""CLI start-up and solve wall time: `planner --help` (target < 0.3 s) and `planner solve workloads/chat.yaml`
(target < 1.0 s), N fresh processes each, optionally back to back against another source tree (main), plus where
the solve's time goes (the real CLI path, stage by stage).

    python benchmarks/startup.py                          # prints the tables and writes docs/benchmarks/startup.md
    python benchmarks/startup.py --runs 9 --against /tmp/planner-main --no-write

Every timed process runs without PYTHONDONTWRITEBYTECODE (this shell sets it; an installed package has its .pyc
files), after one warm-up run of each command that writes them. `--against DIR` (e.g. `git archive main | tar -x
-C DIR`) runs the same commands with DIR first on PYTHONPATH, alternating with this tree's, so machine load hits
both alike; the ratio is of the two minima.
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
regenerating the tables does not drop it)."""

STAGES = r"""
import sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import planner.cli.main as cli, planner.cli.solve, planner.api as api, planner.report.plan_text
import planner.simulate.background as background, planner.supply.sources as sources
mark("imports (CLI, API, renderer)")
def after(owner, name, label, before=None):
    fn = getattr(owner, name)
    def timed(*args, **kwargs):
        if before:
            mark(before)
        out = fn(*args, **kwargs)
        mark(label)
        return out
    setattr(owner, name, timed)
after(api, "build_demand", "trace -> demand (DuckDB)", before="workload + catalogs")
after(sources.AnalyticalModel, "build", "candidates + capacity table")
after(api, "with_roles", "prefill/decode rows (disaggregation auto)")
after(api, "optimize_fleet", "main MILP")
assemble = api.assemble_plan
def assemble_plan(*args, on_pools=None, **kwargs):
    def hook(plan):
        mark("pools, routing, inputs echo")
        started = on_pools(plan)
        mark("replay start (fleet, requests, fork)")
        return started
    out = assemble(*args, on_pools=hook if on_pools else None, **kwargs)
    mark("comparisons (simplest plan, baselines, rules, floor)")
    return out
api.assemble_plan = assemble_plan
after(background.PendingReplay, "verification", "replay: the wait after the comparisons")
cli.cli.main(sys.argv[1:], standalone_mode=False)
mark("render")
print("\t".join(f"{name}={t - t0:.4f}" for (_, t0), (name, t) in zip(marks, marks[1:])))
"""
"""The real `planner solve` path with a time mark at each stage (each stage's seconds since the previous mark)."""


def clean_env(tree: Path) -> dict[str, str]:
    """The environment of a timed process: .pyc files allowed, `tree` first on the import path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def wall(command: list[str], tree: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + sys, its forked children and DuckDB's threads included) of one fresh run
    of `command` in `tree` (stdout discarded). CPU time does not count the wait for a core, so it varies less with
    the machine's load; it counts work done beside the main process (the forked replay) that wall time hides."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=tree, env=clean_env(tree), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def stages(tree: Path, extra: list[str], runs: int) -> dict[str, float]:
    """Median seconds of each stage of `planner solve workloads/chat.yaml [extra]` over `runs` fresh processes."""
    seen: dict[str, list[float]] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", STAGES, "solve", "workloads/chat.yaml", *extra], cwd=tree,
                             env=clean_env(tree), capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        for part in out.split("\t"):
            name, seconds = part.rsplit("=", 1)
            seen.setdefault(name, []).append(float(seconds))
    return {name: statistics.median(values) for name, values in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, default=None, help="another source tree (main) timed back to back")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    planner = str(Path(sys.executable).with_name("planner"))
    trees = {"this": ROOT} | ({"main": args.against.resolve()} if args.against else {})
    load_start = os.getloadavg()[0]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for label in TARGETS:
        for tree in trees.values():
            wall([planner, *label.split()[1:]], tree)  # warm-up: writes the .pyc files
    for _ in range(args.runs):
        for label in TARGETS:
            for name, tree in trees.items():
                times.setdefault((label, name), []).append(wall([planner, *label.split()[1:]], tree))
    against = "main" in trees
    head = ("| command | wall median s | wall min s | CPU min s |" + (" main: wall min s, CPU min s | this / main: wall, CPU |"
            if against else "") + " target s | |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, target in TARGETS.items():
        mine = [w for w, _ in times[(label, "this")]], [c for _, c in times[(label, "this")]]
        verdict = "" if target is None else "met" if statistics.median(mine[0]) < target else "MISSED"
        ref = ""
        if against:
            theirs = [w for w, _ in times[(label, "main")]], [c for _, c in times[(label, "main")]]
            ref = (f" {min(theirs[0]):.3f}, {min(theirs[1]):.3f} | {min(mine[0]) / min(theirs[0]):.2f}, "
                   f"{min(mine[1]) / min(theirs[1]):.2f} |")
        rows.append(f"| `{label}` | {statistics.median(mine[0]):.3f} | {min(mine[0]):.3f} | {min(mine[1]):.3f} |{ref} "
                    f"{'' if target is None else f'{target:g}'} | {verdict} |")
    columns = [stages(ROOT, [], args.runs), stages(ROOT, ["--no-replay"], args.runs)]
    if against:  # main's stages, measured the same way (the marks name functions both trees have)
        columns += [stages(trees["main"], [], args.runs), stages(trees["main"], ["--no-replay"], args.runs)]
    names = list(dict.fromkeys(name for column in columns for name in column))
    parts = ["| " + " | ".join([name] + [f"{c[name]:.3f}" if name in c else "" for c in columns]) + " |" for name in names]
    parts.append("| **sum** | " + " | ".join(f"{sum(c.values()):.3f}" for c in columns) + " |")
    stage_head = "| stage | default (replay on) s | `--no-replay` s |" + (" main: default s | main: `--no-replay` s |" if against else "")
    load_end = os.getloadavg()[0]
    doc = "\n".join([
        "# CLI start-up and solve time", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}. {args.runs} fresh "
        "processes of each command (wall clock and CPU time, stdout discarded), with .pyc files: PYTHONDONTWRITEBYTECODE removed from "
        "their environment and one warm-up run of each command first, as after `pip install .`"
        + (", alternating with the same command on main's source tree (`--against`)" if against else "")
        + ". Regenerate with `python benchmarks/startup.py [--against DIR]`.", "",
        *rows, "",
        f"Where `planner solve workloads/chat.yaml` spends its time (the real CLI path with a time mark at each stage, "
        f"median of {args.runs} fresh processes per column; a stage's seconds since the previous mark). The replay runs "
        "in a forked child from \"replay start\" on, beside the comparisons; its row is what is left of it after them. "
        "Under `--no-replay` the comparisons are split over two processes instead:", "",
        stage_head, "|" + "---|" * (stage_head.count("|") - 1), *parts, "",
        f"Last run: {time.strftime('%H:%M on %Y-%m-%d')}, load average {load_start:.1f} at the start, {load_end:.1f} at the end.", "",
        *NOTES, "",
    ])
    print(doc)
    if not args.no_write:
        DOC.write_text(doc)


if __name__ == "__main__":
    main()
