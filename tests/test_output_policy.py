"""The comparison policy of strict nbval (tests/output_policy.py, tests/nbval_settings.py)
and the network guard every kernel runs with (tests/offline/sitecustomize.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.notebook_tools import REPO_ROOT
from tests.output_policy import PolicyError, Tolerance, cell_policy, number_differences

FIVE_PERCENT = Tolerance(relative=0.05, absolute=0.01)


# --- reading a cell's policy --------------------------------------------------------


def test_a_cell_without_an_output_check_line_is_compared_exactly():
    assert cell_policy("print(1)") is None


def test_a_numbers_line_gives_its_tolerance():
    source = "# Output check: numbers within 5 % or 0.01 — trained\nprint(loss)"
    assert cell_policy(source) == FIVE_PERCENT


def test_an_asserts_line_needs_an_assert_statement():
    assert cell_policy("# Output check: the asserts below — sampled\nassert len(text) > 10\nprint(text)") == "asserts"
    with pytest.raises(PolicyError, match="no assert statement"):
        cell_policy("# Output check: the asserts below — sampled\nprint(text)")


def test_a_misspelt_or_misplaced_output_check_is_an_error():
    with pytest.raises(PolicyError, match="unknown output check"):
        cell_policy("# Output check: roughly\nprint(1)")
    with pytest.raises(PolicyError, match="first line"):
        cell_policy("x = 1\n# Output check: numbers within 5 % or 0.01\nprint(x)")


# --- comparing numbers --------------------------------------------------------------


def test_numbers_within_the_tolerance_pass():
    saved = "step 50: train 3.325   validation 1.887\nexact match 99.5 %\n12,889 tokens\n"
    new = "step 50: train 3.301   validation 1.890\nexact match 99.2 %\n12,889 tokens\n"
    assert number_differences(saved, new, FIVE_PERCENT) == []


def test_the_absolute_tolerance_covers_numbers_near_zero():
    assert number_differences("loss 0.001", "loss 0.004", FIVE_PERCENT) == []
    assert number_differences("loss 0.001", "loss 0.020", FIVE_PERCENT) != []


def test_a_number_beyond_the_tolerance_is_named_with_its_line():
    saved = "step 50: train 3.325\nexact match 99.5 %\n"
    (problem,) = number_differences(saved, "step 50: train 3.325\nexact match 80.1 %\n", FIVE_PERCENT)
    assert "80.1 instead of 99.5" in problem and "'exact match 99.5 %'" in problem


def test_different_words_around_the_numbers_fail():
    (problem,) = number_differences("greedy: the cat 0.5", "greedy: the dog 0.5", FIVE_PERCENT)
    assert "text around the numbers differs" in problem and "the dog" in problem


def test_a_missing_line_fails():
    assert number_differences("a 1\nb 2\n", "a 1\n", FIVE_PERCENT) != []


def test_column_padding_may_change_with_the_width_of_a_number():
    assert number_differences("perplexity   9.9 |", "perplexity  10.1 |", FIVE_PERCENT) == []


def test_thousands_separators_are_one_number():
    assert number_differences("1,000 sentences", "1,020 sentences", FIVE_PERCENT) == []
    assert number_differences("1,000 sentences", "2,000 sentences", FIVE_PERCENT) != []


# --- the plugin on a notebook, end to end -------------------------------------------


def executed_cell(source: str, stdout: str, count: int) -> nbformat.NotebookNode:
    cell = new_code_cell(source, execution_count=count)
    cell.outputs = [new_output("stream", name="stdout", text=stdout)]
    return cell


SCENARIOS = [  # (source, saved stdout, fails?)
    ("print(2 + 2)", "4\n", False),
    ("print(2 + 3)", "4\n", True),
    ("# Output check: numbers within 5 % or 0.01 — a stand-in for training\nprint('loss', 1.02)", "loss 1.0\n", False),
    ("# Output check: numbers within 5 % or 0.01 — a stand-in for training\nprint('loss', 1.5)", "loss 1.0\n", True),
    ("# Output check: the asserts below — a stand-in for sampling\ntext = 'abc'\nassert len(text) == 3\nprint(text)",
     "xyz\n", False),
    ("# Output check: the asserts below — a stand-in for sampling\nexact_match = 0.5\n"
     "assert exact_match >= 0.98, f'exact match {exact_match:.1%} is below 98 %'\nprint(exact_match)", "0.99\n", True),
    ("# NBVAL_IGNORE_OUTPUT\nprint(5)", "4\n", True),
    ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
     "except BaseException:\n    pass\nprint('offline')", "offline\n", True),
]


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory) -> str:
    """Strict nbval with the course plugin on one notebook of all the scenarios."""
    folder = tmp_path_factory.mktemp("policy")
    notebook = new_notebook(cells=[executed_cell(src, out, i + 1) for i, (src, out, _) in enumerate(SCENARIOS)])
    nbformat.write(notebook, folder / "scenarios.ipynb")
    command = [sys.executable, "-m", "pytest", "-p", "tests.nbval_settings", "-p", "no:cacheprovider",
               "--nbval", "--nbval-current-env", "-rf", str(folder / "scenarios.ipynb")]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True).stdout


def test_the_plugin_fails_exactly_the_cells_whose_claim_does_not_hold(plugin_run: str):
    failed = sorted(int(n) for n in re.findall(r"^FAILED .*::Cell (\d+)", plugin_run, re.MULTILINE))
    assert failed == [i for i, (_, _, fails) in enumerate(SCENARIOS) if fails], plugin_run[-3000:]


def test_its_failures_say_which_claim_failed(plugin_run: str):
    assert "1.5 instead of 1 (beyond 5 % or 0.01)" in plugin_run
    assert "exact match 50.0% is below 98 %" in plugin_run
    assert "NBVAL_IGNORE_OUTPUT would hide this cell's output" in plugin_run
    assert "The cell tried to use the network" in plugin_run and "192.0.2.1" in plugin_run


# --- the network guard on its own ----------------------------------------------------


def guarded_python(code: str, log: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests" / "offline"), "COURSE_NETWORK_LOG": str(log)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_the_guard_refuses_a_connection_and_logs_it(tmp_path: Path):
    log = tmp_path / "network.log"
    result = guarded_python("import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')", log)
    assert result.returncode != 0 and "NetworkRefused" in result.stderr
    assert "tried to connect to ('127.0.0.1', 9)" in log.read_text()


def test_the_guard_cannot_be_caught_by_except_exception(tmp_path: Path):
    code = "import socket\ntry:\n    socket.socket().connect(('127.0.0.1', 9))\nexcept Exception:\n    print('caught')"
    result = guarded_python(code, tmp_path / "network.log")
    assert "caught" not in result.stdout and "NetworkRefused" in result.stderr


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="this platform has no Unix-domain sockets")
def test_the_guard_lets_local_unix_sockets_through(tmp_path: Path):
    path = Path(tempfile.mkdtemp()) / "s"  # short: Unix socket paths are limited to ~100 characters
    code = (f"import socket\nserver = socket.socket(socket.AF_UNIX)\nserver.bind({str(path)!r})\nserver.listen()\n"
            f"client = socket.socket(socket.AF_UNIX)\nclient.connect({str(path)!r})\nprint('connected')")
    result = guarded_python(code, tmp_path / "network.log")
    assert result.stdout.strip() == "connected", result.stderr
