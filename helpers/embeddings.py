"""Word embeddings: dense vectors for words, learned from the words around them.

Notebook 07 builds these pieces:

- :func:`sliding_window`: the (input 1, input 2) -> output rows a window makes as
  it slides over running text (``thou shalt -> not``, ``shalt not -> make``, ...);
- :func:`skipgram_pairs`, :class:`Word2Vec` and :func:`train_word2vec`: word2vec's
  skip-gram with negative sampling (Mikolov et al. 2013), trained on the French side
  of the course corpus in a few seconds;
- :func:`nearest_neighbours` and :func:`analogy`: what the vectors learned, by
  cosine similarity (``roi - homme + femme``);
- :func:`pca_2d`: a 2-D projection of the vectors for a plot;
- :func:`sinusoidal_encoding`: the fixed position encoding of "Attention is all you
  need" (Vaswani et al. 2017).

Example::

    >>> model, losses = train_word2vec(["le chat dort", "le chien dort"], dim=8)  # doctest: +SKIP
    >>> nearest_neighbours(model, "chat", k=1)  # doctest: +SKIP
    [('chien', 0.93)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.matrix_dictionary import build_vocabulary
from helpers.progress import ProgressBar
from helpers.translate import UnknownWordError


# ---------------------------------------------------------------------------
# The sliding-window dataset
# ---------------------------------------------------------------------------


def sliding_window(tokens: Sequence[str], context_size: int = 2) -> list[tuple[tuple[str, ...], str]]:
    """The (inputs, output) rows of a window sliding over ``tokens`` (notebook 07).

    Each row holds ``context_size`` consecutive tokens and the token that follows
    them: ``sliding_window(["thou", "shalt", "not", "make"])`` is
    ``[(("thou", "shalt"), "not"), (("shalt", "not"), "make")]``. A text of n tokens
    gives ``n - context_size`` rows (none if it is too short).
    """
    if context_size < 1:
        raise ValueError(f"context_size must be at least 1, got {context_size}")
    return [
        (tuple(tokens[start : start + context_size]), tokens[start + context_size])
        for start in range(len(tokens) - context_size)
    ]


# ---------------------------------------------------------------------------
# word2vec: skip-gram with negative sampling
# ---------------------------------------------------------------------------


def skipgram_pairs(sentences: Sequence[Sequence[int]], window: int = 2) -> tuple[Tensor, Tensor]:
    """Every (centre word, context word) pair at most ``window`` positions apart (notebook 07).

    ``sentences`` holds word ids; pairs never cross from one sentence to the next.
    Returns two LongTensors of the same length: the centres and their contexts.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    centres, contexts = [], []
    for ids in sentences:
        for i, centre in enumerate(ids):
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i:
                    centres.append(centre)
                    contexts.append(ids[j])
    return torch.tensor(centres, dtype=torch.long), torch.tensor(contexts, dtype=torch.long)


class Word2Vec(nn.Module):
    """Skip-gram with negative sampling: two tables of vectors, one score per pair (notebook 07).

    ``word_vectors`` are the embeddings we keep; ``context_vectors`` are used only
    for training. The score of a (centre, context) pair is the dot product of the
    centre's word vector and the context's context vector; training pushes it up
    for pairs seen in the text and down for ``negatives`` drawn at random.
    """

    def __init__(self, vocabulary: Sequence[str], dim: int, generator: torch.Generator | None = None):
        super().__init__()
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("the vocabulary lists a word twice; build it with build_vocabulary(words)")
        self.vocabulary = list(vocabulary)
        self.index = {word: i for i, word in enumerate(self.vocabulary)}
        self.word_vectors = nn.Embedding(len(vocabulary), dim)
        self.context_vectors = nn.Embedding(len(vocabulary), dim)
        # word2vec's initialisation: small random word vectors, zero context vectors.
        nn.init.uniform_(self.word_vectors.weight, -0.5 / dim, 0.5 / dim, generator=generator)
        nn.init.zeros_(self.context_vectors.weight)

    def forward(self, centres: Tensor, contexts: Tensor, negatives: Tensor) -> Tensor:
        """The mean loss of a batch: centres (B,), contexts (B,), negatives (B, K)."""
        centre = self.word_vectors(centres)  # (B, D)
        positive = self.context_vectors(contexts)  # (B, D)
        negative = self.context_vectors(negatives)  # (B, K, D)
        positive_score = (centre * positive).sum(dim=-1)  # (B,)
        negative_score = (negative @ centre.unsqueeze(-1)).squeeze(-1)  # (B, K, D) @ (B, D, 1) -> (B, K)
        # -log σ(s⁺) - Σ log σ(-s⁻): seen pairs score high, random pairs low.
        loss = -(F.logsigmoid(positive_score) + F.logsigmoid(-negative_score).sum(dim=-1))
        return loss.mean()

    def vector(self, word: str) -> Tensor:
        """The embedding of ``word``, shape (dim,)."""
        if word not in self.index:
            raise UnknownWordError(
                word, self.vocabulary, "vocabulary",
                "Only words of the corpus have an embedding: lower-case French words.",
            )
        return self.word_vectors.weight[self.index[word]].detach()

    @property
    def vectors(self) -> Tensor:
        """All the embeddings, one row per vocabulary word: (len(vocabulary), dim)."""
        return self.word_vectors.weight.detach()


