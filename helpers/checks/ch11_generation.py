"""Checks of notebook 11 · generation (references: torch.softmax, worked examples)."""

from __future__ import annotations

from typing import Any

import torch
from torch import tensor

from helpers.checks.core import Case, Cases, exercise


def _close(got: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(got, torch.Tensor)
        and got.shape == expected.shape
        and bool(torch.allclose(got.double(), expected.double(), atol=1e-5, equal_nan=False))
    )


def _row_sums_hint(got: Any) -> str | None:
    if isinstance(got, torch.Tensor) and got.is_floating_point() and got.numel():
        sums = got.sum(dim=-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            return (
                f"your rows sum to {[round(s, 4) for s in sums.reshape(-1).tolist()]}, not 1: a "
                "probability distribution must be renormalised over the last axis (divide by the sum of what you kept)."
            )
    return None


@exercise("11.1", "Scale logits by a temperature", success="Low T sharpens, high T flattens.")
def check_softmax_with_temperature() -> Cases:
    """softmax(logits / T) over the last axis, numerically stable."""
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    batch = torch.tensor([[3.0, 1.0, 0.5], [0.0, 0.0, 2.0]])
    huge = torch.tensor([1000.0, 999.0, 990.0])
    cases = [
        Case((logits, 1.0), torch.softmax(logits, dim=-1), "temperature 1 is the plain softmax."),
        Case((logits, 0.5), torch.softmax(logits / 0.5, dim=-1), "divide the logits by T, then softmax."),
        Case((logits, 2.0), torch.softmax(logits / 2.0, dim=-1), "divide the logits by T, then softmax."),
        Case((batch, 0.7), torch.softmax(batch / 0.7, dim=-1),
             "each row is one distribution: softmax over the last axis (dim=-1)."),
        Case((huge, 0.5), torch.softmax(huge / 0.5, dim=-1),
             "large logits overflow exp(): subtract the row's maximum first, or use torch.softmax."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        values, t = case.args
        if not isinstance(got, torch.Tensor):
            return None
        if torch.isnan(got).any() or torch.isinf(got).any():
            return "exp() overflowed to inf: subtract the row's maximum logit before exp, or call torch.softmax."
        if t != 1 and _close(got, torch.softmax(values * t, dim=-1)):
            return (
                f"you multiplied the logits by T={t}; divide them by T instead, so that T < 1 "
                "sharpens the distribution and T > 1 flattens it."
            )
        plain = torch.softmax(values, dim=-1)
        if t != 1 and (_close(got, plain / t) or _close(got, plain * t) or _close(got, plain)):
            return "the temperature must scale the logits BEFORE the softmax: softmax(logits / T), not softmax(logits) / T."
        if values.dim() == 2 and _close(got, torch.softmax(values / t, dim=0)):
            return "you normalised down the columns: each row is one distribution, so use dim=-1."
        return _row_sums_hint(got)

    return Cases(cases, diagnose, atol=1e-5)


@exercise("11.2", "Keep the top k", success="Only the k best candidates can be drawn now.")
def check_top_k_probs() -> Cases:
    """keep the k largest probabilities (ties with the k-th included), zero the rest, renormalise."""
    cases = [
        Case((tensor([0.1, 0.4, 0.2, 0.3]), 2), tensor([0.0, 4 / 7, 0.0, 3 / 7]),
             "keep the 2 largest (0.4 and 0.3) in their places, zero the others, and renormalise."),
        Case((tensor([0.1, 0.4, 0.2, 0.3]), 1), tensor([0.0, 1.0, 0.0, 0.0]), "k = 1 keeps only the most probable token."),
        Case((tensor([0.1, 0.4, 0.2, 0.3]), 4), tensor([0.1, 0.4, 0.2, 0.3]), "k = vocabulary size keeps everything."),
        Case((tensor([0.1, 0.4, 0.2, 0.3]), 10), tensor([0.1, 0.4, 0.2, 0.3]),
             "k larger than the vocabulary keeps everything (torch.topk needs k <= size: use min(k, size))."),
        Case((tensor([0.4, 0.2, 0.2, 0.1, 0.1]), 2), tensor([0.5, 0.25, 0.25, 0.0, 0.0]),
             "a token tied with the k-th largest probability is kept too: keep every p >= the k-th largest."),
        Case((tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]), 2), tensor([[0.0, 2 / 3, 1 / 3], [0.625, 0.0, 0.375]]),
             "each row is its own distribution: find the k largest of each row (dim=-1)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        probs, k = case.args
        if not isinstance(got, torch.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        kept_expected = int((expected > 0).sum())
        kept_got = int((got > 0).sum())
        if _close(got, torch.sort(expected, dim=-1, descending=True).values) and not _close(got, expected):
            return "you returned the probabilities sorted; put each kept probability back at its token's position."
        unnormalised = probs * (expected > 0)
        if _close(got, unnormalised):
            return "you kept the right tokens but forgot to renormalise: divide by the sum of the kept probabilities."
        rows = probs.shape[:-1].numel()
        if kept_got < kept_expected and kept_expected > k * rows:
            return "a token tied with the k-th largest probability must be kept too: keep every p >= the k-th largest value."
        if kept_got == kept_expected + rows:
            return "you kept one token too many per row: keep the k largest, not k + 1 (check < versus <=)."
        if kept_got == kept_expected - rows:
            return "you kept one token too few per row: keep the k largest, not k - 1."
        return _row_sums_hint(got)

    return Cases(cases, diagnose, atol=1e-5)


@exercise("11.3", "Keep the nucleus (top-p)", success="The nucleus grows and shrinks with the model's confidence.")
def check_top_p_probs() -> Cases:
    """keep the most probable tokens until their mass reaches p (the crossing token included), renormalise."""
    probs = tensor([0.1, 0.5, 0.15, 0.25])
    cases = [
        Case((probs, 0.6), tensor([0.0, 2 / 3, 0.0, 1 / 3]),
             "0.5 is not yet 0.6, so the next token (0.25) is kept too; then stop and renormalise."),
        Case((probs, 0.8), tensor([0.0, 0.5 / 0.9, 0.15 / 0.9, 0.25 / 0.9]),
             "0.5 + 0.25 = 0.75 is below 0.8, so 0.15 is kept as well."),
        Case((probs, 0.3), tensor([0.0, 1.0, 0.0, 0.0]),
             "the most probable token is always kept, even when it alone is more than p."),
        Case((probs, 1.0), probs.clone(), "p = 1 keeps every token."),
        Case((tensor([[0.1, 0.5, 0.15, 0.25], [0.7, 0.1, 0.1, 0.1]]), 0.6),
             tensor([[0.0, 2 / 3, 0.0, 1 / 3], [1.0, 0.0, 0.0, 0.0]]),
             "each row is its own distribution: sort and accumulate along the last axis (dim=-1)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        probs, p = case.args
        if not isinstance(got, torch.Tensor) or got.shape != probs.shape:
            return None
        expected = case.expected
        if torch.isnan(got).any() or (got.sum(dim=-1) == 0).any():
            return "a row kept no token at all: the most probable token must always be kept."
        if _close(got, torch.sort(expected, dim=-1, descending=True).values) and not _close(got, expected):
            return "you returned the probabilities sorted; scatter them back to each token's original position."
        order = torch.sort(probs, dim=-1, descending=True).indices
        kept_sorted = torch.sort(expected, dim=-1, descending=True).values
        if _close(got, kept_sorted.gather(-1, order)) and not _close(got, expected):
            return ("gather reads sorted[order[i]] into position i; you need the opposite, the sorted value j put "
                    "back at position order[j]: torch.zeros_like(probs).scatter(-1, order, kept).")
        if _close(got, probs * (expected > 0)):
            return "you kept the right tokens but forgot to renormalise: divide by the sum of the kept probabilities."
        if int((got > 0).sum()) < int((expected > 0).sum()):
            return (
                "you dropped the token that crosses the threshold: keep a token while the mass BEFORE it is "
                "below p, so the kept mass reaches at least p (cumsum - p_i < p, not cumsum <= p)."
            )
        if int((got > 0).sum()) > int((expected > 0).sum()):
            return "you kept too many tokens: stop as soon as the kept probabilities add up to p or more."
        return _row_sums_hint(got)

    return Cases(cases, diagnose, atol=1e-5)
