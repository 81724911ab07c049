"""tools/release.py: solution regions become stubs; output is stable; bad markers are named."""

from __future__ import annotations

import json

import pytest

from tools.release import ReleaseError, dumps, release


def notebook(*cells: tuple[str, str]) -> dict:
    return {
        "cells": [
            {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": text,
             **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}], "execution_count": 3}
                if kind == "code" else {})}
            for i, (kind, text) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


SOLVED = notebook(
    ("markdown", "### Exercise 3.2: Build the keys matrix\nWrite it."),
    ("code", "def f(x):\n    '''Doc.'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"),
    ("code", "check_f(f)"),
)


def test_a_solution_region_becomes_a_stub_naming_the_exercise():
    student = release(SOLVED, "03_x.ipynb")
    source = student["cells"][1]["source"]
    assert source == (
        "def f(x):\n    '''Doc.'''\n    raise NotImplementedError(\"Exercise 3.2 (Build the keys matrix) "
        "is not solved yet — replace this line with your answer.\")\n"
    )
    compile(source, "cell", "exec")


def test_outputs_and_counts_are_cleared_and_the_rest_is_kept():
    student = release(SOLVED, "03_x.ipynb")
    for cell in student["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert student["cells"][0] == SOLVED["cells"][0]
    assert student["cells"][2]["source"] == "check_f(f)"
    assert student["metadata"] == SOLVED["metadata"]
    assert SOLVED["cells"][1]["outputs"], "the solution notebook itself is not modified"


def test_release_is_byte_stable():
    once = dumps(release(SOLVED, "03_x.ipynb"))
    twice = dumps(release(json.loads(once), "03_x.ipynb"))
    assert once == twice


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
        ("x = 1\n### END SOLUTION\n", "without a"),
    ],
)
def test_bad_markers_name_the_file_and_cell(source: str, message: str):
    bad = notebook(("markdown", "### Exercise 1.1: T"), ("code", "y = 0"), ("code", source))
    with pytest.raises(ReleaseError, match=rf"03_bad.ipynb, cell 2 \(id c2\).*{message}"):
        release(bad, "03_bad.ipynb")


def test_a_region_without_an_exercise_heading_is_an_error():
    with pytest.raises(ReleaseError, match="no '### Exercise N.M: <title>' heading"):
        release(notebook(("code", "### BEGIN SOLUTION\n### END SOLUTION")), "01_x.ipynb")


def test_check_names_every_stale_notebook(tmp_path, monkeypatch, capsys):
    from tools import release as tool

    (tmp_path / "solutions").mkdir(), (tmp_path / "notebooks").mkdir()
    for name in ["01_a.ipynb", "02_b.ipynb"]:
        (tmp_path / "solutions" / name).write_text(json.dumps(SOLVED))
    monkeypatch.setattr(tool, "SOLUTIONS_DIR", tmp_path / "solutions")
    monkeypatch.setattr(tool, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    assert tool.main(["--check"]) == 1
    assert "01_a.ipynb, 02_b.ipynb" in capsys.readouterr().out
    assert tool.main([]) == 0
    assert tool.main(["--check"]) == 0
    (tmp_path / "notebooks" / "02_b.ipynb").write_text("{}")
    assert tool.main(["--check"]) == 1
    assert "02_b.ipynb" in capsys.readouterr().out.splitlines()[-1]
