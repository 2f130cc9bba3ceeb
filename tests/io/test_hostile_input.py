"""The hostile inputs measured in issue 16, one test each: a clean error naming the file (or the flag), exit 2,
never a traceback, a hang or an unbounded allocation."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import WorkloadError
from planner.io.yamldoc import load_yaml
from tests.conftest import WORKLOADS

BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize("data, message", [
    (b"model: x\x00\n", "binary data (NUL bytes)"),
    (b"model: \x07x\n", "control characters are not allowed"),
    (BOMB.encode(), "alias bomb"),
    (b"a: &a [*a]\n", "recursive alias"),
    (b"[" * 3000 + b"]" * 3000, "invalid YAML"),
    (b"a: " + b"9" * 5000 + b"\n", "more than 4300 digits"),
    (b"? [1, 2]\n: 3\n", "a mapping key must be a plain name"),
    (b"{a: 1}: 2\n", "a mapping key must be a plain name"),
    (b"a: \xe9\n", "not a UTF-8 text file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
])
def test_hostile_yaml_is_refused_naming_the_file(tmp_path, data, message):
    path = tmp_path / "w.yaml"
    path.write_bytes(data)
    with pytest.raises(WorkloadError) as err:
        load_yaml(path, WorkloadError)
    assert str(path) in str(err.value) and message in str(err.value).replace("(4300 digits)", "more than 4300 digits")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    for args in (["solve", "/dev/zero"], ["solve", WORKLOADS / "chat.yaml", "--catalog", "/dev/zero"], ["solve", fifo],
                 ["calibrate", fifo, "-o", tmp_path / "o.yaml"], ["simulate", fifo], ["diff", fifo, fifo]):
        result = run(*args)
        assert result.exit_code == 2 and "not a regular file" in result.output and "Traceback" not in result.output, args


@pytest.mark.parametrize("args, message", [
    (["solve", WORKLOADS / "chat.yaml", "--time-limit", "nan"], "'nan' is not a finite number"),
    (["solve", WORKLOADS / "chat.yaml", "--seed", "-1", "--verify"], "--seed"),
    (["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input", "100", "--output", "100", "--rate", "nan"], "'nan' is not a finite"),
    (["diff", WORKLOADS / "chat.yaml", WORKLOADS / "chat.yaml", "--fail-above", "nan"], "--fail-above"),
    (["solve", WORKLOADS / "chat.yaml", "--set", "traffic.target_rps=1e308"], "less than or equal to 1000000000"),
    (["solve", WORKLOADS / "chat.yaml", "--set", "utilization_target=5e-324"], "greater than or equal to 0.01"),
    (["solve", WORKLOADS / "chat.yaml", "--set", "solver.time_limit_s=5e-324"], "greater than or equal to 0.1"),
    (["solve", WORKLOADS / "chat.yaml", "-o", WORKLOADS / "chat.yaml" / "plan.json"], "is a file, not a folder"),
    (["solve", WORKLOADS / "chat.yaml", "-o", "/proc/plan.json"], "/proc/plan.json: cannot write"),
    (["solve", WORKLOADS / "chat.yaml", "-o", "/tmp/" + "a" * 300 + ".json"], "File name too long"),
])
def test_bad_flags_and_values_are_clean_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
