"""A plan's headline and tables, built once (planner.report.tables.TableData), rendered to the terminal
(rich), Markdown, CSV or JSON; the HTML report draws the same tables."""
from __future__ import annotations

from planner.demand.series import HOURS_PER_MONTH
from planner.plan.model import Plan, Pool
from planner.report.tables import TableData, md_table, money, ms, per_month, render_rich


def _engine(plan: Plan) -> str:
    """`vllm`, `trtllm 0.17`: the serving engine the plan's capacities were computed for (workload `engine:`)."""
    from planner.schemas.engines import PROFILES

    engine = plan.inputs.get("workload", {}).get("engine", {})
    kind = engine.get("kind", "vllm")
    return f"{kind} {engine.get('version') or PROFILES[kind].version}"


def _token_basis(plan: Plan) -> str:
    """Which rate "$ / 1M tokens" is quoted at (Plan.token_cost_basis), in words."""
    if plan.token_cost_basis == "mean":
        return f"(at the mean rate, {plan.design_rps * (plan.mean_over_design or 0.0):,.2f} req/s)"
    return "(at the design rate: the trace's mean is not kept for a p95 design rate)"


def headline(plan: Plan) -> list[tuple[str, str]]:
    """The numbers a planning meeting asks for first."""
    status = plan.status if plan.gap in (None, 0.0) else f"{plan.status} (gap {plan.gap:.2%})"
    slo = plan.slo
    rows = [
        ("status", f"{status} ({plan.solver}, {plan.runtime_s:.2f} s)"),
        ("model", f"{plan.model}, " + (f"{len(plan.models)} models on one fleet, SLOs in the Models table" if plan.models else
                                       f"p{slo.percentile:g} TTFT <= {slo.ttft_ms:g} ms, TPOT <= {slo.tpot_ms:g} ms")),
        ("engine", _engine(plan)),
        ("design rate", f"{plan.design_rps:,.2f} req/s ({plan.demand.method}), {plan.output_tokens_per_s:,.0f} output tok/s"),
        ("cost", f"{money(plan.cost_per_hour)}/hour, {money(plan.cost_per_month)}/month ({HOURS_PER_MONTH:g} h)"),
        *([("replay", plan.replay)] if plan.replay else []),
        ("per 1M output tokens", f"{money(plan.cost_per_million_output_tokens)} {_token_basis(plan)}"),
        ("GPUs", ", ".join(f"{n} x {g}" for g, n in plan.gpus_by_type.items())),
    ]
    if plan.instances:
        rows.append(("instances", ", ".join(f"{i.count} x {i.name} ({i.gpus_per_instance} x {i.gpu})" for i in plan.instances)))
    best = plan.cheapest_baseline
    if best is not None and plan.saving_vs_cheapest_single_type is not None:
        saving = plan.saving_vs_cheapest_single_type
        verdict = f"this plan saves {saving:.1%}" if saving >= 0 else f"this plan costs {-saving:.1%} more"
        rows.append(("vs single GPU type", f"cheapest is {best.gpu} at {money(best.cost_per_hour)}/hour: {verdict}"))
    if plan.simplest is not None:
        rows.append((plan.simplest.label, simplest_text(plan)))
    rows += [("rule", r.text) for r in plan.rules]
    floor = plan.floor
    if floor is not None:
        rows.append(("physical floor", f"{money(floor.cost_per_hour)}/hour ({floor.gpus:g} x {floor.gpu} at dense peak, "
                     f"{floor.binding}-bound): this plan is {floor.ratio:.1f}x"))
    if plan.disaggregation is not None:
        rows.append(("disaggregation", disaggregation_text(plan)))
    if plan.tiers is not None:
        rows += tier_rows(plan)
    return rows


