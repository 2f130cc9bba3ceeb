"""Docs stay in step with the code: every workload field and every CLI command is documented."""
from __future__ import annotations

from planner.cli.main import cli
from planner.schemas.workload import SLO, BucketEdges, Engine, HistogramEntry, Pricing, SolverOptions, Traffic, Workload
from tests.conftest import ROOT


def test_every_workload_field_is_in_the_reference():
    text = (ROOT / "docs" / "workload.md").read_text()
    for model in (Workload, SLO, Traffic, HistogramEntry, BucketEdges, Pricing, Engine, SolverOptions):
        for name in model.model_fields:
            assert f"`{name}`" in text or f"{name}:" in text, f"docs/workload.md does not document {model.__name__}.{name}"


def test_every_command_has_help_with_an_example():
    def walk(group, prefix=""):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    for name, command in walk(cli):
        assert command.help and "Example:" in command.help, f"`planner {name}` has no usage example in its help"
        assert name.split()[0] in (ROOT / "README.md").read_text(), f"README does not mention `planner {name}`"


def test_api_reference_is_generated_from_the_current_docstrings():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_api", ROOT / "scripts" / "render_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "api.md").read_text() == module.render(), "docs/api.md is stale: run python scripts/render_api.py"
