"""Export the course as an nbgrader course directory.

    python tools/export_nbgrader.py DIR

writes ``DIR/source/NN_name/NN_name.ipynb`` for every solution notebook, with nbgrader's
metadata on the exercise cells: the answer cell is a ``solution`` cell (nbgrader replaces its
``### BEGIN SOLUTION`` region with a stub), the check cell after it a ``grade`` cell, ``locked``
(nbgrader puts back its original when it grades), worth one point. Every ``grade_id`` comes
from the check's name, so it stays the same from one export to the next. ``DIR/nbgrader_config.py``
runs the notebooks in the course's kernel. Then, in DIR (nbgrader comes with ``pip install -e ".[grading]"``)::

    nbgrader generate_assignment 01_dictionary_translator   # -> release/
    nbgrader autograde 01_dictionary_translator             # submitted/<student>/ -> autograded/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # `python tools/export_nbgrader.py` from anywhere finds tools/

from tools.execute import KERNELSPEC  # noqa: E402
from tools.release import BEGIN, SOLUTIONS_DIR, check_calls  # noqa: E402

POINTS = 1  # per exercise
CONFIG = f'''"""nbgrader's settings for the course "LLMs from Dummies" (written by tools/export_nbgrader.py)."""

c = get_config()  # noqa: F821 (nbgrader defines get_config in its config files)

# Run the notebooks in the course's kernel (the one `make lab` installs), as students do.
c.Execute.kernel_name = "{KERNELSPEC["name"]}"
c.Execute.timeout = 600
'''


def nbgrader_metadata(grade_id: str, *, solution: bool = False, grade: bool = False) -> dict:
    """nbgrader's cell metadata (schema 3): an answer (``solution``) or a locked check (``grade``)."""
    metadata = {"grade": grade, "grade_id": grade_id, "locked": grade, "schema_version": 3,
                "solution": solution, "task": False}
    if grade:
        metadata["points"] = POINTS
    return metadata


def flag_exercises(notebook: nbformat.NotebookNode, name: str) -> int:
    """Put nbgrader's metadata on each exercise's answer and check cells; return how many exercises."""
    cells = notebook.cells
    exercises = 0
    for index, cell in enumerate(cells):
        for check in check_calls(cell):
            answer = cells[index - 1]
            if BEGIN not in answer.source:
                raise ValueError(f"{name}, cell {index}: the cell before {check}(...) has no '{BEGIN}' region")
            answer.metadata["nbgrader"] = nbgrader_metadata(check.removeprefix("check_"), solution=True)
            cell.metadata["nbgrader"] = nbgrader_metadata(check, grade=True)
            exercises += 1
    return exercises


def export(folder: Path) -> list[Path]:
    """Write the course directory into ``folder``; return the source notebooks written."""
    written = []
    for path in sorted(SOLUTIONS_DIR.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        flag_exercises(notebook, path.name)
        target = folder / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    (folder / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the nbgrader course directory to write (created if needed)")
    args = parser.parse_args(argv)
    if args.folder.exists() and not args.folder.is_dir():
        parser.error(f"{args.folder} is a file, not a folder")
    for path in export(args.folder):
        print(f"wrote {path.relative_to(args.folder)}")
    print(f"wrote nbgrader_config.py; next: cd {args.folder} && nbgrader generate_assignment <NN_name>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
