"""A tiny French grammar that writes French sentences and their English translations.

This is the parallel corpus the course's transformer learns to translate. Every
sentence is made from a small lexicon (nouns, adjectives, verbs, prepositions) by a
few grammar rules, so the French and the English are always correct, and the
language is regular enough for a small model to learn on a laptop CPU.

What the grammar covers (and where a word-by-word translator fails):

- genders: ``le chat`` / ``la table``, ``un chien`` / ``une souris``;
- plurals, irregular ones included: ``les chevaux`` -> ``the horses``,
  ``les souris`` -> ``the mice``, ``les hommes`` -> ``the men``;
- adjectives that agree in gender and number, mostly AFTER the noun
  (``la souris blanche`` -> ``the white mouse``), a few BEFORE it, as in real French
  (``le petit chien`` -> ``the small dog``, ``le vieil homme`` -> ``the old man``);
- verbs that agree with their subject: ``le chat dort`` -> ``the cat sleeps``,
  ``les chats dorment`` -> ``the cats sleep``;
- prepositions of one or several words: ``sous`` -> ``under``,
  ``à côté de`` -> ``next to``, ``devant`` -> ``in front of``;
- contractions and elision: ``de le`` -> ``du``, ``de les`` -> ``des``,
  ``le homme`` -> ``l' homme``, ``de un`` -> ``d' un``, ``ce oiseau`` -> ``cet oiseau``;
- gendered pairs for embedding analogies: roi/reine, homme/femme, garçon/fille,
  père/mère, lion/lionne.

Sentences are lowercase, without final punctuation, and tokens are separated by
single spaces, so ``text.split()`` tokenises both languages. Elision is written with
a space after the apostrophe (``l' homme``, ``de l' oiseau``), the usual tokenised
form of translation corpora, so that the article is a token of its own.

Public API
----------
``generate_pairs(n, seed)``
    ``n`` random (french, english) sentence pairs, the same for the same seed.
``held_out_combinations(seed)``
    The (noun, adjective) and (preposition, noun) combinations kept out of training.
``make_splits(seed, n_train, n_validation, n_test)``
    The train / validation / test splits written to ``data/fr_en_pairs.tsv``
    (``make_sentence_splits`` gives the same as ``Sentence`` objects, which also
    record the combinations each sentence uses).
``load_pairs(split)``
    Read one split ("train", "validation" or "test") of ``data/fr_en_pairs.tsv``.
``build_sentence(subject, verb, obj, preposition, predicate)``, ``NounPhrase``,
``find_noun``, ``find_adjective``, ``find_preposition``, ``find_verb``
    Build one sentence by hand, e.g. for a check in a notebook.
``word_by_word_dictionary()``
    Each French word form of the lexicon mapped to one English word: what a
    word-by-word translator would use.
``write_pairs_tsv(path, splits)`` / ``SPLITS`` / ``PAIRS_PATH``
    Writing the TSV file, the split names, and where the file lives.

Example::

    >>> generate_pairs(1, seed=3)  # doctest: +SKIP
    [('le petit chien noir est sous la table', 'the small black dog is under the table')]
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from helpers.paths import DATA_DIR

PAIRS_PATH: Path = DATA_DIR / "fr_en_pairs.tsv"
SPLITS: tuple[str, ...] = ("train", "validation", "test")

# The seed and sizes of the committed corpus (tools/make_data.py uses these).
CORPUS_SEED: int = 0
N_TRAIN: int = 30_000
N_VALIDATION: int = 1_000
N_TEST: int = 1_000


# ---------------------------------------------------------------------------
# The lexicon
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    """A noun in both languages, with its plural forms and its French gender (notebook 10)."""

    fr: str
    fr_plural: str
    gender: str  # "m" or "f"
    en: str
    en_plural: str
    kind: str  # "person", "animal", "food" or "thing"


@dataclass(frozen=True)
class Adjective:
    """An adjective: its four French forms, its English word, and where it goes (notebook 10)."""

    fr_m: str  # masculine singular: noir
    fr_f: str  # feminine singular: noire
    fr_m_plural: str  # masculine plural: noirs
    fr_f_plural: str  # feminine plural: noires
    en: str
    before: bool  # True for the few French adjectives placed before the noun
    kind: str  # "colour", "mood", "size", "age" or "beauty"
    fr_m_vowel: str = ""  # masculine singular before a vowel: vieux -> vieil


@dataclass(frozen=True)
class Verb:
    """A verb in the present tense, third person, singular and plural (notebook 10)."""

    fr: str  # dort
    fr_plural: str  # dorment
    en: str  # sleeps
    en_plural: str  # sleep
    takes_object: bool


@dataclass(frozen=True)
class Preposition:
    """A preposition of one or more words; French ones ending in ``de`` contract (notebook 10)."""

    fr: str  # "à côté de": the words, separated by spaces
    en: str  # "next to"
    objects: tuple[str, ...]  # the nouns (French singular) it may take; () = any noun


NOUNS: tuple[Noun, ...] = (
    # people: gendered pairs, for analogies (king - man + woman = queen)
    Noun("roi", "rois", "m", "king", "kings", "person"),
    Noun("reine", "reines", "f", "queen", "queens", "person"),
    Noun("homme", "hommes", "m", "man", "men", "person"),
    Noun("femme", "femmes", "f", "woman", "women", "person"),
    Noun("garçon", "garçons", "m", "boy", "boys", "person"),
    Noun("fille", "filles", "f", "girl", "girls", "person"),
    Noun("père", "pères", "m", "father", "fathers", "person"),
    Noun("mère", "mères", "f", "mother", "mothers", "person"),
    # animals
    Noun("chat", "chats", "m", "cat", "cats", "animal"),
    Noun("chien", "chiens", "m", "dog", "dogs", "animal"),
    Noun("cheval", "chevaux", "m", "horse", "horses", "animal"),
    Noun("souris", "souris", "f", "mouse", "mice", "animal"),
    Noun("oiseau", "oiseaux", "m", "bird", "birds", "animal"),
    Noun("lion", "lions", "m", "lion", "lions", "animal"),
    Noun("lionne", "lionnes", "f", "lioness", "lionesses", "animal"),
    # food
    Noun("poisson", "poissons", "m", "fish", "fish", "food"),
    Noun("pomme", "pommes", "f", "apple", "apples", "food"),
    Noun("gâteau", "gâteaux", "m", "cake", "cakes", "food"),
    # things
    Noun("table", "tables", "f", "table", "tables", "thing"),
    Noun("chaise", "chaises", "f", "chair", "chairs", "thing"),
    Noun("lit", "lits", "m", "bed", "beds", "thing"),
    Noun("tapis", "tapis", "m", "rug", "rugs", "thing"),
    Noun("livre", "livres", "m", "book", "books", "thing"),
    Noun("journal", "journaux", "m", "newspaper", "newspapers", "thing"),
    Noun("boîte", "boîtes", "f", "box", "boxes", "thing"),
    Noun("maison", "maisons", "f", "house", "houses", "thing"),
    Noun("voiture", "voitures", "f", "car", "cars", "thing"),
    Noun("bateau", "bateaux", "m", "boat", "boats", "thing"),
)

ADJECTIVES: tuple[Adjective, ...] = (
    # after the noun (most French adjectives)
    Adjective("noir", "noire", "noirs", "noires", "black", False, "colour"),
    Adjective("blanc", "blanche", "blancs", "blanches", "white", False, "colour"),
    Adjective("rouge", "rouge", "rouges", "rouges", "red", False, "colour"),
    Adjective("vert", "verte", "verts", "vertes", "green", False, "colour"),
    Adjective("bleu", "bleue", "bleus", "bleues", "blue", False, "colour"),
    Adjective("gris", "grise", "gris", "grises", "grey", False, "colour"),
    Adjective("heureux", "heureuse", "heureux", "heureuses", "happy", False, "mood"),
    Adjective("fatigué", "fatiguée", "fatigués", "fatiguées", "tired", False, "mood"),
    Adjective("malade", "malade", "malades", "malades", "sick", False, "mood"),
    # before the noun (a few short, common ones)
    Adjective("petit", "petite", "petits", "petites", "small", True, "size"),
    Adjective("grand", "grande", "grands", "grandes", "big", True, "size"),
    Adjective("jeune", "jeune", "jeunes", "jeunes", "young", True, "age"),
    Adjective("vieux", "vieille", "vieux", "vieilles", "old", True, "age", "vieil"),
    Adjective("beau", "belle", "beaux", "belles", "beautiful", True, "beauty", "bel"),
)

# Which kinds of adjective describe which kinds of noun (no sick tables, no colours
# for people).
ADJECTIVE_KINDS_FOR: dict[str, tuple[str, ...]] = {
    "person": ("mood", "age", "beauty"),  # not size: "un grand homme" is "a great man"
    "animal": ("colour", "mood", "size", "age", "beauty"),
    "food": ("colour", "size"),
    "thing": ("colour", "size", "age", "beauty"),
}

BE: Verb = Verb("est", "sont", "is", "are", takes_object=False)
SLEEP: Verb = Verb("dort", "dorment", "sleeps", "sleep", takes_object=False)
VERBS: tuple[Verb, ...] = (
    BE,
    SLEEP,
    Verb("mange", "mangent", "eats", "eat", takes_object=True),
    Verb("voit", "voient", "sees", "see", takes_object=True),
    Verb("aime", "aiment", "likes", "like", takes_object=True),
)

TRANSITIVE_VERBS: tuple[Verb, ...] = tuple(verb for verb in VERBS if verb.takes_object)
ANIMATE_NOUNS: tuple[Noun, ...] = tuple(noun for noun in NOUNS if noun.kind in ("person", "animal"))
FOOD_NOUNS: tuple[Noun, ...] = tuple(noun for noun in NOUNS if noun.kind == "food")

_FURNITURE = ("table", "chaise", "lit", "tapis")
_CONTAINERS = ("boîte", "maison", "voiture", "bateau")
PREPOSITIONS: tuple[Preposition, ...] = (
    Preposition("sur", "on", _FURNITURE + ("boîte", "voiture", "bateau", "livre", "journal", "cheval")),
    Preposition("sous", "under", _FURNITURE + ("boîte", "voiture", "bateau", "livre", "journal")),
    Preposition("dans", "in", _CONTAINERS + ("lit",)),
    Preposition("devant", "in front of", ()),
    Preposition("derrière", "behind", ()),
    Preposition("à côté de", "next to", ()),
    Preposition("près de", "near", ()),
    Preposition("loin de", "far from", ()),
    Preposition("en face de", "opposite", ()),
)

# French articles and demonstratives, by (determiner, gender, plural).
_FRENCH_DETERMINERS: dict[tuple[str, str, bool], str] = {
    ("the", "m", False): "le",
    ("the", "f", False): "la",
    ("the", "m", True): "les",
    ("the", "f", True): "les",
    ("a", "m", False): "un",
    ("a", "f", False): "une",
    ("this", "m", False): "ce",
    ("this", "f", False): "cette",
    ("this", "m", True): "ces",
    ("this", "f", True): "ces",
}
_ENGLISH_DETERMINERS: dict[tuple[str, bool], str] = {
    ("the", False): "the",
    ("the", True): "the",
    ("a", False): "a",
    ("this", False): "this",
    ("this", True): "these",
}

_FRENCH_VOWEL_STARTS = tuple("aeiouyàâéèêëîïôûh")  # every h in this lexicon is silent
_ENGLISH_VOWEL_STARTS = tuple("aeiou")


def _find(entries: tuple, french: str, key: Callable[[Any], str], kind: str) -> Any:
    """The entry of ``entries`` whose French form ``key(entry)`` is ``french``, or a clear ``KeyError``."""
    for entry in entries:
        if key(entry) == french:
            return entry
    raise KeyError(f"no {kind} {french!r} in the lexicon; {kind}s are: {', '.join(key(e) for e in entries)}")


def find_noun(french: str) -> Noun:
    """The noun whose French singular is ``french``: ``find_noun("cheval")`` (notebook 10)."""
    return _find(NOUNS, french, lambda noun: noun.fr, "noun")


def find_adjective(french: str) -> Adjective:
    """The adjective whose French masculine singular is ``french``: ``find_adjective("noir")`` (notebook 10)."""
    return _find(ADJECTIVES, french, lambda adjective: adjective.fr_m, "adjective")


def find_preposition(french: str) -> Preposition:
    """The preposition spelled ``french``: ``find_preposition("à côté de")`` (notebook 10)."""
    return _find(PREPOSITIONS, french, lambda preposition: preposition.fr, "preposition")


def find_verb(french: str) -> Verb:
    """The verb whose singular form is ``french``: ``find_verb("dort")`` (notebook 10)."""
    return _find(VERBS, french, lambda verb: verb.fr, "verb")


@cache
def adjectives_for(noun: Noun) -> tuple[Adjective, ...]:
    """The adjectives that may describe ``noun`` (young people, not young tables) (notebook 10)."""
    kinds = ADJECTIVE_KINDS_FOR[noun.kind]
    allowed = tuple(adj for adj in ADJECTIVES if adj.kind in kinds)
    if noun.kind == "thing":
        allowed = tuple(adj for adj in allowed if adj.fr_m != "jeune")
    return allowed


@cache
def objects_of(preposition: Preposition) -> tuple[Noun, ...]:
    """The nouns that may follow ``preposition`` (``dans la boîte``, not ``dans le tapis``) (notebook 10)."""
    if not preposition.objects:
        return NOUNS
    return tuple(find_noun(french) for french in preposition.objects)


# ---------------------------------------------------------------------------
# Noun phrases and spelling rules
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NounPhrase:
    """A determiner, a noun, and at most one adjective before and one after it (notebook 10)."""

    noun: Noun
    plural: bool
    determiner: str  # "the", "a" or "this"
    before: Adjective | None = None
    after: Adjective | None = None

    def adjectives(self) -> tuple[Adjective, ...]:
        """The adjectives in this phrase."""
        return tuple(adj for adj in (self.before, self.after) if adj is not None)


def agree(adjective: Adjective, gender: str, plural: bool) -> str:
    """The French form of ``adjective`` agreeing with a noun: (noir, f, plural) -> noires (notebook 10)."""
    if gender == "m":
        return adjective.fr_m_plural if plural else adjective.fr_m
    return adjective.fr_f_plural if plural else adjective.fr_f


def french_noun_phrase(phrase: NounPhrase) -> list[str]:
    """The French words of ``phrase``, before elision: ``['le', 'vieil', 'homme']`` (notebook 10)."""
    noun = phrase.noun
    words = [_FRENCH_DETERMINERS[(phrase.determiner, noun.gender, phrase.plural)]]
    if phrase.before is not None:
        form = agree(phrase.before, noun.gender, phrase.plural)
        # vieux homme -> vieil homme, beau oiseau -> bel oiseau
        masculine_singular = noun.gender == "m" and not phrase.plural
        if masculine_singular and phrase.before.fr_m_vowel and noun.fr.startswith(_FRENCH_VOWEL_STARTS):
            form = phrase.before.fr_m_vowel
        words.append(form)
    words.append(noun.fr_plural if phrase.plural else noun.fr)
    if phrase.after is not None:
        words.append(agree(phrase.after, noun.gender, phrase.plural))
    return words


def english_noun_phrase(phrase: NounPhrase) -> list[str]:
    """The English words of ``phrase``: adjectives always before the noun (notebook 10)."""
    words = [_ENGLISH_DETERMINERS[(phrase.determiner, phrase.plural)]]
    words += [adj.en for adj in phrase.adjectives()]  # size/age/beauty, then colour
    words.append(phrase.noun.en_plural if phrase.plural else phrase.noun.en)
    return words


def french_spelling(words: list[str]) -> list[str]:
    """Apply French elision, then contraction, to a list of words (notebook 10).

    Elision: before a vowel, ``le``/``la`` become ``l'``, ``de`` becomes ``d'``
    and ``ce`` becomes ``cet`` (``le homme`` -> ``l' homme``, ``près de un oiseau``
    -> ``près d' un oiseau``). Contraction: ``de le`` -> ``du`` and
    ``de les`` -> ``des`` (``près de le chat`` -> ``près du chat``), but
    ``de l' homme`` stays as it is.
    """
    elided: list[str] = []
    for i, word in enumerate(words):
        next_word = words[i + 1] if i + 1 < len(words) else ""
        if word in ("le", "la") and next_word.startswith(_FRENCH_VOWEL_STARTS):
            word = "l'"
        elif word == "de" and next_word.startswith(_FRENCH_VOWEL_STARTS):
            word = "d'"
        elif word == "ce" and next_word.startswith(_FRENCH_VOWEL_STARTS):
            word = "cet"
        elided.append(word)

    contracted: list[str] = []
    for word in elided:
        if contracted and contracted[-1] == "de" and word in ("le", "les"):
            contracted[-1] = "du" if word == "le" else "des"
        else:
            contracted.append(word)
    return contracted


def english_spelling(words: list[str]) -> list[str]:
    """Turn ``a`` into ``an`` before a vowel: ``a old man`` -> ``an old man`` (notebook 10)."""
    spelled: list[str] = []
    for i, word in enumerate(words):
        next_word = words[i + 1] if i + 1 < len(words) else ""
        if word == "a" and next_word.startswith(_ENGLISH_VOWEL_STARTS):
            word = "an"
        spelled.append(word)
    return spelled


# ---------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """One sentence: what it is made of, and its text in both languages (notebook 10)."""

    french: str
    english: str
    noun_adjectives: tuple[tuple[str, str], ...]  # (noun, adjective) pairs, French lemmas
    preposition_nouns: tuple[tuple[str, str], ...]  # (preposition, noun) pairs, French


def _random_noun_phrase(rng: random.Random, noun: Noun) -> NounPhrase:
    """A random noun phrase around ``noun``: number, determiner and adjectives."""
    plural = rng.random() < 0.4
    determiner = rng.choice(["the", "the", "this"] if plural else ["the", "the", "a", "this"])
    allowed = adjectives_for(noun)
    before_choices = [adj for adj in allowed if adj.before]
    after_choices = [adj for adj in allowed if not adj.before]
    before = rng.choice(before_choices) if rng.random() < 0.35 else None
    after = rng.choice(after_choices) if rng.random() < 0.45 else None
    # Two adjectives only with a colour after the noun, so that the English order
    # (size/age/beauty before colour: "the small black cat") is always right.
    if before is not None and after is not None and after.kind != "colour":
        before = None
    return NounPhrase(noun, plural, determiner, before, after)


def build_sentence(
    subject: NounPhrase,
    verb: Verb,
    obj: NounPhrase | None = None,
    preposition: Preposition | None = None,
    predicate: Adjective | None = None,
) -> Sentence:
    """Assemble a sentence, apply the spelling rules, and record its combinations (notebook 10).

    ``subject verb [preposition] [predicate] [obj]``, for example
    ``build_sentence(NounPhrase(find_noun("chat"), False, "the"), BE,
    preposition=find_preposition("à côté de"), obj=NounPhrase(find_noun("chien"), False, "the"))``
    gives ``le chat est à côté du chien`` / ``the cat is next to the dog``.
    """
    french = french_noun_phrase(subject)
    english = english_noun_phrase(subject)
    french.append(verb.fr_plural if subject.plural else verb.fr)
    english.append(verb.en_plural if subject.plural else verb.en)
    if preposition is not None:
        french += preposition.fr.split()
        english += preposition.en.split()
    if predicate is not None:
        french.append(agree(predicate, subject.noun.gender, subject.plural))
        english.append(predicate.en)
    if obj is not None:
        french += french_noun_phrase(obj)
        english += english_noun_phrase(obj)

    noun_adjectives = [(subject.noun.fr, adj.fr_m) for adj in subject.adjectives()]
    if predicate is not None:
        noun_adjectives.append((subject.noun.fr, predicate.fr_m))
    if obj is not None:
        noun_adjectives += [(obj.noun.fr, adj.fr_m) for adj in obj.adjectives()]
    preposition_nouns = []
    if preposition is not None and obj is not None:
        preposition_nouns.append((preposition.fr, obj.noun.fr))

    return Sentence(
        french=" ".join(french_spelling(french)),
        english=" ".join(english_spelling(english)),
        noun_adjectives=tuple(noun_adjectives),
        preposition_nouns=tuple(preposition_nouns),
    )


def _random_sentence(rng: random.Random) -> Sentence:
    """One random sentence, of one of four patterns.

    1. where:   le chat noir est sous la table   -> the black cat is under the table
    2. what:    les souris sont blanches          -> the mice are white
    3. sleeps:  le vieil homme dort près du lit   -> the old man sleeps near the bed
    4. does:    la reine mange une pomme rouge    -> the queen eats a red apple
    """
    pattern = rng.choice(["where", "where", "what", "sleeps", "does", "does"])

    if pattern == "where":
        subject = _random_noun_phrase(rng, rng.choice(NOUNS))
        preposition = rng.choice(PREPOSITIONS)
        object_nouns = [noun for noun in objects_of(preposition) if noun.fr != subject.noun.fr]
        obj = _random_noun_phrase(rng, rng.choice(object_nouns))
        return build_sentence(subject, BE, obj=obj, preposition=preposition)

    if pattern == "what":
        noun = rng.choice(NOUNS)
        subject = _random_noun_phrase(rng, noun)
        # No "the old cat is young": the predicate is of a kind the subject lacks.
        kinds_used = {adj.kind for adj in subject.adjectives()}
        predicates = [adj for adj in adjectives_for(noun) if adj.kind not in kinds_used]
        if not predicates:  # e.g. "la petite pomme rouge": keep the noun, drop its adjectives
            subject = NounPhrase(noun, subject.plural, subject.determiner)
            predicates = list(adjectives_for(noun))
        predicate = rng.choice(predicates)
        return build_sentence(subject, BE, predicate=predicate)

    subject = _random_noun_phrase(rng, rng.choice(ANIMATE_NOUNS))
    if pattern == "sleeps":
        if rng.random() < 0.5:
            return build_sentence(subject, SLEEP)
        preposition = rng.choice(PREPOSITIONS)
        object_nouns = [noun for noun in objects_of(preposition) if noun.fr != subject.noun.fr]
        obj = _random_noun_phrase(rng, rng.choice(object_nouns))
        return build_sentence(subject, SLEEP, obj=obj, preposition=preposition)

    verb = rng.choice(TRANSITIVE_VERBS)
    if verb.fr == "mange":
        object_nouns = [noun for noun in FOOD_NOUNS if noun.fr != subject.noun.fr]
    else:
        object_nouns = [noun for noun in NOUNS if noun.fr != subject.noun.fr]
    obj = _random_noun_phrase(rng, rng.choice(object_nouns))
    return build_sentence(subject, verb, obj=obj)


def generate_sentences(n: int, seed: int) -> list[Sentence]:
    """``n`` random sentences (repeats possible); the same seed gives the same list (notebook 10)."""
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    rng = random.Random(seed)
    return [_random_sentence(rng) for _ in range(n)]


def generate_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` random (french, english) pairs; the same seed gives the same pairs (notebook 10)."""
    return [(s.french, s.english) for s in generate_sentences(n, seed)]


# ---------------------------------------------------------------------------
# Train / validation / test splits
# ---------------------------------------------------------------------------


def all_noun_adjective_combinations() -> list[tuple[str, str]]:
    """Every (noun, adjective) pair the grammar can make, as French lemmas (notebook 10)."""
    return [(noun.fr, adj.fr_m) for noun in NOUNS for adj in adjectives_for(noun)]


def all_preposition_noun_combinations() -> list[tuple[str, str]]:
    """Every (preposition, noun) pair the grammar can make, in French (notebook 10)."""
    return [(prep.fr, noun.fr) for prep in PREPOSITIONS for noun in objects_of(prep)]


def held_out_combinations(seed: int = CORPUS_SEED) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The combinations that never occur in training: 10% of each kind, chosen by ``seed`` (notebook 10).

    Returns ``(noun_adjectives, preposition_nouns)``, for example
    ``{("cheval", "noir"), ...}`` and ``{("sous", "lit"), ...}``.
    """
    rng = random.Random(seed)
    noun_adjectives = all_noun_adjective_combinations()
    preposition_nouns = all_preposition_noun_combinations()
    held_noun_adjectives = rng.sample(noun_adjectives, k=len(noun_adjectives) // 10)
    held_preposition_nouns = rng.sample(preposition_nouns, k=len(preposition_nouns) // 10)
    return set(held_noun_adjectives), set(held_preposition_nouns)


def make_sentence_splits(
    seed: int = CORPUS_SEED,
    n_train: int = N_TRAIN,
    n_validation: int = N_VALIDATION,
    n_test: int = N_TEST,
) -> dict[str, list[Sentence]]:
    """Build the train, validation and test splits; no French sentence is in two splits (notebook 10).

    - test: sentences with at least one held-out combination (see
      ``held_out_combinations``), so a model must generalise to combinations of
      words it never saw together;
    - train and validation: sentences with no held-out combination; validation is
      made of sentences that are not in train.
    """
    held_noun_adjectives, held_preposition_nouns = held_out_combinations(seed)
    rng = random.Random(seed)
    seen: set[str] = set()
    in_distribution: list[Sentence] = []  # train, then validation
    test: list[Sentence] = []
    while len(in_distribution) < n_train + n_validation or len(test) < n_test:
        sentence = _random_sentence(rng)
        if sentence.french in seen:
            continue
        seen.add(sentence.french)
        is_held_out = any(c in held_noun_adjectives for c in sentence.noun_adjectives) or any(
            c in held_preposition_nouns for c in sentence.preposition_nouns
        )
        if is_held_out and len(test) < n_test:
            test.append(sentence)
        elif not is_held_out and len(in_distribution) < n_train + n_validation:
            in_distribution.append(sentence)
    return {
        "train": in_distribution[:n_train],
        "validation": in_distribution[n_train:],
        "test": test,
    }


def make_splits(
    seed: int = CORPUS_SEED,
    n_train: int = N_TRAIN,
    n_validation: int = N_VALIDATION,
    n_test: int = N_TEST,
) -> dict[str, list[tuple[str, str]]]:
    """The (french, english) pairs of each split, as written to ``data/fr_en_pairs.tsv`` (notebook 10)."""
    splits = make_sentence_splits(seed, n_train, n_validation, n_test)
    return {split: [(s.french, s.english) for s in sentences] for split, sentences in splits.items()}


def write_pairs_tsv(path: Path, splits: dict[str, list[tuple[str, str]]]) -> None:
    """Write ``splits`` to ``path`` as ``split<TAB>french<TAB>english`` lines, with a header (notebook 10)."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("split\tfrench\tenglish\n")
        for split in SPLITS:
            for french, english in splits[split]:
                file.write(f"{split}\t{french}\t{english}\n")


def load_pairs(split: str, path: Path = PAIRS_PATH) -> list[tuple[str, str]]:
    """The (french, english) pairs of one split of the corpus: "train", "validation" or "test" (notebook 10)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(repr(s) for s in SPLITS)}")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make data` to generate it")
    with open(path, encoding="utf-8", newline="") as file:
        rows = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["french"], row["english"]) for row in rows if row["split"] == split]


# ---------------------------------------------------------------------------
# A word-by-word dictionary, for the baseline translator
# ---------------------------------------------------------------------------

# The function words, each with the one English word a pocket dictionary gives first.
_FUNCTION_WORDS: dict[str, str] = {
    "le": "the",
    "la": "the",
    "l'": "the",
    "les": "the",
    "un": "a",
    "une": "a",
    "ce": "this",
    "cet": "this",
    "cette": "this",
    "ces": "these",
    "est": "is",
    "sont": "are",
    "de": "of",
    "d'": "of",
    "du": "of",  # de + le: "of the", but one word has one translation here
    "des": "of",  # de + les
    "à": "to",
    "côté": "side",
    "près": "near",
    "loin": "far",
    "en": "in",
    "face": "face",
    "devant": "before",
    "derrière": "behind",
    "sur": "on",
    "sous": "under",
    "dans": "in",
}


def word_by_word_dictionary() -> dict[str, str]:
    """Every French word form of the corpus mapped to one English word (notebook 10).

    Nouns and verbs keep their number (``chevaux`` -> ``horses``, ``dorment`` ->
    ``sleep``); adjectives map every form to the English adjective; a word of a
    multi-word preposition gets its own meaning (``côté`` -> ``side``). When two
    forms are spelled the same (``souris``, singular and plural), the first wins.
    """
    dictionary: dict[str, str] = dict(_FUNCTION_WORDS)
    for noun in NOUNS:
        dictionary.setdefault(noun.fr, noun.en)
        dictionary.setdefault(noun.fr_plural, noun.en_plural)
    for adj in ADJECTIVES:
        for form in (adj.fr_m, adj.fr_f, adj.fr_m_plural, adj.fr_f_plural, adj.fr_m_vowel):
            if form:
                dictionary.setdefault(form, adj.en)
    for verb in VERBS:
        dictionary.setdefault(verb.fr, verb.en)
        dictionary.setdefault(verb.fr_plural, verb.en_plural)
    return dictionary
