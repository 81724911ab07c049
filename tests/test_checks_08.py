"""Notebook 08's checks: the right answers pass, plausible wrong ones are caught with a useful hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.checks import ch08_transformer_block as checks
from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.model import LayerNorm, gelu as library_gelu


def layer_norm(x, scale, shift, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * scale + shift


def test_check_layer_norm_passes_the_right_answer(capsys):
    checks.check_layer_norm(layer_norm)
    checks.check_layer_norm(lambda x, s, b, eps: F.layer_norm(x, (x.shape[-1],), s, b, eps))
    assert "Exercise 8.1" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, s, b, eps: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * s + b,
     "unbiased variance"),
    (lambda x, s, b, eps: (x - x.mean(-1, keepdim=True))
     / (x.var(-1, keepdim=True, unbiased=False).sqrt() + eps) * s + b, "eps belongs INSIDE"),
    (lambda x, s, b, eps: layer_norm(x, 1.0, 0.0, eps), "forgot the learnable scale and shift"),
    (lambda x, s, b, eps: (x - x.mean(0, keepdim=True))
     / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps) * s + b, "LAST axis"),
    (lambda x, s, b, eps: (x - x.mean(-1, keepdim=True))
     / (x.var(-1, keepdim=True, unbiased=False) + eps) * s + b, "not by the variance"),
])
def test_check_layer_norm_catches_plausible_mistakes(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_layer_norm(wrong)


def test_check_layer_norm_says_not_solved_on_the_stub():
    def stub(x, scale, shift, eps=1e-5):
        raise NotImplementedError("Exercise 8.1 (Layer normalisation from scratch) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        checks.check_layer_norm(stub)


def test_check_gelu_passes_the_tanh_formula_and_catches_relu_erf_and_constants():
    checks.check_gelu(lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))))
    for wrong, hint in [
        (torch.relu, "that is ReLU"),
        (F.gelu, "exact GELU"),
        (lambda x: x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), "factor 0.5"),
        (lambda x: 0.5 * x * (1 + torch.tanh(2 / math.pi * (x + 0.044715 * x**3))), "not 2/π"),
        (lambda x: x * torch.sigmoid(1.702 * x), "sigmoid approximation"),
    ]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_gelu(wrong)


def right_block(x, attn, ff, norm1, norm2):
    h = x + attn(norm1(x))
    return h + ff(norm2(h))


def test_check_pre_norm_block_passes_the_right_answer_and_the_library_block(capsys):
    checks.check_pre_norm_block(right_block)
    assert "Exercise 8.3" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, a, f, n1, n2: n2((h := n1(x + a(x))) + f(h)), "POST-norm"),
    (lambda x, a, f, n1, n2: a(n1(x)) + f(n2(a(n1(x)))), "first shortcut is missing"),
    (lambda x, a, f, n1, n2: f(n2(x + a(n1(x)))), "second shortcut is missing"),
    (lambda x, a, f, n1, n2: (h := x + a(n1(x))) + f(n1(h)), "its OWN layer norm"),
    (lambda x, a, f, n1, n2: x + a(n1(x)) + f(n2(x)), r"ff\(norm2\(h\)\)"),
    (lambda x, a, f, n1, n2: (h := n1(x) + a(n1(x))) + f(n2(h)), "UN-normalised x"),
    (lambda x, a, f, n1, n2: right_block(x, a, f, n1, n2)[:, -1], "same shape as x"),
])
def test_check_pre_norm_block_catches_plausible_mistakes(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checks.check_pre_norm_block(wrong)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    def layer_norm(x, scale, shift, eps):
        norm = LayerNorm(x.shape[-1], eps)
        norm.scale.data, norm.shift.data = scale, shift
        return norm(x)

    def block(x, attn, ff, norm1, norm2):  # the library's TransformerBlock.forward, with these parts
        h = x + attn(norm1(x))
        return h + ff(norm2(h))

    checks.check_layer_norm(layer_norm)
    checks.check_gelu(library_gelu)
    checks.check_pre_norm_block(block)
    assert capsys.readouterr().out.count("✅") == 3


def test_global_statistics_and_a_feed_forward_on_the_attention_output_get_hints_that_fit():
    from helpers.checks import ch08_transformer_block

    def global_layer_norm(x, scale, shift, eps=1e-5):
        return (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * scale + shift

    def ff_on_attention(x, attn, ff, norm1, norm2):
        a = attn(norm1(x))
        return x + a + ff(norm2(a))

    with pytest.raises(WrongAnswer, match="one mean and one variance for the whole tensor"):
        ch08_transformer_block.check_layer_norm(global_layer_norm)
    with pytest.raises(WrongAnswer, match="not the attention's output alone"):
        ch08_transformer_block.check_pre_norm_block(ff_on_attention)
