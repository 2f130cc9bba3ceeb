"""What the fleet rules and the extra pools cost, found by solving again (docs/fleet.md):

- the simplest plan: the fewest pools whose cheapest fleet is within a fraction of the optimum;
- the cost of each binding rule: the optimum with that one rule relaxed (an honest price for an integer
  constraint, where an LP dual would not be);
- why a problem with rules is infeasible: which single relaxation makes it feasible, and at what cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from planner.optimize.fleet import FleetOutcome, SolverSettings, optimize_fleet, prunable
from planner.optimize.formulation import FleetSolution
from planner.optimize.problem import FleetProblem
from planner.optimize.solvers import SolveStatus

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
    ceiling = best.cost_per_hour * (1 + within) + COST_EPS
    for count in range(1, min(pools, limit)):
        candidate = problem.with_rules(replace(problem.rules, max_pools=count))
        exact = problem.per_gpu_pricing and not problem.levels  # the closed forms read max_rps at the SLO's level only
        if count == 1 and exact and not problem.rules.active():
            outcome = single_pool(problem)
        elif count <= SCREENED_POOLS and exact:
            keep = pool_candidates(problem, ceiling, count)
            if not keep:
                continue
            outcome = optimize_fleet(candidate.restricted(keep), settings)
        else:
            outcome = optimize_fleet(candidate, settings)
        if outcome.cost_per_hour is not None and outcome.cost_per_hour <= ceiling:
            return outcome
    return None


SCREENED_POOLS = 3
"""Up to this many pools the simplest-plan MILP runs over `pool_candidates` only. The screen enumerates the sets of
that many configs, ~n^2 / 2 vector passes for 3 pools (the widest 70B space: 43 configs after pruning, 0.04 s, 9 kept,
and its 3-pool MILP 1.0 -> 0.06 s), ~n^3 / 6 for 4, which is no longer cheap next to the MILP it would save."""


def pool_candidates(problem: FleetProblem, ceiling: float, pools: int) -> list[int]:
    """Configs (in order) of the fleets of at most `pools` pools whose lower bound is within `ceiling` USD/hour, for
    per-replica prices: any fleet of at most that many pools costing at most `ceiling` can be made of these, so the
    MILP with that pool limit over them has the same optimum whenever that optimum is within `ceiling`.

    The bound of a set of pools: each bucket's traffic on the cheapest of them per req/s at the utilization target
    (sum_b rate_b / rho x min_k cost_k / cap[k,b], the LP with fractional replicas), and at least one replica of
    each. Fleet rules only add constraints, so the bound holds under them too. Dominated configs (`prunable`, which
    the solve drops anyway) are left out first: swapping one for the config that dominates it never costs more nor
    adds a pool. Sets are enumerated as index sequences k1 <= k2 <= ... (a repeat: a smaller set), the last index
    as one vector; a prefix whose replicas alone exceed the ceiling is not extended.
    """
    keep = np.flatnonzero(~prunable(problem))
    live = problem.rates > 0
    caps, costs = problem.best_rps[np.ix_(keep, live)], problem.costs[keep]  # pooled: a pool may be large
    with np.errstate(divide="ignore"):
        unit = np.where(caps > 0, costs[:, None] / np.where(caps > 0, caps, 1.0), np.inf) * (problem.rates[live] / problem.rho)
    near: set[int] = set()

    def extend(members: tuple[int, ...], best: np.ndarray, fixed: float) -> None:
        last = members[-1]
        if len(members) == pools - 1:  # the last member, as a vector over every config from `last` on
            rest = np.arange(last, len(keep))
            bound = np.maximum(np.minimum(best, unit[last:]).sum(axis=1), fixed + np.where(rest == last, 0.0, costs[last:]))
            within = np.flatnonzero(bound <= ceiling)
            if len(within):
                near.update((*members, *(last + within).tolist()))
            return
        for k in range(last, len(keep)):
            more = fixed + (costs[k] if k != last else 0.0)
            if more <= ceiling:
                extend((*members, k), np.minimum(best, unit[k]), more)

    for k in range(len(keep)):
        if pools == 1:
            if max(float(unit[k].sum()), float(costs[k])) <= ceiling:
                near.add(k)
        elif costs[k] <= ceiling:
            extend((k,), unit[k], float(costs[k]))
    return sorted(int(keep[i]) for i in near)


def single_pool(problem: FleetProblem) -> FleetOutcome:
    """The cheapest one-pool fleet without rules, in closed form (the MILP with max_pools 1 gives the same): each
    config serving every bucket with traffic needs ceil(sum_b rate_b / cap[k,b] / rho) replicas; the cheapest wins
    (the first in order on ties)."""
    live = problem.rates > 0
    best: tuple[float, int, int] | None = None
    for k in range(len(problem.configs)):
        caps = problem.max_rps[k, live]
        if (caps <= 0).any() or problem.configs[k].role != "unified":  # one half of a pair serves nothing alone
            continue
        n = max(1, math.ceil(float((problem.rates[live] / caps).sum()) / problem.rho - 1e-9))
        if best is None or n * problem.costs[k] < best[0] - COST_EPS:
            best = (float(n * problem.costs[k]), k, n)
    if best is None:
        return FleetOutcome(SolveStatus.INFEASIBLE)
    cost, k, n = best
    spec = problem.configs[k]
    shares = {(int(b), spec): 1.0 for b in np.flatnonzero(live)}
    return FleetOutcome(SolveStatus.OPTIMAL, FleetSolution({spec: n}, shares), cost)


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
