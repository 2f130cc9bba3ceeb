"""The example outputs in README.md and docs/*.md are what the commands print now.

Each generated block (`<!-- planner: ... -->`, see scripts/render_docs.py and docs/contributing.md) is one
test: its commands run in-process in a temporary directory and the output, with runtimes masked, must equal
the text in the file. On failure: `python scripts/render_docs.py`, then review the diff (and the prose
next to the block) before committing.
"""
from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT


def _load_render_docs():
    spec = importlib.util.spec_from_file_location("render_docs", ROOT / "scripts" / "render_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_docs", module)
    spec.loader.exec_module(module)
    return module


render_docs = _load_render_docs()
BLOCKS = render_docs.all_blocks()

SLOW = ("planner sensitivity ", "planner sweep ")
"""Blocks of ~10-20 s each on 2 cores (every sensitivity point and sweep point rebuilds the chat capacity
table); marked slow to keep the rest under ~40 s, but they run by default (and in CI)."""


def _param(block):
    slow = any(c.startswith(SLOW) or f"{c} ".startswith(SLOW) for c in map(render_docs.display, block.commands))
    return pytest.param(block, id=f"{block.rel}:{block.line}", marks=[pytest.mark.slow] if slow else [])


@pytest.fixture(scope="module")
def runner():
    with render_docs.Runner() as r:
        yield r


def test_blocks_are_found():
    files = {b.rel for b in BLOCKS}
    assert {"README.md", "docs/whatif.md"} <= files, files
    assert not any(b.rel in render_docs.EXCLUDED for b in BLOCKS)


def test_no_example_output_is_written_by_hand():
    loose = [where for path in render_docs.doc_files() for where in render_docs.hand_written(path)]
    assert not loose, ("example output outside a generated block (make it <!-- planner: ... --> ... <!-- /planner -->, "
                       f"docs/contributing.md): {', '.join(loose)}")


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_generated_block_is_current(block, runner):
    if block.needs_shared and not render_docs.SHARED_DATA.is_dir():
        pytest.skip(render_docs.shared_absent_note(block))
    fresh = runner.render(block)
    delta = render_docs.drift(block, fresh)
    assert not delta, (f"{block.name}\nis out of date: run `python scripts/render_docs.py` and review the diff "
                       f"(and any numbers the prose next to it quotes):\n{delta}")
