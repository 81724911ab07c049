"""helpers/checks.py: the three outcomes of a check, and the messages a learner sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import checks
from helpers.checks import Case, Exercise, ExerciseNotSolved, WrongAnswer, run_cases

SQUARE = Exercise("9.1", "Square a number")
CASES = [Case((2,), 4), Case((-3,), 9, "a negative number squared is positive."), Case((0,), 0)]


def test_a_right_answer_prints_one_friendly_line(capsys):
    run_cases(SQUARE, lambda x: x * x, CASES, success="Well done.")
    out = capsys.readouterr().out
    assert out == "✅ Exercise 9.1 (Square a number): all 3 cases pass. Well done.\n"


def test_a_wrong_answer_names_exercise_input_expected_got_and_hint():
    def square(x):
        return abs(x) * x

    with pytest.raises(WrongAnswer) as info:
        run_cases(SQUARE, square, CASES)
    message = str(info.value)
    assert "Exercise 9.1 (Square a number)" in message
    assert "input:    square(-3)" in message
    assert "expected: 9" in message
    assert "got:      -9" in message
    assert "hint:     a negative number squared is positive." in message


def test_an_unsolved_stub_says_not_solved_yet():
    def square(x):
        raise NotImplementedError("Exercise 9.1 (Square a number) is not solved yet — replace this line.")

    with pytest.raises(ExerciseNotSolved, match=r"Exercise 9.1 \(Square a number\) is not solved yet"):
        run_cases(SQUARE, square, CASES)


def test_a_stub_of_another_exercise_is_named_as_the_blocker():
    def square(x):
        raise NotImplementedError("Exercise 9.0 (Helper) is not solved yet — replace this line.")

    with pytest.raises(ExerciseNotSolved, match=r"calls Exercise 9.0 \(Helper\), which is not solved yet"):
        run_cases(SQUARE, square, CASES)


def test_an_exception_in_the_answer_is_reported_as_what_came_back():
    with pytest.raises(WrongAnswer, match="got:      ZeroDivisionError"):
        run_cases(SQUARE, lambda x: x / 0, CASES)


def test_an_expected_exception_must_be_raised():
    cases = [Case(("x",), KeyError, "unknown keys raise KeyError.")]
    run_cases(SQUARE, lambda k: {}[k], cases)
    with pytest.raises(WrongAnswer, match="expected: raises KeyError"):
        run_cases(SQUARE, lambda k: None, cases)


def test_passing_the_result_instead_of_the_function_is_explained():
    with pytest.raises(TypeError, match="Pass the function without calling it"):
        run_cases(SQUARE, 4, CASES)


def test_tensors_are_compared_by_shape_then_values():
    expected = torch.ones(2, 3)
    assert checks.difference(torch.ones(3, 2), expected) == "shape (3, 2) instead of (2, 3)"
    assert "differ by up to 0.5" in checks.difference(expected + 0.5, expected)
    assert checks.difference(np.ones((2, 3)), expected) is None
    assert checks.difference(expected * float("nan"), expected) == "the result contains NaN"
    assert checks.difference([1], expected) == "expected an array/tensor, got a list"


def test_a_diagnosis_replaces_the_generic_hint():
    def diagnose(got, case):
        return "you returned the input." if got == case.args[0] else None

    with pytest.raises(WrongAnswer, match="hint:     you returned the input."):
        run_cases(SQUARE, lambda x: x, CASES, diagnose=diagnose)


def test_every_registered_check_has_a_number_and_title():
    assert checks.EXERCISES["check_tokenize"] == Exercise("1.1", "Split a sentence into tokens")
    for name, which in checks.EXERCISES.items():
        assert name.startswith("check_") and which.title
        assert getattr(checks, name).exercise is which


# --- notebook 01: each check rejects the plausible wrong answers ----------------


def test_check_tokenize_catches_split_on_one_space_and_no_lowercase():
    checks.check_tokenize(lambda text: text.lower().split())
    with pytest.raises(WrongAnswer, match="any run of white space"):
        checks.check_tokenize(lambda text: text.lower().split(" "))
    with pytest.raises(WrongAnswer, match="lower-case"):
        checks.check_tokenize(lambda text: text.split())


def test_check_translate_word_by_word_catches_trailing_space_and_global_dictionary():
    def trailing(sentence, dictionary):
        return "".join(dictionary[t] + " " for t in sentence.lower().split())

    def global_dictionary(sentence, dictionary):
        return " ".join(checks.SEED_DICTIONARY[t] for t in sentence.lower().split())

    def swallows_unknown(sentence, dictionary):
        return " ".join(dictionary.get(t, t) for t in sentence.lower().split())

    for wrong, hint in [(trailing, "one space between"), (global_dictionary, "the dictionary you are given"),
                        (swallows_unknown, "should raise KeyError")]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_translate_word_by_word(wrong)


def test_check_translate_marking_unknown_catches_wrong_brackets_and_no_tokenize():
    def parens(sentence, dictionary):
        return " ".join(dictionary.get(t, f"({t})") for t in sentence.lower().split())

    def no_lower(sentence, dictionary):
        return " ".join(dictionary.get(t, f"[{t}]") for t in sentence.split())

    for wrong in (parens, no_lower):
        with pytest.raises(WrongAnswer):
            checks.check_translate_marking_unknown(wrong)
