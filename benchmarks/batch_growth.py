"""Why the capacity model is optimistic on 70B INT4 on one A100 (docs/simulator.md, issue 12): the TPOT tail of
multi-second prompt steps, model against simulator, and the same replay with every step timed as at a fixed batch.

    python benchmarks/batch_growth.py      # prints the table and writes docs/benchmarks/batch_growth.md

One replica of the batch example's a100-80gb/int4/tp1 config (llama-3-70b, weight-only INT4, token budget 8,192,
so a 2,563-token prompt is one ~2 s step), Poisson arrivals of equal requests (no length spread, so only the
queueing differs), 4,000 requests, seed 42, at 0.7 and 0.8 of the model's capacity for the bucket the doc names
(0.204 req/s). "frozen batch" replays the same arrivals with every decode and mixed step timed as at the replay's
own mean batch over a decode (rounded), the sequences holding the same tokens each: the counterfactual in which a request's steps do not slow down
when the batch around it grows. The columns "top 1 %" are the requests whose TPOT is in the top 1 %: the mean
batch over their decode and the arrivals during it, against all requests.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from planner import api
from planner.io.traces import Trace
from planner.perf.estimate import at_rate
from planner.simulate import steps
from planner.simulate.replay import SimOptions, SimPool, simulate
from planner.simulate.router import RouteTable
from planner.supply.replica import resolve

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "a100-80gb/int4/tp1"
CAPACITY_RPS = 0.2039
"""The model's capacity for the batch example's in 1024-4095 / out 512-2047 bucket on CONFIG (docs/simulator.md)."""
CASES = ((2563, 1280), (2563, 600))
"""(input, output) tokens: the bucket's mean prompt with its mean output, and a shorter output."""
LOADS = (0.7, 0.8)
REQUESTS = 4000


@contextlib.contextmanager
def frozen_batch(batch: int) -> Iterator[None]:
    """Time every decode and mixed step of the simulator as at `batch` sequences of the same mean context."""
    model = steps.StepModel
    decode_run, mixed_time = model.decode_run, model.mixed_time

    def frozen_run(self, n: int, context: int, k: int):  # noqa: ANN001, ANN202
        return decode_run(self, batch, int(context * batch / n), k)

    def frozen_mixed(self, n: int, context: int, tokens, prior):  # noqa: ANN001, ANN202
        return mixed_time(self, n, context, tokens, prior) if not n else mixed_time(self, batch, int(context * batch / n), tokens, prior)

    model.decode_run, model.mixed_time = frozen_run, frozen_mixed
    try:
        yield
    finally:
        model.decode_run, model.mixed_time = decode_run, mixed_time


def replay(cfg, inp: int, out: int, rps: float, slo):  # noqa: ANN001, ANN201
    """REQUESTS equal requests at Poisson `rps` through one replica, with its timeline."""
    rng = np.random.default_rng(42)
    arrival = np.cumsum(rng.exponential(1 / rps, REQUESTS))
    trace = Trace(arrival - arrival[0], np.full(REQUESTS, inp), np.full(REQUESTS, out))
    routes = RouteTable(np.array([1]), np.array([1 << 40]), np.array([1]), np.array([1 << 40]), np.array([[1.0]]))
    return simulate([SimPool("p", cfg, 1)], routes, trace, slo, cfg.model.max_context,
                    SimOptions(chunked_prefill=cfg.engine.chunked_prefill, record_timeline=True))


def tail_figures(result) -> tuple[float, float, float, float, float, float, float]:  # noqa: ANN001
    """(mean TPOT ms, p99 TPOT ms, mean batch over a decode: all and top 1 %, arrivals during a decode: all and top 1 %,
    the live batch's variance over its mean in time: 1 for a Poisson count)."""
    log, timeline = result.log, np.array(result.fleets[0][0].timeline)
    t, running = timeline[:, 0], timeline[:, 2]
    tpot = (log.finish - log.first_token) / (log.output - 1)
    top = np.flatnonzero(tpot >= np.percentile(tpot, 99))

    def batch(i: int) -> float:  # time-averaged running sequences while request i decodes
        lo, hi = np.searchsorted(t, log.first_token[i]), np.searchsorted(t, log.finish[i])
        edges = np.concatenate(([log.first_token[i]], t[lo:hi], [log.finish[i]]))
        counts = running[max(lo - 1, 0):hi][:len(edges) - 1]
        return float((counts * np.diff(edges)).sum() / (edges[-1] - edges[0]))

    def arrivals(i: int) -> int:
        return int(np.count_nonzero((log.arrival > log.first_token[i]) & (log.arrival < log.finish[i])))

    every = range(0, len(tpot), 10)
    share = np.diff(t) / (t[-1] - t[0])
    live = running[:-1]
    mean = float((live * share).sum())
    dispersion = float(((live - mean) ** 2 * share).sum()) / mean
    return (1e3 * float(tpot.mean()), 1e3 * float(np.percentile(tpot, 99)), float(np.mean([batch(i) for i in every])),
            float(np.mean([batch(i) for i in top])), float(np.mean([arrivals(i) for i in every])), float(np.mean([arrivals(i) for i in top])), dispersion)


