"""helpers/matrix_dictionary.py: the dictionary as one-hot matrices K and V (notebook 03)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.corpus import load_pairs
from helpers.matrix_dictionary import (
    MatrixDictionary,
    build_vocabulary,
    decode,
    one_hot,
    one_hot_matrix,
)
from helpers.translate import UnknownWordError, load_dictionary, translate

SEED = {"le": "the", "chat": "cat", "est": "is", "sous": "under", "la": "the", "table": "table"}


def test_the_seed_vocabularies():
    assert build_vocabulary(SEED) == ["chat", "est", "la", "le", "sous", "table"]
    assert build_vocabulary(SEED.values()) == ["cat", "is", "table", "the", "under"]
    assert build_vocabulary([]) == []


def test_one_hot_equals_torch_one_hot_for_every_word():
    vocabulary = build_vocabulary(load_dictionary())
    for i, word in enumerate(vocabulary):
        vector = one_hot(word, vocabulary)
        assert vector.dtype == torch.float32
        assert torch.equal(vector, F.one_hot(torch.tensor(i), len(vocabulary)).float())
    words = ["table", "le", "table", "chat"]
    expected = F.one_hot(torch.tensor([vocabulary.index(w) for w in words]), len(vocabulary)).float()
    assert torch.equal(one_hot_matrix(words, vocabulary), expected)
    assert one_hot_matrix([], vocabulary).shape == (0, len(vocabulary))


def test_an_unknown_word_is_a_key_error_that_names_it():
    with pytest.raises(KeyError) as info:
        one_hot("tables", build_vocabulary(SEED))
    assert isinstance(info.value, UnknownWordError)
    assert str(info.value) == (
        "'tables' is not in the vocabulary (6 words: chat, est, la, le, sous, table). Only vocabulary words have a one-hot vector."
    )
    with pytest.raises(ValueError, match="lists a word twice"):
        one_hot("le", ["le", "la", "le"])


def test_the_seed_matrices_have_rows_in_dictionary_order():
    d = MatrixDictionary.from_dict(SEED)
    key_columns = d.K.argmax(dim=1).tolist()
    value_columns = d.V.argmax(dim=1).tolist()
    assert [d.vocab_in[i] for i in key_columns] == ["le", "chat", "est", "sous", "la", "table"]
    assert [d.vocab_out[i] for i in value_columns] == ["the", "cat", "is", "under", "the", "table"]
    assert d.K.shape == (6, 6) and d.V.shape == (6, 5)
    assert torch.equal(d.K.sum(dim=1), torch.ones(6)) and torch.equal(d.V.sum(dim=1), torch.ones(6))


def test_lookup_equals_the_dictionary_for_every_key():
    dictionary = load_dictionary()
    d = MatrixDictionary.from_dict(dictionary)
    for key, value in dictionary.items():
        out = d.lookup(one_hot(key, d.vocab_in))
        assert torch.equal(out, one_hot(value, d.vocab_out)), key
    Q = one_hot_matrix(list(dictionary), d.vocab_in)  # every key at once
    assert torch.equal(d.lookup(Q), d.V)
    assert decode(d.lookup(Q), d.vocab_out) == list(dictionary.values())


def test_translate_equals_the_dictionary_translator_on_every_corpus_sentence_it_can_translate():
    dictionary = load_dictionary()
    d = MatrixDictionary.from_dict(dictionary)
    assert d.translate("le chat est sous la table") == "the cat is under the table"
    sentences = [fr for fr, _ in load_pairs("train") if all(t in dictionary for t in fr.split())]
    assert len(sentences) >= 20
    for sentence in sentences:
        assert d.translate(sentence) == translate(sentence, dictionary)
    with pytest.raises(KeyError, match="'tables' is not in the vocabulary"):
        d.translate("les tables")
    with pytest.raises(ValueError, match="empty text"):
        d.translate("  ")


def test_decode_finds_the_nearest_word_of_noisy_vectors():
    vocabulary = ["cat", "is", "table", "the", "under"]
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 5, (200,), generator=generator)
    clean = F.one_hot(targets, 5).float() * (0.2 + 3 * torch.rand(200, 1, generator=generator))
    noisy = clean + 0.09 * torch.rand(200, 5, generator=generator) * clean.sum(dim=1, keepdim=True)
    assert decode(noisy, vocabulary) == [vocabulary[i] for i in targets.tolist()]
    assert decode(torch.tensor([0.1, 0.0, 0.7, 0.2, 0.0]), vocabulary) == "table"
    assert decode(torch.tensor([0.5, 0.0, 0.0, 0.5, 0.0]), vocabulary) == "cat"  # a tie: first word wins


def test_decode_rejects_zeros_and_wrong_shapes():
    vocabulary = ["cat", "is", "table"]
    with pytest.raises(ValueError, match="vector of zeros"):
        decode(torch.zeros(2, 3), vocabulary)
    with pytest.raises(ValueError, match=r"vocabulary of 3 words, got shape \(4,\)"):
        decode(torch.ones(4), vocabulary)
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 3\)"):
        decode(torch.ones(1, 2, 3), vocabulary)


def test_lookup_and_constructor_reject_wrong_shapes():
    d = MatrixDictionary.from_dict(SEED)
    with pytest.raises(ValueError, match=r"dimension 6 \(the input vocabulary size\), got shape \(5,\)"):
        d.lookup(torch.ones(5))
    with pytest.raises(ValueError, match="V must have shape"):
        MatrixDictionary(d.vocab_in, d.vocab_out, d.K, d.V[:5])
    with pytest.raises(ValueError, match="K must have shape"):
        MatrixDictionary(d.vocab_in, d.vocab_out, d.K[:, :5], d.V)
    with pytest.raises(ValueError, match="empty dictionary"):
        MatrixDictionary.from_dict({})


def test_lookup_of_a_mixture_of_queries_mixes_the_values():
    d = MatrixDictionary.from_dict(SEED)
    q = 0.75 * one_hot("chat", d.vocab_in) + 0.25 * one_hot("sous", d.vocab_in)
    assert torch.allclose(d.lookup(q), 0.75 * one_hot("cat", d.vocab_out) + 0.25 * one_hot("under", d.vocab_out))
