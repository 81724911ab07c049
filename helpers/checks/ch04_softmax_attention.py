"""Checks of notebook 04 · softmax attention (references: torch.softmax, F.scaled_dot_product_attention)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from helpers import attention as library
from helpers.checks.core import Case, Cases, exercise


def _tensor(rows: list) -> Any:
    return torch.tensor(rows, dtype=torch.float32)


def _reference_softmax(x: Any, beta: float = 1.0) -> Any:
    return torch.softmax(beta * x, dim=-1)


@exercise("4.1", "Softmax from scratch", success="Scores are now weights: positive, summing to 1.")
def check_softmax() -> Cases:
    """softmax(beta * x) over the last axis, without overflow on large inputs."""
    vector = _tensor([1.0, 2.0, 3.0])
    matrix = _tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    square = _tensor([[2.0, 1.0], [0.0, 3.0]])
    large = _tensor([1000.0, 1001.0, 1002.0])
    far_apart = _tensor([[0.0, 1.0], [1000.0, 1001.0]])  # one maximum for the whole tensor fails here
    cases = [
        Case((vector,), _reference_softmax(vector)),
        Case((_tensor([0.0, 10.0]),), _reference_softmax(_tensor([0.0, 10.0]))),
        Case((matrix,), _reference_softmax(matrix), "each ROW is one softmax: work along the last axis."),
        Case((square,), _reference_softmax(square), "each ROW is one softmax: work along the last axis."),
        Case((vector,), _reference_softmax(vector, 2.0), "multiply x by beta before exp.", {"beta": 2.0}),
        Case((vector,), _reference_softmax(vector, 0.0), "beta = 0 gives equal weights.", {"beta": 0.0}),
        Case((large,), _reference_softmax(large), "subtract the largest entry before exp."),
        Case((-large,), _reference_softmax(-large), "subtract the largest entry before exp."),
        Case((_tensor([0.0, 100.0]),), _reference_softmax(_tensor([0.0, 100.0])),
             "subtract the largest entry before exp, so that every exponent is 0 or less."),
        Case((far_apart,), _reference_softmax(far_apart), "subtract each row's own largest entry."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.args[0].shape):
            return "softmax keeps the shape of its input."
        if torch.isnan(got).any() or torch.isinf(got).any():
            z = case.kwargs.get("beta", 1.0) * case.args[0]
            if same_nans(got, _shifted_softmax(z, z.min(dim=-1, keepdim=True).values)):
                return (
                    "the result has NaN: you subtracted the SMALLEST entry, so exp(100 - 0) still "
                    "overflows. Subtract the largest: then every exponent is 0 or less."
                )
            if z.dim() > 1 and same_nans(got, _shifted_softmax(z, z.max())):
                return (
                    "the result has NaN in one row: you subtracted the largest entry of the whole "
                    "tensor, so in the row [0, 1] every exp(x - 1001) is 0, and 0 / 0 is NaN. "
                    "Subtract each row's own largest entry: z.max(dim=-1, keepdim=True).values."
                )
            return (
                "the result has NaN or inf: exp overflowed (exp(1000) is inf in float32). "
                "Subtract the largest entry of each row before exp; that changes nothing "
                "mathematically."
            )
        if (got.sum(dim=-1) - 1).abs().max() > 1e-3:
            if got.dim() == 2 and (got.sum(dim=0) - 1).abs().max() < 1e-4:
                return (
                    "your COLUMNS sum to 1, not your rows: you normalised along axis 0. "
                    "Use dim=-1 (the last axis) for the max and the sum, with keepdim=True."
                )
            sums = [round(s, 4) for s in got.sum(dim=-1).reshape(-1).tolist()]
            return (
                f"your weights sum to {sums}, not 1: did you divide exp(...) by its sum "
                "over the last axis?"
            )
        beta = case.kwargs.get("beta", 1.0)
        if beta != 1.0 and torch.allclose(got, _reference_softmax(case.args[0]), atol=1e-6):
            return f"you ignored beta: compute softmax(beta * x) (here beta = {beta})."
        return None

    # float32 softmaxes written another correct way (say, with log-sum-exp) differ by about 1e-5
    return Cases(cases, diagnose, atol=3e-5, library=(torch.softmax, F.softmax, library.softmax))


def _shifted_softmax(z: Any, shift: Any) -> Any:
    e = torch.exp(z - shift)
    return e / e.sum(dim=-1, keepdim=True)


def same_nans(got: Any, candidate: Any) -> bool:
    """Whether ``got`` has its NaNs where ``candidate`` does (and some)."""
    return bool(torch.isnan(candidate).any()) and torch.equal(torch.isnan(got), torch.isnan(candidate))


def _sdpa_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(4)
    q = torch.randn(3, 4, generator=gen)
    k = torch.randn(5, 4, generator=gen)
    v = torch.randn(5, 2, generator=gen)
    qb = 3 * torch.randn(2, 4, 8, generator=gen)
    kb = 3 * torch.randn(2, 4, 8, generator=gen)
    vb = torch.randn(2, 4, 3, generator=gen)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    sparse = torch.tensor([[True, False, True, False, False]] * 3)
    return [
        Case((q, k, v), F.scaled_dot_product_attention(q, k, v),
             "3 queries, 5 keys of size 4, 5 values of size 2: the result is (3, 2)."),
        Case((qb, kb, vb), F.scaled_dot_product_attention(qb, kb, vb),
             "a batch: use k.transpose(-2, -1), not k.T, so the batch axis stays first."),
        Case((qb, kb, vb), F.scaled_dot_product_attention(qb, kb, vb, attn_mask=causal),
             "where mask is False the score must become -inf before the softmax.",
             {"mask": causal}),
        Case((q, k, v), F.scaled_dot_product_attention(q, k, v, attn_mask=sparse),
             "where mask is False the score must become -inf before the softmax.",
             {"mask": sparse}),
    ]


@exercise("4.2", "Scaled dot-product attention", success="You wrote the attention of every transformer.")
def check_scaled_dot_product_attention() -> Cases:
    """softmax(q·kᵀ/√d + mask) · v, compared with torch.nn.functional.scaled_dot_product_attention."""

    def variant(q: Any, k: Any, v: Any, mask: Any, scale: float, dim: int = -1, keep: Any = None) -> Any:
        scores = q @ k.transpose(-2, -1) * scale
        if mask is not None:
            scores = scores.masked_fill(~mask if keep is None else keep, float("-inf"))
        return torch.softmax(scores, dim=dim) @ v

    def diagnose(got: Any, case: Case) -> str | None:
        q, k, v = case.args
        mask = case.kwargs.get("mask")
        d = q.shape[-1]
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"the output should have shape {tuple(case.expected.shape)}: one row per query, "
                "one column per value dimension. Scores are q @ k.transpose(-2, -1)."
            )

        def same(other: Any) -> bool:
            return bool(torch.allclose(got, other, atol=1e-5, equal_nan=True))

        if same(variant(q, k, v, mask, 1.0)):
            return f"you forgot to divide the scores by √d (here d = {d}, so by {math.sqrt(d):.4f})."
        if same(variant(q, k, v, mask, 1.0 / d)):
            return f"divide by √d, not by d (here √d = {math.sqrt(d):.4f})."
        if k.shape[-2] != d and same(variant(q, k, v, mask, k.shape[-2] ** -0.5)):
            return (f"you divided by the square root of the number of keys ({k.shape[-2]}); d is the size "
                    f"of each query and key vector, q.shape[-1] = {d}.")
        if same(variant(q, k, v, mask, d**-0.5, dim=-2)):
            return "the softmax runs over the keys of each query: use dim=-1, not dim=-2."
        if mask is not None and same(variant(q, k, v, None, d**-0.5)):
            return "you ignored the mask: set the scores to -inf where mask is False."
        if mask is not None and same(variant(q, k, v, mask, d**-0.5, keep=mask)):
            return "the mask is upside down: True means 'may attend'; hide the scores where it is False (~mask)."
        return None

    return Cases(_sdpa_cases(), diagnose, atol=1e-5,
                 library=(F.scaled_dot_product_attention, library.scaled_dot_product_attention))
