"""The utilization target as a hard limit: an exact check of the solver's answer that adds a replica where
the solver's feasibility tolerance let a pool end above its target (docs/methodology.md, "Optimizer").

HiGHS accepts a load constraint that is violated by up to ~1e-7 of a replica, so a need of 2 + 1e-8
replicas may come back as 2 replicas at utilization 1.00000001 x target; the user's target is a limit,
not a suggestion, so the pool gets its third replica here (and, where GPUs are bought as instances, the
instances it needs).
"""
from __future__ import annotations

import math
from dataclasses import replace

from planner.optimize.formulation import FleetSolution
from planner.optimize.problem import FleetProblem


FLOAT_SLACK = 1e-12
"""Relative slack of the check: float rounding in summing the loads (~1e-16), far below any solver tolerance (1e-9)."""


def enforce_utilization(problem: FleetProblem, solution: FleetSolution) -> FleetSolution:
    """`solution` with every pool's load (req/s over capacity, summed over its buckets) at most rho x replicas
    (x (replicas - 1) under N+1), up to float rounding (FLOAT_SLACK), not up to the solver's tolerance."""
    row = {spec: k for k, spec in enumerate(problem.configs)}
    load: dict = {}
    for (b, spec), share in solution.shares.items():
        cap = solution.capacity.get((b, spec), problem.max_rps[row[spec], b])
        if share > 0 and cap > 0:
            load[spec] = load.get(spec, 0.0) + problem.rates[b] * share / cap
    spare = 1 if problem.rules.redundancy else 0
    replicas = dict(solution.replicas)
    for spec, n in solution.replicas.items():
        need = n
        while load.get(spec, 0.0) > problem.rho * (need - spare) * (1 + FLOAT_SLACK):
            need = max(need + 1, math.ceil(load[spec] / problem.rho) + spare)
        replicas[spec] = need
    if replicas == solution.replicas:
        return solution
    return replace(solution, replicas=replicas, instances=_instances(problem, solution, replicas))


def _instances(problem: FleetProblem, solution: FleetSolution, replicas: dict) -> dict[str, int]:
    """Instances enough for the GPUs in use: the cheapest-per-GPU shape of a type buys what is missing."""
    instances = dict(solution.instances)
    for gpu in problem.instance_gpus:
        used = sum(spec.tp * n for spec, n in replicas.items() if spec.gpu == gpu)
        shapes = [s for s in problem.shapes if s.gpu == gpu]
        have = sum(s.gpus * instances.get(s.name, 0) for s in shapes)
        if used > have and shapes:
            best = min(shapes, key=lambda s: (s.usd_per_hour / s.gpus, s.name))
            instances[best.name] = instances.get(best.name, 0) + math.ceil((used - have) / best.gpus)
    return instances
