"""Tests for helpers/corpus.py: the French-English grammar and its splits."""

from __future__ import annotations

import pytest

from helpers import corpus
from helpers.corpus import (
    BE,
    NounPhrase,
    build_sentence,
    find_adjective,
    find_noun,
    find_preposition,
    find_verb,
)


def phrase(noun: str, plural: bool = False, determiner: str = "the", before: str = "", after: str = "") -> NounPhrase:
    """A noun phrase from French lemmas, for short tests."""
    return NounPhrase(
        find_noun(noun),
        plural,
        determiner,
        find_adjective(before) if before else None,
        find_adjective(after) if after else None,
    )


def where(subject: NounPhrase, preposition: str, obj: NounPhrase) -> tuple[str, str]:
    """The pair for ``subject est/sont preposition obj``."""
    sentence = build_sentence(subject, BE, obj=obj, preposition=find_preposition(preposition))
    return sentence.french, sentence.english


# --- hand-checked translations ---------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        # irregular plurals
        (phrase("cheval", plural=True), ("les chevaux dorment", "the horses sleep")),
        (phrase("souris", plural=True), ("les souris dorment", "the mice sleep")),
        (phrase("femme", plural=True), ("les femmes dorment", "the women sleep")),
        (phrase("oiseau", plural=True), ("les oiseaux dorment", "the birds sleep")),
        # verb agreement, elision
        (phrase("homme"), ("l' homme dort", "the man sleeps")),
        (phrase("homme", determiner="this"), ("cet homme dort", "this man sleeps")),
        # adjectives after and before the noun, agreement
        (phrase("chat", after="noir"), ("le chat noir dort", "the black cat sleeps")),
        (phrase("souris", plural=True, after="blanc"), ("les souris blanches dorment", "the white mice sleep")),
        (phrase("chien", before="petit"), ("le petit chien dort", "the small dog sleeps")),
        (
            phrase("lionne", before="petit", after="gris"),
            ("la petite lionne grise dort", "the small grey lioness sleeps"),
        ),
        (phrase("homme", before="vieux"), ("le vieil homme dort", "the old man sleeps")),
        (phrase("homme", plural=True, before="vieux"), ("les vieux hommes dorment", "the old men sleep")),
        (phrase("homme", determiner="a", before="vieux"), ("un vieil homme dort", "an old man sleeps")),
        (phrase("reine", plural=True, before="beau"), ("les belles reines dorment", "the beautiful queens sleep")),
    ],
)
def test_noun_phrases_and_agreement(subject: NounPhrase, expected: tuple[str, str]) -> None:
    sentence = build_sentence(subject, find_verb("dort"))
    assert (sentence.french, sentence.english) == expected


def test_prepositions_and_contractions() -> None:
    assert where(phrase("chat"), "à côté de", phrase("chien")) == (
        "le chat est à côté du chien",
        "the cat is next to the dog",
    )
    assert where(phrase("souris", plural=True), "près de", phrase("cheval", plural=True)) == (
        "les souris sont près des chevaux",
        "the mice are near the horses",
    )
    assert where(phrase("chat"), "près de", phrase("table")) == (
        "le chat est près de la table",
        "the cat is near the table",
    )
    assert where(phrase("chat"), "en face de", phrase("homme")) == (
        "le chat est en face de l' homme",
        "the cat is opposite the man",
    )
    assert where(phrase("chat"), "loin de", phrase("oiseau", determiner="a")) == (
        "le chat est loin d' un oiseau",
        "the cat is far from a bird",
    )
    assert where(phrase("chat"), "à côté de", phrase("oiseau", before="vieux")) == (
        "le chat est à côté du vieil oiseau",
        "the cat is next to the old bird",
    )
    assert where(phrase("chat"), "sous", phrase("table")) == ("le chat est sous la table", "the cat is under the table")
    assert where(phrase("pomme", determiner="a"), "devant", phrase("chat")) == (
        "une pomme est devant le chat",
        "an apple is in front of the cat",
    )


def test_predicate_adjective_agrees() -> None:
    sentence = build_sentence(phrase("chaise", plural=True), BE, predicate=find_adjective("blanc"))
    assert (sentence.french, sentence.english) == ("les chaises sont blanches", "the chairs are white")


