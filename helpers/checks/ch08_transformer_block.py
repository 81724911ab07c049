"""Checks of notebook 08 · the transformer block (references: F.layer_norm, F.gelu, ``helpers.model``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from helpers.checks.core import Case, Cases, exercise
from helpers.model import GPTConfig, TransformerBlock


def _layer_norm_variants(x, scale, shift, eps):
    """Plausible wrong layer norms, each with the hint that explains it."""
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    right = (x - mean) / torch.sqrt(var + eps)
    return [
        ((x - mean) / torch.sqrt(x.var(-1, keepdim=True, unbiased=True) + eps) * scale + shift,
         "you used the unbiased variance (dividing by n - 1). Layer norm divides by n: "
         "x.var(dim=-1, keepdim=True, unbiased=False), or ((x - mean)**2).mean(-1, keepdim=True)."),
        ((x - mean) / (torch.sqrt(var) + eps) * scale + shift,
         "eps belongs INSIDE the square root: (x - mean) / sqrt(var + eps)."),
        ((x - mean) / torch.sqrt(var) * scale + shift,
         "add eps to the variance before the square root: (x - mean) / sqrt(var + eps)."),
        (right, "you normalised but forgot the learnable scale and shift: ... * scale + shift."),
        ((x - mean) / (var + eps) * scale + shift,
         "divide by the standard deviation sqrt(var + eps), not by the variance."),
        ((x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps)
         * scale + shift,
         "normalise over the LAST axis (each token's own features, dim=-1), not over the batch."),
        ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * scale + shift,
         "you used one mean and one variance for the whole tensor: each token is normalised with its "
         "OWN statistics, over its features: x.mean(dim=-1, keepdim=True)."),
    ]


@exercise("8.1", "Layer normalisation from scratch", success="Your layer norm matches nn.LayerNorm.")
def check_layer_norm() -> Cases:
    """mean 0, biased variance 1 over the last axis, eps inside the sqrt, then scale and shift."""
    gen = torch.Generator().manual_seed(8)
    x1 = torch.randn(2, 3, 6, generator=gen) * 3 + 1
    s1, b1 = torch.ones(6), torch.zeros(6)
    x2 = torch.randn(4, 5, generator=gen) * 2 - 3
    s2, b2 = torch.randn(5, generator=gen), torch.randn(5, generator=gen)
    x3 = torch.tensor([[1.0, 3.0], [-2.0, 2.0]])
    x4 = torch.tensor([[2.0, 2.001, 1.999, 2.0]])  # nearly constant: eps matters
    cases = []
    for x, s, b, hint in [
        (x1, s1, b1, "normalise each token's vector: subtract its mean, divide by sqrt(var + eps)."),
        (x2, s2, b2, "after normalising, multiply by scale and add shift (both have one value per feature)."),
        (x3, torch.ones(2), torch.zeros(2), "[1, 3] has mean 2 and (biased) variance 1, so it becomes [-1, 1]."),
        (x4, torch.ones(4), torch.zeros(4), "eps goes inside the square root: sqrt(var + eps)."),
    ]:
        expected = torch.nn.functional.layer_norm(x, (x.shape[-1],), s, b, eps=1e-5)
        cases.append(Case((x, s, b, 1e-5), expected, hint))

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return None
        for wrong, hint in _layer_norm_variants(*case.args):
            if torch.allclose(torch.as_tensor(got, dtype=torch.float32), wrong, atol=1e-5, rtol=0) \
                    and not torch.allclose(wrong, case.expected, atol=1e-5, rtol=0):
                return hint
        return None

    return Cases(cases, diagnose, atol=1e-5)


@exercise("8.2", "GELU, as GPT-2 computes it", success="Same numbers as F.gelu(x, approximate='tanh').")
def check_gelu() -> Cases:
    """the tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    x1 = torch.linspace(-4, 4, 9)
    x2 = torch.tensor([[-0.5, 0.1, 1.5], [2.5, -1.5, 0.0]])
    cases = [
        Case((x1,), F.gelu(x1, approximate="tanh"), "GELU(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        Case((x2,), F.gelu(x2, approximate="tanh"), "apply the formula element by element; keep the shape."),
    ]
    variants = [
        (lambda x: torch.relu(x), "that is ReLU (max(0, x)). GELU is smooth and slightly negative "
         "for small negative x: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        (lambda x: F.gelu(x), "that is the exact GELU (with erf). GPT-2 uses the tanh approximation; "
         "to reproduce GPT-2's numbers, use 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."),
        (lambda x: x * (1 + torch.tanh((2 / math.pi) ** 0.5 * (x + 0.044715 * x**3))),
         "you forgot the factor 0.5 in front."),
        (lambda x: 0.5 * x * (1 + torch.tanh(2 / math.pi * (x + 0.044715 * x**3))),
         "the constant is √(2/π) ≈ 0.7979, not 2/π."),
        (lambda x: x * torch.sigmoid(1.702 * x), "that is the sigmoid approximation x·σ(1.702x); "
         "GPT-2 uses the tanh one."),
    ]

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return None
        for wrong, hint in variants:
            if torch.allclose(torch.as_tensor(got, dtype=torch.float32), wrong(case.args[0]),
                                 atol=1e-5, rtol=0):
                return hint
        return None

    return Cases(cases, diagnose, atol=1e-5)


def _block(seed: int, d_model: int = 6) -> TransformerBlock:
    """A small pre-norm block whose two layer norms differ, seeded (the caller's random state is kept)."""
    config = GPTConfig(vocab_size=1, context_length=8, d_model=d_model, n_layers=1, n_heads=2, dropout=0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        block = TransformerBlock(config).eval()
        with torch.no_grad():
            for norm in (block.norm1, block.norm2):
                norm.scale.copy_(1 + 0.5 * torch.randn(d_model))
                norm.shift.copy_(0.5 * torch.randn(d_model))
    return block


@exercise("8.3", "The pre-norm transformer block", success="Pre-norm block with both shortcuts, as in GPT-2.")
def check_pre_norm_block() -> Cases:
    """``h = x + attn(norm1(x))``; ``out = h + ff(norm2(h))``."""
    gen = torch.Generator().manual_seed(83)
    cases = []
    for seed, shape in [(1, (1, 4, 6)), (2, (2, 5, 6)), (3, (1, 1, 6))]:
        block = _block(seed)
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            expected = block(x)
        cases.append(Case((x, block.attn, block.ff, block.norm1, block.norm2), expected,
                          "h = x + attn(norm1(x)), then return h + ff(norm2(h))."))

    def variants(x, attn, ff, norm1, norm2):
        a = attn(norm1(x))
        h = x + a
        post_h = norm1(x + attn(x))
        return [
            (h + ff(norm2(a)), "the feed-forward reads h = x + attn(norm1(x)), the sum that the shortcut "
             "made, not the attention's output alone: h + ff(norm2(h))."),
            (h + ff(a), "the feed-forward reads the normalised sum: h + ff(norm2(h)), with h = x + attn(norm1(x))."),
            (norm2(post_h + ff(post_h)), "that is the 2017 POST-norm block, norm(x + sublayer(x)). "
             "Pre-norm normalises the input of each sub-layer and leaves the residual path "
             "untouched: x + attn(norm1(x))."),
            (attn(norm1(x)) + ff(norm2(attn(norm1(x)))), "the first shortcut is missing: "
             "add x back after attention, h = x + attn(norm1(x))."),
            (ff(norm2(h)), "the second shortcut is missing: return h + ff(norm2(h))."),
            (h + ff(norm1(h)), "the feed-forward has its OWN layer norm: use norm2 before ff, not norm1."),
            (h + ff(norm2(x)), "the feed-forward reads the output of the attention step: ff(norm2(h)), "
             "not ff(norm2(x))."),
            (norm1(x) + attn(norm1(x)) + ff(norm2(norm1(x) + attn(norm1(x)))),
             "the shortcut carries the UN-normalised x: h = x + attn(norm1(x)), not norm1(x) + ..."),
        ]

    def diagnose(got, case):
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return ("the block must return a tensor of the same shape as x, (B, T, d_model)."
                    if hasattr(got, "shape") else None)
        with torch.no_grad():
            for wrong, hint in variants(*case.args):
                if torch.allclose(got.detach(), wrong, atol=1e-5, rtol=0):
                    return hint
        return None

    return Cases(cases, diagnose, atol=1e-5)
