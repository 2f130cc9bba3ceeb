"""Benchmark runs as a capacity profile (docs/ingest.md, "Runs as a capacity profile"): for each config and each
request size the runs were made at, the highest request rate a run sustained within the SLOs.

The runs of one config at one (rounded) mean prompt and output length form a load curve; the profile's
max_rps there is the largest measured request throughput among the runs whose p99 TTFT and p99 TPOT are
within the SLO (p99 is what the tools record; for an SLO percentile below 99 it is conservative). The
lengths the runs were made at become a grid of buckets, split halfway (geometric mean) between neighbouring
lengths, the last open-ended; a grid cell with no run of its own takes the smallest max_rps of the measured
cells at least as long in both prompt and output (longer requests are served at lower rates), else it is
left out for that config.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError
from planner.io.readers.bench_run import BenchRun
from planner.io.readers.profile_csv import COLUMNS
from planner.schemas.ranges import OPEN


@dataclass(frozen=True)
class RunsOf:
    """The runs measured on one config (gpu, quant, tp, kv_dtype)."""

    gpu: str
    quant: str
    tp: int
    kv_dtype: str
    runs: tuple[BenchRun, ...]


def edges(points: list[int]) -> list[tuple[int, int]]:
    """[lo, hi) ranges around sorted distinct lengths: split at the geometric mean, from 1, the last open."""
    cuts = [max(a + 1, round(math.sqrt(a * b))) for a, b in zip(points, points[1:])]
    return list(zip([1, *cuts], [*cuts, OPEN]))


def _sustained(runs: list[BenchRun], ttft_ms: float, tpot_ms: float) -> float | None:
    """Largest request throughput among runs within both SLOs at p99 (the mean where a file has no p99)."""
    ok = [r.req_s for r in runs if (r.ttft_p99_ms or r.ttft_ms) <= ttft_ms and (r.tpot_p99_ms or r.tpot_ms) <= tpot_ms
          and r.req_s > 0]
    return max(ok) if ok else None


def profile_rows(sources: list[RunsOf], ttft_ms: float, tpot_ms: float) -> list[list]:
    """Profile CSV rows (planner.io.readers.profile_csv.COLUMNS) for every config and grid cell it can serve."""
    runs = [r for s in sources for r in s.runs]
    if not runs:
        raise PlannerError("no benchmark runs to build a capacity profile from")
    inputs = sorted({round(r.input_tokens) for r in runs})
    outputs = sorted({max(2, round(r.output_tokens)) for r in runs})
    in_edges, out_edges = edges(inputs), edges(outputs)
    rows = []
    for s in sources:
        measured: dict[tuple[int, int], float] = {}
        for i, o in {(round(r.input_tokens), max(2, round(r.output_tokens))) for r in s.runs}:
            at = [r for r in s.runs if (round(r.input_tokens), max(2, round(r.output_tokens))) == (i, o)]
            rps = _sustained(at, ttft_ms, tpot_ms)
            if rps is not None:
                measured[inputs.index(i), outputs.index(o)] = rps
        for a, (ilo, ihi) in enumerate(in_edges):
            for b, (olo, ohi) in enumerate(out_edges):
                rps = measured.get((a, b))
                note = "measured"
                if rps is None:
                    longer = [v for (x, y), v in measured.items() if x >= a and y >= b]
                    if not longer:
                        continue
                    rps, note = min(longer), "from a longer measured cell"
                files = sorted({r.ref.split("#")[0] for r in s.runs})
                source = f"{note}: {len(s.runs)} benchmark runs of {', '.join(files)}"
                rows.append([s.gpu, ilo, "" if ihi >= OPEN else ihi, olo, "" if ohi >= OPEN else ohi, repr(rps), "",
                             s.quant, s.tp, s.kv_dtype, source, ""])  # the runs' engine budget: its default
    if not rows:
        raise PlannerError(f"no run meets p99 TTFT <= {ttft_ms:g} ms and TPOT <= {tpot_ms:g} ms; a capacity profile needs "
                           "at least one load point within the SLOs (add runs at lower rates or concurrencies)")
    return rows


def profile_csv_text(rows: list[list], comments: list[str]) -> str:
    buf = io.StringIO()
    buf.writelines(f"# {c}\n" for c in comments)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


def parse_target(arg: str, default: tuple[str | None, str, int, str]) -> tuple[str, tuple[str, str, int, str]]:
    """`FILE` or `FILE@gpu/quant/tpN[/kv-fp8]` (a config key as plans name pools): the file and its config."""
    path, _, key = arg.rpartition("@") if "@" in arg else (arg, "", "")
    gpu, quant, tp, kv = default
    if key:
        parts = key.split("/")
        gpu = parts[0]
        for part in parts[1:]:
            if part.startswith("tp") and part[2:].isdigit():
                tp = int(part[2:])
            elif part.startswith("kv-"):
                kv = part[3:]
            else:
                quant = part
    if not gpu:
        raise PlannerError(f"{arg}: which GPU were these runs measured on? give --gpu or FILE@gpu/quant/tpN")
    return path, (gpu, quant, tp, kv)


def read_runs(paths: list[str | Path]) -> list[BenchRun]:
    """The runs of benchmark files of any layout planner detects (observation readers that parse runs)."""
    from planner.io.readers import READERS, detect

    out = []
    for path in paths:
        reader = detect(path, "observations")
        read_runs_of = getattr(reader, "read_runs", None)
        if read_runs_of is None:
            raise PlannerError(f"{path}: a {reader.name} file holds single measurements, not benchmark runs; "
                               f"a capacity profile is built from {', '.join(n for n, r in READERS.items() if hasattr(r, 'read_runs'))} files")
        out += read_runs_of(Path(path))
    return out
