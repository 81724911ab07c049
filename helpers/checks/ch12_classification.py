"""Checks of notebook 12 · classification fine-tuning (references: ``helpers.classification``,
F.binary_cross_entropy_with_logits)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.checks.core import Case, Cases, exercise
from helpers.classification import accuracy, binary_cross_entropy, pool_last_token


@exercise("12.1", "Read the last real token", success="Each sequence is now read where it ends, padding or not.")
def check_pool_last_token() -> Cases:
    """hidden[b, lengths[b] - 1] for right-padded hidden (B, T, d) and lengths (B,)."""
    gen = torch.Generator().manual_seed(121)
    examples = [
        (torch.randn(3, 5, 4, generator=gen), torch.tensor([2, 5, 1])),  # one full, one of length 1
        (torch.randn(2, 4, 3, generator=gen), torch.tensor([3, 3])),
        (torch.randn(1, 6, 2, generator=gen), torch.tensor([6])),  # no padding at all
        (torch.randn(4, 3, 5, generator=gen), torch.tensor([1, 2, 3, 2])),
    ]
    hint = "sequence b ends at position lengths[b] - 1; take hidden[b] at that position, for every b."
    cases = [Case((hidden, lengths), pool_last_token(hidden, lengths), hint) for hidden, lengths in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        hidden, lengths = case.args
        if not hasattr(got, "shape"):
            return "return a tensor of shape (B, d): one vector per sequence."
        if tuple(got.shape) == (hidden.shape[0], 1, hidden.shape[2]):
            return "your result is (B, 1, d); return (B, d): one vector per sequence, no token axis."
        if tuple(got.shape) != (hidden.shape[0], hidden.shape[2]):
            return f"return one vector per sequence: shape (B, d) = {(hidden.shape[0], hidden.shape[2])}."
        rows = torch.arange(len(lengths))
        if torch.allclose(got, hidden[:, -1]):
            return ("you took the LAST position, hidden[:, -1]: in a padded sequence that is a padding token. "
                    "Use each sequence's own length.")
        if torch.allclose(got, hidden[:, 0]):
            return "you took the FIRST token: under causal attention it has seen nothing after it."
        if torch.allclose(got, hidden[rows, lengths.clamp(max=hidden.shape[1] - 1)]):
            return "off by one: a sequence of length L ends at position L - 1 (positions count from 0)."
        if torch.allclose(got, hidden.mean(dim=1)):
            return "that is the mean over all positions, padding included: take the last real token's vector."
        return None

    return Cases(cases, diagnose)


@exercise("12.2", "Binary cross-entropy from scores", success="It equals F.binary_cross_entropy_with_logits, even for huge scores.")
def check_binary_cross_entropy() -> Cases:
    """mean(-log σ(s)) for label 1 and mean(-log(1 - σ(s))) for label 0, stable for large |s|."""
    gen = torch.Generator().manual_seed(122)
    examples = [
        (torch.tensor([0.2, 0.9, 0.6]), torch.tensor([0.0, 1.0, 1.0])),  # scores that look like probabilities
        (torch.randn(6, generator=gen) * 2, torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])),
        (torch.zeros(4), torch.tensor([1.0, 0.0, 0.0, 1.0])),  # every loss is ln 2
        (torch.tensor([3.0, -2.0, 0.5]), torch.tensor([1, 0, 0])),  # integer labels, as a loader gives them
        (torch.tensor([100.0, -100.0, 40.0, -60.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])),  # huge scores
    ]
    cases = [Case((scores, labels), F.binary_cross_entropy_with_logits(scores, labels.float()),
                  "σ(s) = 1 / (1 + e^(-s)) is the probability of label 1; the loss is the mean negative "
                  "log-probability of the RIGHT label.")
             for scores, labels in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        scores, labels = case.args
        if not hasattr(got, "shape"):
            return "return a tensor (a scalar): the mean loss."
        if got.dim() != 0:
            if tuple(got.shape) == tuple(scores.shape):
                return "you have one loss per example: take the MEAN over the batch."
            return "return one number (a 0-dimensional tensor)."
        value = float(got)
        if math.isnan(value) or math.isinf(value):
            return ("your loss is NaN or infinite for large scores: σ(100) rounds to exactly 1, and log(1 - 1) "
                    "= -inf. Write the loss in terms of the score: -log σ(s) = softplus(-s), "
                    "-log(1 - σ(s)) = softplus(s) (F.softplus, or F.logsigmoid, is stable).")
        y = labels.float()
        expected = float(case.expected)
        variants = {
            "forgot to negate: a log-probability is negative; the loss is MINUS its mean.": -expected,
            "you summed over the batch: take the mean.": expected * len(scores),
            "labels swapped: label 1 should use -log σ(s), label 0 -log(1 - σ(s)).":
                float(F.binary_cross_entropy_with_logits(scores, 1 - y)),
            "you treated the scores as probabilities: apply the sigmoid first (scores can be any real number).":
                float(-(y * scores.clamp(1e-12, 1 - 1e-12).log() + (1 - y) * (1 - scores).clamp(1e-12, 1 - 1e-12).log()).mean())
                if ((scores > 0) & (scores < 1)).all() else None,
        }
        for hint, variant in variants.items():
            if variant is not None and abs(value - variant) < 1e-4 and abs(variant - expected) > 1e-4:
                return hint
        return None

    return Cases(cases, diagnose, atol=1e-4, library=(F.binary_cross_entropy_with_logits, F.binary_cross_entropy))


class _ScoreFirstToken(nn.Module):
    """A stand-in classifier: the score of a sequence is its first token id minus ``offset``."""

    def __init__(self, offset: float):
        super().__init__()
        self.offset = nn.Parameter(torch.tensor(offset), requires_grad=False)

    def forward(self, token_ids: Tensor) -> Tensor:
        return token_ids[:, 0].float() - self.offset

    def __repr__(self) -> str:
        return f"a model scoring token_ids[:, 0] - {float(self.offset)}"


def _batches(first_tokens: list[int], labels: list[int], batch_size: int) -> list[tuple[Tensor, Tensor]]:
    """A loader as a list of (token_ids (B, 3), labels (B,)) batches; the last one may be smaller."""
    ids = torch.tensor([[t, 7, 7] for t in first_tokens])
    targets = torch.tensor(labels)
    return [(ids[i : i + batch_size], targets[i : i + batch_size]) for i in range(0, len(labels), batch_size)]


class _Loader:
    """A list of batches that a message describes by their sizes."""

    def __init__(self, batches: list[tuple[Tensor, Tensor]]):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __repr__(self) -> str:
        return f"a loader of {len(self.batches)} batches of sizes {[len(labels) for _, labels in self.batches]}"


def _as_number(answer: Any) -> Any:
    """The answer, with a one-element tensor turned into a float (both are fine answers)."""
    def run(*args: Any) -> Any:
        got = answer(*args)
        return float(got) if isinstance(got, Tensor) and got.numel() == 1 else got
    run.__name__ = getattr(answer, "__name__", "accuracy")
    return run


@exercise("12.3", "Accuracy over a loader", success="Every example counts once, whatever the size of its batch.")
def check_accuracy() -> Cases:
    """The fraction of examples, over all batches, whose score > 0 matches its label (1) or < 0 (0)."""
    examples = [
        (2.5, [1, 2, 3, 4, 5, 0, 3, 1, 4], [0, 0, 1, 1, 1, 0, 0, 1, 1], 4),  # batches of 4, 4, 1
        (0.8, [0, 1, 1, 2, 0], [0, 1, 1, 1, 0], 2),  # scores 0.2: a 0.5 threshold differs
        (-1.0, [0, 2, 1], [1, 1, 1], 3),  # every score positive, one batch
        (4.5, [9, 1, 2, 8, 3, 7, 0], [1, 0, 0, 1, 1, 0, 0], 3),  # batches of 3, 3, 1
    ]
    cases = []
    for offset, first_tokens, labels, batch_size in examples:
        model, loader = _ScoreFirstToken(offset), _Loader(_batches(first_tokens, labels, batch_size))
        cases.append(Case((model, loader), accuracy(model, loader),
                          "predict 1 where the score is above 0, count the predictions equal to the labels "
                          "over EVERY batch, and divide by the number of examples."))

    def diagnose(got: Any, case: Case) -> str | None:
        model, loader = case.args
        if not isinstance(got, (int, float)):
            return "return one number: the fraction of examples predicted right."
        rights, sizes, rights_half = [], [], []
        with torch.no_grad():
            for token_ids, labels in loader:
                scores = model(token_ids)
                rights.append(int(((scores > 0).long() == labels).sum()))
                rights_half.append(int(((scores > 0.5).long() == labels).sum()))
                sizes.append(len(labels))
        if got == sum(rights) and sum(rights) != case.expected:
            return "you returned the number of right predictions: divide by the number of examples."
        batch_mean = sum(r / n for r, n in zip(rights, sizes)) / len(sizes)
        if abs(got - batch_mean) < 1e-9 and abs(batch_mean - case.expected) > 1e-9:
            return ("you averaged the batches' accuracies: the last batch is smaller, so its examples count "
                    "more. Add up the right predictions and the examples over all batches, then divide.")
        if abs(got - sum(rights_half) / sum(sizes)) < 1e-9:
            return ("you compared the score with 0.5: the score is a logit; σ(score) > 0.5 exactly where "
                    "score > 0.")
        labels_one = sum(int(labels.sum()) for _, labels in loader) / sum(sizes)
        if abs(got - labels_one) < 1e-9 and abs(labels_one - case.expected) > 1e-9:
            return "you predicted 1 for every example: σ(score) is always above 0; compare the score with 0."
        return None

    return Cases(cases, diagnose, adapt=_as_number)
