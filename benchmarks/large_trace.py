"""A 10M-request Azure-format trace (CSV and Parquet) planned end to end, against one DuckDB pass over the same file.

Issue 16's targets: `planner solve` in at most 2x the time of a single DuckDB pass that computes the length
histogram and the per-minute peak, in the same run, and under 1 GB peak RSS. The traces are generated into a
temporary folder (never committed): one hour at 2,778 req/s, log-normal lengths, Azure 2023 columns.

    python benchmarks/large_trace.py                     # 10M rows, 2 runs each, writes docs/benchmarks/large_trace.md
    python benchmarks/large_trace.py --rows 1000000 --runs 1 --no-write --against /tmp/planner-main
Each measurement is a fresh process timed by /usr/bin/time (wall seconds, max RSS), with .pyc files (as
benchmarks/startup.py: no PYTHONDONTWRITEBYTECODE, one warm-up run first); the reference, the solve and (with
`--against DIR`) the solve on another source tree alternate, so machine load hits all alike; the best run of each
is reported, with the solve's stages in one more process (benchmarks/startup.py's time marks).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import STAGES, clean_env  # noqa: E402 - the sibling benchmark's environment and time marks

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "large_trace.md"
NOTES_FILE = ROOT / "benchmarks" / "large_trace_notes.md"
"""What the last work on the trace path found, appended to the generated page (regenerating keeps it)."""
GENERATE = """
import duckdb, sys
n, csv, parquet = int(sys.argv[1]), sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SELECT setseed(0.16)")
con.execute(f'''COPY (SELECT strftime(TIMESTAMP '2023-11-16 18:00:00' + to_microseconds(CAST(i * 3600e6 / {n} AS BIGINT)),
    '%Y-%m-%d %H:%M:%S.%f') AS TIMESTAMP,
  CAST(1 + floor(exp(6.9 + 1.0 * sqrt(-2 * ln(random())) * cos(6.2832 * random()))) % 14000 AS BIGINT) AS ContextTokens,
  CAST(1 + floor(exp(4.9 + 0.8 * sqrt(-2 * ln(random())) * cos(6.2832 * random()))) % 2000 AS BIGINT) AS GeneratedTokens
  FROM range({n}) t(i)) TO '{csv}' (HEADER)''')
con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{parquet}' (FORMAT parquet)")
"""
REFERENCE = """
import duckdb, sys
path = sys.argv[1]
source = f"read_parquet('{path}')" if path.endswith('.parquet') else f"read_csv('{path}')"
duckdb.sql(f'''WITH t AS (SELECT epoch_us(TIMESTAMP::TIMESTAMP) AS a, ContextTokens AS i, GeneratedTokens AS o FROM {source})
  SELECT (SELECT max(c) FROM (SELECT count(*) AS c FROM t GROUP BY a // 60000000)),
         (SELECT count(*) FROM (SELECT i // 512, o // 256, count(*) FROM t GROUP BY ALL))''').fetchall()
"""
WORKLOAD = """name: large-trace
model: llama-3.1-8b
slo: {{ttft_ms: 1000, tpot_ms: 50, percentile: 99}}
traffic: {{trace: {trace}}}
gpus: [h100, a100-80gb, l4]
"""


def measure(command: list[str], tree: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one fresh process in source tree `tree`."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], cwd=tree, env=clean_env(tree), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    seconds, kb = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024**2


def stage_line(workload: Path) -> str:
    """The solve's stages (seconds) in one fresh process, as `name s, name s, ...`."""
    out = subprocess.run([sys.executable, "-c", STAGES, "solve", str(workload)], cwd=ROOT, env=clean_env(ROOT),
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return ", ".join(f"{name} {float(s):.2f}" for name, s in (part.rsplit("=", 1) for part in out.split("\t")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--against", type=Path, default=None, help="another source tree (main) timed in the same run")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    planner = shutil.which("planner") or str(Path(sys.executable).with_name("planner"))
    tmp = Path(tempfile.mkdtemp(prefix="planner-large-trace-"))
    try:
        csv, parquet = tmp / "azure.csv", tmp / "azure.parquet"
        subprocess.run([sys.executable, "-c", GENERATE, str(args.rows), str(csv), str(parquet)], check=True)
        main_head = " main's `planner solve` (s, GB) | main's ratio |" if args.against else ""
        rows = [f"| file | size | one DuckDB pass (s, GB) | `planner solve` (s, GB) | time ratio |{main_head} targets (≤ 2×, < 1 GB) |",
                "|---|---|---|---|---|" + ("---|---|" if args.against else "") + "---|"]
        stage_lines = []
        for trace in (csv, parquet):
            workload = tmp / f"{trace.suffix[1:]}.yaml"
            workload.write_text(WORKLOAD.format(trace=trace))
            trees = [ROOT] + ([args.against.resolve()] if args.against else [])
            for tree in trees:
                measure([planner, "solve", str(workload)], tree)  # warm-up: writes the .pyc files
            ref, solve, other = [], [], []
            for _ in range(args.runs):
                ref.append(measure([sys.executable, "-c", REFERENCE, str(trace)]))
                solve.append(measure([planner, "solve", str(workload)]))
                if args.against:
                    other.append(measure([planner, "solve", str(workload)], trees[1]))
            (rs, rg), (ss, sg) = min(ref), min(solve)
            ok = "met" if ss <= 2 * rs and sg < 1 else "**missed**"
            theirs = f" {min(other)[0]:.2f}, {min(other)[1]:.2f} | {min(other)[0] / rs:.2f}× |" if other else ""
            rows.append(f"| {trace.suffix[1:].upper()} | {trace.stat().st_size / 1e6:,.0f} MB | {rs:.2f}, {rg:.2f} | "
                        f"{ss:.2f}, {sg:.2f} | {ss / rs:.2f}× |{theirs} {ok} |")
            print(rows[-1], file=sys.stderr)
            stage_lines.append(f"- {trace.suffix[1:].upper()}: {stage_line(workload)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = ("# A 10M-request trace: `planner solve` against one DuckDB pass\n\n"
            f"Machine: {platform.machine()}, 2 cores shared with other work; Python {platform.python_version()}. "
            f"{args.rows:,} requests in the Azure 2023 layout (one hour, log-normal lengths), generated into a temporary "
            "folder. Reference: one DuckDB query over the file computing the length histogram and the per-minute peak. "
            "`planner solve`: the whole command (start-up, one validating DuckDB pass, the histogram and rate windows "
            f"in SQL, capacity table, MILP, baselines, rendering). Best of {args.runs} fresh processes each, "
            "wall clock and peak RSS from /usr/bin/time, with .pyc files (one warm-up run first)"
            + (", alternating with main's source tree" if args.against else "")
            + ". Regenerate with `python benchmarks/large_trace.py [--against DIR]`.\n\n"
            + "\n".join(rows) + "\n\n"
            f"Run {time.strftime('%H:%M UTC on %Y-%m-%d', time.gmtime())}, load average {load_start:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end. `planner solve`'s stages in one more fresh process (seconds):\n\n"
            + "\n".join(stage_lines) + "\n"
            + ("\n" + NOTES_FILE.read_text() if NOTES_FILE.is_file() else ""))
    if not args.no_write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
