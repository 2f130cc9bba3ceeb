"""The fit per run: how well one fitted overlay reproduces each benchmark run, and which runs disagree.

A run is one load point of one file (a file, a mode and load, and the request lengths). What the overlay
gets wrong for every run alike is the model's (the median log error of each metric over the runs); what one
run has on top of that is the run's. A run is flagged when, on some metric, its log error is more than
DISAGREE_ABS away from that median: the one overlay that fits the others cannot fit it (a different engine
setting, a mislabelled GPU, a run that did not reach steady state).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.schemas.observation import Observation

DISAGREE_ABS = math.log(1.2)
"""A run within 20 % of the other runs' error on every metric is not flagged: the spread of the model's error
over load points of one config on public data is about 10-20 % (docs/accuracy.md)."""


@dataclass(frozen=True)
class RunFit:
    """One run's signed errors after the fit (predicted / measured - 1, by metric) and whether it disagrees."""

    run: str
    mode: str
    load: float
    input_tokens: int
    output_tokens: int
    errors: dict[str, float]
    worst: float
    """max over metrics of |log(pred / measured) - the median run's| (inf when the model cannot run this load)."""
    disagrees: bool = False


def run_label(o: Observation) -> str:
    """The file (and run number within it) an observation came from: its ref without the metric or line."""
    return o.ref.rsplit(":", 1)[0] if "#" in o.ref or o.ref.endswith(o.metric) else o.source


def per_run(obs: list[Observation], errors: list[float]) -> list[RunFit]:
    """Group observations by run (file, mode, load, lengths), in file order; flag the runs that disagree."""
    groups: dict[tuple, dict[str, float]] = {}
    for o, e in zip(obs, errors):
        groups.setdefault((run_label(o), o.mode, o.load, o.input_tokens, o.output_tokens), {})[o.metric] = e
    logs = {key: {m: math.log1p(e) if math.isfinite(e) and e > -1 else math.inf for m, e in errs.items()}
            for key, errs in groups.items()}
    metrics = {m for errs in logs.values() for m in errs}
    typical = {m: float(np.median([v[m] for v in logs.values() if m in v and math.isfinite(v[m])] or [0.0])) for m in metrics}
    fits = []
    for (run, mode, load, inp, out), errs in groups.items():
        worst = max(abs(v - typical[m]) for m, v in logs[run, mode, load, inp, out].items())
        fits.append(RunFit(run, mode, load, inp, out, errs, worst, worst > DISAGREE_ABS))
    return fits
