"""Checks of notebook 02 · the Levenshtein look-up (plain Python: no torch here)."""

from __future__ import annotations

from typing import Any

from Levenshtein import distance

from helpers import translate as library
from helpers.checks.ch01_translate import SEED_DICTIONARY
from helpers.checks.core import Case, Cases, exercise


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


@exercise("2.1", "Edit distance by dynamic programming", success="Your distance agrees with Levenshtein's.")
def check_edit_distance() -> Cases:
    """the Levenshtein distance: insertions, deletions, substitutions, each costing 1."""
    first_row = (
        "the first row is the distance from '' to each prefix of b: 0, 1, 2, ..., len(b) "
        "(j insertions), so edit_distance('', b) == len(b)."
    )
    first_column = (
        "the first column is the distance from each prefix of a to '': 0, 1, ..., len(a) "
        "(i deletions): start each new row with i, so edit_distance(a, '') == len(a)."
    )
    cases = [
        Case(("", ""), 0, "two empty strings are already equal: distance 0. The table has len(a) + 1 rows and "
                          "len(b) + 1 columns (row 0 and column 0 stand for the empty prefix), so even here it "
                          "has one cell."),
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

    return Cases(cases, diagnose, library=(distance, library.edit_distance))


@exercise("2.2", "Find the closest key", success="Unknown words now find their nearest key.")
def check_find_closest_key() -> Cases:
    """the key at the smallest edit distance; ties go to the alphabetically first key."""
    tie_hint = (
        "several keys are at the same smallest distance: the rule is that the alphabetically first "
        "one wins, whatever the order of the keys (sort the keys first, or compare (distance, key) pairs)."
    )
    cases = [
        Case(("tables", SEED_DICTIONARY), "table",
             "'tables' is one deletion away from the key 'table'. keys may be a dict or a list: "
             "sorted(keys) gives a sorted list of either, where keys.sort() works on a list only."),
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

    return Cases(cases, diagnose, library=(library.find_closest_key,))
