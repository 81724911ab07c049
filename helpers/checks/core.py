"""The machinery of the check cells, shared by every notebook.

Every exercise in the course is a function (or class) the learner writes. The
cell after it calls ``check_<name>(<function>)``, which runs the function on
several cases and ends in one of three ways:

* every case passes: one friendly line is printed;
* the function still raises ``NotImplementedError`` (the unsolved stub):
  :class:`ExerciseNotSolved` says the exercise is not solved yet;
* a case comes back wrong (or raises): :class:`WrongAnswer` names the
  exercise, the input, what was expected, what came back, and a hint.

A chapter's module (``helpers/checks/ch01_translate.py`` …) writes each check as a
function that builds the exercise's :class:`Cases`; the :func:`exercise` decorator
registers it and turns it into the function the notebook calls. This module
imports no torch: notebook 01 is plain Python.
"""

from __future__ import annotations

import builtins
import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ExerciseError(AssertionError):
    """Base class of the errors a check cell raises."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message alone.

        A traceback through the checker would only hide the message (and show the
        cases' expected answers); the error's name and message still reach nbval and
        the grader.
        """
        return str(self).split("\n")


class ExerciseNotSolved(ExerciseError):
    """The exercise still holds its ``NotImplementedError`` stub."""


class WrongAnswer(ExerciseError):
    """The exercise returned a wrong value, or raised where it should not."""


@dataclass(frozen=True)
class Exercise:
    """An exercise's number (``"1.2"``) and title, as its notebook heading shows them."""

    number: str
    title: str

    def __str__(self) -> str:
        return f"Exercise {self.number} ({self.title})"


#: Every registered check, by function name: ``{"check_tokenize": Exercise("1.1", ...)}``.
#: A chapter's checks are registered when its module is imported (see ``all_exercises``).
EXERCISES: dict[str, Exercise] = {}


@dataclass(frozen=True)
class Case:
    """One input for the learner's function and the answer it should give.

    ``expected`` may be an exception class: the function must then raise it.
    ``hint`` is shown when this case fails.
    """

    args: tuple
    expected: Any
    hint: str = ""
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Cases:
    """What a check builds: its cases and how to judge a wrong answer.

    ``diagnose(got, case)`` may return a hint for the mistake it recognises
    ("your rows sum to 3, not 1: ...") instead of the case's own hint. ``atol`` is
    the tolerance of float comparisons. With ``inputs_unchanged`` an answer that
    changes its arguments in place is wrong, even if it returns the right value.
    ``library`` lists the functions the exercise re-creates: an answer that calls
    one of them still passes, with a note saying so. ``adapt`` turns an answer that
    is not a function (a class, such as an ``nn.Module``) into the function the cases
    call.
    """

    cases: Sequence[Case]
    diagnose: Callable[[Any, Case], str | None] | None = None
    atol: float = 1e-6
    inputs_unchanged: bool = False
    library: tuple[Callable, ...] = ()
    adapt: Callable[[Any], Callable] | None = None


def exercise(number: str, title: str, success: str) -> Callable[[Callable[[], Cases]], Callable[[Callable], None]]:
    """Register a chapter's check and turn it into the function its notebook calls.

    The decorated function builds the :class:`Cases` of exercise ``number``; the
    result, ``check_x(answer)``, runs ``answer`` on them (:func:`run_cases`) and
    prints ``success`` when every case passes.
    """

    def register(build: Callable[[], Cases]) -> Callable[[Callable], None]:
        name = build.__name__
        if name in EXERCISES:
            raise ValueError(f"{name} is registered twice")
        which = EXERCISES[name] = Exercise(number, title)

        def check(answer: Callable) -> None:
            cases = build()
            run = cases.adapt(answer) if cases.adapt else answer
            run_cases(which, run, cases.cases, atol=cases.atol, diagnose=cases.diagnose,
                      inputs_unchanged=cases.inputs_unchanged, success=success, library=cases.library)

        check.__name__ = check.__qualname__ = name
        check.__doc__ = f"The check of {which}: {build.__doc__}"
        check.__module__ = build.__module__
        check.exercise = which
        return check

    return register


# --- describing values and their differences ----------------------------------------


def _is_array(value: Any) -> bool:
    """A torch tensor or a numpy array (anything with a shape and a dtype)."""
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _kind(dtype: Any) -> str:
    """``bool``, ``int``, ``float`` or ``complex``: what matters when two dtypes are compared."""
    name = str(dtype)
    for kind in ("bool", "complex", "float", "int"):
        if kind in name:
            return kind
    return name


