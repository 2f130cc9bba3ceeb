"""Trace readers: the three layouts, three file formats, and refusal of bad traces."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planner.errors import WorkloadError
from planner.io.traces import read_trace
from planner.demand.synthetic import KINDS, generate_trace
from tests.conftest import shared_file


def test_azure_layout_parses_timestamps(write):
    path = write("a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                          "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n")
    t = read_trace(path)
    assert t.layout == "azure2023"
    assert t.arrival_s.tolist() == pytest.approx([0.0, 4.314579], abs=1e-5)
    assert t.input_tokens.tolist() == [374, 396] and t.output_tokens.tolist() == [44, 109]


def test_mooncake_jsonl_milliseconds_and_sorting(write):
    rows = [{"timestamp": 3000, "input_length": 10, "output_length": 2, "hash_ids": [1]},
            {"timestamp": 1000, "input_length": 20, "output_length": 3, "hash_ids": []}]
    path = write("m.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    t = read_trace(path)
    assert t.layout == "mooncake"
    assert t.arrival_s.tolist() == [0.0, 2.0] and t.input_tokens.tolist() == [20, 10]


def test_parquet_planner_layout(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"arrival_s": [0.5, 1.5], "input_tokens": [5, 6], "output_tokens": [7, 8]}).to_parquet(path)
    t = read_trace(path)
    assert t.duration_s == 1.0 and t.output_tokens.tolist() == [7, 8]


@pytest.mark.parametrize("body, message", [
    ("arrival_s,input_tokens,output_tokens\n", "the trace has no requests"),
    ("arrival_s,input_tokens,output_tokens\n0,5,5\n1,-5,5\n", "t.csv:3: input_tokens: expected a whole number of tokens from 1 to 2147483647, got '-5'"),
    ("arrival_s,input_tokens,output_tokens\n0,5,5\n1,5,nan\n", "t.csv:3: output_tokens: expected a whole number"),
    ("arrival_s,input_tokens,output_tokens\n0,5,5\ninf,5,5\n", "t.csv:3: arrival_s: expected a finite, non-negative time"),
    ("arrival_s,input_tokens,output_tokens\n0,5,5\n1,,5\n", "t.csv:3: input_tokens"),
    ("time,prompt,completion\n0,5,5\n", "the header names columns (time, prompt, completion), none of the known layouts"),
])
def test_bad_traces_are_refused_with_line(write, body, message):
    path = write("t.csv", body)
    with pytest.raises(WorkloadError) as err:
        read_trace(path)
    assert message in str(err.value)


def test_unreadable_and_unknown_extension(write, tmp_path):
    with pytest.raises(WorkloadError, match="trace file not found"):
        read_trace(tmp_path / "nope.csv")
    with pytest.raises(WorkloadError, match="cannot tell the trace format"):
        read_trace(write("t.txt", "x"))
    garbage = tmp_path / "g.parquet"
    garbage.write_bytes(b"\x00\x01 not parquet")
    with pytest.raises(WorkloadError, match="cannot read as parquet"):
        read_trace(garbage)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generated_traces_are_reproducible_and_near_the_rate(kind):
    a, b = generate_trace(kind, 5.0, 20, seed=7), generate_trace(kind, 5.0, 20, seed=7)
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.input_tokens, b.input_tokens)
    assert len(a) / (20 * 60) == pytest.approx(5.0, rel=0.35)  # bursty: rate modulated around the mean
    spec = KINDS[kind]
    assert spec.input_range[0] <= a.input_tokens.min() and a.input_tokens.max() <= spec.input_range[1]
    assert np.median(a.input_tokens) == pytest.approx(spec.input_median, rel=0.15)
    assert not np.array_equal(a.arrival_s, generate_trace(kind, 5.0, 20, seed=8).arrival_s)


def test_real_azure_and_mooncake_traces():
    conv = read_trace(shared_file("traces/azure2023/AzureLLMInferenceTrace_conv.csv"))
    assert len(conv) == 19366 and conv.layout == "azure2023" and 3000 < conv.duration_s < 3700
    moon = read_trace(shared_file("traces/mooncake/conversation_trace.jsonl"))
    assert len(moon) == 12031 and moon.input_tokens.max() == 126195


def test_prefix_hits_from_mooncake_hash_ids(write) -> None:
    from planner.io.traces import read_trace

    # blocks of 512 tokens; a request hits on its leading blocks that an earlier request had
    lines = ['{"timestamp": 0, "input_length": 1500, "output_length": 10, "hash_ids": [1, 2, 3]}',
             '{"timestamp": 10, "input_length": 1600, "output_length": 10, "hash_ids": [1, 2, 4, 3]}',  # 1, 2 hit; 4 misses
             '{"timestamp": 20, "input_length": 100, "output_length": 10, "hash_ids": [5]}',
             '{"timestamp": 5, "input_length": 1500, "output_length": 10, "hash_ids": [1, 2, 3]}']  # arrives 2nd: all hit
    trace = read_trace(write("t.jsonl", "\n".join(lines) + "\n"))
    # arrival order: t=0 (no hit), t=5 (3 blocks = 1536, capped at 1500 - 1), t=10 (2 blocks), t=20 (none)
    assert trace.cached_tokens.tolist() == [0, 1499, 1024, 0]


def test_cached_tokens_column_is_read_and_clipped(write) -> None:
    from planner.io.traces import read_trace

    trace = read_trace(write("t.csv", "arrival_s,input_tokens,output_tokens,cached_tokens\n0,100,5,40\n1,50,5,80\n"))
    assert trace.cached_tokens.tolist() == [40, 49]


def test_demand_scan_keeps_a_small_trace_for_the_replay(write):
    """The demand scan's trace is what read_trace returns next (no second parse); an edit of the file is a new
    trace, and a scan that skipped bad rows keeps nothing (a replay under on_bad_rows error must refuse them)."""
    from planner.io.traces import reader
    from planner.io.traces.scan import scan_trace

    path = write("k.csv", "arrival_s,input_tokens,output_tokens\n0.0,10,2\n1.0,20,3\n1.0,30,4\n")
    with scan_trace(path, ordered=True) as scan:
        reader.keep_trace(scan)
    kept = read_trace(path)
    assert read_trace(path) is kept and kept.input_tokens.tolist() == [10, 20, 30]  # ties keep file order
    path.write_text(path.read_text() + "2.5,40,5\n")
    assert read_trace(path).input_tokens.tolist() == [10, 20, 30, 40]
    bad = write("b.csv", "arrival_s,input_tokens,output_tokens\n0.0,10,2\n1.0,x,3\n")
    with scan_trace(bad, on_bad_rows="skip", ordered=True) as scan:
        reader.keep_trace(scan)
    with pytest.raises(WorkloadError, match="b.csv"):
        read_trace(bad)
