"""Notebook 05's checks accept the right answers and catch the plausible wrong ones."""

from __future__ import annotations

import pytest
import torch

from helpers.checks import ch05_attention_heads as checks
from helpers.attention import causal_mask, scaled_dot_product_attention
from helpers.checks.core import EXERCISES, Exercise, WrongAnswer
from helpers.attention import causal_mask as library_causal_mask, split_heads as library_split_heads


def test_exercises_are_registered():
    assert EXERCISES["check_linear_by_hand"] == Exercise("5.1", "A linear layer by hand")
    assert EXERCISES["check_attention_head"] == Exercise("5.2", "One attention head")
    assert EXERCISES["check_causal_mask"] == Exercise("5.3", "The causal mask")
    assert EXERCISES["check_split_heads"] == Exercise("5.4", "Split into heads")


# --- 5.1 nn.Linear by hand -----------------------------------------------------


def test_check_linear_accepts_x_wt_plus_b(capsys):
    checks.check_linear_by_hand(lambda x, weight, bias: x @ weight.T + bias)
    assert "✅ Exercise 5.1" in capsys.readouterr().out


# `x.T` on a batch is one of the wrong answers fed in: torch warns about it, as it would the learner.
@pytest.mark.filterwarnings("ignore:The use of `x.T` on tensors:UserWarning")
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, weight, bias: x @ weight.T, "you forgot the bias"),
        (lambda x, weight, bias: x @ weight + bias, "(out_features, in_features)"),
        (lambda x, weight, bias: (weight @ x.T).T + bias, "(out_features, in_features)"),
    ],
)
def test_check_linear_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_linear_by_hand(wrong)
    assert hint in str(info.value)


# --- 5.2 one attention head ----------------------------------------------------


def make_head(scale=None, transpose=True, swap=False):
    def attention_head(x, W_q, W_k, W_v):
        if swap:
            W_q, W_k = W_k, W_q
        q, k, v = ((x @ W.T) if transpose else (x @ W) for W in (W_q, W_k, W_v))
        s = k.shape[-1] ** -0.5 if scale is None else scale(x, k)
        return torch.softmax(q @ k.transpose(-2, -1) * s, dim=-1) @ v

    return attention_head


def test_check_head_accepts_a_right_answer(capsys):
    checks.check_attention_head(make_head())
    checks.check_attention_head(
        lambda x, W_q, W_k, W_v: scaled_dot_product_attention(x @ W_q.T, x @ W_k.T, x @ W_v.T)
    )
    assert capsys.readouterr().out.count("✅ Exercise 5.2") == 2


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (make_head(scale=lambda x, k: 1.0), "you forgot the 1/√d scaling"),
        (make_head(scale=lambda x, k: x.shape[-1] ** -0.5), "not of the input (d_in)"),
        (make_head(transpose=False), "project with x @ W.T"),
        (make_head(swap=True), "you swapped them"),
    ],
)
def test_check_head_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_attention_head(wrong)
    assert hint in str(info.value)


# --- 5.3 causal mask -----------------------------------------------------------


def test_check_causal_mask_accepts_the_library(capsys):
    checks.check_causal_mask(causal_mask)
    assert "✅ Exercise 5.3" in capsys.readouterr().out


def ones(T):
    return torch.ones(T, T, dtype=torch.bool)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda T: ones(T).tril(-1), "a token may attend to ITSELF"),
        (lambda T: ones(T).tril(1), "the entry just above the diagonal is the NEXT token"),
        (lambda T: ones(T).triu(), "LOWER triangle"),
        (lambda T: ~ones(T).tril(), "invert your mask"),
        (lambda T: ones(T).triu(1), "invert your mask"),
        (lambda T: torch.ones(T, T).tril(), "make it boolean"),
    ],
)
def test_check_causal_mask_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_causal_mask(wrong)
    assert hint in str(info.value)


# --- 5.4 split into heads ------------------------------------------------------


def test_check_split_heads_accepts_view_then_transpose(capsys):
    def split_heads(x, n_heads):
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)

    checks.check_split_heads(split_heads)
    assert "✅ Exercise 5.4" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, n: x.reshape(x.shape[0], n, x.shape[1], -1), "you cut along the wrong axis"),
        (lambda x, n: x.view(x.shape[0], x.shape[1], n, -1), "then swap axes 1 and 2"),
        (
            lambda x, n: x.view(x.shape[0], x.shape[1], -1, n).permute(0, 3, 1, 2),
            "head h must hold features",
        ),
    ],
)
def test_check_split_heads_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_split_heads(wrong)
    assert hint in str(info.value)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    checks.check_linear_by_hand(torch.nn.functional.linear)
    checks.check_attention_head(lambda x, Wq, Wk, Wv: torch.nn.functional.scaled_dot_product_attention(x @ Wq.T, x @ Wk.T, x @ Wv.T))
    checks.check_causal_mask(library_causal_mask)
    checks.check_split_heads(library_split_heads)
    assert capsys.readouterr().out.count("✅") == 4
