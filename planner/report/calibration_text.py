"""Text of `planner calibrate`'s per-run table (planner.calibration.runs)."""
from __future__ import annotations

import math

from planner.calibration.runs import DISAGREE_ABS, RunFit

METRICS = ("ttft_ms", "tpot_ms", "output_tok_s", "e2e_ms", "total_tok_s", "req_s")


def _pct(e: float | None) -> str:
    if e is None:
        return "-"
    return "n/a" if not math.isfinite(e) else f"{e * 100:+.1f}%"


def render_runs(fits: list[RunFit]) -> str:
    """One line per run: its load, its error per metric after the fit, and a flag when it disagrees."""
    shown = [m for m in METRICS if any(m in f.errors for f in fits)]
    width = max(12, *(len(f.run) for f in fits))
    lines = [f"{'run':<{width}} {'load':>18} {'in/out':>11} " + " ".join(f"{m:>12}" for m in shown)]
    for f in fits:
        load = {"rate": f"{f.load:g} req/s", "concurrency": f"{f.load:g} clients"}.get(f.mode, f.mode)
        flag = "  <- disagrees with the other runs" if f.disagrees else ""
        lines.append(f"{f.run:<{width}} {load:>18} {f'{f.input_tokens}/{f.output_tokens}':>11} "
                     + " ".join(f"{_pct(f.errors.get(m)):>12}" for m in shown) + flag)
    flagged = [f.run for f in fits if f.disagrees]
    if flagged:
        lines.append(f"{len(flagged)} run(s) more than {math.expm1(DISAGREE_ABS):.0%} off the other runs' error on some metric: "
                     "check their engine settings and hardware, or leave them out")
    return "\n".join(lines)
