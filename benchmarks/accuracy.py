"""Accuracy of `planner estimate` on every usable row of ../shared/data/measured; writes docs/accuracy.md + PNG.

    /work/venv/bin/python benchmarks/accuracy.py      # ~2-3 min on 2 cores (one fit per held-out source)

Leave-one-source-out (LOSO): for each data set, fit the efficiency factors on the others (from
`planner.calibration.fit.PRIOR`), then predict the held-out rows; GPUs absent from the training folds use the
fold's `default` entry. In-sample errors (the shipped catalog, fitted on everything) are shown beside.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from planner.calibration.fit import PRIOR, default_entry, fit_efficiency  # noqa: E402
import yaml  # noqa: E402

from planner.calibration.predict import errors, summarize  # noqa: E402
from planner.io.catalog import load_catalog  # noqa: E402
from planner.io.readers.measured import read_all  # noqa: E402
from planner.io.files import write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/data/measured"
DOC, PLOT = ROOT / "docs/accuracy.md", ROOT / "docs/accuracy.png"
KIND = {"output_tok_s": "throughput", "req_s": "throughput", "ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2e_ms": "E2E latency",
        "layer_matmul_ms": "operator: matmul", "allreduce_ms": "operator: all-reduce"}
TARGET = {"throughput": 10.0, "TTFT": 15.0, "TPOT": 15.0}
"""Median |error| targets (percent) of issue 13; every p90 target is P90_TARGET."""
P90_TARGET = 30.0
BANDS = ROOT / "catalogs/error_bands.yaml"
BAND_METRIC = {"TTFT": "ttft", "TPOT": "tpot", "throughput": "throughput"}
PLANNING_ENGINES = ("vllm", "sglang", "trtllm")
"""Bands are written for the engines a plan can name; the Splitwise stack's rows still count in the `any` bands."""


def loso(obs: list, catalog) -> pd.DataFrame:  # noqa: ANN001
    """Held-out errors of every source, each predicted by factors fitted on the other sources only."""
    frames = []
    for source in sorted({o.source for o in obs}):
        train = [o for o in obs if o.source != source]
        print(f"  fold: hold out {source} ({len(obs) - len(train)} rows)", file=sys.stderr)
        fitted = fit_efficiency(train, catalog, f"loso-{source}", "-", start=PRIOR)
        fitted["default"] = default_entry(fitted, f"loso-{source}", "-")
        fold = replace(catalog, efficiency=fitted)  # only this fold's factors: no leakage from the shipped fit
        frames.append(errors([o for o in obs if o.source == source], fold))
    return pd.concat(frames, ignore_index=True)


def _table(frame: pd.DataFrame, by: list[str]) -> str:
    lines = ["| " + " | ".join(by) + " | n | median abs error | p90 abs error |", "|" + "---|" * (len(by) + 3)]
    for _, r in summarize(frame, by).iterrows():
        lines.append("| " + " | ".join(str(r[b]) for b in by) + f" | {int(r.n)} | {r.median_pct:.1f} % | {r.p90_pct:.1f} % |")
    return "\n".join(lines)


def _bias(frame: pd.DataFrame) -> str:
    rows = frame.groupby(["source", "kind"])["error"].median().reset_index()
    return "\n".join(["| source | metric | median signed error |", "|---|---|---|"]
                     + [f"| {r.source} | {r.kind} | {r.error * 100:+.1f} % |" for r in rows.itertuples()])


def _plot(frame: pd.DataFrame) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 6))
    markers = {"throughput": "o", "TTFT": "^", "TPOT": "s", "E2E latency": "D"}
    for gpu, part in frame.groupby("gpu"):
        for kind, sub in part.groupby("kind"):
            ax.scatter(sub["measured"], sub["predicted"], s=18, marker=markers.get(kind, "x"), alpha=0.75,
                       color=plt.cm.tab10(sorted(frame["gpu"].unique()).index(gpu)), label=f"{gpu} {kind}")
    lo, hi = frame[["measured", "predicted"]].min().min() * 0.7, frame[["measured", "predicted"]].max().max() * 1.4
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    for f in (0.65, 1.35):
        ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured (ms or tok/s)",
           ylabel="predicted, leave-one-source-out", title="planner estimate vs measurements (dotted: +/-35 %)")
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)


