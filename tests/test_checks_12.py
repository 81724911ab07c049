"""The checks of notebook 12 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks.ch12_classification import check_accuracy, check_binary_cross_entropy, check_pool_last_token
from helpers.checks.core import ExerciseNotSolved, WrongAnswer

# --- 12.1 the last real token -----------------------------------------------


def test_pool_right_answers_pass(capsys):
    check_pool_last_token(lambda hidden, lengths: hidden[torch.arange(len(lengths)), lengths - 1])
    check_pool_last_token(lambda hidden, lengths: torch.stack([h[n - 1] for h, n in zip(hidden, lengths)]))
    check_pool_last_token(lambda hidden, lengths: hidden.gather(
        1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden.shape[2])).squeeze(1))
    assert capsys.readouterr().out.count("Exercise 12.1") == 3


def test_pool_stub_is_not_solved():
    def stub(hidden, lengths):
        raise NotImplementedError("Exercise 12.1: write pool_last_token")

    with pytest.raises(ExerciseNotSolved):
        check_pool_last_token(stub)


@pytest.mark.parametrize("wrong, hint", [
    (lambda hidden, lengths: hidden[:, -1], "LAST position"),
    (lambda hidden, lengths: hidden[:, 0], "FIRST token"),
    (lambda hidden, lengths: hidden.mean(dim=1), "mean over all positions"),
    (lambda hidden, lengths: hidden[torch.arange(len(lengths)), lengths.clamp(max=hidden.shape[1] - 1)], "off by one"),
    (lambda hidden, lengths: hidden[torch.arange(len(lengths)), lengths - 1].unsqueeze(1), r"\(B, 1, d\)"),
])
def test_pool_wrong_answers_are_caught(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_pool_last_token(wrong)


# --- 12.2 binary cross-entropy ------------------------------------------------


def stable(scores, labels):
    labels = labels.float()
    return (labels * F.softplus(-scores) + (1 - labels) * F.softplus(scores)).mean()


def test_bce_right_answers_pass(capsys):
    check_binary_cross_entropy(stable)
    check_binary_cross_entropy(lambda s, y: -(y.float() * F.logsigmoid(s) + (1 - y.float()) * F.logsigmoid(-s)).mean())
    check_binary_cross_entropy(lambda s, y: F.binary_cross_entropy_with_logits(s, y.float()))
    out = capsys.readouterr().out
    assert out.count("Exercise 12.2") == 3 and "binary_cross_entropy_with_logits" in out


def naive(scores, labels):
    p, y = torch.sigmoid(scores), labels.float()
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


@pytest.mark.parametrize("wrong, hint", [
    (naive, "NaN or infinite"),
    (lambda s, y: -stable(s, y), "forgot to negate"),
    (lambda s, y: stable(s, y) * len(s), "summed over the batch"),
    (lambda s, y: stable(s, 1 - y.float()), "labels swapped"),
    (lambda s, y: (y.float() * F.softplus(-s) + (1 - y.float()) * F.softplus(s)), "one loss per example"),
    (lambda s, y: -(y.float() * s.clamp(1e-12, 1).log() + (1 - y.float()) * (1 - s).clamp(1e-12, 1).log()).mean(),
     r"as probabilities|NaN"),
])
def test_bce_wrong_answers_are_caught(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_binary_cross_entropy(wrong)


# --- 12.3 accuracy over a loader ----------------------------------------------


def test_accuracy_right_answers_pass(capsys):
    def counted(model, loader):
        right = total = 0
        with torch.no_grad():
            for ids, labels in loader:
                right += int(((model(ids) > 0).long() == labels).sum())
                total += len(labels)
        return right / total

    def concatenated(model, loader):
        with torch.no_grad():
            scores = torch.cat([model(ids) for ids, _ in loader])
        labels = torch.cat([labels for _, labels in loader])
        return ((torch.sigmoid(scores) > 0.5) == labels.bool()).float().mean()  # a tensor: accepted

    check_accuracy(counted)
    check_accuracy(concatenated)
    assert capsys.readouterr().out.count("Exercise 12.3") == 2


def batch_mean(model, loader):
    accuracies = [float(((model(ids) > 0).long() == labels).float().mean()) for ids, labels in loader]
    return sum(accuracies) / len(accuracies)


@pytest.mark.parametrize("wrong, hint", [
    (batch_mean, "averaged the batches"),
    (lambda m, l: sum(int(((m(i) > 0).long() == y).sum()) for i, y in l), "number of right predictions"),
    (lambda m, l: sum(int(((m(i) > 0.5).long() == y).sum()) for i, y in l) / sum(len(y) for _, y in l), "0.5"),
    (lambda m, l: sum(int(((torch.sigmoid(m(i)) > 0).long() == y).sum()) for i, y in l) / sum(len(y) for _, y in l),
     "every example"),
])
def test_accuracy_wrong_answers_are_caught(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_accuracy(wrong)
