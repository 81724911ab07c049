"""The checks of notebook 16 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks.ch16_moe import check_load_balancing_loss, check_top_k_routing
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_top_k_routing"] == Exercise("16.1", "Route each token to its top-k experts")
    assert EXERCISES["check_load_balancing_loss"] == Exercise("16.2", "The load-balancing loss")


# --- 16.1 top-k routing ----------------------------------------------------------


def top_k_routing(router_logits, k):
    top_logits, indices = torch.topk(router_logits, k, dim=-1)
    return torch.softmax(top_logits, dim=-1), indices


def renormalised_probabilities(router_logits, k):
    probs, indices = router_logits.softmax(dim=-1).topk(k)
    return probs / probs.sum(dim=-1, keepdim=True), indices


def sorted_by_hand(router_logits, k):
    indices = router_logits.argsort(dim=-1, descending=True)[:, :k]
    chosen = router_logits.gather(1, indices)
    e = torch.exp(chosen - chosen.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True), indices


def masked_softmax(router_logits, k):
    kth = router_logits.topk(k, dim=-1).values[:, -1:]
    masked = router_logits.masked_fill(router_logits < kth, float("-inf"))
    weights, indices = masked.softmax(dim=-1).topk(k, dim=-1)
    return [weights, indices]  # a list, not a tuple


def token_by_token(router_logits, k):
    weights, indices = [], []
    for row in router_logits.tolist():
        best = sorted(range(len(row)), key=lambda e: row[e], reverse=True)[:k]
        top = max(row[e] for e in best)
        exps = [2.718281828459045 ** (row[e] - top) for e in best]
        weights.append([x / sum(exps) for x in exps])
        indices.append(best)
    return torch.tensor(weights), torch.tensor(indices)


def test_routing_right_answers_pass(capsys):
    for answer in (top_k_routing, renormalised_probabilities, sorted_by_hand, masked_softmax, token_by_token):
        check_top_k_routing(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 16.1 (Route each token to its top-k experts): all 6 cases pass.") == 5
    assert "re-creates" not in out  # torch.topk is a building block, not what the exercise re-creates


def test_routing_stub_is_not_solved():
    def stub(router_logits, k):
        raise NotImplementedError("Exercise 16.1 (Route each token to its top-k experts) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="16.1"):
        check_top_k_routing(stub)


def full_softmax_top_k(router_logits, k):
    return router_logits.softmax(dim=-1).topk(k, dim=-1)


def by_expert_number(router_logits, k):
    weights, indices = top_k_routing(router_logits, k)
    order = indices.argsort(dim=-1)
    return weights.gather(1, order), indices.gather(1, order)


def dense_weights(router_logits, k):
    weights, indices = top_k_routing(router_logits, k)
    return torch.zeros_like(router_logits).scatter(1, indices, weights), indices


def unstable(router_logits, k):
    top_logits, indices = router_logits.topk(k)
    e = top_logits.exp()
    return e / e.sum(dim=-1, keepdim=True), indices


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (full_softmax_top_k, "full softmax's top k: they sum to 0.\\d+ per token, not 1"),
        (lambda x, k: (x.topk(k, largest=False).values.softmax(-1), x.topk(k, largest=False).indices),
         "k smallest logits"),
        (lambda x, k: (x.sort(dim=-1).values[:, :k].softmax(-1), x.argsort(dim=-1)[:, :k]), "k smallest logits"),
        (lambda x, k: (x.topk(k).values.softmax(dim=0), x.topk(k).indices), "not over the tokens"),
        (lambda x, k: x.softmax(dim=0).topk(k), "not over the tokens"),
        (lambda x, k: (x.topk(k).values, x.softmax(-1).topk(k).indices), "raw logits"),
        (by_expert_number, "largest weight first"),
        (lambda x, k: top_k_routing(x, k)[::-1], "weights first, then the expert indices"),
        (dense_weights, r"not one per expert \(N, n_experts\)"),
        (unstable, "NaN: exp of a large logit overflows"),
        (lambda x, k: (x.topk(k).values.sigmoid(), x.topk(k).indices), "should sum to 1; yours sum to"),
        (lambda x, k: top_k_routing(x, k)[0], "a tuple of two tensors"),
    ],
)
def test_routing_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_top_k_routing(wrong)


def test_routing_that_overflows_only_for_large_logits_is_told_to_subtract_the_max():
    def unstable_late(router_logits, k):
        return unstable(router_logits, k) if router_logits.max() > 50 else top_k_routing(router_logits, k)

    with pytest.raises(WrongAnswer) as info:
        check_top_k_routing(unstable_late)
    message = str(info.value)
    assert "contains NaN" in message and "Subtract each row's largest logit" in message


def test_routing_in_place_is_caught():
    def sorts_in_place(router_logits, k):
        router_logits.copy_(router_logits.sort(dim=-1, descending=True).values)
        return top_k_routing(router_logits, k)

    with pytest.raises(WrongAnswer, match="do not change your inputs in place"):
        check_top_k_routing(sorts_in_place)


def test_routing_by_the_library_passes_with_a_note(capsys):
    from helpers.moe import top_k_routing as library

    check_top_k_routing(lambda router_logits, k: library(router_logits, k))
    out = capsys.readouterr().out
    assert "✅ Exercise 16.1" in out and "helpers.moe.top_k_routing" in out


# --- 16.2 the load-balancing loss ------------------------------------------------


def with_bincount(router_probs, expert_indices, n_experts):
    f = torch.bincount(expert_indices.flatten(), minlength=n_experts) / expert_indices.numel()
    P = router_probs.mean(dim=0)
    return n_experts * (f * P).sum()


def with_one_hot(router_probs, expert_indices, n_experts):
    f = F.one_hot(expert_indices, n_experts).float().mean(dim=(0, 1))  # (N, k, n_experts) -> (n_experts,)
    return n_experts * torch.dot(f, router_probs.mean(dim=0))


def with_a_loop(router_probs, expert_indices, n_experts):
    total = 0.0
    for i in range(n_experts):
        f_i = (expert_indices == i).sum() / expert_indices.numel()
        total = total + f_i * router_probs[:, i].mean()
    return n_experts * total


def with_einsum(router_probs, expert_indices, n_experts):
    n_tokens, k = expert_indices.shape
    per_token = F.one_hot(expert_indices, n_experts).sum(dim=1).float()  # (N, n_experts)
    return n_experts / (n_tokens**2 * k) * torch.einsum("ne,me->", per_token, router_probs)


def test_loss_right_answers_pass(capsys):
    for answer in (with_bincount, with_one_hot, with_a_loop, with_einsum):
        check_load_balancing_loss(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 16.2 (The load-balancing loss): all 6 cases pass.") == 4


def test_loss_stub_is_not_solved():
    def stub(router_probs, expert_indices, n_experts):
        raise NotImplementedError("Exercise 16.2 (The load-balancing loss) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="16.2"):
        check_load_balancing_loss(stub)


def counts(expert_indices, n_experts):
    return torch.bincount(expert_indices.flatten(), minlength=n_experts).float()


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda p, idx, n: with_bincount(p, idx, n) / n, "multiply by n_experts"),
        (lambda p, idx, n: n * (counts(idx, n) / idx.numel() * p.mean(0)).mean(), "a sum over the experts, not a mean"),
        (lambda p, idx, n: n * (counts(idx, n) * p.mean(0)).sum(), "a fraction, not a count"),
        (lambda p, idx, n: n * (counts(idx, n) / idx.shape[0] * p.mean(0)).sum(), "not by the N tokens"),
        (lambda p, idx, n: with_bincount(p, idx[:, :1], n), "count every slot"),
        (lambda p, idx, n: n * (counts(idx, n) / idx.numel() * p.sum(0)).sum(), "a mean over the tokens"),
        (lambda p, idx, n: n * (counts(idx, n) / idx.numel() * p.mean(1)).sum(), r"you averaged over the experts"),
        (lambda p, idx, n: n * (p.mean(0) ** 2).sum(), "not the probabilities"),
        (lambda p, idx, n: with_bincount(p, idx, n).item(), "not a Python number"),
        (lambda p, idx, n: n * counts(idx, n) / idx.numel() * p.mean(0), r"not shape \(4,\)"),
        (lambda p, idx, n: with_bincount(p, idx, n).reshape(1), r"a 0-dim tensor, not shape \(1,\)"),
    ],
)
def test_loss_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_load_balancing_loss(wrong)


def test_loss_without_minlength_is_told_about_unused_experts():
    def no_minlength(router_probs, expert_indices, n_experts):
        f = torch.bincount(expert_indices.flatten()) / expert_indices.numel()
        return n_experts * (f * router_probs.mean(dim=0)).sum()

    with pytest.raises(WrongAnswer) as info:
        check_load_balancing_loss(no_minlength)
    message = str(info.value)
    assert "your code raised RuntimeError" in message and "minlength=n_experts" in message


def test_loss_that_raises_gets_a_short_message():
    def broken(router_probs, expert_indices, n_experts):
        return router_probs @ expert_indices

    with pytest.raises(WrongAnswer) as info:
        check_load_balancing_loss(broken)
    message = str(info.value)
    assert message.startswith("Exercise 16.2 (The load-balancing loss): not quite.")
    assert "your code raised RuntimeError" in message and len(message.splitlines()) <= 6


def test_loss_by_the_library_passes_with_a_note(capsys):
    from helpers.moe import load_balancing_loss

    check_load_balancing_loss(load_balancing_loss)
    out = capsys.readouterr().out
    assert "✅ Exercise 16.2" in out and "helpers.moe.load_balancing_loss" in out


def test_the_checks_leave_the_global_random_numbers_alone():
    torch.manual_seed(0)
    check_top_k_routing(top_k_routing)
    check_load_balancing_loss(with_bincount)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
