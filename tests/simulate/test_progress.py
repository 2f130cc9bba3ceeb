"""Replay progress (planner.simulate.progress): what the pools' loops report, and the CLI's bar on stderr only."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.simulate.pools import run_pools
from planner.simulate.progress import REPORT_EVERY, reporting
from planner.simulate.request_log import RequestLog
from planner.simulate.steps import build_step_model
from tests.simulate.conftest import make_config, poisson_trace
from tests.simulate.test_cli import plan_file  # noqa: F401 - the module's solved chat plan, a fixture


def _replay(catalog, n: int, jobs: int, compiled: bool | None = None) -> tuple[list[tuple[int, int]], RequestLog]:
    """Two pools of one config replaying the halves of an n-request trace, with every report recorded."""
    model = build_step_model(make_config(catalog))
    trace = poisson_trace(40.0, n, seed=2)
    log = RequestLog(trace.arrival_s, trace.input_tokens, trace.output_tokens)
    members = [np.arange(0, n, 2), np.arange(1, n, 2)]
    seen: list[tuple[int, int]] = []
    with reporting(lambda done, total: seen.append((done, total))):
        if compiled is None:
            run_pools([model, model], [2, 1], members, log, "least-loaded", "serial", False, jobs)
        else:
            from planner.simulate.router import run_pool

            run_pool(model, 2, members[0], log, "least-loaded", "serial", compiled=compiled,
                     progress=lambda k: seen.append((k, len(members[0]))))
    return seen, log


def test_the_python_loop_reports_every_few_thousand_arrivals_up_to_the_total(catalog):
    n = 3 * REPORT_EVERY
    seen, _ = _replay(catalog, n, jobs=1)
    done = [d for d, _ in seen]
    assert {t for _, t in seen} == {n}  # always out of the run's requests
    assert done == sorted(done) and done[0] == 0 and done[-1] == n  # starts at nothing, ends complete, never goes back
    assert len(seen) >= n // REPORT_EVERY  # intermediate reports, not just the end


def test_the_compiled_loop_reports_after_each_chunk(catalog, monkeypatch):
    import planner.simulate.native as native

    monkeypatch.setattr(native, "CHUNK", 300)
    seen, _ = _replay(catalog, 1200, jobs=1, compiled=True)
    assert [d for d, _ in seen] == [300, 600]  # 600 requests in pool 0: two chunks of 300


def test_pools_in_other_processes_report_when_each_is_done(catalog):
    seen, _ = _replay(catalog, 400, jobs=2)
    assert seen[0] == (0, 400) and seen[-1] == (400, 400) and sorted(d for d, _ in seen[1:]) == [200, 400]


def test_no_listener_no_counting(catalog):
    """Without `reporting` the loops get no callback (and the outcomes do not depend on one)."""
    _, with_bar = _replay(catalog, 600, jobs=1)
    model = build_step_model(make_config(catalog))
    trace = poisson_trace(40.0, 600, seed=2)
    log = RequestLog(trace.arrival_s, trace.input_tokens, trace.output_tokens)
    run_pools([model, model], [2, 1], [np.arange(0, 600, 2), np.arange(1, 600, 2)], log, "least-loaded", "serial", False, 1)
    for name in RequestLog.OUTCOMES:
        np.testing.assert_array_equal(getattr(log, name), getattr(with_bar, name))


def _untimed(text: str) -> object:
    """The JSON document without its wall-clock fields (a solve reports how long the MILP took)."""
    def drop(value: object) -> object:
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if not k.endswith("time_s")}
        return [drop(v) for v in value] if isinstance(value, list) else value
    return drop(json.loads(text))


@pytest.mark.parametrize("command", [["simulate", "{plan}", "--duration", "120"], ["solve", "{workload}", "--verify"]])
def test_the_bar_goes_to_stderr_and_stdout_is_unchanged(plan_file, monkeypatch, command):  # noqa: F811
    from tests.simulate.test_cli import CHAT

    args = [a.format(plan=plan_file, workload=CHAT) for a in command] + ["--format", "json"]
    monkeypatch.setattr("planner.cli.progress.stderr_is_terminal", lambda: True)  # CliRunner's stderr is no terminal
    quiet = CliRunner().invoke(cli, [*args, "--quiet"])
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == quiet.exit_code and _untimed(shown.stdout) == _untimed(quiet.stdout)  # one JSON document, the same
    assert "requests" in shown.stderr and "\x1b[" in shown.stderr  # the bar, drawn on stderr
    assert "\x1b[" not in quiet.stderr
    monkeypatch.undo()
    not_a_terminal = CliRunner().invoke(cli, args)
    assert "\x1b[" not in not_a_terminal.stderr and _untimed(not_a_terminal.stdout) == _untimed(quiet.stdout)
