"""Checks of notebook 18 · precision and quantization (references: ``helpers.scaling``, ``helpers.quantization``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from helpers.checks.core import Case, Cases, exercise
from helpers.quantization import quantize
from helpers.scaling import matmul_parameters, training_flops

# --- 18.1 the FLOPs of training ----------------------------------------------------

#: Each case's sizes (d_model, n_layers, context_length, vocab_size, n_tokens), and what model it is.
_MODELS: list[tuple[tuple[int, int, int, int, int], str]] = [
    ((768, 12, 1024, 50257, 10**9), "GPT-2 small on a billion tokens"),
    ((1600, 48, 1024, 50257, 10**9), "GPT-2 XL on a billion tokens"),
    ((256, 6, 256, 4096, 12_262_656), "the course's base model over its whole training run"),
    ((16, 2, 8, 50, 1000), "a tiny model"),
]


def _as_count(answer: Callable) -> Callable:
    """The answer, with a float (or a one-element tensor, or a numpy number) read as a whole number of FLOPs.

    A float within a relative 1e-9 of the right count counts as that count: floats
    hold only 16 significant digits of numbers as large as 10^19.
    """
    def run(*args: int) -> Any:
        got = answer(*args)
        if isinstance(got, Tensor) and got.numel() == 1 or isinstance(got, np.generic):
            got = got.item()
        if isinstance(got, float) and math.isfinite(got):
            expected = training_flops(*args)
            got = expected if math.isclose(got, expected, rel_tol=1e-9) else round(got)
        return got

    run.__name__ = getattr(answer, "__name__", "training_flops")
    return run


def _close(got: int, value: float) -> bool:
    return math.isclose(got, value, rel_tol=1e-9)


@exercise("18.1", "Count the FLOPs of training",
          success="About 6 FLOPs per weight per token, plus attention: what a training run will cost.")
def check_training_flops() -> Cases:
    """n_tokens · (6·N + 12·n_layers·context_length·d_model), N = 12·n_layers·d_model² + d_model·vocab_size."""
    hint = ("per token: 6 FLOPs per matmul weight (2 forward, 4 backward), with N = 12·n_layers·d_model² + "
            "d_model·vocab_size, plus the attention products, 12·n_layers·context_length·d_model; times n_tokens.")
    cases = [Case(sizes, training_flops(*sizes), f"{what}, {training_flops(*sizes):.3e} FLOPs: {hint}")
             for sizes, what in _MODELS]

    def diagnose(got: Any, case: Case) -> str | None:
        d, L, T, V, D = case.args
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"return a number (an int, or a float), got a {type(got).__name__}."
        if got < 0:
            return ("your count is negative: a whole number overflowed (torch or numpy int64 holds up to 9.2e18). "
                    "Compute with Python ints, which never overflow.")
        N = matmul_parameters(d, L, V)
        attention = 12 * L * T * d
        wrong = {
            "that is the forward pass only (2 FLOPs per weight, 4·L·T·d for attention): the backward pass costs "
            "twice the forward, so training is 3 × that.": D * (2 * N + attention // 3),
            "add the attention products: QKᵀ and AV multiply activations by activations, 4·T·d FLOPs per token per "
            "layer forward, 12·n_layers·context_length·d_model for training.": D * 6 * N,
            "the attention products have a backward pass too: 4·L·T·d forward, 3 × that for training.":
                D * (6 * N + attention // 3),
            "PaLM's formula counts the whole T × T score matrix (a dense matmul computes the masked half too): "
            "12·L·T·d, not 6·L·T·d.": D * (6 * N + attention // 2),
            "count d_model · vocab_size once: the output head is a matmul, the token embedding a lookup "
            "(and in GPT-2 they are the same tied matrix).": D * (6 * (N + d * V) + attention),
            "the embeddings (tokens and positions) are lookups, not multiplications: leave them out of N, "
            "keep only the output head's d_model · vocab_size.": D * (6 * (N + d * V + T * d) + attention),
            "the feed-forward is d → 4d → d, 8·d² per block; "
            "with attention's 4·d², 12·d² in all, not 8·d².":
                D * (6 * (8 * L * d * d + d * V) + attention),
            "count the output head: a d_model × vocab_size matmul for every token.":
                D * (6 * 12 * L * d * d + attention),
            "that is the count per token: multiply by n_tokens.": 6 * N + attention,
        }
        for hint, value in wrong.items():
            if _close(got, value):
                return f"{got:.3e} FLOPs instead of {case.expected:.3e}: {hint}"
        return None

    return Cases(cases, diagnose, adapt=_as_count)


# --- 18.2 int8 absmax quantization -------------------------------------------------


def _reference(x: Tensor) -> tuple[Tensor, Tensor]:
    """int8 codes and one scale per row, shape (rows, 1): ``quantize`` per channel."""
    q = quantize(x, bits=8, group_size=x.shape[-1])
    return q.codes, q.scale


def _normal(gen: torch.Generator, rows: int, cols: int) -> Tensor:
    return torch.randn(rows, cols, generator=gen)


def _examples() -> list[tuple[Tensor, str]]:
    gen = torch.Generator().manual_seed(182)
    outlier = _normal(gen, 3, 32)
    outlier[1, 7] = 40.0  # one large weight: its row's scale is 40 / 127, the other rows keep theirs
    zeros = _normal(gen, 3, 8)
    zeros[2] = 0.0
    negative = _normal(gen, 4, 12) - 1.5
    negative[1, 3] = -9.0  # largest in size, and negative
    negative[3] = -negative[3].abs()  # every value negative
    return [
        (_normal(gen, 4, 16), ""),
        (outlier, "row 1 holds one value of 40: its scale is 40 / 127, and only that row's."),
        (zeros, "row 2 is all zeros: its absmax is 0, and 0 / 0 is NaN. Give such a row a scale of 1 "
                "(any positive scale works: its codes are 0)."),
        (negative, "the largest values in size are negative here: the scale comes from max |x|, not from max x."),
        (0.01 * _normal(gen, 1, 64), "one row (1, 64): one scale, shape (1, 1)."),
    ]


def _as_int8_pair(answer: Callable) -> Callable:
    """The answer, with any positive scale of an all-zero row read as 1 (the reference's), and int8 codes enforced.

    Integer codes of another dtype are right numbers stored in too many bytes: this
    raises on them, with a message saying so.
    """
    def run(x: Tensor) -> Any:
        got = answer(x)
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, Tensor) for t in got)):
            return got
        codes, scales = got
        if not codes.is_floating_point() and codes.dtype != torch.int8:
            raise TypeError(f"the codes are {codes.dtype}: store them as torch.int8, one byte each "
                            "(.to(torch.int8) after rounding and clamping)")
        if scales.shape == (x.shape[0], 1) and codes.shape == x.shape:
            zero_rows = (x == 0).all(dim=1) & (codes == 0).all(dim=1) & (scales[:, 0] > 0) & scales[:, 0].isfinite()
            scales = torch.where(zero_rows[:, None], torch.ones_like(scales), scales)
        return codes, scales

    run.__name__ = getattr(answer, "__name__", "absmax_quantize")
    return run


def _scale_hint(scales: Tensor, x: Tensor) -> str | None:
    """The hint for a plausible wrong choice of scales (rows, 1), or None."""
    absmax = x.abs().amax(dim=1, keepdim=True)
    wrong = {
        "use one scale per row (per channel), from that row's largest |x|, not one for the whole tensor: "
        "x.abs().amax(dim=1, keepdim=True).": x.abs().max().expand_as(absmax) / 127,
        "int8's symmetric range is -127..127: qmax = 2**7 - 1 = 127, so the scale is max|x| / 127, not / 128.":
            absmax / 128,
        "255 steps are for unsigned codes with a zero point; symmetric int8 codes go from -127 to 127: "
        "the scale is max|x| / 127.": absmax / 255,
        "that is (max - min) / 255, the zero-point scheme's scale; absmax quantization uses max|x| / 127.":
            (x.amax(dim=1, keepdim=True) - x.amin(dim=1, keepdim=True)) / 255,
        "the scale comes from the largest value in size, max |x| (x.abs().amax), not from max x: "
        "a row of large negative values needs them too.": x.amax(dim=1, keepdim=True) / 127,
        "the scale is max|x| / 127 (what one step of the codes is worth), not 127 / max|x|.":
            127 / absmax.clamp(min=1e-12),
    }
    for hint, value in wrong.items():
        if torch.allclose(scales.detach().double(), value.double(), rtol=1e-5, atol=1e-9) \
                and not torch.allclose(value, absmax / 127):
            return hint
    return None


@exercise("18.2", "Quantize to int8 and back",
          success="codes · scale is back within half a step of every weight, in a quarter of the memory.")
def check_absmax_quantize() -> Cases:
    """(codes, scales): codes = round(x / scale) as int8 in -127..127, scale = max|row| / 127, shape (rows, 1)."""
    general = ("each row gets scale = max|x| / 127, shape (rows, 1); codes = round(x / scale), clamped to "
               "-127..127, as torch.int8.")
    cases = [Case((x,), _reference(x), hint or general) for x, hint in _examples()]

    def diagnose(got: Any, case: Case) -> str | None:
        x = case.args[0]
        rows = x.shape[0]
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, Tensor) for t in got)):
            return "return a tuple of two tensors: (codes, scales)."
        codes, scales = got
        if codes.shape != x.shape and scales.shape == x.shape:
            return "return the codes first, then the scales: (codes, scales)."
        if codes.shape != x.shape:
            return f"the codes have the shape of x, {tuple(x.shape)}: one code per value."
        if scales.shape == (rows,):
            return (f"return the scales as a column, shape ({rows}, 1) (keepdim=True), so that codes * scales "
                    "multiplies each row by its own scale.")
        if scales.numel() == 1 and rows > 1:
            return ("use one scale per row (per channel), from that row's largest |x|, not one for the whole "
                    f"tensor: shape ({rows}, 1).")
        if scales.shape in ((1, x.shape[1]), (x.shape[1],)):
            return "one scale per row (reduce over dim=1, the values of a row), not per column."
        if scales.shape != (rows, 1):
            return f"the scales have shape ({rows}, 1): one per row."
        if scales.isnan().any() or (scales == 0).any():
            return ("a row of zeros has max|x| = 0: a scale of 0 makes x / scale NaN. Give such a row a scale "
                    "of 1 (e.g. torch.where(scale > 0, scale, 1.0)); its codes are then 0.")
        scale_hint = _scale_hint(scales, x)
        if scale_hint:
            return scale_hint
        if codes.is_floating_point():
            return "round, clamp to -127..127, then convert the codes to integers: .to(torch.int8)."
        right_scale = x.abs().amax(dim=1, keepdim=True) / 127
        right_scale = torch.where(right_scale > 0, right_scale, torch.ones_like(right_scale))
        ratio = x / right_scale
        codes = codes.long()
        if torch.equal(codes, ratio.floor().long()):
            return "round to the nearest code (torch.round), not down (floor)."
        if torch.equal(codes, ratio.trunc().long()):
            return ".to(torch.int8) alone truncates toward zero (2.7 → 2): round first, with torch.round."
        if torch.equal(codes, ratio.ceil().long()):
            return "round to the nearest code (torch.round), not up (ceil)."
        if ((codes - case.expected[0].long()).abs() > 200).any():
            return ("some codes wrapped around: int8 holds -128..127, so 128 becomes -128. Clamp to -127..127 "
                    "before .to(torch.int8).")
        return None

    return Cases(cases, diagnose, adapt=_as_int8_pair)

