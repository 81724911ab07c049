"""How strict nbval compares a solution cell's saved output with a new run.

*Exact where the maths is exact, tolerant where it is trained* (COURSE_DESIGN.md).
By default every output is compared exactly (after ``tests/nbval_sanitize.cfg``).
A cell whose numbers come from a trained model, or from timing, declares its
comparison on its **first line**, where a reader sees it:

    # Output check: numbers within 5 % or 0.01 — trained weights differ in the last digits between CPUs

        The text around the numbers must be the same; each number may differ from
        the saved one by the larger of 5 % of it and 0.01.

    # Output check: the asserts below — the sampled text differs between CPUs

        The output is not compared, only its kinds (text, figure); the cell must
        state its claim in ``assert`` statements, and they must hold.

Nothing else turns a comparison off: the plugin rejects ``NBVAL_IGNORE_OUTPUT``
and ``NBVAL_SKIP`` in ``solutions/``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MARKER = "# Output check:"
NUMBERS = re.compile(r"^# Output check: numbers within (\d+(?:\.\d+)?) % or (\d+(?:\.\d+)?)\b")
ASSERTS = re.compile(r"^# Output check: the asserts below\b")
#: A number as the course prints it: optional sign, thousands separators, decimals, exponent.
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Tolerance:
    """Numbers may differ by ``max(relative * |saved|, absolute)``."""

    relative: float
    absolute: float

    def allows(self, saved: float, new: float) -> bool:
        return abs(new - saved) <= max(self.relative * abs(saved), self.absolute)

    def __str__(self) -> str:
        return f"{100 * self.relative:g} % or {self.absolute:g}"


class PolicyError(ValueError):
    """A cell's ``# Output check:`` line is malformed, or its claim is missing."""


def cell_policy(source: str) -> Tolerance | str | None:
    """The comparison a cell declares: a :class:`Tolerance`, ``"asserts"``, or ``None`` (exact)."""
    first_line = source.split("\n", 1)[0].strip()
    if not first_line.startswith(MARKER):
        if MARKER in source:
            raise PolicyError(f"'{MARKER}' must be the cell's first line")
        return None
    if match := NUMBERS.match(first_line):
        return Tolerance(float(match.group(1)) / 100, float(match.group(2)))
    if ASSERTS.match(first_line):
        if not any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source))):
            raise PolicyError("a cell checked by 'the asserts below' has no assert statement")
        return "asserts"
    raise PolicyError(
        f"unknown output check {first_line!r}: write '# Output check: numbers within R % or A' "
        "or '# Output check: the asserts below'"
    )


def numbers(text: str) -> list[tuple[float, str]]:
    """Every number of ``text``, with the line it is on."""
    return [(float(match.group().replace(",", "")), line) for line in text.split("\n") for match in NUMBER.finditer(line)]


def skeleton(text: str) -> str:
    """``text`` with every number replaced by ``#``, runs of spaces made one, line ends stripped."""
    lines = re.sub(r"[ \t]+", " ", NUMBER.sub("#", text)).split("\n")
    return "\n".join(line.rstrip() for line in lines)


def number_differences(saved: str, new: str, tolerance: Tolerance) -> list[str]:
    """Why ``new`` is not ``saved`` within ``tolerance`` (an empty list when it is)."""
    saved_lines, new_lines = skeleton(saved).split("\n"), skeleton(new).split("\n")
    for saved_line, new_line in zip(saved_lines, new_lines):
        if saved_line != new_line:
            return [f"the text around the numbers differs:\n  saved: {saved_line!r}\n  new:   {new_line!r}"]
    if len(saved_lines) != len(new_lines):
        return [f"saved {len(saved_lines)} lines, new {len(new_lines)}"]
    return [
        f"{after:g} instead of {before:g} (beyond {tolerance}) in {line.strip()!r}"
        for (before, line), (after, _) in zip(numbers(saved), numbers(new))
        if not tolerance.allows(before, after)
    ]
