"""Golden outputs: what the CLI prints for the examples, captured before the package was restructured.

Each case runs one `planner` command in-process and compares its output with tests/golden/<case>.json or
.txt. Numbers compare to a relative 1e-9 (vectorised code may reorder float sums), everything else exactly;
solver runtimes and absolute paths are normalised away. Regenerate with `pytest tests/test_golden.py
--update-golden` and review the diff: a changed golden file is a changed behaviour.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ("chat", "code", "rag", "batch", "chat-whatif", "profile-mix")
ESTIMATES = {
    "8b-h100-rate": "--model llama-3.1-8b --gpu h100 --input-len 512 --output-len 256 --request-rate 10",
    "8b-h100-batch": "--model llama-3.1-8b --gpu h100 --input-len 2048 --output-len 128 --batch 16",
    "8b-h100-fp8-max": "--model llama-3.1-8b --gpu h100 --quant fp8 --kv-dtype fp8 --input-len 1024 --output-len 512 --max-throughput",
    "8b-l4-conc": "--model llama-3.1-8b --gpu l4 --input-len 512 --output-len 128 --max-concurrency 8",
    "8b-a10g-int4": "--model llama-3.1-8b --gpu a10g --quant int4 --input-len 256 --output-len 256 --request-rate 2",
    "70b-h100-spec": "--model llama-3.1-70b --gpu h100 --tp 4 --input-len 512 --output-len 256 --batch 4 --spec-decode llama-3.1-8b:4:0.7",
    "70b-h100-tp4": "--model llama-3.1-70b --gpu h100 --tp 4 --input-len 1024 --output-len 256 --request-rate 2",
    "70b-a100-tp8-batch": "--model llama-3.1-70b --gpu a100-80gb --tp 8 --input-len 512 --output-len 128 --batch 32",
    "70b-h200-fp8-tp2": "--model llama-3.1-70b --gpu h200 --quant fp8 --tp 2 --input-len 4096 --output-len 512 --max-throughput",
    "70b-l40s-int4-tp4": "--model llama-3.1-70b --gpu l40s --quant int4 --tp 4 --input-len 1024 --output-len 256 --max-concurrency 16",
    "8b-h100-contiguous": "--model llama-3.1-8b --gpu h100 --input-len 1024 --output-len 256 --request-rate 5 --no-paged-kv",
    "8b-a100-noflash": "--model llama-3.1-8b --gpu a100-40gb --input-len 4096 --output-len 64 --batch 8 --no-flash-attention",
}
RTOL = 1e-9


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _normalise(value: Any, key: str = "") -> Any:
    """Drop solver runtimes and make repo paths relative, recursively."""
    if isinstance(value, dict):
        return {k: _normalise(v, k) for k, v in value.items() if k not in ("runtime_s",)}
    if isinstance(value, list):
        return [_normalise(v, key) for v in value]
    if isinstance(value, str):
        return value.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")
    return value


def _normalise_text(text: str) -> str:
    text = text.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")
    return re.sub(r"\((highs|cbc), [0-9.]+ s\)", r"(\1, <t> s)", text)


def _close(a: Any, b: Any, where: str = "") -> list[str]:
    """Differences between two JSON values: floats to RTOL, the rest exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a for d in _close(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{where}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12):
            return []
    elif a == b:
        return []
    return [f"{where}: {a!r} != {b!r}"]


def _check_json(name: str, actual: Any, update: bool) -> None:
    path = GOLDEN / f"{name}.json"
    actual = _normalise(actual)
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
        return
    expected = json.loads(path.read_text())
    problems = _close(expected, actual, name)
    assert not problems, "\n".join(problems[:20])


def _check_text(name: str, actual: str, update: bool) -> None:
    path = GOLDEN / f"{name}.txt"
    actual = _normalise_text(actual)
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    assert actual == path.read_text(), f"{path} differs from what the CLI prints now"


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_solve_json(example: str, update: bool) -> None:
    out = _run(["solve", str(ROOT / "workloads" / f"{example}.yaml"), "--format", "json"])
    _check_json(f"solve-{example}", json.loads(out), update)


@pytest.mark.parametrize("name", sorted(ESTIMATES))
def test_estimate_json(name: str, update: bool) -> None:
    out = _run(["estimate", *ESTIMATES[name].split(), "--format", "json"])
    _check_json(f"estimate-{name}", json.loads(out), update)


@pytest.mark.parametrize("chunked", [False, True])
def test_simulate_json(tmp_path: Path, chunked: bool, update: bool) -> None:
    plan = tmp_path / "plan.json"
    _run(["solve", str(ROOT / "workloads" / "chat.yaml"), "--format", "json", "-o", str(plan)])
    args = ["simulate", str(plan), "--duration", "60", "--seed", "3", "--format", "json"]
    out = _run(args + (["--chunked-prefill"] if chunked else []))
    _check_json(f"simulate-chat{'-chunked' if chunked else ''}", json.loads(out), update)


def test_compare_and_sweep_tables(update: bool) -> None:
    whatif = str(ROOT / "workloads" / "chat-whatif.yaml")
    _check_text("compare-chat-whatif", _run(["compare", whatif, "--scenario", "base,growth,a100-only", "--format", "md", "--jobs", "1"]), update)
    chat = str(ROOT / "workloads" / "chat.yaml")
    _check_text("sweep-chat-tpot", _run(["sweep", chat, "--param", "slo.tpot_ms=30,50,80", "--format", "md", "--jobs", "1"]), update)
    _check_text("solve-batch-table", _run(["solve", str(ROOT / "workloads" / "batch.yaml")]), update)
