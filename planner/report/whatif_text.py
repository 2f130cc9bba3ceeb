"""What-if results as terminal tables, Markdown, CSV and JSON: comparisons (Infracost-style deltas), sweeps, sensitivity."""
from __future__ import annotations

import io
import json
from typing import Any

from planner.io.files import jsonable as _jsonable
from planner.report.tables import md_table
from planner.report.tables import money as _money
from planner.report.tables import ms as _ms
from planner.studies.compare import Comparison, CostChange
from planner.studies.sensitivity import Sensitivity
from planner.studies.sweep import Sweep


def format_change(change: CostChange | None) -> str:
    """`+$12,300/month (+18 %)`, Infracost-style; `-` when either side has no plan."""
    if change is None:
        return "-"
    sign = "+" if change.usd_per_month >= 0 else "-"
    pct = "" if change.fraction is None else f" ({change.fraction * 100:+.0f} %)"
    return f"{sign}${abs(change.usd_per_month):,.0f}/month{pct}"


def short_reason(reason: str | None) -> str:
    """The line of an infeasibility message that says which bucket and SLO fail (else its first line)."""
    lines = (reason or "-").splitlines()
    return next((ln[2:] for ln in lines if ln.startswith("- ")), lines[0])


def _gpus(by_type: dict[str, int]) -> str:
    return ", ".join(f"{n} x {g}" for g, n in by_type.items()) or "-"


COMPARISON_ROWS = ("status", "$/hour", "$/month", "$/1M output tokens", "$/1M input tokens", "GPUs", "GPUs by type",
                   "p99 TTFT ms (worst pool)", "p99 TPOT ms (worst pool)", "vs first")


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
                    _gpus(s["gpus_by_type"]), _ms(s["ttft_ms_p99"]), _ms(s["tpot_ms_p99"]), format_change(change)])
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


def _rich(header: list[str], rows: list[list[str]], title: str = "") -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    buf = io.StringIO()
    Console(file=buf, width=160, no_color=True, highlight=False).print(table)
    return buf.getvalue()


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
    return _rich(header, rows, title=f"Sweep over {', '.join(result.params)}")


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
