"""Notebook 05's checks accept the right answers and catch the plausible wrong ones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks import ch05_attention_heads as checks
from helpers.attention import MultiHeadAttention, SelfAttentionHead, causal_mask, scaled_dot_product_attention
from helpers.checks.core import EXERCISES, Exercise, WrongAnswer
from helpers.attention import causal_mask as library_causal_mask, split_heads as library_split_heads


def test_exercises_are_registered():
    assert EXERCISES["check_linear_by_hand"] == Exercise("5.1", "A linear layer by hand")
    assert EXERCISES["check_attention_head"] == Exercise("5.2", "One attention head")
    assert EXERCISES["check_causal_mask"] == Exercise("5.3", "The causal mask")
    assert EXERCISES["check_split_heads"] == Exercise("5.6", "Split into heads")
    assert EXERCISES["check_multi_head"] == Exercise("5.5", "Multi-head attention from heads")
    assert EXERCISES["check_head_module"] == Exercise("5.4", "An attention head as a module")


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


# --- 5.6 split into heads ------------------------------------------------------


def test_check_split_heads_accepts_view_then_transpose(capsys):
    def split_heads(x, n_heads):
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)

    checks.check_split_heads(split_heads)
    assert "✅ Exercise 5.6" in capsys.readouterr().out


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


# --- 5.4 an attention head as a module ----------------------------------------


def make_head_class(scale=lambda k: k.shape[-1] ** -0.5, causal=True, dim=-1, bias=False, transposed=False):
    class Head(torch.nn.Module):
        def __init__(self, d_in, head_size, context_length):
            super().__init__()
            shape = (head_size, d_in) if transposed else (d_in, head_size)
            self.key = torch.nn.Linear(*shape, bias=bias)
            self.query = torch.nn.Linear(*shape, bias=bias)
            self.value = torch.nn.Linear(*shape, bias=bias)
            self.register_buffer("tril", torch.tril(torch.ones(context_length, context_length)))

        def forward(self, x):
            T = x.shape[1]
            k, q = self.key(x), self.query(x)
            weights = q @ k.transpose(-2, -1) * scale(k)
            if causal:
                weights = weights.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
            return torch.softmax(weights, dim=dim) @ self.value(x)

    return Head


class FusedHead(torch.nn.Module):  # unusual but correct: PyTorch's fused kernel does the attention
    def __init__(self, d_in, head_size, context_length):
        super().__init__()
        self.query, self.key, self.value = (torch.nn.Linear(d_in, head_size, bias=False) for _ in range(3))

    def forward(self, x):
        return F.scaled_dot_product_attention(self.query(x), self.key(x), self.value(x), is_causal=True)


def test_check_head_module_accepts_the_slides_head_and_a_fused_one(capsys):
    checks.check_head_module(make_head_class())
    checks.check_head_module(FusedHead)
    assert capsys.readouterr().out.count("✅ Exercise 5.4") == 2


@pytest.mark.parametrize("wrong, hint", [
    (make_head_class(scale=lambda k: 1.0), "scale the scores by head_size ** -0.5"),
    (make_head_class(scale=lambda k: 6 ** -0.5), "not by d_in"),
    (make_head_class(causal=False), "mask the future"),
    (make_head_class(dim=-2), "dim=-1"),
    (make_head_class(bias=True), "make it nn.Linear(d_in, head_size, bias=False)"),
    (make_head_class(transposed=True), "stores (head_size, d_in)"),
])
def test_check_head_module_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_head_module(wrong)
    assert hint in str(info.value), str(info.value)


def test_check_head_module_wants_the_class_not_an_instance():
    with pytest.raises(TypeError, match="pass the class itself"):
        checks.check_head_module(make_head_class()(4, 2, 4))


# --- 5.5 multi-head attention from heads ----------------------------------------


def make_multi_head(dim=-1, project=True, head_size=lambda d_model, n_heads: d_model // n_heads):
    class MultiHead(torch.nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.heads = torch.nn.ModuleList(
                [SelfAttentionHead(d_model, head_size(d_model, n_heads)) for _ in range(n_heads)])
            self.proj = torch.nn.Linear(d_model, d_model)

        def forward(self, x):
            out = torch.cat([head(x) for head in self.heads], dim=dim)
            return self.proj(out) if project else out

    return MultiHead


def test_check_multi_head_accepts_a_right_answer(capsys):
    checks.check_multi_head(make_multi_head())
    assert "✅ Exercise 5.5" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (make_multi_head(dim=1), "along the LAST axis (dim=-1)"),
    (make_multi_head(project=False), "you forgot the output projection"),
    (make_multi_head(head_size=lambda d_model, n_heads: d_model), "SelfAttentionHead(d_model, d_model // n_heads)"),
])
def test_check_multi_head_catches(wrong, hint):
    with pytest.raises(WrongAnswer) as info:
        checks.check_multi_head(wrong)
    assert hint in str(info.value), str(info.value)


def test_the_reference_of_check_multi_head_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2).eval()
    theirs = torch.nn.MultiheadAttention(8, 2, bias=True, batch_first=True).eval()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.W_query.weight, ours.W_key.weight, ours.W_value.weight]))
        theirs.in_proj_bias.zero_()
        theirs.out_proj.load_state_dict(ours.out_proj.state_dict())
        x = torch.randn(2, 5, 8)
        expected, _ = theirs(x, x, x, attn_mask=~causal_mask(5), need_weights=False)
    assert torch.allclose(ours(x), expected, atol=1e-6)