def _signed(frame: pd.DataFrame, by: list[str]) -> str:
    """Median signed error per group: is a GPU (or engine, or TP) systematically favoured?"""
    rows = frame.groupby(by)["error"].agg(["size", "median"]).reset_index()
    return "\n".join(["| " + " | ".join(by) + " | n | median signed error |", "|" + "---|" * (len(by) + 2)]
                     + ["| " + " | ".join(str(getattr(r, b)) for b in by) + f" | {r.size} | {r.median * 100:+.1f} % |"
                        for r in rows.itertuples()])


def band_entries(engine: pd.DataFrame) -> list[dict]:
    """catalogs/error_bands.yaml: held-out |error| per (gpu | any) x (engine | any) x metric, with n and bias."""
    frame = engine[engine["kind"].isin(BAND_METRIC)].dropna(subset=["error"]).assign(metric=lambda d: d["kind"].map(BAND_METRIC))
    out = []
    for gpu_all in (False, True):
        for engine_all in (False, True):
            part = frame.assign(gpu="any" if gpu_all else frame["gpu"], engine="any" if engine_all else frame["engine"])
            part = part[part["engine"].isin((*PLANNING_ENGINES, "any"))]
            for (gpu, eng, metric), grp in part.groupby(["gpu", "engine", "metric"]):
                err = grp["error"] * 100
                out.append({"gpu": gpu, "engine": eng, "metric": metric, "n": int(len(grp)),
                            "median_abs_pct": round(float(err.abs().median()), 1),
                            "p90_abs_pct": round(float(err.abs().quantile(0.9)), 1),
                            "median_signed_pct": round(float(err.median()), 1),
                            "source": "benchmarks/accuracy.py: leave-one-source-out errors on ../shared/data/measured "
                                      "(docs/accuracy.md)", "date": DATE, "confidence": "medium" if len(grp) >= 20 else "low"})
    return out


DATE = "2026-12-02"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="pickle of the fold results: read it if it exists, else write it "
                                                   "(re-render the report without refitting)")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"measured data not found at {DATA}", file=sys.stderr)
        return 1
    catalog = load_catalog()
    obs, skipped = read_all(DATA)
    if args.cache and args.cache.exists():
        held_out, in_sample = pd.read_pickle(args.cache)
    else:
        held_out = loso(obs, catalog).assign(kind=lambda d: d["metric"].map(KIND))
        shipped = load_catalog()  # re-read: benchmarks/calibrate.py may have rewritten it while the folds ran
        in_sample = errors(obs, shipped).assign(kind=lambda d: d["metric"].map(KIND))
        if args.cache:
            pd.to_pickle((held_out, in_sample), args.cache)
    engine = held_out[~held_out["kind"].str.startswith("operator")]
    _plot(engine.dropna(subset=["predicted"]))
    write_atomic(DOC, render(engine, held_out, in_sample, skipped))
    header = "# Error bands of the performance model. GENERATED by benchmarks/accuracy.py (do not edit by hand).\n"
    write_atomic(BANDS, header + yaml.safe_dump({"schema_version": 1, "error_bands": band_entries(engine)}, sort_keys=False))
    print(f"wrote {DOC.relative_to(ROOT)}, {PLOT.relative_to(ROOT)} and {BANDS.relative_to(ROOT)}", file=sys.stderr)
    return 0


