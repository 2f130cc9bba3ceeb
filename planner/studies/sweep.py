"""Sweeps: a grid of what-ifs solved in parallel; infeasible points are rows with their reason (docs/whatif.md).

Points that differ only in traffic rate share one capacity table (the demand is linear in the rate).
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from planner import api
from planner.errors import InfeasibleError, SolverError, WorkloadError
from planner.io.workload import LoadedWorkload
from planner.plan.model import Plan
from planner.studies.compare import summarize
from planner.io.overrides import Overrides
from planner.studies.parallel import Workers, cached_catalog, run_parallel

if TYPE_CHECKING:
    import pandas as pd

MAX_GRID_POINTS = 10_000
"""Largest grid a sweep accepts: about three hours of 1-second solves on two cores."""


def parse_param(text: str) -> tuple[str, list[Any]]:
    """`slo.tpot_ms=20:100:10` (inclusive range) or `traffic.rate_scale=1,2,4` or `gpus=[h100],[l4]` -> (path, values)."""
    path, sep, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise WorkloadError(f"--param {text}: expected KEY.PATH=LO:HI:STEP or KEY.PATH=V1,V2,...")
    if ":" in spec and not spec.startswith(("[", "{")):
        return path, _range(text, spec)
    try:
        values = [yaml.safe_load(part) for part in _split_top_level(spec)]
    except yaml.YAMLError as exc:
        raise WorkloadError(f"--param {text}: a value is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return path, values


def _range(text: str, spec: str) -> list[float]:
    parts = spec.split(":")
    try:
        lo, hi, step = (float(p) for p in parts) if len(parts) == 3 else (None, None, None)
    except ValueError:
        lo = hi = step = None
    if lo is None or hi is None or step is None or not all(map(math.isfinite, (lo, hi, step))):
        raise WorkloadError(f"--param {text}: a range is LO:HI:STEP with three finite numbers, e.g. 20:100:10")
    if step <= 0 or hi < lo:
        raise WorkloadError(f"--param {text}: need STEP > 0 and HI >= LO")
    count = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if count > MAX_GRID_POINTS:
        raise WorkloadError(f"--param {text}: {count} values; at most {MAX_GRID_POINTS}")
    values = [round(lo + i * step, 10) for i in range(count)]
    return [int(v) if v.is_integer() else v for v in values]


def _split_top_level(spec: str) -> Iterator[str]:
    """Split on commas outside brackets, so `[a,b],[c]` is two values."""
    depth, start = 0, 0
    for i, ch in enumerate(spec):
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            yield spec[start:i].strip()
            start = i + 1
    yield spec[start:].strip()


def expand_grid(params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the parameter values, first parameter varying slowest."""
    size = math.prod(len(v) for v in params.values())
    if size > MAX_GRID_POINTS:
        raise WorkloadError(f"the sweep grid has {size} points; at most {MAX_GRID_POINTS}")
    return [dict(zip(params, combo)) for combo in itertools.product(*params.values())]


def point_record(point: Mapping[str, Any], plan: Plan | None, reason: str | None) -> dict[str, Any]:
    """One sweep row: the parameter values (as swept, under their own names), status, costs, the fleet's GPU count
    (`total_gpus`, so that a swept `gpus` keeps its values), GPUs by type and the single-GPU-type baselines."""
    if plan is None:
        result = {"status": "infeasible", "reason": reason, "cost_per_hour": None, "cost_per_month": None,
                  "cost_per_million_output_tokens": None, "total_gpus": None, "gpus_by_type": {}, "baselines": {}}
    else:
        s = summarize(plan)
        result = {"status": s["status"], "reason": None, "cost_per_hour": s["cost_per_hour"], "cost_per_month": s["cost_per_month"],
                  "cost_per_million_output_tokens": s["cost_per_million_output_tokens"], "total_gpus": s["gpus"],
                  "gpus_by_type": s["gpus_by_type"], "baselines": {b.gpu: b.cost_per_hour for b in plan.baselines}}
    return dict(point) | {k: v for k, v in result.items() if k not in point}


