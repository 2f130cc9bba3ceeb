"""What-if plots as PNG bytes (matplotlib's Agg canvas, no pyplot state): cost curves, fleet mix, tornado.

Pure: data in, bytes out; callers embed them (HTML report) or write them (`planner sweep --plots DIR`).
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planner.demand.series import HOURS_PER_MONTH
from planner.plan.model import Plan
from planner.studies.sensitivity import Sensitivity
from planner.studies.sweep import Sweep

_DOLLARS = FuncFormatter(lambda v, _: f"${v:,.0f}")
_PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _label(v: Any) -> str:
    return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, list) else str(v)


def _groups(sweep: Sweep, x: str) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by the values of every parameter except `x` (one line each), sorted by x."""
    others = [p for p in sweep.params if p != x]
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sweep.records:
        key = ", ".join(f"{p}={_label(r[p])}" for p in others) or "all allowed GPUs"
        out.setdefault(key, []).append(r)
    return {k: sorted(v, key=lambda r: r[x]) for k, v in out.items()}


def cost_curve_png(sweep: Sweep, x: str, xlabel: str | None = None, title: str | None = None) -> bytes:
    """Monthly cost against parameter `x`: one line per combination of the other parameters.

    With a single line, the cheapest single-GPU-type fleets are drawn dashed beside it (one per allowed GPU),
    so the plan's line is the Pareto frontier over allowed-GPU sets. Infeasible points leave gaps.
    """
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    groups = _groups(sweep, x)
    top = 0.0
    for i, (name, rows) in enumerate(groups.items()):
        ys = [r["cost_per_month"] if r["cost_per_month"] is not None else math.nan for r in rows]
        top = max([top, *(y for y in ys if not math.isnan(y))])
        ax.plot([r[x] for r in rows], ys, marker="o", lw=2.2, color=_PALETTE[i % len(_PALETTE)], label=name, zorder=3)
    if len(groups) == 1:
        rows = next(iter(groups.values()))
        gpus = sorted({g for r in rows for g in r["baselines"]})
        for j, gpu in enumerate(gpus):
            ys = [r["baselines"].get(gpu) for r in rows]
            ys = [c * HOURS_PER_MONTH if c is not None else math.nan for c in ys]
            if not all(math.isnan(y) for y in ys):
                ax.plot([r[x] for r in rows], ys, ls="--", lw=1, marker=".", color=_PALETTE[(j + 1) % len(_PALETTE)],
                        label=f"only {gpu}", alpha=0.8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(r"\$ / month")
    ax.yaxis.set_major_formatter(_DOLLARS)
    if top > 0:  # keep the plan's line readable; far costlier single-type fleets run off the top
        ax.set_ylim(0, top * 2.5)
    else:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"Monthly cost vs {x}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def composition_png(sweep: Sweep, x: str | None = None, title: str = "Fleet composition") -> bytes:
    """GPUs by type at each grid point (stacked bars); infeasible points are marked with a cross."""
    x = x or sweep.params[0]
    rows = sweep.records if len(sweep.params) > 1 else sorted(sweep.records, key=lambda r: r[x])
    labels = [", ".join(_label(r[p]) for p in sweep.params) for r in rows]
    gpus = sorted({g for r in rows for g in r["gpus_by_type"]})
    fig = Figure(figsize=(max(6.0, 0.45 * len(rows) + 2), 4.0))
    ax = fig.add_subplot()
    bottom = [0] * len(rows)
    for i, gpu in enumerate(gpus):
        counts = [r["gpus_by_type"].get(gpu, 0) for r in rows]
        ax.bar(range(len(rows)), counts, bottom=bottom, label=gpu, color=_PALETTE[i % len(_PALETTE)])
        bottom = [b + c for b, c in zip(bottom, counts)]
    for i, r in enumerate(rows):
        if r["status"] == "infeasible":
            ax.plot(i, 0, marker="x", color="#C44E52", ms=9, mew=2)
    ax.set_xticks(range(len(rows)), labels, rotation=45 if len(rows) > 8 else 0, ha="right" if len(rows) > 8 else "center", fontsize=8)
    ax.set_xlabel(", ".join(sweep.params))
    ax.set_ylabel("GPUs")
    ax.set_title(title + (" (x = infeasible)" if any(r["status"] == "infeasible" for r in rows) else ""))
    ax.grid(axis="y", alpha=0.3)
    if gpus:
        ax.legend(fontsize=8)
    return _png(fig)


def slots_png(plan: Plan, title: str = "Fleet per slot by GPU type and tier") -> bytes:
    """GPUs in each time slot, stacked by (GPU type, tier): reserved solid, on-demand lighter, spot hatched."""
    slots = plan.slots
    gpus = sorted({g for sl in slots for by in sl.gpus_by_tier.values() for g in by})
    style = {"reserved": (1.0, ""), "on-demand": (0.55, ""), "spot": (0.35, "//")}
    fig = Figure(figsize=(max(6.0, 0.4 * len(slots) + 2), 4.0))
    ax = fig.add_subplot()
    bottom = [0] * len(slots)
    for i, gpu in enumerate(gpus):
        for tier, (alpha, hatch) in style.items():
            counts = [sl.gpus_by_tier.get(tier, {}).get(gpu, 0) for sl in slots]
            if not any(counts):
                continue
            ax.bar(range(len(slots)), counts, bottom=bottom, label=f"{gpu} {tier}", color=_PALETTE[i % len(_PALETTE)],
                   alpha=alpha, hatch=hatch, edgecolor="#333" if hatch else None)
            bottom = [b + c for b, c in zip(bottom, counts)]
    ax.set_xticks(range(len(slots)), [sl.label for sl in slots], rotation=45 if len(slots) > 8 else 0,
                  ha="right" if len(slots) > 8 else "center", fontsize=8)
    ax.set_ylabel("GPUs")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if gpus:
        ax.legend(fontsize=8)
    return _png(fig)


def tornado_png(sens: Sensitivity, top: int | None = 12) -> bytes:
    """Monthly cost at -delta (blue) and +delta (orange) of each input around the base, widest swing on top."""
    factors: Sequence[Any] = sens.factors[:top] if top else sens.factors
    base = sens.base_cost_per_month
    fig = Figure(figsize=(7.5, 0.42 * len(factors) + 1.4))
    ax = fig.add_subplot()
    pct = f"{sens.delta:.0%}"
    for i, f in enumerate(reversed(factors)):
        for cost, color, name in ((f.low_cost, "#4C72B0", f"-{pct}"), (f.high_cost, "#DD8452", f"+{pct}")):
            if cost is None:
                ax.text(base, i, f"  {name}: infeasible", va="center", fontsize=8, color="#C44E52")
                continue
            ax.barh(i, cost - base, left=base, color=color, height=0.6, label=name if i == 0 else None)
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(factors)), [f.name for f in reversed(factors)], fontsize=8)
    ax.xaxis.set_major_formatter(_DOLLARS)
    ax.set_xlabel(rf"\$ / month (base \${base:,.0f})")
    ax.set_title(f"Sensitivity: each input ±{pct}, one at a time")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)
