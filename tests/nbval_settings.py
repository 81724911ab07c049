"""pytest plugin with the course's nbval policy (loaded with ``-p tests.nbval_settings``).

- Strict nbval compares every saved output exactly, except ``stderr`` (warnings and
  progress bars go there, and their text depends on the machine) and the cells whose
  first line declares a tolerant comparison (``# Output check: ...``, see
  ``tests/output_policy.py``). nbval's own markers that switch a comparison off
  (``NBVAL_IGNORE_OUTPUT``, ``NBVAL_SKIP``, their tags) are refused.
- Every kernel runs offline: ``tests/offline/sitecustomize.py`` refuses network
  connections, and a cell that tried one fails, even if it caught the error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nbval.plugin import IPyNbCell, transform_streams_for_comparison

from tests.output_policy import PolicyError, Tolerance, cell_policy, number_differences

OFFLINE = Path(__file__).resolve().parent / "offline"
SWITCHES_OFF = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "nbval-ignore-output", "nbval-skip")


def pytest_configure(config) -> None:
    """Start every kernel (and subprocess) of this run with the network guard."""
    paths = [str(OFFLINE), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    handle, log = tempfile.mkstemp(prefix="course-network-", suffix=".log")  # one per process
    os.close(handle)
    os.environ["COURSE_NETWORK_LOG"] = log


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if not isinstance(item, IPyNbCell):
            continue
        if "stderr" not in item.parent.skip_compare:
            item.parent.skip_compare = (*item.parent.skip_compare, "stderr")
        item.runtest = _offline_runtest(item, item.runtest)
        if not item.parent.compare_outputs:  # --nbval-lax: outputs are not compared anyway
            continue
        try:
            policy = cell_policy(item.cell.source)
            switched_off = [m for m in SWITCHES_OFF if m in item.cell.source or m in item.cell.metadata.get("tags", [])]
            if switched_off:
                raise PolicyError(f"{switched_off[0]} would hide this cell's output: use an '# Output check:' line")
        except (PolicyError, SyntaxError) as error:
            item.runtest = _fail(f"{item.name}: {error}")
            continue
        if policy is not None:
            item.compare_outputs = _tolerant_compare(item, policy)


def _offline_runtest(item, runtest):
    """``runtest`` that also fails when the kernel logged a network connection during the cell."""

    def run() -> None:
        log = Path(os.environ["COURSE_NETWORK_LOG"])
        before = log.stat().st_size
        try:
            runtest()
        finally:
            attempts = log.read_text(encoding="utf-8")[before:].strip()
            if attempts:
                item.raise_cell_error("The cell tried to use the network", attempts)

    return run


def _fail(message: str):
    def run() -> None:
        raise PolicyError(message)

    return run


def _texts(outputs: list, skip: tuple) -> dict[str, list]:
    """Output values by key ('stdout', 'text/plain', 'image/png', ...), as nbval compares them."""
    texts: dict[str, list] = {}
    for output in transform_streams_for_comparison(outputs):
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        texts.setdefault(mime, []).append(data)
            elif key not in skip:
                texts.setdefault(key, []).append(value)
    return texts


def _tolerant_compare(item, policy: Tolerance | str):
    """A replacement for nbval's exact ``compare_outputs`` of one cell."""

    def compare(test: list, ref: list, skip_compare=None) -> bool:
        skip = item.parent.skip_compare
        new, saved = _texts(test, skip), _texts(ref, skip)
        problems = []
        if new.keys() != saved.keys() or any(len(new[key]) != len(saved[key]) for key in saved):
            problems.append(f"saved outputs {_kinds(saved)}, new outputs {_kinds(new)}")
        elif isinstance(policy, Tolerance):
            for key in saved:
                for before, after in zip(saved[key], new[key]):
                    if isinstance(before, str):
                        problems += number_differences(item.sanitize(before), item.sanitize(after), policy)
        item.comparison_traceback = problems
        return not problems

    return compare


def _kinds(texts: dict[str, list]) -> str:
    return ", ".join(f"{key} × {len(values)}" for key, values in sorted(texts.items())) or "none"