def main() -> None:
    path = ROOT / "workloads" / "batch.yaml"
    problem = api.prepare(path)
    spec = next(c for c in problem.table.configs if c.key == CONFIG)
    workload = problem.loaded.workload
    cfg = resolve(replace(spec, model=workload.model, engine=workload.engine.params(spec.chunk)), problem.catalog)
    rows = []
    for inp, out in CASES:
        for load in LOADS:
            rps = load * CAPACITY_RPS
            model = at_rate(cfg, inp, out, rps)
            sim = tail_figures(replay(cfg, inp, out, rps, workload.slo))
            with frozen_batch(round(sim[2])):
                frozen = tail_figures(replay(cfg, inp, out, rps, workload.slo))
            rows.append(f"| {inp} / {out} | {rps:.4f} ({load:.1f}) | {model.tpot_ms:.1f} / {model.p99_tpot_ms:.1f} | "
                        f"{sim[0]:.1f} / {sim[1]:.1f} | {frozen[0]:.1f} / {frozen[1]:.1f} | {sim[2]:.1f} / {sim[3]:.1f} | "
                        f"{sim[4]:.1f} / {sim[5]:.1f} | {sim[6]:.2f} / {frozen[6]:.2f} |")
            print(rows[-1], flush=True)
    lines = [
        "# Batch growth in the TPOT tail: 70B INT4 on one A100", "",
        "Written by `python benchmarks/batch_growth.py` (issue 12, the agreement cells outside 0.9-1.1 in docs/simulator.md). "
        f"One replica of {CONFIG} (llama-3-70b, token budget 8,192), {REQUESTS:,} equal requests, Poisson arrivals (seed 42); "
        f"load = share of the model's capacity {CAPACITY_RPS} req/s; machine load {os.getloadavg()[0]:.1f}. "
        "\"frozen\": the same replay with every step timed as at the replay's mean batch over a decode (rounded).", "",
        "| input / output | req/s (load) | model TPOT mean / p99 ms | simulated mean / p99 | simulated, frozen batch: mean / p99 | "
        "batch over a decode: all / top 1 % | arrivals during a decode: all / top 1 % | live batch var / mean: simulated / frozen |",
        "|---|---|---|---|---|---|---|---|",
        *rows, "",
        "The requests in the simulated TPOT tail decode beside 2-3x the mean batch, because the prompts whose steps",
        "interrupt them (3-4x the mean count) then join their batch and stay in it for the rest of their decode: on",
        "this config a step slows by ~0.5-0.7 ms per live sequence (compute-bound INT4 dequantisation), so the tail",
        "request's every later step is slower. With the step times frozen at the run's mean batch the simulated p99",
        "falls by 5-30 %. The live batch is over-dispersed: its variance is 2-3x its mean, about 2x even with the",
        "step times frozen, since every prompt step stalls all the requests alive at once: the Borel cluster law's",
        "1 / (1 - rho)^2 (1.98 at rho 0.29, 2.25 at 0.33). Until 2026-12-03 the model took the batch as a Poisson",
        "count (p99 of the first two rows 67.5 and 81.0 ms); it now takes that cluster law, with the batch's own",
        "slowdown in rho_eff, and a three-moment sum of busy periods (planner.perf.load.stalled_batch,",
        "planner.perf.tail.Lateness; docs/simulator.md for the agreement cells).",
    ]
    (ROOT / "docs" / "benchmarks" / "batch_growth.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
