"""A dictionary written as two matrices (notebook 03).

Every word of a vocabulary becomes a one-hot vector: a 1 at the word's position
in the (sorted) vocabulary, 0 everywhere else. A dictionary with ``n`` entries
then becomes two matrices, one row per entry, in the dictionary's order:

* ``K`` (n, len(vocab_in)): the one-hot vector of each key (French word);
* ``V`` (n, len(vocab_out)): the one-hot vector of each value (English word).

Looking a word up is two matrix products: ``q @ K.T`` scores every entry (1 for
the matching key, 0 for the others), and ``@ V`` returns the value of the entry
that scored 1. :func:`decode` turns the result back into a word.

    >>> d = MatrixDictionary.from_dict({"le": "the", "chat": "cat"})
    >>> d.translate("le chat")
    'the cat'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from helpers.translate import UnknownWordError, tokenize


def build_vocabulary(words: Iterable[str]) -> list[str]:
    """The sorted list of the distinct words in ``words`` (notebook 03)."""
    return sorted(set(words))


def word_index(word: str, vocabulary: Sequence[str]) -> int:
    """The position of ``word`` in ``vocabulary`` (raises :class:`~helpers.translate.UnknownWordError`) (notebook 03)."""
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("the vocabulary lists a word twice; build it with build_vocabulary(words)")
    if word not in vocabulary:
        raise UnknownWordError(word, vocabulary, "vocabulary", "Only vocabulary words have a one-hot vector.")
    return list(vocabulary).index(word)


def one_hot(word: str, vocabulary: Sequence[str]) -> Tensor:
    """The one-hot vector of ``word``: float32, shape (len(vocabulary),) (notebook 03)."""
    vector = torch.zeros(len(vocabulary))
    vector[word_index(word, vocabulary)] = 1.0
    return vector


def one_hot_matrix(words: Sequence[str], vocabulary: Sequence[str]) -> Tensor:
    """The one-hot vectors of ``words`` as rows: float32, shape (len(words), len(vocabulary)) (notebook 03)."""
    matrix = torch.zeros(len(words), len(vocabulary))
    for row, word in enumerate(words):
        matrix[row, word_index(word, vocabulary)] = 1.0
    return matrix


def decode(vectors: Tensor, vocabulary: Sequence[str]) -> str | list[str]:
    """The vocabulary word nearest to each vector, by cosine similarity (notebook 03).

    A vector (len(vocabulary),) gives one word; a matrix (n, len(vocabulary))
    gives a list of n words, one per row. Word ``i`` is the one-hot vector
    ``e_i``, so the cosine similarity of ``v`` with it is ``v[i] / |v|``.
    Ties go to the word that comes first in the vocabulary. A vector of zeros
    is similar to no word and raises ``ValueError``.
    """
    if vectors.dim() not in (1, 2) or vectors.shape[-1] != len(vocabulary):
        raise ValueError(
            f"decode expects a vector ({len(vocabulary)},) or a matrix (n, {len(vocabulary)}) "
            f"for a vocabulary of {len(vocabulary)} words, got shape {tuple(vectors.shape)}"
        )
    rows = vectors.reshape(-1, len(vocabulary)).float()  # (n, len(vocabulary))
    norms = rows.norm(dim=1, keepdim=True)  # (n, 1)
    if (norms == 0).any():
        raise ValueError("cannot decode a vector of zeros: it is equally far from every word")
    word_vectors = torch.eye(len(vocabulary))  # row i = one-hot vector of word i (unit length)
    similarities = (rows / norms) @ word_vectors.T  # (n, len(vocabulary))
    words = [vocabulary[i] for i in similarities.argmax(dim=1).tolist()]  # argmax: first of ties
    return words[0] if vectors.dim() == 1 else words


@dataclass
class MatrixDictionary:
    """A dictionary as a keys matrix ``K`` and a values matrix ``V`` (one row per entry) (notebook 03)."""

    vocab_in: list[str]
    vocab_out: list[str]
    K: Tensor  # (n_entries, len(vocab_in))
    V: Tensor  # (n_entries, len(vocab_out))

    def __post_init__(self) -> None:
        n_entries = self.K.shape[0]
        if tuple(self.K.shape) != (n_entries, len(self.vocab_in)):
            raise ValueError(f"K must have shape (n_entries, {len(self.vocab_in)}), got {tuple(self.K.shape)}")
        if tuple(self.V.shape) != (n_entries, len(self.vocab_out)):
            raise ValueError(
                f"V must have shape ({n_entries}, {len(self.vocab_out)}) (one row per row of K), "
                f"got {tuple(self.V.shape)}"
            )

    @classmethod
    def from_dict(cls, dictionary: Mapping[str, str]) -> MatrixDictionary:
        """Build ``K`` and ``V`` from a French → English dictionary, rows in its order."""
        if not dictionary:
            raise ValueError("cannot build a MatrixDictionary from an empty dictionary")
        keys, values = list(dictionary.keys()), list(dictionary.values())
        vocab_in, vocab_out = build_vocabulary(keys), build_vocabulary(values)
        return cls(vocab_in, vocab_out, one_hot_matrix(keys, vocab_in), one_hot_matrix(values, vocab_out))

    def lookup(self, q: Tensor) -> Tensor:
        """``q · Kᵀ · V``: a query (d_in,) gives a value (d_out,); a matrix Q (n, d_in) gives (n, d_out)."""
        if q.dim() == 0 or q.shape[-1] != len(self.vocab_in):
            raise ValueError(
                f"a query must end with dimension {len(self.vocab_in)} (the input vocabulary size), "
                f"got shape {tuple(q.shape)}"
            )
        scores = q @ self.K.T  # (..., d_in) -> (..., n_entries)
        return scores @ self.V  # (..., n_entries) -> (..., d_out)

    def translate(self, sentence: str) -> str:
        """Translate word by word, all words at once: one-hot Q, then ``Q · Kᵀ · V``, then decode."""
        tokens = tokenize(sentence)
        if not tokens:
            raise ValueError("cannot translate an empty text: give at least one word")
        Q = one_hot_matrix(tokens, self.vocab_in)  # (n_tokens, d_in)
        return " ".join(decode(self.lookup(Q), self.vocab_out))
