"""Shared helpers for the notebook tests: reading cells, running notebooks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from tools.release import BEGIN, check_calls

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
STUDENT = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\s*:\s*(.+?)\s*$", re.MULTILINE)


def errors(cell: dict) -> list[dict]:
    """The error outputs of a code cell."""
    return [out for out in cell.get("outputs", []) if out["output_type"] == "error"]


def answer_names(notebook: nbformat.NotebookNode) -> set[str]:
    """The top-level names the answer cells (those with a solution region) define."""
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names |= {n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def names_used(cells: list) -> set[str]:
    """Every name the code cells read or write."""
    return {node.id for cell in cells if cell.cell_type == "code"
            for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Name)}
