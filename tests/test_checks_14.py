"""The checks of notebook 14 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks.ch14_lora import check_lora_forward, check_merge_lora_weight
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_lora_forward"] == Exercise("14.1", "The LoRA forward")
    assert EXERCISES["check_merge_lora_weight"] == Exercise("14.2", "Merge LoRA into the weight")


# --- 14.1 the LoRA forward ---------------------------------------------------


def lora_forward(x, weight, bias, A, B, scaling):
    out = x @ weight.T + scaling * (x @ A.T @ B.T)
    return out if bias is None else out + bias


def merged_first(x, weight, bias, A, B, scaling):
    return F.linear(x, weight + scaling * B @ A, bias)


def with_einsum(x, weight, bias, A, B, scaling):
    update = torch.einsum("...i,ri,or->...o", x, A, B)
    return F.linear(x, weight, bias) + scaling * update


def test_forward_right_answers_pass(capsys):
    for answer in (lora_forward, merged_first, with_einsum):
        check_lora_forward(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 14.1 (The LoRA forward): all 6 cases pass.") == 3
    assert "re-creates" not in out  # F.linear is the base layer, not what this exercise re-creates


def test_forward_stub_is_not_solved():
    def stub(x, weight, bias, A, B, scaling):
        raise NotImplementedError("Exercise 14.1 (The LoRA forward) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="14.1"):
        check_lora_forward(stub)


def b_(bias):
    return 0 if bias is None else bias


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, W, b, A, B, s: x @ W.T + b_(b), "base layer's output alone"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + x @ A.T @ B.T, "the update is scaled"),
        (lambda x, W, b, A, B, s: F.linear(x, W + B @ A, b), "not W \\+ B @ A"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + s * s * (x @ A.T @ B.T), "scaling twice"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + (x @ A.T @ B.T) / s, "do not divide"),
        (lambda x, W, b, A, B, s: s * (x @ W.T + b_(b) + x @ A.T @ B.T), "LoRA update only"),
        (lambda x, W, b, A, B, s: s * (x @ W.T + x @ A.T @ B.T) + b_(b), "LoRA update only, not x @ weight.T"),
        (lambda x, W, b, A, B, s: x @ W.T + s * (x @ A.T @ B.T), "forgot the bias"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + s * (x @ B.T @ A.T), "swapped A and B"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + s * (x @ A @ B), "transpose them"),
        (lambda x, W, b, A, B, s: x @ W.T + b_(b) + s * (x @ (B @ A)), r"x @ \(B @ A\).T"),
        (lambda x, W, b, A, B, s: x @ W + b_(b) + s * (x @ A.T @ B.T), "the base layer computes x @ weight.T"),
    ],
)
def test_forward_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_lora_forward(wrong)


def test_forward_shape_mistakes_that_raise_say_which_shape_is_which():
    def swapped_but_shaped(x, weight, bias, A, B, scaling):
        if A.shape[0] == A.shape[1]:  # passes the square case, then raises on the next
            return lora_forward(x, weight, bias, A, B, scaling)
        return x @ weight.T + bias + scaling * (x @ B.T @ A.T)

    with pytest.raises(WrongAnswer) as info:
        check_lora_forward(swapped_but_shaped)
    message = str(info.value)
    assert "your code raised RuntimeError" in message and "x @ A.T goes down to rank" in message


def test_forward_that_breaks_on_a_missing_bias_is_told_bias_may_be_none():
    def always_bias(x, weight, bias, A, B, scaling):
        return x @ weight.T + bias + scaling * (x @ A.T @ B.T)

    with pytest.raises(WrongAnswer, match="raised TypeError(.|\n)*bias is None here"):
        check_lora_forward(always_bias)


def test_forward_check_leaves_the_global_random_numbers_alone():
    torch.manual_seed(0)
    check_lora_forward(lora_forward)
    after_check = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after_check, torch.rand(3))


# --- 14.2 merge into the weight ----------------------------------------------


def merge_weight(weight, A, B, scaling):
    return weight + scaling * B @ A


def merge_by_einsum(weight, A, B, scaling):
    return torch.einsum("or,ri->oi", B, A).mul(scaling).add(weight)


def test_merge_right_answers_pass(capsys):
    check_merge_lora_weight(merge_weight)
    check_merge_lora_weight(merge_by_einsum)
    check_merge_lora_weight(lambda W, A, B, s: torch.addmm(W, B, A, alpha=s))
    assert capsys.readouterr().out.count("✅ Exercise 14.2 (Merge LoRA into the weight): all 6 cases pass.") == 3


def test_merge_stub_is_not_solved():
    def stub(weight, A, B, scaling):
        raise NotImplementedError("Exercise 14.2 (Merge LoRA into the weight) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="14.2"):
        check_merge_lora_weight(stub)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda W, A, B, s: W + B @ A, "the update is scaled"),
        (lambda W, A, B, s: s * B @ A, "not the update alone"),
        (lambda W, A, B, s: B @ A, "not the update alone"),
        (lambda W, A, B, s: W + B @ A / s, "do not divide"),
        (lambda W, A, B, s: W + s * s * B @ A, "scaling twice"),
        (lambda W, A, B, s: W + s * A @ B, "not A @ B"),
        (lambda W, A, B, s: W + s * (B @ A).T, "do not transpose it"),
        (lambda W, A, B, s: (W + s * B @ A).T, "your result is transposed"),
        (lambda W, A, B, s: W.T + s * A.T @ B.T, "your result is transposed"),
    ],
)
def test_merge_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_merge_lora_weight(wrong)


def test_merge_in_place_is_caught():
    def in_place(weight, A, B, scaling):
        weight += scaling * B @ A
        return weight

    with pytest.raises(WrongAnswer, match="do not change your inputs in place"):
        check_merge_lora_weight(in_place)
    with pytest.raises(WrongAnswer, match="do not change your inputs in place"):
        check_merge_lora_weight(lambda W, A, B, s: W.add_(B @ A, alpha=s))


def test_merge_shape_mistakes_get_a_shape_hint():
    def a_at_b_when_it_fits(weight, A, B, scaling):
        if A.shape[0] == A.shape[1] or A.shape[0] == 1:  # A @ B happens to fit: the square and rank-1 cases
            return merge_weight(weight, A, B, scaling)
        return weight + scaling * A @ B

    def transposed_update(weight, A, B, scaling):
        return merge_weight(weight, A, B, scaling) if A.shape[0] == A.shape[1] else scaling * A.T @ B.T

    with pytest.raises(WrongAnswer) as info:
        check_merge_lora_weight(a_at_b_when_it_fits)
    assert "your code raised RuntimeError" in str(info.value) and "which product of the two has the weight's shape" in str(info.value)
    with pytest.raises(WrongAnswer, match=r"weight's shape \(out_features, in_features\) = \(5, 6\), not \(6, 5\)"):
        check_merge_lora_weight(transposed_update)


def test_rank_one_a_at_b_broadcasts_and_is_still_caught():
    def a_at_b(weight, A, B, scaling):
        if A.shape[0] == A.shape[1]:  # skip the square case, which catches it already
            return merge_weight(weight, A, B, scaling)
        if A.shape[0] == 1 and weight.shape[0] == weight.shape[1]:
            return weight + scaling * A @ B  # (1, 1): broadcasts
        return merge_weight(weight, A, B, scaling)

    with pytest.raises(WrongAnswer, match="not A @ B"):
        check_merge_lora_weight(a_at_b)


def test_the_library_layer_passes_both_checks_with_a_note(capsys):
    from helpers.lora import LoRALinear

    def by_library(weight, A, B, scaling):
        layer = LoRALinear(torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False), A.shape[0], scaling * A.shape[0])
        with torch.no_grad():
            layer.base.weight.copy_(weight)
            layer.lora_A.copy_(A)
            layer.lora_B.copy_(B)
        return layer.merged().weight.detach()

    check_merge_lora_weight(by_library)
    out = capsys.readouterr().out
    assert "✅ Exercise 14.2" in out and "helpers.lora.LoRALinear" in out
