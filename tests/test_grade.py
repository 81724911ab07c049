"""tools/grade.py on a class of made-up submissions of notebook 01, one per way of going wrong.

Each student's folder is built from the released notebook (and its solution), changed the way a
real submission was, and graded once by the command line; every exercise must get its expected status.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from tests.notebook_tools import REPO_ROOT
from tools import grade
from tools.release import check_calls

NAME = "01_dictionary_translator.ipynb"
CELL_TIMEOUT = 8  # seconds; the endless loops below are stopped after it


def unsolved() -> nbformat.NotebookNode:
    return nbformat.read(REPO_ROOT / "notebooks" / NAME, as_version=4)


def solved() -> nbformat.NotebookNode:
    """The released notebook with the answers of solutions/ pasted into its answer cells."""
    notebook, solution = unsolved(), nbformat.read(REPO_ROOT / "solutions" / NAME, as_version=4)
    for mine, answer in zip(notebook.cells, solution.cells):
        if "raise NotImplementedError(" in mine.source:
            mine.source = answer.source
    return notebook


def check_cell(notebook: nbformat.NotebookNode, number: str) -> int:
    """The index of exercise ``number``'s check cell (1.1 → the first check)."""
    checks = [i for i, cell in enumerate(notebook.cells) if check_calls(cell)]
    return checks[int(number.split(".")[1]) - 1]


def after_check(notebook: nbformat.NotebookNode, number: str, source: str) -> nbformat.NotebookNode:
    """``notebook`` with a scratch cell inserted right after exercise ``number``'s check."""
    notebook.cells.insert(check_cell(notebook, number) + 1, new_code_cell(source))
    return notebook


def tags_and_markers() -> nbformat.NotebookNode:
    """What students add so that Run All goes on: a raises-exception tag, NBVAL_SKIP, a check made `pass`."""
    notebook = unsolved()
    notebook.cells[check_cell(notebook, "1.1")].metadata["tags"] = ["raises-exception", "skip-execution"]
    notebook.cells[check_cell(notebook, "1.2")].source = "# NBVAL_SKIP\n" + notebook.cells[check_cell(notebook, "1.2")].source
    notebook.cells[check_cell(notebook, "1.3")].source = "pass"
    return notebook


def patched_checker() -> nbformat.NotebookNode:
    fake = 'print("✅ Exercise 1.1 (Split a sentence into tokens): all 6 cases pass.")'
    notebook = unsolved()
    notebook.cells.insert(2, new_code_cell(
        f"import helpers.checks.core\nhelpers.checks.core.run_cases = lambda *args, **kwargs: {fake}\n"
        f"def check_tokenize(answer):\n    {fake}"
    ))
    return notebook


def scratch_errors() -> nbformat.NotebookNode:
    """A scratch cell that raises, a renamed variable that later cells use, and a network connection."""
    notebook = after_check(solved(), "1.1", "1 / 0")
    notebook = after_check(notebook, "1.2", "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)")
    notebook.cells[3].source = notebook.cells[3].source.replace("dictionary = {", "words = {")
    return notebook


