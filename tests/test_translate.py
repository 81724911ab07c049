"""helpers/translate.py: the word-by-word translator of notebook 01."""

from __future__ import annotations

import pytest

from helpers.translate import UnknownWordError, load_dictionary, tokenize, translate

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
    with pytest.raises(ValueError, match=r"unknown='drop' is not a policy; use one of \('error', 'keep', 'mark'\)"):
        translate("le", SEED, unknown="drop")


def test_load_dictionary_rejects_a_bad_file(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("fr\ten\nle\tthe\n")
    with pytest.raises(ValueError, match="columns 'french' and 'english'"):
        load_dictionary(path)
    path.write_text("french\tenglish\nle\tthe\nle\tit\n")
    with pytest.raises(ValueError, match="'le' appears twice"):
        load_dictionary(path)
