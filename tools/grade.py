"""Grade a class: every student's notebooks, exercise by exercise, into a CSV and a JSON file.

    python tools/grade.py SUBMISSIONS --csv grades.csv --json grades.json [--jobs N] [--cell-timeout S]

``SUBMISSIONS`` holds one folder per student, with the student's notebooks under their
course names: ``SUBMISSIONS/alice/01_dictionary_translator.ipynb`` (in a sub-folder too).
For each notebook the grader

1. puts the course's check cells back (found by cell id or, in a file without the course's
   ids, after the exercise's heading), so a deleted, skipped or edited check cannot pass;
2. has each check load the checker afresh, so an earlier cell that patched it
   (``helpers.checks.core.run_cases = ...``) cannot change the verdict;
3. runs every cell in a fresh kernel with no network, in an empty folder, errors allowed,
   and stops a cell after ``--cell-timeout`` seconds;
4. reads each exercise's outcome from its check cell: ``pass``, ``wrong``, ``not_solved``,
   ``missing`` (the notebook, the answer cell or the check cell is gone) or ``error`` (the
   notebook could not run to that check).

Exit status: 0 once every notebook is graded, whatever the grades; 1 when grading itself
failed (a kernel that cannot start); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import copy
import csv
import importlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # `python tools/grade.py` from anywhere finds helpers/ and tools/

from helpers.checks import CHAPTERS, all_exercises  # noqa: E402
from tools.execute import course_kernel_manager  # noqa: E402
from tools.release import HEADING, NOTEBOOKS_DIR, check_calls  # noqa: E402

STATUSES = ("pass", "wrong", "not_solved", "missing", "error")
COLUMNS = ("student", "notebook", "exercise", "title", "status", "message", "errors_outside_checks", "seconds")
SYMBOLS = {"pass": "✓", "wrong": "✗", "not_solved": "·", "missing": "?", "error": "!"}
OFFLINE = REPO_ROOT / "tests" / "offline"  # its sitecustomize.py refuses network connections


class GradeError(Exception):
    """Grading itself failed: not a student's mistake, and no grade can be trusted."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a course notebook, as the release has it."""

    number: str
    title: str
    check: str  # the name of its check function: check_tokenize
    module: str  # where the check lives: helpers.checks.ch01_translate
    check_id: str  # the id of its check cell
    check_source: str  # the check cell: check_tokenize(tokenize)
    offset: int  # how many cells after the exercise's heading the check cell comes


@dataclass
class Row:
    """One line of the grade table: one student's outcome for one exercise."""

    student: str
    notebook: str
    exercise: str
    title: str
    status: str
    message: str
    errors_outside_checks: int = 0
    seconds: float = 0.0


# --- the course's exercises ---------------------------------------------------------------


def check_module(check: str) -> str:
    """The module that defines the check function ``check``."""
    for chapter in CHAPTERS:
        module = importlib.import_module(f"helpers.checks.{chapter}")
        if hasattr(module, check):
            return module.__name__
    raise GradeError(f"no module in helpers/checks/ defines {check}")


def heading_numbers(cell: nbformat.NotebookNode) -> list[str]:
    """The numbers of the exercise headings in a markdown cell: ``["1.2"]``."""
    return [number for number, _ in HEADING.findall(cell.source)] if cell.cell_type == "markdown" else []


