"""Check cells: is the learner's answer to an exercise right?

Every exercise in the course is a function (or class) the learner writes. The
cell after it calls ``check_<name>(<function>)``, which runs the function on
several cases and ends in one of three ways:

* every case passes: one friendly line is printed;
* the function still raises ``NotImplementedError`` (the unsolved stub):
  :class:`ExerciseNotSolved` says the exercise is not solved yet;
* a case comes back wrong (or raises): :class:`WrongAnswer` names the
  exercise, the input, what was expected, what came back, and a hint.

The first part of this module is the machinery; below it, one section per
notebook holds that notebook's checks. Each check is registered with
:func:`exercise`, so tests can confirm that a notebook's exercise headings
match the checks its cells call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------
# Machinery
# ---------------------------------------------------------------------------


class ExerciseError(AssertionError):
    """Base class of the errors a check cell raises."""


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
EXERCISES: dict[str, Exercise] = {}


def exercise(number: str, title: str) -> Callable[[Callable], Callable]:
    """Register the decorated ``check_*`` function as the check of one exercise."""

    def register(check: Callable) -> Callable:
        if check.__name__ in EXERCISES:
            raise ValueError(f"{check.__name__} is registered twice")
        EXERCISES[check.__name__] = Exercise(number, title)
        check.exercise = EXERCISES[check.__name__]
        return check

    return register


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


def describe(value: Any, limit: int = 160) -> str:
    """A short, readable description of a value for an error message."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        kind = type(value).__name__
        text = f"{kind} of shape {tuple(shape)}, dtype {value.dtype}"
        if math.prod(shape) <= 12:
            text += f": {value.tolist()}"
        return text
    if isinstance(value, type) and issubclass(value, BaseException):
        return f"raises {value.__name__}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


