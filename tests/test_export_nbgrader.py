"""tools/export_nbgrader.py: the metadata nbgrader needs, without nbgrader (tests/grading runs the real one)."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import export_nbgrader


def test_each_exercise_gets_a_solution_cell_and_a_locked_graded_check(tmp_path):
    written = export_nbgrader.export(tmp_path)
    assert len(written) == 19 and (tmp_path / "nbgrader_config.py").exists()
    notebook = nbformat.read(tmp_path / "source" / "01_dictionary_translator" / "01_dictionary_translator.ipynb", 4)
    flags = [(c.metadata.nbgrader.grade_id, c.metadata.nbgrader.solution, c.metadata.nbgrader.grade,
              c.metadata.nbgrader.locked, c.metadata.nbgrader.get("points")) for c in notebook.cells if "nbgrader" in c.metadata]
    assert flags == [
        ("tokenize", True, False, False, None), ("check_tokenize", False, True, True, 1),
        ("translate_word_by_word", True, False, False, None), ("check_translate_word_by_word", False, True, True, 1),
        ("translate_marking_unknown", True, False, False, None), ("check_translate_marking_unknown", False, True, True, 1),
    ]
    assert 'c.Execute.kernel_name = "python3"' in (tmp_path / "nbgrader_config.py").read_text()


def test_a_check_after_a_cell_without_a_solution_region_is_named():
    notebook = new_notebook(cells=[new_markdown_cell("### Exercise 1.1: T"), new_code_cell("x = 1"),
                                   new_code_cell("check_x(x)")])
    with pytest.raises(ValueError, match=r"01_x.ipynb, cell 2: the cell before check_x\(...\) has no '### BEGIN SOLUTION'"):
        export_nbgrader.flag_exercises(notebook, "01_x.ipynb")
