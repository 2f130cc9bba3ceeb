"""Shared pieces of the fuzz suite: the one allowed-outcome check, a per-run time limit, and the example budget.

Only two outcomes are allowed for hostile input: a result (exit 0; 1 for the CI gates of diff and --verify;
3 when no fleet can meet the SLOs) or a clean error naming the file (and line where there is one), exit 2.
Never a traceback, never a hang. `PLANNER_FUZZ_EXAMPLES=2000 pytest tests/fuzz` is the long run
(docs/contributing.md); CI runs the default budget, under 3 minutes on 2 cores.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from planner.cli.main import cli

EXAMPLES = int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "25"))
RUN_LIMIT_S = 30
"""A run longer than this is a hang."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("PLANNER_FUZZ_EXAMPLES") is None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
"""Same examples on every CI run (derandomized); a long run explores afresh."""


class Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ANN001 - signal handler
    raise Hang(f"no answer within {RUN_LIMIT_S} s")


def run(args: Sequence[str], names: Sequence[str | Path] = (), ok: Sequence[int] = (0, 3)) -> Result:
    """Invoke the CLI in-process and check the outcome: a result (exit in `ok`) or a one-line-per-problem
    error with exit 2 that names one of `names` (the files given) when any was given."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(RUN_LIMIT_S)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = result.output
    if isinstance(result.exception, Hang):
        raise AssertionError(f"planner {' '.join(map(str, args))}: hang") from result.exception
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"planner {' '.join(map(str, args))}: {type(result.exception).__name__}: {result.exception}\n{text[-2000:]}")
    assert "Traceback" not in text, text[-2000:]
    assert result.exit_code in (*ok, 2), f"exit {result.exit_code}: {text[-2000:]}"
    if result.exit_code == 2:
        assert text.strip(), "an error must say something"
        if names and "Invalid value for" not in text and "Usage:" not in text:
            assert any(Path(n).name in text for n in names), f"the error names none of {list(map(str, names))}:\n{text[-1500:]}"
    return result
