"""Checks of notebook 01 · the dictionary translator (plain Python: no torch here)."""

from __future__ import annotations

from helpers import translate as library
from helpers.checks.core import Case, Cases, exercise

SEED_DICTIONARY = {"le": "the", "chat": "cat", "est": "is", "sous": "under", "la": "the", "table": "table"}


@exercise("1.1", "Split a sentence into tokens", success="Text is now a list of tokens.")
def check_tokenize() -> Cases:
    """lower-case, split on any run of white space, drop empty tokens."""
    split_hint = (
        "split on any run of white space (spaces, tabs, new lines), not on one "
        "space: str.split() with no argument does exactly that."
    )
    return Cases([
        Case(("le chat est sous la table",), ["le", "chat", "est", "sous", "la", "table"]),
        Case(("chat",), ["chat"], "a sentence of one word is a list of one token."),
        Case(("Le Chat",), ["le", "chat"], "lower-case the text so 'Le' and 'le' are one token."),
        Case(("le  chat\test\nsous",), ["le", "chat", "est", "sous"], split_hint),
        Case(("  la table  ",), ["la", "table"], "leading and trailing spaces make no token."),
        Case(("",), [], "an empty text has no tokens: return an empty list."),
    ], library=(library.tokenize,))


@exercise("1.2", "Translate word by word", success="Your translator speaks six words of French.")
def check_translate_word_by_word() -> Cases:
    """look every token up; join with single spaces; unknown words raise KeyError."""
    join_hint = "join the translated words with one space between them and none at the ends: ' '.join(words)."
    return Cases([
        Case(("le chat est sous la table", SEED_DICTIONARY), "the cat is under the table", join_hint),
        Case(("la table", SEED_DICTIONARY), "the table", join_hint),
        Case(("Le Chat", SEED_DICTIONARY), "the cat", "tokenize the sentence first: it lower-cases."),
        Case(("chat", {"chat": "dog"}), "dog", "use the dictionary you are given, not a global one."),
        Case(("les tables", SEED_DICTIONARY), KeyError, "a word missing from the dictionary should raise KeyError."),
    ], library=(library.translate, library.translate_token))


@exercise("1.3", "Mark unknown words", success="Unknown words no longer crash the translator.")
def check_translate_marking_unknown() -> Cases:
    """unknown words come out as ``[word]``; known words are translated."""
    return Cases([
        Case(("le chat est sous la table", SEED_DICTIONARY), "the cat is under the table",
             "known words are translated as before."),
        Case(("les tables", SEED_DICTIONARY), "[les] [tables]",
             "every unknown token comes out in square brackets: '[' + token + ']'."),
        Case(("le chat noir", SEED_DICTIONARY), "the cat [noir]",
             "only the unknown token is marked; the others are translated."),
        Case(("Le CHIEN", SEED_DICTIONARY), "the [chien]",
             "tokenize first (lower-case), then mark the token as it was tokenized."),
    ], library=(library.translate, library.translate_token))
