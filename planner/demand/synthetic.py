"""Synthetic request traces: bursty arrivals and realistic length distributions (docs/traces.md).

Lengths are log-normal, with medians and spreads fitted to the quantiles of public production traces
(Azure LLM inference 2023 conversation and code; Mooncake conversation for long-context RAG), clipped
to a plausible range. Arrivals are Poisson with a rate modulated by a log-normal AR(1) process
(10 s steps), which reproduces the minute-scale burstiness of those traces; `batch` is plain Poisson.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.errors import WorkloadError
from planner.io.traces.trace import Trace


@dataclass(frozen=True)
class TraceKind:
    """Log-normal length distributions (median, sigma, clip range) and burstiness of one traffic kind."""

    input_median: float
    input_sigma: float
    input_range: tuple[int, int]
    output_median: float
    output_sigma: float
    output_range: tuple[int, int]
    burst_sigma: float
    """Stationary std-dev of the log rate multiplier (0 = steady Poisson)."""
    description: str


KINDS: dict[str, TraceKind] = {
    # Azure 2023 conversation: input p10/p50/p90 = 207/1020/2735, output 54/129/424 tokens.
    "chat": TraceKind(1020, 1.0, (4, 14000), 129, 0.8, (4, 2000), 0.35, "chat assistant (Azure 2023 conversation shape)"),
    # Azure 2023 code: input p50/p90 = 1469/5188, output p50/p90 = 13/55 tokens.
    "code": TraceKind(1469, 1.0, (16, 7400), 13, 1.1, (2, 1500), 0.35, "code completion (Azure 2023 code shape)"),
    # Mooncake conversation: input p50/p90 = 6909/27367, output p50/p90 = 350/597 tokens.
    "rag": TraceKind(6909, 1.05, (512, 120000), 350, 0.45, (16, 2000), 0.3, "long-context RAG (Mooncake conversation shape)"),
    # Offline batch (summarisation/extraction jobs): steady submission, medium prompts, long outputs.
    "batch": TraceKind(1500, 0.6, (64, 8000), 400, 0.5, (16, 2048), 0.0, "offline batch jobs, steady Poisson"),
}

STEP_S = 10.0
"""Resolution of the rate-modulation process."""
CORRELATION = 0.9
"""AR(1) coefficient per 10 s step: bursts last about a minute and a half."""


def _lengths(rng: np.random.Generator, n: int, median: float, sigma: float, lo: int, hi: int) -> np.ndarray:
    values = rng.lognormal(np.log(median), sigma, size=n)
    return np.clip(np.rint(values), lo, hi).astype(np.int64)


def _rate_multiplier(rng: np.random.Generator, steps: int, sigma: float) -> np.ndarray:
    """Mean-one log-normal AR(1) multiplier, one value per STEP_S."""
    if sigma == 0:
        return np.ones(steps)
    x = np.empty(steps)
    x[0] = rng.normal(0, sigma)
    innovation = sigma * np.sqrt(1 - CORRELATION**2)
    for i in range(1, steps):  # a few hundred steps at most: seconds-scale, not per request
        x[i] = CORRELATION * x[i - 1] + rng.normal(0, innovation)
    return np.exp(x - sigma**2 / 2)


def generate_trace(kind: str, rps: float, minutes: float, seed: int = 0) -> Trace:
    """A trace of `kind` with mean rate `rps` over `minutes`, reproducible from `seed`."""
    if kind not in KINDS:
        raise WorkloadError(f"unknown trace kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not (np.isfinite(rps) and rps > 0 and np.isfinite(minutes) and minutes > 0):
        raise WorkloadError(f"a synthetic trace needs a positive, finite rate and length (got {rps} req/s for {minutes} min)")
    spec = KINDS[kind]
    rng = np.random.default_rng(seed)
    duration = minutes * 60.0
    steps = int(np.ceil(duration / STEP_S))
    rates = rps * _rate_multiplier(rng, steps, spec.burst_sigma)
    counts = rng.poisson(rates * STEP_S)
    starts = np.repeat(np.arange(steps) * STEP_S, counts)
    arrivals = np.sort(starts + rng.uniform(0, STEP_S, size=starts.size))
    arrivals = arrivals[arrivals < duration]
    if arrivals.size < 2:
        raise WorkloadError(f"{rps} req/s for {minutes} min gives fewer than 2 requests; raise the rate or the length")
    n = arrivals.size
    inp = _lengths(rng, n, spec.input_median, spec.input_sigma, *spec.input_range)
    out = _lengths(rng, n, spec.output_median, spec.output_sigma, *spec.output_range)
    return Trace(np.round(arrivals - arrivals[0], 3), inp, out, "planner")
