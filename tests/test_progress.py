"""helpers/progress.py: a finished bar has sent all of its text, final newline included.

The bars pass ``disable=False``: `make test` sets TQDM_DISABLE=1 for every other bar.
"""

from __future__ import annotations

import io

from tqdm import tqdm

from helpers.progress import ProgressBar


class Terminal(io.StringIO):
    """A stream that remembers how much of its text had been flushed."""

    flushed = ""

    def flush(self) -> None:
        self.flushed = self.getvalue()


def test_a_closed_bar_has_flushed_its_last_newline():
    terminal = Terminal()
    for _ in ProgressBar(range(3), desc="steps", file=terminal, disable=False):
        pass
    assert terminal.getvalue().endswith("\n") and terminal.flushed == terminal.getvalue()


def test_plain_tqdm_leaves_its_last_newline_unflushed():
    """The reason ProgressBar exists: in a notebook this newline lands after the cell's results."""
    terminal = Terminal()
    for _ in tqdm(range(3), desc="steps", file=terminal, disable=False):
        pass
    assert terminal.getvalue().endswith("\n") and terminal.flushed != terminal.getvalue()


def test_a_disabled_bar_writes_nothing():
    terminal = Terminal()
    assert list(ProgressBar(range(3), file=terminal, disable=True)) == [0, 1, 2]
    assert terminal.getvalue() == ""
