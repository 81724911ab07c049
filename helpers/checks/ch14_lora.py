"""Checks of notebook 14 · LoRA (reference: ``helpers.lora.LoRALinear``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from helpers.checks.core import Case, Cases, exercise
from helpers.lora import LoRALinear


def _lora_layer(weight: Tensor, bias: Tensor | None, A: Tensor, B: Tensor, scaling: float) -> LoRALinear:
    """The library's layer holding exactly these tensors: the reference answer of both exercises."""
    rank, (out_features, in_features) = A.shape[0], weight.shape
    with torch.random.fork_rng(devices=[]):  # a check leaves the learner's random numbers alone
        base = nn.Linear(in_features, out_features, bias=bias is not None)
        layer = LoRALinear(base, rank=rank, alpha=scaling * rank)
    with torch.no_grad():
        for parameter, value in ((base.weight, weight), (base.bias, bias), (layer.lora_A, A), (layer.lora_B, B)):
            if value is not None:
                parameter.copy_(value)
    return layer


#: Each case's (x's shape, out_features, rank, scaling, has a bias, B is zero).
_EXAMPLES: list[tuple[tuple[int, ...], int, int, float, bool, bool]] = [
    ((3, 4), 4, 4, 1.5, True, False),  # square: in = out = rank, so a wrong order shows in the values
    ((4, 6), 5, 2, 2.0, True, False),
    ((2, 3, 8), 4, 3, 0.5, True, False),  # a batch of sequences (B, T, in_features)
    ((3, 5), 3, 2, 4.0, False, False),  # no bias
    ((2, 4, 6), 6, 1, 16.0, True, False),  # rank 1
    ((2, 6), 5, 2, 2.0, True, True),  # a fresh layer: B = 0
]


