"""The checks of notebook 11 (generation): right answers pass, plausible wrong ones get specific hints."""

from __future__ import annotations

import pytest
import torch

from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.checks.ch11_generation import check_softmax_with_temperature, check_top_k_probs, check_top_p_probs
from helpers.generation import next_token_probabilities

# --- right answers ---------------------------------------------------------------


def softmax_with_temperature(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def top_k_probs(probs, k):
    k = min(k, probs.shape[-1])
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    kept = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def top_p_probs(probs, p):
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    keep_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = torch.where(keep, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def top_p_probs_by_loop(probs, p):
    """A plain loop over one row at a time: also right."""
    rows = probs.reshape(-1, probs.shape[-1])
    out = torch.zeros_like(rows)
    for r, row in enumerate(rows):
        total = 0.0
        for i in torch.argsort(row, descending=True).tolist():
            out[r, i] = row[i]
            total += float(row[i])
            if total >= p:
                break
    out = out / out.sum(dim=-1, keepdim=True)
    return out.reshape(probs.shape)


@pytest.mark.parametrize(
    "check, answer",
    [
        (check_softmax_with_temperature, softmax_with_temperature),
        (check_top_k_probs, top_k_probs),
        (check_top_p_probs, top_p_probs),
        (check_top_p_probs, top_p_probs_by_loop),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert "✅ Exercise 11." in capsys.readouterr().out


@pytest.mark.parametrize("check", [check_softmax_with_temperature, check_top_k_probs, check_top_p_probs])
def test_stubs_are_not_solved(check):
    def stub(*args):
        raise NotImplementedError("Exercise 11.x is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        check(stub)


def assert_caught(check, answer, hint_part):
    with pytest.raises(WrongAnswer) as info:
        check(answer)
    assert hint_part in str(info.value), str(info.value)


# --- 11.1 temperature ------------------------------------------------------------


def test_temperature_multiplied_instead_of_divided():
    assert_caught(check_softmax_with_temperature, lambda x, t: torch.softmax(x * t, dim=-1), "you multiplied the logits")


def test_temperature_applied_after_the_softmax():
    assert_caught(check_softmax_with_temperature, lambda x, t: torch.softmax(x, dim=-1) / t, "BEFORE the softmax")


def test_temperature_ignored():
    assert_caught(check_softmax_with_temperature, lambda x, t: torch.softmax(x, dim=-1), "BEFORE the softmax")


def test_temperature_softmax_over_the_wrong_axis():
    assert_caught(check_softmax_with_temperature, lambda x, t: torch.softmax(x / t, dim=0), "dim=-1")


def test_temperature_naive_exp_overflows():
    def naive(x, t):
        e = torch.exp(x / t)
        return e / e.sum(dim=-1, keepdim=True)

    assert_caught(check_softmax_with_temperature, naive, "subtract the row's maximum")


def test_temperature_not_normalised():
    assert_caught(check_softmax_with_temperature, lambda x, t: torch.exp(x / t - x.max()), "not 1")


# --- 11.2 top-k ------------------------------------------------------------------


def test_top_k_forgetting_to_renormalise():
    def answer(probs, k):
        kth = torch.topk(probs, min(k, probs.shape[-1]), dim=-1).values[..., -1:]
        return torch.where(probs >= kth, probs, torch.zeros_like(probs))

    assert_caught(check_top_k_probs, answer, "forgot to renormalise")


def test_top_k_keeping_k_plus_one():
    def answer(probs, k):
        k = min(k + 1, probs.shape[-1])
        kth = torch.topk(probs, k, dim=-1).values[..., -1:]
        kept = torch.where(probs >= kth, probs, torch.zeros_like(probs))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_k_probs, answer, "one token too many")


def test_top_k_breaking_ties_by_index():
    def answer(probs, k):
        k = min(k, probs.shape[-1])
        indices = torch.topk(probs, k, dim=-1).indices
        kept = torch.zeros_like(probs).scatter(-1, indices, probs.gather(-1, indices))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_k_probs, answer, "tied with the k-th largest")


def test_top_k_returning_sorted_values():
    def answer(probs, k):
        values = torch.sort(probs, dim=-1, descending=True).values
        values[..., k:] = 0
        return values / values.sum(dim=-1, keepdim=True)

    assert_caught(check_top_k_probs, answer, "sorted")


def test_top_k_crashing_when_k_exceeds_the_vocabulary():
    def answer(probs, k):
        kth = torch.topk(probs, k, dim=-1).values[..., -1:]
        kept = torch.where(probs >= kth, probs, torch.zeros_like(probs))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_k_probs, answer, "min(k, size)")


# --- 11.3 top-p ------------------------------------------------------------------


def test_top_p_excluding_the_crossing_token():
    def answer(probs, p):
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        keep_sorted = torch.cumsum(sorted_probs, dim=-1) <= p
        keep_sorted[..., 0] = True
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        kept = torch.where(keep, probs, torch.zeros_like(probs))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_p_probs, answer, "crosses the threshold")


def test_top_p_forgetting_to_renormalise():
    def answer(probs, p):
        kept = top_p_probs(probs, p)
        return torch.where(kept > 0, probs, torch.zeros_like(probs))

    assert_caught(check_top_p_probs, answer, "forgot to renormalise")


def test_top_p_keeping_nothing_when_the_top_token_exceeds_p():
    def answer(probs, p):
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        keep_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < p
        keep_sorted &= sorted_probs <= p  # "a token above p on its own is too confident"
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        kept = torch.where(keep, probs, torch.zeros_like(probs))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_p_probs, answer, "always be kept")


def test_top_p_forgetting_to_scatter_back():
    def answer(probs, p):
        sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < p
        kept = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        return kept / kept.sum(dim=-1, keepdim=True)

    assert_caught(check_top_p_probs, answer, "scatter them back")


def test_checks_do_not_let_an_in_place_answer_spoil_later_cases(capsys):
    def in_place(logits, temperature):
        logits /= temperature
        return torch.softmax(logits, dim=-1)

    check_softmax_with_temperature(in_place)
    assert "✅" in capsys.readouterr().out


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    check_softmax_with_temperature(lambda logits, t: next_token_probabilities(logits, temperature=t))
    check_top_k_probs(lambda probs, k: next_token_probabilities(probs.log(), top_k=k))
    check_top_p_probs(lambda probs, p: next_token_probabilities(probs.log(), top_p=p))
    assert capsys.readouterr().out.count("✅") == 3


def test_top_p_with_gather_instead_of_scatter_gets_the_scatter_hint():
    from helpers.checks.ch11_generation import check_top_p_probs

    def with_gather(probs, p):
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < p
        kept = sorted_probs * keep
        return (kept / kept.sum(-1, keepdim=True)).gather(-1, order)

    with pytest.raises(WrongAnswer, match="gather reads"):
        check_top_p_probs(with_gather)