def disaggregation_text(plan: Plan) -> str:
    """Which mode won and by how much: buckets sent through prefill + decode pairs, cost against co-located only."""
    d = plan.disaggregation
    assert d is not None
    split = [b for b in d.buckets if b.disaggregated_share > 0]
    used = f"{len(split)} of {len(d.buckets)} buckets through prefill + decode pools" if split else "no bucket disaggregated"
    if d.colocated_cost_per_hour is None:
        return f"{used}; no co-located fleet meets the SLO"
    saving = d.saving_per_hour or 0.0
    if not split:
        return f"{used} (co-located is cheaper or equal; engine.disaggregation: {d.mode})"
    return (f"{used}; co-located only would cost {money(d.colocated_cost_per_hour)}/hour "
            f"({saving / d.colocated_cost_per_hour:.1%} saved)")


def tier_rows(plan: Plan) -> list[tuple[str, str]]:
    """A plan over slots: the reserved baseline and the month's mix against one fleet all day."""
    t = plan.tiers
    assert t is not None
    reserved = ", ".join(f"{n} x {g}" for g, n in t.reserved_gpus.items()) or "none"
    rows = [("slots", f"{len(plan.slots)}, sized separately; pools below are the busiest slot's"),
            ("reserved baseline", f"{reserved} ({t.reserved_tier + ' GPUs, shared by every slot' if t.reserved_tier else 'no reserved tier asked for'})")]
    compare = [("all on demand at peak", t.all_on_demand_at_peak_per_month), ("all reserved", t.all_reserved_per_month)]
    parts = [f"{name} {money(v)}/month ({(t.mix_per_month - v) / v:+.1%})" for name, v in compare if v]
    rows.append(("mix vs one fleet all day", f"{money(t.mix_per_month)}/month; " + "; ".join(parts)))
    return rows


def simplest_text(plan: Plan) -> str:
    """The simplest plan beside the cheapest: what it is, what it costs, and what the extra pools buy."""
    alt = plan.simplest
    assert alt is not None
    pools = ", ".join(f"{n} x {key}" for key, n in alt.pools.items())
    extra = alt.cost_per_hour - plan.cost_per_hour
    count = len(alt.pools)
    return (f"{pools} ({count} pool{'s' if count > 1 else ''}) at {money(alt.cost_per_hour)}/hour: the {len(plan.pools)}-pool "
            f"plan saves {extra / alt.cost_per_hour:.1%} ({money(per_month(extra))}/month) against it")


