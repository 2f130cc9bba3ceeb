"""`planner report` quotes the model's error bars after a plain `pip install .`: docs/accuracy.md is package data."""
from __future__ import annotations

import importlib.resources
import tomllib

from planner.studies import report
from tests.conftest import ROOT


def test_pyproject_installs_accuracy_md_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["planner.docs"] == "docs" and "planner.docs" in config["packages"]
    assert "accuracy.md" in config["package-data"]["planner.docs"] and (ROOT / "docs" / "accuracy.md").is_file()


def test_the_installed_copy_is_read_when_there_is_no_source_tree(tmp_path, monkeypatch):
    (tmp_path / "accuracy.md").write_text((ROOT / "docs" / "accuracy.md").read_text())
    monkeypatch.setattr(report, "ACCURACY_DOC", tmp_path / "absent.md")  # no source checkout
    monkeypatch.setattr(importlib.resources, "files", lambda name: tmp_path if name == "planner.docs" else None)
    text = report.accuracy_text()
    assert text is not None and report.read_accuracy(text) is not None

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", missing)
    assert report.accuracy_text() is None  # neither installed nor in a checkout: the report says so
