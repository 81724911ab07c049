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


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_max_subtraction, "exp overflowed"),
        (wrong_axis, "COLUMNS sum to 1"),
        (no_normalisation, "did you divide exp(...) by its sum"),
        (ignores_beta, "you ignored beta"),
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
