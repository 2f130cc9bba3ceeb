"""The one-pass trace scan: bad rows named by file and line, the bad-row policies, globs and compressed files,
the SQL histogram against the numpy one, and `planner trace bucket` (its YAML and its SQL)."""
from __future__ import annotations

import gzip
import json
import os
import shutil

import duckdb
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from planner.cli.main import cli
from planner.demand.build import build_demand, demand_from_trace
from planner.errors import WorkloadError
from planner.io.catalog import load_catalog
from planner.io.traces import read_trace
from planner.io.traces.histogram import exact_percentiles
from planner.io.workload import load_workload
from tests.conftest import WORKLOADS

HEADER = "arrival_s,input_tokens,output_tokens\n"
GOOD = "".join(f"{k * 0.5},{100 + k},{20 + k}\n" for k in range(4000))  # beyond DuckDB's 2048-row sniffing sample


def refused(path, **kw) -> str:
    with pytest.raises(WorkloadError) as err:
        read_trace(path, **kw)
    return str(err.value)


def test_text_in_a_numeric_column_names_the_line(write):
    # line 1 header, lines 2..4001 good rows, line 4002 the bad one
    message = refused(write("t.csv", HEADER + GOOD + "2000.5,many,5\n"))
    assert "t.csv:4002: input_tokens: expected a whole number of tokens" in message and "got 'many'" in message
    assert "--on-bad-rows skip" in message


@pytest.mark.parametrize("row, what", [("1.5,10\n", "too few columns"), ("1.5,10,5,9\n", "too many columns")])
def test_ragged_rows_are_named_by_line_not_as_unknown_columns(write, row, what):
    message = refused(write("t.csv", HEADER + "0,5,5\n" + row + "2,5,5\n"))
    assert f"t.csv:3: {what}" in message and "known layouts" not in message


def test_empty_file_and_header_only(write):
    assert "t.csv: empty file; expected a header line" in refused(write("t.csv", ""))
    assert "the trace has no requests" in refused(write("h.csv", HEADER))


@pytest.mark.parametrize("stamp", ["yesterday", "infinity", "2023-13-45 10:00:00"])
def test_bad_timestamps_are_rows_with_a_line(write, stamp):
    body = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n" + f"{stamp},396,109\n"
    message = refused(write("a.csv", body))
    assert "a.csv:3: TIMESTAMP: expected a time stamp" in message and repr(stamp) in message


def test_a_year_one_timestamp_is_refused_before_allocating_windows(write, tmp_path):
    write("a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n0001-01-01 00:00:00,374,44\n2023-11-16 18:15:46.68,396,109\n")
    w = write("w.yaml", "model: llama-3.1-8b\nslo: {ttft_ms: 1000, tpot_ms: 50}\ntraffic: {trace: a.csv}\n")
    loaded = load_workload(w)
    with pytest.raises(WorkloadError, match="windows of 60 s .at most 10,000,000.; check its time stamps"):
        build_demand(loaded, load_catalog().model("llama-3.1-8b"))


def test_tiny_peak_window_is_refused_not_allocated(write):
    write("t.csv", HEADER + "0,5,5\n600,5,5\n")
    w = write("w.yaml", "model: llama-3.1-8b\nslo: {ttft_ms: 1000, tpot_ms: 50}\ntraffic: {trace: t.csv, peak_window_s: 1.0e-6}\n")
    with pytest.raises(WorkloadError, match="check its time stamps, or use a longer traffic.peak_window_s"):
        build_demand(load_workload(w), load_catalog().model("llama-3.1-8b"))


def test_non_utf8_and_binary_files(tmp_path):
    latin = tmp_path / "l.csv"
    latin.write_bytes(HEADER.encode() + "0,5,5\n".encode() * 3 + b"1,\xe9\xe9,5\n" + b"2,5,5\n" * 3)
    assert "l.csv: not UTF-8 text (byte 0xe9" in refused(latin)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert "b.csv: binary data (NUL bytes)" in refused(binary)


def test_json_lines_with_strings_nan_and_broken_lines(write):
    rows = [json.dumps({"arrival_s": 0, "input_tokens": 5, "output_tokens": 5}),
            '{"arrival_s": 1, "input_tokens": "five", "output_tokens": 5}',
            '{"arrival_s": 2, "input_tokens": NaN, "output_tokens": 5}',
            '{"arrival_s": 3, "input_tokens": 5',
            json.dumps({"arrival_s": 4, "input_tokens": 5, "output_tokens": 5})]
    message = refused(write("t.jsonl", "\n".join(rows) + "\n"))
    assert "3 bad rows" in message
    for line, got in [(2, "'five'"), (3, "'NaN'"), (4, "None")]:
        assert f"t.jsonl:{line}: input_tokens" in message and got in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(fifo)


