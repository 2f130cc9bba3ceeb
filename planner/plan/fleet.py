"""A workload's fleet settings as optimizer numbers (instance types, rules, watts per replica), and the rule
effects and simpler alternatives of a solved fleet said in words (docs/fleet.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.demand.series import HOURS_PER_MONTH
from planner.io.catalog import Catalog
from planner.io.workload import LoadedWorkload
from planner.optimize.fleet import FleetOutcome
from planner.optimize.problem import FleetProblem, FleetRules, Shape
from planner.optimize.tradeoffs import RuleEffect
from planner.schemas.plan import AlternativeDoc, InstanceDoc, RuleDoc
from planner.supply.prices import PriceBook
from planner.supply.table import CapacityTable


@dataclass(frozen=True)
class FleetSetup:
    """What the optimizer needs beyond the capacity table: how GPUs are bought and the rules the fleet obeys."""

    shapes: tuple[Shape, ...] = ()
    rules: FleetRules = FleetRules()
    watts: np.ndarray | None = None
    cross_instance_tp: bool = False
    simplest_within: float | None = None


def fleet_setup(loaded: LoadedWorkload, catalog: Catalog | None, table: CapacityTable) -> FleetSetup:
    """The workload's instance types and fleet rules for the table's configs (`catalog` may be None only when the
    workload needs none of it: per-GPU prices and no power cap)."""
    w = loaded.workload
    fleet = w.fleet
    gpus = sorted({c.gpu for c in table.configs})
    shapes: tuple[Shape, ...] = ()
    watts = None
    if catalog is not None:
        book = PriceBook(catalog, w.pricing)
        shapes = tuple(Shape(o.name, o.gpu, o.gpus, o.usd_per_hour) for gpu in gpus for o in book.instances(gpu))
        if fleet.power is not None:
            tdp = {gpu: catalog.gpu(gpu).tdp_w for gpu in gpus}
            watts = np.array([c.tp * tdp[c.gpu] * fleet.power.overhead for c in table.configs], dtype=float)
    names = {s.name for s in shapes}
    rules = FleetRules(
        max_pools=fleet.max_pools, pool_overhead_per_hour=fleet.pool_overhead_per_hour, min_replicas=fleet.min_replicas,
        redundancy=fleet.redundancy == "n+1",
        gpu_caps={k: v for k, v in fleet.limits.items() if k not in names},
        instance_caps={k: v for k, v in fleet.limits.items() if k in names},
        budget_per_hour=None if fleet.budget_per_month is None else fleet.budget_per_month / HOURS_PER_MONTH,
        power_w=None if fleet.power is None else fleet.power.max_kw * 1000.0,
    )
    return FleetSetup(shapes, rules, watts, w.pricing.cross_instance_tp, fleet.simplest_within)


def needs_catalog(loaded: LoadedWorkload) -> bool:
    """Whether fleet_setup must read the catalog (instance types or TDPs)."""
    w = loaded.workload
    return w.pricing.unit == "instance" or w.fleet.power is not None


def instance_docs(problem: FleetProblem, outcome: FleetOutcome) -> list[InstanceDoc]:
    assert outcome.solution is not None
    shapes = {s.name: s for s in problem.shapes}
    return [InstanceDoc(name=name, gpu=shapes[name].gpu, count=m, gpus_per_instance=shapes[name].gpus, usd_per_hour=shapes[name].usd_per_hour)
            for name, m in sorted(outcome.solution.instances.items())]


def alternative(label: str, outcome: FleetOutcome) -> AlternativeDoc:
    """A solved fleet as a record shown beside the plan."""
    assert outcome.solution is not None and outcome.cost_per_hour is not None
    sol = outcome.solution
    return AlternativeDoc(label=label, cost_per_hour=outcome.cost_per_hour, pools={s.key: n for s, n in sorted(sol.replicas.items(), key=lambda kv: kv[0].key)},
                          instances=dict(sorted(sol.instances.items())), gpus_by_type=dict(sorted(sol.gpus_by_type().items())))


def describe_rule(rule: str, rules: FleetRules) -> str:
    """A rule's name in words, with its setting."""
    if rule == "gpu_caps":
        return "the GPU caps (" + ", ".join(f"{g} <= {n}" for g, n in sorted(rules.gpu_caps.items())) + ")"
    if rule == "instance_caps":
        return "the instance caps (" + ", ".join(f"{g} <= {n}" for g, n in sorted(rules.instance_caps.items())) + ")"
    if rule == "power_w":
        return f"the power cap ({(rules.power_w or 0) / 1000:g} kW)"
    if rule == "budget_per_hour":
        return f"the budget (${(rules.budget_per_hour or 0) * HOURS_PER_MONTH:,.0f}/month)"
    if rule == "redundancy":
        return "N+1 redundancy"
    if rule == "min_replicas":
        return f"min_replicas {rules.min_replicas}"
    if rule == "max_pools":
        return f"max_pools {rules.max_pools}"
    return rule


