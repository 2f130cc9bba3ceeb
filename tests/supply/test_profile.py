"""Measured capacity profiles: the hand-checked case, brute force vs the MILP, export round trips, every error."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pulp
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import api
from planner.cli.main import cli
from planner.schemas.ranges import OPEN
from planner.io.readers.profile_csv import read_profile
from planner.demand.synthetic import generate_trace
from planner.io.traces.planner import trace_csv as write_trace_csv
from planner.io.workload import load_workload, workload_from_dict
from tests.conftest import WORKLOADS

HEADER = "gpu,input_lo,input_hi,output_lo,output_hi,max_rps,cost_per_hour\n"
HAND_PROFILE = HEADER + "big,1,512,1,256,8,4\nbig,512,4096,1,256,2,4\nsmall,1,512,1,256,3,1\n"
HAND_WORKLOAD = """\
model: llama-3.1-8b
slo: {ttft_ms: 2000, tpot_ms: 50}
traffic:
  rate_rps: 13
  histogram:
    - {input: [1, 512], output: [1, 256], share: 0.7692307692307693}
    - {input: [512, 4096], output: [1, 256], share: 0.23076923076923078}
utilization_target: 1.0
capacity_profile: profile.csv
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_hand_checked_two_gpus_two_buckets(write):
    # short: 10 req/s, long: 3 req/s (13 x the shares). Only `big` serves long: 3/2 = 1.5 replicas of
    # load -> at least 2 big ($8/h); their spare 0.5 replica takes 0.5 x 8 = 4 req/s of short traffic.
    # The other 6 req/s go to `small` ($1/3 per req/s, cheaper than big's $4/8): 6/3 = 2 small ($2/h).
    # Total $10/h. 3 big alone: 1.5 + 10/8 = 2.75 -> 3 replicas = $12/h; 2 big + 1 small serve only 7
    # short req/s. Routing is forced: big's room 2 - 1.5 = 0.5 = 10 x / 8 -> x = 0.4 of short on big.
    write("profile.csv", HAND_PROFILE)
    result = run("solve", write("w.yaml", HAND_WORKLOAD), "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["cost_per_hour"] == pytest.approx(10.0)
    assert {p["gpu"]: p["replicas"] for p in plan["pools"]} == {"big": 2, "small": 2}
    short, long = plan["routing"]
    assert (short["bucket"], short["rate_rps"]) == ("in 1-511 / out 1-255", pytest.approx(10.0))
    assert short["shares"] == {"big/bf16/tp1": pytest.approx(0.4), "small/bf16/tp1": pytest.approx(0.6)}
    assert long["shares"] == {"big/bf16/tp1": pytest.approx(1.0)}
    baselines = {b["gpu"]: b for b in plan["baselines"]}
    assert baselines["big"]["cost_per_hour"] == pytest.approx(12.0) and baselines["big"]["gpus"] == 3
    assert baselines["small"]["cost_per_hour"] is None and "in 512-4095 / out 1-255" in baselines["small"]["reason"]
    assert plan["saving_vs_cheapest_single_type"] == pytest.approx(2 / 12)
    assert plan["inputs"]["capacity_source"].startswith("profile:") and "capacities from the capacity profile" in plan["notes"][0]


# ---- brute force: enumerate integer replicas, check routing with an LP ------------------------------

def routable(replicas: tuple[int, ...], caps: np.ndarray, rates: np.ndarray) -> bool:
    """Is there a fractional routing with every bucket fully routed and no config over its replicas?"""
    n_cfg, n_b = caps.shape
    lp = pulp.LpProblem("route", pulp.LpMinimize)
    x = {(k, b): pulp.LpVariable(f"x_{k}_{b}", 0, 1) for k in range(n_cfg) for b in range(n_b) if caps[k, b] > 0}
    lp += pulp.lpSum([])
    for b in range(n_b):
        lp += pulp.lpSum(v for (k, bb), v in x.items() if bb == b) == 1
    for k in range(n_cfg):
        lp += pulp.lpSum(rates[b] / caps[k, b] * v for (kk, b), v in x.items() if kk == k) <= replicas[k]
    lp.solve(pulp.HiGHS(msg=False))
    return lp.status == pulp.LpStatusOptimal


def brute_force_cost(costs: list[float], caps: np.ndarray, rates: np.ndarray) -> float:
    """Cheapest integer replica vector whose routing is feasible, by enumeration in cost order."""
    bounds = [math.ceil(sum(rates[b] / caps[k, b] for b in range(caps.shape[1]) if caps[k, b] > 0)) for k in range(len(costs))]
    vectors = sorted(itertools.product(*(range(u + 1) for u in bounds)), key=lambda n: sum(c * m for c, m in zip(costs, n)))
    return next(sum(c * m for c, m in zip(costs, n)) for n in vectors if routable(n, caps, rates))


@st.composite
def small_profiles(draw):
    n_cfg, n_b = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    caps = np.array([[draw(st.sampled_from([0, 0.5, 1, 1.5, 2, 3, 4, 6])) for _ in range(n_b)] for _ in range(n_cfg)], dtype=float)
    for b in range(n_b):  # every bucket served by someone
        if not caps[:, b].any():
            caps[draw(st.integers(0, n_cfg - 1)), b] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    costs = [float(draw(st.integers(1, 9))) for _ in range(n_cfg)]
    rates = np.array([draw(st.sampled_from([0.5, 1, 2, 3, 4.5, 6])) for _ in range(n_b)], dtype=float)
    return costs, caps, rates


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_profiles())
def test_solve_from_profile_matches_brute_force(tmp_path, profile):
    costs, caps, rates = profile
    n_cfg, n_b = caps.shape
    edges = [1 + 100 * b for b in range(n_b + 1)]
    rows = [f"g{k},{edges[b]},{edges[b + 1]},1,100,{float(caps[k, b])!r},{costs[k]!r}" for k in range(n_cfg) for b in range(n_b) if caps[k, b] > 0]
    (tmp_path / "p.csv").write_text(HEADER + "\n".join(rows) + "\n")
    total = float(rates.sum())
    histogram = [{"input": [edges[b], edges[b + 1]], "output": [1, 100], "share": rates[b] / total} for b in range(n_b)]
    loaded = workload_from_dict({"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "utilization_target": 1.0,
                                 "traffic": {"rate_rps": total, "histogram": histogram}, "capacity_profile": "p.csv"}, tmp_path)
    plan = api.solve(loaded)
    assert plan.status == "optimal"
    assert plan.cost_per_hour == pytest.approx(brute_force_cost(costs, caps, rates), abs=1e-6)
    # the plan's own routing is feasible: every bucket fully routed, no pool over its replicas
    replicas = {p.key: p.replicas for p in plan.pools}
    load = {key: 0.0 for key in replicas}
    for b, route in enumerate(plan.routing):
        assert sum(route.shares.values()) == pytest.approx(1.0)
        for key, share in route.shares.items():
            load[key] += route.rate_rps * share / caps[int(key[1:].split("/")[0]), b]
    assert all(load[key] <= replicas[key] + 1e-6 for key in replicas)


