"""`planner simulate`: replay a plan's traffic through its fleet and report what users would see."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from planner.cli.progress import quiet_option, replay_bar
from planner.cli.options import SEED, FiniteFloat, RegularFile, catalog_option, emit, format_option, output_option
from planner.errors import WorkloadError
from planner.io.files import write_atomic
from planner.simulate.policies import POLICIES

log = logging.getLogger(__name__)

seed_option = click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed for routing draws (same seed, same result).")
duration_option = click.option("--duration", "duration_s", type=FiniteFloat(), default=None,
                               help="Replay only arrivals in the first S seconds (histogram workloads: length of the draw, default 600).")
routing_option = click.option("--routing", "policy", type=click.Choice(list(POLICIES)), default="least-loaded",
                              show_default=True, help="How a pool spreads its requests over replicas.")
chunked_option = click.option("--chunked-prefill", is_flag=True,
                              help="Mix prompt chunks into decode steps within max_num_batched_tokens (on anyway when the workload's engine.chunked_prefill is).")
jobs_option = click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
                           help="Processes for the plan's pools (same numbers as serial); 0 = one per CPU for runs of 50,000+ requests, 1 = serial.")


def write_timeline(result, path: str) -> None:  # noqa: ANN001 - SimResult, imported lazily (matplotlib)
    """Write the timeline as .png or .html (atomically)."""
    from planner.report.timeline import timeline_html, timeline_png

    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise WorkloadError(f"--timeline {path}: expected a .png or .html file name")
    write_atomic(Path(path), timeline_png(result) if suffix == ".png" else timeline_html(result))
    click.echo(f"wrote {path}", err=True)


@click.command()
@click.argument("plan", type=RegularFile())
@click.option("--trace", "trace_file", type=RegularFile(), default=None,
              help="Replay this trace (as recorded) instead of the plan's workload traffic.")
@click.option("--workload", "workload_file", type=RegularFile(), default=None,
              help="Take traffic, SLOs and engine settings from this workload instead of the plan's echo.")
@duration_option
@seed_option
@routing_option
@chunked_option
@jobs_option
@click.option("--rate-scale", type=FiniteFloat(), default=1.0, show_default=True, help="Multiply the arrival rate (what-if load).")
@click.option("--timeline", type=click.Path(dir_okay=False), default=None, help="Also write a timeline plot (.png or .html).")
@catalog_option
@format_option("table", "json")
@output_option
@quiet_option
def simulate(plan: str, trace_file: str | None, workload_file: str | None, duration_s: float | None, seed: int, policy: str,
             chunked_prefill: bool, jobs: int, rate_scale: float, timeline: str | None, catalog_files: tuple[str, ...], fmt: str,
             output: str | None, quiet: bool) -> None:
    """Replay requests through a plan's pools and replicas: p50/p90/p99 TTFT, TPOT, SLO attainment, utilization.

    Example: planner simulate plan.json --duration 300 --timeline timeline.html
    Real trace: planner simulate plan.json --trace ../shared/data/traces/azure2023/AzureLLMInferenceTrace_conv.csv
    """
    from planner.report.sim_text import render_simulation
    from planner.simulate.replay import SimOptions
    from planner.simulate.verify import simulate_plan

    options = SimOptions(seed=seed, policy=policy, chunked_prefill=chunked_prefill, record_timeline=timeline is not None,  # type: ignore[arg-type]
                         jobs=jobs)
    start = time.perf_counter()
    with replay_bar(quiet):
        result = simulate_plan(plan, trace_file, workload_file, duration_s, options, catalog_files, rate_scale)
    click.echo(f"simulated {result.summary['requests']:,} requests in {time.perf_counter() - start:.1f} s", err=True)
    if timeline:
        write_timeline(result, timeline)
    emit(render_simulation(result.summary, fmt), output)


COMMANDS = [simulate]