def _cell(value: Any) -> Any:
    """A swept value for one CSV cell: lists as `[h100,l4]` (as given on the command line), scalars unchanged."""
    return "[" + ",".join(map(str, value)) + "]" if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class Sweep:
    """The grid's parameter names and one record per point (see `point_record`)."""

    params: tuple[str, ...]
    records: tuple[dict[str, Any], ...]

    def to_frame(self) -> "pd.DataFrame":
        """Flat table for CSV: nested GPUs-by-type and baselines become `gpus_<type>` and `baseline_<gpu>` columns."""
        import pandas as pd

        rows = []
        for r in self.records:
            flat = {k: _cell(v) if k in self.params else v for k, v in r.items() if k not in ("gpus_by_type", "baselines")}
            flat |= {f"gpus_{g}": n for g, n in r["gpus_by_type"].items()}
            flat |= {f"baseline_{g}": c for g, c in r["baselines"].items()}
            rows.append(flat)
        frame = pd.DataFrame(rows)
        gpu_cols = sorted(c for c in frame.columns if c.startswith("gpus_"))
        frame[gpu_cols] = frame[gpu_cols].fillna(0).astype(int)
        return frame


def sweep(workload: api.WorkloadInput, params: Mapping[str, Sequence[Any]], catalog_files: Sequence[str] = (),
          jobs: int | Workers = 1, progress: bool = False, overrides: Overrides | None = None, scenario: str | None = None) -> Sweep:
    """Solve every grid point (on top of `scenario` and `overrides`); infeasible points keep their reason."""
    if not params:
        raise WorkloadError("sweep: give at least one parameter to vary, e.g. {'slo.tpot_ms': [20, 40, 60]} (CLI: --param slo.tpot_ms=20:100:10)")
    loaded = api.load(workload, overrides, scenario)
    points = expand_grid(params)
    for point in points:
        api.load(loaded, point)  # bad paths and values fail before any solving
    files = tuple(str(f) for f in catalog_files)
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for point in points:  # points differing only in traffic rate share one capacity table
        fixed = {k: v for k, v in point.items() if k not in RATE_PATHS}
        groups.setdefault(json.dumps(fixed, sort_keys=True, default=str), (fixed, []))[1].append(point)
    from joblib import delayed

    tasks = [delayed(solve_rate_group)(loaded, files, fixed, members) for fixed, members in groups.values()]
    solved = {json.dumps(p, sort_keys=True, default=str): r for batch in run_parallel(tasks, jobs, progress, "sweep") for p, r in batch}
    results = [solved[json.dumps(p, sort_keys=True, default=str)] for p in points]
    return Sweep(tuple(params), tuple(point_record(p, plan, why) for p, (plan, why) in zip(points, results)))


RATE_PATHS = frozenset({"traffic.rate_scale", "traffic.target_rps", "traffic.rate_rps"})
"""Overrides that only scale the design rate: the demand is linear in them and capacities do not depend on them."""


def _rate_knob(loaded: LoadedWorkload) -> float:
    """The number the design rate is proportional to: target_rps, or rate_scale x (rate_rps for histograms)."""
    t = loaded.workload.traffic
    return t.target_rps if t.target_rps is not None else t.rate_scale * (t.rate_rps or 1.0)


def solve_rate_group(loaded: LoadedWorkload, catalog_files: tuple[str, ...], fixed: dict[str, Any],
                     points: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[Plan | None, str | None]]]:
    """Solve points that share `fixed` and differ in traffic rate: one capacity table, demand rescaled per point.

    Equal to separate solves (tests/studies/test_sweep.py) because bucket shares and per-replica capacities do not
    depend on the rate; only the bucket rates scale, linearly.
    """
    base = api.load(loaded, fixed)
    try:
        problem = api.prepare(base, catalog_files, cached_catalog(catalog_files))
    except (InfeasibleError, SolverError) as exc:
        return [(p, (None, str(exc))) for p in points]
    out = []
    for point in points:
        here = api.load(loaded, point)
        demand = problem.demand.scaled(_rate_knob(here) / _rate_knob(base))
        try:
            plan = api.plan_from_table(here, problem.table, demand, catalog_files, catalog=problem.catalog)
        except (InfeasibleError, SolverError) as exc:
            out.append((point, (None, str(exc))))
            continue
        out.append((point, (plan, None)))
    return out


