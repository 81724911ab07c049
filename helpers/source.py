"""Showing the library's code where a notebook teaches it (notebooks 05, 06, 09, 10, 11).

A notebook that builds an idea by hand then uses the library's version of it;
``show`` prints that version, so what the learner reads is what later chapters run
(and the saved output changes, and a test notices, whenever the library does).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from IPython.display import Markdown, display

from helpers.paths import REPO_ROOT


def show(obj: object) -> None:
    """Display the source of a function or class, syntax-highlighted, under the file it lives in."""
    try:
        source = inspect.getsource(obj)
        path = Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()  # the function under a decorator
    except (TypeError, OSError) as error:
        raise TypeError(f"show() displays the source of a function or class, got {obj!r}") from error
    where = path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name
    display(Markdown(f"`{where}` · `{obj.__qualname__}`\n\n```python\n{source.rstrip()}\n```"))
