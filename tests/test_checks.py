"""helpers/checks/core.py: the three outcomes of a check, and the messages a learner sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.checks import all_exercises, core
from helpers.checks.core import Case, Cases, Exercise, ExerciseNotSolved, WrongAnswer, exercise, run_cases

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


def test_ipython_shows_the_message_alone_not_a_traceback_through_the_checker():
    with pytest.raises(WrongAnswer) as info:
        run_cases(SQUARE, lambda x: x, CASES)
    lines = info.value._render_traceback_()
    assert lines == str(info.value).splitlines() and len(lines) == 4
    assert lines[0] == "Exercise 9.1 (Square a number): not quite."


def test_an_exception_in_the_answer_is_reported_before_what_was_expected():
    with pytest.raises(WrongAnswer) as info:
        run_cases(SQUARE, lambda x: x / 0, CASES)
    lines = str(info.value).splitlines()
    assert lines[2] == "  your code raised ZeroDivisionError: division by zero"
    assert lines[3] == "  expected: 4" and not any("got:" in line for line in lines)


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
    assert core.difference(torch.ones(3, 2), expected) == "shape (3, 2) instead of (2, 3)"
    assert "differ by up to 0.5" in core.difference(expected + 0.5, expected)
    assert core.difference(np.ones((2, 3)), expected) is None
    assert core.difference(expected * float("nan"), expected) == "the result contains NaN"
    assert core.difference([1], expected) == "expected an array/tensor, got a list"


def test_a_diagnosis_replaces_the_generic_hint():
    def diagnose(got, case):
        return "you returned the input." if got == case.args[0] else None

    with pytest.raises(WrongAnswer, match="hint:     you returned the input."):
        run_cases(SQUARE, lambda x: x, CASES, diagnose=diagnose)


def test_every_registered_check_has_a_number_and_title():
    exercises = all_exercises()
    assert exercises["check_tokenize"] == Exercise("1.1", "Split a sentence into tokens")
    assert len(exercises) == 55
    for name, which in exercises.items():
        assert name.startswith("check_") and which.title


def test_the_exercise_decorator_turns_cases_into_a_check(capsys):
    @exercise("0.1", "Double a number", success="Twice as good.")
    def check_double() -> Cases:
        """doubles."""
        return Cases([Case((2,), 4), Case((0.5,), 1.0)])

    try:
        check_double(lambda x: 2 * x)
        assert capsys.readouterr().out == "✅ Exercise 0.1 (Double a number): all 2 cases pass. Twice as good.\n"
        assert check_double.exercise == Exercise("0.1", "Double a number")
        with pytest.raises(WrongAnswer, match="expected: 4"):
            check_double(lambda x: x + 1)
        with pytest.raises(ValueError, match="registered twice"):
            exercise("0.1", "again", success="")(check_double)
    finally:
        core.EXERCISES.pop("check_double")


def test_an_answer_may_not_spoil_the_cases_by_changing_them_in_place():
    seen = []

    def appends(items):
        items.append(0)
        seen.append(list(items))
        return len(items)

    cases = [Case(([1, 2],), 3), Case(([1, 2],), 3)]
    run_cases(SQUARE, appends, cases)
    assert seen == [[1, 2, 0], [1, 2, 0]] and cases[0].args == ([1, 2],)
    with pytest.raises(WrongAnswer, match="argument 1 became"):
        run_cases(SQUARE, appends, cases, inputs_unchanged=True)


def test_tuples_and_dicts_are_compared_item_by_item():
    expected = (torch.ones(2), torch.zeros(3))
    assert core.difference((torch.ones(2), torch.zeros(3)), expected) is None
    assert core.difference((torch.ones(2), torch.ones(3)), expected).startswith("item 1: values differ")
    assert core.difference(torch.ones(2), expected).startswith("expected a tuple of 2")
    assert core.difference({"a": 1, "b": 2}, {"a": 1, "b": 3}) == "1 wrong value(s), e.g. ['b'] is 2, not 3"
    assert core.difference({"a": 1}, {"a": 1, "b": 3}).startswith("1 missing key(s), e.g. 'b'")
    from collections import Counter
    assert core.difference(Counter("aab"), {"a": 2, "b": 1}) is None


def test_the_kind_of_dtype_must_match():
    assert core.difference(torch.ones(2, dtype=torch.int64), torch.ones(2)) == "dtype torch.int64 instead of torch.float32"
    assert core.difference(torch.ones(2, dtype=torch.float64), torch.ones(2)) is None


def test_long_inputs_are_summarised_and_numbers_rounded():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 3
    call = core.describe_call("attention_head", Case((x, x, x, x), None))
    assert len(call) < 260 and "shape (3, 4)" in call
    assert core.describe(torch.tensor([1 / 3, 2.0])) == "Tensor of shape (2,), dtype torch.float32: [0.3333, 2.0]"
    long_dict = {f"key{i}": i for i in range(100)}
    assert core.describe(long_dict).endswith("(100 entries)")
