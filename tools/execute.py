"""Re-execute solution notebooks in place, so their saved outputs are fresh.

    python tools/execute.py                       # every notebook in solutions/
    python tools/execute.py solutions/01_*.ipynb  # some of them

Runs each notebook top to bottom in a fresh kernel of the current Python
environment, from the notebook's own folder, and stops at the first error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The kernel that `make lab` installs (see the Makefile). Every notebook names it, so that
#: JupyterLab finds the notebook's kernel already recorded and does not rewrite the file on opening.
KERNELSPEC = {"display_name": "Python 3 (LLMs from Dummies)", "language": "python", "name": "python3"}


def course_kernel_manager() -> AsyncKernelManager:
    """A manager for a kernel of this very Python environment.

    Its connection is encrypted (CurveZMQ, which ipykernel supports), so the kernel has
    no "running over TCP without encryption" warning to print.
    """
    return AsyncKernelManager(
        kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager(), transport_encryption="auto",
    )


def run(notebook: nbformat.NotebookNode, folder: Path, allow_errors: bool = False, timeout: int = 600) -> None:
    """Execute ``notebook`` in place, in a kernel of this very Python environment.

    The kernel starts in ``folder`` (the notebook's own folder), as in JupyterLab, and is
    shut down at the end.
    """
    client = NotebookClient(
        notebook, km=course_kernel_manager(), timeout=timeout, allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(cleanup_kc=True)  # the client did not create the kernel manager, so say so


def tidy_streams(outputs: list) -> list:
    """Merge consecutive chunks of one stream and keep what a terminal would show.

    A progress bar redraws its line with carriage returns; the saved output keeps
    only the last drawing of each line, so the notebook file stays small and readable.
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    for output in merged:
        if output.output_type == "stream" and "\r" in output.text:
            lines = output.text.split("\n")
            output.text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)
    return merged


def execute(path: Path) -> float:
    """Execute one notebook file in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    run(notebook, path.parent)
    seconds = time.perf_counter() - start
    notebook.metadata.kernelspec = dict(KERNELSPEC)
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = tidy_streams(cell.outputs)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: solutions/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
    total = 0.0
    for path in paths:
        seconds = execute(path)
        total += seconds
        print(f"{seconds:7.1f} s  {path.name}", flush=True)
    print(f"{total:7.1f} s  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
