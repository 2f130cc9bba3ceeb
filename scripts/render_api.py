"""docs/api.md from the docstrings: the Python API (solve and friends), Plan and its fields, the studies and the
exceptions. Fields documented by attribute docstrings (a string right under `name: type`) are read from the
source with `ast`, since Python keeps no such docstring at run time.

    python scripts/render_api.py           # rewrite docs/api.md
    python scripts/render_api.py --check   # exit 1 when docs/api.md is not what the code says (CI: tests/test_docs.py)
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
SECTIONS = [
    ("Solving", "planner.api", ["solve", "prepare", "load", "plan_from_table", "Problem"]),
    ("The plan", "planner.plan.model", ["Plan", "Pool"]),
    ("Studies", "planner.studies.compare", ["compare", "diff", "Comparison", "PoolChange", "CostChange"]),
    ("", "planner.studies.sweep", ["sweep", "parse_param", "Sweep"]),
    ("", "planner.studies.sensitivity", ["sensitivity", "Sensitivity", "Factor"]),
    ("", "planner.studies.report", ["build_report"]),
    ("Traces", "planner.io.traces", ["read_trace", "Trace"]),
    ("", "planner.io.traces.warehouse", ["bucket_sql", "histogram_yaml"]),
    ("Exceptions", "planner.errors", ["PlannerError", "WorkloadError", "CatalogError", "InfeasibleError", "SolverError", "OutputError"]),
]


def attribute_docs(cls: type) -> dict[str, str]:
    """`name: type` followed by a string literal, in the class body: the field's docstring."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    out = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr) \
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
            out[node.target.id] = " ".join(nxt.value.value.split())
    return out


def _signature(obj: object) -> str:
    text = str(inspect.signature(obj))  # type: ignore[arg-type]
    return text.replace("'", "")


def _doc(obj: object) -> str:
    return inspect.getdoc(obj) or "(no docstring)"


def render_function(module: str, name: str, fn: object) -> list[str]:
    return [f"### `{module}.{name}`", "", "```python", f"{name}{_signature(fn)}", "```", "", _doc(fn), ""]


def render_class(module: str, name: str, cls: type) -> list[str]:
    lines = [f"### `{module}.{name}`", "", _doc(cls), ""]
    docs = attribute_docs(cls)
    if dataclasses.is_dataclass(cls):
        fields = [(f.name, f.type) for f in dataclasses.fields(cls)]
    elif hasattr(cls, "model_fields"):
        fields = [(n, f.annotation) for n, f in cls.model_fields.items()]
    else:
        fields = []
    if fields:
        lines += ["| field | type | meaning |", "|---|---|---|"]
        for field, kind in fields:
            kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
            lines.append(f"| `{field}` | `{kind}` | {docs.get(field, '')} |".replace("typing.", ""))
        lines.append("")
    members = [(n, m) for n, m in vars(cls).items() if not n.startswith("_") and (inspect.isfunction(m) or isinstance(m, property))]
    for member, obj in members:
        target = obj.fget if isinstance(obj, property) else obj
        head = f"`{name}.{member}`" + ("" if isinstance(obj, property) else f"`{_signature(target)}`")
        lines.append(f"- {head}: {' '.join((inspect.getdoc(target) or '').split()) or '(no docstring)'}")
    if not issubclass(cls, Exception) and members:
        lines.append("")
    if issubclass(cls, Exception):
        lines[-1:] = [f"Exit code of the CLI: {getattr(cls, 'exit_code', 2)}.", ""]
    return lines


def render() -> str:
    out = ["# Python API reference", "",
           "Generated from the docstrings by `python scripts/render_api.py` (checked by tests/test_docs.py); do not edit.",
           "Every CLI command is a thin shell over these functions (docs/architecture.md).", ""]
    for title, module_name, names in SECTIONS:
        module = importlib.import_module(module_name)
        if title:
            out += [f"## {title}", ""]
        for name in names:
            obj = getattr(module, name)
            out += render_class(module_name, name, obj) if inspect.isclass(obj) else render_function(module_name, name, obj)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"{DOC} is not current: run python scripts/render_api.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
