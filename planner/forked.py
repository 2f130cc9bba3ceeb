"""A call in a forked child process, so that work which shares nothing with the parent's runs on the second core
(a plan's replay beside its comparisons, half of the single-GPU-type baselines beside the other half).

The child only runs Python and the libraries the caller names (never DuckDB, whose threads a fork does not
copy); it sends its pickled return value back through a pipe and exits without running the parent's atexit
handlers. Where fork is missing, only one CPU is ours, or the child fails, `result()` says so and the caller
runs the call itself: the same function on the same inputs, so the outcome is the same either way.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Forked(Generic[T]):
    """A call running in a forked child; `result()` waits for it."""

    pid: int
    fd: int

    def result(self) -> T | None:
        """The child's return value, or None when it failed (the caller then runs the call itself)."""
        with os.fdopen(self.fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        return pickle.loads(data) if status == 0 and data else None


def fork_call(fn: Callable[[], T]) -> Forked[T] | None:
    """Start `fn()` in a forked child (None where fork is missing or only one CPU is usable)."""
    if not hasattr(os, "fork") or usable_cpus() < 2:
        return None
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: never returns into the caller's code, never runs its atexit handlers
        status = 1
        try:
            os.close(read)
            data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return Forked(pid, read)
