"""Word-by-word translation with a Python dictionary (notebook 01).

The simplest translator there is: split the sentence into tokens, look each
token up in a French → English dictionary, join the answers.

    >>> translate("le chat est sous la table", load_dictionary())
    'the cat is under the table'
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from helpers.paths import DATA_DIR

#: The hand-written dictionary of notebooks 01–03 (French word → English word).
DICTIONARY_PATH: Path = DATA_DIR / "dictionary_fr_en.tsv"

#: What :func:`translate` does with a word that is not in the dictionary.
UnknownPolicy = Literal["error", "keep", "mark"]
UNKNOWN_POLICIES: tuple[str, ...] = ("error", "keep", "mark")


class UnknownWordError(KeyError):
    """A token is not a key of the dictionary (a ``KeyError``, as ``dict[...]`` raises)."""

    def __init__(self, word: str, dictionary: Mapping[str, str]):
        self.word = word
        keys = sorted(dictionary)
        shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        self.message = (
            f"{word!r} is not in the dictionary ({len(keys)} words: {shown}). "
            "Pass unknown='keep' or unknown='mark' to translate around it."
        )
        super().__init__(word)

    def __str__(self) -> str:
        return self.message


def load_dictionary(path: Path = DICTIONARY_PATH) -> dict[str, str]:
    """Read a two-column ``french<TAB>english`` file (with a header) into a dict."""
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
    """Lower-case ``text`` and split it on runs of white space."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}: {text!r}")
    return text.lower().split()


def translate_token(token: str, dictionary: Mapping[str, str], unknown: UnknownPolicy = "error") -> str:
    """Translate one token; ``unknown`` says what to do if it is not a key.

    ``"error"`` raises :class:`UnknownWordError`, ``"keep"`` returns the token
    unchanged, ``"mark"`` returns it in square brackets (``[tables]``).
    """
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown={unknown!r} is not a policy; use one of {UNKNOWN_POLICIES}")
    if token in dictionary:
        return dictionary[token]
    if unknown == "keep":
        return token
    if unknown == "mark":
        return f"[{token}]"
    raise UnknownWordError(token, dictionary)


def translate(text: str, dictionary: Mapping[str, str], unknown: UnknownPolicy = "error") -> str:
    """Translate ``text`` word by word with ``dictionary``.

    Raises ``ValueError`` for a text with no words, ``TypeError`` for a text
    that is not a string, and :class:`UnknownWordError` for a word missing from
    the dictionary unless ``unknown`` is ``"keep"`` or ``"mark"``.
    """
    if not isinstance(text, str):
        raise TypeError(f"translate expects a str, got {type(text).__name__}: {text!r}")
    tokens = tokenize(text)
    if not tokens:
        raise ValueError("cannot translate an empty text: give at least one word")
    return " ".join(translate_token(token, dictionary, unknown) for token in tokens)
