"""Make the student notebooks from the solved ones.

    python tools/release.py            # write notebooks/NN_name.ipynb for every solution
    python tools/release.py --check    # exit 1 and name every stale student notebook

Each ``solutions/NN_name.ipynb`` becomes ``notebooks/NN_name.ipynb``:

* every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a code cell is
  replaced by one line, at the marker's indentation, that raises
  ``NotImplementedError("Exercise 1.2 (<title>) is not solved yet — ...")``;
* the exercise number and title come from the closest markdown heading above
  the cell, written ``### Exercise 1.2: <title>``;
* outputs, execution counts and execution timings are cleared; everything
  else is kept.

The output is byte-stable: releasing twice changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HEADING = re.compile(r"^#+\s*Exercise\s+(\d+\.\d+)\s*:\s*(.+?)\s*$", re.MULTILINE)
CHECK_CALL = re.compile(r"^\s*(check_\w+)\(", re.MULTILINE)
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


class ReleaseError(ValueError):
    """A solution notebook cannot be turned into a student notebook."""


def check_calls(cell: dict) -> list[str]:
    """Names of the ``check_*`` functions a code cell calls (an exercise's check cell calls one)."""
    return CHECK_CALL.findall(cell["source"]) if cell["cell_type"] == "code" else []


def stub_line(indent: str, number: str, title: str) -> str:
    """The line that replaces one solution region."""
    message = f"Exercise {number} ({title}) is not solved yet — replace this line with your answer."
    return f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"


def strip_solutions(source: str, where: str, exercise: tuple[str, str] | None) -> tuple[str, int]:
    """Replace each solution region of ``source``; return the new source and the count."""
    out: list[str] = []
    regions = 0
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ReleaseError(f"{where}: '{BEGIN}' inside another solution region (nested markers)")
            if exercise is None:
                raise ReleaseError(
                    f"{where}: a solution region with no '### Exercise N.M: <title>' heading above it"
                )
            inside = True
            regions += 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(stub_line(indent, *exercise))
        elif marker == END:
            if not inside:
                raise ReleaseError(f"{where}: '{END}' without a '{BEGIN}' before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out), regions


def release(notebook: dict, name: str) -> dict:
    """The student version of one solution notebook (a new dict)."""
    student = json.loads(json.dumps(notebook))
    exercise: tuple[str, str] | None = None
    for index, cell in enumerate(student["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            headings = HEADING.findall(source)
            if headings:
                exercise = headings[-1]
        if cell["cell_type"] != "code":
            continue
        where = f"{name}, cell {index} (id {cell.get('id', '?')})"
        source, _ = strip_solutions(source, where, exercise)
        cell["source"] = source
        cell["outputs"] = []
        cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return student


def dumps(notebook: dict) -> str:
    """Serialise like Jupyter does (one-space indent, sorted keys, split lines)."""
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = source.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def expected_student_notebooks() -> dict[Path, str]:
    """Every student notebook path and the text it should have."""
    expected = {}
    for path in sorted(SOLUTIONS_DIR.glob("*.ipynb")):
        if not NOTEBOOK_NAME.match(path.name):
            raise ReleaseError(f"{path.name}: notebook names are 'NN_lower_case_name.ipynb'")
        notebook = json.loads(path.read_text(encoding="utf-8"))
        expected[NOTEBOOKS_DIR / path.name] = dumps(release(notebook, path.name))
    return expected


def stale_notebooks() -> list[str]:
    """Names of student notebooks that differ from their release, are missing, or have no solution."""
    expected = expected_student_notebooks()
    stale = [
        path.name
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    stale += [path.name + " (no solution)" for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")) if path not in expected]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale student notebooks")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_notebooks()
            if stale:
                print("stale student notebooks (run 'make release'): " + ", ".join(stale))
                return 1
            print("student notebooks are in sync with solutions/")
            return 0
        NOTEBOOKS_DIR.mkdir(exist_ok=True)
        for path, text in expected_student_notebooks().items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.parent.name}/{path.name}")
    except ReleaseError as err:
        print(f"release error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
