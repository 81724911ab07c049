"""Classification fine-tuning: the base model with a new head, on a task made from the corpus (notebook 12).

- **the task**: :func:`word_order_examples` pairs each English sentence of the
  corpus with a copy in French word order (:func:`french_word_order`): the same
  words, so a bag of words cannot tell them apart; :func:`word_order_splits` makes
  the splits;
- **the baselines**: :func:`ngram_features` and :func:`train_logistic_regression`
  (a bag of words, a bag of word pairs);
- **the model**: :class:`GPTClassifier` replaces the language-model head of a
  :class:`~helpers.model.GPT` by a head giving one score per sequence, read at the
  last real token (:func:`pool_last_token`); :func:`binary_cross_entropy` is its
  loss and :func:`accuracy` its measure; :func:`freeze_all_but` picks what trains
  and :func:`fine_tune` trains it.

    >>> french_word_order("the black cat sleeps", random.Random(0))
    'the cat black sleeps'
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from helpers.bpe import BPETokenizer
from helpers.corpus import ADJECTIVES, NOUNS, load_pairs
from helpers.model import GPT
from helpers.progress import ProgressBar
from helpers.training import History, make_loader, train

# ---------------------------------------------------------------------------
# The task: English, or English words in a wrong order?
# ---------------------------------------------------------------------------

_ENGLISH_ADJECTIVES = frozenset(adj.en for adj in ADJECTIVES)
_ENGLISH_NOUNS = frozenset(word for noun in NOUNS for word in (noun.en, noun.en_plural))


#: Adjectives that no fine-tuning sentence contains: ``test_new_words`` asks about them.
HELD_OUT_ADJECTIVES: tuple[str, ...] = ("green", "happy", "young")


def _adjectives_before_nouns(words: list[str]) -> list[int]:
    """The positions of the adjectives that stand right before a noun."""
    return [i for i in range(len(words) - 1) if words[i] in _ENGLISH_ADJECTIVES and words[i + 1] in _ENGLISH_NOUNS]


def french_word_order(sentence: str, rng: random.Random) -> str:
    """The sentence with one adjective moved after its noun, as French (and word-by-word translation) puts it.

    ``the black cat sleeps`` -> ``the cat black sleeps``; with several adjectives
    before nouns, ``rng`` picks which one moves.
    """
    words = sentence.split()
    positions = _adjectives_before_nouns(words)
    if not positions:
        raise ValueError(f"no adjective stands before a noun in {sentence!r}: there is nothing to move")
    i = rng.choice(positions)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def word_order_examples(sentences: Sequence[str], seed: int) -> tuple[list[str], list[int]]:
    """Each sentence twice: as it is (label 1) and in French word order (label 0), in a seeded order (notebook 12).

    Both copies of a sentence hold the same words, so the labels are balanced and
    no single word, length or count gives the answer away.
    """
    rng = random.Random(seed)
    examples = [(text, label) for sentence in sentences
                for text, label in ((sentence, 1), (french_word_order(sentence, rng), 0))]
    rng.shuffle(examples)
    return [text for text, _ in examples], [label for _, label in examples]


def word_order_splits(n_train: int = 2000, n_test: int = 600, seed: int = 0) -> dict[str, tuple[list[str], list[int]]]:
    """The task's three splits of (texts, labels), from the corpus's English (notebook 12).

    - ``train``: ``n_train`` sentences of the corpus's train split with an adjective
      before a noun and none of :data:`HELD_OUT_ADJECTIVES`;
    - ``test_combinations``: ``n_test`` such sentences of its ``test_combinations`` split,
      whose noun-adjective pairs no training sentence has;
    - ``test_new_words``: ``n_test`` more sentences of the train split whose adjectives
      before nouns are all held out: words the fine-tuning never labels.

    Each sentence gives two examples, so a split has twice as many examples as sentences.
    """
    def usable(sentence: str, new_words: bool) -> bool:
        words = sentence.split()
        positions = _adjectives_before_nouns(words)
        held_out = [w for w in words if w in HELD_OUT_ADJECTIVES]
        if new_words:
            return bool(positions) and all(words[i] in HELD_OUT_ADJECTIVES for i in positions)
        return bool(positions) and not held_out

    def first(split: str, n: int, new_words: bool, taken: set[str]) -> list[str]:
        chosen = []
        for _, english in load_pairs(split):
            if len(chosen) == n:
                break
            if english not in taken and usable(english, new_words):
                chosen.append(english)
                taken.add(english)
        if len(chosen) < n:
            raise ValueError(f"the corpus's {split} split has only {len(chosen)} usable sentences, asked for {n}")
        return chosen

    taken: set[str] = set()
    sentences = {"train": first("train", n_train, False, taken)}
    sentences["test_combinations"] = first("test_combinations", n_test, False, taken)
    sentences["test_new_words"] = first("train", n_test, True, taken)
    return {split: word_order_examples(chosen, seed + i) for i, (split, chosen) in enumerate(sentences.items())}


# ---------------------------------------------------------------------------
# Baselines: logistic regression on counts of words or word pairs
# ---------------------------------------------------------------------------


def ngrams(text: str, n: int) -> list[str]:
    """The runs of ``n`` consecutive words, with ``<s>`` and ``</s>`` marking the ends when ``n > 1``."""
    if n < 1:
        raise ValueError(f"n must be 1 or more, got {n}")
    words = text.split() if n == 1 else ["<s>", *text.split(), "</s>"]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def ngram_features(texts: Sequence[str], n: int, vocabulary: dict[str, int] | None = None
                   ) -> tuple[Tensor, dict[str, int]]:
    """Counts of each n-gram per text, (len(texts), len(vocabulary)), and the vocabulary (notebook 12).

    Without ``vocabulary`` it is built from ``texts`` (the training set); n-grams of
    other texts that it lacks are not counted (a test sentence's unseen pair is no evidence).
    """
    if vocabulary is None:
        vocabulary = {}
        for text in texts:
            for gram in ngrams(text, n):
                vocabulary.setdefault(gram, len(vocabulary))
    counts = torch.zeros(len(texts), len(vocabulary))
    for row, text in enumerate(texts):
        for gram in ngrams(text, n):
            if gram in vocabulary:
                counts[row, vocabulary[gram]] += 1
    return counts, vocabulary


def train_logistic_regression(features: Tensor, labels: Tensor, *, steps: int = 300, lr: float = 0.05,
                              weight_decay: float = 1e-4, seed: int = 0) -> nn.Linear:
    """A linear layer ``features -> one score`` trained with full-batch Adam on :func:`binary_cross_entropy` (notebook 12)."""
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"need features (N, F) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(features.shape[1], 1)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = binary_cross_entropy(layer(features).squeeze(-1), labels)
        loss.backward()
        optimizer.step()
    return layer


# ---------------------------------------------------------------------------
# The model: a GPT body, a new head, read at the last real token
# ---------------------------------------------------------------------------


def pool_last_token(hidden: Tensor, lengths: Tensor) -> Tensor:
    """The vector of each sequence's last real token: ``hidden[b, lengths[b] - 1]`` (exercise 12.1).

    ``hidden`` (B, T, d) holds right-padded sequences of ``lengths`` (B,) real tokens.
    Under causal attention that token is the only one that has seen the whole sequence.
    """
    if hidden.dim() != 3 or lengths.shape != hidden.shape[:1]:
        raise ValueError(f"need hidden (B, T, d) and lengths (B,), got {tuple(hidden.shape)} and {tuple(lengths.shape)}")
    if (lengths < 1).any() or (lengths > hidden.shape[1]).any():
        raise ValueError(f"lengths must be in 1..T={hidden.shape[1]}, got {lengths.tolist()}")
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, lengths - 1]  # (B, d)


class GPTClassifier(nn.Module):
    """A GPT whose language-model head is replaced by a head giving one score per sequence (notebook 12).

    ``token_ids`` (B, T), right-padded with ``pad_id`` -> scores (B,); a score above
    0 means label 1. ``gpt`` is changed in place: its ``out_head`` becomes the
    identity, so ``gpt(token_ids)`` returns the final hidden states (B, T, d_model).
    """

    def __init__(self, gpt: GPT, pad_id: int):
        super().__init__()
        if not 0 <= pad_id < gpt.config.vocab_size:
            raise ValueError(f"pad_id must be a token id in 0..{gpt.config.vocab_size - 1}, got {pad_id}")
        self.gpt = gpt
        self.gpt.out_head = nn.Identity()  # unties it from the token embedding, which stays
        self.pad_id = pad_id
        self.head = nn.Linear(gpt.config.d_model, 1)

    def features(self, token_ids: Tensor) -> Tensor:
        """The last real token's final hidden state, (B, d_model): what the head reads."""
        lengths = (token_ids != self.pad_id).sum(dim=1)  # right padding: real tokens come first
        return pool_last_token(self.gpt(token_ids), lengths)

    def forward(self, token_ids: Tensor) -> Tensor:
        return self.head(self.features(token_ids)).squeeze(-1)  # (B, 1) -> (B,)


def freeze_all_but(model: nn.Module, trainable: Sequence[str]) -> int:
    """Let only the parameters whose names start with one of ``trainable`` train; return their count (notebook 12).

    ``freeze_all_but(classifier, ["head"])`` trains the head alone;
    ``["head", "gpt.blocks.5", "gpt.final_norm"]`` also the last block.
    """
    names = [name for name, _ in model.named_parameters()]
    for prefix in trainable:
        if not any(name.startswith(prefix) for name in names):
            raise ValueError(f"no parameter name starts with {prefix!r}; the names start with "
                             f"{sorted({name.split('.')[0] for name in names})}")
    count = 0
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(any(name.startswith(prefix) for prefix in trainable))
        count += parameter.numel() if parameter.requires_grad else 0
    return count


def binary_cross_entropy(scores: Tensor, labels: Tensor) -> Tensor:
    """The mean of ``-log sigmoid(score)`` for label 1 and ``-log(1 - sigmoid(score))`` for label 0 (exercise 12.2).

    Written as ``softplus(score) - label · score`` (``softplus(x) = log(1 + eˣ)``,
    computed stably), it equals ``F.binary_cross_entropy_with_logits``.
    """
    if scores.shape != labels.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} must have the same shape")
    return (F.softplus(scores) - labels.float() * scores).mean()