def test_transitive_verb() -> None:
    sentence = build_sentence(phrase("roi", plural=True), find_verb("mange"), obj=phrase("gâteau", plural=True))
    assert (sentence.french, sentence.english) == ("les rois mangent les gâteaux", "the kings eat the cakes")


def test_unknown_lemma_names_the_choices() -> None:
    with pytest.raises(KeyError, match="nouns are"):
        find_noun("licorne")


# --- generation and splits -------------------------------------------------


def test_same_seed_same_pairs_other_seed_other_pairs() -> None:
    assert corpus.generate_pairs(200, seed=7) == corpus.generate_pairs(200, seed=7)
    assert corpus.generate_pairs(200, seed=7) != corpus.generate_pairs(200, seed=8)


def test_pairs_are_lowercase_single_spaced_and_short() -> None:
    for french, english in corpus.generate_pairs(2000, seed=1):
        for text in (french, english):
            assert text == text.lower()
            assert " ".join(text.split()) == text
            assert len(text.split()) <= 16


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        corpus.generate_pairs(-1, seed=0)


def test_held_out_combinations_never_reach_train_or_validation() -> None:
    held_noun_adjectives, held_preposition_nouns = corpus.held_out_combinations()
    assert held_noun_adjectives and held_preposition_nouns
    splits = corpus.make_sentence_splits(n_train=5000, n_validation=200, n_test=300)
    for split in ("train", "validation"):
        for sentence in splits[split]:
            assert not set(sentence.noun_adjectives) & held_noun_adjectives, sentence
            assert not set(sentence.preposition_nouns) & held_preposition_nouns, sentence
    for sentence in splits["test"]:
        assert set(sentence.noun_adjectives) & held_noun_adjectives or set(
            sentence.preposition_nouns
        ) & held_preposition_nouns, sentence
    french = [{s.french for s in sentences} for sentences in splits.values()]
    assert not (french[0] & french[1] or french[0] & french[2] or french[1] & french[2])


def test_every_held_out_word_still_has_other_combinations() -> None:
    held_noun_adjectives, held_preposition_nouns = corpus.held_out_combinations()
    kept = set(corpus.all_noun_adjective_combinations()) - held_noun_adjectives
    assert {noun for noun, _ in held_noun_adjectives} <= {noun for noun, _ in kept}
    assert {adj for _, adj in held_noun_adjectives} <= {adj for _, adj in kept}
    kept = set(corpus.all_preposition_noun_combinations()) - held_preposition_nouns
    assert {prep for prep, _ in held_preposition_nouns} <= {prep for prep, _ in kept}
    assert {noun for _, noun in held_preposition_nouns} <= {noun for _, noun in kept}


# --- the committed file ----------------------------------------------------


def test_load_pairs_sizes_and_vocabulary() -> None:
    splits = {split: corpus.load_pairs(split) for split in corpus.SPLITS}
    assert [len(splits[s]) for s in corpus.SPLITS] == [corpus.N_TRAIN, corpus.N_VALIDATION, corpus.N_TEST]
    for side in (0, 1):
        train_words = {word for pair in splits["train"] for word in pair[side].split()}
        for split in ("validation", "test"):
            words = {word for pair in splits[split] for word in pair[side].split()}
            assert words <= train_words, f"{split} words never seen in train: {words - train_words}"
    train = {french for french, _ in splits["train"]}
    assert not train & {french for french, _ in splits["test"]}
    assert not train & {french for french, _ in splits["validation"]}


def test_load_pairs_rejects_unknown_split() -> None:
    with pytest.raises(ValueError, match="'train', 'validation', 'test'"):
        corpus.load_pairs("dev")


def test_load_pairs_missing_file_says_how_to_make_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="make data"):
        corpus.load_pairs("train", tmp_path / "nope.tsv")


def test_word_by_word_dictionary_covers_the_corpus_and_fails_on_test() -> None:
    dictionary = corpus.word_by_word_dictionary()
    assert dictionary["chevaux"] == "horses" and dictionary["noires"] == "black" and dictionary["du"] == "of"
    test = corpus.load_pairs("test")
    correct = sum(" ".join(dictionary[w] for w in french.split()) == english for french, english in test)
    assert correct / len(test) < 0.3
