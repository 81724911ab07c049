"""Checks of notebook 19 · Distributed training (reference: ``helpers.distributed``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from helpers.checks.core import Case, Cases, exercise, first_match
from helpers.distributed import all_reduce_mean, column_parallel_forward, ring_all_reduce, split_columns


def _equals(got: Any, value: Tensor) -> bool:
    return isinstance(got, Tensor) and got.shape == value.shape \
        and torch.allclose(got.detach().to(value.dtype), value, atol=1e-4, rtol=0)


def _each_equals(got: Any, values: list[Tensor]) -> bool:
    """``got`` is a list (or tuple) whose item r equals ``values[r]``, for every r."""
    return isinstance(got, (list, tuple)) and len(got) == len(values) \
        and all(_equals(g, v) for g, v in zip(got, values))


# --- 19.1 the gradient average -----------------------------------------------------

#: Each case's (world_size, shape of one rank's gradient).
_GRADIENTS: list[tuple[int, tuple[int, ...]]] = [
    (2, (5,)),
    (3, (7,)),  # an odd size: the ring's chunks differ in size
    (4, (3, 4)),  # 2-D gradients, as a weight matrix's
    (1, (4,)),  # a single process: the mean is its own gradient
    (3, (2, 3)),
]


def _shared_memory(a: Tensor, b: Tensor) -> bool:
    """Whether writing into ``a`` would change ``b`` (the same tensor, or views of one)."""
    try:
        return bool(np.shares_memory(a.detach().numpy(), b.detach().numpy()))
    except (TypeError, RuntimeError):  # a dtype numpy lacks: cannot tell, say no
        return False


def _each_rank_its_own(answer: Callable) -> Callable:
    """The answer, called on a list as in the notebook; an answer that changes its inputs in place,
    or hands two ranks the same tensor, raises with a message saying so."""
    def run(tensors: list[Tensor]) -> Any:
        before = [t.clone() for t in tensors]
        got = answer(tensors)
        if len(tensors) != len(before) or any(not torch.equal(t, b) for t, b in zip(tensors, before)):
            changed = next((r for r, (t, b) in enumerate(zip(tensors, before)) if not torch.equal(t, b)), 0)
            raise ValueError(
                f"your function changed its input in place (rank {changed}'s gradient, tensors[{changed}]): "
                "`total = tensors[0]` then `total += ...` adds into rank 0's own gradient. Start from a copy "
                "(tensors[0].clone(), torch.zeros_like) or torch.stack(tensors); do not change your inputs in place")
        if isinstance(got, (list, tuple)) and all(isinstance(t, Tensor) for t in got):
            for i in range(len(got)):
                for j in range(i + 1, len(got)):
                    if _shared_memory(got[i], got[j]):
                        raise ValueError(
                            f"ranks {i} and {j} got the same tensor (or views of one): change one rank's result "
                            "and the other changes too. An all-reduce leaves every process its own copy: give "
                            "each rank its own tensor, e.g. [mean.clone() for _ in tensors]")
        return got

    run.__name__ = getattr(answer, "__name__", "all_reduce_mean")
    return run


@exercise("19.1", "Average the gradients of every process",
          success="Every rank now holds the same mean gradient: the replicas take the same step and stay equal.")
def check_all_reduce_mean() -> Cases:
    """A list with one new tensor per rank, each the mean of ``tensors`` over the ranks; inputs unchanged."""
    gen = torch.Generator().manual_seed(191)
    cases = []
    for world_size, shape in _GRADIENTS:
        tensors = [torch.randn(shape, generator=gen) for _ in range(world_size)]
        hint = (f"return a new list of {world_size} tensors, one per rank, each of shape {shape}: the mean over "
                "the ranks, (tensors[0] + … + tensors[n-1]) / n, entry by entry.")
        if world_size == 1:
            hint = ("with a single process the mean is its own gradient: return a list of one tensor, "
                    "equal to tensors[0].")
        cases.append(Case((tensors,), tuple(all_reduce_mean(tensors)), hint))

    def diagnose(got: Any, case: Case) -> str | None:
        (tensors,) = case.args
        n, shape = len(tensors), tuple(tensors[0].shape)
        stacked = torch.stack(tensors)  # (n, *shape)
        if isinstance(got, Tensor):
            if tuple(got.shape) == shape:
                return (f"return one tensor per rank, a list of {n}, not one tensor: every process keeps its own "
                        "copy of the mean, e.g. [mean.clone() for _ in tensors].")
            return f"return a list of {n} tensors (one per rank, each of shape {shape}), not one tensor."
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, Tensor) for t in got):
            return f"return a list of {n} tensors, one per rank, got {type(got).__name__}."
        if len(got) != n:
            return f"return one tensor per rank: {n} tensors for {n} ranks, got {len(got)}."
        total = stacked.sum(dim=0)
        matches = {
            f"that is the sum over the ranks: divide it by the world size, len(tensors) = {n}, to get the mean.":
                lambda: _each_equals(got, [total] * n),
            f"you divided by the number of entries of one gradient ({tensors[0].numel()}); divide by the number "
            f"of ranks, len(tensors) = {n}.":
                lambda: _each_equals(got, [total / tensors[0].numel()] * n),
            "you averaged every entry of every gradient into one number: average over the ranks only, entry by "
            "entry (torch.stack(tensors).mean(dim=0)).":
                lambda: _each_equals(got, [stacked.mean()] * n),
            "each rank got its own gradient back: the all-reduce combines them, and every rank gets the mean of "
            "all of them.":
                lambda: n > 1 and _each_equals(got, list(tensors)),
        }
        for dim in range(1, stacked.dim()):
            means = stacked.mean(dim=dim)  # the mistake: over a gradient's own entries
            matches[f"you averaged along dim {dim} of torch.stack(tensors), across a gradient's own entries; "
                    "average across the ranks: dim=0, the axis torch.stack adds first."] = \
                lambda means=means: _each_equals(got, [means] * n) or _each_equals(got, list(means))
        return first_match(matches)

    return Cases(cases, diagnose, atol=1e-5, adapt=_each_rank_its_own, library=(all_reduce_mean, ring_all_reduce))


# --- 19.2 a column-parallel linear layer -------------------------------------------------

#: Each case's (shape of x, (out_features, in_features), with a bias, world_size).
_LAYERS: list[tuple[tuple[int, ...], tuple[int, int], bool, int]] = [
    ((4, 6), (6, 6), True, 3),  # a square weight: reading it as (in, out) raises no error
    ((3, 8), (6, 8), True, 2),
    ((2, 5, 4), (8, 4), True, 4),  # (B, T, d_in) input, as in a transformer
    ((2, 6), (4, 6), False, 2),  # no bias
    ((3, 5), (4, 5), True, 1),  # one process: the whole layer
    ((2, 8), (8, 8), True, 4),
]


@exercise("19.2", "Split a linear layer by columns",
          success="Each rank computes its own slice of the outputs; an all-gather puts them side by side.")
def check_column_parallel_forward() -> Cases:
    """Rank r's output is x @ weight[r·k:(r+1)·k].T + bias[r·k:(r+1)·k], k = out_features / world_size."""
    gen = torch.Generator().manual_seed(192)
    cases = []
    for x_shape, (d_out, d_in), has_bias, world_size in _LAYERS:
        x = torch.randn(x_shape, generator=gen)
        weight = torch.randn(d_out, d_in, generator=gen) / d_in**0.5
        bias = torch.randn(d_out, generator=gen) if has_bias else None
        k = d_out // world_size
        hint = (f"weight is (out_features, in_features) = {(d_out, d_in)}, as in nn.Linear: rank r takes rows "
                f"r·{k} … (r+1)·{k} - 1 of weight (dim 0) and the same slice of the bias, reads the whole x, and "
                "computes x @ weight_r.T + bias_r; return the list of the world_size outputs.")
        if not has_bias:
            hint = "bias is None here (nn.Linear(..., bias=False)): there is no bias to add. " + hint
        cases.append(Case((x, weight, bias, world_size), tuple(column_parallel_forward(x, weight, bias, world_size)),
                          hint))

    def diagnose(got: Any, case: Case) -> str | None:
        x, weight, bias, n = case.args
        d_out, d_in = weight.shape
        k, k_in = d_out // n, d_in // n
        full = F.linear(x, weight, bias)
        rows = [slice(r * k, (r + 1) * k) for r in range(n)]

        def bias_of(r: int) -> Tensor | int:
            return 0 if bias is None else bias[rows[r]]

        if isinstance(got, Tensor):
            if _equals(got, full):
                return (f"return the list of the {n} ranks' outputs, not their concatenation: each rank holds "
                        "only its slice; torch.cat(outputs, dim=-1) is what the all-gather rebuilds.")
            return f"return a list of {n} tensors, one per rank, each of shape {tuple(full.shape[:-1]) + (k,)}."
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, Tensor) for t in got):
            return f"return a list of {n} tensors, one per rank, got {type(got).__name__}."
        if len(got) != n:
            return f"return one output per rank: {n} tensors for world_size={n}, got {len(got)}."
        expected = list(case.expected)
        no_bias = [F.linear(x, weight[rows[r]]) for r in range(n)]
        partial = [F.linear(x[..., r * k_in : (r + 1) * k_in], weight[:, r * k_in : (r + 1) * k_in])
                   for r in range(n)]
        return first_match({
            "those are partial sums of the whole output: you split the input features (a row split, whose "
            "outputs are added by an all-reduce). A column split gives each rank out_features / world_size whole "
            "output features: slice the rows of weight (dim 0) and keep the whole input x.":
                lambda: n > 1 and (_each_equals(got, partial)
                                   or _each_equals(got, [p + (0 if bias is None else bias) for p in partial])
                                   or _each_equals(got, [p + (bias if r == 0 and bias is not None else 0)
                                                         for r, p in enumerate(partial)])),
            "weight is stored (out_features, in_features), as in nn.Linear: its rows are the output features. "
            "You used it as (in_features, out_features): take rows of weight and multiply by their transpose, "
            "x @ weight[rows].T.":
                lambda: _each_equals(got, [x @ weight[:, rows[r]] + bias_of(r) for r in range(n)]),
            "each rank computes only its own k = out_features / world_size features, not the whole output: "
            "slice the rows of weight and of bias.":
                lambda: n > 1 and _each_equals(got, [full] * n),
            f"add each rank's slice of the bias, bias[r·{k}:(r+1)·{k}]: every output feature has its own bias.":
                lambda: bias is not None and _each_equals(got, no_bias),
            "every rank adds its own slice of the bias (a column split's ranks each own whole output features; "
            "it is in a row split that the bias is added only once).":
                lambda: bias is not None and n > 1 and _each_equals(got, [expected[0]] + no_bias[1:]),
            "list rank 0's output first: rank r computes features r·k … (r+1)·k - 1.":
                lambda: n > 1 and _each_equals(got, expected[::-1]),
            "each rank's features are consecutive rows of weight, r·k … (r+1)·k - 1, not every world_size-th row.":
                lambda: n > 1 and _each_equals(got, [F.linear(x, weight[r::n], None if bias is None else bias[r::n])
                                                     for r in range(n)]),
        })

    return Cases(cases, diagnose, atol=1e-5, inputs_unchanged=True, library=(column_parallel_forward, split_columns))
