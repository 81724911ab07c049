"""The notebooks as a whole: releases in sync, exercises wired to checks, unsolved runs.

Strict nbval on ``solutions/`` runs in the same pytest session (see the Makefile).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.checks import all_exercises
from tests.notebook_tools import (
    EXERCISE_HEADING, REPO_ROOT, SOLUTIONS, STUDENT, answer_names, check_calls, errors, names_used,
)
from tools import release
from tools.execute import KERNELSPEC, run

NOT_SOLVED = "is not solved yet"


def test_every_solution_has_a_student_notebook_and_back():
    assert [p.name for p in SOLUTIONS] == [p.name for p in STUDENT]
    assert SOLUTIONS, "solutions/ has no notebooks"


def test_student_notebooks_equal_the_release_of_solutions():
    assert release.stale_notebooks() == [], "run 'make release' and commit notebooks/"


def test_every_notebook_names_the_kernel_that_make_lab_installs():
    """Otherwise JupyterLab rewrites the kernel's name into the file on opening, and git sees a change."""
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    installed = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', makefile)
    assert installed.groups() == (KERNELSPEC["name"], KERNELSPEC["display_name"])
    wrong = [p.name for p in SOLUTIONS + STUDENT if nbformat.read(p, as_version=4).metadata.kernelspec != KERNELSPEC]
    assert not wrong, f"notebooks with another kernelspec: {wrong} (run 'make execute')"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_are_executed_with_saved_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    unrun = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source and c.execution_count is None]
    assert not unrun, f"cells {unrun} were never executed: run 'make execute'"
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code" and c.source]
    assert counts == list(range(1, len(counts) + 1)), "cells were run out of order: run 'make execute'"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_headings_match_the_checks_that_follow(path: Path):
    """Each 'Exercise N.M: title' heading is followed by its answer cell and then its check."""
    notebook = nbformat.read(path, as_version=4)
    chapter = int(path.name[:2])
    headings, checks = [], []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            headings += [(f"{n}.{m}", title) for n, m, title in EXERCISE_HEADING.findall(cell.source)]
        checks += check_calls(cell)
    assert len(headings) >= 2, "every notebook has at least two exercises"
    assert [number for number, _ in headings] == [f"{chapter}.{i}" for i in range(1, len(headings) + 1)]
    exercises = all_exercises()
    registered = [(exercises[name].number, exercises[name].title) for name in checks]
    assert registered == headings, "the check cells must follow the exercise headings, in order"


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_unsolved_student_notebook_fails_only_in_its_check_cells(path: Path):
    notebook = nbformat.read(path, as_version=4)
    last_check = max(i for i, c in enumerate(notebook.cells) if check_calls(c))
    if not names_used(notebook.cells[last_check + 1 :]) & answer_names(notebook):
        # What follows the last check uses none of the learner's answers, so it runs exactly as
        # in the solution, where strict nbval runs it: the unsolved run can stop at the last check.
        notebook.cells = notebook.cells[: last_check + 1]
    run(notebook, path.parent, allow_errors=True, timeout=900)
    exercises = sum("raise NotImplementedError(" in c.source for c in notebook.cells if c.cell_type == "code")
    failing = {i: errors(c) for i, c in enumerate(notebook.cells) if errors(c)}
    checks = {i for i, c in enumerate(notebook.cells) if check_calls(c)}
    assert set(failing) == checks, f"cells that failed: {sorted(failing)}; check cells: {sorted(checks)}"
    assert len(failing) == exercises
    for i, (error,) in failing.items():
        assert error["ename"] == "ExerciseNotSolved" and NOT_SOLVED in error["evalue"], (i, error["evalue"])
        assert error["traceback"] == error["evalue"].split("\n"), "the learner sees the message, no traceback"


def test_nbval_still_reports_the_exercise_and_its_message(tmp_path: Path):
    """The notebook shows a check's message without a traceback; nbval's report must still hold it."""
    unsolved = shutil.copy(REPO_ROOT / "notebooks" / "01_dictionary_translator.ipynb", tmp_path)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env", unsolved]
    report = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert report.returncode == 1 and "3 failed" in report.stdout, report.stdout[-2000:]
    assert "Exercise 1.1 (Split a sentence into tokens) is not solved yet" in report.stdout


# A plausible wrong answer to the first exercise of each notebook (the body of its solution region).
WRONG_FIRST_ANSWERS = {
    "01": "return text.split(' ')",
    "02": "return abs(len(a) - len(b))",
    "03": "vector = torch.zeros(len(vocabulary) + 1)\nvector[vocabulary.index(word)] = 1.0\nreturn vector",
    "04": "return torch.exp(beta * x) / torch.exp(beta * x).sum(dim=-1, keepdim=True)",
    "05": "return x @ weight.T",
    "06": "return {pair: 1 for pair in zip(ids, ids[1:])}",
    "07": "return [(tuple(tokens[s : s + context_size]), tokens[s + context_size - 1])\n"
          "        for s in range(len(tokens) - context_size)]",
    "08": "return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * scale + shift",
    "09": "return logits[:, 0, :].argmax(dim=-1)",
    "10": "starts = range(0, len(ids) - context_length, stride)\n"
          "windows = torch.tensor([ids[s : s + context_length] for s in starts])\nreturn windows, windows",
    "11": "return torch.softmax(logits * temperature, dim=-1)",
    "12": "return hidden[:, -1]",
    "13": "return f\"{USER}{instruction}{input}{END}{ASSISTANT}\"",
    "14": "return x @ weight.T + scaling * (x @ A.T @ B.T)",
    "15": "return (x - x.mean(dim=-1, keepdim=True)) / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * scale",
    "16": "probs = torch.softmax(router_logits, dim=-1)\nreturn probs.topk(k, dim=-1)",
    "17": "return 'model.' + name",
    "18": "return 2 * n_tokens * (12 * n_layers * d_model**2 + d_model * vocab_size)",
    "19": "return [sum(tensors) for _ in tensors]",
}


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_a_wrong_first_answer_costs_only_the_first_exercise(path: Path):
    """Later exercises build on the library's version, not on the learner's answer to exercise N.1."""
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    checks = [i for i, c in enumerate(cells) if check_calls(c)]
    answer = next(c for c in cells if c.cell_type == "code" and release.BEGIN in c.source)
    before, rest = answer.source.split(release.BEGIN, 1)
    indent = before.rsplit("\n", 1)[-1]
    wrong = "\n".join(indent + line for line in WRONG_FIRST_ANSWERS[path.name[:2]].splitlines())
    answer.source = before.rsplit("\n", 1)[0] + "\n" + wrong + rest.split(release.END, 1)[1]
    notebook.cells = cells[: checks[-1] + 1]  # up to the last check: what follows trains and measures
    run(notebook, path.parent, allow_errors=True, timeout=600)
    failing = [i for i, c in enumerate(notebook.cells) if errors(c)]
    assert failing == [checks[0]], f"cells that failed: {failing}; the first check is cell {checks[0]}"
    assert errors(notebook.cells[checks[0]])[0]["ename"] == "WrongAnswer"