def _rounded(value: Any) -> Any:
    """Floats (also inside lists) rounded to 4 significant digits, for messages."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def describe(value: Any, limit: int = 160) -> str:
    """A short, readable description of a value for an error message.

    Numbers are rounded to 4 significant digits; a tensor shows its shape, and its
    values when it has at most 12 and they fit in ``limit`` characters; a long dict shows its first entries and its size;
    a module or other object shows its type.
    """
    if _is_array(value):
        text = f"{type(value).__name__} of shape {tuple(value.shape)}, dtype {value.dtype}"
        with_values = f"{text}: {_rounded(value.tolist())}"
        return with_values if math.prod(value.shape) <= 12 and len(with_values) <= limit else text
    if isinstance(value, type) and issubclass(value, BaseException):
        return f"raises {value.__name__}"
    if isinstance(value, (tuple, list)) and any(_is_array(item) for item in value):
        inner = ", ".join(describe(item, limit=60) for item in value)
        return f"a {type(value).__name__} of {len(value)}: ({inner})"
    if isinstance(value, Mapping) and len(repr(value)) > limit:
        shown = ", ".join(f"{k!r}: {describe(v, 30)}" for k, v in list(value.items())[:4])
        return f"{{{shown}, …}} ({len(value)} entries)"
    if isinstance(value, float):
        return repr(_rounded(value))
    if type(value).__repr__ is object.__repr__ or hasattr(value, "named_parameters"):  # a module, an object
        return f"a {type(value).__name__}"
    text = repr(_rounded(value))
    return text if len(text) <= limit else text[: limit - 6] + " … (cut)"


def first_match(matches: Mapping[str, Callable[[], bool]]) -> str | None:
    """The hint of the first mistake whose test says the answer is that mistake (for a check's ``diagnose``).

    A test that raises ``RuntimeError`` (shapes that do not fit) is not that mistake.
    """
    for hint, is_it in matches.items():
        try:
            if is_it():
                return hint
        except RuntimeError:
            continue
    return None


def describe_call(name: str, case: Case) -> str:
    """``translate('le chat', {...})`` for the case's arguments."""
    parts = [describe(arg, limit=60) for arg in case.args]
    parts += [f"{key}={describe(val, limit=60)}" for key, val in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def difference(got: Any, expected: Any, atol: float = 1e-6) -> str | None:
    """What is wrong with ``got`` compared with ``expected``, or ``None`` if equal.

    Arrays and tensors are compared by shape, kind of dtype (bool, int, float), then
    values within ``atol``; a tuple of tensors element by element; dicts (and
    Counters) key by key; floats within ``atol``; everything else with ``==`` and
    its type.
    """
    if _is_array(expected):
        return _array_difference(got, expected, atol)
    if isinstance(expected, tuple) and any(_is_array(item) for item in expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)}, got {describe(got, limit=60)}"
        for i, (got_item, expected_item) in enumerate(zip(got, expected)):
            problem = difference(got_item, expected_item, atol)
            if problem is not None:
                return f"item {i}: {problem}"
        return None
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict, got a {type(got).__name__}"
        missing = [key for key in expected if key not in got]
        extra = [key for key in got if key not in expected]
        wrong = [key for key in expected if key in got and got[key] != expected[key]]
        if missing:
            return f"{len(missing)} missing key(s), e.g. {missing[0]!r} (expected {expected[missing[0]]!r})"
        if extra:
            return f"{len(extra)} unexpected key(s), e.g. {extra[0]!r}: {got[extra[0]]!r}"
        if wrong:
            return f"{len(wrong)} wrong value(s), e.g. [{wrong[0]!r}] is {got[wrong[0]]!r}, not {expected[wrong[0]]!r}"
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return None if abs(got - expected) <= atol else f"{got!r} is not {expected!r}"
    if type(got) is not type(expected):
        return f"expected a {type(expected).__name__}, got a {type(got).__name__}"
    return None if got == expected else "the values are not equal"


def _array_difference(got: Any, expected: Any, atol: float) -> str | None:
    if not _is_array(got):
        return f"expected an array/tensor, got a {type(got).__name__}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"shape {tuple(got.shape)} instead of {tuple(expected.shape)}"
    if _kind(got.dtype) != _kind(expected.dtype):
        return f"dtype {got.dtype} instead of {expected.dtype}"
    got_np, expected_np = (np.asarray(a.detach() if hasattr(a, "detach") else a, dtype=float) for a in (got, expected))
    if np.isnan(got_np).any() and not np.isnan(expected_np).any():
        return "the result contains NaN"
    if not np.isclose(got_np, expected_np, atol=atol, rtol=0, equal_nan=True).all():
        worst = float(np.nanmax(np.abs(got_np - expected_np)))
        return f"values differ by up to {worst:.4g} (tolerance {atol:g})"
    return None


# --- the outcome of a check ---------------------------------------------------------


def not_solved(which: Exercise, stub_message: str = "") -> ExerciseNotSolved:
    """The error a check raises while the exercise (or one it uses) is still a stub."""
    if stub_message.startswith("Exercise ") and not stub_message.startswith(str(which)):
        other = stub_message.split(" is not solved yet")[0]
        return ExerciseNotSolved(
            f"{which} cannot be checked yet: your answer calls {other}, which is not solved "
            "yet. Solve that one first, then run this check again."
        )
    return ExerciseNotSolved(
        f"{which} is not solved yet: your function still raises NotImplementedError. "
        "Replace the `raise NotImplementedError(...)` line with your answer, run that "
        "cell, then run this check again."
    )


def wrong_answer(which: Exercise, call: str, expected: str, got: str, hint: str, raised: str = "") -> WrongAnswer:
    """The error a check raises for a wrong answer, laid out line by line.

    When the learner's code raised, its error comes first: that is what to fix.
    """
    lines = [f"{which}: not quite.", f"  input:    {call}"]
    if raised:
        lines.append(f"  your code raised {raised}")
    lines += [f"  expected: {expected}"] + ([f"  got:      {got}"] if got else [])
    if hint:
        lines.append(f"  hint:     {hint}")
    return WrongAnswer("\n".join(lines))


def library_calls(answer: Callable, library: Sequence[Callable]) -> list[str]:
    """The functions of ``library`` that ``answer`` calls by name (``distance(a, b)``,
    ``Levenshtein.distance(a, b)``, ``F.softmax(x)``), as ``module.name``."""
    code = getattr(answer, "__code__", None)
    if code is None:
        return [_name(f) for f in library if answer is f]
    names, stack = set(code.co_freevars), [code]
    while stack:  # the names used by the function and by the functions defined inside it
        current = stack.pop()
        names |= set(current.co_names)
        stack += [const for const in current.co_consts if hasattr(const, "co_names")]
    closure = dict(zip(code.co_freevars, (cell.cell_contents for cell in answer.__closure__ or ())))
    scope = {**vars(builtins), **getattr(answer, "__globals__", {}), **closure}
    found = set()
    for name in names:
        target = scope.get(name)
        candidates = [target] + [getattr(target, attr, None) for attr in names if hasattr(target, "__dict__")]
        found |= {_name(f) for f in library for candidate in candidates if candidate is f}
    return sorted(found | {_name(f) for f in library if answer is f})


def _name(function: Callable) -> str:
    module = getattr(function, "__module__", None) or "torch"
    short = {"torch.nn.functional": "F", "torch._C._nn": "F"}  # F.scaled_dot_product_attention lives in torch._C._nn
    return f"{short.get(module, module)}.{function.__name__}"


def run_cases(
    which: Exercise,
    answer: Callable,
    cases: Sequence[Case],
    *,
    atol: float = 1e-6,
    diagnose: Callable[[Any, Case], str | None] | None = None,
    inputs_unchanged: bool = False,
    success: str = "",
    library: Sequence[Callable] = (),
) -> None:
    """Run ``answer`` on every case; raise on the first wrong one, else print success.

    Each call gets copies of the case's arguments, so an answer that edits them in
    place cannot spoil a later case (with ``inputs_unchanged`` such an edit is itself
    a wrong answer). See :class:`Cases` for ``diagnose`` and ``atol``.
    """
    if not callable(answer):
        raise TypeError(
            f"{which}: the check expects your function itself, got {describe(answer)}. "
            "Pass the function without calling it, e.g. check_tokenize(tokenize)."
        )
    name = getattr(answer, "__name__", "your_function")
    for case in cases:
        call = describe_call(name, case)
        raises = isinstance(case.expected, type) and issubclass(case.expected, BaseException)
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        try:
            got = answer(*args, **kwargs)
        except NotImplementedError as stub:
            raise not_solved(which, str(stub)) from None
        except Exception as err:  # the learner's code raised: report it first
            if raises and isinstance(err, case.expected):
                continue
            raise wrong_answer(which, call, describe(case.expected), "", case.hint,
                               raised=f"{type(err).__name__}: {err}") from None
        if raises:
            raise wrong_answer(which, call, describe(case.expected), describe(got), case.hint)
        if inputs_unchanged:
            for position, (before, after) in enumerate(zip(case.args, args)):
                if difference(after, before, atol=0) is not None:
                    raise wrong_answer(which, call, "your inputs left as they were",
                                       f"argument {position + 1} became {describe(after)}",
                                       "build a new list (or tensor) and return it; do not change your inputs in place.")
        problem = difference(got, case.expected, atol=atol)
        if problem is not None:
            hint = (diagnose(got, case) if diagnose else None) or case.hint
            raise wrong_answer(which, call, describe(case.expected), f"{describe(got)} ({problem})", hint)
    print(f"✅ {which}: all {len(cases)} cases pass. {success}".rstrip())
    called = library_calls(answer, library)
    if called:
        print(f"   (Your answer calls {', '.join(called)}, which this exercise re-creates: it is right, "
              "and for the exercise, try writing it without.)")