def _tensors(gen: torch.Generator, in_features: int, out_features: int, rank: int, bias: bool, zero_B: bool
             ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    weight = torch.randn(out_features, in_features, generator=gen)
    b = torch.randn(out_features, generator=gen) if bias else None
    A = 0.5 * torch.randn(rank, in_features, generator=gen)
    B = torch.zeros(out_features, rank) if zero_B else 0.5 * torch.randn(out_features, rank, generator=gen)
    return weight, b, A, B


def _first_match(got: Any, expected: Tensor, variants: dict[str, Callable[[], Tensor]]) -> str | None:
    """The hint of the first wrong answer that ``got`` equals (and the right answer does not)."""
    got = got.detach().to(expected.dtype)
    for hint, wrong in variants.items():
        try:
            value = wrong()
        except RuntimeError:  # shapes that do not fit: not this mistake
            continue
        if value.shape == got.shape == expected.shape and torch.allclose(got, value, atol=1e-4, rtol=0) \
                and not torch.allclose(value, expected, atol=1e-4, rtol=0):
            return hint
    return None


_SHAPES = ("A is (rank, in_features) and B is (out_features, rank), stored like nn.Linear weights: "
           "x @ A.T goes down to rank, then @ B.T goes up to out_features.")


@exercise("14.1", "The LoRA forward", success="A frozen layer plus a low-rank update: that is all LoRA computes.")
def check_lora_forward() -> Cases:
    """x·Wᵀ + b + scaling · x·Aᵀ·Bᵀ, for x (..., in), W (out, in), b (out,) or None, A (r, in), B (out, r)."""
    gen = torch.Generator().manual_seed(14)
    cases = []
    for shape, out_features, rank, scaling, bias, zero_B in _EXAMPLES:
        weight, b, A, B = _tensors(gen, shape[-1], out_features, rank, bias, zero_B)
        x = torch.randn(*shape, generator=gen)
        hint = "the output is the base layer's output plus the LoRA term, and only the LoRA term is scaled. " + _SHAPES
        if not bias:
            hint = "bias is None here (a layer without a bias): then there is nothing to add. " + hint
        if zero_B:
            hint = "B is zero here, as in a fresh LoRA layer: the output is exactly the base layer's, x @ weight.T + bias."
        cases.append(Case((x, weight, b, A, B, scaling), _lora_layer(weight, b, A, B, scaling)(x).detach(), hint))

    def diagnose(got: Any, case: Case) -> str | None:
        x, weight, bias, A, B, scaling = case.args
        if not isinstance(got, Tensor):
            return "return a tensor: the layer's output, one row of out_features per input row."
        if tuple(got.shape) != tuple(case.expected.shape):
            return f"the output should have shape {tuple(case.expected.shape)}. " + _SHAPES
        b = 0 if bias is None else bias
        base = x @ weight.T + b
        update = x @ A.T @ B.T
        return _first_match(got, case.expected, {
            "you returned the base layer's output alone: add the LoRA update, scaling * (x @ A.T @ B.T).":
                lambda: base,
            "the update is scaled: multiply x @ A.T @ B.T by scaling (= alpha / rank), "
            "equivalently use the weight W + scaling * B @ A, not W + B @ A.": lambda: base + update,
            "you applied scaling twice: the update is scaling * (x @ A.T @ B.T), once.": lambda: base + scaling**2 * update,
            "multiply the update by scaling, do not divide by it.": lambda: base + update / scaling,
            "scaling multiplies the LoRA update only: the base layer's output x @ weight.T + bias stays as it is.":
                lambda: scaling * (base + update),
            "scaling multiplies the LoRA update only, not x @ weight.T.": lambda: scaling * (x @ weight.T + update) + b,
            "you forgot the bias: add + bias (when it is not None).": lambda: x @ weight.T + scaling * update,
            "A comes first: x @ A.T goes down to rank, then @ B.T back up. You swapped A and B.":
                lambda: base + scaling * (x @ B.T @ A.T),
            "A and B are stored like nn.Linear weights, (out, in): transpose them, x @ A.T @ B.T.":
                lambda: base + scaling * (x @ A @ B),
            "B @ A is (out_features, in_features), like a weight: multiply by its transpose, x @ (B @ A).T.":
                lambda: base + scaling * (x @ (B @ A)),
            "weight is (out_features, in_features): the base layer computes x @ weight.T + bias.":
                lambda: x @ weight + b + scaling * update,
        })

    return Cases(cases, diagnose, atol=1e-4, library=(LoRALinear,))


@exercise("14.2", "Merge LoRA into the weight", success="One matrix again: the merged layer costs nothing extra.")
def check_merge_lora_weight() -> Cases:
    """weight + scaling · B @ A, of the weight's shape (out_features, in_features), a new tensor."""
    gen = torch.Generator().manual_seed(142)
    cases = []
    for shape, out_features, rank, scaling, _, zero_B in _EXAMPLES:
        weight, _, A, B = _tensors(gen, shape[-1], out_features, rank, False, zero_B)
        hint = ("B is (out_features, rank) and A is (rank, in_features): which product of the two has the "
                "weight's shape (out_features, in_features)? Add it, scaled, to a copy of the weight.")
        if rank == 1 and out_features == shape[-1]:
            hint = "rank 1: A @ B is a (1, 1) matrix that broadcasts without an error; the update is B @ A. " + hint
        cases.append(Case((weight, A, B, scaling), _lora_layer(weight, None, A, B, scaling).merged().weight.detach(), hint))

    def diagnose(got: Any, case: Case) -> str | None:
        weight, A, B, scaling = case.args
        if not isinstance(got, Tensor):
            return "return a tensor: the merged weight."
        if tuple(got.shape) != tuple(weight.shape):
            return (f"the merged weight has the weight's shape (out_features, in_features) = {tuple(weight.shape)}, "
                    f"not {tuple(got.shape)}: return weight + scaling * B @ A.")
        delta = B @ A
        return _first_match(got, case.expected, {
            "the update is scaled: weight + scaling * B @ A (scaling = alpha / rank).": lambda: weight + delta,
            "return the merged weight, weight + scaling * B @ A, not the update alone.": lambda: scaling * delta,
            "return the merged weight, weight + scaling * B @ A, not the update alone (and scale it).": lambda: delta,
            "multiply B @ A by scaling, do not divide by it.": lambda: weight + delta / scaling,
            "you applied scaling twice: weight + scaling * B @ A.": lambda: weight + scaling**2 * delta,
            "the update is B @ A (out, rank) @ (rank, in), not A @ B.": lambda: weight + scaling * (A @ B),
            "B @ A already has the weight's shape (out_features, in_features): do not transpose it.":
                lambda: weight + scaling * delta.T,
            "your result is transposed: a weight is (out_features, in_features); return weight + scaling * B @ A.":
                lambda: (weight + scaling * delta).T,
        })

    return Cases(cases, diagnose, atol=1e-4, inputs_unchanged=True, library=(LoRALinear,))