def negative_sampling_weights(counts: Sequence[int], power: float = 0.75) -> Tensor:
    """word2vec's distribution for negatives: counts to the power 3/4, normalised (notebook 07).

    The power flattens the distribution, so rare words are drawn more often than
    their frequency alone would give.
    """
    weights = torch.tensor(counts, dtype=torch.float) ** power
    return weights / weights.sum()


def train_word2vec(
    sentences: Sequence[str],
    dim: int = 32,
    window: int = 2,
    n_negatives: int = 5,
    epochs: int = 2,
    batch_size: int = 4096,
    lr: float = 0.03,
    seed: int = 0,
) -> tuple[Word2Vec, list[float]]:
    """Train skip-gram with negative sampling on ``sentences`` (split on spaces) (notebook 07).

    Returns the model and the loss of every batch. The same seed gives the same
    model: every random draw comes from one seeded generator, and training runs on
    one thread so that float sums are added in the same order each time.
    """
    if not sentences:
        raise ValueError("no sentences to train on")
    tokenized = [sentence.split() for sentence in sentences]
    counts = Counter(word for words in tokenized for word in words)
    vocabulary = build_vocabulary(counts)
    generator = torch.Generator().manual_seed(seed)
    model = Word2Vec(vocabulary, dim, generator=generator)
    centres, contexts = skipgram_pairs([[model.index[w] for w in words] for words in tokenized], window)
    noise = negative_sampling_weights([counts[word] for word in vocabulary])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    losses = []
    try:
        for epoch in range(epochs):
            order = torch.randperm(len(centres), generator=generator)
            batches = range(0, len(order), batch_size)
            for start in ProgressBar(batches, desc=f"word2vec epoch {epoch + 1}/{epochs}"):
                batch = order[start : start + batch_size]
                negatives = torch.multinomial(noise, len(batch) * n_negatives, replacement=True, generator=generator)
                loss = model(centres[batch], contexts[batch], negatives.view(len(batch), n_negatives))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    return model, losses


# ---------------------------------------------------------------------------
# What the vectors learned
# ---------------------------------------------------------------------------


def cosine_similarities(query: Tensor, vectors: Tensor) -> Tensor:
    """Cosine similarity of ``query`` (D,) with every row of ``vectors`` (N, D): (N,) (notebook 07)."""
    return F.normalize(vectors, dim=-1) @ F.normalize(query, dim=-1)


def _closest(model: Word2Vec, query: Tensor, k: int, exclude: Sequence[str]) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors are closest to ``query``, leaving out ``exclude``."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    similarity = cosine_similarities(query, model.vectors)
    for word in exclude:
        similarity[model.index[word]] = -float("inf")
    k = min(k, len(model.vocabulary) - len(set(exclude)))
    values, ids = similarity.topk(k)
    return [(model.vocabulary[i], value) for i, value in zip(ids.tolist(), values.tolist())]


def nearest_neighbours(model: Word2Vec, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words most similar to ``word`` (itself left out), with their cosines (notebook 07)."""
    return _closest(model, model.vector(word), k, exclude=[word])


def analogy(model: Word2Vec, a: str, b: str, c: str, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` words closest to ``a - b + c`` (``roi - homme + femme``), with cosines (notebook 07).

    As in word2vec, the three words of the question are left out of the answers.
    """
    query = model.vector(a) - model.vector(b) + model.vector(c)
    return _closest(model, query, k, exclude=[a, b, c])


def pca_2d(vectors: Tensor) -> Tensor:
    """Project the rows of ``vectors`` (N, D) onto their two main directions: (N, 2) (notebook 07).

    The directions are the top right-singular vectors of the centred data. Each
    direction's sign is chosen so that its largest coordinate is positive, which
    makes the plot the same from run to run.
    """
    if vectors.ndim != 2 or vectors.shape[0] < 2 or vectors.shape[1] < 2:
        raise ValueError(f"pca_2d needs a matrix of at least 2 x 2, got shape {tuple(vectors.shape)}")
    centred = vectors - vectors.mean(dim=0)  # (N, D)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    directions = vh[:2]  # (2, D)
    largest = directions.gather(1, directions.abs().argmax(dim=1, keepdim=True))  # (2, 1)
    directions = directions * largest.sign()
    return centred @ directions.T  # (N, D) @ (D, 2) -> (N, 2)


# ---------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------


def sinusoidal_encoding(n_positions: int, d_model: int, base: float = 10_000.0) -> Tensor:
    """The fixed position encoding of Vaswani et al. (2017), shape (n_positions, d_model) (notebook 07).

    PE[pos, 2i] = sin(pos / base^(2i / d_model)) and
    PE[pos, 2i + 1] = cos(pos / base^(2i / d_model)): each pair of columns turns
    at its own speed, from one radian per position down to 1/base.
    """
    if n_positions < 1:
        raise ValueError(f"n_positions must be at least 1, got {n_positions}")
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even (sine and cosine come in pairs), got {d_model}")
    positions = torch.arange(n_positions, dtype=torch.float).unsqueeze(1)  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float)  # (d_model / 2,)
    angles = positions / base ** (two_i / d_model)  # (T, 1) / (d_model / 2,) -> (T, d_model / 2)
    encoding = torch.zeros(n_positions, d_model)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding
