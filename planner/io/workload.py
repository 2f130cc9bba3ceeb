"""Loading a workload: YAML with line marks -> validated Workload, plus where it came from (file, lines, hash)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from planner.errors import PlannerError, WorkloadError, suggest
from planner.io.catalog import Catalog
from planner.io.yamldoc import YamlDoc, load_yaml, validate
from planner.schemas.workload import Workload


class LoadedWorkload:
    """A validated workload with where it came from: the file, its lines, its hash, its directory."""

    def __init__(self, workload: Workload, doc: YamlDoc | None, sha256: str, entry: int | None = None) -> None:
        self.workload = workload
        self.doc = doc
        self.sha256 = sha256
        self.entry = entry
        """Index in `models:` this workload was cut from (for_model): its model/slo/traffic lines are that entry's."""

    @property
    def base_dir(self) -> Path:
        return self.doc.path.parent if self.doc else Path.cwd()

    def _resolve(self, name: str | None) -> Path | None:
        """A path from the workload, relative to the workload file's directory."""
        if name is None:
            return None
        path = Path(name)
        return path if path.is_absolute() else self.base_dir / path

    def trace_path(self) -> Path | None:
        return self._resolve(self.workload.traffic.trace)

    def profile_path(self) -> Path | None:
        return self._resolve(self.workload.capacity_profile)

    def without_profile(self) -> "LoadedWorkload":
        """The same workload with its capacity_profile removed, so the performance model fills the table."""
        return LoadedWorkload(self.workload.model_copy(update={"capacity_profile": None}), self.doc, self.sha256)

    def where(self, *loc: Any) -> str:
        if self.entry is not None and loc and loc[0] in ("model", "slo", "traffic"):
            loc = ("models", self.entry, *loc)
        return self.doc.where(tuple(loc)) if self.doc else "workload"

    def for_model(self, index: int) -> "LoadedWorkload":
        """The workload of one entry of `models:` alone: its model, SLO and traffic, every other field shared."""
        entry = self.workload.model_entries()[index]
        one = self.workload.model_copy(update={"model": entry.model, "slo": entry.slo, "traffic": entry.traffic, "models": []})
        return LoadedWorkload(one, self.doc, self.sha256, index if self.workload.models else None)


def load_workload(path: str | Path) -> LoadedWorkload:
    """Read and validate a workload YAML; errors carry file:line."""
    doc = load_yaml(path, WorkloadError)
    workload = validate(Workload, doc, WorkloadError)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LoadedWorkload(workload, doc, digest)


def workload_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> LoadedWorkload:
    """Validate a workload given as a Python dict (API use); paths resolve against `base_dir`."""
    doc = YamlDoc(data, {}, Path(base_dir) / "<dict>")
    workload = validate(Workload, doc, WorkloadError)
    digest = hashlib.sha256(workload.model_dump_json().encode()).hexdigest()
    return LoadedWorkload(workload, doc, digest)


def check_ids(loaded: LoadedWorkload, catalog: Catalog) -> None:
    """Every model, GPU and quantization id must exist in the catalog; say which line and suggest."""
    w = loaded.workload
    problems: list[str] = []

    def unknown(loc: tuple[Any, ...], what: str, value: str, choices: Any) -> None:
        problems.append(f"{loaded.where(*loc)}: {'.'.join(str(p) for p in loc)}: unknown {what} {value!r}{suggest(value, choices)}")

    if w.model not in catalog.models and not w.models:
        unknown(("model",), "model", w.model, catalog.models)
    for i, entry in enumerate(w.models):
        if entry.model not in catalog.models:
            unknown(("models", i, "model"), "model", entry.model, catalog.models)
    for i, gpu in enumerate(w.gpus or []):
        if gpu not in catalog.gpus:
            unknown(("gpus", i), "GPU", gpu, catalog.gpus)
    quant_ids = set(catalog.quantization) | {a for q in catalog.quantization.values() for a in q.aliases}
    for i, quant in enumerate(w.quantization):
        if quant not in quant_ids:
            unknown(("quantization", i), "quantization format", quant, quant_ids)
    if w.pricing.provider not in catalog.providers():
        unknown(("pricing", "provider"), "price provider", w.pricing.provider, catalog.providers())
    for gpu in w.pricing.overrides:
        if gpu not in catalog.gpus:
            unknown(("pricing", "overrides", gpu), "GPU", gpu, catalog.gpus)
    limit_ids = set(catalog.gpus) | catalog.instance_names()
    for key in w.fleet.limits:
        if key not in limit_ids:
            unknown(("fleet", "limits", key), "GPU or instance type", key, limit_ids)
    if problems:
        raise WorkloadError("\n".join(problems))


def input_error(loaded: LoadedWorkload, loc: tuple[Any, ...], message: str) -> PlannerError:
    """A WorkloadError pointing at `loc` in the workload file."""
    return WorkloadError(f"{loaded.where(*loc)}: {'.'.join(str(p) for p in loc)}: {message}")
