"""Checks of notebook 03 · the dictionary as one-hot matrices."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from helpers.checks.ch01_translate import SEED_DICTIONARY
from helpers.checks.core import Case, Cases, difference, exercise
from helpers.matrix_dictionary import MatrixDictionary, one_hot

VOCABULARY_IN = ["chat", "est", "la", "le", "sous", "table"]
VOCABULARY_OUT = ["cat", "is", "table", "the", "under"]


@exercise("3.1", "One-hot vectors", success="Every word is now a vector.")
def check_one_hot() -> Cases:
    """a float32 vector of zeros, as long as the vocabulary, with a 1 at the word's position."""
    cases = [
        Case(("chat", VOCABULARY_IN), one_hot("chat", VOCABULARY_IN), "'chat' is word 0 of the input vocabulary."),
        Case(("le", VOCABULARY_IN), one_hot("le", VOCABULARY_IN), "'le' is at position 3: vocabulary.index('le')."),
        Case(("table", VOCABULARY_IN), one_hot("table", VOCABULARY_IN), "'table' is the last of the 6 words."),
        Case(("the", VOCABULARY_OUT), one_hot("the", VOCABULARY_OUT),
             "the vector is as long as the vocabulary you are given (5 English words here)."),
        Case(("b", ["c", "a", "b"]), one_hot("b", ["c", "a", "b"]),
             "use the position in the vocabulary you are given, as it is: do not sort it again."),
        Case(("tables", VOCABULARY_IN), KeyError,
             "a word that is not in the vocabulary has no one-hot vector: raise KeyError (as a dict does)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        word, vocabulary = case.args
        if not hasattr(got, "shape"):
            return "return a torch tensor (torch.zeros(len(vocabulary)), then set one entry to 1)."
        if isinstance(got, torch.Tensor) and not got.dtype.is_floating_point:
            return "matrix products need floats: torch.zeros(n) is float32; F.one_hot gives int64, so add .float()."
        if tuple(got.shape) == (len(vocabulary) + 1,) or (
            tuple(got.shape) == (len(vocabulary),) and vocabulary.index(word) + 1 < len(vocabulary)
            and float(got[vocabulary.index(word) + 1]) == 1.0
        ):
            return "off by one: Python counts from 0, so the first word's 1 goes at position 0."
        return None

    return Cases(cases, diagnose)


def _keys_values_hint(label: str, got: Any, dictionary: dict[str, str]) -> str:
    """A specific hint when ``got`` is one of the plausible wrong K or V matrices."""
    reference = MatrixDictionary.from_dict(dictionary)
    expected, other = (reference.K, reference.V) if label == "K" else (reference.V, reference.K)
    first = next(iter(dictionary))
    values = list(dictionary.values())
    repeated = F.one_hot(torch.tensor([sorted(values).index(v) for v in values]), len(values)).float()
    wrong = [
        (other, "K and V are swapped: K holds the KEYS (French words, one-hot over the input vocabulary), "
                "V holds the VALUES (English words, one-hot over the output vocabulary)."),
        (expected.T, f"{label} is transposed: one ROW per dictionary entry, one column per vocabulary word."),
        (torch.eye(len(dictionary)),
         f"the vocabulary is SORTED, and the rows follow the dictionary's order: row 0 is {first!r}, "
         f"with its 1 in column {sorted(dictionary).index(first)} (its position in the sorted vocabulary)."),
    ]
    if label == "V":
        wrong.insert(1, (repeated, "the output vocabulary lists each English word ONCE: "
                                   "sorted(set(dictionary.values())) — several French words can share a value."))
    if not hasattr(got, "shape"):
        return f"{label} should be a torch tensor, e.g. torch.stack of one-hot vectors."
    for matrix, hint in wrong:
        if tuple(got.shape) == tuple(matrix.shape) and difference(got, matrix) is None:
            return hint
    return (f"{label} has one row per dictionary entry (in the dictionary's order) and one column per word "
            f"of the sorted {'input' if label == 'K' else 'output'} vocabulary.")


@exercise("3.2", "Build the keys and values matrices", success="Your dictionary is now two matrices.")
def check_keys_values() -> Cases:
    """K: one-hot keys (input vocabulary); V: one-hot values (output vocabulary); rows in dictionary order."""
    dictionaries = [SEED_DICTIONARY, {"b": "y", "a": "x", "c": "x"}, {"chat": "cat"}]
    cases = []
    for dictionary in dictionaries:
        reference = MatrixDictionary.from_dict(dictionary)
        cases.append(Case((dictionary,), (reference.K, reference.V),
                          "each vocabulary lists its words once, sorted: sorted(set(...)); several French "
                          "words can share an English value (le, la → the). The rows follow the dictionary's order."))

    def diagnose(got: Any, case: Case) -> str | None:
        if not (isinstance(got, tuple) and len(got) == 2):
            return "return K, V — two tensors."
        for label, got_matrix, expected in zip("KV", got, case.expected):
            if difference(got_matrix, expected) is not None:
                return _keys_values_hint(label, got_matrix, case.args[0])
        return None

    return Cases(cases, diagnose)


@exercise("3.3", "Decode by cosine similarity", success="Vectors turn back into words.")
def check_decode_vector() -> Cases:
    """the word whose vector has the largest cosine similarity with the given vector."""
    eye5 = torch.eye(5)
    uneven = torch.tensor([[1.0, 0.0], [3.0, 3.0], [0.0, 1.0]])
    words3 = ["near", "long", "other"]
    cases = [
        Case((torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0]), eye5, VOCABULARY_OUT), "the",
             "the word whose one-hot vector points the same way as the output."),
        Case((torch.tensor([0.1, 0.05, 0.7, 0.15, 0.0]), eye5, VOCABULARY_OUT), "table",
             "pick the LARGEST similarity (argmax), not the smallest."),
        Case((torch.tensor([0.0, 3.0, 0.0, 0.0, 0.0]), eye5, VOCABULARY_OUT), "is",
             "cosine similarity ignores the length of the vector."),
        Case((torch.tensor([1.0, 0.2]), uneven, words3), "near",
             "divide by the lengths: cosine(q, w) = q·w / (|q| |w|)."),
        Case((torch.tensor([10.0, 1.0]), torch.tensor([[20.0, 0.0], [8.0, 4.0]]), ["straight", "slanted"]),
             "straight", "cosine similarity compares directions, not positions."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        vector, word_vectors, vocabulary = case.args
        if isinstance(got, int) or (hasattr(got, "dim") and got.dim() == 0):
            return "return the WORD (vocabulary[index]), not its index."
        dots = word_vectors @ vector
        if got == vocabulary[int(dots.argmax())]:
            return ("an inner product favours long word vectors: 'long' = (3, 3) wins only because it is "
                    "long. Divide each word vector by its length (cosine = q·w / (|q| |w|)).")
        if got == vocabulary[int((word_vectors - vector).norm(dim=1).argmin())]:
            return "that is the nearest word by Euclidean distance; cosine similarity compares directions only."
        if got == vocabulary[int(dots.argmin())]:
            return "you took the SMALLEST similarity: the nearest word has the LARGEST cosine similarity."
        return None

    return Cases(cases, diagnose)