def classification_loss(model: nn.Module, token_ids: Tensor, labels: Tensor) -> Tensor:
    """:func:`binary_cross_entropy` of ``model``'s scores: the ``loss_fn`` of :func:`helpers.training.train`."""
    return binary_cross_entropy(model(token_ids), labels)


@torch.no_grad()
def accuracy(model: nn.Module, loader: DataLoader) -> float:
    """The fraction of examples whose score has the right sign, over every batch of ``loader`` (exercise 12.3).

    Batches of different sizes count by their examples, not as one vote each.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    right = total = 0
    for token_ids, labels in loader:
        predicted = (model(token_ids.to(device)) > 0).long()
        right += int((predicted == labels.to(device)).sum())
        total += len(labels)
    model.train(was_training)
    if total == 0:
        raise ValueError("the loader gave no examples")
    return right / total


# ---------------------------------------------------------------------------
# Batches of token ids
# ---------------------------------------------------------------------------


class ClassificationDataset(torch.utils.data.Dataset):
    """Texts encoded once, with their labels; :meth:`collate` right-pads a batch (notebook 12)."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], tokenizer: BPETokenizer, pad_id: int,
                 max_length: int):
        if len(texts) != len(labels):
            raise ValueError(f"got {len(texts)} texts and {len(labels)} labels")
        self.ids = [tokenizer.encode(text) for text in texts]
        too_long = [len(ids) for ids in self.ids if len(ids) > max_length]
        if too_long:
            raise ValueError(f"{len(too_long)} texts are longer than max_length={max_length} tokens "
                             f"(the longest has {max(too_long)})")
        self.labels = list(labels)
        self.pad_id = pad_id

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.labels[i]

    def collate(self, batch: list[tuple[list[int], int]]) -> tuple[Tensor, Tensor]:
        """Token ids (B, longest) right-padded with ``pad_id``, and labels (B,)."""
        longest = max(len(ids) for ids, _ in batch)
        token_ids = torch.tensor([ids + [self.pad_id] * (longest - len(ids)) for ids, _ in batch])
        return token_ids, torch.tensor([label for _, label in batch])