def rule_docs(rules: FleetRules, cost_per_hour: float, effects: list[RuleEffect]) -> list[RuleDoc]:
    """Each binding rule in words with what it costs per month ("the GPU caps (h100 <= 2) bind: +$3,100/month")."""
    out = []
    for e in effects:
        assert e.cost_without is not None
        extra = (cost_per_hour - e.cost_without) * HOURS_PER_MONTH
        verb = "bind" if e.rule.endswith("caps") else "binds"
        out.append(RuleDoc(rule=e.rule, text=f"{describe_rule(e.rule, rules)} {verb}: +${extra:,.0f}/month "
                                              f"(${e.cost_without * HOURS_PER_MONTH:,.0f}/month without it)", cost_per_hour_without=e.cost_without))
    return out


def explain_relaxations(rules: FleetRules, effects: list[RuleEffect]) -> str:
    """Why no fleet obeys the rules: what relaxing each one alone would cost (InfeasibleError's message)."""
    lines = ["no fleet meets the SLOs under the fleet rules; relaxing one rule at a time:"]
    for e in effects:
        name = "every rule at once" if e.rule == "all" else describe_rule(e.rule, rules)
        if e.cost_without is None:
            lines.append(f"- without {name}: still infeasible")
        else:
            gpus = ", ".join(f"{n} x {g}" for g, n in sorted(e.outcome.solution.gpus_by_type().items())) if e.outcome.solution else ""
            lines.append(f"- without {name}: feasible at ${e.cost_without * HOURS_PER_MONTH:,.0f}/month ({gpus})")
    lines.append("hint: raise or remove that rule in the workload's `fleet:` section (docs/fleet.md)")
    return "\n".join(lines)


def usage_notes(problem: FleetProblem, outcome: FleetOutcome) -> list[str]:
    """How much of the budget and the power cap the plan uses (shown whether or not they bind)."""
    assert outcome.solution is not None and outcome.cost_per_hour is not None
    rules, notes = problem.rules, []
    if rules.budget_per_hour is not None:
        notes.append(f"budget: ${outcome.cost_per_hour * HOURS_PER_MONTH:,.0f} of ${rules.budget_per_hour * HOURS_PER_MONTH:,.0f}/month "
                     f"({outcome.cost_per_hour / rules.budget_per_hour:.0%})")
    if rules.power_w is not None and problem.watts is not None:
        watts = fleet_watts(problem, outcome)
        notes.append(f"power: the fleet draws up to {watts / 1000:.2f} kW of the {rules.power_w / 1000:g} kW cap (TDP x overhead)")
    return notes


def fleet_watts(problem: FleetProblem, outcome: FleetOutcome) -> float:
    """Watts of the GPUs the fleet pays for (every GPU of a bought instance, idle or not), TDP x overhead."""
    assert outcome.solution is not None and problem.watts is not None
    per_gpu = {c.gpu: float(w) / c.tp for c, w in zip(problem.configs, problem.watts)}
    gpus = dict(outcome.solution.gpus_by_type())
    shapes = {s.name: s for s in problem.shapes}
    for gpu in problem.instance_gpus & set(gpus):
        gpus[gpu] = sum(shapes[n].gpus * m for n, m in outcome.solution.instances.items() if shapes[n].gpu == gpu)
    return sum(per_gpu[g] * n for g, n in gpus.items())
