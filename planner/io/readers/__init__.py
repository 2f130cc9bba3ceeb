"""Benchmark-file readers behind one contract: `Reader.sniff(path)` says whether a file is in its layout,
`Reader.read(path, context)` returns what it holds (Observations for calibration, a Profile for capacity).

A new benchmark tool's format is one module here that registers a Reader; `detect` picks the reader from
the file's content, and a file no reader recognises gets an error listing the layouts tried.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from planner.errors import WorkloadError

Produces = Literal["observations", "profile"]
Skipped = tuple[str, str]
"""(row id, reason) of a row a reader could not use."""
MODULES = ("vllm_json", "sglang_jsonl", "aiperf", "guidellm", "calibration_csv", "profile_csv", "measured")
"""Reader modules, imported (and so registered) on first use, in the order detection tries them."""


@dataclass(frozen=True)
class ReadContext:
    """What a file may not record itself: the hardware and model a benchmark ran on."""

    model: str | None = None
    gpu: str | None = None
    tp: int = 1
    quant: str = "bf16"
    kv_dtype: str = "fp16"


@dataclass(frozen=True)
class ReadResult:
    """The items read, and the rows left out with their reason."""

    items: Any
    skipped: list[Skipped] = field(default_factory=list)


class Reader(Protocol):
    """One file layout of one tool."""

    name: str
    produces: Produces
    description: str
    """The fields it uses (and what it ignores), for docs and error messages."""

    def sniff(self, path: Path) -> bool:
        """True when `path` looks like this layout (cheap: a header or the first bytes)."""
        ...

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        ...


READERS: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    READERS[reader.name] = reader
    return reader


def _load_all() -> None:
    for name in MODULES:
        importlib.import_module(f"planner.io.readers.{name}")


def detect(path: str | Path, produces: Produces) -> Reader:
    """The first registered reader of kind `produces` whose sniff accepts `path`."""
    _load_all()
    path = Path(path)
    candidates = [r for r in READERS.values() if r.produces == produces]
    for reader in candidates:
        if reader.sniff(path):
            return reader
    tried = "; ".join(f"{r.name} ({r.description})" for r in candidates)
    raise WorkloadError(f"{path}: not a layout planner reads for {produces}; tried: {tried}")


def read_head(path: Path, size: int = 65536) -> str:
    """The first `size` bytes as text ('' when unreadable), for sniffing."""
    try:
        with path.open("rb") as fh:
            return fh.read(size).decode("utf-8-sig", errors="replace")
    except OSError:
        return ""
