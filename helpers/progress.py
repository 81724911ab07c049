"""The progress bar of every long loop in the course (notebooks 06, 07, 10, 11)."""

from __future__ import annotations

from tqdm import tqdm


class ProgressBar(tqdm):
    """A ``tqdm`` bar that sends its last line as soon as it closes.

    tqdm ends a finished bar with a newline that it does not flush; in a notebook
    that newline arrives after the cell's printed results and shows as a second,
    empty box of warnings. Flushing on close keeps the bar in one box.
    """

    def close(self) -> None:
        was_shown = not self.disable  # tqdm's close() sets disable, so read it first
        super().close()
        if was_shown:
            self.fp.flush()
