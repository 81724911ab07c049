"""Checks of notebook 15 · the modern block (references: ``F.rms_norm``, ``helpers.modern``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers import modern
from helpers.checks.core import Case, Cases, exercise


def _first_match(got: Tensor, expected: Tensor, variants: dict[str, Callable[[], Tensor]],
                 atol: float = 1e-4) -> str | None:
    """The hint of the first wrong answer that ``got`` equals (and the right answer does not), within ``atol``.

    Compared as floats, so that boolean masks compare too.
    """
    got, expected = got.detach().float(), expected.float()
    for hint, wrong in variants.items():
        try:
            value = wrong().float()
        except RuntimeError:  # shapes that do not fit: not this mistake
            continue
        if value.shape == got.shape == expected.shape and torch.allclose(got, value, atol=atol, rtol=0, equal_nan=True) \
                and not torch.allclose(value, expected, atol=atol, rtol=0):
            return hint
    return None


# --- 15.1 RMSNorm ---------------------------------------------------------------------


@exercise("15.1", "RMSNorm", success="One reduction, no mean and no shift: that is RMSNorm.")
def check_rms_norm() -> Cases:
    """x / sqrt(mean(x²) + eps) · scale over the last axis, as torch.nn.functional.rms_norm computes it."""
    gen = torch.Generator().manual_seed(151)
    zero_row = torch.randn(3, 4, generator=gen)
    zero_row[1] = 0.0  # a padding vector: only eps keeps it from 0 / 0
    examples = [
        (torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.ones(4), 1e-5,
         "one vector: mean(x²) = 7.5, so each entry is divided by √7.5 ≈ 2.739."),
        (torch.randn(3, 6, generator=gen) + 1.0, torch.randn(6, generator=gen), 1e-4, ""),
        (torch.randn(2, 4, 8, generator=gen), 1 + 0.5 * torch.randn(8, generator=gen), 1e-6,
         "a batch of sequences (B, T, d): each token's vector, the last axis, is normalised on its own."),
        (0.05 * torch.randn(2, 5, generator=gen), torch.randn(5, generator=gen), 0.01,
         "a large eps (0.01) next to small values: eps goes inside the square root, sqrt(mean(x²) + eps)."),
        (zero_row, torch.randn(4, generator=gen), 1e-5,
         "a row of zeros (padding) must stay zeros: eps inside the square root keeps it from 0 / 0."),
        (torch.randn(4, 4, generator=gen) - 0.5, torch.randn(4, generator=gen), 1e-5, ""),
    ]
    general = "divide each vector (the last axis) by sqrt(mean(x²) + eps), then multiply by scale."
    cases = [Case((x, scale, eps), F.rms_norm(x, (x.shape[-1],), scale, eps=eps), hint or general)
             for x, scale, eps, hint in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        x, scale, eps = case.args
        if not isinstance(got, Tensor):
            return "return a tensor of x's shape."
        if tuple(got.shape) != tuple(x.shape):
            return (f"the result keeps x's shape {tuple(x.shape)}; use mean(dim=-1, keepdim=True) so the "
                    "mean square of each vector broadcasts back over it.")
        if torch.isnan(got).any():
            return ("your result has NaN: a row of zeros has mean(x²) = 0, and 0 / 0 is NaN. "
                    "Add eps inside the square root: sqrt(mean(x²) + eps).")
        squares = x.pow(2)
        ms = squares.mean(dim=-1, keepdim=True)
        centred = x - x.mean(dim=-1, keepdim=True)
        return _first_match(got, case.expected, {
            "you subtracted the mean: that is layer norm. RMSNorm divides x itself by its root mean "
            "square, without centring.": lambda: centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * scale,
            "you divided by the standard deviation (x.std or x.var): RMSNorm uses the root mean SQUARE, "
            "sqrt(mean(x²) + eps), with no mean subtracted.": lambda: x / torch.sqrt(x.var(-1, keepdim=True) + eps) * scale,
            "you divided by the standard deviation: RMSNorm uses the root mean SQUARE, sqrt(mean(x²) + eps), "
            "not the spread around the mean.": lambda: x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps) * scale,
            "you divided by x.std(...) + eps: RMSNorm uses sqrt(mean(x²) + eps), no mean subtracted.":
                lambda: x / (x.std(-1, keepdim=True) + eps) * scale,
            "eps goes INSIDE the square root: sqrt(mean(x²) + eps), not sqrt(mean(x²)) + eps.":
                lambda: x / (torch.sqrt(ms) + eps) * scale,
            "eps is missing: divide by sqrt(mean(x²) + eps).": lambda: x / torch.sqrt(ms) * scale,
            "you forgot to multiply by scale (the learnable gain, one number per feature).":
                lambda: x / torch.sqrt(ms + eps),
            "multiply by scale, do not add it.": lambda: x / torch.sqrt(ms + eps) + scale,
            "you forgot the square root: divide by sqrt(mean(x²) + eps), the ROOT mean square.":
                lambda: x / (ms + eps) * scale,
            "that is the SUM of squares (the length of the vector): take the MEAN, so the result does not "
            "depend on the width d.": lambda: x / torch.sqrt(squares.sum(-1, keepdim=True) + eps) * scale,
            "square first, then average: mean(x²), not mean(x)².":
                lambda: x / torch.sqrt(x.mean(-1, keepdim=True).pow(2) + eps) * scale,
            "you averaged over the wrong axis: each vector is the LAST axis, mean(dim=-1, keepdim=True).":
                lambda: x / torch.sqrt(squares.mean(0, keepdim=True) + eps) * scale,
            "you averaged over the whole tensor: each vector (the last axis) has its own mean square, "
            "mean(dim=-1, keepdim=True).": lambda: x / torch.sqrt(squares.mean() + eps) * scale,
        }, atol=1e-5)  # the check's tolerance: a misplaced eps changes a result by only about 1e-4

    return Cases(cases, diagnose, atol=1e-5, library=(F.rms_norm, nn.RMSNorm, modern.RMSNorm))


# --- 15.2 rotate pairs of dimensions --------------------------------------------------


def _rotation_variants(x: Tensor, angles: Tensor) -> dict[str, Callable[[], Tensor]]:
    """Plausible wrong rotations of ``x`` (..., T, head_dim) by ``angles`` (T, head_dim / 2)."""
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., 0::2], x[..., 1::2]

    def interleave(a: Tensor, b: Tensor) -> Tensor:
        return torch.stack([a, b], dim=-1).flatten(-2)

    return {
        "your rotation turns the wrong way: (x0, x1) → (x0·cos − x1·sin, x0·sin + x1·cos). Check the signs "
        "of the sin terms.": lambda: interleave(first * cos + second * sin, -first * sin + second * cos),
        "you paired dim i with dim i + head_dim/2 (the rotate-half pairing): this exercise pairs NEIGHBOURS, "
        "dims (0, 1), (2, 3), ... — x[..., 0::2] with x[..., 1::2].": lambda: modern.rotate_half(x, angles),
        "cos and sin are swapped: x0' = x0·cos − x1·sin. At angle 0 nothing may change.":
            lambda: interleave(first * sin - second * cos, first * cos + second * sin),
        "both numbers of a pair change: x1' = x0·sin + x1·cos too, not only x0'.":
            lambda: interleave(first * cos - second * sin, second),
        "each rotated pair goes back in its own place, dims (2i, 2i + 1), next to each other: not all the "
        "first numbers and then all the second ones (torch.cat).":
            lambda: torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1),
        "every pair turned by the first angle: pair i turns by angles[..., i], its own.":
            lambda: modern.rotate_pairs(x, angles[..., :1].expand_as(angles)),
    }


@exercise("15.2", "Rotate pairs of dimensions", success="Every pair turns by its own angle: position is now a rotation.")
def check_rotate_pairs() -> Cases:
    """Dims (0, 1), (2, 3), ... of x (..., T, head_dim), pair i rotated by +angles[t, i]."""
    gen = torch.Generator().manual_seed(152)
    hint = ("pair i is dims (2i, 2i + 1); it becomes (x0·cos θ − x1·sin θ, x0·sin θ + x1·cos θ) with "
            "θ = angles[..., i]. The result has x's shape.")
    examples = [
        (torch.tensor([[1.0, 0.0]]), torch.tensor([[math.pi / 3]]),
         "one pair turned by 60° counter-clockwise: (1, 0) becomes (cos 60°, sin 60°) = (0.5, 0.866)."),
        (torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[math.pi / 2, math.pi]]),
         "pair (1, 2) turns by 90° to (-2, 1), pair (3, 4) by 180° to (-3, -4): pairs are NEIGHBOURS."),
        (torch.randn(3, 8, generator=gen), modern.rope_angles(torch.arange(3), 8), hint),
        (torch.randn(2, 3, 5, 8, generator=gen), modern.rope_angles(torch.arange(5), 8),
         "x is (B, heads, T, head_dim) and angles (T, head_dim / 2): they broadcast over batch and heads. " + hint),
        (torch.randn(4, 6, generator=gen), 3 * torch.randn(4, 3, generator=gen), hint),
        (torch.randn(2, 3, 4, generator=gen), torch.zeros(3, 2), "angle 0 is no rotation: x comes back unchanged."),
    ]
    cases = [Case((x, angles), modern.rotate_pairs(x, angles), case_hint) for x, angles, case_hint in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        x, angles = case.args
        if not isinstance(got, Tensor):
            return "return a tensor of x's shape."
        if tuple(got.shape) != tuple(x.shape):
            return (f"the result keeps x's shape {tuple(x.shape)}: each pair of dims is rotated and put back "
                    "in its place.")
        if torch.allclose(got.float(), x, atol=1e-5):
            return "x came back unchanged: each pair turns by its angle, (x0·cos − x1·sin, x0·sin + x1·cos)."
        hint = _first_match(got, case.expected, _rotation_variants(x, angles))
        if hint:
            return hint
        right = torch.isclose(got.float(), case.expected, atol=1e-5, rtol=0).flatten(0, -2).all(0)  # per dim
        unrotated = torch.isclose(got.float(), x, atol=1e-5, rtol=0).flatten(0, -2).all(0) & ~right
        if (right | unrotated).all():
            dims = unrotated.nonzero().flatten().tolist()
            shown = ", ".join(map(str, dims[:6])) + (" …" if len(dims) > 6 else "")
            return (f"dims {shown} came back as they were: every pair i, dims (2i, 2i + 1), turns by its own "
                    "angle angles[..., i]. Did your loop stop early?")
        return None

    return Cases(cases, diagnose, atol=1e-5, library=(modern.rotate_pairs,))


# --- 15.3 share key/value heads -------------------------------------------------------


@exercise("15.3", "Share key/value heads", success="Each key/value head now serves its own group of query heads.")
def check_repeat_kv() -> Cases:
    """x (B, n_kv_heads, T, head_dim) → (B, n_kv_heads · n_rep, T, head_dim), head h a copy of kv head h // n_rep."""
    gen = torch.Generator().manual_seed(153)
    hint = ("output head h is a copy of kv head h // n_rep: the n_rep copies of each kv head sit next to "
            "each other on axis 1.")
    examples = [
        (torch.arange(12.0).view(1, 2, 2, 3), 2, hint),
        (torch.randn(2, 1, 3, 4, generator=gen), 4,
         "one kv head (multi-query attention): every one of the n_rep output heads is a copy of it."),
        (torch.randn(2, 3, 4, 2, generator=gen), 1, "n_rep = 1: every query head has its own kv head; x comes back as it is."),
        (torch.randn(2, 4, 3, 2, generator=gen), 2, hint),
        (torch.randn(1, 2, 5, 4, generator=gen), 3, hint),
    ]
    cases = [Case((x, n_rep), modern.repeat_kv(x, n_rep), case_hint) for x, n_rep, case_hint in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        x, n_rep = case.args
        B, n_kv_heads, T, head_dim = x.shape
        if not isinstance(got, Tensor):
            return "return a tensor (B, n_kv_heads · n_rep, T, head_dim)."
        want = (B, n_kv_heads * n_rep, T, head_dim)
        shape = tuple(got.shape)
        if shape == want:
            return _first_match(got, case.expected, {
                "you tiled the heads (0, 1, 0, 1, ...): the copies of each kv head must sit next to each other "
                "(0, 0, 1, 1, ...), because query head h uses kv head h // n_rep. That is "
                "repeat_interleave, not repeat.": lambda: x.repeat(1, n_rep, 1, 1),
            })
        if got.dim() == 5:
            return f"you have 5 axes, {shape}: reshape to (B, n_kv_heads · n_rep, T, head_dim) = {want}."
        if got.dim() != 4:
            return f"return 4 axes, (B, n_kv_heads · n_rep, T, head_dim) = {want}, not {shape}."
        if shape == tuple(x.shape):
            return f"you returned x's shape: repeat each kv head n_rep = {n_rep} times, to {want}."
        axes = {0: "the batch (axis 0)", 2: "the positions (axis 2)", 3: "head_dim (axis 3)"}
        for axis, name in axes.items():
            if shape == tuple(x.shape[i] * (n_rep if i == axis else 1) for i in range(4)):
                return f"you repeated along {name}; the heads are axis 1 (dim=1)."
        for off in (1, -1):
            if shape == (B, n_kv_heads * (n_rep + off), T, head_dim):
                return (f"off by one: you made {n_kv_heads} × {n_rep + off} heads; each kv head is there "
                        f"n_rep = {n_rep} times in all: {n_kv_heads} × {n_rep} = {n_kv_heads * n_rep} heads.")
        return f"the result is (B, n_kv_heads · n_rep, T, head_dim) = {want}, not {shape}."

    return Cases(cases, diagnose, library=(modern.repeat_kv,))


# --- 15.4 a sliding-window mask -------------------------------------------------------


@exercise("15.4", "A sliding-window mask", success="Each token now looks back at most window positions, itself included.")
def check_sliding_window_mask() -> Cases:
    """Boolean (T, T) mask, True where query i may attend key j: j <= i and i - j < window."""
    hint = ("query i may attend key j when j <= i (not the future) and i - j < window: itself and the "
            "window - 1 keys just before it.")
    examples = [
        (4, 2, hint),
        (5, 1, "window = 1: each query sees only itself (the diagonal)."),
        (5, 3, hint),
        (4, 4, "a window as long as the sequence hides only the future: the causal mask."),
        (3, 8, "a window longer than the sequence hides only the future: the causal mask."),
        (1, 1, "one token, window 1: it sees itself."),
        (6, 4, hint),
    ]
    cases = [Case((T, window), modern.sliding_window_mask(T, window), case_hint) for T, window, case_hint in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        T, window = case.args
        if not isinstance(got, Tensor):
            return f"return a boolean tensor of shape ({T}, {T})."
        if tuple(got.shape) != (T, T):
            return f"the mask is (T, T) = ({T}, {T}): one row per query, one column per key."
        if got.dtype != torch.bool:
            if got.is_floating_point() and torch.isinf(got).any():
                return ("that is an additive mask (0 and -inf). This exercise asks for the boolean one, "
                        "True = may attend, as causal_mask returns.")
            return (f"return booleans (dtype torch.bool, True = may attend), not {got.dtype}: "
                    "F.scaled_dot_product_attention adds a float mask to the scores, so a 1.0 hides nothing. "
                    "A comparison such as (i - j < window) gives booleans.")
        i = torch.arange(T)[:, None]
        j = torch.arange(T)[None, :]
        return _first_match(got, case.expected, {
            "True means MAY attend (PyTorch's convention, as in causal_mask): you marked the hidden keys.":
                lambda: ~case.expected,
            "off by one: the window counts the query itself, so query i sees keys i - window + 1 ... i "
            "(i - j < window, not <=).": lambda: (j <= i) & (i - j <= window),
            "off by one: a query sees window keys, itself included (i - j < window); yours sees window - 1.":
                lambda: (j <= i) & (i - j < window - 1),
            "the future is visible: a query may attend only keys j <= i. Combine the window with the causal mask.":
                lambda: (i - j).abs() < window,
            "the window is missing: that is the plain causal mask. Also hide keys window or more positions back.":
                lambda: j <= i,
            "your window looks into the future: the mask is transposed. Row i is the query, column j the key; "
            "allow j <= i.": lambda: case.expected.T,
        })

    return Cases(cases, diagnose, library=(modern.sliding_window_mask,))
