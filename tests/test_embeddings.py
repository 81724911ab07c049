"""helpers/embeddings.py: the sliding window, word2vec, neighbours and analogies, positions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.corpus import load_pairs
from helpers.embeddings import (
    analogy,
    nearest_neighbours,
    pca_2d,
    sinusoidal_encoding,
    skipgram_pairs,
    sliding_window,
    train_word2vec,
)
from helpers.translate import UnknownWordError

SEED = "Thou shalt not make a machine in the likeness of a human mind".lower().split()


@pytest.fixture(scope="module")
def small_model():
    """Notebook 07's model: the 40,000 French training sentences, 32 dimensions, 2 epochs (a few seconds)."""
    french = [fr for fr, _ in load_pairs("train")]
    return train_word2vec(french, dim=32, window=2, n_negatives=5, epochs=2, batch_size=4096, lr=0.03, seed=0)


def test_sliding_window_rows_of_the_seed_sentence():
    rows = sliding_window(SEED, context_size=2)
    assert rows[:3] == [(("thou", "shalt"), "not"), (("shalt", "not"), "make"), (("not", "make"), "a")]
    assert rows[-1] == (("a", "human"), "mind")
    assert len(rows) == len(SEED) - 2 == 11
    assert sliding_window(SEED[:2], 2) == []
    with pytest.raises(ValueError, match="context_size must be at least 1"):
        sliding_window(SEED, 0)


def test_skipgram_pairs_stay_inside_each_sentence():
    centres, contexts = skipgram_pairs([[0, 1, 2], [3, 4]], window=1)
    assert list(zip(centres.tolist(), contexts.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]


def test_nn_embedding_is_one_hot_times_weight():
    torch.manual_seed(0)
    table = torch.nn.Embedding(10, 4)
    ids = torch.tensor([[3, 0, 9], [1, 1, 5]])
    one_hot = F.one_hot(ids, num_classes=10).float()  # (2, 3, 10)
    assert torch.equal(one_hot @ table.weight, table(ids))


def test_sinusoidal_encoding_matches_the_formula():
    encoding = sinusoidal_encoding(20, 8)
    for pos in (0, 1, 7, 19):
        for i in range(4):
            angle = pos / 10_000 ** (2 * i / 8)
            assert encoding[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert encoding[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_encoding(4, 7)


def test_training_is_deterministic_and_the_loss_falls(small_model):
    model, losses = small_model
    assert sum(losses[-20:]) / 20 < 0.8 * sum(losses[:20]) / 20
    again, _ = train_word2vec([fr for fr, _ in load_pairs("train")[:300]], dim=8, epochs=1, seed=1)
    twice, _ = train_word2vec([fr for fr, _ in load_pairs("train")[:300]], dim=8, epochs=1, seed=1)
    assert torch.equal(again.vectors, twice.vectors)


def test_gendered_analogies_land_in_the_top_3(small_model):
    """masculine person - homme + femme: the answer is in the top 3, which are all feminine persons.

    Top 3, not top 1: roi, père and garçon appear in exactly the same contexts in the
    corpus, so the model learns "feminine person" but cannot tell a queen from a mother.
    With seed 0 the top 3 are exactly mère, reine and fille for all three questions.
    """
    model, _ = small_model
    feminine_people = {"reine", "fille", "mère", "femme"}
    for masculine, feminine in [("roi", "reine"), ("garçon", "fille"), ("père", "mère")]:
        answers = [word for word, _ in analogy(model, masculine, "homme", "femme", k=3)]
        assert feminine in answers, (masculine, answers)
        assert set(answers) <= feminine_people, (masculine, answers)


def test_neighbours_share_a_kind_and_unknown_words_are_named(small_model):
    model, _ = small_model
    assert {w for w, _ in nearest_neighbours(model, "noir", k=3)} <= {"blanc", "bleu", "vert", "rouge", "gris"}
    assert {w for w, _ in nearest_neighbours(model, "table", k=3)} <= {"chaise", "boîte", "voiture", "maison"}
    with pytest.raises(UnknownWordError, match="'king' is not in the vocabulary"):
        nearest_neighbours(model, "king")
    with pytest.raises(KeyError):
        analogy(model, "roi", "man", "femme")


def test_pca_2d_matches_the_top_singular_directions():
    torch.manual_seed(0)
    data = torch.randn(30, 5) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1])
    projected = pca_2d(data)
    assert projected.shape == (30, 2)
    centred = data - data.mean(0)
    _, s, _ = torch.linalg.svd(centred, full_matrices=False)
    assert torch.allclose(projected.norm(dim=0), s[:2], atol=1e-4)
