"""What-if overrides: `--set key.path=value` and named `scenarios:` applied to the raw workload before validation.

A path names any workload field by dots, list items by index (`traffic.histogram.0.share`); values are YAML
scalars or flow collections (`--set gpus=[h100,a100-80gb]`). Unknown paths are refused with a did-you-mean,
invalid values get pydantic's message naming the key (docs/whatif.md).
"""
from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import WorkloadError, suggest
from planner.io.workload import LoadedWorkload
from planner.schemas.workload import Workload
from planner.io.yamldoc import YamlDoc, allowed_keys, format_loc, validation_messages

Overrides = Mapping[str, Any] | Iterable[str]
"""`{"slo.tpot_ms": 30}` (typed values) or `["slo.tpot_ms=30"]` (YAML-parsed values)."""
BASE_SCENARIO = "base"
"""Implicit scenario name meaning "the workload as written" (unless the file defines one of that name)."""


@dataclass(frozen=True)
class Assignment:
    """One override: where it came from (for error messages), the dotted path and the value."""

    label: str
    """`--set slo.tpot_ms=30` or `file:line: scenarios.tight.set.slo.tpot_ms`."""
    path: str
    value: Any


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split `key.path=value` and parse the value as YAML (`30` -> 30, `[a, b]` -> list, `null` -> None)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise WorkloadError(f"--set {text}: expected KEY.PATH=VALUE, e.g. --set slo.tpot_ms=30")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise WorkloadError(f"--set {text}: value is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return key, value


def normalize(overrides: Overrides | None) -> list[Assignment]:
    """Overrides given as a mapping or as `key=value` strings, as Assignments in order."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [Assignment(f"--set {k}={v}", str(k), v) for k, v in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    return [Assignment(f"--set {text}", *parse_assignment(text)) for text in overrides]


def scenario_chain(loaded: LoadedWorkload, name: str) -> list[str]:
    """Scenario names from the root `base:` down to `name`; unknown names and cycles are errors."""
    scenarios = loaded.workload.scenarios
    if name == BASE_SCENARIO and name not in scenarios:
        return []
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        if current not in scenarios:
            where = f"{loaded.where('scenarios', chain[-1], 'base')}: scenarios.{chain[-1]}.base" if chain else "--scenario"
            raise WorkloadError(f"{where}: unknown scenario {current!r}{suggest(current, [*scenarios, BASE_SCENARIO])}")
        if current in chain:
            cycle = " -> ".join([*chain[chain.index(current):], current])
            raise WorkloadError(f"{loaded.where('scenarios', current, 'base')}: scenarios.{current}.base: cycle {cycle}")
        chain.append(current)
        current = scenarios[current].base
        if current == BASE_SCENARIO and BASE_SCENARIO not in scenarios:
            current = None
    return chain[::-1]


def scenario_assignments(loaded: LoadedWorkload, name: str) -> list[Assignment]:
    """The overrides of scenario `name`, its bases' first."""
    out = []
    for scen in scenario_chain(loaded, name):
        for path, value in loaded.workload.scenarios[scen].set.items():
            loc = ("scenarios", scen, "set", path)
            out.append(Assignment(f"{loaded.where(*loc)}: {format_loc(loc)}", path, value))
    return out


def _parts(assignment: Assignment) -> list[str]:
    parts = assignment.path.split(".")
    if any(not p for p in parts):
        raise WorkloadError(f"{assignment.label}: {assignment.path!r} is not a dotted path like slo.tpot_ms")
    if parts[0] == "scenarios":
        raise WorkloadError(f"{assignment.label}: scenarios cannot be overridden; use --scenario NAME")
    return parts


def assign(data: dict[str, Any], assignment: Assignment) -> None:
    """Set `assignment.path` in the raw workload dict, checking each key against the schema."""
    parts = _parts(assignment)
    node: Any = data
    loc: tuple[Any, ...] = ()

    def fail(message: str) -> WorkloadError:
        return WorkloadError(f"{assignment.label}: {format_loc(loc) if loc else assignment.path}: {message}")

    for i, part in enumerate(parts):
        key: str | int = part
        if isinstance(node, list):
            if not part.isdigit():
                raise fail(f"expected a list index, got {part!r}")
            if int(part) >= len(node):
                raise fail(f"index {part} out of range (the list has {len(node)} entries, 0..{len(node) - 1})")
            key = int(part)
        elif isinstance(node, dict):
            keys = allowed_keys(Workload, loc)
            if keys and part not in keys:
                raise fail(f"unknown key {part!r}{suggest(part, keys)}")
        else:
            raise fail(f"is the value {node!r}, it has no field {part!r}")
        if i == len(parts) - 1:
            node[key] = copy.deepcopy(assignment.value)
            return
        child = node[key] if isinstance(node, list) else node.get(key)
        if child is None:
            if parts[i + 1].isdigit():
                raise WorkloadError(f"{assignment.label}: {format_loc(loc + (key,))}: no list to index here; "
                                    f"set the whole list, e.g. --set {'.'.join(parts[:i + 1])}=[...]")
            child = node[key] = {}
        node, loc = child, loc + (key,)


def _split_errors(exc: ValidationError, steps: list[Assignment]) -> list[tuple[Assignment | None, list[Any]]]:
    """Group pydantic errors by the override that touched their location (None: the file's own)."""
    groups: dict[int, list[Any]] = {}
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        owner = -1
        for n, step in enumerate(steps):
            path = tuple(step.path.split("."))
            if loc[:len(path)] == path or path[:len(loc)] == loc:
                owner = n
        groups.setdefault(owner, []).append(err)
    return [(steps[n] if n >= 0 else None, errs) for n, errs in sorted(groups.items())]


def _validate(doc: YamlDoc, steps: list[Assignment]) -> Workload:
    """Validate the overridden data; a bad value is reported against the override that set it."""
    try:
        return Workload.model_validate(doc.data)
    except ValidationError as exc:
        lines: list[str] = []
        for step, errs in _split_errors(exc, steps):
            sub = ValidationError.from_exception_data(exc.title, errs)
            where = doc if step is None else YamlDoc(doc.data, {}, Path(step.label))
            lines += validation_messages(sub, Workload, where)
        raise WorkloadError("\n".join(lines)) from None


def apply_overrides(loaded: LoadedWorkload, overrides: Overrides | None = None, scenario: str | None = None) -> LoadedWorkload:
    """The workload with scenario `scenario` (and its bases) then `overrides` applied, re-validated.

    The hash covers the file and the applied overrides, so two what-ifs never share an input hash.
    """
    steps = (scenario_assignments(loaded, scenario) if scenario else []) + normalize(overrides)
    if not steps:
        return loaded
    data = copy.deepcopy(loaded.doc.data if loaded.doc is not None else loaded.workload.model_dump(mode="json"))
    for step in steps:
        assign(data, step)
    doc = YamlDoc(data, loaded.doc.lines if loaded.doc else {}, loaded.doc.path if loaded.doc else Path("workload"))
    workload = _validate(doc, steps)
    applied = json.dumps([[s.path, s.value] for s in steps], default=str, sort_keys=True)
    digest = hashlib.sha256(f"{loaded.sha256}\n{applied}".encode()).hexdigest()
    return LoadedWorkload(workload, doc, digest)


def describe(overrides: Overrides | None = None, scenario: str | None = None) -> dict[str, Any]:
    """The what-if echoed into a plan's inputs: scenario name and overrides as `path=value` strings."""
    return {"scenario": scenario, "overrides": [f"{a.path}={json.dumps(a.value, default=str)}" for a in normalize(overrides)]}
