"""The checks of notebook 19 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks.ch19_distributed import check_all_reduce_mean, check_column_parallel_forward
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer
from helpers.distributed import split_columns


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_all_reduce_mean"] == Exercise("19.1", "Average the gradients of every process")
    assert EXERCISES["check_column_parallel_forward"] == Exercise("19.2", "Split a linear layer by columns")


# --- 19.1 the gradient average ---------------------------------------------------


def all_reduce_mean(tensors):
    mean = torch.stack(tensors).mean(dim=0)
    return [mean.clone() for _ in tensors]


def summed_in_a_loop(tensors):
    total = torch.zeros_like(tensors[0])
    for gradient in tensors:
        total = total + gradient
    return [total / len(tensors) for _ in tensors]


def with_reduce_as_a_tuple(tensors):
    total = functools.reduce(torch.add, tensors)
    return tuple(total.div(len(tensors)) for _ in tensors)  # a tuple, each a new tensor


def rows_of_one_copy(tensors):
    mean = torch.stack(tensors).double().mean(dim=0).float()
    return list(mean.expand(len(tensors), *mean.shape).clone())  # n rows of one tensor: no row shares another's memory


def ring_by_hand(tensors):
    """The ring of the notebook, on flat chunks: reduce-scatter then all-gather."""
    n = len(tensors)
    chunks = [list(t.flatten().clone().tensor_split(n)) for t in tensors]
    for step in range(n - 1):
        sent = [chunks[r][(r - step) % n].clone() for r in range(n)]
        for r in range(n):
            chunks[(r + 1) % n][(r - step) % n] = chunks[(r + 1) % n][(r - step) % n] + sent[r]
    for step in range(n - 1):
        sent = [chunks[r][(r + 1 - step) % n].clone() for r in range(n)]
        for r in range(n):
            chunks[(r + 1) % n][(r + 1 - step) % n] = sent[r]
    return [torch.cat(c).reshape(tensors[0].shape) / n for c in chunks]


def test_mean_right_answers_pass(capsys):
    for answer in (all_reduce_mean, summed_in_a_loop, with_reduce_as_a_tuple, rows_of_one_copy, ring_by_hand):
        check_all_reduce_mean(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 19.1 (Average the gradients of every process): all 5 cases pass.") == 5
    assert "re-creates" not in out


def test_mean_stub_is_not_solved():
    def stub(tensors):
        raise NotImplementedError("Exercise 19.1 (Average the gradients of every process) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="19.1"):
        check_all_reduce_mean(stub)


def added_into_rank_0(tensors):
    total = tensors[0]
    for gradient in tensors[1:]:
        total += gradient  # adds into tensors[0] itself
    return [total / len(tensors) for _ in tensors]


def divided_in_place(tensors):
    for gradient in tensors:
        gradient /= len(tensors)
    total = torch.stack(tensors).sum(dim=0)
    return [total.clone() for _ in tensors]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda t: [torch.stack(t).sum(dim=0) for _ in t], "that is the sum over the ranks: divide it by the world"),
        (lambda t: torch.stack(t).mean(dim=0), "a list of 2, not one tensor"),
        (lambda t: torch.stack([torch.stack(t).mean(dim=0)] * len(t)), r"a list of 2 tensors \(one per rank, each"),
        (lambda t: [torch.stack(t).sum(dim=0) / t[0].numel() for _ in t], "number of entries of one gradient"),
        (lambda t: [torch.stack(t).mean(dim=1) for _ in t], "along dim 1 of torch.stack"),
        (lambda t: list(torch.stack(t).mean(dim=1)), "along dim 1 of torch.stack"),
        (lambda t: [torch.stack(t).mean() for _ in t], "into one number"),
        (lambda t: [g.clone() for g in t], "each rank got its own gradient back"),
        (lambda t: [torch.stack(t).mean(dim=0)], "2 tensors for 2 ranks, got 1"),
        (lambda t: (m for m in all_reduce_mean(t)), "a list of 2 tensors, one per rank, got generator"),
        (added_into_rank_0, r"changed its input in place \(rank 0's gradient"),
        (divided_in_place, "do not change your inputs in place"),
        (lambda t: [torch.stack(t).mean(dim=0)] * len(t), "ranks 0 and 1 got the same tensor"),
        (lambda t: list(torch.stack(t).mean(dim=0).expand(len(t), *t[0].shape)), r"same tensor \(or views of one\)"),
    ],
)
def test_mean_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_all_reduce_mean(wrong)


def test_mean_aliasing_is_caught_beyond_two_ranks():
    def aliased_from_three_ranks(tensors):
        mean = torch.stack(tensors).mean(dim=0)
        return [mean.clone() for _ in tensors] if len(tensors) < 3 else [mean.clone()] + [mean] * (len(tensors) - 1)

    with pytest.raises(WrongAnswer, match="ranks 1 and 2 got the same tensor") as info:
        check_all_reduce_mean(aliased_from_three_ranks)
    assert "a list of 3" in str(info.value)  # the 3-rank case


def test_mean_by_the_library_passes_with_a_note(capsys):
    from helpers.distributed import all_reduce_mean as library

    check_all_reduce_mean(library)
    out = capsys.readouterr().out
    assert "✅ Exercise 19.1" in out and "helpers.distributed.all_reduce_mean" in out


# --- 19.2 a column-parallel linear layer -------------------------------------------


def column_parallel_forward(x, weight, bias, world_size):
    k = weight.shape[0] // world_size
    return [F.linear(x, weight[r * k : (r + 1) * k], None if bias is None else bias[r * k : (r + 1) * k])
            for r in range(world_size)]


def by_chunks(x, weight, bias, world_size):
    biases = bias.chunk(world_size) if bias is not None else [0] * world_size
    return [x @ w.T + b for w, b in zip(weight.chunk(world_size, dim=0), biases)]


def by_einsum(x, weight, bias, world_size):
    outputs = []
    k = len(weight) // world_size
    for r in range(world_size):
        out = torch.einsum("...i,oi->...o", x, weight[r * k : (r + 1) * k])
        outputs.append(out if bias is None else out + bias[r * k : (r + 1) * k])
    return outputs


def whole_then_sliced(x, weight, bias, world_size):
    return F.linear(x, weight, bias).tensor_split(world_size, dim=-1)  # a tuple of views of the full output


def with_split_columns(x, weight, bias, world_size):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return [part(x).detach() for part in split_columns(layer, world_size)]


def test_column_right_answers_pass(capsys):
    for answer in (column_parallel_forward, by_chunks, by_einsum, whole_then_sliced):
        check_column_parallel_forward(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 19.2 (Split a linear layer by columns): all 6 cases pass.") == 4
    assert "re-creates" not in out


def test_column_by_the_library_passes_with_a_note(capsys):
    check_column_parallel_forward(with_split_columns)
    out = capsys.readouterr().out
    assert "✅ Exercise 19.2" in out and "helpers.distributed.split_columns" in out


def test_column_stub_is_not_solved():
    def stub(x, weight, bias, world_size):
        raise NotImplementedError("Exercise 19.2 (Split a linear layer by columns) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="19.2"):
        check_column_parallel_forward(stub)


def split_inputs(x, weight, bias, world_size):
    k = weight.shape[1] // world_size
    return [F.linear(x[..., r * k : (r + 1) * k], weight[:, r * k : (r + 1) * k], bias if r == 0 else None)
            for r in range(world_size)]


def weight_as_in_out(x, weight, bias, world_size):
    k = weight.shape[0] // world_size
    return [x @ weight[:, r * k : (r + 1) * k] + bias[r * k : (r + 1) * k] for r in range(world_size)]


def bias_on_rank_0(x, weight, bias, world_size):
    k = weight.shape[0] // world_size
    return [F.linear(x, weight[r * k : (r + 1) * k], bias[:k] if r == 0 and bias is not None else None)
            for r in range(world_size)]


def changes_the_weight(x, weight, bias, world_size):
    outputs = column_parallel_forward(x, weight, bias, world_size)
    weight.zero_()
    return outputs


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, w, b, n: torch.cat(column_parallel_forward(x, w, b, n), dim=-1), "not their concatenation"),
        (lambda x, w, b, n: torch.stack(column_parallel_forward(x, w, b, n)), r"a list of 3 tensors, one per rank"),
        (split_inputs, "partial sums of the whole output: you split the input features"),
        (lambda x, w, b, n: [F.linear(x[..., c], w[:, c]) for c in torch.arange(w.shape[1]).chunk(n)],
         "partial sums of the whole output"),
        (weight_as_in_out, r"You used it as \(in_features, out_features\)"),
        (lambda x, w, b, n: [F.linear(x, wc, bc) for wc, bc in zip(w.chunk(n, dim=1), b.chunk(n))],
         r"(?s)raised RuntimeError.*rows r·2 … \(r\+1\)·2 - 1 of weight \(dim 0\)"),
        (lambda x, w, b, n: [x @ wc + bc for wc, bc in zip(w.chunk(n), b.chunk(n))],
         r"(?s)raised RuntimeError.*x @ weight_r.T \+ bias_r"),
        (lambda x, w, b, n: [F.linear(x, wc, b) for wc in w.chunk(n)],  # the whole bias on every rank
         r"(?s)raised RuntimeError.*the same slice of the bias"),
        (lambda x, w, b, n: [F.linear(x, w, b) for _ in range(n)], "not the whole output"),
        (lambda x, w, b, n: [F.linear(x, wc) for wc in w.chunk(n)], "add each rank's slice of the bias"),
        (bias_on_rank_0, "every rank adds its own slice of the bias"),
        (lambda x, w, b, n: column_parallel_forward(x, w, b, n)[::-1], "list rank 0's output first"),
        (lambda x, w, b, n: [F.linear(x, w[r::n], b[r::n]) for r in range(n)], "consecutive rows of weight"),
        (lambda x, w, b, n: [F.linear(x, wc, bc) for wc, bc in zip(w.chunk(n), b.chunk(n))],
         r"(?s)raised AttributeError.*bias is None here"),
        (lambda x, w, b, n: column_parallel_forward(x, w, b, n)[:1], "3 tensors for world_size=3, got 1"),
        (changes_the_weight, "do not change your inputs in place"),
    ],
)
def test_column_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_column_parallel_forward(wrong)


def test_the_checks_leave_the_global_random_numbers_alone():
    torch.manual_seed(0)
    check_all_reduce_mean(all_reduce_mean)
    check_column_parallel_forward(column_parallel_forward)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
