"""Tests for helpers/corpus.py: the French-English grammar, its splits, and the rule translator."""

from __future__ import annotations

import pytest

from helpers import corpus
from helpers.corpus import (
    BE,
    NounPhrase,
    Pronoun,
    Relative,
    build_sentence,
    find_adjective,
    find_noun,
    find_preposition,
    find_verb,
)
from helpers.rule_translator import rule_translate


def phrase(noun: str, plural: bool = False, determiner: str = "the", before: str = "", after: str = "",
           owner: NounPhrase | None = None, relative: Relative | None = None) -> NounPhrase:
    """A noun phrase from French lemmas, for short tests."""
    return NounPhrase(find_noun(noun), plural, determiner, find_adjective(before) if before else None,
                      find_adjective(after) if after else None, owner, relative)


def where(subject: NounPhrase, preposition: str, obj: NounPhrase) -> tuple[str, str]:
    """The pair for ``subject est/sont preposition obj``."""
    sentence = build_sentence(subject, BE, places=[(find_preposition(preposition), obj)])
    return sentence.french, sentence.english


def pair(*args, **kwargs) -> tuple[str, str]:
    sentence = build_sentence(*args, **kwargs)
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


EAT, SEE, SLEEP = find_verb("mange"), find_verb("voit"), find_verb("dort")


@pytest.mark.parametrize(("built", "expected"), [
    # negation: do-support in English, except with be
    (pair(phrase("chat"), SLEEP, negative=True), ("le chat ne dort pas", "the cat does not sleep")),
    (pair(phrase("chat", plural=True), EAT, obj=phrase("pomme"), negative=True),
     ("les chats ne mangent pas la pomme", "the cats do not eat the apple")),
    (pair(phrase("chat"), BE, predicate=find_adjective("noir"), negative=True),
     ("le chat n' est pas noir", "the cat is not black")),
    # questions: est-ce que; do-support or inversion of be
    (pair(phrase("chat"), SLEEP, question=True), ("est-ce que le chat dort ?", "does the cat sleep ?")),
    (pair(phrase("oiseau", determiner="a"), BE, predicate=find_adjective("bleu"), question=True),
     ("est-ce qu' un oiseau est bleu ?", "is a bird blue ?")),
    # the passé composé, negated and asked
    (pair(phrase("chat"), EAT, obj=phrase("pomme"), past=True), ("le chat a mangé la pomme", "the cat ate the apple")),
    (pair(phrase("homme"), SLEEP, past=True, negative=True), ("l' homme n' a pas dormi", "the man did not sleep")),
    (pair(phrase("chat", plural=True), SEE, obj=phrase("roi"), past=True, question=True),
     ("est-ce que les chats ont vu le roi ?", "did the cats see the king ?")),
    # object pronouns before the verb, the participle agreeing with them
    (pair(phrase("chat"), EAT, obj=Pronoun("f", False)), ("le chat la mange", "the cat eats it")),
    (pair(phrase("chat"), EAT, obj=Pronoun("f", False), past=True), ("le chat l' a mangée", "the cat ate it")),
    (pair(phrase("chat"), EAT, obj=Pronoun("m", True), negative=True),
     ("le chat ne les mange pas", "the cat does not eat them")),
    (pair(phrase("chat"), EAT, obj=Pronoun("f", True), past=True, negative=True),
     ("le chat ne les a pas mangées", "the cat did not eat them")),
    # possessives, reordered, with contraction and the English plural possessive
    (pair(phrase("chat", owner=phrase("reine")), SLEEP), ("le chat de la reine dort", "the queen 's cat sleeps")),
    (pair(phrase("chat", after="noir", owner=phrase("roi", plural=True)), SLEEP),
     ("le chat noir des rois dort", "the kings ' black cat sleeps")),
    (pair(phrase("chien", owner=phrase("homme", plural=True)), SLEEP),
     ("le chien des hommes dort", "the men 's dog sleeps")),
    (pair(phrase("livre", owner=phrase("homme", before="vieux")), BE, predicate=find_adjective("rouge")),
     ("le livre du vieil homme est rouge", "the old man 's book is red")),
    # relative clauses: that, or who for a person
    (pair(phrase("chat", relative=Relative(SLEEP)), EAT, obj=phrase("pomme")),
     ("le chat qui dort mange la pomme", "the cat that sleeps eats the apple")),
    (pair(phrase("roi", plural=True, relative=Relative(EAT, phrase("gâteau"))), SLEEP),
     ("les rois qui mangent le gâteau dorment", "the kings who eat the cake sleep")),
    # two places, with contractions
    (pair(phrase("chat"), SLEEP, places=[(find_preposition("sous"), phrase("table")),
                                         (find_preposition("à côté de"), phrase("lit", plural=True))]),
     ("le chat dort sous la table à côté des lits", "the cat sleeps under the table next to the beds")),
])
def test_each_phenomenon_is_translated_as_a_person_would(built, expected) -> None:
    assert built == expected
    assert rule_translate(built[0]) == built[1]


def test_the_sentence_records_its_phenomena() -> None:
    sentence = build_sentence(phrase("chat", relative=Relative(SLEEP)), EAT, obj=Pronoun("f", False),
                              past=True, negative=True, question=True)
    assert sentence.phenomena == {"relative", "pronoun", "past", "negation", "question"}


def test_impossible_sentences_are_refused() -> None:
    with pytest.raises(ValueError, match="no past tense of être"):
        build_sentence(phrase("chat"), BE, predicate=find_adjective("noir"), past=True)
    with pytest.raises(ValueError, match="needs object"):
        build_sentence(phrase("chat"), EAT)