def fine_tune(classifier: nn.Module, dataset: ClassificationDataset, *, steps: int = 200, lr: float = 3e-4,
              batch_size: int = 32, seed: int = 0, progress: bool = True) -> History:
    """Train ``classifier``'s unfrozen weights on ``dataset`` with :func:`classification_loss` (notebooks 12, 14).

    The loop is :func:`helpers.training.train` (AdamW, 10 warm-up steps, cosine decay,
    no weight decay); the loader is made afresh with ``seed``, so every classifier
    fine-tuned with the same arguments sees the same batches in the same order.
    """
    loader = make_loader(dataset, batch_size, seed=seed, collate_fn=dataset.collate)
    return train(classifier, loader, steps=steps, lr=lr, warmup_steps=10, weight_decay=0.0, eval_every=20,
                 loss_fn=classification_loss, seed=seed, progress=progress)


@torch.no_grad()
def pooled_features(classifier: GPTClassifier, loader: DataLoader) -> tuple[Tensor, Tensor]:
    """Every example's :meth:`GPTClassifier.features` and label, with a progress bar (notebook 12).

    With the whole body frozen these never change: compute them once, then train the head on them.
    """
    was_training = classifier.training
    classifier.eval()
    features, labels = [], []
    for token_ids, batch_labels in ProgressBar(loader, desc="features"):
        features.append(classifier.features(token_ids))
        labels.append(batch_labels)
    classifier.train(was_training)
    return torch.cat(features), torch.cat(labels)
