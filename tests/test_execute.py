"""tools/execute.py: saved stream outputs are tidied the way a terminal shows them, and
every kernel it starts is shut down."""

from __future__ import annotations

import os

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tools.execute import run, tidy_streams


def stream(name: str, text: str):
    return new_output("stream", name=name, text=text)


def test_consecutive_chunks_of_one_stream_are_merged_in_order():
    outputs = [stream("stdout", "a\n"), stream("stdout", "b\n"), stream("stderr", "warn\n"), stream("stdout", "c\n")]
    tidy = tidy_streams(outputs)
    assert [(o.name, o.text) for o in tidy] == [("stdout", "a\nb\n"), ("stderr", "warn\n"), ("stdout", "c\n")]


def test_a_progress_bar_keeps_only_its_last_drawing():
    chunks = ["\rtraining:   0%| 0/3", "\rtraining:  33%| 1/3", "\rtraining: 100%| 3/3", "\n"]
    tidy = tidy_streams([stream("stderr", chunk) for chunk in chunks] + [stream("stdout", "done\n")])
    assert [(o.name, o.text) for o in tidy] == [("stderr", "training: 100%| 3/3\n"), ("stdout", "done\n")]


def test_other_outputs_are_kept_as_they_are():
    result = new_output("execute_result", data={"text/plain": "42"}, execution_count=1)
    assert tidy_streams([result, stream("stdout", "x\r\n")]) == [result, stream("stdout", "x\n")]


def test_run_shuts_its_kernel_down(tmp_path):
    """Each test notebook run must not leave a kernel behind (they pile up over a test session)."""
    notebook = new_notebook(cells=[new_code_cell("import os; print(os.getpid())")])
    run(notebook, tmp_path)
    kernel_pid = int(notebook.cells[0].outputs[0].text)
    with pytest.raises(ProcessLookupError):
        os.kill(kernel_pid, 0)
