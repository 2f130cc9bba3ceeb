"""What-if studies over the solve pipeline: compare scenarios, diff saved plans, sweep a grid, one-at-a-time sensitivity.

Every point is a full `planner.solve` with overrides (planner.overrides), so a study equals the separate solves.
Grids run in parallel with joblib; an infeasible point is a row with its reason, never a crash (docs/whatif.md).
"""
from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from joblib import Parallel, delayed
from rich.console import Console
from rich.progress import Progress

from planner import api
from planner.catalog import Catalog, load_catalog
from planner.errors import InfeasibleError, SolverError, WorkloadError
from planner.overrides import Overrides
from planner.workload import LoadedWorkload

MAX_GRID_POINTS = 10_000


@functools.lru_cache(maxsize=4)
def cached_catalog(files: tuple[str, ...]) -> Catalog:
    """One parsed catalog per worker process (parsing the YAML costs more than a small solve)."""
    return load_catalog(files)


def solve_point(loaded: LoadedWorkload, catalog_files: tuple[str, ...], overrides: Overrides | None = None,
                scenario: str | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """Plan JSON (Plan.to_dict) for one what-if, or (None, why) when no fleet meets the SLOs."""
    try:
        plan = api.solve(loaded, catalog_files, overrides=overrides, scenario=scenario, catalog=cached_catalog(catalog_files))
    except (InfeasibleError, SolverError) as exc:
        return None, str(exc)
    return plan.to_dict(), None


def summarize(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers a comparison shows, read from a plan's JSON (so saved plans and fresh solves compare alike)."""
    pools = plan.get("pools", [])
    per_m = plan.get("cost_per_million_tokens", {}).get("design", {})
    ttft = [p["ttft_ms_p99"] for p in pools if p.get("ttft_ms_p99") is not None]
    tpot = [p["tpot_ms_p99"] for p in pools if p.get("tpot_ms_p99") is not None]
    return {
        "status": plan.get("status"),
        "cost_per_hour": plan.get("cost_per_hour"),
        "cost_per_month": plan.get("cost_per_month"),
        "cost_per_million_output_tokens": plan.get("cost_per_million_output_tokens"),
        "cost_per_million_input_tokens": per_m.get("input"),
        "gpus": sum(plan.get("gpus_by_type", {}).values()),
        "gpus_by_type": dict(plan.get("gpus_by_type", {})),
        "ttft_ms_p99": max(ttft) if ttft else None,
        "tpot_ms_p99": max(tpot) if tpot else None,
    }


@dataclass(frozen=True)
class CostChange:
    """Monthly cost of a column minus the reference column's, in USD and as a fraction."""

    usd_per_month: float
    fraction: float | None


@dataclass(frozen=True)
class Column:
    """One scenario (or saved plan) in a comparison: its summary, or why it has none."""

    name: str
    summary: dict[str, Any] | None
    reason: str | None = None


@dataclass(frozen=True)
class Comparison:
    """Scenarios side by side; the first column is the reference every change is measured against."""

    columns: tuple[Column, ...]

    def changes(self) -> list[CostChange | None]:
        """Change in $/month of each column against the first (None where either side has no plan)."""
        ref = self.columns[0].summary
        out: list[CostChange | None] = []
        for col in self.columns:
            if ref is None or col.summary is None:
                out.append(None)
                continue
            old, new = ref["cost_per_month"], col.summary["cost_per_month"]
            out.append(CostChange(new - old, (new - old) / old if old else None))
        return out

    def max_growth(self) -> float | None:
        """Largest cost growth against the reference as a fraction (inf when a column became infeasible)."""
        growth = [c.fraction if c and c.fraction is not None else math.inf for c in self.changes()[1:]]
        return max(growth) if growth else None

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "reference": self.columns[0].name, "columns": [
            {"name": c.name, "summary": c.summary, "reason": c.reason,
             "change_per_month": None if ch is None else ch.usd_per_month,
             "change_fraction": None if ch is None else ch.fraction}
            for c, ch in zip(self.columns, self.changes())]}


def compare(workload: api.WorkloadInput, scenarios: Sequence[str], catalog_files: Sequence[str] = (), jobs: int = 1,
            progress: bool = False) -> Comparison:
    """Solve each named scenario ("base" = the workload as written) and line them up against the first."""
    if not scenarios:
        raise WorkloadError("--scenario: name at least one scenario, e.g. --scenario base,growth")
    loaded = api.as_loaded(workload)
    for name in scenarios:
        api.load(loaded, scenario=name)  # fail fast on unknown names and bad overrides
    files = tuple(str(f) for f in catalog_files)
    tasks = [delayed(solve_point)(loaded, files, None, name) for name in scenarios]
    results = run_parallel(tasks, jobs, progress, "compare")
    return Comparison(tuple(Column(name, summarize(plan) if plan else None, reason)
                            for name, (plan, reason) in zip(scenarios, results)))


def diff(old: Mapping[str, Any], new: Mapping[str, Any], names: tuple[str, str] = ("old", "new")) -> Comparison:
    """Two saved plans (JSON from `planner solve --format json`) as a two-column comparison."""
    for name, plan in zip(names, (old, new)):
        if not isinstance(plan, Mapping) or "cost_per_month" not in plan or "schema_version" not in plan:
            raise WorkloadError(f"{name}: not a plan JSON (expected the output of planner solve --format json)")
    return Comparison((Column(names[0], summarize(old)), Column(names[1], summarize(new))))


def run_parallel(tasks: list[Any], jobs: int, progress: bool, label: str) -> list[Any]:
    """Run joblib `delayed` tasks on `jobs` processes, in order, with a progress bar on stderr."""
    runner = Parallel(n_jobs=jobs or 1, return_as="generator")
    out: list[Any] = []
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task(label, total=len(tasks))
        for result in runner(tasks):
            out.append(result)
            bar.advance(task)
    return out


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


def point_record(point: Mapping[str, Any], plan: Mapping[str, Any] | None, reason: str | None) -> dict[str, Any]:
    """One sweep row: the parameter values, status, costs, GPUs by type and the single-GPU-type baselines."""
    row: dict[str, Any] = dict(point)
    if plan is None:
        return row | {"status": "infeasible", "reason": reason, "cost_per_hour": None, "cost_per_month": None,
                      "cost_per_million_output_tokens": None, "gpus": None, "gpus_by_type": {}, "baselines": {}}
    s = summarize(plan)
    return row | {"status": s["status"], "reason": None, "cost_per_hour": s["cost_per_hour"], "cost_per_month": s["cost_per_month"],
                  "cost_per_million_output_tokens": s["cost_per_million_output_tokens"], "gpus": s["gpus"],
                  "gpus_by_type": s["gpus_by_type"],
                  "baselines": {b["gpu"]: b["cost_per_hour"] for b in plan.get("baselines", [])}}


@dataclass(frozen=True)
class Sweep:
    """The grid's parameter names and one record per point (see `point_record`)."""

    params: tuple[str, ...]
    records: tuple[dict[str, Any], ...]

    def to_frame(self) -> pd.DataFrame:
        """Flat table for CSV: nested GPUs-by-type and baselines become `gpus_<type>` and `baseline_<gpu>` columns."""
        rows = []
        for r in self.records:
            flat = {k: v for k, v in r.items() if k not in ("gpus_by_type", "baselines")}
            flat |= {f"gpus_{g}": n for g, n in r["gpus_by_type"].items()}
            flat |= {f"baseline_{g}": c for g, c in r["baselines"].items()}
            rows.append(flat)
        frame = pd.DataFrame(rows)
        gpu_cols = sorted(c for c in frame.columns if c.startswith("gpus_"))
        frame[gpu_cols] = frame[gpu_cols].fillna(0).astype(int)
        return frame


def sweep(workload: api.WorkloadInput, params: Mapping[str, Sequence[Any]], catalog_files: Sequence[str] = (),
          jobs: int = 1, progress: bool = False, overrides: Overrides | None = None, scenario: str | None = None) -> Sweep:
    """Solve every grid point (on top of `scenario` and `overrides`); infeasible points keep their reason."""
    if not params:
        raise WorkloadError("--param: give at least one parameter, e.g. --param slo.tpot_ms=20:100:10")
    loaded = api.load(workload, overrides, scenario)
    points = expand_grid(params)
    for point in points:
        api.load(loaded, point)  # bad paths and values fail before any solving
    files = tuple(str(f) for f in catalog_files)
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for point in points:  # points differing only in traffic rate share one capacity table
        fixed = {k: v for k, v in point.items() if k not in RATE_PATHS}
        groups.setdefault(json.dumps(fixed, sort_keys=True, default=str), (fixed, []))[1].append(point)
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
                     points: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[dict[str, Any] | None, str | None]]]:
    """Solve points that share `fixed` and differ in traffic rate: one capacity table, demand rescaled per point.

    Equal to separate solves (tests/test_whatif.py) because bucket shares and per-replica capacities do not
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
        table = replace(problem.table, buckets=demand.buckets)
        try:
            plan = api.plan_from_table(here, table, demand, catalog_files)
        except (InfeasibleError, SolverError) as exc:
            out.append((point, (None, str(exc))))
            continue
        out.append((point, (plan.to_dict(), None)))
    return out


@dataclass(frozen=True)
class Factor:
    """One sensitivity input varied low/high with the monthly cost at each end (None: infeasible)."""

    name: str
    path: str
    base_value: float
    low_value: float
    high_value: float
    low_cost: float | None
    high_cost: float | None
    low_reason: str | None = None
    high_reason: str | None = None

    @property
    def swing(self) -> float:
        costs = [c for c in (self.low_cost, self.high_cost) if c is not None]
        return max(costs) - min(costs) if len(costs) == 2 else math.inf


@dataclass(frozen=True)
class Sensitivity:
    """Base monthly cost and each factor's low/high costs, widest swing first (a tornado chart's order)."""

    delta: float
    base_cost_per_month: float
    factors: tuple[Factor, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "delta": self.delta, "base_cost_per_month": self.base_cost_per_month,
                "factors": [f.__dict__ | {"swing": None if math.isinf(f.swing) else f.swing} for f in self.factors]}


def sensitivity_inputs(problem: api.Problem) -> list[tuple[str, str, float]]:
    """(label, override path, base value) for each GPU price in scope, the traffic and each SLO."""
    w = problem.loaded.workload
    prices = {c.gpu: c.cost_per_hour / c.tp for c in problem.table.configs}
    out = [(f"{gpu} price $/GPU-h", f"pricing.overrides.{gpu}", usd) for gpu, usd in sorted(prices.items())]
    if w.traffic.target_rps is not None:
        out.append(("traffic (target req/s)", "traffic.target_rps", w.traffic.target_rps))
    else:
        out.append(("traffic (rate scale)", "traffic.rate_scale", w.traffic.rate_scale))
    out += [("TTFT SLO ms", "slo.ttft_ms", w.slo.ttft_ms), ("TPOT SLO ms", "slo.tpot_ms", w.slo.tpot_ms)]
    return out


def sensitivity(workload: api.WorkloadInput, delta: float = 0.2, catalog_files: Sequence[str] = (), jobs: int = 1,
                progress: bool = False, overrides: Overrides | None = None, scenario: str | None = None) -> Sensitivity:
    """Vary each GPU price, the traffic and each SLO by ±`delta` (a fraction) one at a time; monthly cost at each end."""
    if not (0 < delta < 1):
        raise WorkloadError(f"--delta: expected a percentage between 0 and 100 (exclusive), got {delta * 100:g}")
    loaded = api.load(workload, overrides, scenario)
    files = tuple(str(f) for f in catalog_files)
    problem = api.prepare(loaded, files, cached_catalog(files))
    base = api.plan_from_table(problem.loaded, problem.table, problem.demand, files)
    inputs = sensitivity_inputs(problem)
    ends = [(path, round(v * (1 - delta), 6)) for _, path, v in inputs] + [(path, round(v * (1 + delta), 6)) for _, path, v in inputs]
    results = run_parallel([delayed(solve_point)(loaded, files, {p: v}) for p, v in ends], jobs, progress, "sensitivity")
    n = len(inputs)
    factors = []
    for i, (label, path, value) in enumerate(inputs):
        (lo_plan, lo_why), (hi_plan, hi_why) = results[i], results[n + i]
        factors.append(Factor(label, path, value, ends[i][1], ends[n + i][1],
                              lo_plan["cost_per_month"] if lo_plan else None, hi_plan["cost_per_month"] if hi_plan else None,
                              lo_why, hi_why))
    factors.sort(key=lambda f: (-f.swing, f.name))
    return Sensitivity(delta, round(base.cost_per_month, 2), tuple(factors))  # rounded as in Plan.to_dict


def load_plan_json(path: str | Path) -> dict[str, Any]:
    """Read a saved plan for `diff`; unreadable or non-JSON files are input errors."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"{path}: cannot read plan: {exc}") from None
    except json.JSONDecodeError as exc:
        raise WorkloadError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
