"""The report as Markdown for wikis: the same sections as the HTML, plots as sibling PNG files when written to disk."""
from __future__ import annotations

from planner.report.html import report_plots
from planner.report.plan_text import headline, plan_tables
from planner.studies.report import ReportData
from planner.report.tables import md_table
from planner.report.whatif_text import sensitivity_rows, sweep_rows


def render_report_markdown(data: ReportData, image_prefix: str | None = None) -> tuple[str, dict[str, bytes]]:
    """Markdown text and the images it links (`{image_prefix}{name}.png` -> PNG bytes); no images without a prefix."""
    plan, tables = data.plan, plan_tables(data.plan)
    images = {f"{image_prefix}{k}.png": v for k, v in report_plots(data).items()} if image_prefix is not None else {}

    def figure(name: str, alt: str) -> list[str]:
        key = f"{image_prefix}{name}.png"
        return [f"![{alt}]({key})", ""] if key in images else []

    out = [f"# Capacity plan: {data.title}", "", f"_{plan.model}, generated {data.generated} by planner_", ""]
    out += [f"- **{k}**: {v}" for k, v in headline(plan)] + [""]
    models = (("Models", "models"),) if plan.models else ()
    for title, key in models + (("Pools", "pools"), ("Routing (bucket -> pool shares)", "routing"), ("Cost per 1M tokens", "tokens"),
                       ("Single-GPU-type fleets", "baselines")):
        out += [f"## {title}", "", md_table(tables[key].header, tables[key].rows)]
    out += ["## Cost vs SLO frontier", ""] + figure("frontier", "cost vs TPOT SLO") + [md_table(*sweep_rows(data.frontier))]
    out += ["## Cost vs traffic", ""] + figure("traffic", "cost vs traffic") + figure("composition", "fleet composition")
    out += [md_table(*sweep_rows(data.traffic))]
    out += ["## Sensitivity", ""] + figure("tornado", "tornado chart") + [md_table(*sensitivity_rows(data.sensitivity))]
    out += ["## Model accuracy", ""]
    if data.accuracy is None:
        out += ["No docs/accuracy.md found: the model's error bars are not stated here.", ""]
    else:
        out += [f"{data.accuracy.heading} (from {data.accuracy.path})", "", md_table(data.accuracy.header, data.accuracy.rows)]
    inputs = plan.inputs
    out += ["## Inputs", "", f"- workload: `{inputs.get('workload_file')}` sha256 `{inputs.get('workload_sha256')}`",
            f"- trace: `{inputs.get('trace_file')}` sha256 `{inputs.get('trace_sha256')}`",
            f"- scenario: {data.whatif.get('scenario')}; overrides: {', '.join(data.whatif.get('overrides', [])) or '-'}",
            "", "```yaml", data.workload_yaml.rstrip(), "```", ""]
    out += ["## Sources behind every price and spec", "",
            md_table(["what", "id", "value", "source", "date"], [[r["what"], r["id"], r["value"], r["source"], r["date"]] for r in data.sources])]
    out += [f"> note: {n}" for n in plan.notes]
    return "\n".join(out).rstrip() + "\n", images
