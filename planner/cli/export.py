"""`planner export`: a plan as deployment files (vLLM launch scripts, Kubernetes manifests, SkyPilot services)."""
from __future__ import annotations

import click

from planner.cli.options import RegularFile, catalog_option


@click.command()
@click.argument("plan", type=RegularFile())
@click.option("--to", "to", type=click.Choice(["vllm", "k8s", "skypilot"]), required=True, help="What to write.")
@click.option("-o", "out_dir", type=click.Path(file_okay=False), required=True, help="Folder to write into (created).")
@click.option("--model-path", help="Checkpoint to serve (a Hugging Face repo or a path) instead of the catalog's repo.")
@click.option("--image", default=None, help="vLLM container image for --to k8s (default vllm/vllm-openai:v0.11.0).")
@click.option("--replay", is_flag=True, help="With --to k8s: read the manifests back, run them in the simulator on the plan's "
              "traffic and print each pool's simulated p99 TTFT/TPOT next to the plan's.")
@click.option("--duration", type=click.FloatRange(min=1), default=600, show_default=True, help="Seconds of traffic for --replay.")
@catalog_option
def export(plan, to, out_dir, model_path, image, replay, duration, catalog_files) -> None:  # noqa: ANN001
    """Write a plan (planner solve --format json) as deployment files, one per pool plus router.yaml.

    --to vllm: POOL.sh, the `vllm serve` command of one replica; k8s: POOL.yaml, a Deployment and a Service;
    skypilot: POOL.sky.yaml, a SkyServe service. router.yaml is the bucket -> pool routing table (docs/export.md).

    Example: planner export plan.json --to k8s -o deploy/ && kubectl apply --dry-run=client -f deploy/
    """
    from planner.export.deployment import VLLM_IMAGE, export_plan

    from planner.errors import PlannerError

    if replay and to != "k8s":
        raise PlannerError("--replay reads Kubernetes manifests back: use it with --to k8s")
    for path in export_plan(plan, to, out_dir, catalog_files, model_path, image or VLLM_IMAGE):
        click.echo(f"wrote {path}")
    if replay:
        from planner.export.replay import replay_export

        rows = replay_export(plan, out_dir, duration, catalog_files=catalog_files)
        click.echo(f"\nthe manifests in {out_dir} replayed in the simulator ({duration:g} s of the plan's traffic)")
        click.echo(f"{'pool':<22} {'replicas':>8} {'p99 TTFT ms plan':>17} {'simulated':>10} {'p99 TPOT ms plan':>17} {'simulated':>10}  SLOs")
        for r in rows:
            click.echo(f"{r['pool']:<22} {r['replicas']:>8} {_ms(r['planned_ttft_ms']):>17} {_ms(r['simulated_p99_ttft_ms']):>10} "
                       f"{_ms(r['planned_tpot_ms']):>17} {_ms(r['simulated_p99_tpot_ms']):>10}  {'met' if r['slo_met'] else 'MISSED'}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


COMMANDS = [export]
