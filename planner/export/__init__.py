"""Exporters: a plan or a capacity table written in another tool's format. Each module registers one exporter
(a name, what it takes, the function); `planner profile export` uses `profile-csv`. Deployment configs
(vLLM commands, Kubernetes manifests) are further modules here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Exporter:
    """One output format: its name, what it takes ("capacity-table" or "plan") and the function writing it."""

    name: str
    takes: str
    write: Callable[..., str]
    description: str


EXPORTERS: dict[str, Exporter] = {}


def register(exporter: Exporter) -> Exporter:
    EXPORTERS[exporter.name] = exporter
    return exporter


def exporter(name: str) -> Exporter:
    """The exporter called `name` (its module is imported on first use)."""
    from planner.errors import PlannerError, suggest
    from planner.export import profile_csv  # noqa: F401 - registers

    if name not in EXPORTERS:
        raise PlannerError(f"unknown export format {name!r}{suggest(name, EXPORTERS)}")
    return EXPORTERS[name]

