"""A plan as a terminal table (rich), Markdown, CSV or JSON."""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from planner.plan import Plan


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def headline(plan: Plan) -> list[tuple[str, str]]:
    """The numbers a planning meeting asks for first."""
    status = plan.status if plan.gap in (None, 0.0) else f"{plan.status} (gap {plan.gap:.2%})"
    rows = [
        ("status", f"{status} ({plan.solver}, {plan.runtime_s:.2f} s)"),
        ("model", f"{plan.model}, p{plan.slo['percentile']:g} TTFT <= {plan.slo['ttft_ms']:g} ms, TPOT <= {plan.slo['tpot_ms']:g} ms"),
        ("design rate", f"{plan.design_rps:,.2f} req/s ({plan.demand['method']}), {plan.output_tokens_per_s:,.0f} output tok/s"),
        ("cost", f"{_money(plan.cost_per_hour)}/hour, {_money(plan.cost_per_month)}/month (730 h)"),
        ("per 1M output tokens", _money(plan.cost_per_million_output_tokens)),
        ("GPUs", ", ".join(f"{n} x {g}" for g, n in plan.gpus_by_type.items())),
    ]
    best = plan.cheapest_baseline
    if best is not None and plan.saving_vs_single_type is not None:
        rows.append(("vs single GPU type", f"cheapest is {best.gpu} at {_money(best.cost_per_hour)}/hour: "
                     f"this plan saves {plan.saving_vs_single_type:.1%}"))
    return rows


def _tables(plan: Plan) -> list[Table]:
    head = Table(show_header=False, box=None, title="Plan", title_justify="left")
    for key, value in headline(plan):
        head.add_row(key, value)
    pools = Table(title="Pools", title_justify="left")
    for col in ("GPU", "quant", "TP", "replicas", "GPUs", "$/h", "util", "p99 TTFT ms", "p99 TPOT ms", "binding"):
        pools.add_column(col, justify="right" if col not in ("GPU", "quant", "binding") else "left")
    for p in plan.pools:
        quant = p.quant if p.kv_dtype == "fp16" else f"{p.quant} (kv {p.kv_dtype})"
        pools.add_row(p.gpu, quant, str(p.tp), str(p.replicas), str(p.gpus), _money(p.cost_per_hour),
                      f"{p.utilization:.0%}", _ms(p.ttft_ms_p99), _ms(p.tpot_ms_p99), f"{p.bound}: {p.detail}")
    routing = Table(title="Routing (bucket -> pool shares)", title_justify="left")
    for col in ("bucket (tokens)", "req/s", "pools"):
        routing.add_column(col, justify="right" if col == "req/s" else "left")
    for r in plan.routing:
        routing.add_row(r.bucket, f"{r.rate_rps:.3g}", ", ".join(f"{k} {s:.0%}" for k, s in r.shares.items()))
    base = Table(title="Single-GPU-type fleets", title_justify="left")
    for col in ("GPU", "$/h", "$/month", "GPUs", "vs plan", "note"):
        base.add_column(col, justify="left" if col in ("GPU", "note") else "right")
    for b in sorted(plan.baselines, key=lambda b: (b.cost_per_hour is None, b.cost_per_hour or 0, b.gpu)):
        if b.cost_per_hour is None:
            base.add_row(b.gpu, "infeasible", "-", "-", "-", b.reason or "")
        else:
            extra = (b.cost_per_hour - plan.cost_per_hour) / plan.cost_per_hour if plan.cost_per_hour else 0.0
            base.add_row(b.gpu, _money(b.cost_per_hour), _money(b.cost_per_hour * 730), str(b.gpus), f"+{extra:.0%}", "")
    return [head, pools, routing, base]


def render_table(plan: Plan, color: bool = False, width: int = 140) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color, highlight=False)
    for table in _tables(plan):
        console.print(table)
        console.print()
    for note in plan.notes:
        console.print(f"note: {note}")
    return buf.getvalue()


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (cells with `|` escaped), ending in a newline."""
    return "\n".join([_md_row(header), _md_row(["---"] * len(header))] + [_md_row(r) for r in rows]) + "\n"


def render_markdown(plan: Plan) -> str:
    pools = md_table(["GPU", "quant", "TP", "replicas", "GPUs", "$/h", "util", "p99 TTFT ms", "p99 TPOT ms", "binding"], [
        [p.gpu, p.quant, str(p.tp), str(p.replicas), str(p.gpus), _money(p.cost_per_hour), f"{p.utilization:.0%}",
         _ms(p.ttft_ms_p99), _ms(p.tpot_ms_p99), f"{p.bound}: {p.detail}"] for p in plan.pools])
    routing = md_table(["bucket (tokens)", "req/s", "pools"], [
        [r.bucket, f"{r.rate_rps:.3g}", ", ".join(f"{k} {s:.0%}" for k, s in r.shares.items())] for r in plan.routing])
    baselines = md_table(["GPU", "$/h", "GPUs", "note"], [
        [b.gpu, _money(b.cost_per_hour), "-" if b.gpus is None else str(b.gpus), b.reason or ""] for b in plan.baselines])
    lines = ["# Plan", ""] + [f"- **{k}**: {v}" for k, v in headline(plan)]
    for title, table in (("Pools", pools), ("Routing", routing), ("Single-GPU-type fleets", baselines)):
        lines += ["", f"## {title}", "", table.rstrip("\n")]
    lines += [""] + [f"> note: {n}" for n in plan.notes]
    return "\n".join(lines).rstrip() + "\n"


def render_plan(plan: Plan, fmt: str, color: bool = False) -> str:
    """Render in one of: table, json, csv, md."""
    if fmt == "json":
        return plan.to_json()
    if fmt == "csv":
        return plan.to_frame().to_csv(index=False)
    if fmt == "md":
        return render_markdown(plan)
    return render_table(plan, color=color)
