"""Timeline of a simulation: queue length, batch size and KV occupancy of the busiest replica, and
p50/p99 latency per minute, as a PNG (matplotlib Agg) or a self-contained HTML page embedding it."""
from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first
import numpy as np  # noqa: E402

from planner.errors import WorkloadError  # noqa: E402
from planner.report.sim_text import render_simulation, verdict_line  # noqa: E402
from planner.simulate.replay import SimResult  # noqa: E402


def timeline_png(result: SimResult) -> bytes:
    """Four stacked panels over time; raises WorkloadError when the run recorded no timeline."""
    busiest = result.busiest()
    if busiest is None or not busiest[2].timeline:
        raise WorkloadError("no timeline was recorded: simulate with record_timeline=True (the CLI does with --timeline)")
    key, index, replica = busiest
    t, queue, batch, blocks = (np.array(col, dtype=float) for col in zip(*replica.timeline))
    t0 = float(result.log.arrival.min())
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=False)
    axes[0].step(t - t0, queue, where="post", color="tab:red")
    axes[0].set_ylabel("waiting requests")
    axes[0].set_title(f"busiest replica: {key} #{index}")
    axes[1].step(t - t0, batch, where="post", color="tab:blue")
    axes[1].set_ylabel("batch (sequences)")
    axes[2].step(t - t0, 100 * blocks / replica.m.kv_blocks, where="post", color="tab:green")
    axes[2].set_ylabel("KV occupancy %")
    axes[2].set_ylim(0, 100)
    axes[2].set_xlabel("time (s)")
    minute = result.per_minute()
    ax = axes[3]
    if minute["t_s"]:
        mins = np.array(minute["t_s"]) / 60
        ax.plot(mins, minute["p50_ttft_ms"], "o-", color="tab:orange", label="TTFT p50")
        ax.plot(mins, minute["p99_ttft_ms"], "s-", color="tab:red", label="TTFT p99")
        ax.axhline(result.summary["slo"]["ttft_ms"], color="tab:red", ls=":", label="TTFT SLO")
        ax2 = ax.twinx()
        ax2.plot(mins, minute["p99_tpot_ms"], "^-", color="tab:purple", label="TPOT p99")
        ax2.axhline(result.summary["slo"]["tpot_ms"], color="tab:purple", ls="--", label="TPOT SLO")
        ax2.set_ylabel("TPOT ms")
        ax2.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("TTFT ms")
    ax.set_xlabel("arrival minute (all pools)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def timeline_html(result: SimResult) -> str:
    """A self-contained page: the verdict, the summary table and the timeline image."""
    image = base64.b64encode(timeline_png(result)).decode()
    table = html.escape(render_simulation(result.summary, "table"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>planner simulate: timeline</title></head>"
        "<body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
        f"<h1>Simulation timeline</h1><p><b>{html.escape(verdict_line(result.summary))}</b></p>"
        f"<pre>{table}</pre><img alt='timeline' src='data:image/png;base64,{image}'></body></html>\n"
    )