def render(engine: pd.DataFrame, held_out: pd.DataFrame, in_sample: pd.DataFrame, skipped: list) -> str:  # noqa: ANN001
    head = summarize(engine, ["kind"]).set_index("kind")
    verdict = []
    for kind, target in TARGET.items():
        r = head.loc[kind]
        ok = r.median_pct <= target and r.p90_pct <= P90_TARGET
        verdict.append(f"| {kind} | {int(r.n)} | {r.median_pct:.1f} % (target <= {target:g} %) | {r.p90_pct:.1f} % "
                       f"(target <= {P90_TARGET:g} %) | "
                       f"{'met' if ok else 'MISSED'} |")
    ins = summarize(in_sample[~in_sample["kind"].str.startswith("operator")], ["kind"])
    worst = engine.assign(abs_err=engine["error"].abs()).sort_values("abs_err", ascending=False).head(12)
    worst_rows = "\n".join(f"| {r.source} | {r.ref} | {r.gpu} | {r.model} tp{r.tp} {r.quant} | {r.mode} | {r.metric} | "
                           f"{r.measured:.4g} | {r.predicted:.4g} | {r.error * 100:+.0f} % |" for r in worst.itertuples())
    skipped_rows = "\n".join(f"- `{ref}`: {why}" for ref, why in skipped if not ref.startswith("h100-80gb-pcap"))
    n_pcap = sum(1 for ref, _ in skipped if ref.startswith("h100-80gb-pcap"))
    return TEMPLATE.format(
        verdict="\n".join(verdict), by_kind_gpu=_table(engine, ["kind", "gpu"]), by_source=_table(engine, ["source", "kind"]),
        by_engine=_table(engine, ["kind", "engine"]), by_tp=_table(engine, ["kind", "tp"]),
        signed_gpu=_signed(engine[engine["kind"].isin(BAND_METRIC)], ["gpu", "kind"]),
        ops=_table(held_out[held_out["kind"].str.startswith("operator")], ["kind", "gpu"]),
        in_sample="\n".join(f"| {r.kind} | {r.n} | {r.median_pct:.1f} % | {r.p90_pct:.1f} % |" for r in ins.itertuples()),
        worst=worst_rows, skipped=skipped_rows, bias=_bias(engine), n_pcap=n_pcap, n_rows=len(engine), n_ops=len(held_out) - len(engine),
    )