# ---- round trips: export from the model, solve from the export --------------------------------------

def same_plan(a, b) -> None:
    assert a.cost_per_hour == b.cost_per_hour
    assert [(p.key, p.replicas) for p in a.pools] == [(p.key, p.replicas) for p in b.pools]
    assert [(r.bucket, r.rate_rps, r.shares) for r in a.routing] == [(r.bucket, r.rate_rps, r.shares) for r in b.routing]


def test_export_then_solve_gives_the_same_plan_histogram(tmp_path):
    # the profile-mix example at three times its rate, where the model itself plans a mixed fleet
    import yaml

    data = yaml.safe_load((WORKLOADS / "profile-mix.yaml").read_text())
    data["traffic"]["rate_rps"] = 45
    data.pop("capacity_profile")
    data.setdefault("engine", {})["disaggregation"] = "off"  # a profile holds co-located rows only
    workload = tmp_path / "mix.yaml"
    workload.write_text(yaml.safe_dump(data))
    out = tmp_path / "exported.csv"
    result = run("profile", "export", workload, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# capacity profile exported by `planner profile export`")
    loaded = load_workload(workload)
    model_plan = api.solve(loaded.without_profile())
    profile_plan = api.solve(workload_from_dict(loaded.workload.model_dump() | {"capacity_profile": str(out)}, tmp_path))
    same_plan(model_plan, profile_plan)
    assert profile_plan.inputs["capacity_source"] == f"profile:{out}"
    assert len({p.gpu for p in model_plan.pools}) == 2  # a mixed fleet, so the round trip is not trivial


def test_export_then_solve_gives_the_same_plan_trace(tmp_path):
    trace = generate_trace("chat", 8, 5, seed=2)
    (tmp_path / "t.csv").write_text(write_trace_csv(trace))
    base = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 40},
            "traffic": {"trace": "t.csv", "target_rps": 30, "buckets": {"input": [1, 256, 1024, 4096], "output": [1, 128, 512]}},
            "gpus": ["h100", "a100-80gb", "l40s"], "quantization": ["bf16", "fp8"], "tp": [1, 2],
            "engine": {"disaggregation": "off"}}  # a profile holds co-located rows only
    (tmp_path / "w.yaml").write_text(json.dumps(base))
    result = run("profile", "export", tmp_path / "w.yaml", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    profile = read_profile(tmp_path / "p.csv")
    assert any(r.bucket[1] == OPEN for r in profile.rows)  # the open-ended last bucket survives as an empty input_hi
    model_plan = api.solve(workload_from_dict(base, tmp_path))
    profile_plan = api.solve(workload_from_dict(base | {"capacity_profile": "p.csv"}, tmp_path))
    same_plan(model_plan, profile_plan)


def test_straddling_histogram_entries_split_by_overlap(write):
    # Entry A: inputs 1..1024 (1024 lengths), share 0.4, over buckets [1, 513) and [513, 2049): 512
    # lengths each -> 0.2 + 0.2. Entry B: inputs 1025..2048, share 0.6, lies inside [513, 2049).
    # At 10 req/s: bucket 1 gets 2 req/s, bucket 2 gets 2 + 6 = 8 req/s. Bucket 2's input mean is the
    # share-weighted mean of 513..1024 and 1025..2048: (0.2 x 768.5 + 0.6 x 1536.5) / 0.8 = 1344.5.
    # Its p99: 0.75 of its mass is uniform on [1025, 2048], so the top 1% is the top 1/75 of that
    # piece: 2048 - 1023 / 75.
    write("profile.csv", HEADER + "a,1,513,1,256,4,1\na,513,2049,1,256,4,1\n")
    path = write("w.yaml", """\
model: llama-3.1-8b
slo: {ttft_ms: 2000, tpot_ms: 50}
traffic:
  rate_rps: 10
  histogram:
    - {input: [1, 1025], output: [1, 256], share: 0.4}
    - {input: [1025, 2049], output: [1, 256], share: 0.6}
capacity_profile: profile.csv
""")
    problem = api.prepare(path)
    b1, b2 = problem.demand.buckets
    r1, r2 = problem.demand.bucket_rates()
    assert (b1.rect, r1, b1.share) == ((1, 513, 1, 256), pytest.approx(2.0), pytest.approx(0.2))
    assert (b2.rect, r2, b2.share) == ((513, 2049, 1, 256), pytest.approx(8.0), pytest.approx(0.8))
    assert (b2.input_mean, b2.output_mean, b2.input_max) == (pytest.approx(1344.5), pytest.approx(128.0), 2048)
    assert b2.input_p99 == pytest.approx(2048 - 1023 / 75, abs=1e-6)


def test_trace_requests_land_in_their_profile_bucket(write, tmp_path):
    trace = generate_trace("chat", 5, 4, seed=1)
    write("t.csv", write_trace_csv(trace))
    write("profile.csv", HEADER + "a,1,300,1,,4,1\na,300,,1,,2,1\n")  # empty hi = open-ended
    data = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 2000, "tpot_ms": 50}, "traffic": {"trace": "t.csv"}, "capacity_profile": "profile.csv"}
    problem = api.prepare(workload_from_dict(data, tmp_path))
    short = int((trace.input_tokens < 300).sum())
    assert [b.share for b in problem.demand.buckets] == pytest.approx([short / len(trace), 1 - short / len(trace)])
    assert problem.demand.buckets[0].input_max == int(trace.input_tokens[trace.input_tokens < 300].max())


