"""Word-by-word translation with a Python dictionary (notebooks 01 and 02).

The simplest translator there is: split the sentence into tokens, look each
token up in a French → English dictionary, join the answers.

    >>> translate("le chat est sous la table", load_dictionary())
    'the cat is under the table'

Notebook 02 adds a softer look-up for words that are not keys: the key with
the smallest edit distance (Levenshtein distance) to the query wins.

    >>> translate("les tables", load_dictionary(), unknown="closest")
    'the table'
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from Levenshtein import distance

from helpers.paths import DATA_DIR

#: The hand-written dictionary of notebooks 01–03 (French word → English word).
DICTIONARY_PATH: Path = DATA_DIR / "dictionary_fr_en.tsv"

#: What :func:`translate` does with a word that is not in the dictionary.
UnknownPolicy = Literal["error", "keep", "mark", "closest"]
UNKNOWN_POLICIES: tuple[str, ...] = ("error", "keep", "mark", "closest")


class UnknownWordError(KeyError):
    """A word is not in a dictionary or a vocabulary (a ``KeyError``, as ``dict[...]`` raises) (notebook 01).

    The message names the word, shows the first known words, and says what to do.
    Later chapters raise it too, for one-hot vectors, embeddings and token ids.
    """

    def __init__(self, word: str, known: Iterable[str], where: str, advice: str):
        self.word = word
        known = list(known)
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        self.message = f"{word!r} is not in the {where} ({len(known)} words: {shown}). {advice}"
        super().__init__(word)

    def __str__(self) -> str:
        return self.message


def load_dictionary(path: Path = DICTIONARY_PATH) -> dict[str, str]:
    """Read a two-column ``french<TAB>english`` file (with a header) into a dict (notebook 01)."""
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    if not rows or set(rows[0]) != {"french", "english"}:
        raise ValueError(f"{path} must have the columns 'french' and 'english'")
    dictionary: dict[str, str] = {}
    for row in rows:
        if row["french"] in dictionary:
            raise ValueError(f"{path}: the French word {row['french']!r} appears twice")
        dictionary[row["french"]] = row["english"]
    return dictionary


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it on runs of white space (notebook 01)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}: {text!r}")
    return text.lower().split()


def translate_token(token: str, dictionary: Mapping[str, str], unknown: UnknownPolicy = "error") -> str:
    """Translate one token; ``unknown`` says what to do if it is not a key.

    ``"error"`` raises :class:`UnknownWordError`, ``"keep"`` returns the token
    unchanged, ``"mark"`` returns it in square brackets (``[tables]``),
    ``"closest"`` returns the value of :func:`find_closest_key` (notebook 02).
    """
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown={unknown!r} is not a policy; use one of {UNKNOWN_POLICIES}")
    if token in dictionary:
        return dictionary[token]
    if unknown == "keep":
        return token
    if unknown == "mark":
        return f"[{token}]"
    if unknown == "closest":
        return dictionary[find_closest_key(token, dictionary)]
    raise UnknownWordError(
        token, sorted(dictionary), "dictionary",
        "Pass unknown='keep', 'mark' or 'closest' to translate around it.",
    )


def translate(text: str, dictionary: Mapping[str, str], unknown: UnknownPolicy = "error") -> str:
    """Translate ``text`` word by word with ``dictionary`` (notebook 01).

    Raises ``ValueError`` for a text with no words, ``TypeError`` for a text
    that is not a string, and :class:`UnknownWordError` for a word missing from
    the dictionary unless ``unknown`` is ``"keep"``, ``"mark"`` or ``"closest"``.
    """
    if not isinstance(text, str):
        raise TypeError(f"translate expects a str, got {type(text).__name__}: {text!r}")
    tokens = tokenize(text)
    if not tokens:
        raise ValueError("cannot translate an empty text: give at least one word")
    return " ".join(translate_token(token, dictionary, unknown) for token in tokens)


# ---------------------------------------------------------------------------
# Notebook 02: the closest key by edit distance
# ---------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance between ``a`` and ``b``, by dynamic programming (notebook 02).

    The fewest single-character insertions, deletions and substitutions
    (each costs 1) that turn ``a`` into ``b``. ``row[j]`` holds the distance
    between the first ``i`` characters of ``a`` and the first ``j`` of ``b``;
    the table is filled one row at a time, keeping only the previous row.
    Equals ``Levenshtein.distance(a, b)``.
    """
    previous = list(range(len(b) + 1))  # "" -> b[:j] takes j insertions
    for i, char_a in enumerate(a, start=1):
        row = [i]  # a[:i] -> "" takes i deletions
        for j, char_b in enumerate(b, start=1):
            row.append(
                min(
                    previous[j] + 1,  # delete char_a
                    row[j - 1] + 1,  # insert char_b
                    previous[j - 1] + (char_a != char_b),  # substitute (free if equal)
                )
            )
        previous = row
    return previous[-1]


def find_closest_key(query: str, keys: Iterable[str]) -> str:
    """The key with the smallest Levenshtein distance to ``query`` (notebook 02).

    Tie rule: among keys at the same smallest distance, the one that comes
    first in alphabetical (``sorted``) order wins, so the answer does not
    depend on the order of ``keys``. A query that is a key is its own closest key.
    """
    candidates = sorted(set(keys))
    if not candidates:
        raise ValueError(f"cannot find the closest key to {query!r} among no keys")
    return min(candidates, key=lambda key: distance(query, key))  # min keeps the first of ties