def test_unknown_lemma_names_the_choices() -> None:
    with pytest.raises(KeyError, match="nouns are"):
        find_noun("licorne")


# --- generation and splits -------------------------------------------------


def test_same_seed_same_pairs_other_seed_other_pairs() -> None:
    assert corpus.generate_pairs(200, seed=7) == corpus.generate_pairs(200, seed=7)
    assert corpus.generate_pairs(200, seed=7) != corpus.generate_pairs(200, seed=8)


def test_pairs_are_lowercase_and_single_spaced() -> None:
    for french, english in corpus.generate_pairs(2000, seed=1):
        for text in (french, english):
            assert text == text.lower()
            assert " ".join(text.split()) == text


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        corpus.generate_pairs(-1, seed=0)


SMALL = {"train": 3000, "validation": 200, "test_combinations": 200, "test_compositions": 200, "test_longer": 100}


@pytest.fixture(scope="module")
def small_splits() -> dict:
    return corpus.make_splits(sizes=SMALL)


def test_each_test_split_differs_from_training_in_exactly_one_way(small_splits) -> None:
    held_noun_adjectives, held_preposition_nouns = corpus.held_out_combinations()
    assert held_noun_adjectives and held_preposition_nouns

    def new_words(s):
        return bool(set(s.noun_adjectives) & held_noun_adjectives or set(s.preposition_nouns) & held_preposition_nouns)

    def new_composition(s):
        return any(pair <= s.phenomena for pair in corpus.HELD_OUT_COMPOSITIONS)

    def longer(s):
        return s.length > corpus.MAX_TRAIN_LENGTH

    for split, expected in [("train", (False, False, False)), ("validation", (False, False, False)),
                            ("test_combinations", (True, False, False)), ("test_compositions", (False, True, False)),
                            ("test_longer", (False, False, True))]:
        assert len(small_splits[split]) == SMALL[split]
        for sentence in small_splits[split]:
            assert (new_words(sentence), new_composition(sentence), longer(sentence)) == expected, (split, sentence)
    french = [{s.french for s in sentences} for sentences in small_splits.values()]
    assert sum(map(len, french)) == len(set().union(*french))  # no sentence in two splits


def test_training_shows_every_phenomenon_and_every_pair_but_the_held_out_ones(small_splits) -> None:
    seen = {frozenset(p) for s in small_splits["train"] for p in _pairs(s.phenomena)}
    for a in corpus.PHENOMENA:
        assert any(a in s.phenomena for s in small_splits["train"]), a
    held = [pair for pair in corpus.HELD_OUT_COMPOSITIONS if len(pair) == 2]
    assert not any(pair in seen for pair in held)


def _pairs(phenomena):
    items = sorted(phenomena)
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1:]]


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
    assert {split: len(pairs) for split, pairs in splits.items()} == corpus.SIZES
    for side in (0, 1):
        train_words = {word for pair in splits["train"] for word in pair[side].split()}
        for split in corpus.SPLITS[1:]:
            words = {word for pair in splits[split] for word in pair[side].split()}
            assert words <= train_words, f"{split} words never seen in train: {words - train_words}"
    assert max(len(french.split()) for french, _ in splits["train"]) == corpus.MAX_TRAIN_LENGTH
    assert min(len(french.split()) for french, _ in splits["test_longer"]) == corpus.MAX_TRAIN_LENGTH + 1


def test_load_pairs_rejects_unknown_split() -> None:
    with pytest.raises(ValueError, match="'train', 'validation', 'test_combinations'"):
        corpus.load_pairs("test")


def test_load_pairs_missing_file_says_how_to_make_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="make data"):
        corpus.load_pairs("train", tmp_path / "nope.tsv")


def test_word_by_word_dictionary_covers_the_corpus_and_fails_on_test() -> None:
    dictionary = corpus.word_by_word_dictionary()
    assert dictionary["chevaux"] == "horses" and dictionary["noires"] == "black" and dictionary["mangée"] == "ate"
    test = corpus.load_pairs("test_combinations")
    correct = sum(" ".join(dictionary[w] for w in french.split()) == english for french, english in test)
    assert correct / len(test) < 0.2



def test_word_classes_name_the_lexicons_words_and_leave_the_grammars_own_as_other() -> None:
    french, english = corpus.word_classes("fr"), corpus.word_classes("en")
    assert (french["chevaux"], french["noires"], french["mangées"], french["ces"], french["côté"]) == \
        ("noun", "adjective", "verb", "determiner", "preposition")
    assert (english["mice"], english["old"], english["ate"], english["these"], english["an"], english["front"]) == \
        ("noun", "adjective", "verb", "determiner", "determiner", "preposition")
    assert set(french.values()) | set(english.values()) == set(corpus.WORD_CLASSES) - {"other"}
    for words, side in ((french, 0), (english, 1)):  # what the lexicon does not know is the grammar's own
        others = {w for pair in corpus.load_pairs("validation") for w in pair[side].split() if w not in words}
        assert others and all(not w[0].isalpha() or w in {"ne", "pas", "qui", "que", "qu'", "a", "ont", "est-ce",
                                                           "n'", "d'", "le", "la", "les", "l'", "lui", "not", "does",
                                                           "do", "did", "who", "that", "it", "them", "him", "her"}
                              for w in others), others
    with pytest.raises(ValueError, match="language must be 'fr' or 'en', got 'de'"):
        corpus.word_classes("de")

def test_the_rule_translator_gets_every_committed_pair_right_and_gives_up_outside_the_grammar() -> None:
    for split in corpus.SPLITS:
        for french, english in corpus.load_pairs(split):
            assert rule_translate(french) == english, (split, french)
    assert rule_translate("le chat et le chien dorment") == "?"
