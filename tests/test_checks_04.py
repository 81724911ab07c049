"""Notebook 04's checks accept the right answers and catch the plausible wrong ones."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.checks import ch04_softmax_attention as checks
from helpers.attention import scaled_dot_product_attention, softmax
from helpers.checks.core import EXERCISES, Exercise, WrongAnswer
from helpers.attention import scaled_dot_product_attention as library_sdpa, softmax as library_softmax


def test_exercises_are_registered():
    assert EXERCISES["check_softmax"] == Exercise("4.1", "Softmax from scratch")
    assert EXERCISES["check_scaled_dot_product_attention"] == Exercise(
        "4.2", "Scaled dot-product attention"
    )


# --- 4.1 softmax -------------------------------------------------------------


def test_check_softmax_accepts_the_library_softmax(capsys):
    checks.check_softmax(lambda x, beta=1.0: softmax(x, beta=beta))
    assert "✅ Exercise 4.1" in capsys.readouterr().out


def no_max_subtraction(x, beta=1.0):
    e = torch.exp(beta * x)
    return e / e.sum(dim=-1, keepdim=True)


def wrong_axis(x, beta=1.0):
    z = beta * x
    e = torch.exp(z - z.max())
    return e / e.sum(dim=0, keepdim=True)


def no_normalisation(x, beta=1.0):
    z = beta * x
    return torch.exp(z - z.max(dim=-1, keepdim=True).values)


def ignores_beta(x, beta=1.0):
    return torch.softmax(x, dim=-1)


def subtracts_the_minimum(x, beta=1.0):
    z = beta * x
    e = torch.exp(z - z.min(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def subtracts_the_global_maximum(x, beta=1.0):
    z = beta * x
    e = torch.exp(z - z.max())
    return e / e.sum(dim=-1, keepdim=True)


def log_sum_exp(x, beta=1.0):  # correct, written another way: exp(z - logsumexp(z))
    z = beta * x
    m = z.max(dim=-1, keepdim=True).values
    return torch.exp(z - (m + torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))))


def test_check_softmax_accepts_a_log_sum_exp_softmax(capsys):
    checks.check_softmax(log_sum_exp)
    assert "✅ Exercise 4.1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_max_subtraction, "exp overflowed"),
        (wrong_axis, "COLUMNS sum to 1"),
        (no_normalisation, "did you divide exp(...) by its sum"),
        (ignores_beta, "you ignored beta"),
        (subtracts_the_minimum, "you subtracted the SMALLEST entry"),
        (subtracts_the_global_maximum, "the largest entry of the whole tensor"),
    ],
)
def test_check_softmax_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_softmax(wrong)
    assert hint in str(info.value)


# --- 4.2 scaled dot-product attention ------------------------------------------


def make_attention(scale=lambda d: d**-0.5, dim=-1, invert_mask=False, use_mask=True):
    def attention(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) * scale(q.shape[-1])
        if mask is not None and use_mask:
            scores = scores.masked_fill(mask if invert_mask else ~mask, -math.inf)
        return torch.softmax(scores, dim=dim) @ v

    return attention


def test_check_sdpa_accepts_the_library_and_a_hand_written_answer(capsys):
    checks.check_scaled_dot_product_attention(scaled_dot_product_attention)
    checks.check_scaled_dot_product_attention(make_attention())
    assert capsys.readouterr().out.count("✅ Exercise 4.2") == 2


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (make_attention(scale=lambda d: 1.0), "you forgot to divide the scores by √d"),
        (make_attention(scale=lambda d: 1 / d), "divide by √d, not by d"),
        (make_attention(dim=-2), "use dim=-1, not dim=-2"),
        (make_attention(use_mask=False), "you ignored the mask"),
        (make_attention(invert_mask=True), "the mask is upside down"),
    ],
)
def test_check_sdpa_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_scaled_dot_product_attention(wrong)
    assert hint in str(info.value)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    checks.check_softmax(library_softmax)
    checks.check_scaled_dot_product_attention(library_sdpa)
    assert capsys.readouterr().out.count("✅") == 2


def test_an_answer_that_calls_the_library_passes_with_a_note_and_a_hand_written_one_without(capsys):
    import torch.nn.functional as F

    checks.check_scaled_dot_product_attention(lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    out = capsys.readouterr().out
    assert "✅ Exercise 4.2" in out and "calls F.scaled_dot_product_attention" in out
    checks.check_scaled_dot_product_attention(make_attention())
    assert "calls" not in capsys.readouterr().out


def test_check_sdpa_catches_a_scale_by_the_number_of_keys():
    with pytest.raises(WrongAnswer, match="the square root of the number of keys"):
        checks.check_scaled_dot_product_attention(lambda q, k, v, mask=None: make_attention(
            scale=lambda d: k.shape[-2] ** -0.5)(q, k, v, mask))
