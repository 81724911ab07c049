"""A translator written by hand from the grammar's rules: the strongest simple baseline (notebook 10).

Someone who knows the grammar of ``helpers.corpus`` can write its translation down
as rules: undo the contractions, read the subject, the verb group (``ne … pas``, an
object pronoun, ``avoir`` + participle) and the rest, then say it in English
order with *do*-support. No example is needed, only the rules — which is the point
of the comparison in notebook 10: the GPT learns the same rules from examples alone.
"""

from __future__ import annotations

from helpers.corpus import ADJECTIVES, BE, NOUNS, PREPOSITIONS, VERBS, english_spelling

_DETERMINERS = {"le": ("the", False), "la": ("the", False), "l'": ("the", False), "les": ("the", True),
                "un": ("a", False), "une": ("a", False), "ce": ("this", False), "cette": ("this", False),
                "ces": ("this", True)}
_EXPANSIONS = {"du": ["de", "le"], "des": ["de", "les"], "d'": ["de"], "n'": ["ne"], "qu'": ["que"], "cet": ["ce"]}
_NOUNS = {form: noun for noun in NOUNS for form in (noun.fr, noun.fr_plural)}
_ADJECTIVES = {form: adj for adj in ADJECTIVES
               for form in (adj.fr_m, adj.fr_f, adj.fr_m_plural, adj.fr_f_plural, adj.fr_m_vowel) if form}
_PRESENT = {form: (verb, form == verb.fr_plural) for verb in VERBS for form in (verb.fr, verb.fr_plural)}
_PARTICIPLES = {verb.fr_participle + ending: verb for verb in VERBS if verb.fr_participle
                for ending in ("", "e", "s", "es")}
_PREPOSITIONS = sorted(PREPOSITIONS, key=lambda p: -len(p.fr.split()))  # longest first: "à côté de"


class RuleTranslator:
    """Translate one French sentence of the corpus's grammar; unknown structure raises ``ValueError``."""

    def __call__(self, french: str) -> str:
        self.words = [w for word in french.split() for w in _EXPANSIONS.get(word, [word])]
        self.i = 0
        question = self._take("est-ce") and self._take("que")
        subject, plural = self._noun_phrase()
        negative = self._take("ne")
        pronoun = self._peek() in ("le", "la", "les", "l'") and self._peek(1) in (*_PRESENT, "a", "ont")
        pronoun_plural = pronoun and self._next() == "les"
        past = self._peek() in ("a", "ont")
        if past:
            self._next()
            negative = self._take("pas") or negative
            verb = _PARTICIPLES[self._next()]
        else:
            verb, _ = _PRESENT[self._next()]
            negative = self._take("pas") or negative
        rest = ["them" if pronoun_plural else "it"] if pronoun else []
        if verb.takes_object and not pronoun:
            rest += self._noun_phrase()[0]
        if verb is BE and self._peek() in _ADJECTIVES:
            rest.append(_ADJECTIVES[self._next()].en)
        while self._peek() not in (None, "?"):
            preposition = self._preposition()
            rest += [*preposition.en.split(), *self._noun_phrase()[0]]
        if question and not self._take("?"):
            raise ValueError("a question ends with ?")

        if verb is BE:
            be = "are" if plural else "is"
            head = [be, *subject] if question else [*subject, be]
            english = head + (["not"] if negative else [])
        elif question or negative:
            do = "did" if past else "do" if plural else "does"
            english = ([do, *subject] if question else [*subject, do]) + (["not"] if negative else []) + [verb.en_plural]
        else:
            english = [*subject, verb.en_past if past else verb.en_plural if plural else verb.en]
        return " ".join(english_spelling(english + rest + (["?"] if question else [])))

    def _noun_phrase(self) -> tuple[list[str], bool]:
        """English words of the noun phrase at the cursor, and whether it is plural."""
        determiner, plural = _DETERMINERS[self._next()]
        adjectives = [_ADJECTIVES[self._next()].en] if _ADJECTIVES.get(self._peek(), None) and \
            _ADJECTIVES[self._peek()].before else []
        noun = _NOUNS[self._next()]
        if self._peek() in _ADJECTIVES and not _ADJECTIVES[self._peek()].before:
            adjectives.append(_ADJECTIVES[self._next()].en)
        words = [*adjectives, noun.en_plural if plural else noun.en]
        if self._peek() == "de" and self._peek(1) in _DETERMINERS:  # a possessor: the queen 's cat
            self._next()
            owner, owner_plural = self._noun_phrase()
            words = [*owner, "'" if owner_plural and owner[-1].endswith("s") else "'s", *words]
        else:
            words = ["these" if (determiner, plural) == ("this", True) else determiner, *words]
        if self._take("qui"):  # a relative clause: the cat that eats the apple
            verb, _ = _PRESENT[self._next()]
            words += ["who" if noun.kind == "person" else "that", verb.en_plural if plural else verb.en]
            if verb.takes_object:
                words += self._noun_phrase()[0]
        return words, plural

    def _preposition(self):
        for preposition in _PREPOSITIONS:
            parts = preposition.fr.split()
            if self.words[self.i : self.i + len(parts)] == parts:
                self.i += len(parts)
                return preposition
        raise ValueError(f"no preposition at {' '.join(self.words[self.i:])!r}")

    def _peek(self, ahead: int = 0) -> str | None:
        return self.words[self.i + ahead] if self.i + ahead < len(self.words) else None

    def _next(self) -> str:
        if self.i >= len(self.words):
            raise ValueError("the sentence ends too early")
        self.i += 1
        return self.words[self.i - 1]

    def _take(self, word: str) -> bool:
        if self._peek() == word:
            self.i += 1
            return True
        return False


def rule_translate(french: str) -> str:
    """The English of one French sentence of the grammar, by rules alone; a sentence outside it
    gives ``"?"`` (notebook 10)."""
    try:
        return RuleTranslator()(french)
    except (KeyError, ValueError):
        return "?"
