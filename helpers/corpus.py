"""A small French grammar that writes French sentences and their English translations (notebook 10).

This is the parallel corpus the course's transformer learns to translate. Every
sentence is made from a small lexicon (nouns, adjectives, verbs, prepositions) by
grammar rules, so the French and the English are always correct. The rules are
chosen for what word-by-word translation gets wrong:

- genders, plurals (irregular ones too: ``les chevaux`` -> ``the horses``,
  ``les souris`` -> ``the mice``) and adjectives that agree, mostly AFTER the noun
  (``la souris blanche`` -> ``the white mouse``), a few BEFORE it
  (``le vieil homme`` -> ``the old man``);
- verbs that agree with their subject, and one past tense, the passé composé
  (``le chat a mangé la pomme`` -> ``the cat ate the apple``);
- negation, which needs *do* in English (``le chat ne dort pas`` -> ``the cat does
  not sleep``) except with *be* (``n' est pas`` -> ``is not``);
- yes/no questions with ``est-ce que`` (``est-ce que le chat dort ?`` -> ``does the
  cat sleep ?``, ``est-ce que le chat est noir ?`` -> ``is the cat black ?``);
- possessives, reordered (``le chat de la reine`` -> ``the queen 's cat``);
- object pronouns before the verb, with the participle agreeing (``le chat l' a
  mangée`` -> ``the cat ate it``);
- relative clauses (``le chat qui dort`` -> ``the cat that sleeps``, ``le roi qui
  dort`` -> ``the king who sleeps``);
- one or two places, with prepositions of one or several words and their
  contractions (``à côté du chien`` -> ``next to the dog``).

Sentences are lower-case and tokens are separated by single spaces, so
``text.split()`` tokenises both languages: elision keeps a space after the apostrophe
(``l' homme``), the English possessive is a token of its own (``the queen 's cat``,
``the kings ' cat``), and a question ends with `` ?``.

The splits (``data/fr_en_pairs.tsv``, :data:`SPLITS`) say honestly what a model
generalises to: ``test_combinations`` holds word combinations never seen in training
(a noun with an adjective, a preposition with a noun) in familiar structures;
``test_compositions`` combines phenomena that never meet in training (a relative
clause in a question, ...); ``test_longer`` has more words than any training sentence.

    >>> generate_pairs(1, seed=3)  # doctest: +SKIP
    [('le petit chien noir est sous la table', 'the small black dog is under the table')]
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from helpers.paths import DATA_DIR

PAIRS_PATH: Path = DATA_DIR / "fr_en_pairs.tsv"
SPLITS: tuple[str, ...] = ("train", "validation", "test_combinations", "test_compositions", "test_longer")

# The seed and sizes of the committed corpus (tools/make_data.py uses these).
CORPUS_SEED: int = 0
SIZES: dict[str, int] = {"train": 40_000, "validation": 1_000, "test_combinations": 1_000,
                         "test_compositions": 1_000, "test_longer": 500}


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
    """A verb: present tense (third person, singular and plural) and past (notebook 10)."""

    fr: str  # dort
    fr_plural: str  # dorment
    en: str  # sleeps
    en_plural: str  # sleep (also the base form: "does not sleep")
    takes_object: bool
    fr_participle: str = ""  # dormi: the passé composé is "a dormi" / "ont dormi"
    en_past: str = ""  # slept


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

BE: Verb = Verb("est", "sont", "is", "are", takes_object=False)  # no past here: "is/are" only
SLEEP: Verb = Verb("dort", "dorment", "sleeps", "sleep", False, "dormi", "slept")
EAT: Verb = Verb("mange", "mangent", "eats", "eat", True, "mangé", "ate")
VERBS: tuple[Verb, ...] = (
    BE,
    SLEEP,
    EAT,
    Verb("voit", "voient", "sees", "see", True, "vu", "saw"),
    Verb("aime", "aiment", "likes", "like", True, "aimé", "liked"),
)

TRANSITIVE_VERBS: tuple[Verb, ...] = tuple(verb for verb in VERBS if verb.takes_object)
ANIMATE_NOUNS: tuple[Noun, ...] = tuple(noun for noun in NOUNS if noun.kind in ("person", "animal"))
PERSON_NOUNS: tuple[Noun, ...] = tuple(noun for noun in NOUNS if noun.kind == "person")
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
class Relative:
    """A relative clause on a noun: ``qui`` + a verb in the present (+ an object) (notebook 10).

    ``le chat qui mange la pomme`` -> ``the cat that eats the apple``; a person
    takes ``who``: ``le roi qui dort`` -> ``the king who sleeps``.
    """

    verb: Verb
    obj: NounPhrase | None = None


@dataclass(frozen=True)
class NounPhrase:
    """A determiner, a noun, at most one adjective before and one after it, and at most one of
    a possessor (``le chat de la reine``) or a relative clause (``le chat qui dort``) (notebook 10)."""

    noun: Noun
    plural: bool
    determiner: str  # "the", "a" or "this"
    before: Adjective | None = None
    after: Adjective | None = None
    possessor: NounPhrase | None = None  # de + a person: "the queen's cat"
    relative: Relative | None = None

    def adjectives(self) -> tuple[Adjective, ...]:
        """The adjectives in this phrase (not in its possessor or relative clause)."""
        return tuple(adj for adj in (self.before, self.after) if adj is not None)

    def phrases(self) -> list[NounPhrase]:
        """This phrase and every noun phrase inside it."""
        inner = [self]
        if self.possessor is not None:
            inner += self.possessor.phrases()
        if self.relative is not None and self.relative.obj is not None:
            inner += self.relative.obj.phrases()
        return inner


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
    if phrase.possessor is not None:
        words += ["de", *french_noun_phrase(phrase.possessor)]
    if phrase.relative is not None:
        verb = phrase.relative.verb
        words += ["qui", verb.fr_plural if phrase.plural else verb.fr]
        if phrase.relative.obj is not None:
            words += french_noun_phrase(phrase.relative.obj)
    return words


def english_noun_phrase(phrase: NounPhrase) -> list[str]:
    """The English words of ``phrase``: adjectives before the noun, the possessor first (notebook 10).

    ``the queen 's small black cat``, ``the kings ' cat``, ``the men 's cat``,
    ``the cat that eats the apple``, ``the king who sleeps``.
    """
    noun = phrase.noun
    if phrase.possessor is None:
        words = [_ENGLISH_DETERMINERS[(phrase.determiner, phrase.plural)]]
    else:  # the possessor takes the determiner's place: the queen 's cat
        owner = phrase.possessor
        owner_noun = owner.noun.en_plural if owner.plural else owner.noun.en
        words = [*english_noun_phrase(owner), "'" if owner.plural and owner_noun.endswith("s") else "'s"]
    words += [adj.en for adj in phrase.adjectives()]  # size/age/beauty, then colour
    words.append(noun.en_plural if phrase.plural else noun.en)
    if phrase.relative is not None:
        verb = phrase.relative.verb
        words += ["who" if noun.kind == "person" else "that", verb.en_plural if phrase.plural else verb.en]
        if phrase.relative.obj is not None:
            words += english_noun_phrase(phrase.relative.obj)
    return words


def french_spelling(words: list[str]) -> list[str]:
    """Apply French elision, then contraction, to a list of words (notebook 10).

    Elision: before a vowel, ``le``/``la`` become ``l'``, ``de``/``ne``/``que``
    become ``d'``/``n'``/``qu'`` and ``ce`` becomes ``cet`` (``le homme`` ->
    ``l' homme``, ``ne est`` -> ``n' est``, ``la a mangée`` -> ``l' a mangée``).
    Contraction: ``de le`` -> ``du`` and ``de les`` -> ``des`` (``près de le chat``
    -> ``près du chat``), but ``de l' homme`` stays as it is.
    """
    elisions = {"le": "l'", "la": "l'", "de": "d'", "ne": "n'", "que": "qu'", "ce": "cet"}
    elided: list[str] = []
    for i, word in enumerate(words):
        next_word = words[i + 1] if i + 1 < len(words) else ""
        if word in elisions and next_word.startswith(_FRENCH_VOWEL_STARTS):
            word = elisions[word]
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

#: What a sentence may contain beyond a plain present-tense statement.
PHENOMENA: tuple[str, ...] = ("negation", "question", "past", "pronoun", "relative", "possessive", "two_places")


@dataclass(frozen=True)
class Pronoun:
    """A direct-object pronoun standing for a noun of this gender and number: le, la, les -> it, them."""

    gender: str
    plural: bool


@dataclass(frozen=True)
class Sentence:
    """One sentence: its text in both languages, and what it is made of (notebook 10)."""

    french: str
    english: str
    noun_adjectives: tuple[tuple[str, str], ...]  # (noun, adjective) pairs, French lemmas
    preposition_nouns: tuple[tuple[str, str], ...]  # (preposition, noun) pairs, French
    phenomena: frozenset[str]  # the PHENOMENA it shows

    @property
    def length(self) -> int:
        """The number of French words."""
        return len(self.french.split())


def build_sentence(
    subject: NounPhrase,
    verb: Verb,
    *,
    obj: NounPhrase | Pronoun | None = None,
    places: Sequence[tuple[Preposition, NounPhrase]] = (),
    predicate: Adjective | None = None,
    past: bool = False,
    negative: bool = False,
    question: bool = False,
) -> Sentence:
    """Assemble a sentence, apply the spelling rules, and record what it is made of (notebook 10).

    French puts ``ne … pas`` around the verb (around ``avoir`` in the past), an object
    pronoun before the verb, and asks with ``est-ce que``; English needs *do*
    (``does not eat``, ``did the cat eat``) except with *be*, which inverts itself::

        le chat ne la mange pas                      the cat does not eat it
        est-ce que les chats ont dormi sous le lit ?  did the cats sleep under the bed ?
        le chat de la reine n' est pas noir          the queen 's cat is not black
    """
    if past and verb is BE:
        raise ValueError("the grammar has no past tense of être: use BE in the present")
    if (obj is None) == verb.takes_object:
        raise ValueError(f"{verb.fr!r} {'needs' if verb.takes_object else 'takes no'} object")
    if (predicate is not None) != (verb is BE and not places):
        raise ValueError("être takes either an adjective or a place; other verbs take no adjective")
    plural = subject.plural
    pronoun = obj if isinstance(obj, Pronoun) else None

    # French: subject [ne] [pronoun] verb-or-avoir [pas] [participle] [object] [adjective] [places]
    french = ["est-ce", "que"] if question else []
    french += french_noun_phrase(subject)
    french += ["ne"] if negative else []
    french += [{"m": "le", "f": "la"}[pronoun.gender] if not pronoun.plural else "les"] if pronoun else []
    if past:
        french.append("ont" if plural else "a")
        french += ["pas"] if negative else []
        participle = verb.fr_participle
        if pronoun is not None:  # the participle agrees with an object placed before it
            participle += ("e" if pronoun.gender == "f" else "") + ("s" if pronoun.plural else "")
        french.append(participle)
    else:
        french.append(verb.fr_plural if plural else verb.fr)
        french += ["pas"] if negative else []

    # English: [do] subject [not] verb [object] [adjective] [places]
    english_subject = english_noun_phrase(subject)
    if verb is BE:
        be = "are" if plural else "is"
        english = [be, *english_subject] if question else [*english_subject, be]
        english += ["not"] if negative else []
    elif question or negative:
        do = "did" if past else "do" if plural else "does"
        english = [do, *english_subject] if question else [*english_subject, do]
        english += ["not"] if negative else []
        english.append(verb.en_plural)  # the base form after do
    else:
        english = [*english_subject, verb.en_past if past else verb.en_plural if plural else verb.en]

    if isinstance(obj, NounPhrase):
        french += french_noun_phrase(obj)
        english += english_noun_phrase(obj)
    elif pronoun is not None:
        english.append("them" if pronoun.plural else "it")
    if predicate is not None:
        french.append(agree(predicate, subject.noun.gender, plural))
        english.append(predicate.en)
    for preposition, place in places:
        french += [*preposition.fr.split(), *french_noun_phrase(place)]
        english += [*preposition.en.split(), *english_noun_phrase(place)]
    if question:
        french.append("?")
        english.append("?")

    phrases = subject.phrases() + (obj.phrases() if isinstance(obj, NounPhrase) else [])
    phrases += [p for _, place in places for p in place.phrases()]
    noun_adjectives = [(p.noun.fr, adj.fr_m) for p in phrases for adj in p.adjectives()]
    if predicate is not None:
        noun_adjectives.append((subject.noun.fr, predicate.fr_m))
    phenomena = {name for name, present in [
        ("negation", negative), ("question", question), ("past", past), ("pronoun", pronoun is not None),
        ("relative", any(p.relative for p in phrases)), ("possessive", any(p.possessor for p in phrases)),
        ("two_places", len(places) == 2)] if present}
    return Sentence(
        french=" ".join(french_spelling(french)),
        english=" ".join(english_spelling(english)),
        noun_adjectives=tuple(noun_adjectives),
        preposition_nouns=tuple((preposition.fr, place.noun.fr) for preposition, place in places),
        phenomena=frozenset(phenomena),
    )


def _random_noun_phrase(rng: random.Random, noun: Noun, determiners: Sequence[str] = ("the", "the", "a", "this"),
                        modifiers: bool = False) -> NounPhrase:
    """A random noun phrase around ``noun``: number, determiner, adjectives, maybe a possessor or relative."""
    plural = rng.random() < 0.4
    determiner = rng.choice([d for d in determiners if not (plural and d == "a")] or ["the"])
    allowed = adjectives_for(noun)
    before = rng.choice([adj for adj in allowed if adj.before]) if rng.random() < 0.2 else None
    after = rng.choice([adj for adj in allowed if not adj.before]) if rng.random() < 0.3 else None
    # Two adjectives only with a colour after the noun, so that the English order
    # (size/age/beauty before colour: "the small black cat") is always right.
    if before is not None and after is not None and after.kind != "colour":
        before = None
    possessor = relative = None
    if modifiers and rng.random() < 0.12:
        owners = [n for n in PERSON_NOUNS if n.fr != noun.fr]
        possessor = _random_noun_phrase(rng, rng.choice(owners))
        determiner = "the"  # "the queen 's cat" is "le chat de la reine"; "un chat de la reine" is not it
    elif modifiers and noun in ANIMATE_NOUNS and rng.random() < 0.12:
        verb = rng.choice((SLEEP, *TRANSITIVE_VERBS))
        obj = _random_object(rng, verb, noun) if verb.takes_object else None
        relative = Relative(verb, obj)
    return NounPhrase(noun, plural, determiner, before, after, possessor, relative)


def _random_object(rng: random.Random, verb: Verb, subject: Noun, determiners: Sequence[str] = ("the", "the", "a", "this"),
                   modifiers: bool = False) -> NounPhrase:
    """An object for ``verb``: food for ``mange``, anything else for ``voit`` and ``aime``."""
    choices = FOOD_NOUNS if verb is EAT else NOUNS
    return _random_noun_phrase(rng, rng.choice([n for n in choices if n.fr != subject.fr]), determiners, modifiers)


def _random_places(rng: random.Random, subject: Noun, n: int) -> list[tuple[Preposition, NounPhrase]]:
    places = []
    for _ in range(n):
        preposition = rng.choice(PREPOSITIONS)
        nouns = [noun for noun in objects_of(preposition) if noun.fr != subject.fr]
        places.append((preposition, _random_noun_phrase(rng, rng.choice(nouns))))
    return places


def _random_sentence(rng: random.Random) -> Sentence:
    """One random sentence: a pattern, then each phenomenon drawn independently.

    1. where:   le chat noir est sous la table          -> the black cat is under the table
    2. what:    les souris ne sont pas blanches          -> the mice are not white
    3. sleeps:  est-ce que le vieil homme a dormi ?      -> did the old man sleep ?
    4. does:    le chat de la reine la mange             -> the queen 's cat eats it
    """
    pattern = rng.choice(["where", "where", "what", "sleeps", "does", "does", "does"])
    negative, question = rng.random() < 0.25, rng.random() < 0.25
    past = pattern in ("sleeps", "does") and rng.random() < 0.3
    # "ne mange pas une pomme" is not French ("pas de pomme"): no "a" in a negated object
    object_determiners = ("the", "the", "this") if negative else ("the", "the", "a", "this")

    if pattern in ("where", "what"):
        noun = rng.choice(NOUNS)
        subject = _random_noun_phrase(rng, noun, modifiers=True)
        if pattern == "where":
            places = _random_places(rng, noun, 2 if rng.random() < 0.15 else 1)
            return build_sentence(subject, BE, places=places, negative=negative, question=question)
        # No "the old cat is young": the predicate is of a kind the subject lacks.
        kinds_used = {adj.kind for adj in subject.adjectives()}
        predicates = [adj for adj in adjectives_for(noun) if adj.kind not in kinds_used]
        if not predicates:  # e.g. "la petite pomme rouge": keep the noun, drop its adjectives
            subject = NounPhrase(noun, subject.plural, subject.determiner, possessor=subject.possessor)
            predicates = list(adjectives_for(noun))
        return build_sentence(subject, BE, predicate=rng.choice(predicates), negative=negative, question=question)

    subject = _random_noun_phrase(rng, rng.choice(ANIMATE_NOUNS), modifiers=True)
    if pattern == "sleeps":
        places = _random_places(rng, subject.noun, rng.choice([0, 1, 1, 1, 2]))
        return build_sentence(subject, SLEEP, places=places, past=past, negative=negative, question=question)

    verb = rng.choice(TRANSITIVE_VERBS)
    if verb is EAT and rng.random() < 0.35:
        food = rng.choice(FOOD_NOUNS)
        obj: NounPhrase | Pronoun = Pronoun(food.gender, rng.random() < 0.4)
    else:
        obj = _random_object(rng, verb, subject.noun, object_determiners, modifiers=not subject.relative)
    places = _random_places(rng, subject.noun, 1) if rng.random() < 0.1 else []
    return build_sentence(subject, verb, obj=obj, places=places, past=past, negative=negative, question=question)


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

#: Pairs of phenomena that never meet in training (test_compositions holds them).
HELD_OUT_COMPOSITIONS: tuple[frozenset[str], ...] = (
    frozenset({"question", "relative"}),
    frozenset({"negation", "possessive"}),
    frozenset({"past", "pronoun", "negation"}),
)
#: Training and validation sentences have at most this many French words; test_longer has more.
MAX_TRAIN_LENGTH: int = 15


def all_noun_adjective_combinations() -> list[tuple[str, str]]:
    """Every (noun, adjective) pair the grammar can make, as French lemmas (notebook 10)."""
    return [(noun.fr, adj.fr_m) for noun in NOUNS for adj in adjectives_for(noun)]


def all_preposition_noun_combinations() -> list[tuple[str, str]]:
    """Every (preposition, noun) pair the grammar can make, in French (notebook 10)."""
    return [(prep.fr, noun.fr) for prep in PREPOSITIONS for noun in objects_of(prep)]


def held_out_combinations(seed: int = CORPUS_SEED) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The word combinations that never occur in training: 10% of each kind, chosen by ``seed`` (notebook 10).

    Returns ``(noun_adjectives, preposition_nouns)``, for example
    ``{("cheval", "noir"), ...}`` and ``{("sous", "lit"), ...}``.
    """
    rng = random.Random(seed)
    noun_adjectives = all_noun_adjective_combinations()
    preposition_nouns = all_preposition_noun_combinations()
    held_noun_adjectives = rng.sample(noun_adjectives, k=len(noun_adjectives) // 10)
    held_preposition_nouns = rng.sample(preposition_nouns, k=len(preposition_nouns) // 10)
    return set(held_noun_adjectives), set(held_preposition_nouns)


def split_of(sentence: Sentence, seed: int = CORPUS_SEED) -> str:
    """Where a sentence belongs: ``train`` (or validation), or the one test split it was kept out for.

    A sentence is kept out for one reason at a time: a held-out word combination
    (``test_combinations``), else a held-out pair of phenomena (``test_compositions``),
    else more than :data:`MAX_TRAIN_LENGTH` words (``test_longer``); a sentence with
    two reasons is not used at all (``"none"``).
    """
    held_noun_adjectives, held_preposition_nouns = held_out_combinations(seed)
    reasons = []
    if any(c in held_noun_adjectives for c in sentence.noun_adjectives) or any(
            c in held_preposition_nouns for c in sentence.preposition_nouns):
        reasons.append("test_combinations")
    if any(pair <= sentence.phenomena for pair in HELD_OUT_COMPOSITIONS):
        reasons.append("test_compositions")
    if sentence.length > MAX_TRAIN_LENGTH:
        reasons.append("test_longer")
    return "train" if not reasons else reasons[0] if len(reasons) == 1 else "none"


def make_splits(seed: int = CORPUS_SEED, sizes: dict[str, int] | None = None) -> dict[str, list[Sentence]]:
    """The sentences of every split of :data:`SIZES`, as written to ``data/fr_en_pairs.tsv``;
    no French sentence is in two splits (notebook 10).

    ``train`` and ``validation`` share the words, combinations, phenomena pairs and
    lengths of training; each test split differs from them in exactly one way
    (:func:`split_of`).
    """
    sizes = dict(SIZES if sizes is None else sizes)
    rng = random.Random(seed)
    seen: set[str] = set()
    splits: dict[str, list[Sentence]] = {split: [] for split in SPLITS}
    in_distribution = sizes["train"] + sizes["validation"]
    while any(len(splits[s]) < sizes[s] for s in SPLITS if s not in ("train", "validation")) or \
            len(splits["train"]) + len(splits["validation"]) < in_distribution:
        sentence = _random_sentence(rng)
        if sentence.french in seen:
            continue
        seen.add(sentence.french)
        split = split_of(sentence, seed)
        if split == "train":
            split = "train" if len(splits["train"]) < sizes["train"] else "validation"
        if split in splits and len(splits[split]) < sizes[split]:
            splits[split].append(sentence)
    return splits


def write_pairs_tsv(path: Path, splits: dict[str, list[Sentence]]) -> None:
    """Write ``splits`` to ``path`` as ``split<TAB>french<TAB>english<TAB>phenomena`` lines (notebook 10)."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("split\tfrench\tenglish\tphenomena\n")
        for split in SPLITS:
            for s in splits[split]:
                file.write(f"{split}\t{s.french}\t{s.english}\t{','.join(sorted(s.phenomena))}\n")


def _rows(split: str, path: Path) -> list[dict[str, str]]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(repr(s) for s in SPLITS)}")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make data` to generate it")
    with open(path, encoding="utf-8", newline="") as file:
        return [row for row in csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE) if row["split"] == split]


def load_pairs(split: str, path: Path = PAIRS_PATH) -> list[tuple[str, str]]:
    """The (french, english) pairs of one split of the corpus (see :data:`SPLITS`) (notebook 10)."""
    return [(row["french"], row["english"]) for row in _rows(split, path)]


def load_phenomena(split: str, path: Path = PAIRS_PATH) -> list[frozenset[str]]:
    """The :data:`PHENOMENA` of each pair of ``load_pairs(split)``, in the same order (notebook 10)."""
    return [frozenset(filter(None, row["phenomena"].split(","))) for row in _rows(split, path)]


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
    "ne": "not",
    "n'": "not",
    "pas": "not",
    "est-ce": "is it",
    "que": "that",
    "qu'": "that",
    "qui": "who",
    "a": "has",
    "ont": "have",
    "?": "?",
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
        for ending in ("", "e", "s", "es"):  # mangé, mangée, mangés, mangées -> ate
            if verb.fr_participle:
                dictionary.setdefault(verb.fr_participle + ending, verb.en_past)
    return dictionary


#: The word classes of :func:`word_classes`, in the order a figure lists them.
WORD_CLASSES: tuple[str, ...] = ("noun", "adjective", "verb", "determiner", "preposition", "other")


def word_classes(language: str) -> dict[str, str]:
    """Every word form of the corpus in ``language`` ("fr" or "en") → its class in :data:`WORD_CLASSES` (notebook 16).

    Nouns, adjectives (every agreeing form), verbs (present, participles, English past),
    determiners and the words of prepositions come from the lexicon; everything else
    the grammar writes (``ne``, ``pas``, ``qui``, ``did``, ``'s``, ``?``, pronouns, ...)
    is ``"other"``. A form in two classes keeps the first (``souris`` is a noun).
    """
    if language not in ("fr", "en"):
        raise ValueError(f"language must be 'fr' or 'en', got {language!r}")
    french = language == "fr"
    classes: dict[str, str] = {}
    for noun in NOUNS:
        for form in ((noun.fr, noun.fr_plural) if french else (noun.en, noun.en_plural)):
            classes.setdefault(form, "noun")
    for adj in ADJECTIVES:
        forms = (adj.fr_m, adj.fr_f, adj.fr_m_plural, adj.fr_f_plural, adj.fr_m_vowel) if french else (adj.en,)
        for form in filter(None, forms):
            classes.setdefault(form, "adjective")
    for verb in VERBS:
        if french:
            participles = [verb.fr_participle + ending for ending in ("", "e", "s", "es")] if verb.fr_participle else []
            forms = (verb.fr, verb.fr_plural, *participles)
        else:
            forms = (verb.en, verb.en_plural, verb.en_past)
        for form in filter(None, forms):
            classes.setdefault(form, "verb")
    determiners = _FRENCH_DETERMINERS.values() if french else _ENGLISH_DETERMINERS.values()
    for form in (*determiners, *(("l'", "cet", "du", "des") if french else ("an",))):
        classes.setdefault(form, "determiner")
    for preposition in PREPOSITIONS:
        for form in (preposition.fr if french else preposition.en).split():
            classes.setdefault(form, "preposition")
    return classes
