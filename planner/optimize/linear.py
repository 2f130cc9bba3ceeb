"""A solver-neutral mixed-integer linear model: what a Formulation builds and a Solver reads (never mutates).

Variables, constraints and the objective are plain records in the order they were added; solvers see them
in that order (PuLP then sorts columns by name, which fixes tie-breaking between equal-cost plans).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Sense = Literal["<=", "=", ">="]


@dataclass(frozen=True)
class Variable:
    name: str
    lower: float = 0.0
    upper: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Constraint:
    """sum(coef * variable) `sense` rhs, over (variable index, coefficient) terms."""

    name: str
    terms: tuple[tuple[int, float], ...]
    sense: Sense
    rhs: float


@dataclass
class LinearModel:
    """min objective . x subject to the constraints; built once, read by any number of solves."""

    name: str
    variables: list[Variable] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    objective: list[tuple[int, float]] = field(default_factory=list)

    def add_variable(self, name: str, lower: float = 0.0, upper: float | None = None, integer: bool = False) -> int:
        """Add a variable; returns its index."""
        self.variables.append(Variable(name, lower, upper, integer))
        return len(self.variables) - 1

    def add_constraint(self, name: str, terms: list[tuple[int, float]], sense: Sense, rhs: float) -> None:
        self.constraints.append(Constraint(name, tuple(terms), sense, rhs))

    def minimize(self, terms: list[tuple[int, float]]) -> None:
        self.objective = list(terms)