def outputs_kept_counts_cleared() -> nbformat.NotebookNode:
    """``nbstripout --keep-output``: the saved outputs of a solved notebook, no execution counts."""
    notebook = nbformat.read(REPO_ROOT / "solutions" / NAME, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
    return notebook


def wrong_and_deleted() -> nbformat.NotebookNode:
    notebook = solved()
    answer = notebook.cells[check_cell(notebook, "1.2") - 1]
    answer.source = answer.source.replace('" ".join(', '"".join(')
    assert '"".join(' in answer.source, "the solution of 1.2 changed: update this wrong answer"
    del notebook.cells[check_cell(notebook, "1.3") - 1]  # the answer cell of 1.3
    del notebook.cells[check_cell(notebook, "1.1")]
    return notebook


def endless_loops() -> nbformat.NotebookNode:
    """A scratch cell that loops forever (the kernel is interrupted and goes on), and an answer that does."""
    notebook = solved()
    notebook.cells[check_cell(notebook, "1.3") - 1].source = "def translate_marking_unknown(sentence, dictionary):\n    while True:\n        pass"
    return after_check(notebook, "1.1", "while True:\n    pass")


def without_ids() -> nbformat.NotebookNode:
    """An old-format file (no cell ids): found by heading; a scratch cell shifts 1.3; check 1.2 made `pass`."""
    notebook = solved()
    answer, answer_13 = check_cell(notebook, "1.2") - 1, check_cell(notebook, "1.3") - 1
    notebook.cells[answer].source = unsolved().cells[answer].source
    notebook.cells[answer + 1].source = "pass"
    notebook.cells.insert(answer_13, new_code_cell("print('trying things out')"))
    notebook.nbformat_minor = 4
    for cell in notebook.cells:
        del cell["id"]
    return notebook


def kernel_dies() -> nbformat.NotebookNode:
    return after_check(solved(), "1.1", "import os\nos._exit(1)")


def kernel_stuck() -> nbformat.NotebookNode:
    """A scratch cell that the grader's interrupt cannot stop."""
    loop = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    return after_check(solved(), "1.2", loop)


#: student → (their notebook, or None for none; the expected status of 1.1, 1.2 and 1.3)
CLASS: dict[str, tuple[Callable[[], nbformat.NotebookNode] | None, tuple[str, str, str]]] = {
    "solved": (solved, ("pass", "pass", "pass")),
    "unsolved": (unsolved, ("not_solved", "not_solved", "not_solved")),
    "tags_and_markers": (tags_and_markers, ("not_solved", "not_solved", "not_solved")),
    "patched_checker": (patched_checker, ("not_solved", "not_solved", "not_solved")),
    "files_beside": (unsolved, ("not_solved", "not_solved", "not_solved")),
    "scratch_errors": (scratch_errors, ("pass", "pass", "pass")),
    "outputs_kept": (outputs_kept_counts_cleared, ("pass", "pass", "pass")),
    "wrong_and_deleted": (wrong_and_deleted, ("missing", "wrong", "missing")),
    "endless_loops": (endless_loops, ("pass", "pass", "wrong")),
    "without_ids": (without_ids, ("pass", "not_solved", "pass")),
    "kernel_dies": (kernel_dies, ("pass", "error", "error")),
    "kernel_stuck": (kernel_stuck, ("pass", "pass", "error")),
    "unreadable": (None, ("error", "error", "error")),
    "not_submitted": (None, ("missing", "missing", "missing")),
    "two_copies": (solved, ("error", "error", "error")),
}


def write_class(folder: Path) -> None:
    for student, (build, _) in CLASS.items():
        (folder / student).mkdir(parents=True)
        if build is not None:
            nbformat.write(build(), folder / student / NAME)
    (folder / "unreadable" / NAME).write_text("{this is not a notebook", encoding="utf-8")
    (folder / "not_submitted" / "my_notes.ipynb").write_text("{}", encoding="utf-8")
    (folder / "two_copies" / "old").mkdir()
    nbformat.write(unsolved(), folder / "two_copies" / "old" / NAME)
    # nbval would collect this conftest.py and skip every cell; a helpers/ package here would shadow the course's
    (folder / "files_beside" / "conftest.py").write_text("import pytest\npytest.skip('no', allow_module_level=True)\n")
    (folder / "files_beside" / "helpers" / "checks").mkdir(parents=True)
    for part in ["helpers/__init__.py", "helpers/checks/__init__.py", "helpers/checks/core.py"]:
        (folder / "files_beside" / part).write_text("def run_cases(*args, **kwargs):\n    pass\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("class")
    write_class(folder / "submissions")
    command = [sys.executable, str(REPO_ROOT / "tools" / "grade.py"), str(folder / "submissions"),
               "--csv", str(folder / "grades.csv"), "--json", str(folder / "grades.json"),
               "--jobs", "2", "--cell-timeout", str(CELL_TIMEOUT)]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((folder / "grades.json").read_text(encoding="utf-8"))
    with (folder / "grades.csv").open(encoding="utf-8", newline="") as file:
        report["csv"] = list(csv.DictReader(file))
    report["stdout"], report["stderr"] = done.stdout, done.stderr
    return report


def statuses(report: dict, student: str) -> tuple[str, ...]:
    return tuple(row["status"] for row in report["rows"] if row["student"] == student)


def message(report: dict, student: str, exercise: str) -> str:
    return next(r["message"] for r in report["rows"] if r["student"] == student and r["exercise"] == exercise)


@pytest.mark.parametrize("student", CLASS)
def test_every_exercise_gets_its_expected_status(graded: dict, student: str):
    assert statuses(graded, student) == CLASS[student][1], [
        (r["exercise"], r["message"][:200]) for r in graded["rows"] if r["student"] == student
    ]


def test_the_csv_has_one_row_per_student_and_exercise(graded: dict):
    rows = graded["csv"]
    assert list(rows[0]) == list(grade.COLUMNS)
    assert len(rows) == 3 * len(CLASS)
    assert {row["status"] for row in rows} <= set(grade.STATUSES)
    assert [row["exercise"] for row in rows[:3]] == ["1.1", "1.2", "1.3"]
    assert rows == [{key: str(value) for key, value in row.items()} for row in graded["rows"]]


def test_messages_say_what_happened(graded: dict):
    assert "hint:" in message(graded, "wrong_and_deleted", "1.2")
    assert "check cell of Exercise 1.1 is gone" in message(graded, "wrong_and_deleted", "1.1")
    assert "answer cell of Exercise 1.3" in message(graded, "wrong_and_deleted", "1.3")
    assert f"stopped after {CELL_TIMEOUT} s" in message(graded, "endless_loops", "1.3")
    assert "not submitted" in message(graded, "not_submitted", "1.1")
    assert "more than one copy" in message(graded, "two_copies", "1.1")
    assert "cannot read" in message(graded, "unreadable", "1.1")
    assert "kernel died or stopped answering in cell" in message(graded, "kernel_dies", "1.2")
    assert "kernel died or stopped answering in cell" in message(graded, "kernel_stuck", "1.3")
    assert message(graded, "solved", "1.1").startswith("✅ Exercise 1.1 (Split a sentence into tokens)")


def test_errors_outside_checks_are_counted_and_named(graded: dict):
    errors = graded["errors_outside_checks"][f"scratch_errors/{NAME}"]
    kinds = {line.split(": ")[1] for line in errors}  # "cell 12: NameError: ..."
    assert {"ZeroDivisionError", "NameError", "NetworkRefused"} <= kinds, errors
    row = next(r for r in graded["rows"] if r["student"] == "scratch_errors")
    assert row["errors_outside_checks"] == len(errors)
    assert f"endless_loops/{NAME}" in graded["errors_outside_checks"]
    assert "solved/" + NAME not in graded["errors_outside_checks"]


def test_nothing_is_skipped_silently(graded: dict):
    assert "not graded: not_submitted/my_notes.ipynb (not a course notebook's name)" in graded["stderr"]
    assert graded["not_graded"] == ["not_submitted/my_notes.ipynb (not a course notebook's name)"]


def test_the_summary_has_a_total_per_student(graded: dict):
    totals = {entry["student"]: entry["passed"] for entry in graded["summary"]}
    assert totals == {student: expected.count("pass") for student, (_, expected) in CLASS.items()}
    assert "solved" in graded["stdout"] and "3/3" in graded["stdout"]


def test_bad_arguments_are_named(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        grade.main([str(tmp_path / "nowhere"), "--csv", "g.csv", "--json", "g.json"])
    assert exit_.value.code == 2 and "nowhere is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--csv", "g.csv", "--json", "g.json"])
    assert "no course notebook in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--csv", "g.csv", "--json", "g.json", "--jobs", "0"])
    assert "must be at least 1, got 0" in capsys.readouterr().err