def plan_tables(plan: Plan) -> dict[str, TableData]:
    """Pools, routing, single-GPU-type baselines and cost per token: the tables every rendering shows."""
    pct = f"p{plan.slo.percentile:g}"
    pools = [([p.spec.model] if plan.models else []) + [p.gpu if p.spec.role == "unified" else f"{p.gpu} ({p.spec.role})",
              _format_cell(p), str(p.tp),
              "-" if p.spec.chunk is None else str(p.spec.chunk), str(p.replicas), str(p.gpus),
              money(p.cost_per_hour), f"{p.utilization:.0%}", ms(p.ttft_ms), ms(p.tpot_ms), f"{p.bound}: {p.detail}"]
             for p in plan.pools]
    routing = [[r.bucket, f"{r.rate_rps:.3g}", ", ".join(f"{k} {s:.0%}" for k, s in r.shares.items())] for r in plan.routing]
    base = []
    for b in sorted(plan.baselines, key=lambda b: (b.cost_per_hour is None, b.cost_per_hour or 0, b.gpu)):
        if b.cost_per_hour is None:
            base.append([b.gpu, "infeasible", "-", "-", "-", b.reason or ""])
            continue
        extra = (b.cost_per_hour - plan.cost_per_hour) / plan.cost_per_hour if plan.cost_per_hour else 0.0
        base.append([b.gpu, money(b.cost_per_hour), money(per_month(b.cost_per_hour)), str(b.gpus), f"{extra:+.0%}", ""])
    mean = plan.mean_over_design
    tokens = [[f"at the design rate ({plan.design_rps:,.1f} req/s)", money(plan.cost_per_million_tokens("input", "design")),
               money(plan.cost_per_million_tokens("output", "design"))],
              [f"at the mean rate ({'-' if mean is None else f'{mean:.0%}'} of design: actual utilization)",
               money(plan.cost_per_million_tokens("input", "mean")), money(plan.cost_per_million_tokens("output", "mean"))]]
    slots = [[sl.label, f"{sl.hours_per_month:,.1f}", f"{sl.rate_rps:,.2f}", _counts(sl.reserved_gpus), _counts(sl.on_demand_gpus),
              _counts(sl.replicas), _counts(sl.spot), money(sl.cost_per_hour)] for sl in plan.slots]
    models = [[m.model, f"TTFT <= {m.ttft_ms:g} ms, TPOT <= {m.tpot_ms:g} ms", f"{m.peak_rps:,.2f}",
               f"{sum(m.replicas.values())} in {len(m.replicas)} pool{'s' if len(m.replicas) != 1 else ''}",
               _counts(m.gpus_by_type), money(m.cost_per_month)] for m in plan.models]
    pool_head = (["model"] if plan.models else []) + ["GPU", "quant", "TP", "chunk", "replicas", "GPUs", "$/h", "util", f"{pct} TTFT ms",
                                                      f"{pct} TPOT ms", "binding"]
    return {
        "models": TableData("Models (busiest slot; $/month of each model's replicas, idle reserved GPUs in none)",
                            ["model", "SLO", "req/s", "replicas", "GPUs", "$/month"], models, frozenset({0, 1, 4})),
        "slots": TableData("Fleet per slot", ["slot", "h/month", "req/s", "reserved GPUs", "on-demand GPUs", "replicas", "spot replicas", "$/h"],
                           slots, frozenset({0, 3, 4, 5, 6})),
        "pools": TableData("Pools", pool_head, pools, frozenset({0, 1, 2, 11} if plan.models else {0, 1, 10})),
        "routing": TableData("Routing (bucket -> pool shares)", ["bucket (tokens)", "req/s", "pools"], routing, frozenset({0, 2})),
        "baselines": TableData("Single-GPU-type fleets", ["GPU", "$/h", "$/month", "GPUs", "vs plan", "note"], base, frozenset({0, 5})),
        "tokens": TableData("Cost per 1M tokens", ["whole fleet charged to", "$/1M input tokens", "$/1M output tokens"], tokens),
    }


def _format_cell(pool: Pool) -> str:
    """`fp8`, `fp8 (kv fp8)`, and the draft model of a speculative pool: `fp8 + draft llama-3.2-1b k4`."""
    text = pool.quant if pool.kv_dtype == "fp16" else f"{pool.quant} (kv {pool.kv_dtype})"
    s = pool.spec.speculative
    return text if s is None else f"{text} + draft {s.draft} k{s.k}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} x {k}" for k, n in counts.items()) or "-"


def _shown(plan: Plan) -> tuple[str, ...]:
    """The tables a plan shows, in order (the slot table only for a plan over slots)."""
    return (("models",) if plan.models else ()) + (("slots",) if plan.slots else ()) + ("pools", "routing", "baselines")


def render_table(plan: Plan, color: bool = False, width: int | None = None) -> str:
    """The terminal view: headline, pools, routing, baselines, notes, at `width` columns (default: the terminal's)."""
    from rich.table import Table

    head = Table(show_header=False, box=None, title="Plan", title_justify="left")
    for key, value in headline(plan):
        head.add_row(key, value)
    tables = plan_tables(plan)
    items = [head] + [tables[k] for k in _shown(plan)] + [f"note: {n}" for n in plan.notes]
    return render_rich(items, width, color)


def render_markdown(plan: Plan) -> str:
    tables = plan_tables(plan)
    lines = ["# Plan", ""] + [f"- **{k}**: {v}" for k, v in headline(plan)]
    for key in _shown(plan):
        t = tables[key]
        lines += ["", f"## {t.title}", "", md_table(t.header, t.rows).rstrip("\n")]
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
