"""The checks of notebook 02 accept the right answer and name the plausible wrong ones."""

from __future__ import annotations

import Levenshtein
import pytest

from helpers.checks import ch02_levenshtein as checks
from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.translate import edit_distance, find_closest_key
from helpers.translate import edit_distance as library_edit_distance, find_closest_key as library_find_closest_key


def dp(a: str, b: str, first_row=None, first_column=True, substitution=1, deletions=True) -> int:
    """An edit distance with one of the usual slips switched on."""
    previous = list(range(len(b) + 1)) if first_row is None else first_row(len(b))
    for i, char_a in enumerate(a, start=1):
        row = [i if first_column else 0]
        for j, char_b in enumerate(b, start=1):
            options = [row[j - 1] + 1, previous[j - 1] + (substitution if char_a != char_b else 0)]
            if deletions:
                options.append(previous[j] + 1)
            row.append(min(options))
        previous = row
    return previous[-1]


def test_check_edit_distance_accepts_the_library_and_levenshtein():
    checks.check_edit_distance(edit_distance)
    checks.check_edit_distance(Levenshtein.distance)


@pytest.mark.parametrize("wrong, hint", [
    (lambda a, b: dp(a, b, first_row=lambda n: [0] * (n + 1)), "the first row is the distance from ''"),
    (lambda a, b: dp(a, b, first_row=lambda n: list(range(1, n + 2))), "distance 0"),
    (lambda a, b: dp(a, b, first_column=False), "the first column"),
    (lambda a, b: dp(a, b, substitution=2), "a substitution costs 1, not 2"),
    (lambda a, b: dp(a, b, deletions=False), "you never delete a character"),
    (lambda a, b: float(Levenshtein.distance(a, b)), "as an int"),
], ids=["first-row-zeros", "first-row-off-by-one", "first-column-zeros", "substitution-2", "no-deletions", "float"])
def test_check_edit_distance_catches_plausible_slips(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_edit_distance(wrong)


def test_check_edit_distance_on_a_stub_says_not_solved():
    def stub(a, b):
        raise NotImplementedError("Exercise 2.1 (Edit distance by dynamic programming) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="is not solved yet"):
        checks.check_edit_distance(stub)


def first_in_order(query, keys):
    best, best_distance = None, float("inf")
    for key in keys:
        if Levenshtein.distance(query, key) < best_distance:
            best, best_distance = key, Levenshtein.distance(query, key)
    return best


def last_in_order(query, keys):
    best, best_distance = None, float("inf")
    for key in keys:
        if Levenshtein.distance(query, key) <= best_distance:
            best, best_distance = key, Levenshtein.distance(query, key)
    return best


def test_check_find_closest_key_accepts_the_library():
    checks.check_find_closest_key(find_closest_key)


@pytest.mark.parametrize("wrong, hint", [
    (first_in_order, "alphabetically first"),
    (last_in_order, "alphabetically first"),
    (lambda q, keys: max(sorted(keys), key=lambda k: Levenshtein.distance(q, k)), "FARTHEST"),
    (lambda q, keys: keys[find_closest_key(q, keys)], "return the closest key"),
], ids=["first-in-order", "last-in-order", "max", "returns-value"])
def test_check_find_closest_key_catches_plausible_slips(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_find_closest_key(wrong)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    checks.check_edit_distance(library_edit_distance)
    checks.check_find_closest_key(library_find_closest_key)
    assert capsys.readouterr().out.count("✅") == 2


def test_an_answer_that_calls_levenshtein_passes_with_a_note(capsys):
    import Levenshtein

    from helpers.checks.ch02_levenshtein import check_edit_distance

    check_edit_distance(lambda a, b: Levenshtein.distance(a, b))
    out = capsys.readouterr().out
    assert "✅ Exercise 2.1" in out and "calls Levenshtein.distance, which this exercise re-creates" in out


def first_row_one_short(a, b):  # range(len(b)) instead of range(len(b) + 1)
    previous = list(range(len(b)))
    for i, char_a in enumerate(a, start=1):
        row = [i]
        for j, char_b in enumerate(b, start=1):
            row.append(min(row[j - 1] + 1, previous[j] + 1, previous[j - 1] + (char_a != char_b)))
        previous = row
    return previous[-1]


def sorts_the_keys_in_place(query, keys):
    keys.sort()
    return min(keys, key=lambda key: Levenshtein.distance(query, key))


@pytest.mark.parametrize("check, wrong, shown", [
    ("check_edit_distance", first_row_one_short, ["your code raised IndexError", "len(b) + 1 columns"]),
    ("check_find_closest_key", sorts_the_keys_in_place, ["your code raised AttributeError", "sorted(keys)"]),
])
def test_a_raising_answer_shows_its_error_and_a_hint_that_fits(check, wrong, shown):
    from helpers.checks import ch02_levenshtein

    with pytest.raises(WrongAnswer) as info:
        getattr(ch02_levenshtein, check)(wrong)
    assert all(text in str(info.value) for text in shown), str(info.value)
