"""What-if results as terminal tables, Markdown, CSV and JSON: comparisons (Infracost-style deltas), sweeps, sensitivity."""
from __future__ import annotations

import json
from typing import Any

from planner.io.files import jsonable as _jsonable
from planner.report.tables import TableData, md_table, render_rich
from planner.report.tables import money as _money
from planner.report.tables import ms as _ms
from planner.studies.compare import Column, Comparison, CostChange
from planner.studies.sensitivity import Sensitivity
from planner.studies.sweep import Sweep


def format_change(change: CostChange | None) -> str:
    """`+$12,300/month (+18 %)`, Infracost-style; `-` when either side has no plan."""
    if change is None:
        return "-"
    pct = "" if change.fraction is None else f" ({change.fraction * 100:+.0f} %)"
    return f"{signed_money(change.usd_per_month)}/month{pct}"


def render_diff(comp: Comparison, fmt: str) -> str:
    """`planner diff` in Infracost's shape: a `+`/`-`/`~` line per changed pool with its $/month, the total
    monthly change, then the two plans' summaries side by side (`md`: the same as Markdown; `json`: data)."""
    if fmt == "json":
        return json.dumps(_jsonable(comp.to_dict()), indent=2) + "\n"
    old, new = comp.columns
    change = comp.changes()[1]
    lines = [f"Plan diff: {old.name} -> {new.name}", ""]
    width = max([len(p.key) for p in comp.pools] + [10])
    for p in comp.pools:
        n, g = p.new_replicas - p.old_replicas, p.new_gpus - p.old_gpus
        gpus = f"({g:+d} GPU{'s' if abs(g) > 1 else ''})"
        if p.action == "~":
            what = f"{p.old_replicas} -> {p.new_replicas} replicas {gpus}"
        else:
            what = f"{n:+d} replica{'s' if abs(n) > 1 else ''} {gpus}"
        lines.append(f"{p.action} {p.key:<{width}}  {what:<28} {signed_money(p.usd_per_month):>13}/month")
    if not comp.pools:
        lines.append("  no pool changed")
    counts = {a: sum(p.action == a for p in comp.pools) for a in "+-~"}
    lines += ["", f"Monthly cost change: {format_change(change)}" + (
        f", from {_money(old.summary['cost_per_month'])} to {_money(new.summary['cost_per_month'])}" if change else ""),
        f"{len(comp.pools)} pools changed: {counts['+']} added, {counts['-']} removed, {counts['~']} resized", ""]
    renamed = Comparison((Column("old", old.summary, old.reason), Column("new", new.summary, new.reason)))
    header, rows = comparison_table(renamed)
    if fmt == "md":
        return "\n".join(f"    {ln}" if ln else "" for ln in lines) + "\n" + md_table(header, rows)
    return "\n".join(lines) + "\n" + _rich(header, rows, title="Summary (old = first plan, new = second)")


def signed_money(usd: float) -> str:
    """`+$1,234` / `-$1,234` / `$0`: the sign always in front of the dollar."""
    if round(usd) == 0:
        return "$0"
    return f"{'+' if usd > 0 else '-'}${abs(usd):,.0f}"


def short_reason(reason: str | None) -> str:
    """The line of an infeasibility message that says which bucket and SLO fail (else its first line)."""
    lines = (reason or "-").splitlines()
    return next((ln[2:] for ln in lines if ln.startswith("- ")), lines[0])


def _gpus(by_type: dict[str, int]) -> str:
    return ", ".join(f"{n} x {g}" for g, n in by_type.items()) or "-"


COMPARISON_ROWS = ("status", "$/hour", "$/month", "$/1M output tokens", "$/1M input tokens", "GPUs", "GPUs by type",
                   "fleet shape", "p99 TTFT ms (worst pool)", "p99 TPOT ms (worst pool)", "vs first")


def fleet_shape(s: dict[str, Any]) -> str:
    """Pools, the simplest plan's cost when there is one, instances, slots and the reserved baseline, in brief."""
    parts = [f"{s.get('pools', 0)} pool{'s' if s.get('pools', 0) != 1 else ''}"]
    if s.get("simplest_cost_per_month") is not None:
        parts.append(f"simplest {_money(s['simplest_cost_per_month'])}/month")
    if s.get("instances"):
        parts.append(", ".join(f"{n} x {k}" for k, n in s["instances"].items()))
    if s.get("slots"):
        parts.append(f"{s['slots']} slots, {sum(s.get('reserved', {}).values())} reserved GPUs")
    if s.get("models"):
        parts.append(", ".join(f"{m} {_money(v)}/month" for m, v in s["models"].items()))
    return "; ".join(parts)


