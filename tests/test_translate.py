"""helpers/translate.py: the word-by-word translator of notebook 01."""

from __future__ import annotations

import pytest

import Levenshtein
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.translate import (
    UnknownWordError,
    edit_distance,
    find_closest_key,
    load_dictionary,
    tokenize,
    translate,
    translate_token,
)

SEED = {"le": "the", "chat": "cat", "est": "is", "sous": "under", "la": "the", "table": "table"}


def test_the_course_sentence():
    assert translate("le chat est sous la table", SEED) == "the cat is under the table"


def test_the_course_dictionary_starts_with_the_six_seed_words():
    dictionary = load_dictionary()
    assert list(dictionary.items())[:6] == list(SEED.items())
    assert all(" " not in k and k == k.lower() for k in dictionary)


def test_tokenize_lowercases_and_splits_on_any_white_space():
    assert tokenize("  Le\tCHAT\n est ") == ["le", "chat", "est"]
    assert tokenize("") == []


def test_an_unknown_word_is_a_key_error_that_names_it():
    with pytest.raises(KeyError) as info:
        translate("les tables", SEED)
    assert isinstance(info.value, UnknownWordError)
    assert str(info.value).startswith("'les' is not in the dictionary (6 words: chat, est, la, le, sous, table)")


@pytest.mark.parametrize("policy, expected", [("keep", "the cat is under les tables"),
                                              ("mark", "the cat is under [les] [tables]")])
def test_unknown_word_policies(policy, expected):
    assert translate("le chat est sous les tables", SEED, unknown=policy) == expected


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="empty text"):
        translate(" \n ", SEED)
    with pytest.raises(TypeError, match="translate expects a str, got list"):
        translate(["le"], SEED)
    with pytest.raises(ValueError, match=r"unknown='drop' is not a policy; use one of \('error', 'keep', 'mark', 'closest'\)"):
        translate("le", SEED, unknown="drop")


def test_load_dictionary_rejects_a_bad_file(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("fr\ten\nle\tthe\n")
    with pytest.raises(ValueError, match="columns 'french' and 'english'"):
        load_dictionary(path)
    path.write_text("french\tenglish\nle\tthe\nle\tit\n")
    with pytest.raises(ValueError, match="'le' appears twice"):
        load_dictionary(path)


# --- notebook 02: edit distance and the closest key ---------------------------

WORD_PAIRS = [
    ("", ""), ("", "abc"), ("abc", ""), ("table", "table"), ("tables", "table"), ("kitten", "sitting"),
    ("flaw", "lawn"), ("poisson", "poison"), ("mère", "mer"), ("lit", "lait"), ("homme", "pomme"),
    ("garçon", "garcon"), ("boîte", "boite"), ("chat", "tchat"), ("ab", "ba"), ("a", "b"),
    ("猫", "猫たち"), ("naïve café", "naive cafe"), ("😀x", "x😀"), ("aaaa", "a"),
]


@pytest.mark.parametrize("a, b", WORD_PAIRS)
def test_edit_distance_equals_levenshtein(a, b):
    assert edit_distance(a, b) == Levenshtein.distance(a, b)


def test_edit_distance_on_known_values():
    assert [edit_distance(a, b) for a, b in [("", "abc"), ("kitten", "sitting"), ("ab", "ba"), ("table", "table")]] == [
        3, 3, 2, 0
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcé猫", max_size=8), st.text(alphabet="abcé猫", max_size=8))
def test_edit_distance_equals_levenshtein_on_generated_strings(a, b):
    assert edit_distance(a, b) == Levenshtein.distance(a, b)
    assert edit_distance(a, b) == edit_distance(b, a)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12))
def test_edit_distance_equals_levenshtein_on_any_unicode(a, b):
    assert edit_distance(a, b) == Levenshtein.distance(a, b)


def test_find_closest_key_picks_the_smallest_distance():
    dictionary = load_dictionary()
    assert find_closest_key("tables", dictionary) == "table"
    assert find_closest_key("chats", dictionary) == "chat"
    assert find_closest_key("poisson", dictionary) == "poisson"  # a key is its own closest key
    assert find_closest_key("poissons", dictionary) == "poisson"


def test_find_closest_key_breaks_ties_alphabetically_whatever_the_order():
    # "lot" is one substitution away from both "lit" and "lut".
    for keys in (["lit", "lut", "zzzz"], ["lut", "lit", "zzzz"], ["zzzz", "lut", "lit"]):
        assert find_closest_key("lot", keys) == "lit"
    assert find_closest_key("mar", ["mer", "mère", "mar"]) == "mar"
    assert find_closest_key("lat", {"lit": "bed", "lait": "milk"}) == "lait"  # both at distance 1: 'lait' < 'lit'


def test_find_closest_key_needs_keys():
    with pytest.raises(ValueError, match="closest key to 'x' among no keys"):
        find_closest_key("x", [])


def test_the_closest_policy_translates_unseen_words_and_keeps_known_ones():
    assert translate("le chat est sous les tables", SEED, unknown="closest") == "the cat is under the table"
    assert translate_token("tables", SEED, unknown="closest") == "table"
    assert translate_token("chat", {"chat": "cat", "chats": "cats"}, unknown="closest") == "cat"
    dictionary = load_dictionary()
    assert translate("le poissom", dictionary, unknown="closest") == "the fish"
    assert translate("la mèr", dictionary, unknown="closest") == "the sea"  # mer and mère both at 1: 'mer' < 'mère'
