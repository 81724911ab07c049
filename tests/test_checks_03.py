"""The checks of notebook 03 accept the right answer and name the plausible wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.checks import ch03_one_hot as checks
from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.matrix_dictionary import one_hot, one_hot_matrix
from helpers.matrix_dictionary import MatrixDictionary, one_hot as library_one_hot


def test_check_one_hot_accepts_the_library_and_torch():
    checks.check_one_hot(one_hot)
    checks.check_one_hot(lambda w, voc: F.one_hot(torch.tensor(index_or_key_error(w, voc)), len(voc)).float())


def index_or_key_error(word, vocabulary):
    if word not in vocabulary:
        raise KeyError(word)
    return vocabulary.index(word)


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, voc: F.one_hot(torch.tensor(index_or_key_error(w, voc)), len(voc)), "F.one_hot gives int64"),
    (lambda w, voc: F.one_hot(torch.tensor(index_or_key_error(w, voc)) + 1, len(voc) + 1).float(), "off by one"),
    (lambda w, voc: one_hot(w, sorted(voc)), "do not sort it again"),
    (lambda w, voc: one_hot(w, checks.VOCABULARY_IN), "as long as the vocabulary"),
    (lambda w, voc: F.one_hot(torch.tensor(voc.index(w)), len(voc)).float(), "raise KeyError"),
], ids=["int64", "off-by-one", "sorts-again", "global-vocabulary", "value-error"])
def test_check_one_hot_catches_plausible_slips(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_one_hot(wrong)


def test_check_one_hot_on_a_stub_says_not_solved():
    def stub(word, vocabulary):
        raise NotImplementedError("Exercise 3.1 (One-hot vectors) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        checks.check_one_hot(stub)


def keys_values(dictionary, *, swap=False, transpose=False, sort_rows=False, repeat_values=False, in_for_v=False):
    vocab_in = sorted(set(dictionary))
    vocab_out = sorted(dictionary.values()) if repeat_values else sorted(set(dictionary.values()))
    keys = sorted(dictionary) if sort_rows else list(dictionary)
    values = [dictionary[k] for k in keys]
    K = one_hot_matrix(keys, vocab_in)
    V = one_hot_matrix(keys, vocab_in) if in_for_v else torch.stack([
        F.one_hot(torch.tensor(vocab_out.index(v)), len(vocab_out)).float() for v in values])
    if transpose:
        K, V = K.T, V.T
    return (V, K) if swap else (K, V)


def test_check_keys_values_accepts_the_right_answer():
    checks.check_keys_values(keys_values)


@pytest.mark.parametrize("options, hint", [
    ({"swap": True}, "K and V are swapped"),
    ({"transpose": True}, "transposed"),
    ({"sort_rows": True}, "the rows follow the dictionary's order"),
    ({"repeat_values": True}, "lists each English word ONCE"),
    ({"in_for_v": True}, "K and V are swapped"),
], ids=["swapped", "transposed", "rows-sorted", "repeated-values", "v-from-input-vocabulary"])
def test_check_keys_values_catches_plausible_slips(options, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_keys_values(lambda d: keys_values(d, **options))


def test_check_keys_values_needs_a_tuple():
    with pytest.raises(WrongAnswer, match="return K, V"):
        checks.check_keys_values(lambda d: torch.cat(keys_values(d), dim=1))


def cosine_decode(vector, word_vectors, vocabulary):
    similarities = (word_vectors @ vector) / (word_vectors.norm(dim=1) * vector.norm())
    return vocabulary[int(similarities.argmax())]


def test_check_decode_vector_accepts_cosine_similarity():
    checks.check_decode_vector(cosine_decode)
    checks.check_decode_vector(lambda v, W, voc: voc[int(F.cosine_similarity(W, v[None, :]).argmax())])


@pytest.mark.parametrize("wrong, hint", [
    (lambda v, W, voc: voc[int((W @ v).argmax())], "an inner product favours long word vectors"),
    (lambda v, W, voc: voc[int((W @ (v / v.norm())).argmax())], "an inner product favours long word vectors"),
    (lambda v, W, voc: voc[int((W - v).norm(dim=1).argmin())], "Euclidean distance"),
    (lambda v, W, voc: voc[int(F.cosine_similarity(W, v[None, :]).argmin())], "SMALLEST similarity"),
    (lambda v, W, voc: int(F.cosine_similarity(W, v[None, :]).argmax()), "not its index"),
], ids=["dot-product", "query-normalised-only", "euclidean", "argmin", "index"])
def test_check_decode_vector_catches_plausible_slips(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_decode_vector(wrong)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    checks.check_one_hot(library_one_hot)
    checks.check_keys_values(lambda d: (MatrixDictionary.from_dict(d).K, MatrixDictionary.from_dict(d).V))
    checks.check_decode_vector(lambda v, W, voc: voc[int(torch.nn.functional.cosine_similarity(W, v[None], dim=1).argmax())])
    assert capsys.readouterr().out.count("✅") == 3



def numpy_one_hot(word, vocabulary):  # unusual but correct: numpy instead of torch
    if word not in vocabulary:
        raise KeyError(word)
    vector = np.zeros(len(vocabulary))
    vector[vocabulary.index(word)] = 1.0
    return vector


def numpy_one_hot_off_by_one(word, vocabulary):
    vector = numpy_one_hot(word, vocabulary)
    return np.roll(vector, 1)


def test_check_one_hot_accepts_numpy_and_gives_a_numpy_mistake_the_position_hint(capsys):
    from helpers.checks.ch03_one_hot import check_one_hot

    check_one_hot(numpy_one_hot)
    assert "✅ Exercise 3.1" in capsys.readouterr().out
    with pytest.raises(WrongAnswer, match="off by one"):
        check_one_hot(numpy_one_hot_off_by_one)


def test_a_value_vocabulary_with_repeats_shows_the_librarys_error_and_the_set_hint():
    from helpers.checks.ch03_one_hot import check_keys_values

    def without_set(dictionary):
        vocab_in, vocab_out = sorted(set(dictionary)), sorted(dictionary.values())
        return (torch.stack([library_one_hot(k, vocab_in) for k in dictionary]),
                torch.stack([library_one_hot(v, vocab_out) for v in dictionary.values()]))

    with pytest.raises(WrongAnswer) as info:
        check_keys_values(without_set)
    assert "lists a word twice" in str(info.value) and "sorted(set(...))" in str(info.value)
