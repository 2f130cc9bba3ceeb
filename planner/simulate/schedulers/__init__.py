"""Replica schedulers by name: how one replica batches prefills and decodes (SimOptions.scheduler).

`serial` (vLLM V0: prefill steps pause decode) and `chunked` (vLLM V1: prompt chunks ride in mixed steps
under the token budget) share planner.simulate.schedulers.base.ReplicaScheduler and differ only in
admission and in the prefill step; `decode` is a disaggregated decode replica (KV arrives computed). A new scheduler is one subclass in a module of this package plus one
entry in SCHEDULERS.
"""
from __future__ import annotations

from planner.simulate.schedulers.base import ReplicaScheduler
from planner.simulate.schedulers.chunked import ChunkedScheduler
from planner.simulate.schedulers.decode import DecodeScheduler
from planner.simulate.schedulers.serial import SerialScheduler

SCHEDULERS: dict[str, type[ReplicaScheduler]] = {cls.name: cls for cls in (SerialScheduler, ChunkedScheduler, DecodeScheduler)}
"""Every registered scheduler class by its name."""


def scheduler_class(name: str) -> type[ReplicaScheduler]:
    """The scheduler registered as `name`; ValueError naming the valid ones otherwise."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown replica scheduler {name!r}; valid: {', '.join(sorted(SCHEDULERS))}")
    return SCHEDULERS[name]
