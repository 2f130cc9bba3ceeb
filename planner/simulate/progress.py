"""How far a long replay is, for a progress bar on stderr (issue 16: `simulate` and `solve --verify` ran for
tens of seconds with nothing on the terminal).

The replay stays pure: it draws nothing and knows no terminal. A caller that wants progress installs a
callback with `reporting(report)`; the pools' loops (planner.simulate.pools) then call it with (requests
replayed so far, requests in the run). The Python loop reports every REPORT_EVERY arrivals, the compiled
loop after each chunk of planner.simulate.native.CHUNK arrivals, a pool replayed in another process once it
is done. Without a callback nothing is counted.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from planner.simulate.native import Progress

Report = Callable[[int, int], None]
"""Called with (requests replayed so far, requests in the run), in the replaying process."""
REPORT_EVERY = 5_000
"""Arrivals between two reports of the Python loop: it replays ~5-15k requests/s (docs/benchmarks/simulate_speed.md),
so a bar moves a few times a second at the cost of one modulo per arrival."""

_SINK: ContextVar[Report | None] = ContextVar("planner_replay_progress", default=None)


@contextmanager
def reporting(report: Report) -> Iterator[None]:
    """Send the progress of every replay run inside the `with` block to `report`."""
    token = _SINK.set(report)
    try:
        yield
    finally:
        _SINK.reset(token)


class FleetProgress:
    """The requests replayed in each pool of one run, summed for the installed callback (if any)."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes, self.done, self.report = sizes, [0] * len(sizes), _SINK.get()
        self._send()

    def pool(self, k: int) -> Progress | None:
        """The callback run_pool gives pool k's loop (None when no one listens: the loop then counts nothing)."""
        if self.report is None:
            return None
        return lambda n: self._set(k, n)

    def finished(self, k: int) -> None:
        """Pool k is replayed (it ran in another process, which could not report)."""
        self._set(k, self.sizes[k])

    def _set(self, k: int, n: int) -> None:
        self.done[k] = n
        self._send()

    def _send(self) -> None:
        if self.report is not None:
            self.report(sum(self.done), sum(self.sizes))
