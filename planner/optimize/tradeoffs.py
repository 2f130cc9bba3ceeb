"""What the fleet rules and the extra pools cost, found by solving again (docs/fleet.md):

- the simplest plan: the fewest pools whose cheapest fleet is within a fraction of the optimum;
- the cost of each binding rule: the optimum with that one rule relaxed (an honest price for an integer
  constraint, where an LP dual would not be);
- why a problem with rules is infeasible: which single relaxation makes it feasible, and at what cost.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from planner.optimize.fleet import FleetOutcome, SolverSettings, optimize_fleet
from planner.optimize.problem import FleetProblem

COST_EPS = 1e-6
"""USD/hour below which two optima are the same cost (solver tolerance)."""


@dataclass(frozen=True)
class RuleEffect:
    """One rule and what the fleet would cost without it (None: still infeasible without it)."""

    rule: str
    cost_without: float | None
    outcome: FleetOutcome


def simplest_within(problem: FleetProblem, settings: SolverSettings, best: FleetOutcome, within: float) -> FleetOutcome | None:
    """The cheapest fleet with the fewest pools that costs at most (1 + within) x the optimum, when it has fewer
    pools than `best`; None when `best` is already the simplest such plan. Tries 1, 2, ... pools in turn."""
    assert best.solution is not None and best.cost_per_hour is not None
    pools = len(best.solution.replicas)
    limit = problem.rules.max_pools or pools
    for count in range(1, min(pools, limit)):
        outcome = optimize_fleet(problem.with_rules(replace(problem.rules, max_pools=count)), settings)
        if outcome.cost_per_hour is not None and outcome.cost_per_hour <= best.cost_per_hour * (1 + within) + COST_EPS:
            return outcome
    return None


def binding_rules(problem: FleetProblem, settings: SolverSettings, best: FleetOutcome) -> list[RuleEffect]:
    """Each active rule whose removal makes the fleet cheaper, with the cheaper cost (the rule's price)."""
    assert best.cost_per_hour is not None
    out = []
    for rule in problem.rules.active():
        if rule == "pool_overhead_per_hour":
            continue  # a cost, not a constraint: its share is shown in the plan's cost
        outcome = optimize_fleet(problem.with_rules(problem.rules.relaxed(rule)), settings)
        if outcome.cost_per_hour is not None and outcome.cost_per_hour < best.cost_per_hour - COST_EPS:
            out.append(RuleEffect(rule, outcome.cost_per_hour, outcome))
    return out


def relaxations(problem: FleetProblem, settings: SolverSettings) -> list[RuleEffect]:
    """For an infeasible problem: every active rule, with the optimum once it alone is relaxed (None if still
    infeasible), then all rules relaxed at once as the last entry (rule "all")."""
    out = []
    for rule in problem.rules.active():
        outcome = optimize_fleet(problem.with_rules(problem.rules.relaxed(rule)), settings)
        out.append(RuleEffect(rule, outcome.cost_per_hour, outcome))
    if out and all(e.cost_without is None for e in out) and len(out) > 1:
        relaxed = problem.rules
        for rule in problem.rules.active():
            relaxed = relaxed.relaxed(rule)
        outcome = optimize_fleet(problem.with_rules(relaxed), settings)
        out.append(RuleEffect("all", outcome.cost_per_hour, outcome))
    return out
