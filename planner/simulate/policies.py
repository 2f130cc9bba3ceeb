"""Routing policies by name: which replica of a pool serves the n-th request (SimOptions.policy).

A policy is a small object with one method, `pick(n, loads)`, given the request's position n in the
pool's arrival order and every replica's current load (requests waiting, prefilling or running there);
the router (planner.simulate.router.run_pool) makes one per pool and replay, so a policy may keep state.
A new policy is one class here plus one entry in POLICIES (and in the Policy literal for type checkers).
"""
from __future__ import annotations

from typing import ClassVar, Literal, Protocol

Policy = Literal["least-loaded", "round-robin"]
"""The registered names, for type checkers (SimOptions.policy)."""


class RoutingPolicy(Protocol):
    """Chooses the replica for each request of one pool."""

    name: ClassVar[str]

    def pick(self, n: int, loads: list[int]) -> int:
        """Index into `loads` of the replica that serves the pool's n-th request (0-based)."""
        ...


class LeastLoaded:
    """The replica with the fewest requests on it now, the first of them on a tie."""

    name: ClassVar[str] = "least-loaded"

    def pick(self, n: int, loads: list[int]) -> int:
        """The first replica with the smallest load."""
        return min(range(len(loads)), key=loads.__getitem__)


class RoundRobin:
    """Replicas in turn, whatever their load: request n goes to replica n mod replicas."""

    name: ClassVar[str] = "round-robin"

    def pick(self, n: int, loads: list[int]) -> int:
        """Replica n mod the number of replicas."""
        return n % len(loads)


POLICIES: dict[str, type[RoutingPolicy]] = {cls.name: cls for cls in (LeastLoaded, RoundRobin)}
"""Every registered policy class by its name."""


def routing_policy(name: str) -> RoutingPolicy:
    """A new policy object registered as `name`; ValueError naming the valid ones otherwise."""
    if name not in POLICIES:
        raise ValueError(f"unknown routing policy {name!r}; valid: {', '.join(sorted(POLICIES))}")
    return POLICIES[name]()