def comparison_cells(comp: Comparison) -> list[list[str]]:
    """One list of cells per column of the comparison, in COMPARISON_ROWS order."""
    out = []
    for col, change in zip(comp.columns, comp.changes()):
        s = col.summary
        if s is None:
            out.append(["infeasible"] + ["-"] * (len(COMPARISON_ROWS) - 2) + [short_reason(col.reason)])
            continue
        out.append([str(s["status"]), _money(s["cost_per_hour"]), _money(s["cost_per_month"]),
                    _money(s["cost_per_million_output_tokens"]), _money(s["cost_per_million_input_tokens"]), str(s["gpus"]),
                    _gpus(s["gpus_by_type"]), fleet_shape(s), _ms(s["ttft_ms"]), _ms(s["tpot_ms"]), format_change(change)])
    return out


def render_comparison(comp: Comparison, fmt: str) -> str:
    """Rows are metrics, columns are scenarios; the last row is each column's cost change against the first."""
    if fmt == "json":
        return json.dumps(_jsonable(comp.to_dict()), indent=2) + "\n"
    header, rows = comparison_table(comp)
    if fmt == "md":
        return md_table(header, rows)
    return _rich(header, rows, title=f"What-if: {', '.join(header[1:])} (changes vs {header[1]})")


def comparison_table(comp: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header (blank + scenario names) and one row per metric."""
    cells = comparison_cells(comp)
    return ["", *(c.name for c in comp.columns)], [[label] + [col[i] for col in cells] for i, label in enumerate(COMPARISON_ROWS)]


def _rich(header: list[str], rows: list[list[str]], title: str = "", left: frozenset[int] = frozenset({0})) -> str:
    """A titled table fitted to the terminal (planner.report.tables.render_rich); `left`: the text columns."""
    return render_rich([TableData(title, header, rows, left)]).removesuffix("\n")


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ",".join(map(str, v)) + "]"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "-" if v is None else str(v)


def sweep_rows(result: Sweep) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a sweep for tables: parameters, status, costs, GPUs by type (reason when infeasible)."""
    header = [*result.params, "status", "$/hour", "$/month", "$/1M out", "GPUs by type"]
    rows = []
    for r in result.records:
        tail = _gpus(r["gpus_by_type"]) if r["status"] != "infeasible" else short_reason(r["reason"])
        rows.append([_value(r[p]) for p in result.params] + [
            r["status"], _money(r["cost_per_hour"]), _money(r["cost_per_month"]), _money(r["cost_per_million_output_tokens"]), tail])
    return header, rows


def render_sweep(result: Sweep, fmt: str) -> str:
    """table, md, csv (flat, one column per GPU type and baseline) or json (one object per grid point)."""
    if fmt == "json":
        return json.dumps(_jsonable(list(result.records)), indent=2) + "\n"
    if fmt == "csv":
        return result.to_frame().to_csv(index=False)
    header, rows = sweep_rows(result)
    if fmt == "md":
        return md_table(header, rows)
    return _rich(header, rows, title=f"Sweep over {', '.join(result.params)}", left=frozenset({0, len(header) - 1}))


def sensitivity_rows(sens: Sensitivity) -> tuple[list[str], list[list[str]]]:
    pct = f"{sens.delta:.0%}"
    header = ["input", "base", f"-{pct}: $/month", f"+{pct}: $/month", "swing $/month"]
    rows = []
    for f in sens.factors:
        swing = "-" if f.swing == float("inf") else _money(f.swing)
        rows.append([f.name, f"{f.base_value:,.4g}", _money(f.low_cost) if f.low_cost is not None else "infeasible",
                     _money(f.high_cost) if f.high_cost is not None else "infeasible", swing])
    return header, rows


def render_sensitivity(sens: Sensitivity, fmt: str) -> str:
    """Each input's low/high monthly cost around the base, widest swing first."""
    if fmt == "json":
        return json.dumps(_jsonable(sens.to_dict()), indent=2) + "\n"
    header, rows = sensitivity_rows(sens)
    if fmt == "csv":
        import pandas as pd

        return pd.DataFrame(_jsonable(sens.to_dict())["factors"]).to_csv(index=False)
    title = f"Sensitivity of the monthly cost ({_money(sens.base_cost_per_month)} at base) to ±{sens.delta:.0%}"
    if fmt == "md":
        return f"{title}\n\n" + md_table(header, rows)
    return _rich(header, rows, title=title)