def test_policies_skip_and_report_count_the_rows(write, caplog):
    body = HEADER + "0,5,5\n" + "".join(f"{k},x,5\n" for k in range(1, 8)) + "9,5,5\n"
    path = write("t.csv", body)
    message = refused(path)
    assert "7 bad rows (first 5 below)" in message and "t.csv:3:" in message and "t.csv:7:" in message
    assert "t.csv:8:" not in message and "... and 2 more" in message
    skipped = read_trace(path, on_bad_rows="skip")
    assert len(skipped) == 2 and skipped.skipped_rows == 7 and not caplog.records
    reported = read_trace(path, on_bad_rows="report")
    assert reported.skipped_rows == 7 and "skipped 7 bad rows" in caplog.text and "t.csv:3:" in caplog.text


def test_missing_trace_names_the_workload_line_and_resolved_path(write, tmp_path):
    w = write("w.yaml", "model: llama-3.1-8b\nslo: {ttft_ms: 1000, tpot_ms: 50}\ntraffic:\n  trace: gone.csv\n")
    result = CliRunner().invoke(cli, ["solve", str(w)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{w}:4: " in result.output and f"resolved to {tmp_path / 'gone.csv'}" in result.output


def test_globs_and_gzip_read_as_one_trace(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.csv").write_text(HEADER + "0,5,5\n1,6,6\n")
    with gzip.open(tmp_path / "logs" / "b.csv.gz", "wt") as fh:
        fh.write(HEADER + "2,7,7\n3,8,x\n")
    t = read_trace(tmp_path / "logs" / "*.csv*", on_bad_rows="skip")
    assert t.input_tokens.tolist() == [5, 6, 7] and t.skipped_rows == 1
    assert "b.csv.gz:3: output_tokens" in refused(tmp_path / "logs" / "*.csv*")
    assert "no trace file matches" in refused(tmp_path / "logs" / "*.parquet")


def test_sql_histogram_equals_the_numpy_one(tmp_path):
    """The SQL path (build_demand) and the numpy path (demand_from_trace, used by replay) give the same buckets."""
    shutil.copy(WORKLOADS / "traces" / "chat.csv", tmp_path / "chat.csv")
    loaded = load_workload(WORKLOADS / "chat.yaml")
    model = load_catalog().model("llama-3.1-8b")
    sql = build_demand(loaded, model)
    numpy = demand_from_trace(read_trace(loaded.trace_path()), loaded.workload.traffic, model, "chat")
    assert sql.design_rps == pytest.approx(numpy.design_rps, rel=1e-12)
    assert sql.rate.series_rps.tolist() == numpy.rate.series_rps.tolist()
    for a, b in zip(sql.buckets, numpy.buckets, strict=True):
        assert a.rect == b.rect and a.share == pytest.approx(b.share, rel=1e-12)
        assert a.input_q == pytest.approx(b.input_q, rel=1e-12) and a.output_q == pytest.approx(b.output_q, rel=1e-12)
        assert (a.input_mean, a.input_max, a.output_max) == pytest.approx((b.input_mean, b.input_max, b.output_max))


def test_exact_percentiles_from_counts_match_numpy():
    rng = np.random.default_rng(3)
    sample = rng.integers(1, 50, size=997)
    values, counts = np.unique(sample, return_counts=True)
    qs = [0, 5, 37.5, 50, 99, 100]
    assert exact_percentiles(values, counts, qs) == pytest.approx(np.percentile(sample, qs), rel=1e-12)


def test_trace_bucket_yaml_plans_and_sql_reproduces_the_counts(tmp_path):
    trace = WORKLOADS / "traces" / "chat.csv"
    out = tmp_path / "traffic.yaml"
    result = CliRunner().invoke(cli, ["trace", "bucket", str(trace), "-o", str(out)])
    assert result.exit_code == 0, result.output
    traffic = yaml.safe_load(out.read_text())["traffic"]
    assert sum(e["share"] for e in traffic["histogram"]) == pytest.approx(1.0, abs=1e-9)
    w = tmp_path / "w.yaml"
    w.write_text(yaml.safe_dump({"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "traffic": traffic, "gpus": ["h100"]}))
    assert CliRunner().invoke(cli, ["solve", str(w)]).exit_code == 0
    sql = CliRunner().invoke(cli, ["trace", "bucket", str(trace), "--sql"]).output
    cells, windows = (duckdb.sql(statement).fetchall() for statement in sql.split(";")[:2])
    counts = [row[1] for row in cells]
    assert sum(counts) == 6723 and [round(c / 6723, 6) for c in counts] == pytest.approx([e["share"] for e in traffic["histogram"]], abs=2e-6)
    assert max(n for slot, n in windows if slot < 10) / 60 == pytest.approx(traffic["rate_rps"], rel=1e-5)
    for dialect in ("spark", "bigquery"):
        text = CliRunner().invoke(cli, ["trace", "bucket", str(trace), "--sql", "--dialect", dialect, "--table", "logs.req"]).output
        assert "FROM logs.req" in text and ("percentile(" in text if dialect == "spark" else "APPROX_QUANTILES" in text)