# ---- errors: file:line, exit 2, no traceback ---------------------------------------------------------

def solve_error(write, profile_text: str, workload: str = HAND_WORKLOAD) -> tuple[str, Path]:
    profile = write("profile.csv", profile_text)
    result = run("solve", write("w.yaml", workload))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    return result.stderr, profile


@pytest.mark.parametrize("text, line, message", [
    (HEADER + "big,1,512,1,256,8\n", 2, "expected 7 comma-separated fields as in the header (line 1), got 6"),
    (HEADER + 'big,1,512,1,256,"8,4\n', 2, "malformed CSV: unexpected end of data; expected comma-separated fields, one row per line"),
    (HEADER + "big,1,512,1,256,-2,4\n", 2, "max_rps: expected a positive, finite number of requests/s, got '-2'; "
                                           "leave the row out when the config cannot serve the bucket"),
    (HEADER + "big,1,512,1,256,0,4\n", 2, "max_rps: expected a positive, finite number of requests/s, got '0'; "
                                          "leave the row out when the config cannot serve the bucket"),
    (HEADER + "big,1,512,1,256,nan,4\n", 2, "max_rps: expected a positive, finite number of requests/s, got 'nan'"),
    (HEADER + "big,1,512,1,256,8,4\nbig,256,1024,1,256,2,4\n", 3,
     "bucket in 256-1023 / out 1-255 overlaps bucket in 1-511 / out 1-255 (line 2); buckets must be disjoint"),
    (HEADER + "big,1,512,1,256,8,4\nbig,1,512,1,256,9,4\n", 3, "duplicate row for big/bf16/tp1 in bucket in 1-511 / out 1-255 (first at line 2)"),
    (HEADER + "big,1,512,1,256,8,4\nbig,512,4096,1,256,2,5\n", 3, "cost_per_hour: big/bf16/tp1 costs 4 at line 2, got 5; a config has one price"),
    (HEADER + "big,512,512,1,256,8,4\n", 2, "input_hi: expected more than input_lo (512), got 512: a bucket is [lo, hi)"),
    (HEADER + "big,1.5,512,1,256,8,4\n", 2, "input_lo: expected a whole number of tokens >= 1, got '1.5'"),
    ("# comment\n\n" + HEADER + "big,1,512,1,256,8,-1\n", 4, "cost_per_hour: expected a positive, finite USD per replica-hour, got '-1'"),
])
def test_bad_rows_point_at_their_line(write, text, line, message):
    stderr, profile = solve_error(write, text)
    assert f"error: {profile}:{line}: {message}" in stderr


