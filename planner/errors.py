"""Domain errors. Every user-facing failure is a PlannerError: the CLI prints it as one line and exits 2."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(Exception):
    """Base class: a problem with the user's input or with the planning problem itself."""

    exit_code = 2


class CatalogError(PlannerError):
    """A catalog file (GPUs, models, quantization, prices) is malformed or references something unknown."""


class WorkloadError(PlannerError):
    """A workload file, trace or override is malformed."""


class OutputError(PlannerError):
    """A result cannot be written where it was asked to go (read-only folder, a file in the way, name too long)."""


class InfeasibleError(PlannerError):
    """No fleet can meet the SLOs; the message says which bucket and SLO, and the best any GPU achieves."""

    exit_code = 3


class SolverError(PlannerError):
    """The MILP solver is missing or failed."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint, or a list of valid choices when nothing is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(word), choices, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {' or '.join(repr(c) for c in close)}?)"
    if choices and len(choices) <= 30:
        return f" (valid: {', '.join(choices)})"
    return ""
