"""The layout keeps its promises: data flows one way through the stages, and no module grows past ~400 lines.

Stage order (docs/architecture.md): errors, forked and schemas < io < demand < perf < supply < optimize < plan < api
< simulate, calibration < studies, export < report < cli. A module may import its own stage and earlier ones,
never a later one (inside a function too: a lazy import is still a dependency).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "planner"
RANK = {"errors": 0, "forked": 0, "schemas": 0, "catalogs": 0, "io": 1, "demand": 2, "perf": 3, "supply": 4, "optimize": 5, "plan": 6,
        "api": 7, "simulate": 8, "calibration": 8, "studies": 9, "export": 9, "report": 10, "cli": 11, "__init__": 12}
MAX_LINES = 400


def _stage(module: str) -> str:
    """`planner.supply.table` -> `supply`; `planner` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner"):
            if node.module == "planner":  # `from planner import api`
                out += [(node.lineno, f"planner.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("planner")]
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_later_stage(path: Path) -> None:
    own = _stage(".".join(path.relative_to(ROOT).with_suffix("").parts))
    for line, module in _imports(path):
        target = _stage(module)
        assert RANK[target] <= RANK[own], f"{path.relative_to(ROOT)}:{line}: {own} imports {module} (a later stage: {target})"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by what it holds"


def test_every_package_is_shipped() -> None:
    """pyproject lists packages explicitly (catalogs/ is mapped to planner.catalogs): none may be missing."""
    text = (ROOT / "pyproject.toml").read_text()
    for init in PACKAGE.rglob("__init__.py"):
        name = ".".join(init.parent.relative_to(ROOT).parts)
        assert f'"{name}"' in text, f"pyproject.toml [tool.setuptools] packages lacks {name}"
    assert '"planner.catalogs"' in text and (ROOT / "catalogs" / "gpus.yaml").is_file()


def test_solver_names_are_the_registry() -> None:
    """The workload schema's solver choices are the solver adapter's registry."""
    import typing

    from planner.optimize.solvers import SOLVERS
    from planner.schemas.workload import SolverOptions

    assert set(typing.get_args(SolverOptions.model_fields["name"].annotation)) == set(SOLVERS)


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import(path: Path) -> None:
    """Benchmarks are run by hand; their imports must still name modules that exist."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr] - top level only: main() is behind __name__