def describe_call(name: str, case: Case) -> str:
    """``translate('le chat', {...})`` for the case's arguments."""
    parts = [describe(arg, limit=60) for arg in case.args]
    parts += [f"{key}={describe(val, limit=60)}" for key, val in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def difference(got: Any, expected: Any, atol: float = 1e-6) -> str | None:
    """What is wrong with ``got`` compared with ``expected``, or ``None`` if equal.

    Arrays and tensors are compared by shape, then values within ``atol``;
    floats within ``atol``; everything else with ``==`` and its type.
    """
    if hasattr(expected, "shape") and hasattr(expected, "dtype"):
        if not (hasattr(got, "shape") and hasattr(got, "dtype")):
            return f"expected an array/tensor, got a {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"shape {tuple(got.shape)} instead of {tuple(expected.shape)}"
        import numpy as np

        got_np = np.asarray(got.detach() if hasattr(got, "detach") else got, dtype=float)
        exp_np = np.asarray(
            expected.detach() if hasattr(expected, "detach") else expected, dtype=float
        )
        if np.isnan(got_np).any() and not np.isnan(exp_np).any():
            return "the result contains NaN"
        same = np.isclose(got_np, exp_np, atol=atol, rtol=0, equal_nan=True)
        if not same.all():
            worst = float(np.nanmax(np.abs(got_np - exp_np)))
            return f"values differ by up to {worst:.4g} (tolerance {atol:g})"
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return None if abs(got - expected) <= atol else f"{got!r} is not {expected!r}"
    if type(got) is not type(expected):
        return f"expected a {type(expected).__name__}, got a {type(got).__name__}"
    return None if got == expected else "the values are not equal"


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


def wrong_answer(which: Exercise, call: str, expected: str, got: str, hint: str) -> WrongAnswer:
    """The error a check raises for a wrong answer, laid out line by line."""
    lines = [
        f"{which}: not quite.",
        f"  input:    {call}",
        f"  expected: {expected}",
        f"  got:      {got}",
    ]
    if hint:
        lines.append(f"  hint:     {hint}")
    return WrongAnswer("\n".join(lines))


def run_cases(
    which: Exercise,
    func: Callable,
    cases: Sequence[Case],
    *,
    atol: float = 1e-6,
    diagnose: Callable[[Any, Case], str | None] | None = None,
    success: str = "",
) -> None:
    """Run ``func`` on every case; raise on the first wrong one, else print success.

    ``diagnose(got, case)`` may return a specific hint for a wrong answer
    ("your rows sum to 3, not 1: ..."); otherwise the case's own hint is used.
    """
    if not callable(func):
        raise TypeError(
            f"{which}: the check expects your function itself, got {describe(func)}. "
            "Pass the function without calling it, e.g. check_tokenize(tokenize)."
        )
    name = getattr(func, "__name__", "your_function")
    for case in cases:
        call = describe_call(name, case)
        raises = isinstance(case.expected, type) and issubclass(case.expected, BaseException)
        try:
            got = func(*case.args, **case.kwargs)
        except NotImplementedError as stub:
            raise not_solved(which, str(stub)) from None
        except Exception as err:  # the learner's code raised: report it as the answer
            if raises and isinstance(err, case.expected):
                continue
            raise wrong_answer(
                which, call, describe(case.expected), f"{type(err).__name__}: {err}", case.hint
            ) from None
        if raises:
            raise wrong_answer(which, call, describe(case.expected), describe(got), case.hint)
        problem = difference(got, case.expected, atol=atol)
        if problem is not None:
            hint = (diagnose(got, case) if diagnose else None) or case.hint
            raise wrong_answer(
                which, call, describe(case.expected), f"{describe(got)} ({problem})", hint
            )
    print(f"✅ {which}: all {len(cases)} cases pass. {success}".rstrip())


def cases_from(pairs: Iterable[tuple[tuple, Any]], hint: str = "") -> list[Case]:
    """Cases from ``(args, expected)`` pairs that share one hint."""
    return [Case(args, expected, hint) for args, expected in pairs]


# ---------------------------------------------------------------------------
# 01 — the dictionary translator
# ---------------------------------------------------------------------------

SEED_DICTIONARY = {"le": "the", "chat": "cat", "est": "is", "sous": "under", "la": "the", "table": "table"}


@exercise("1.1", "Split a sentence into tokens")
def check_tokenize(tokenize: Callable[[str], list[str]]) -> None:
    """Lower-case, split on any run of white space, drop empty tokens."""
    split_hint = (
        "split on any run of white space (spaces, tabs, new lines), not on one "
        "space: str.split() with no argument does exactly that."
    )
    cases = [
        Case(("le chat est sous la table",), ["le", "chat", "est", "sous", "la", "table"]),
        Case(("chat",), ["chat"], "a sentence of one word is a list of one token."),
        Case(("Le Chat",), ["le", "chat"], "lower-case the text so 'Le' and 'le' are one token."),
        Case(("le  chat\test\nsous",), ["le", "chat", "est", "sous"], split_hint),
        Case(("  la table  ",), ["la", "table"], "leading and trailing spaces make no token."),
        Case(("",), [], "an empty text has no tokens: return an empty list."),
    ]
    run_cases(check_tokenize.exercise, tokenize, cases, success="Text is now a list of tokens.")


@exercise("1.2", "Translate word by word")
def check_translate_word_by_word(
    translate_word_by_word: Callable[[str, dict[str, str]], str],
) -> None:
    """Look every token up; join with single spaces; unknown words raise KeyError."""
    join_hint = (
        "join the translated words with one space between them and none at the "
        "ends: ' '.join(words)."
    )
    cases = [
        Case(("le chat est sous la table", SEED_DICTIONARY), "the cat is under the table", join_hint),
        Case(("la table", SEED_DICTIONARY), "the table", join_hint),
        Case(("Le Chat", SEED_DICTIONARY), "the cat", "tokenize the sentence first: it lower-cases."),
        Case(("chat", {"chat": "dog"}), "dog", "use the dictionary you are given, not a global one."),
        Case(("les tables", SEED_DICTIONARY), KeyError, "a word missing from the dictionary should raise KeyError."),
    ]
    run_cases(
        check_translate_word_by_word.exercise,
        translate_word_by_word,
        cases,
        success="Your translator speaks six words of French.",
    )


@exercise("1.3", "Mark unknown words")
def check_translate_marking_unknown(
    translate_marking_unknown: Callable[[str, dict[str, str]], str],
) -> None:
    """Unknown words come out as ``[word]``; known words are translated."""
    cases = [
        Case(("le chat est sous la table", SEED_DICTIONARY), "the cat is under the table",
             "known words are translated as before."),
        Case(("les tables", SEED_DICTIONARY), "[les] [tables]",
             "every unknown token comes out in square brackets: '[' + token + ']'."),
        Case(("le chat noir", SEED_DICTIONARY), "the cat [noir]",
             "only the unknown token is marked; the others are translated."),
        Case(("Le CHIEN", SEED_DICTIONARY), "the [chien]",
             "tokenize first (lower-case), then mark the token as it was tokenized."),
    ]
    run_cases(
        check_translate_marking_unknown.exercise,
        translate_marking_unknown,
        cases,
        success="Unknown words no longer crash the translator.",
    )


# ---------------------------------------------------------------------------
# 11 — generation
# ---------------------------------------------------------------------------

import functools as _functools11

import torch as _torch11


def _cloning11(func: Callable) -> Callable:
    """``func`` called on copies of its tensor arguments, so an in-place edit cannot spoil a case."""

    @_functools11.wraps(func)
    def call(*args, **kwargs):
        args = tuple(a.clone() if isinstance(a, _torch11.Tensor) else a for a in args)
        return func(*args, **kwargs)

    return call


def _close11(got: Any, expected: _torch11.Tensor) -> bool:
    return (
        isinstance(got, _torch11.Tensor)
        and got.shape == expected.shape
        and bool(_torch11.allclose(got.double(), expected.double(), atol=1e-5, equal_nan=False))
    )


def _row_sums_hint11(got: Any) -> str | None:
    if isinstance(got, _torch11.Tensor) and got.is_floating_point() and got.numel():
        sums = got.sum(dim=-1)
        if not _torch11.allclose(sums, _torch11.ones_like(sums), atol=1e-4):
            return (
                f"your rows sum to {[round(s, 4) for s in sums.reshape(-1).tolist()]}, not 1: a "
                "probability distribution must be renormalised over the last axis (divide by the sum of what you kept)."
            )
    return None


@exercise("11.1", "Scale logits by a temperature")
def check_softmax_with_temperature(softmax_with_temperature: Callable) -> None:
    """softmax(logits / T) over the last axis, numerically stable."""
    logits = _torch11.tensor([2.0, 1.0, 0.0, -1.0])
    batch = _torch11.tensor([[3.0, 1.0, 0.5], [0.0, 0.0, 2.0]])
    huge = _torch11.tensor([1000.0, 999.0, 990.0])
    cases = [
        Case((logits, 1.0), _torch11.softmax(logits, dim=-1), "temperature 1 is the plain softmax."),
        Case((logits, 0.5), _torch11.softmax(logits / 0.5, dim=-1), "divide the logits by T, then softmax."),
        Case((logits, 2.0), _torch11.softmax(logits / 2.0, dim=-1), "divide the logits by T, then softmax."),
        Case((batch, 0.7), _torch11.softmax(batch / 0.7, dim=-1),
             "each row is one distribution: softmax over the last axis (dim=-1)."),
        Case((huge, 0.5), _torch11.softmax(huge / 0.5, dim=-1),
             "large logits overflow exp(): subtract the row's maximum first, or use torch.softmax."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        values, t = case.args
        if not isinstance(got, _torch11.Tensor):
            return None
        if _torch11.isnan(got).any() or _torch11.isinf(got).any():
            return "exp() overflowed to inf: subtract the row's maximum logit before exp, or call torch.softmax."
        if t != 1 and _close11(got, _torch11.softmax(values * t, dim=-1)):
            return (
                f"you multiplied the logits by T={t}; divide them by T instead, so that T < 1 "
                "sharpens the distribution and T > 1 flattens it."
            )
        plain = _torch11.softmax(values, dim=-1)
        if t != 1 and (_close11(got, plain / t) or _close11(got, plain * t) or _close11(got, plain)):
            return "the temperature must scale the logits BEFORE the softmax: softmax(logits / T), not softmax(logits) / T."
        if values.dim() == 2 and _close11(got, _torch11.softmax(values / t, dim=0)):
            return "you normalised down the columns: each row is one distribution, so use dim=-1."
        return _row_sums_hint11(got)

    run_cases(
        check_softmax_with_temperature.exercise,
        _cloning11(softmax_with_temperature),
        cases,
        atol=1e-5,
        diagnose=diagnose,
        success="Low T sharpens, high T flattens.",
    )


@exercise("11.2", "Keep the top k")
def check_top_k_probs(top_k_probs: Callable) -> None:
    """Keep the k largest probabilities (ties with the k-th included), zero the rest, renormalise."""
    t = _torch11.tensor
    cases = [
        Case((t([0.1, 0.4, 0.2, 0.3]), 2), t([0.0, 4 / 7, 0.0, 3 / 7]),
             "keep the 2 largest (0.4 and 0.3) in their places, zero the others, and renormalise."),
        Case((t([0.1, 0.4, 0.2, 0.3]), 1), t([0.0, 1.0, 0.0, 0.0]), "k = 1 keeps only the most probable token."),
        Case((t([0.1, 0.4, 0.2, 0.3]), 4), t([0.1, 0.4, 0.2, 0.3]), "k = vocabulary size keeps everything."),
        Case((t([0.1, 0.4, 0.2, 0.3]), 10), t([0.1, 0.4, 0.2, 0.3]),
             "k larger than the vocabulary keeps everything (torch.topk needs k <= size: use min(k, size))."),
        Case((t([0.4, 0.2, 0.2, 0.1, 0.1]), 2), t([0.5, 0.25, 0.25, 0.0, 0.0]),
             "a token tied with the k-th largest probability is kept too: keep every p >= the k-th largest."),
        Case((t([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]), 2), t([[0.0, 2 / 3, 1 / 3], [0.625, 0.0, 0.375]]),
             "each row is its own distribution: find the k largest of each row (dim=-1)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        probs, k = case.args
        if not isinstance(got, _torch11.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        kept_expected = int((expected > 0).sum())
        kept_got = int((got > 0).sum())
        if _close11(got, _torch11.sort(expected, dim=-1, descending=True).values) and not _close11(got, expected):
            return "you returned the probabilities sorted; put each kept probability back at its token's position."
        unnormalised = probs * (expected > 0)
        if _close11(got, unnormalised):
            return "you kept the right tokens but forgot to renormalise: divide by the sum of the kept probabilities."
        rows = probs.shape[:-1].numel()
        if kept_got < kept_expected and kept_expected > k * rows:
            return "a token tied with the k-th largest probability must be kept too: keep every p >= the k-th largest value."
        if kept_got == kept_expected + rows:
            return "you kept one token too many per row: keep the k largest, not k + 1 (check < versus <=)."
        if kept_got == kept_expected - rows:
            return "you kept one token too few per row: keep the k largest, not k - 1."
        return _row_sums_hint11(got)

    run_cases(
        check_top_k_probs.exercise,
        _cloning11(top_k_probs),
        cases,
        atol=1e-5,
        diagnose=diagnose,
        success="Only the k best candidates can be drawn now.",
    )


@exercise("11.3", "Keep the nucleus (top-p)")
def check_top_p_probs(top_p_probs: Callable) -> None:
    """Keep the most probable tokens until their mass reaches p (the crossing token included), renormalise."""
    t = _torch11.tensor
    probs = t([0.1, 0.5, 0.15, 0.25])
    cases = [
        Case((probs, 0.6), t([0.0, 2 / 3, 0.0, 1 / 3]),
             "0.5 is not yet 0.6, so the next token (0.25) is kept too; then stop and renormalise."),
        Case((probs, 0.8), t([0.0, 0.5 / 0.9, 0.15 / 0.9, 0.25 / 0.9]),
             "0.5 + 0.25 = 0.75 is below 0.8, so 0.15 is kept as well."),
        Case((probs, 0.3), t([0.0, 1.0, 0.0, 0.0]),
             "the most probable token is always kept, even when it alone is more than p."),
        Case((probs, 1.0), probs.clone(), "p = 1 keeps every token."),
        Case((t([[0.1, 0.5, 0.15, 0.25], [0.7, 0.1, 0.1, 0.1]]), 0.6),
             t([[0.0, 2 / 3, 0.0, 1 / 3], [1.0, 0.0, 0.0, 0.0]]),
             "each row is its own distribution: sort and accumulate along the last axis (dim=-1)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        probs, p = case.args
        if not isinstance(got, _torch11.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        if _torch11.isnan(got).any() or (got.sum(dim=-1) == 0).any():
            return "a row kept no token at all: the most probable token must always be kept."
        if _close11(got, _torch11.sort(expected, dim=-1, descending=True).values) and not _close11(got, expected):
            return "you returned the probabilities sorted; scatter them back to each token's original position."
        if _close11(got, probs * (expected > 0)):
            return "you kept the right tokens but forgot to renormalise: divide by the sum of the kept probabilities."
        if int((got > 0).sum()) < int((expected > 0).sum()):
            return (
                "you dropped the token that crosses the threshold: keep a token while the mass BEFORE it is "
                "below p, so the kept mass reaches at least p (cumsum - p_i < p, not cumsum <= p)."
            )
        if int((got > 0).sum()) > int((expected > 0).sum()):
            return "you kept too many tokens: stop as soon as the kept probabilities add up to p or more."
        return _row_sums_hint11(got)

    run_cases(
        check_top_p_probs.exercise,
        _cloning11(top_p_probs),
        cases,
        atol=1e-5,
        diagnose=diagnose,
        success="The nucleus grows and shrinks with the model's confidence.",
    )