def course_exercises(release: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of one released notebook, in order."""
    registered = all_exercises()
    exercises, heading = [], 0
    for index, cell in enumerate(release.cells):
        if heading_numbers(cell):
            heading = index
        for check in check_calls(cell):
            which = registered[check]
            exercises.append(Exercise(which.number, which.title, check, check_module(check), cell.id,
                                      cell.source, index - heading))
    return exercises


# --- the student's notebook, with the course's checks put back ----------------------------


def find_check_cell(cells: list, exercise: Exercise, by_id: bool) -> int | None:
    """Where the student's notebook holds ``exercise``'s check cell; ``None`` if it is gone.

    By id when the notebook kept the course's cell ids; otherwise the first cell after the
    exercise's heading that calls its check, or else the cell at the release's distance from
    the heading (a check replaced by ``pass`` is still found).
    """
    if by_id:
        found = [i for i, cell in enumerate(cells) if cell.get("id") == exercise.check_id]
    else:
        headings = [i for i, cell in enumerate(cells) if exercise.number in heading_numbers(cell)]
        if not headings:
            return None
        section = range(headings[0] + 1, len(cells))
        found = [i for i in section if exercise.check in check_calls(cells[i])] or [headings[0] + exercise.offset]
    index = found[0] if found else None
    if index is None or index >= len(cells) or cells[index].cell_type != "code":
        return None
    return index


def graded_check_source(exercise: Exercise) -> str:
    """The course's check cell, preceded by a fresh load of the checker."""
    return (
        f"import importlib, helpers.checks.core, {exercise.module}  # put back by tools/grade.py\n"
        "importlib.reload(helpers.checks.core)\n"
        f"importlib.reload({exercise.module})\n"
        f"from {exercise.module} import {exercise.check}\n"
        f"{exercise.check_source}"
    )


def put_checks_back(notebook: nbformat.NotebookNode, exercises: list[Exercise],
                    course_ids: set[str]) -> tuple[dict[int, Exercise], dict[str, str]]:
    """Restore the check cells of ``notebook`` in place.

    Returns the check cells by index, and why each exercise that cannot be checked is missing.
    """
    cells = notebook.cells
    by_id = any(cell.get("id") in course_ids for cell in cells)
    checks, missing = {}, {}
    for exercise in exercises:
        index = find_check_cell(cells, exercise, by_id)
        if index is None:
            missing[exercise.number] = f"the check cell of Exercise {exercise.number} is gone"
        elif index == 0 or cells[index - 1].cell_type != "code":
            missing[exercise.number] = f"the answer cell of Exercise {exercise.number} (just before its check) is gone"
        else:
            cells[index].source = graded_check_source(exercise)
            cells[index].metadata = nbformat.NotebookNode()  # no tags: nothing skips or excuses a check
            checks[index] = exercise
    return checks, missing


# --- running it --------------------------------------------------------------------------


def kernel_environment() -> dict[str, str]:
    """The kernel's environment: no network (``tests/offline``), one thread, no progress bars."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(OFFLINE), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("TQDM_DISABLE", "1")
    return env


def run_every_cell(notebook: nbformat.NotebookNode, cell_timeout: int) -> int | None:
    """Run every code cell in place, errors allowed.

    Returns the cell where the kernel died or stopped answering (a timed-out cell that the
    interrupt did not stop), if it did: the cells after it are not run.
    """
    timeout_error = {"ename": "CellTimeout", "evalue": f"the cell ran for more than {cell_timeout} s and was stopped",
                     "traceback": []}
    stuck: list[int] = []

    def note_timeout(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        """A timed-out cell with no error output of its own was not interrupted: the kernel is stuck."""
        if execute_reply["content"].get("ename") == "CellTimeout" and first_error(cell) is None:
            cell.outputs.append(new_output("error", **timeout_error))
            stuck.append(cell_index)

    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        client = NotebookClient(notebook, km=course_kernel_manager(), timeout=cell_timeout, allow_errors=True,
                                interrupt_on_timeout=True, error_on_timeout=timeout_error,
                                on_cell_executed=note_timeout)
        try:
            with client.setup_kernel(cleanup_kc=True, env=kernel_environment(), cwd=folder):
                for index, cell in enumerate(notebook.cells):
                    try:
                        client.execute_cell(cell, index)
                    except DeadKernelError:
                        return index
                    if stuck:
                        return index
        except (RuntimeError, TimeoutError) as err:
            raise GradeError(f"the kernel failed (not the student's code): {err}") from err
    return None


def first_error(cell: nbformat.NotebookNode) -> dict | None:
    """The first error output of a code cell."""
    return next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)


def describe_error(error: dict, cell_timeout: int) -> str:
    """An error output in one line: ``NameError: name 'x' is not defined``."""
    if error.ename in ("CellTimeout", "KeyboardInterrupt"):  # a cell stopped by the grader's timeout
        return f"stopped after {cell_timeout} s (an endless loop?)"
    return f"{error.ename}: {error.evalue}".split("\n")[0]


def check_outcome(cell: nbformat.NotebookNode, exercise: Exercise, cell_timeout: int) -> tuple[str, str]:
    """The status and message of one executed check cell."""
    error = first_error(cell)
    if error is None:
        printed = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        success = [line for line in printed.splitlines() if line.startswith(f"✅ Exercise {exercise.number} ")]
        return ("pass", success[0]) if success else ("wrong", "the check printed no result")
    if error.ename == "ExerciseNotSolved":
        return "not_solved", error.evalue
    if error.ename == "WrongAnswer":
        return "wrong", error.evalue
    return "wrong", f"the check failed: {describe_error(error, cell_timeout)}"


@dataclass(frozen=True)
class Task:
    """One student's notebook to grade (``path`` is ``None`` when it was not submitted)."""

    student: str
    name: str
    path: Path | None
    problem: str = ""  # why it cannot be graded, e.g. two copies


def grade_notebook(task: Task, cell_timeout: int) -> tuple[list[Row], list[str]]:
    """The rows of one student's notebook, and the errors of its cells other than checks."""
    release = nbformat.read(NOTEBOOKS_DIR / task.name, as_version=4)
    exercises = course_exercises(release)

    def rows(status: str, message: str) -> list[Row]:
        return [Row(task.student, task.name, e.number, e.title, status, message) for e in exercises]

    if task.path is None:
        return rows("missing", f"not submitted: no {task.name} in {task.student}/"), []
    if task.problem:
        return rows("error", task.problem), []
    try:
        notebook = nbformat.read(task.path, as_version=4)
        cells = list(notebook.cells)
    except Exception as err:  # any file that is not a readable notebook is the student's problem
        return rows("error", f"cannot read {task.path.name}: {type(err).__name__}: {err}"), []
    graded = copy.deepcopy(notebook)
    checks, missing = put_checks_back(graded, exercises, {cell.get("id") for cell in release.cells})
    start = time.perf_counter()
    died = run_every_cell(graded, cell_timeout)
    seconds = round(time.perf_counter() - start, 1)
    other_errors = [
        f"cell {i}: {describe_error(error, cell_timeout)}"
        for i, cell in enumerate(graded.cells) if i not in checks and (error := first_error(cell)) is not None
    ]
    if died is not None:
        other_errors.append(f"cell {died}: the kernel died or stopped answering")
    result = []
    outcomes = {exercise.number: index for index, exercise in checks.items()}
    for exercise in exercises:
        index = outcomes.get(exercise.number)
        if exercise.number in missing:
            status, message = "missing", missing[exercise.number]
        elif died is not None and index >= died:
            status, message = "error", f"the kernel died or stopped answering in cell {died}, before this check ran"
        else:
            status, message = check_outcome(graded.cells[index], exercise, cell_timeout)
        result.append(Row(task.student, task.name, exercise.number, exercise.title, status, message,
                          len(other_errors), seconds))
    return result, other_errors


# --- the class -----------------------------------------------------------------------------


def find_tasks(submissions: Path) -> tuple[list[Task], list[str]]:
    """Every student × course notebook to grade, and the files that will not be graded."""
    course = sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb"))
    students = sorted(path for path in submissions.iterdir() if path.is_dir() and not path.name.startswith("."))
    ignored = [f"{path.name} (not in a student's folder)" for path in sorted(submissions.glob("*.ipynb"))]
    found: dict[tuple[str, str], list[Path]] = {}
    for student in students:
        for path in sorted(student.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            if path.name in course:
                found.setdefault((student.name, path.name), []).append(path)
            else:
                ignored.append(f"{path.relative_to(submissions)} (not a course notebook's name)")
    submitted = sorted({name for _, name in found})
    tasks = []
    for student in students:
        for name in submitted:
            paths = found.get((student.name, name), [])
            problem = ""
            if len(paths) > 1:
                problem = "more than one copy: " + ", ".join(str(p.relative_to(student)) for p in paths)
            tasks.append(Task(student.name, name, paths[0] if paths else None, problem))
    return tasks, ignored


def grade_class(tasks: list[Task], jobs: int, cell_timeout: int) -> tuple[list[Row], dict[str, list[str]]]:
    """Grade every task, ``jobs`` notebooks at a time."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(grade_notebook, tasks, [cell_timeout] * len(tasks)))
    rows = [row for task_rows, _ in results for row in task_rows]
    errors = {f"{task.student}/{task.name}": other for task, (_, other) in zip(tasks, results) if other}
    return rows, errors


def summary(rows: list[Row]) -> list[dict]:
    """One entry per student: each exercise's status and the number passed."""
    students: dict[str, dict] = {}
    for row in rows:
        entry = students.setdefault(row.student, {"student": row.student, "exercises": {}, "passed": 0, "total": 0})
        entry["exercises"][row.exercise] = row.status
        entry["passed"] += row.status == "pass"
        entry["total"] += 1
    return list(students.values())


def summary_table(entries: list[dict]) -> str:
    """The summary as text: a row per student, a column per exercise, and the total."""
    numbers = list(entries[0]["exercises"]) if entries else []
    width = max([len("student"), *(len(e["student"]) for e in entries)])
    lines = [f"{'student':{width}}  " + " ".join(f"{n:>4}" for n in numbers) + "  total"]
    for entry in entries:
        marks = " ".join(f"{SYMBOLS[entry['exercises'][n]]:>4}" for n in numbers)
        lines.append(f"{entry['student']:{width}}  {marks}  {entry['passed']}/{entry['total']}")
    lines.append("  ".join(f"{symbol} {status}" for status, symbol in SYMBOLS.items()))
    return "\n".join(lines)


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder with one folder of notebooks per student")
    parser.add_argument("--csv", type=Path, required=True, help="write a row per student × exercise here")
    parser.add_argument("--json", type=Path, required=True, help="write the rows, each notebook's other errors "
                                                                 "and the summary here")
    parser.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, help="notebooks run at once (default: cores)")
    parser.add_argument("--cell-timeout", type=positive, default=600, help="seconds a cell may run (default 600)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    tasks, ignored = find_tasks(args.submissions)
    if not tasks:
        parser.error(f"no course notebook in {args.submissions}: expected {args.submissions}/<student>/NN_name.ipynb")
    for name in ignored:
        print(f"not graded: {name}", file=sys.stderr)
    start = time.perf_counter()
    try:
        rows, errors = grade_class(tasks, args.jobs, args.cell_timeout)
    except GradeError as err:
        print(f"grading failed: {err}", file=sys.stderr)
        return 1
    entries = summary(rows)
    write_csv(rows, args.csv)
    report = {"rows": [asdict(row) for row in rows], "errors_outside_checks": errors, "not_graded": ignored,
              "summary": entries}
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary_table(entries))
    print(f"graded {len(tasks)} notebooks of {len(entries)} students in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
