"""Self-contained HTML: the report (plots as base64 PNG, inline CSS, no external resource) and comparison pages."""
from __future__ import annotations

import base64
from html import escape
from typing import Any

from planner.demand.series import HOURS_PER_MONTH
from planner.plan.model import Plan
from planner.report.plan_text import headline, plan_tables
from planner.report.plots import composition_png, cost_curve_png, slots_png, tornado_png
from planner.studies.report import ReportData
from planner.report.tables import html_table, money
from planner.report.whatif_text import comparison_table, sensitivity_rows, sweep_rows
from planner.studies.compare import Comparison

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1180px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #4C72B0;padding-bottom:.2rem;margin-top:2.2rem}
.sub{color:#666;margin-top:0} .cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{background:#f4f6fa;border-radius:8px;padding:.7rem 1rem;min-width:150px}
.card b{display:block;font-size:1.45rem;color:#1d3b6f} .card span{color:#555;font-size:.85rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem} th,td{border:1px solid #d5d9e0;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f6} td.n{text-align:right;font-variant-numeric:tabular-nums} tr:nth-child(even) td{background:#fafbfc}
img{max-width:100%;border:1px solid #e3e6eb;border-radius:4px;margin:.4rem 0} pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.8rem}
.note{color:#555;font-size:.85rem} .grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
"""


_table = html_table


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")


def _cards(plan: Plan) -> str:
    per_in = plan.cost_per_million_tokens("input")
    cards = [(money(plan.cost_per_month), f"per month ({HOURS_PER_MONTH:g} h)"), (money(plan.cost_per_hour), "per hour"),
             (money(plan.cost_per_million_output_tokens), "per 1M output tokens"), (money(per_in), "per 1M input tokens"),
             (str(sum(plan.gpus_by_type.values())), "GPUs: " + ", ".join(f"{n} x {g}" for g, n in plan.gpus_by_type.items()))]
    if plan.saving_vs_cheapest_single_type is not None:
        saving = plan.saving_vs_cheapest_single_type
        cards.append((f"{abs(saving):.1%}", "saved vs cheapest single-GPU-type fleet" if saving >= 0
                      else "more than the cheapest single-GPU-type fleet"))
    return "<div class=cards>" + "".join(f"<div class=card><b>{escape(v)}</b><span>{escape(t)}</span></div>" for v, t in cards) + "</div>"


def report_plots(data: ReportData) -> dict[str, bytes]:
    """The report's figures as PNG bytes, by file stem."""
    tpot = f"p{data.plan.slo.percentile:g} TPOT SLO (ms)"
    traffic_x = data.traffic.params[0]
    return {
        "frontier": cost_curve_png(data.frontier, "slo.tpot_ms", tpot, "Cost vs TPOT SLO: Pareto frontier by allowed-GPU set"),
        "traffic": cost_curve_png(data.traffic, traffic_x, traffic_x, "Cost vs traffic"),
        "composition": composition_png(data.traffic, traffic_x, "Fleet composition vs traffic"),
        "tornado": tornado_png(data.sensitivity),
    }


def render_report_html(data: ReportData) -> str:
    """The whole report as one HTML page a browser opens offline."""
    plan, plots, tables = data.plan, report_plots(data), plan_tables(data.plan)
    inputs = plan.inputs
    parts = [f"<h1>Capacity plan: {escape(data.title)}</h1>",
             f"<p class=sub>{escape(plan.model)} &middot; generated {data.generated} by planner &middot; status {escape(plan.status)}</p>",
             _cards(plan), "<ul>" + "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in headline(plan)) + "</ul>",
             *_slots_html(plan, tables),
             "<h2>Pools</h2>", _table(tables["pools"].header, tables["pools"].rows), "<h2>Routing (bucket &rarr; pool shares)</h2>", _table(tables["routing"].header, tables["routing"].rows),
             "<h2>Cost per 1M tokens</h2>", _table(tables["tokens"].header, tables["tokens"].rows),
             "<p class=note>Each figure charges the whole fleet to one token kind, so input and output figures do not add up; "
             "set them beside an API's input or output price.</p>",
             "<h2>Single-GPU-type fleets</h2>", _table(tables["baselines"].header, tables["baselines"].rows),
             "<h2>Cost vs SLO frontier</h2>", _img(plots["frontier"], "cost vs TPOT SLO"), _table(*sweep_rows(data.frontier)),
             "<h2>Cost vs traffic</h2><div class=grid>", _img(plots["traffic"], "cost vs traffic"),
             _img(plots["composition"], "fleet composition"), "</div>", _table(*sweep_rows(data.traffic)),
             "<h2>Sensitivity</h2>", _img(plots["tornado"], "tornado chart"), _table(*sensitivity_rows(data.sensitivity))]
    parts += _accuracy_html(data)
    parts += ["<h2>Inputs</h2>", _table(["input", "value"], _input_rows(inputs, data.whatif)),
              f"<pre>{escape(data.workload_yaml)}</pre>",
              "<h2>Sources behind every price and spec</h2>", _table(["what", "id", "value", "source", "date"],
                                                                     [[r["what"], r["id"], r["value"], r["source"], r["date"]] for r in data.sources])]
    if plan.notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{escape(n)}</li>" for n in plan.notes] + ["</ul>"]
    return _page(f"Capacity plan: {data.title}", "\n".join(parts))


def _slots_html(plan: Plan, tables: dict) -> list[str]:
    """Several models: their table; a plan over time slots: the stacked chart by GPU type and tier, and the slot table."""
    models = ["<h2>Models</h2>", _table(tables["models"].header, tables["models"].rows)] if plan.models else []
    if not plan.slots:
        return models
    return models + ["<h2>Fleet per slot</h2>", _img(slots_png(plan), "fleet per slot by GPU type and tier"),
            _table(tables["slots"].header, tables["slots"].rows)]


def _accuracy_html(data: ReportData) -> list[str]:
    if data.accuracy is None:
        return ["<h2>Model accuracy</h2><p class=note>No docs/accuracy.md found: the model's error bars are not stated here.</p>"]
    a = data.accuracy
    return [f"<h2>Model accuracy</h2><p class=note>{escape(a.heading)} (from {escape(a.path)})</p>", _table(a.header, a.rows)]


def _input_rows(inputs: dict[str, Any], whatif: dict[str, Any]) -> list[list[str]]:
    rows = [[k, "-" if inputs.get(k) is None else str(inputs[k])] for k in ("workload_file", "workload_sha256", "trace_file", "trace_sha256", "capacity_source")]
    rows += [[f"catalog {p}", h] for p, h in inputs.get("catalog_sha256", {}).items()]
    rows += [["scenario", whatif.get("scenario") or "-"], ["overrides", ", ".join(whatif.get("overrides", [])) or "-"]]
    return rows


def render_comparison_html(comp: Comparison, title: str = "What-if comparison") -> str:
    """A comparison (scenarios or saved plans) as a small self-contained page."""
    return _page(title, f"<h1>{escape(title)}</h1>" + _table(*comparison_table(comp)))
