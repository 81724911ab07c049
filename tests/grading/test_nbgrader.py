"""tools/export_nbgrader.py with the real nbgrader (``make test-grading`` installs it).

``generate_assignment`` releases every notebook of the export; ``autograde`` on notebook 01 gives
a correct submission full points and takes exactly one exercise's point from a wrong one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from tests.notebook_tools import SOLUTIONS
from tools import export_nbgrader
from tools.release import BEGIN, check_calls

NAME = "01_dictionary_translator"


def nbgrader(course: Path, *args: str) -> None:
    """Run one nbgrader command in the course directory; it must succeed."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])  # nbgrader runs `alembic`
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=dict(os.environ, PATH=path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("course")
    assert export_nbgrader.main([str(folder)]) == 0
    nbgrader(folder, "generate_assignment", "*")
    return folder


def flagged(notebook: nbformat.NotebookNode, flag: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get(flag)]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_notebook_is_released_with_a_stub_per_answer_and_its_checks(course: Path, solution: Path):
    released = nbformat.read(course / "release" / solution.stem / solution.name, as_version=4)
    checks = [name for cell in released.cells for name in check_calls(cell)]
    assert len(checks) >= 2
    assert [cell.metadata.nbgrader.grade_id for cell in flagged(released, "grade")] == checks
    answers = flagged(released, "solution")
    assert len(answers) == len(checks)
    assert all("raise NotImplementedError()" in cell.source and BEGIN not in cell.source for cell in answers)
    assert not any(cell.get("outputs") for cell in released.cells), "the release has no saved outputs"


def submission(course: Path, wrong_join: bool) -> nbformat.NotebookNode:
    """The released notebook 01 with the answers of the source pasted in (exercise 1.2 wrong, if asked)."""
    released = nbformat.read(course / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    answers = {cell.metadata.nbgrader.grade_id: cell.source for cell in flagged(source, "solution")}
    for cell in flagged(released, "solution"):
        cell.source = answers[cell.metadata.nbgrader.grade_id]
        if wrong_join and cell.metadata.nbgrader.grade_id == "translate_word_by_word":
            assert '" ".join(' in cell.source, "the solution of 1.2 changed: update this wrong answer"
            cell.source = cell.source.replace('" ".join(', '"".join(')
    return released


def test_autograde_gives_full_points_and_takes_exactly_the_wrong_exercises_point(course: Path):
    for student, wrong in [("correct", False), ("wrong_join", True)]:
        folder = course / "submitted" / student / NAME
        folder.mkdir(parents=True)
        nbformat.write(submission(course, wrong), folder / f"{NAME}.ipynb")
    nbgrader(course, "autograde", NAME, "--create")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        checks = [cell.name for cell in gradebook.find_notebook(NAME, NAME).grade_cells]
        scores = {student: {check: gradebook.find_grade(check, NAME, NAME, student).score for check in checks}
                  for student in ["correct", "wrong_join"]}
    assert sorted(checks) == sorted(["check_tokenize", "check_translate_word_by_word", "check_translate_marking_unknown"])
    assert scores["correct"] == dict.fromkeys(checks, 1.0)
    assert scores["wrong_join"] == {**dict.fromkeys(checks, 1.0), "check_translate_word_by_word": 0.0}
