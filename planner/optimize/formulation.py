"""The fleet MILP (docs/methodology.md, "Optimizer" and "Fleet rules"): build a LinearModel from a FleetProblem,
and decode a solver's values back into replicas, instances and routing shares keyed by ReplicaSpec. Never names
a solver.

  min  sum_k cost_k n_k  [GPU types bought per GPU]  + sum_s price_s m_s  [instances]  + c0 sum_k y_k
  s.t. sum_k x[b,k] = 1                                    every bucket b is fully routed (k: co-located and
                                                           prefill configs; decode ones by the pair rows of
                                                           planner.optimize.disagg)
       sum_b rate_b x[b,k] / cap[b,k] <= rho (n_k - y_k [N+1])   replicas of k have room (utilization target rho)
       y_k <= n_k <= U_k y_k,  n_k >= min_replicas y_k      y_k = 1 when pool k is in use (only with such rules)
       sum_{k on g, tp_k >= t} tp_k n_k <= sum_{s of g, G_s >= t} G_s m_s   for each TP size t: TP groups fit
                                                            in whole instances (exact for power-of-two sizes)
       sum_k y_k <= P;  GPUs of g <= cap_g;  m_s <= cap_s;  cost <= budget;  watts <= power cap
       n_k, m_s integer >= 0,  0 <= x[b,k] <= 1,  x[b,k] = 0 where cap[b,k] = 0
plus, where the table has capacities at pool sizes (M/G/m prefill queues), tier shares used only by pools of at
least the tier's size (planner.optimize.pooling), and under `slo.scope: fleet` service-level shares
(planner.optimize.scope).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.optimize.disagg import add_pair_rows, fronts, has_roles
from planner.optimize.linear import LinearModel
from planner.optimize.pooling import PooledRows
from planner.optimize.problem import FleetProblem
from planner.optimize.scope import FleetScopeRows
from planner.schemas.replica import ReplicaSpec

SHARE_EPS = 1e-9
"""Routing shares below this are solver noise (HiGHS' default primal feasibility tolerance is 1e-7)."""

Terms = list[tuple[int, float]]


@dataclass(frozen=True)
class FleetSolution:
    """Replicas per config, instances per instance type and routing shares per (bucket index, config)."""

    replicas: dict[ReplicaSpec, int] = field(default_factory=dict)
    shares: dict[tuple[int, ReplicaSpec], float] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    capacity: dict[tuple[int, ReplicaSpec], float] = field(default_factory=dict)
    """Fleet SLO scope: one replica's req/s of a (bucket, config) cell served at a mix of percentiles (where it
    differs from the capacity table's); planner.optimize.scope."""
    percentiles: dict[int, float] = field(default_factory=dict)
    """Fleet SLO scope: the percentile each bucket is served at (share-weighted over its levels)."""

    def cost_per_hour(self, problem: FleetProblem) -> float:
        """Per-GPU-priced replicas, plus instances, plus the pool overhead of every pool in use."""
        return float(sum(self.pool_costs(problem).values()))

    def pool_costs(self, problem: FleetProblem) -> dict[ReplicaSpec, float]:
        """USD/hour of each pool: its replicas' price, or its share (by GPUs in use) of its GPU type's instances
        (idle GPUs of an instance included), plus the pool overhead; they add up to the fleet's cost."""
        cost = dict(zip(problem.configs, problem.costs))
        shapes = {s.name: s for s in problem.shapes}
        bought: dict[str, float] = {}
        for name, m in self.instances.items():
            bought[shapes[name].gpu] = bought.get(shapes[name].gpu, 0.0) + shapes[name].usd_per_hour * m
        in_use = self.gpus_by_type()
        out = {}
        for spec, n in self.replicas.items():
            own = bought[spec.gpu] * spec.tp * n / in_use[spec.gpu] if spec.gpu in problem.instance_gpus else cost[spec] * n
            out[spec] = float(own + problem.rules.pool_overhead_per_hour)
        return out

    def gpus_by_type(self) -> dict[str, int]:
        """GPUs in use (in TP groups) by GPU type."""
        out: dict[str, int] = {}
        for spec, n in self.replicas.items():
            out[spec.gpu] = out.get(spec.gpu, 0) + spec.tp * n
        return out


@dataclass
class FleetFormulation:
    """The MILP of one FleetProblem: `model` plus the variable indices `decode` reads."""

    problem: FleetProblem
    model: LinearModel = field(init=False)
    replicas: dict[int, int] = field(init=False, default_factory=dict)
    """config index -> variable index of n_k."""
    used: dict[int, int] = field(init=False, default_factory=dict)
    """config index -> variable index of the binary y_k (only when a rule needs it)."""
    shares: dict[tuple[int, int], int] = field(init=False, default_factory=dict)
    """(bucket, config index) -> variable index of x[b,k]."""
    instances: dict[int, int] = field(init=False, default_factory=dict)
    """shape index -> variable index of m_s."""
    scope: FleetScopeRows | None = field(init=False, default=None)
    """The fleet SLO scope's service-level shares and miss budget (when the problem has levels)."""
    pooling: PooledRows | None = field(init=False, default=None)
    """The pool-size tiers' shares and binaries (when the problem has pooled capacities)."""

    def __post_init__(self) -> None:
        self.model = LinearModel("fleet")
        if self.problem.levels:
            self.scope = FleetScopeRows(self.problem, self.model)
        if self.problem.pooled is not None:
            self.pooling = PooledRows(self.problem, self.model)
        load, pooled_load = self._routing()
        upper = self._replicas(load, pooled_load)
        if self.pooling is not None:
            self.pooling.link(self.replicas)
        self._instances(upper)
        cost = self._cost_terms()
        self._rules(cost)
        self.model.minimize(cost)

    def _routing(self) -> tuple[dict[int, Terms], dict[int, Terms]]:
        """x[b,k] and the routing rows; returns each config's load terms (rate / capacity per share), those of its
        pool-size tier shares apart (they do not widen the replica bound)."""
        p, m = self.problem, self.model
        n_configs, n_buckets = p.max_rps.shape
        load: dict[int, Terms] = {k: [] for k in range(n_configs)}
        pooled_load: dict[int, Terms] = {}
        front = [fronts(c) for c in p.configs]  # a decode replica takes its share through the pair rows
        for b in range(n_buckets):
            if p.rates[b] <= 0:
                continue
            routed = []
            caps, rate = p.max_rps[:, b], p.rates[b]
            for k, per_share in zip(np.flatnonzero(caps > 0).tolist(), (rate / caps[caps > 0]).tolist()):
                var = self.shares[(b, k)] = m.add_variable(f"x_{b}_{k}", 0.0, 1.0)
                if front[k]:
                    routed.append((var, 1.0))
                load[k].append((var, per_share))
            if self.scope is not None:
                routed += self.scope.route(b, {k: v for (bb, k), v in self.shares.items() if bb == b}, load)
            if self.pooling is not None:
                tier_routed, tier_load = self.pooling.route(b)
                routed += tier_routed
                if self.scope is not None:
                    self.scope.at_own_level(b, tier_routed)
                for k, terms in tier_load.items():
                    pooled_load.setdefault(k, []).extend(terms)
            m.add_constraint(f"route_{b}", routed, "=", 1.0)
        if self.scope is not None:
            self.scope.budget()
        if has_roles(p.configs):
            tiers = [] if self.pooling is None else [((b, k), v) for (b, k, _), v in self.pooling.shares.items()]
            add_pair_rows(m, p, list(self.shares.items()) + tiers)
        return load, pooled_load

    def _replicas(self, load: dict[int, Terms], pooled_load: dict[int, Terms]) -> dict[int, int]:
        """n_k (and y_k where rules need it) with the room rows; returns each config's replica upper bound."""
        p, m, rules = self.problem, self.model, self.problem.rules
        spare = 1 if rules.redundancy else 0
        upper: dict[int, int] = {}
        for k, terms in load.items():
            if not terms:
                continue
            most = sum(coef for _, coef in terms)  # every bucket it can serve routed to it alone
            u = upper[k] = max(math.ceil(most / p.rho + 1e-9) + spare, rules.min_replicas)
            n = self.replicas[k] = m.add_variable(f"n_{k}", 0.0, u, integer=True)
            room = terms + pooled_load.get(k, []) + [(n, -p.rho)]
            if rules.needs_pool_indicators:
                y = self.used[k] = m.add_variable(f"y_{k}", 0.0, 1.0, integer=True)
                m.add_constraint(f"on_{k}", [(n, 1.0), (y, -float(u))], "<=", 0.0)
                m.add_constraint(f"min_{k}", [(n, 1.0), (y, -float(rules.min_replicas))], ">=", 0.0)
                if rules.redundancy:
                    room.append((y, p.rho))
            m.add_constraint(f"room_{k}", room, "<=", 0.0)
        return upper

    def _instances(self, upper: dict[int, int]) -> None:
        """m_s per instance type and the rows packing each GPU type's TP groups into whole instances."""
        p, m = self.problem, self.model
        for gpu in sorted(p.instance_gpus):
            on_gpu = [k for k in self.replicas if p.configs[k].gpu == gpu]
            shapes = [s for s, shape in enumerate(p.shapes) if shape.gpu == gpu]
            most_gpus = sum(p.configs[k].tp * upper[k] for k in on_gpu)
            for s in shapes:
                self.instances[s] = m.add_variable(f"m_{s}", 0.0, math.ceil(most_gpus / p.shapes[s].gpus), integer=True)
            sizes = sorted({p.configs[k].tp for k in on_gpu})
            for t in sizes[:1] if p.cross_instance_tp else sizes:
                terms = [(self.replicas[k], float(p.configs[k].tp)) for k in on_gpu if p.configs[k].tp >= t]
                terms += [(self.instances[s], -float(p.shapes[s].gpus)) for s in shapes if p.cross_instance_tp or p.shapes[s].gpus >= t]
                m.add_constraint(f"fit_{gpu}_{t}", terms, "<=", 0.0)

    def _cost_terms(self) -> Terms:
        p = self.problem
        bought = p.instance_gpus
        cost = [(n, float(p.costs[k])) for k, n in self.replicas.items() if p.configs[k].gpu not in bought]
        cost += [(v, p.shapes[s].usd_per_hour) for s, v in self.instances.items()]
        if p.rules.pool_overhead_per_hour > 0:
            cost += [(y, p.rules.pool_overhead_per_hour) for y in self.used.values()]
        return cost

    def _gpu_terms(self, gpu: str, per_gpu: dict[str, float] | None = None) -> Terms:
        """GPUs of type `gpu` the fleet pays for (instances' GPUs, or replicas' TP groups), times `per_gpu[gpu]`."""
        p = self.problem
        scale = 1.0 if per_gpu is None else per_gpu[gpu]
        if gpu in p.instance_gpus:
            return [(v, p.shapes[s].gpus * scale) for s, v in self.instances.items() if p.shapes[s].gpu == gpu]
        return [(n, p.configs[k].tp * scale) for k, n in self.replicas.items() if p.configs[k].gpu == gpu]

    def _rules(self, cost: Terms) -> None:
        """Pool count, caps, budget and power rows."""
        p, m, rules = self.problem, self.model, self.problem.rules
        gpus = sorted({p.configs[k].gpu for k in self.replicas})
        if rules.max_pools is not None:
            m.add_constraint("max_pools", [(y, 1.0) for y in self.used.values()], "<=", float(rules.max_pools))
        for gpu in gpus:
            if gpu in rules.gpu_caps:
                m.add_constraint(f"cap_{gpu}", self._gpu_terms(gpu), "<=", float(rules.gpu_caps[gpu]))
        for s, v in self.instances.items():
            if p.shapes[s].name in rules.instance_caps:
                m.add_constraint(f"cap_{p.shapes[s].name}", [(v, 1.0)], "<=", float(rules.instance_caps[p.shapes[s].name]))
        if rules.budget_per_hour is not None:
            m.add_constraint("budget", cost, "<=", rules.budget_per_hour)
        if rules.power_w is not None and p.watts is not None:
            per_gpu = {p.configs[k].gpu: float(p.watts[k]) / p.configs[k].tp for k in self.replicas}
            m.add_constraint("power", [t for gpu in gpus for t in self._gpu_terms(gpu, per_gpu)], "<=", rules.power_w)

    def decode(self, values: list[float]) -> FleetSolution:
        """Replicas and instances (rounded: integer variables come back within the solver's tolerance) and shares."""
        configs = self.problem.configs
        replicas = {configs[k]: int(round(values[v] or 0)) for k, v in self.replicas.items()}
        shares = {(b, configs[k]): float(values[v]) for (b, k), v in self.shares.items() if values[v]}  # most are 0
        instances = {self.problem.shapes[s].name: int(round(values[v] or 0)) for s, v in self.instances.items()}
        capacity: dict[tuple[int, ReplicaSpec], float] = {}
        percentiles: dict[int, float] = {}
        if self.scope is not None:
            shares, capacity, percentiles = self.scope.decode(values, self.shares)
        if self.pooling is not None:
            self.pooling.fold(values, shares, capacity)
        return FleetSolution({s: n for s, n in replicas.items() if n > 0}, {key: x for key, x in shares.items() if x > SHARE_EPS},
                             {name: m for name, m in instances.items() if m > 0}, capacity, percentiles)


def dominated(costs: np.ndarray, max_rps: np.ndarray, same: np.ndarray | None = None, size: np.ndarray | None = None) -> np.ndarray:
    """Configs another config beats: no dearer and at least as capable in every bucket (the first such
    config in order is kept on exact ties). Removing them never changes the optimum.

    `costs` may have one column per price tier: a config then beats another only when no dearer at every tier.
    `same` (a group label per config, e.g. its GPU type) limits the comparison to configs of one group, and
    `size` (e.g. TP) must also be no larger: needed when costs are not the whole story (instances, caps, power).
    """
    n = len(costs)
    prices = costs.reshape(n, -1)  # one column per tier when several prices must all be no dearer
    out = np.zeros(n, dtype=bool)
    # the cheap tests first, for all pairs: [k, j] = j is no dearer (nor larger, of the same group) than k and its
    # total capacity is no smaller (needed for at least as capable in every bucket: a float sum is monotone)
    near = (prices[None, :, :] <= prices[:, None, :]).all(axis=2)
    total = max_rps.sum(axis=1)
    near &= total[None, :] >= total[:, None]
    if size is not None:
        near &= size[None, :] <= size[:, None]
    if same is not None:
        near &= same[None, :] == same[:, None]
    np.fill_diagonal(near, False)
    for k in range(n):
        j = np.flatnonzero(near[k])  # the capacities are compared for these only
        if not len(j):
            continue
        caps = max_rps[j]
        at_least = (caps >= max_rps[k]).all(axis=1)
        strictly = (prices[j] < prices[k]).any(axis=1) | (caps > max_rps[k]).any(axis=1)
        if size is not None:
            strictly |= size[j] < size[k]
        out[k] = bool((at_least & (strictly | (j < k))).any())  # on an exact tie the first in order is kept
    return out
