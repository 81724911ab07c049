"""Check cells: is the learner's answer to an exercise right? (every notebook)

:mod:`helpers.checks.core` holds the machinery (cases, the exercise registry, the
messages a learner sees); each notebook has its own module of checks, and imports
only that one::

    from helpers.checks.ch01_translate import check_tokenize

This package imports no chapter until asked, so notebook 01 never loads torch.
"""

from __future__ import annotations

import importlib
import pkgutil

from helpers.checks.core import EXERCISES, Exercise

#: The chapters' modules, in course order: ``ch01_translate``, ``ch02_levenshtein``, ...
CHAPTERS: tuple[str, ...] = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")))


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course, by the name of its check (imports every chapter's checks)."""
    for chapter in CHAPTERS:
        importlib.import_module(f"{__name__}.{chapter}")
    return EXERCISES
