"""Shared helpers for the notebook tests: reading cells, running notebooks."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from tools.execute import run
from tools.release import check_calls

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
STUDENT = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\s*:\s*(.+?)\s*$", re.MULTILINE)


def run_notebook(path: Path) -> nbformat.NotebookNode:
    """Execute a notebook file in this environment's kernel, keeping going past errors."""
    notebook = nbformat.read(path, as_version=4)
    run(notebook, path.parent, allow_errors=True, timeout=900)
    return notebook


def errors(cell: dict) -> list[dict]:
    """The error outputs of a code cell."""
    return [out for out in cell.get("outputs", []) if out["output_type"] == "error"]