TEMPLATE = """# Accuracy of the performance model

Generated by `benchmarks/accuracy.py` (do not edit by hand). Every usable row of the measured data in
`../shared/data/measured/` ({n_rows} engine-level numbers, {n_ops} operator timings) is predicted by
`planner estimate` in the mode that matches how it was measured (lockstep batch, offline max-throughput,
Poisson rate, closed-loop concurrency). Errors are **leave-one-source-out**: the factors that predict a
row were fitted without any row of its data set. Error = predicted / measured - 1.

![predicted vs measured](accuracy.png)

## Targets (engine-level rows, leave-one-source-out)

| metric | n | median abs error | p90 abs error | verdict |
|---|---|---|---|---|
{verdict}

In-sample (the shipped catalog, fitted on every source), for comparison:

| metric | n | median abs error | p90 abs error |
|---|---|---|---|
{in_sample}

## By metric and GPU (leave-one-source-out)

{by_kind_gpu}

## By engine (leave-one-source-out)

`splitwise` is the Splitwise paper's own serving stack (its own engine kind, methodology "Engine profiles").

{by_engine}

## By TP degree (leave-one-source-out)

{by_tp}

## Signed error per GPU (target: within +/-10 %)

Negative = predicted below measured: for TTFT and TPOT the model is faster than measured, for throughput slower.

{signed_gpu}

## Error bands

Every `planner estimate` (and `planner solve --confidence p90`) reads these errors back from
`catalogs/error_bands.yaml`, which this script writes: per GPU, engine and metric, the most specific
group with at least 5 rows (else the GPU over all engines, the engine over all GPUs, all rows).

## By data set (leave-one-source-out), with the median signed error

{by_source}

Median signed error (negative = the model is faster than the measurement):

{bias}

## Where the targets are missed, and why

- **Re-run 2026-12-02** after this week's engine defaults (chunked prefill with a searched budget, prefix
  caching), with no model change: every number within 0.5 points of the previous report. None of the engine-level rows runs the
  chunked path with a searched budget (they are lockstep batches, offline max-throughput with the engine's
  own budget, or Poisson/concurrency points), so the defaults cannot move them. Tried and not shipped: capping
  HBM streaming at 0.92 of peak (the Vidur batch-1 GEMM profiles give 0.80 on A100, 0.885 on H100) moves the
  held-out medians to TPOT 23.2 / TTFT 16.8 / throughput 8.3 %, but the lower `default` bandwidth makes the chat
  example put an A100-40GB pool at an 8192-token budget that misses its TPOT SLO in simulation (78 ms p99 vs
  39.5 ms planned): a capacity-model limit for pools that mix long and short prompts (reported in issue 13),
  to be fixed before the cap ships.
- **Splitwise dominates TTFT/TPOT and is an unseen engine.** 152 of the 166 TTFT/TPOT rows. Held out, TP4 is
  twice as far off as TP2 (TPOT median signed -29 % / -34 % at TP4 on A100 / H100 against -13 % / -18 % at TP2):
  the measured decode step shrinks from TP2 to TP4 by 12 ms on A100 (54 -> 42 ms) where halving the weights
  per GPU saves 20 ms, so ~8 ms more per step at TP4 is fixed time that grows with TP in that stack. The Vidur
  profiles of the same GPUs (in the training folds) do not show it: per-layer GEMMs halve with TP (A100
  0.53 -> 0.28 ms, within 5 us of a fixed GEMM latency) and small all-reduces stay at 27-45 us (A100) or
  7-38 us (H100), i.e. 160 all-reduces cost 4-7 ms a step at any TP. A per-TP all-reduce latency fitted
  on Vidur would add ~2.4 ms at H100 TP4 and remove ~2 ms at TP2: < 3 points on the median. What is missing
  is the stack's own per-step time (host launch and scheduling without CUDA graphs, most likely), which only
  Splitwise rows measure.
- **Splitwise (Llama-2-70B, TP2/TP4, A100/H100), TTFT and TPOT.** These 152 rows are most of the TTFT and
  TPOT rows, and they come from the Splitwise paper's own serving stack (engine kind `splitwise`). Held out,
  no other data set measures that engine, so its `engine_kernel`/`engine_overhead` factors stay at 1 and the
  rows are predicted with the GPU factors of the production engines (TensorRT-LLM, vLLM CI), which run the
  same hardware faster: the signed error is negative. In sample the engine factors absorb the difference
  (kernels ~0.94x, fixed overheads ~2.1x on A100; catalogs/efficiency.yaml), which is why the in-sample TTFT
  and TPOT errors are much lower (7.7 % / 5.7 % median). The held-out number measures "an unseen engine", not the model's
  physics; calibrate on your own engine (`planner calibrate`, docs/calibration.md) to remove it.
- **Splitwise batch-64 prefills.** Two points (prefill of 64 x 512 tokens at TP2) measured 0.36-0.79 s,
  below the batch-32 points and below the compute roofline of the model's FLOPs; the PROVENANCE file
  flags them as noisy. The model stays physical (never faster than its roofline), so these rows keep a
  large error; they are reported, not dropped.
- **Online serving at high load (TensorRT-LLM, Llama-3-70B TP4, 16 req/s).** The TensorRT-LLM rows are
  now predicted with the engine's profile (in-flight batching: prompt chunks ride along with decode steps
  through the capacity model's chunked-prefill path); near saturation the measured TPOT still differs most.
- **Operators.** The all-reduce is a two-parameter line (a fixed latency + ring bytes / link bandwidth);
  measured NCCL times have a protocol switch (LL -> Simple) between small and large messages that a line
  cannot follow, and the small-message times are noisy (20-45 us at one size). Held out, the all-reduce
  factors come from the engine-level rows, which barely identify them, hence the larger error here than the
  5-12 % median of a fit on the profiles themselves (methodology, "TP communication").
- **L40S, H200.** Only 4-7 throughput rows each, all from one source: held out, they are predicted with
  the median factors of A100/H100, so their leave-one-source-out error mostly measures how different
  these GPUs are from the data-rich ones (H200 is -20.6 % signed: predicted slower than measured).
- **H100's bandwidth factor sits at its bound (1.0)** with a 2.5 ms fixed step overhead: the decode rows
  cannot separate streaming efficiency from fixed time, and the fit takes the corner. Predictions stay at or
  above the roofline; the physical cap (~0.92 of peak HBM) waits on the capacity fix above.
- **NIM at 100 clients (TTFT 8 s measured).** The concurrency mode queues the extra clients by Little's law
  but misses most of this queueing; the soft-L1 fit keeps this row from dragging the factors (it pulled
  H100's fp8 compute to 0.30 under plain least squares).

## Operator timings (Vidur profiles, leave-one-source-out)

{ops}

## The largest errors

| source | row | gpu | config | mode | metric | measured | predicted | error |
|---|---|---|---|---|---|---|---|---|
{worst}

## Rows not used

- {n_pcap} Splitwise points on `h100-80gb-pcap` (a power-capped H100, not a catalog GPU).
{skipped}
"""


if __name__ == "__main__":
    raise SystemExit(main())
