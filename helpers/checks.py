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

import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from Levenshtein import distance

from helpers.attention import MultiHeadAttention
from helpers.model import GPT, GPT_CONFIGS, FeedForward, GPTConfig, LayerNorm, count_parameters

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
# 02 — the Levenshtein look-up
# ---------------------------------------------------------------------------


def _edit_distance_variant(a: str, b: str, substitution: int = 1, deletions: bool = True) -> int:
    """Edit distance with a chosen substitution cost, with or without deletions (for hints)."""
    big = len(a) + len(b) + 10 * substitution + 1  # larger than any real distance
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        row = [i]
        for j, char_b in enumerate(b, start=1):
            options = [row[j - 1] + 1, previous[j - 1] + (substitution if char_a != char_b else 0)]
            options.append(previous[j] + 1 if deletions else big)
            row.append(min(options))
        previous = row
    return previous[-1]


@exercise("2.1", "Edit distance by dynamic programming")
def check_edit_distance(edit_distance: Callable[[str, str], int]) -> None:
    """The Levenshtein distance: insertions, deletions, substitutions, each costing 1."""
    first_row = (
        "the first row is the distance from '' to each prefix of b: 0, 1, 2, ..., len(b) "
        "(j insertions), so edit_distance('', b) == len(b)."
    )
    first_column = (
        "the first column is the distance from each prefix of a to '': 0, 1, ..., len(a) "
        "(i deletions): start each new row with i, so edit_distance(a, '') == len(a)."
    )
    cases = [
        Case(("", ""), 0, "two empty strings are already equal: distance 0."),
        Case(("", "abc"), 3, first_row),
        Case(("abc", ""), 3, first_column),
        Case(("table", "table"), 0, "identical strings need no edit: distance 0."),
        Case(("tables", "table"), 1, "deleting the final 's' is one edit."),
        Case(("table", "tables"), 1, "inserting an 's' is one edit."),
        Case(("kitten", "sitting"), 3, "k→s, e→i and inserting g: three edits."),
        Case(("flaw", "lawn"), 2, "delete the f, insert an n: two edits."),
        Case(("lit", "lait"), 1, "one insertion turns lit into lait."),
        Case(("mère", "mer"), 2, "è and e are different characters: è→e and deleting the final e are two edits."),
        Case(("ab", "ba"), 2, "two substitutions (a swap is not one edit in Levenshtein distance)."),
        Case(("猫", "猫たち"), 2, "work on Python characters: any Unicode character is one character."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        a, b = case.args
        if not isinstance(got, int) or isinstance(got, bool):
            return f"return the distance as an int (the last cell of the table), not a {type(got).__name__}."
        if got == _edit_distance_variant(a, b, substitution=2):
            return ("a substitution costs 1, not 2: replacing one character by another is a single edit "
                    "(cost 0 when the two characters are equal).")
        if got == _edit_distance_variant(a, b, deletions=False):
            return ("you never delete a character: the minimum has three candidates — the cell above + 1 "
                    "(delete), the cell to the left + 1 (insert) and the diagonal + substitution cost.")
        return None

    run_cases(check_edit_distance.exercise, edit_distance, cases, diagnose=diagnose,
              success="Your distance agrees with Levenshtein's.")


@exercise("2.2", "Find the closest key")
def check_find_closest_key(find_closest_key: Callable[[str, Iterable[str]], str]) -> None:
    """The key at the smallest edit distance; ties go to the alphabetically first key."""
    tie_hint = (
        "several keys are at the same smallest distance: the rule is that the alphabetically first "
        "one wins, whatever the order of the keys (sort the keys first, or compare (distance, key) pairs)."
    )
    cases = [
        Case(("tables", SEED_DICTIONARY), "table", "'tables' is one deletion away from the key 'table'."),
        Case(("chats", SEED_DICTIONARY), "chat", "return the closest KEY (French), not its value."),
        Case(("sous", SEED_DICTIONARY), "sous", "a query that is a key is at distance 0 from itself."),
        Case(("lot", ["lut", "lit", "loup"]), "lit", tie_hint),
        Case(("lot", ["lit", "lut", "loup"]), "lit", tie_hint),
        Case(("mar", ["mère", "mer", "mare"]), "mare", tie_hint),
        Case(("poissons", ["poisson", "poison", "boisson"]), "poisson", "pick the SMALLEST distance."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        query, keys = case.args
        if isinstance(keys, dict) and got in keys.values() and got not in keys:
            return "you returned a value of the dictionary: return the closest key; translate() looks its value up."
        if isinstance(got, str) and got in keys:
            best = min(distance(query, key) for key in keys)
            if distance(query, got) == best:
                return tie_hint
            if distance(query, got) == max(distance(query, key) for key in keys):
                return "you picked the FARTHEST key: keep the key with the smallest distance."
        return None

    run_cases(check_find_closest_key.exercise, find_closest_key, cases, diagnose=diagnose,
              success="Unknown words now find their nearest key.")


# ---------------------------------------------------------------------------
# 03 — the dictionary as one-hot matrices
# ---------------------------------------------------------------------------


VOCABULARY_IN = ["chat", "est", "la", "le", "sous", "table"]
VOCABULARY_OUT = ["cat", "is", "table", "the", "under"]


def _one_hot03(index: int, size: int) -> Any:
    vector = torch.zeros(size)
    vector[index] = 1.0
    return vector


@exercise("3.1", "One-hot vectors")
def check_one_hot(one_hot: Callable[[str, Sequence[str]], Any]) -> None:
    """A float32 vector of zeros, as long as the vocabulary, with a 1 at the word's position."""
    cases = [
        Case(("chat", VOCABULARY_IN), _one_hot03(0, 6), "'chat' is word 0 of the input vocabulary."),
        Case(("le", VOCABULARY_IN), _one_hot03(3, 6), "'le' is at position 3: vocabulary.index('le')."),
        Case(("table", VOCABULARY_IN), _one_hot03(5, 6), "'table' is the last of the 6 words."),
        Case(("the", VOCABULARY_OUT), _one_hot03(3, 5),
             "the vector is as long as the vocabulary you are given (5 English words here)."),
        Case(("b", ["c", "a", "b"]), _one_hot03(2, 3),
             "use the position in the vocabulary you are given, as it is: do not sort it again."),
        Case(("tables", VOCABULARY_IN), KeyError,
             "a word that is not in the vocabulary has no one-hot vector: raise KeyError (as a dict does)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        word, vocabulary = case.args
        if not hasattr(got, "shape"):
            return "return a torch tensor (torch.zeros(len(vocabulary)), then set one entry to 1)."
        if tuple(got.shape) == (len(vocabulary) + 1,) or (
            tuple(got.shape) == (len(vocabulary),) and vocabulary.index(word) + 1 < len(vocabulary)
            and float(got[vocabulary.index(word) + 1]) == 1.0
        ):
            return "off by one: Python counts from 0, so the first word's 1 goes at position 0."
        return None

    try:
        vector = one_hot("chat", VOCABULARY_IN)
    except NotImplementedError as stub:
        raise not_solved(check_one_hot.exercise, str(stub)) from None
    except Exception:  # run_cases below reports it
        vector = None
    if getattr(vector, "dtype", torch.float32) != torch.float32:
        raise wrong_answer(
            check_one_hot.exercise, f"one_hot('chat', {VOCABULARY_IN}).dtype", "torch.float32", str(vector.dtype),
            "matrix products need floats: torch.zeros(n) is float32; F.one_hot gives int64, so add .float().",
        )
    run_cases(check_one_hot.exercise, one_hot, cases, diagnose=diagnose,
              success="Every word is now a vector.")


def _keys_values03(dictionary: dict[str, str]) -> tuple[Any, Any]:
    vocab_in, vocab_out = sorted(set(dictionary)), sorted(set(dictionary.values()))
    K = torch.stack([_one_hot03(vocab_in.index(k), len(vocab_in)) for k in dictionary])
    V = torch.stack([_one_hot03(vocab_out.index(v), len(vocab_out)) for v in dictionary.values()])
    return K, V


def _keys_values_hint03(label: str, got: Any, dictionary: dict[str, str]) -> str:
    """A specific hint when ``got`` is one of the plausible wrong K or V matrices."""
    K, V = _keys_values03(dictionary)
    expected, other = (K, V) if label == "K" else (V, K)
    first = next(iter(dictionary))
    values = list(dictionary.values())
    vocab_out_repeated = sorted(values)
    V_repeated = torch.stack([_one_hot03(vocab_out_repeated.index(v), len(values)) for v in values])
    unsorted_in = list(dictionary)  # vocabulary in dictionary order: K would be the identity
    wrong = [
        (other, "K and V are swapped: K holds the KEYS (French words, one-hot over the input vocabulary), "
                "V holds the VALUES (English words, one-hot over the output vocabulary)."),
        (expected.T, f"{label} is transposed: one ROW per dictionary entry, one column per vocabulary word."),
        (torch.eye(len(unsorted_in)),
         f"the vocabulary is SORTED, and the rows follow the dictionary's order: row 0 is {first!r}, "
         f"with its 1 in column {sorted(dictionary).index(first)} (its position in the sorted vocabulary)."),
    ]
    if label == "V":
        wrong.insert(1, (V_repeated, "the output vocabulary lists each English word ONCE: "
                                     "sorted(set(dictionary.values())) — several French words can share a value."))
    if not hasattr(got, "shape"):
        return f"{label} should be a torch tensor, e.g. torch.stack of one-hot vectors."
    for matrix, hint in wrong:
        if tuple(got.shape) == tuple(matrix.shape) and difference(got, matrix) is None:
            return hint
    return (f"{label} has one row per dictionary entry (in the dictionary's order) and one column per word "
            f"of the sorted {'input' if label == 'K' else 'output'} vocabulary.")


@exercise("3.2", "Build the keys and values matrices")
def check_keys_values(build_keys_values: Callable[[dict[str, str]], tuple[Any, Any]]) -> None:
    """K: one-hot keys (input vocabulary); V: one-hot values (output vocabulary); rows in dictionary order."""
    which = check_keys_values.exercise
    name = getattr(build_keys_values, "__name__", "build_keys_values")
    dictionaries = [
        SEED_DICTIONARY,
        {"b": "y", "a": "x", "c": "x"},
        {"chat": "cat"},
    ]
    for dictionary in dictionaries:
        call = describe_call(name, Case((dictionary,), None))
        K, V = _keys_values03(dictionary)
        try:
            got = build_keys_values(dictionary)
        except NotImplementedError as stub:
            raise not_solved(which, str(stub)) from None
        except Exception as err:
            raise wrong_answer(which, call, "a tuple (K, V)", f"{type(err).__name__}: {err}", "") from None
        if not (isinstance(got, tuple) and len(got) == 2):
            raise wrong_answer(which, call, "a tuple (K, V)", describe(got), "return K, V — two tensors.")
        for label, got_m, expected in (("K", got[0], K), ("V", got[1], V)):
            problem = difference(got_m, expected)
            if problem is None:
                continue
            hint = _keys_values_hint03(label, got_m, dictionary)
            raise wrong_answer(which, call + f"[{0 if label == 'K' else 1}]", describe(expected),
                               f"{describe(got_m)} ({problem})", hint)
    print(f"✅ {which}: all {len(dictionaries)} cases pass. Your dictionary is now two matrices.")


@exercise("3.3", "Decode by cosine similarity")
def check_decode_vector(decode_vector: Callable[[Any, Any, Sequence[str]], str]) -> None:
    """The word whose vector has the largest cosine similarity with the given vector."""
    eye5 = torch.eye(5)
    uneven = torch.tensor([[1.0, 0.0], [3.0, 3.0], [0.0, 1.0]])
    words3 = ["near", "long", "other"]
    cases = [
        Case((torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0]), eye5, VOCABULARY_OUT), "the",
             "the word whose one-hot vector points the same way as the output."),
        Case((torch.tensor([0.1, 0.05, 0.7, 0.15, 0.0]), eye5, VOCABULARY_OUT), "table",
             "pick the LARGEST similarity (argmax), not the smallest."),
        Case((torch.tensor([0.0, 3.0, 0.0, 0.0, 0.0]), eye5, VOCABULARY_OUT), "is",
             "cosine similarity ignores the length of the vector."),
        Case((torch.tensor([1.0, 0.2]), uneven, words3), "near",
             "divide by the lengths: cosine(q, w) = q·w / (|q| |w|)."),
        Case((torch.tensor([10.0, 1.0]), torch.tensor([[20.0, 0.0], [8.0, 4.0]]), ["straight", "slanted"]),
             "straight", "cosine similarity compares directions, not positions."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        vector, word_vectors, vocabulary = case.args
        if isinstance(got, int) or (hasattr(got, "dim") and got.dim() == 0):
            return "return the WORD (vocabulary[index]), not its index."
        dots = word_vectors @ vector
        if got == vocabulary[int(dots.argmax())]:
            return ("an inner product favours long word vectors: 'long' = (3, 3) wins only because it is "
                    "long. Divide each word vector by its length (cosine = q·w / (|q| |w|)).")
        if got == vocabulary[int((word_vectors - vector).norm(dim=1).argmin())]:
            return "that is the nearest word by Euclidean distance; cosine similarity compares directions only."
        if got == vocabulary[int(dots.argmin())]:
            return "you took the SMALLEST similarity: the nearest word has the LARGEST cosine similarity."
        return None

    run_cases(check_decode_vector.exercise, decode_vector, cases, diagnose=diagnose,
              success="Vectors turn back into words.")


# ---------------------------------------------------------------------------
# 04 — softmax attention
# ---------------------------------------------------------------------------



def _tensor04(rows: list) -> Any:
    return torch.tensor(rows, dtype=torch.float32)


def _reference_softmax(x: Any, beta: float = 1.0) -> Any:
    return torch.softmax(beta * x, dim=-1)


@exercise("4.1", "Softmax from scratch")
def check_softmax(stable_softmax: Callable[..., Any]) -> None:
    """softmax(beta * x) over the last axis, without overflow on large inputs."""
    vector = _tensor04([1.0, 2.0, 3.0])
    matrix = _tensor04([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    square = _tensor04([[2.0, 1.0], [0.0, 3.0]])
    large = _tensor04([1000.0, 1001.0, 1002.0])
    cases = [
        Case((vector,), _reference_softmax(vector)),
        Case((_tensor04([0.0, 10.0]),), _reference_softmax(_tensor04([0.0, 10.0]))),
        Case((matrix,), _reference_softmax(matrix), "each ROW is one softmax: work along the last axis."),
        Case((square,), _reference_softmax(square), "each ROW is one softmax: work along the last axis."),
        Case((vector,), _reference_softmax(vector, 2.0), "multiply x by beta before exp.", {"beta": 2.0}),
        Case((vector,), _reference_softmax(vector, 0.0), "beta = 0 gives equal weights.", {"beta": 0.0}),
        Case((large,), _reference_softmax(large), "subtract the largest entry before exp."),
        Case((-large,), _reference_softmax(-large), "subtract the largest entry before exp."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.args[0].shape):
            return "softmax keeps the shape of its input."
        if torch.isnan(got).any() or torch.isinf(got).any():
            return (
                "the result has NaN or inf: exp overflowed (exp(1000) is inf in float32). "
                "Subtract the largest entry of each row, x - x.max(dim=-1, keepdim=True).values, "
                "before exp; that changes nothing mathematically."
            )
        if (got.sum(dim=-1) - 1).abs().max() > 1e-5:
            if got.dim() == 2 and (got.sum(dim=0) - 1).abs().max() < 1e-4:
                return (
                    "your COLUMNS sum to 1, not your rows: you normalised along axis 0. "
                    "Use dim=-1 (the last axis) for the max and the sum, with keepdim=True."
                )
            sums = [round(s, 4) for s in got.sum(dim=-1).reshape(-1).tolist()]
            return (
                f"your weights sum to {sums}, not 1: did you divide exp(...) by its sum "
                "over the last axis?"
            )
        beta = case.kwargs.get("beta", 1.0)
        if beta != 1.0 and torch.allclose(got, _reference_softmax(case.args[0]), atol=1e-6):
            return f"you ignored beta: compute softmax(beta * x) (here beta = {beta})."
        return None

    run_cases(
        check_softmax.exercise,
        stable_softmax,
        cases,
        atol=1e-6,
        diagnose=diagnose,
        success="Scores are now weights: positive, summing to 1.",
    )


def _sdpa_cases04() -> list[Case]:
    gen = torch.Generator().manual_seed(4)
    q = torch.randn(3, 4, generator=gen)
    k = torch.randn(5, 4, generator=gen)
    v = torch.randn(5, 2, generator=gen)
    qb = 3 * torch.randn(2, 4, 8, generator=gen)
    kb = 3 * torch.randn(2, 4, 8, generator=gen)
    vb = torch.randn(2, 4, 3, generator=gen)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    sparse = torch.tensor([[True, False, True, False, False]] * 3)
    return [
        Case((q, k, v), F.scaled_dot_product_attention(q, k, v),
             "3 queries, 5 keys of size 4, 5 values of size 2: the result is (3, 2)."),
        Case((qb, kb, vb), F.scaled_dot_product_attention(qb, kb, vb),
             "a batch: use k.transpose(-2, -1), not k.T, so the batch axis stays first."),
        Case((qb, kb, vb), F.scaled_dot_product_attention(qb, kb, vb, attn_mask=causal),
             "where mask is False the score must become -inf before the softmax.",
             {"mask": causal}),
        Case((q, k, v), F.scaled_dot_product_attention(q, k, v, attn_mask=sparse),
             "where mask is False the score must become -inf before the softmax.",
             {"mask": sparse}),
    ]


@exercise("4.2", "Scaled dot-product attention")
def check_scaled_dot_product_attention(attention: Callable[..., Any]) -> None:
    """softmax(q·kᵀ/√d + mask) · v, compared with torch.nn.functional.scaled_dot_product_attention."""

    def variant(q: Any, k: Any, v: Any, mask: Any, scale: float, dim: int = -1, keep: Any = None) -> Any:
        scores = q @ k.transpose(-2, -1) * scale
        if mask is not None:
            scores = scores.masked_fill(~mask if keep is None else keep, float("-inf"))
        return torch.softmax(scores, dim=dim) @ v

    def diagnose(got: Any, case: Case) -> str | None:
        q, k, v = case.args
        mask = case.kwargs.get("mask")
        d = q.shape[-1]
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"the output should have shape {tuple(case.expected.shape)}: one row per query, "
                "one column per value dimension. Scores are q @ k.transpose(-2, -1)."
            )

        def same(other: Any) -> bool:
            return bool(torch.allclose(got, other, atol=1e-5, equal_nan=True))

        if same(variant(q, k, v, mask, 1.0)):
            return f"you forgot to divide the scores by √d (here d = {d}, so by {math.sqrt(d):.4f})."
        if same(variant(q, k, v, mask, 1.0 / d)):
            return f"divide by √d, not by d (here √d = {math.sqrt(d):.4f})."
        if same(variant(q, k, v, mask, d**-0.5, dim=-2)):
            return "the softmax runs over the keys of each query: use dim=-1, not dim=-2."
        if mask is not None and same(variant(q, k, v, None, d**-0.5)):
            return "you ignored the mask: set the scores to -inf where mask is False."
        if mask is not None and same(variant(q, k, v, mask, d**-0.5, keep=mask)):
            return "the mask is upside down: True means 'may attend'; hide the scores where it is False (~mask)."
        return None

    run_cases(
        check_scaled_dot_product_attention.exercise,
        attention,
        _sdpa_cases04(),
        atol=1e-5,
        diagnose=diagnose,
        success="You wrote the attention of every transformer.",
    )


# ---------------------------------------------------------------------------
# 05 — attention heads
# ---------------------------------------------------------------------------



@exercise("5.1", "A linear layer by hand")
def check_linear_by_hand(linear_by_hand: Callable[..., Any]) -> None:
    """y = x · Wᵀ + b, with W of shape (out_features, in_features), as nn.Linear computes it."""
    gen = torch.Generator().manual_seed(5)
    cases = []
    for shape, d_in, d_out in [((4, 3), 3, 2), ((2, 5, 3), 3, 4), ((3, 3), 3, 3)]:
        layer = torch.nn.Linear(d_in, d_out)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(d_out, d_in, generator=gen))
            layer.bias.copy_(torch.randn(d_out, generator=gen))
        x = torch.randn(*shape, generator=gen)
        cases.append(Case((x, layer.weight.detach(), layer.bias.detach()), layer(x).detach(),
                          "weight is (out_features, in_features): compute x @ weight.T + bias."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, weight, bias = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"weight has shape {tuple(weight.shape)} = (out_features, in_features), so the output "
                f"has {weight.shape[0]} features per row: use x @ weight.T, not x @ weight."
            )
        if torch.allclose(got, x @ weight.T, atol=1e-5):
            return "you forgot the bias: add + bias."
        if torch.allclose(got, x @ weight + bias, atol=1e-5):
            return "weight is stored as (out_features, in_features): transpose it, x @ weight.T."
        return None

    run_cases(check_linear_by_hand.exercise, linear_by_hand, cases, atol=1e-5, diagnose=diagnose,
              success="That is all nn.Linear does.")


def _head_reference05(x: Any, W_q: Any, W_k: Any, W_v: Any, scale: float | None = None) -> Any:
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T
    scale = k.shape[-1] ** -0.5 if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v


@exercise("5.2", "One attention head")
def check_attention_head(attention_head: Callable[..., Any]) -> None:
    """Q, K, V = x·W_Qᵀ, x·W_Kᵀ, x·W_Vᵀ; softmax(Q·Kᵀ/√d_k)·V (no mask)."""
    gen = torch.Generator().manual_seed(50)
    cases = []
    for shape, d_in, d_out in [((4, 3), 3, 2), ((2, 5, 6), 6, 4), ((3, 4), 4, 4)]:
        x = 2 * torch.randn(*shape, generator=gen)
        W_q, W_k, W_v = (torch.randn(d_out, d_in, generator=gen) for _ in range(3))
        cases.append(Case((x, W_q, W_k, W_v), _head_reference05(x, W_q, W_k, W_v),
                          "each W is (d_out, d_in): project with x @ W.T, then scaled dot-product attention."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, W_q, W_k, W_v = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"the output should be {tuple(case.expected.shape)}: one row per token, "
                f"d_out = {W_v.shape[0]} features. Project with x @ W.T (W is (d_out, d_in))."
            )
        if torch.allclose(got, _head_reference05(x, W_q, W_k, W_v, scale=1.0), atol=1e-5):
            return f"you forgot the 1/√d scaling of the scores (d = {W_k.shape[0]}, the size of a key)."
        if torch.allclose(got, _head_reference05(x, W_q, W_k, W_v, scale=x.shape[-1] ** -0.5), atol=1e-5):
            return "scale by the size of the keys (d_out), not of the input (d_in)."
        if torch.allclose(got, _head_reference05(x, W_k, W_q, W_v), atol=1e-5):
            return "queries come from W_q and keys from W_k: you swapped them."
        return None

    run_cases(check_attention_head.exercise, attention_head, cases, atol=1e-5, diagnose=diagnose,
              success="One head attends.")


@exercise("5.3", "The causal mask")
def check_causal_mask(make_causal_mask: Callable[[int], Any]) -> None:
    """A boolean (T, T) mask, True on and below the diagonal (a token sees itself and the past)."""
    cases = [Case((T,), torch.ones(T, T, dtype=torch.bool).tril()) for T in (3, 5, 1)]

    def diagnose(got: Any, case: Case) -> str | None:
        T = case.args[0]
        if not hasattr(got, "shape") or tuple(got.shape) != (T, T):
            return f"the mask is square: (T, T) = ({T}, {T})."
        got_bool = got.bool()
        ones = torch.ones(T, T, dtype=torch.bool)
        if torch.equal(got_bool, ones.tril(-1)):
            return "off by one: a token may attend to ITSELF, so the diagonal must be True (tril(), not tril(-1))."
        if torch.equal(got_bool, ones.tril(1)):
            return "off by one: the entry just above the diagonal is the NEXT token, the future: keep it False."
        if torch.equal(got_bool, ~ones.tril()):
            return (
                "you marked the future (the hidden part); True must mean 'may attend' "
                "(itself and the past): invert your mask."
            )
        if torch.equal(got_bool, ones.triu()):
            return "row i is query i, column j is key j: allow j <= i, which is the LOWER triangle."
        return None

    def with_dtype(T: int) -> Any:
        mask = make_causal_mask(T)
        if hasattr(mask, "dtype") and mask.dtype != torch.bool:
            raise TypeError(
                f"the mask has dtype {mask.dtype}; make it boolean (dtype=torch.bool), "
                "True where attention is allowed"
            )
        return mask

    with_dtype.__name__ = getattr(make_causal_mask, "__name__", "make_causal_mask")
    run_cases(check_causal_mask.exercise, with_dtype, cases, diagnose=diagnose,
              success="No token can peek at the future.")


@exercise("5.4", "Split into heads")
def check_split_heads(split_heads: Callable[[Any, int], Any]) -> None:
    """(B, T, d_model) -> (B, n_heads, T, head_dim): head h gets features h·head_dim … (h+1)·head_dim."""
    gen = torch.Generator().manual_seed(54)

    def reference(x: Any, n_heads: int) -> Any:
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)

    x1 = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    x2 = torch.randn(1, 4, 6, generator=gen)
    x3 = torch.randn(2, 5, 6, generator=gen)
    cases = [
        Case((x1, 2), reference(x1, 2)),
        Case((x2, 3), reference(x2, 3)),
        Case((x3, 2), reference(x3, 2)),
        Case((x3, 1), reference(x3, 1), "one head holds all the features: (B, 1, T, d_model)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        x, n_heads = case.args
        B, T, C = x.shape
        if not hasattr(got, "shape") or tuple(got.shape) != (B, n_heads, T, C // n_heads):
            return (
                f"expected (B, n_heads, T, head_dim) = ({B}, {n_heads}, {T}, {C // n_heads}): "
                "view as (B, T, n_heads, head_dim), then swap axes 1 and 2."
            )
        if torch.allclose(got, x.reshape(B, n_heads, T, C // n_heads)):
            return (
                "you cut along the wrong axis: a plain reshape to (B, n_heads, T, head_dim) mixes "
                "tokens between heads. Each head takes a slice of the FEATURES (the last axis) of "
                "every token: view(B, T, n_heads, head_dim).transpose(1, 2)."
            )
        return "head h must hold features h*head_dim to (h+1)*head_dim of every token."

    run_cases(check_split_heads.exercise, split_heads, cases, diagnose=diagnose,
              success="Every head gets its own slice of the features.")


# ---------------------------------------------------------------------------
# 06 — BPE tokenization
# ---------------------------------------------------------------------------


# "aaabdaaabac" as byte ids, and the compression table Z = aa, Y = ab, X = ZY.
BPE_EXAMPLE_IDS = list(b"aaabdaaabac")
BPE_EXAMPLE_MERGES = {(97, 97): 256, (97, 98): 257, (256, 257): 258}


def _bpe_as_dict(func: Callable) -> Callable:
    """Call ``func`` and turn a Counter (or any mapping) it returns into a plain dict."""

    def call(*args):
        result = func(*args)
        return dict(result) if hasattr(result, "items") else result

    call.__name__ = getattr(func, "__name__", "your_function")
    return call


@exercise("6.1", "Count neighbouring pairs")
def check_bpe_count_pairs(count_pairs: Callable[[list[int]], dict[tuple[int, int], int]]) -> None:
    """Every pair of neighbours, counted each time it occurs (overlaps included)."""
    cases = [
        Case(([1, 2, 1, 2, 3],), {(1, 2): 2, (2, 1): 1, (2, 3): 1}),
        Case(([5, 5, 5],), {(5, 5): 2},
             "in [5, 5, 5] the pair (5, 5) starts at position 0 and at position 1: count both."),
        Case(([7],), {}, "one id has no neighbour: no pairs, an empty dict."),
        Case(([],), {}, "an empty list has no pairs: return an empty dict."),
        Case((BPE_EXAMPLE_IDS,), {(97, 97): 4, (97, 98): 2, (98, 100): 1, (100, 97): 1, (98, 97): 1, (97, 99): 1}),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        ids, expected = case.args[0], case.expected
        if case.hint:  # the edge cases carry their own hint
            return None
        if got == dict(Counter(zip(ids[:-1], ids[1:-1]))):
            return ("the last pair is missing: a list of n ids has n - 1 pairs, at positions "
                    "0 .. n-2 (zip(ids, ids[1:]) gives them all).")
        if got == dict(Counter(zip(ids, ids[1:] + ids[:1]))):
            return "the last id has no right neighbour: do not wrap around to the first id."
        if isinstance(got, dict) and set(got) == set(expected) and all(n == 1 for n in got.values()):
            return "count every occurrence of a pair, not only whether it occurs."
        return None

    run_cases(check_bpe_count_pairs.exercise, _bpe_as_dict(count_pairs), cases, diagnose=diagnose,
              success="These counts pick the pair to merge.")


@exercise("6.2", "Merge one pair")
def check_bpe_merge_pair(merge_pair: Callable[[list[int], tuple[int, int], int], list[int]]) -> None:
    """Replace each occurrence of the pair, left to right, without overlaps; a new list."""
    which = check_bpe_merge_pair.exercise
    original = [1, 2, 3, 1, 2]
    given = list(original)
    try:
        merge_pair(given, (1, 2), 9)
    except NotImplementedError as stub:
        raise not_solved(which, str(stub)) from None
    except Exception:
        pass  # the cases below report it
    if given != original:
        raise wrong_answer(which, "merge_pair([1, 2, 3, 1, 2], (1, 2), 9)",
                           "the list you were given left unchanged", f"it became {given}",
                           "build a new list and return it; do not change `ids` in place.")
    a, b, c, d = 97, 98, 99, 100
    cases = [
        Case(([1, 2, 1, 2], (1, 2), 9), [9, 9]),
        Case(([1, 1, 1], (1, 1), 9), [9, 1],
             "after a match, jump over both ids: in [1, 1, 1] the second 1 is already used, "
             "so the answer is [9, 1], not [9, 9]."),
        Case(([3, 1, 2], (1, 2), 9), [3, 9]),
        Case(([1, 2, 3], (2, 1), 9), [1, 2, 3], "a pair is ordered: (2, 1) is not (1, 2)."),
        Case(([4], (4, 4), 9), [4]),
        Case(([], (1, 2), 9), [], "an empty list stays empty."),
        Case((BPE_EXAMPLE_IDS, (a, a), 256), [256, a, b, d, 256, a, b, a, c],
             "aaabdaaabac with Z = aa is ZabdZabac: replace every occurrence of the pair."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if isinstance(got, list) and got == case.expected[:-1] and case.expected:
            return ("the last id is missing: when the loop stops before the end, "
                    "append the ids that are left.")
        return None

    run_cases(which, merge_pair, cases, diagnose=diagnose, success="One merge step works.")


@exercise("6.3", "Encode with a merge table")
def check_bpe_encode(bpe_encode: Callable[[list[int], dict[tuple[int, int], int]], list[int]]) -> None:
    """Apply the merges in the order they were learned, each to the result of the earlier ones."""
    order_hint = ("apply the merge learned first (the smallest new id) before later ones, "
                  "whatever the order of the pairs in the text or their frequency.")
    cases = [
        Case(([97, 98, 99], {(98, 99): 256, (97, 98): 257}), [97, 256], order_hint),
        Case(([2, 3, 2, 3, 1, 2, 3], {(1, 2): 256, (2, 3): 257}), [257, 257, 256, 3], order_hint),
        Case(([1, 2, 3, 4, 1, 2], {(1, 2): 256, (256, 3): 257, (257, 4): 258}), [258, 256],
             "a merge can use a token made by an earlier merge: keep merging until no pair "
             "of the table is left."),
        Case((BPE_EXAMPLE_IDS, BPE_EXAMPLE_MERGES), [258, 100, 258, 97, 99],
             "aaabdaaabac with Z = aa, Y = ab, X = ZY is XdXac."),
        Case(([1, 2, 3], {}), [1, 2, 3], "with no merges the ids stay as they are."),
        Case(([5], BPE_EXAMPLE_MERGES), [5]),
        Case(([], BPE_EXAMPLE_MERGES), [], "an empty list stays empty."),
    ]
    run_cases(check_bpe_encode.exercise, bpe_encode, cases, success="You can encode with a BPE table.")


@exercise("6.4", "Build the vocabulary from the merges")
def check_bpe_vocab(build_vocab: Callable[[dict[tuple[int, int], int]], dict[int, bytes]]) -> None:
    """256 single bytes, then one token per merge: the two tokens' bytes, left then right."""

    def vocab_for(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
        vocab = {i: bytes([i]) for i in range(256)}
        for (left, right), new_id in merges.items():
            vocab[new_id] = vocab[left] + vocab[right]
        return vocab

    example = {**vocab_for({}), 256: b"aa", 257: b"ab", 258: b"aaab"}
    swapped = {(98, 99): 256, (97, 256): 257}
    cases = [
        Case((BPE_EXAMPLE_MERGES,), example),
        Case(({},), vocab_for({}), "with no merges the vocabulary is the 256 single bytes: bytes([i])."),
        Case((swapped,), vocab_for(swapped)),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if not isinstance(got, dict):
            return None
        if any(isinstance(value, str) for value in got.values()):
            return "tokens are bytes, not str: bytes([i]), and b'a' + b'b' joins two tokens."
        if len(got) < 256 or got.get(0) != b"\x00":
            return "start from the 256 single bytes: vocab[i] = bytes([i]) for i in range(256)."
        merges = case.args[0]
        for (left, right), new_id in merges.items():
            if got.get(new_id) == case.expected[right] + case.expected[left]:
                return "a merged token is the LEFT token's bytes followed by the RIGHT token's bytes."
        return None

    run_cases(check_bpe_vocab.exercise, build_vocab, cases, diagnose=diagnose,
              success="Every id now has its bytes: you can decode.")


# ---------------------------------------------------------------------------
# 07 — embeddings
# ---------------------------------------------------------------------------


SEED_SENTENCE_07 = "thou shalt not make a machine in the likeness of a human mind".split()


def _window_rows_07(tokens: Sequence[str], context_size: int) -> list[tuple[tuple[str, ...], str]]:
    """The right answer of exercise 7.1, to compare wrong ones with."""
    return [(tuple(tokens[s : s + context_size]), tokens[s + context_size]) for s in range(len(tokens) - context_size)]


def _diagnose_sliding_window(got: Any, case: Case) -> str | None:
    tokens, context_size = case.args
    expected = case.expected
    if not isinstance(got, list):
        return "return a list of rows, one (inputs, output) tuple per window position."
    if got and isinstance(got[0], (tuple, list)) and len(got[0]) == 2 and isinstance(got[0][0], list):
        return "make each row's inputs a tuple, tuple(tokens[start:start + context_size]), not a list."
    widths = {len(row[0]) for row in got if isinstance(row, tuple) and len(row) == 2 and hasattr(row[0], "__len__")}
    if expected and widths and widths != {context_size}:
        return f"each row should have context_size = {context_size} inputs, not {sorted(widths)}: use context_size."
    if len(got) == len(expected) - 1:
        return (f"{len(got)} rows instead of {len(expected)}: the last window is missing. A text of n tokens "
                "gives n - context_size rows: range(len(tokens) - context_size).")
    if len(got) == len(expected) + 1 or (not expected and got):
        return ("one row too many: the last window has no next token to predict. Stop at "
                "range(len(tokens) - context_size).")
    if got and got[0] and isinstance(got[0], tuple) and len(got[0]) == 2:
        inputs, output = got[0]
        if expected and output == expected[0][0][-1]:
            return "the output is the token AFTER the inputs (tokens[start + context_size]), not the last input."
    return None


@exercise("7.1", "Slide a window over a sentence")
def check_sliding_window(sliding_window: Callable[[Sequence[str], int], list]) -> None:
    """Rows (inputs, output): context_size tokens, then the token that follows them."""
    cases = [
        Case((SEED_SENTENCE_07, 2), _window_rows_07(SEED_SENTENCE_07, 2),
             "row i holds tokens i and i+1 as inputs and token i+2 as output."),
        Case((SEED_SENTENCE_07[:4], 1), _window_rows_07(SEED_SENTENCE_07[:4], 1),
             "with context_size = 1 each row is ((one token,), the next token)."),
        Case((SEED_SENTENCE_07[:6], 3), _window_rows_07(SEED_SENTENCE_07[:6], 3),
             "use context_size, not a fixed 2."),
        Case((["thou", "shalt"], 2), [], "two tokens and a window of two leave nothing to predict: no rows."),
    ]
    run_cases(check_sliding_window.exercise, sliding_window, cases, diagnose=_diagnose_sliding_window,
              success="thou shalt → not, shalt not → make, ...")


def _diagnose_embed_one_hot(got: Any, case: Case) -> str | None:
    ids, weight = case.args
    expected = case.expected
    if not hasattr(got, "shape"):
        return "return a tensor: one_hot(ids) @ weight."
    if tuple(got.shape) == tuple(expected.shape)[::-1]:
        return "your result is transposed: a one-hot ROW (1, V) times the weight (V, D) gives the row (1, D)."
    if tuple(got.shape) != tuple(expected.shape):
        return (f"the result should have shape ids.shape + (D,) = {tuple(expected.shape)}. Make the one-hot "
                f"vectors as long as the vocabulary (num_classes=weight.shape[0] = {weight.shape[0]}), "
                "not as long as the largest id + 1.")
    return None


@exercise("7.2", "Embed with a one-hot vector")
def check_embed_with_one_hot(embed_with_one_hot: Callable[[Any, Any], Any]) -> None:
    """one_hot(ids, V).float() @ weight equals nn.Embedding's look-up, for any shape of ids."""
    generator = torch.Generator().manual_seed(7)
    weight = torch.randn(6, 3, generator=generator)
    table = torch.nn.Embedding.from_pretrained(weight)
    cases = [
        Case((torch.tensor([2]), weight), table(torch.tensor([2])),
             "one id gives one row of the weight. F.one_hot(ids, num_classes=weight.shape[0]) makes one-hot "
             "vectors as long as the vocabulary; turn them into floats (.float()) before the product."),
        Case((torch.tensor([0, 3, 3, 1]), weight), table(torch.tensor([0, 3, 3, 1])),
             "the largest id here is 3, but the vocabulary has 6 words: one_hot needs num_classes=weight.shape[0]."),
        Case((torch.tensor([5, 0, 2]), weight), table(torch.tensor([5, 0, 2])),
             "row i of the result is row ids[i] of the weight."),
        Case((torch.tensor([[1, 2], [4, 5]]), weight), table(torch.tensor([[1, 2], [4, 5]])),
             "a batch of ids (B, T) gives (B, T, D): the one-hot tensor (B, T, V) @ weight (V, D) does this "
             "without any reshaping."),
    ]
    run_cases(check_embed_with_one_hot.exercise, embed_with_one_hot, cases, atol=1e-6,
              diagnose=_diagnose_embed_one_hot, success="An embedding layer is a one-hot vector times a matrix.")


def _sinusoidal_variant_07(n_positions: int, d_model: int, base: float = 10_000.0, exponent: str = "2i",
                           first: str = "sin", layout: str = "interleaved") -> Any:
    """The right encoding and plausible wrong ones, to name what a wrong answer did."""
    positions = torch.arange(n_positions, dtype=torch.float).unsqueeze(1)
    i = torch.arange(d_model // 2, dtype=torch.float)
    power = (2 * i if exponent == "2i" else i) / d_model
    angles = positions / base**power
    sin, cos = torch.sin(angles), torch.cos(angles)
    even, odd = (sin, cos) if first == "sin" else (cos, sin)
    if layout == "halves":
        return torch.cat([even, odd], dim=1)
    encoding = torch.zeros(n_positions, d_model)
    encoding[:, 0::2] = even
    encoding[:, 1::2] = odd
    return encoding


def _diagnose_sinusoidal(got: Any, case: Case) -> str | None:
    n_positions, d_model = case.args
    if not hasattr(got, "shape") or tuple(got.shape) != (n_positions, d_model):
        return f"return a tensor of shape (n_positions, d_model) = ({n_positions}, {d_model})."
    got = torch.as_tensor(got, dtype=torch.float)
    wrong = {
        "sine and cosine are swapped: the EVEN columns 0, 2, 4, ... hold sin, the odd ones cos.":
            dict(first="cos"),
        "the exponent is 2i/d_model, where 2i is the even column index (0, 2, 4, ...), not i/d_model.":
            dict(exponent="i"),
        "the columns are interleaved: sin in columns 0, 2, 4, ..., cos in 1, 3, 5, ... — not all the sines "
        "first and then all the cosines.": dict(layout="halves"),
        "the base of the exponent is 10000 (1e4), as in the paper.": dict(base=1000.0),
    }
    for hint, variant in wrong.items():
        if torch.allclose(got, _sinusoidal_variant_07(n_positions, d_model, **variant), atol=1e-5):
            return hint
    if torch.allclose(got[:, 0], torch.sin(torch.arange(n_positions) + 1.0), atol=1e-5):
        return "positions start at 0: the first row is sin(0) = 0, cos(0) = 1."
    return None


@exercise("7.3", "The sinusoidal position encoding")
def check_sinusoidal_encoding(sinusoidal_encoding: Callable[[int, int], Any]) -> None:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    cases = [
        Case((1, 2), _sinusoidal_variant_07(1, 2), "position 0 is sin(0) = 0, cos(0) = 1."),
        Case((4, 2), _sinusoidal_variant_07(4, 2), "with d_model = 2 the columns are sin(pos) and cos(pos)."),
        Case((6, 8), _sinusoidal_variant_07(6, 8), "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), "
             "PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))."),
        Case((50, 16), _sinusoidal_variant_07(50, 16), "check the formula for every column, not only the first two."),
    ]
    run_cases(check_sinusoidal_encoding.exercise, sinusoidal_encoding, cases, atol=1e-5,
              diagnose=_diagnose_sinusoidal, success="Every position now has its own fingerprint.")


# ---------------------------------------------------------------------------
# 08 — the transformer block
# ---------------------------------------------------------------------------



def _layer_norm_variants(x, scale, shift, eps):
    """Plausible wrong layer norms, each with the hint that explains it."""
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    right = (x - mean) / torch.sqrt(var + eps)
    return [
        ((x - mean) / torch.sqrt(x.var(-1, keepdim=True, unbiased=True) + eps) * scale + shift,
         "you used the unbiased variance (dividing by n - 1). Layer norm divides by n: "
         "x.var(dim=-1, keepdim=True, unbiased=False), or ((x - mean)**2).mean(-1, keepdim=True)."),
        ((x - mean) / (torch.sqrt(var) + eps) * scale + shift,
         "eps belongs INSIDE the square root: (x - mean) / sqrt(var + eps)."),
        ((x - mean) / torch.sqrt(var) * scale + shift,
         "add eps to the variance before the square root: (x - mean) / sqrt(var + eps)."),
        (right, "you normalised but forgot the learnable scale and shift: ... * scale + shift."),
        ((x - mean) / (var + eps) * scale + shift,
         "divide by the standard deviation sqrt(var + eps), not by the variance."),
        ((x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps)
         * scale + shift,
         "normalise over the LAST axis (each token's own features, dim=-1), not over the batch."),
    ]


@exercise("8.1", "Layer normalisation from scratch")
def check_layer_norm(layer_norm: Callable) -> None:
    """Mean 0, biased variance 1 over the last axis, eps inside the sqrt, then scale and shift."""
    gen = torch.Generator().manual_seed(8)
    x1 = torch.randn(2, 3, 6, generator=gen) * 3 + 1
    s1, b1 = torch.ones(6), torch.zeros(6)
    x2 = torch.randn(4, 5, generator=gen) * 2 - 3
    s2, b2 = torch.randn(5, generator=gen), torch.randn(5, generator=gen)
    x3 = torch.tensor([[1.0, 3.0], [-2.0, 2.0]])
    x4 = torch.tensor([[2.0, 2.001, 1.999, 2.0]])  # nearly constant: eps matters
    cases = []
    for x, s, b, hint in [
        (x1, s1, b1, "normalise each token's vector: subtract its mean, divide by sqrt(var + eps)."),
        (x2, s2, b2, "after normalising, multiply by scale and add shift (both have one value per feature)."),
        (x3, torch.ones(2), torch.zeros(2), "[1, 3] has mean 2 and (biased) variance 1, so it becomes [-1, 1]."),
        (x4, torch.ones(4), torch.zeros(4), "eps goes inside the square root: sqrt(var + eps)."),
    ]:
        expected = torch.nn.functional.layer_norm(x, (x.shape[-1],), s, b, eps=1e-5)
        cases.append(Case((x, s, b, 1e-5), expected, hint))

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return None
        for wrong, hint in _layer_norm_variants(*case.args):
            if torch.allclose(torch.as_tensor(got, dtype=torch.float32), wrong, atol=1e-5, rtol=0) \
                    and not torch.allclose(wrong, case.expected, atol=1e-5, rtol=0):
                return hint
        return None

    run_cases(check_layer_norm.exercise, layer_norm, cases, atol=1e-5, diagnose=diagnose,
              success="Your layer norm matches nn.LayerNorm.")


@exercise("8.2", "GELU, as GPT-2 computes it")
def check_gelu(gelu: Callable) -> None:
    """The tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    x1 = torch.linspace(-4, 4, 9)
    x2 = torch.tensor([[-0.5, 0.1, 1.5], [2.5, -1.5, 0.0]])
    cases = [
        Case((x1,), F.gelu(x1, approximate="tanh"), "GELU(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        Case((x2,), F.gelu(x2, approximate="tanh"), "apply the formula element by element; keep the shape."),
    ]
    variants = [
        (lambda x: torch.relu(x), "that is ReLU (max(0, x)). GELU is smooth and slightly negative "
         "for small negative x: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        (lambda x: F.gelu(x), "that is the exact GELU (with erf). GPT-2 uses the tanh approximation; "
         "to reproduce GPT-2's numbers, use 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        (lambda x: x * (1 + torch.tanh((2 / math.pi) ** 0.5 * (x + 0.044715 * x**3))),
         "you forgot the factor 0.5 in front."),
        (lambda x: 0.5 * x * (1 + torch.tanh(2 / math.pi * (x + 0.044715 * x**3))),
         "the constant is √(2/π) ≈ 0.7979, not 2/π."),
        (lambda x: x * torch.sigmoid(1.702 * x), "that is the sigmoid approximation x·σ(1.702x); "
         "GPT-2 uses the tanh one."),
    ]

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return None
        for wrong, hint in variants:
            if torch.allclose(torch.as_tensor(got, dtype=torch.float32), wrong(case.args[0]),
                                 atol=1e-5, rtol=0):
                return hint
        return None

    run_cases(check_gelu.exercise, gelu, cases, atol=1e-5, diagnose=diagnose,
              success="Same numbers as F.gelu(x, approximate='tanh').")


def _block_parts(seed: int, d: int = 6):
    """A small attention, feed-forward and two different layer norms, seeded."""
    torch.manual_seed(seed)
    attn, ff, norm1, norm2 = MultiHeadAttention(d, 2, 8), FeedForward(d), LayerNorm(d), LayerNorm(d)
    with torch.no_grad():
        for norm in (norm1, norm2):
            norm.scale.copy_(1 + 0.5 * torch.randn(d))
            norm.shift.copy_(0.5 * torch.randn(d))
    for module in (attn, ff, norm1, norm2):
        module.eval()
    return attn, ff, norm1, norm2


@exercise("8.3", "The pre-norm transformer block")
def check_pre_norm_block(pre_norm_block: Callable) -> None:
    """``h = x + attn(norm1(x))``; ``out = h + ff(norm2(h))``."""
    gen = torch.Generator().manual_seed(83)
    cases = []
    for seed, shape in [(1, (1, 4, 6)), (2, (2, 5, 6)), (3, (1, 1, 6))]:
        attn, ff, norm1, norm2 = _block_parts(seed)
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            h = x + attn(norm1(x))
            expected = h + ff(norm2(h))
        cases.append(Case((x, attn, ff, norm1, norm2), expected,
                          "h = x + attn(norm1(x)), then return h + ff(norm2(h))."))

    def variants(x, attn, ff, norm1, norm2):
        h = x + attn(norm1(x))
        post_h = norm1(x + attn(x))
        return [
            (norm2(post_h + ff(post_h)), "that is the 2017 POST-norm block, norm(x + sublayer(x)). "
             "Pre-norm normalises the input of each sub-layer and leaves the residual path "
             "untouched: x + attn(norm1(x))."),
            (attn(norm1(x)) + ff(norm2(attn(norm1(x)))), "the first shortcut is missing: "
             "add x back after attention, h = x + attn(norm1(x))."),
            (ff(norm2(h)), "the second shortcut is missing: return h + ff(norm2(h))."),
            (h + ff(norm1(h)), "the feed-forward has its OWN layer norm: use norm2 before ff, not norm1."),
            (h + ff(norm2(x)), "the feed-forward reads the output of the attention step: ff(norm2(h)), "
             "not ff(norm2(x))."),
            (norm1(x) + attn(norm1(x)) + ff(norm2(norm1(x) + attn(norm1(x)))),
             "the shortcut carries the UN-normalised x: h = x + attn(norm1(x)), not norm1(x) + ..."),
        ]

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return ("the block must return a tensor of the same shape as x, (B, T, emb_dim)."
                    if hasattr(got, "shape") else None)
        with torch.no_grad():
            for wrong, hint in variants(*case.args):
                if torch.allclose(got.detach(), wrong, atol=1e-5, rtol=0):
                    return hint
        return None

    with torch.no_grad():
        run_cases(check_pre_norm_block.exercise, pre_norm_block, cases, atol=1e-5, diagnose=diagnose,
                  success="Pre-norm block with both shortcuts, as in GPT-2.")


# ---------------------------------------------------------------------------
# 09 — the GPT model
# ---------------------------------------------------------------------------



@exercise("9.1", "The next token, greedily")
def check_next_token_ids(next_token_ids: Callable) -> None:
    """logits (B, T, V) → the id with the largest logit at the LAST position, shape (B,)."""
    gen = torch.Generator().manual_seed(91)
    logits1 = torch.randn(2, 3, 7, generator=gen)
    logits1[:, 0, 0] = 10.0  # the first position prefers id 0: taking it is wrong
    logits2 = torch.randn(1, 1, 5, generator=gen)
    logits3 = torch.randn(3, 4, 4, generator=gen)  # T == V: a wrong axis keeps the shape
    cases = [Case((lg,), lg[:, -1, :].argmax(dim=-1),
                  "take the logits of the last position, logits[:, -1, :], and the argmax over the "
                  "vocabulary (dim=-1).")
             for lg in (logits1, logits2, logits3)]

    def diagnose(got, case):
        logits = case.args[0]
        if not hasattr(got, "shape"):
            return "return a tensor of token ids, one per sequence: shape (B,)."
        if tuple(got.shape) == tuple(logits.shape[:2]):
            return "you picked a token at EVERY position; only the last position predicts the next token."
        if tuple(got.shape) == (logits.shape[0], 1):
            return "return shape (B,), one id per sequence: argmax without keepdim=True."
        if tuple(got.shape) == (logits.shape[0], logits.shape[2]):
            return "argmax over the vocabulary axis (dim=-1), not over the positions."
        if tuple(got.shape) == (logits.shape[0],):
            if torch.equal(got.long(), logits[:, 0, :].argmax(-1)):
                return "that is the prediction after the FIRST token; use the last position, logits[:, -1, :]."
            if torch.equal(got.long(), logits[:, -1, :].argmin(-1)):
                return "argmax, not argmin: the most likely token has the LARGEST logit."
        return None

    run_cases(check_next_token_ids.exercise, next_token_ids, cases, diagnose=diagnose,
              success="Greedy decoding picks these ids.")


def _gpt_count_variants(c) -> list[tuple[int, str]]:
    """(count, hint) for plausible mistakes in counting a GPT's parameters."""
    e, V = c.emb_dim, c.vocab_size
    return [
        (V * e, "with tie_weights=True the LM head IS the token-embedding matrix: count it once."
         if c.tie_weights else "with tie_weights=False the LM head is its own (vocab_size × emb_dim) "
         "matrix: add vocab_size·emb_dim (GPT-2's head has no bias)."),
        (V, "GPT-2's LM head has no bias."),
        (c.context_length * e, "count the position embeddings too: context_length × emb_dim."),
        (c.n_layers * 3 * e, "count the query/key/value biases (qkv_bias), 3·emb_dim per block, "
         "only when config.qkv_bias is True." if not c.qkv_bias else
         "with qkv_bias=True, each block has 3·emb_dim query/key/value biases."),
        (c.n_layers * 4 * e, "each block has two layer norms, each with a scale AND a shift: 4·emb_dim per block."),
        (c.n_layers * 2 * e, "each layer norm has two vectors (scale and shift), and a block has two layer norms."),
        (2 * e, "do not forget the final layer norm (2·emb_dim)."),
        (c.n_layers * e, "the output projection of attention (out_proj) has a bias of emb_dim."),
        (c.n_layers * 5 * e, "the feed-forward layers have biases: 4·emb_dim for the first, emb_dim for the second."),
        (c.n_layers * (e * e + e), "count the attention's output projection (out_proj): emb_dim² + emb_dim per block."),
        (c.n_layers * (6 * e * e + 3 * e), "the feed-forward expands to 4·emb_dim: its two weight matrices have "
         "emb_dim × 4·emb_dim entries each."),
    ]


_META_COUNTS09: dict[tuple, int] = {}


def _meta_parameter_count(config) -> int:
    """PyTorch's count for ``config``, from a model on the meta device (no memory; cached)."""
    key = astuple(config)
    if key not in _META_COUNTS09:
        with torch.device("meta"):
            _META_COUNTS09[key] = count_parameters(GPT(config))
    return _META_COUNTS09[key]


@exercise("9.2", "Count a GPT's parameters")
def check_gpt_parameter_count(gpt_parameter_count: Callable) -> None:
    """The exact count for any GPTConfig: tied or untied head, with or without qkv biases."""
    tiny = dict(vocab_size=50, context_length=16, emb_dim=12, n_layers=2, n_heads=3, dropout=0.0)
    configs = [
        GPTConfig(**tiny),
        GPTConfig(**tiny, tie_weights=False),
        GPTConfig(**{**tiny, "n_layers": 3}, qkv_bias=False),
        GPT_CONFIGS["gpt2-small"],
        GPTConfig(**{**GPT_CONFIGS["gpt2-medium"].__dict__, "tie_weights": False}),
    ]
    cases = []
    for config in configs:
        cases.append(Case((config,), _meta_parameter_count(config),
                          "add up: token and position embeddings, per block (two layer norms, "
                          "q/k/v, out_proj, two feed-forward layers), the final norm, and the "
                          "head if it is not tied."))

    def diagnose(got, case):
        if not isinstance(got, int):
            return None
        delta = abs(got - case.expected)
        for amount, hint in _gpt_count_variants(case.args[0]):
            if delta == amount:
                return hint
        return None

    run_cases(check_gpt_parameter_count.exercise, gpt_parameter_count, cases, diagnose=diagnose,
              success="Exactly what PyTorch counts.")


@exercise("9.3", "Split GPT-2's c_attn weight")
def check_split_c_attn(split_c_attn: Callable) -> None:
    """(emb, 3·emb) Conv1D weight → three (emb, emb) nn.Linear weights (out × in): q, k, v."""
    cases = []
    for e in (2, 4):
        w = torch.arange(e * 3 * e, dtype=torch.float32).reshape(e, 3 * e)
        expected = torch.stack([part.T for part in w.split(e, dim=1)])
        cases.append(Case((w,), expected, "split the columns into three blocks of emb_dim "
                          "(query, key, value, in that order) and transpose each one."))

    def stacked(w):
        parts = split_c_attn(w)
        if not isinstance(parts, (tuple, list)) or len(parts) != 3:
            raise ValueError(f"return three tensors (W_query, W_key, W_value), got {describe(parts)}")
        shapes = [tuple(p.shape) for p in parts]
        if len(set(shapes)) != 1:
            raise ValueError(f"the three weights have different shapes {shapes}")
        return torch.stack(list(parts))

    stacked.__name__ = getattr(split_c_attn, "__name__", "split_c_attn")

    def diagnose(got, case):
        w = case.args[0]
        e = w.shape[0]
        if torch.equal(got, torch.stack(list(w.split(e, dim=1)))):
            return ("nn.Linear stores its weight as (out, in), GPT-2's Conv1D as (in, out): "
                    "transpose each block (.T).")
        if torch.equal(got, torch.stack([p.T for p in w.split(e, dim=1)][::-1])):
            return "the order is query, key, value: the first emb_dim columns are the query."
        if tuple(got.shape) != (3, e, e):
            return "split along the columns (dim=1, size 3·emb_dim), into three (emb_dim, emb_dim) blocks."
        return None

    run_cases(check_split_c_attn.exercise, stacked, cases, diagnose=diagnose,
              success="GPT-2's fused q/k/v weight now fits three nn.Linear layers.")


# ---------------------------------------------------------------------------
# 10 — training
# ---------------------------------------------------------------------------



def _stacked10(func: Callable) -> Callable:
    """Wrap an answer that returns (inputs, targets): stack the pair into one tensor to compare.

    A pair of two same-shaped tensors becomes ``torch.stack([inputs, targets])``
    (row 0 = inputs, row 1 = targets); anything else is returned unchanged.
    """

    def stacked(*args: Any) -> Any:
        got = func(*args)
        if isinstance(got, tuple) and len(got) == 2 and all(hasattr(t, "shape") for t in got):
            inputs, targets = (torch.as_tensor(t) for t in got)
            if inputs.shape == targets.shape:
                return torch.stack([inputs, targets])
        return got

    stacked.__name__ = getattr(func, "__name__", "your_function")
    return stacked


def _pair10(got: Any) -> tuple[Any, Any] | None:
    """(inputs, targets) from what :func:`_stacked10` returned, or None if it is not a pair."""
    if hasattr(got, "shape") and got.dim() >= 1 and got.shape[0] == 2:
        return got[0], got[1]
    if isinstance(got, tuple) and len(got) == 2 and all(hasattr(t, "shape") for t in got):
        return tuple(torch.as_tensor(t) for t in got)
    return None


def _windows10(ids: list[int], context_length: int, stride: int) -> Any:
    """The reference answer of exercise 10.1."""
    ids_t = torch.tensor(ids)
    starts = range(0, len(ids) - context_length, stride)
    inputs = torch.stack([ids_t[s : s + context_length] for s in starts])
    targets = torch.stack([ids_t[s + 1 : s + context_length + 1] for s in starts])
    return torch.stack([inputs, targets])  # (2, n_windows, context_length)


@exercise("10.1", "Cut a text into next-token windows")
def check_next_token_windows(make_windows: Callable[[list[int], int, int], tuple[Any, Any]]) -> None:
    """(inputs, targets), each (n_windows, context_length); targets shifted by one; starts stride apart."""
    shift_hint = "targets are the inputs shifted ONE token to the left: ids[s+1 : s+context_length+1]."
    cases = [
        Case((list(range(10)), 4, 3), _windows10(list(range(10)), 4, 3), shift_hint),
        Case((list(range(10)), 4, 1), _windows10(list(range(10)), 4, 1),
             "with stride 1 every start 0, 1, 2, ... gives a window, up to the last whose final target exists."),
        Case(([5, 3, 8, 1, 9, 2, 7, 4, 6], 3, 3), _windows10([5, 3, 8, 1, 9, 2, 7, 4, 6], 3, 3), shift_hint),
        Case(([7, 1, 4, 2], 3, 2), _windows10([7, 1, 4, 2], 3, 2),
             "4 tokens and context 3: exactly one window, inputs [7, 1, 4] and targets [1, 4, 2]."),
        Case((list(range(20, 33)), 4, 4), _windows10(list(range(20, 33)), 4, 4), shift_hint),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        ids, context_length, stride = case.args
        expected_inputs, expected_targets = case.expected
        if _pair10(got) is None:
            return "return a tuple (inputs, targets) of two tensors: torch.stack the windows."
        inputs, targets = _pair10(got)
        n_expected = len(expected_inputs)
        if tuple(inputs.shape) == tuple(expected_inputs.shape) and torch.equal(
            torch.as_tensor(inputs), expected_inputs
        ):
            if torch.equal(torch.as_tensor(targets), expected_inputs):
                return "your targets equal your inputs: shift them by one token (the NEXT token is the target)."
            return shift_hint
        if inputs.dim() == 2 and inputs.shape[1] == context_length:
            n_got = inputs.shape[0]
            n_stride_1 = len(range(0, len(ids) - context_length))
            if stride > 1 and n_got == n_stride_1:
                return f"you made a window at EVERY start; consecutive windows start stride={stride} tokens apart."
            if n_got == n_expected - 1:
                return ("you dropped the last window: a window starting at s is valid while "
                        "s + context_length < len(ids), i.e. range(0, len(ids) - context_length, stride).")
            if n_got > n_expected:
                return ("you kept a window whose last target does not exist: stop when "
                        "s + context_length reaches len(ids).")
        if inputs.dim() == 2 and inputs.shape[1] == context_length + 1:
            return "each input window has context_length tokens; the one extra token is only in the targets."
        return None

    run_cases(check_next_token_windows.exercise, _stacked10(make_windows), cases, diagnose=diagnose,
              success="Every window now asks the model to predict its next token.")


@exercise("10.2", "Cross-entropy by hand")
def check_cross_entropy_by_hand(cross_entropy_by_hand: Callable[[Any, Any], Any]) -> None:
    """-mean(log softmax(logits)[range(N), targets]) for logits (N, V), targets (N,)."""
    gen = torch.Generator().manual_seed(102)
    examples = [
        (torch.randn(4, 6, generator=gen) * 2, torch.tensor([0, 5, 2, 2])),
        (torch.randn(3, 3, generator=gen), torch.tensor([1, 0, 2])),  # N == V: a wrong axis keeps shapes
        (torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])),
        (torch.zeros(2, 10), torch.tensor([3, 7])),  # uniform: ln 10
        (torch.tensor([[100.0, 0.0, -100.0], [0.0, 120.0, 0.0]]), torch.tensor([2, 0])),  # huge logits
    ]
    cases = [Case((lg, tg), F.cross_entropy(lg, tg), "softmax over the vocabulary (dim=-1), pick the "
                  "probability of the right token, log, mean over the N positions, negate.")
             for lg, tg in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        logits, targets = case.args
        if not hasattr(got, "shape"):
            return "return a tensor (a scalar): the loss."
        if got.dim() != 0:
            if tuple(got.shape) == (len(targets),):
                return "you have one loss per position: take the MEAN over positions to get one number."
            return "return one number (a 0-dimensional tensor): the mean over all positions."
        got_v = float(got)
        expected = float(case.expected)
        if math.isnan(got_v) or math.isinf(got_v):
            return ("your loss is NaN or infinite. Did you take the log of the logits? Logits can be "
                    "negative: take the log of PROBABILITIES (after softmax). And for huge logits use "
                    "torch.log_softmax: softmax underflows to 0 and log(0) = -inf.")
        rows = torch.arange(len(targets))
        probs = torch.softmax(logits, dim=-1)[rows, targets]
        variants = {
            "forgot to negate: the log of a probability is negative; the loss is MINUS the mean.": -expected,
            "you summed over positions: take the mean (divide by N).": expected * len(targets),
            "you took the log of the logits, not of the probabilities: apply softmax first.":
                float(-(logits[rows, targets].clamp_min(1e-12)).log().mean()) if (logits[rows, targets] > 0).all() else None,
            "you skipped the log: the loss is the mean NEGATIVE LOG probability.": float(-probs.mean()),
            "softmax over the wrong axis: normalise over the vocabulary (dim=-1), not the positions.":
                float(-torch.log_softmax(logits, dim=0)[rows, targets].mean()),
            "you used the raw logits of the right tokens: convert them to (log) probabilities first.":
                float(-logits[rows, targets].mean()),
        }
        for hint, value in variants.items():
            if value is not None and abs(got_v - value) < 1e-4 and abs(value - expected) > 1e-4:
                return hint
        return None

    run_cases(check_cross_entropy_by_hand.exercise, cross_entropy_by_hand, cases, atol=1e-4,
              diagnose=diagnose, success="It equals F.cross_entropy.")


def _translation_example10(french_ids: list[int], english_ids: list[int], sep_id: int, eos_id: int,
                           ignore_index: int = -100) -> tuple[Any, Any]:
    """The reference answer of exercise 10.3."""
    ids = torch.tensor(french_ids + [sep_id] + english_ids + [eos_id])
    inputs, targets = ids[:-1], ids[1:].clone()
    targets[: len(french_ids)] = ignore_index
    return torch.stack([inputs, targets])  # (2, sequence length)


@exercise("10.3", "Mask the French targets")
def check_translation_example(
    translation_example: Callable[[list[int], list[int], int, int], tuple[Any, Any]],
) -> None:
    """inputs = (french + sep + english + eos)[:-1]; targets = [1:] with the first len(french) set to -100."""
    examples = [
        ([10, 11, 12], [20, 21, 22], 1, 2),
        ([10, 11, 12, 13, 14], [20, 21], 1, 2),
        ([30], [40, 41, 42, 43], 3, 4),
        ([7, 8], [9], 0, 1),
    ]
    cases = [Case(args, _translation_example10(*args),
                  "inputs: french, <sep>, english (no <eos>); targets: the same sequence shifted by one, "
                  "with the first len(french) targets set to -100.")
             for args in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        french_ids, english_ids, sep_id, eos_id = case.args
        expected_inputs, expected_targets = case.expected
        if _pair10(got) is None:
            return "return a tuple (inputs, targets) of two 1-D tensors."
        inputs, targets = _pair10(got)
        if inputs.shape != expected_inputs.shape or not torch.equal(inputs, expected_inputs):
            if len(inputs) == len(expected_inputs) + 1:
                return "inputs drop the LAST token (<eos>): nothing comes after it to predict."
            return "inputs are french + [sep_id] + english, without the final <eos>."
        if targets.shape != expected_targets.shape:
            return "targets are as long as inputs: the whole sequence without its FIRST token."
        n = len(french_ids)
        masked = (targets == -100).sum().item()
        if (targets[n:] == -100).all() and not (targets[:n] == -100).any():
            return "you masked the English part; mask the French part (the first targets) instead."
        if masked == 0:
            return "nothing is masked: set the targets of the French part to -100 so the loss ignores them."
        if masked == n - 1:
            return (f"you masked {masked} targets, one too few: the last French word's target is <sep>, "
                    "which is given in the prompt, not predicted — mask the first len(french_ids) targets.")
        if masked == n + 1:
            return ("you masked one target too many: the target of <sep> is the FIRST English word, "
                    "which the model must learn to predict.")
        if targets[-1].item() != eos_id:
            return "the last target is <eos>: the model must learn where the translation ends."
        return None

    run_cases(check_translation_example.exercise, _stacked10(translation_example), cases, diagnose=diagnose,
              success="The loss will count only the English words.")


# ---------------------------------------------------------------------------
# 11 — generation
# ---------------------------------------------------------------------------




def _cloning11(func: Callable) -> Callable:
    """``func`` called on copies of its tensor arguments, so an in-place edit cannot spoil a case."""

    @functools.wraps(func)
    def call(*args, **kwargs):
        args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        return func(*args, **kwargs)

    return call


def _close11(got: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(got, torch.Tensor)
        and got.shape == expected.shape
        and bool(torch.allclose(got.double(), expected.double(), atol=1e-5, equal_nan=False))
    )


def _row_sums_hint11(got: Any) -> str | None:
    if isinstance(got, torch.Tensor) and got.is_floating_point() and got.numel():
        sums = got.sum(dim=-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            return (
                f"your rows sum to {[round(s, 4) for s in sums.reshape(-1).tolist()]}, not 1: a "
                "probability distribution must be renormalised over the last axis (divide by the sum of what you kept)."
            )
    return None


@exercise("11.1", "Scale logits by a temperature")
def check_softmax_with_temperature(softmax_with_temperature: Callable) -> None:
    """softmax(logits / T) over the last axis, numerically stable."""
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    batch = torch.tensor([[3.0, 1.0, 0.5], [0.0, 0.0, 2.0]])
    huge = torch.tensor([1000.0, 999.0, 990.0])
    cases = [
        Case((logits, 1.0), torch.softmax(logits, dim=-1), "temperature 1 is the plain softmax."),
        Case((logits, 0.5), torch.softmax(logits / 0.5, dim=-1), "divide the logits by T, then softmax."),
        Case((logits, 2.0), torch.softmax(logits / 2.0, dim=-1), "divide the logits by T, then softmax."),
        Case((batch, 0.7), torch.softmax(batch / 0.7, dim=-1),
             "each row is one distribution: softmax over the last axis (dim=-1)."),
        Case((huge, 0.5), torch.softmax(huge / 0.5, dim=-1),
             "large logits overflow exp(): subtract the row's maximum first, or use torch.softmax."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        values, t = case.args
        if not isinstance(got, torch.Tensor):
            return None
        if torch.isnan(got).any() or torch.isinf(got).any():
            return "exp() overflowed to inf: subtract the row's maximum logit before exp, or call torch.softmax."
        if t != 1 and _close11(got, torch.softmax(values * t, dim=-1)):
            return (
                f"you multiplied the logits by T={t}; divide them by T instead, so that T < 1 "
                "sharpens the distribution and T > 1 flattens it."
            )
        plain = torch.softmax(values, dim=-1)
        if t != 1 and (_close11(got, plain / t) or _close11(got, plain * t) or _close11(got, plain)):
            return "the temperature must scale the logits BEFORE the softmax: softmax(logits / T), not softmax(logits) / T."
        if values.dim() == 2 and _close11(got, torch.softmax(values / t, dim=0)):
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
    t = torch.tensor
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
        if not isinstance(got, torch.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        kept_expected = int((expected > 0).sum())
        kept_got = int((got > 0).sum())
        if _close11(got, torch.sort(expected, dim=-1, descending=True).values) and not _close11(got, expected):
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
    t = torch.tensor
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
        if not isinstance(got, torch.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        if torch.isnan(got).any() or (got.sum(dim=-1) == 0).any():
            return "a row kept no token at all: the most probable token must always be kept."
        if _close11(got, torch.sort(expected, dim=-1, descending=True).values) and not _close11(got, expected):
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