def test_unknown_gpu_needs_a_cost(write):
    stderr, profile = solve_error(write, HEADER + "h100,1,512,1,256,8,\ntpu-v5e,1,512,1,256,8,\nh1000,512,4096,1,256,2,\n")
    lines = stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"error: {profile}:3: gpu: 'tpu-v5e' is not in the catalog (valid: ")
    assert lines[0].endswith(") and the row has no cost_per_hour; give cost_per_hour (USD per replica-hour) or add the GPU with --catalog")
    assert lines[1].startswith(f"{profile}:4: gpu: 'h1000' is not in the catalog (did you mean 'h100'")


def test_missing_and_unknown_columns(write):
    stderr, profile = solve_error(write, "gpu,input_lo,input_hi,output_lo,output_hi,max_rsp\nbig,1,512,1,256,8\n")
    assert stderr.splitlines() == [
        f"error: {profile}:1: unknown column 'max_rsp' (did you mean 'max_rps'?)",
        f"{profile}:1: missing column 'max_rps'; expected a header with gpu,input_lo,input_hi,output_lo,output_hi,max_rps "
        "(optional: cost_per_hour,quant,tp,kv_dtype,source,max_num_batched_tokens)",
    ]


def test_all_row_problems_are_reported_at_once(write):
    stderr, profile = solve_error(write, HEADER + "big,1,512,1,256,-1,4\nbig,x,512,1,256,1,4\n")
    assert [line.removeprefix("error: ").split(": ")[0] for line in stderr.splitlines()] == [f"{profile}:2", f"{profile}:3"]


def test_empty_and_missing_profile(write):
    stderr, profile = solve_error(write, "# nothing\n")
    assert stderr.startswith(f"error: {profile}: the profile is empty")
    workload = write("w.yaml", HAND_WORKLOAD.replace("profile.csv", "nope.csv"))
    result = run("solve", workload)
    assert result.exit_code == 2 and f"{workload}:9: capacity_profile: file not found: {workload.parent / 'nope.csv'}" in result.stderr


def test_traffic_outside_every_bucket_names_the_lengths_and_share(write):
    stderr, profile = solve_error(write, HEADER + "big,1,512,1,256,8,4\n")
    assert stderr.strip() == (f"error: {profile.parent / 'w.yaml'}:5: traffic.histogram: 23.1% of the traffic falls in no bucket of the "
                              f"profile {profile}: in 512+ / out 1-255 (23.1%); add profile rows covering these lengths")


def test_bucket_no_allowed_gpu_serves(write):
    stderr, profile = solve_error(write, HAND_PROFILE.replace("big,", "h100,").replace("small,", "l4,"),
                                  HAND_WORKLOAD + "gpus: [l4]\n")
    assert stderr.strip() == (f"error: {profile}: no GPU config in scope can serve in 512-4095 / out 1-255 (23.1% of the traffic, "
                              "3 req/s); add profile rows for these buckets or widen the workload's gpus/quantization/tp/kv_dtype")


def test_catalog_gpu_without_cost_uses_the_catalog_price_times_tp(write):
    write("profile.csv", "gpu,input_lo,input_hi,output_lo,output_hi,max_rps,tp\nh100,1,100000,1,100000,5,2\n")
    plan = api.solve(write("w.yaml", HAND_WORKLOAD))
    # 13 req/s / 5 per replica = 2.6 -> 3 replicas of 2 H100s at the catalog's AWS on-demand $6.88/GPU-hour
    assert [(p.key, p.replicas, p.gpus) for p in plan.pools] == [("h100/bf16/tp2", 3, 6)]
    assert plan.cost_per_hour == pytest.approx(3 * 2 * 6.88)


def test_failed_export_writes_nothing(write, tmp_path):
    bad = write("bad.yaml", "model: llama-3.1-8b\nslo: {ttft_ms: 1000, tpot_ms: 50}\ntraffic: {rate_rps: 5}\n")
    result = run("profile", "export", bad, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and not (tmp_path / "out.csv").exists()
