"""Checks of notebook 16 · Mixture of experts (reference: ``helpers.moe``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from helpers.checks.core import Case, Cases, exercise, first_match
from helpers.moe import load_balancing_loss, top_k_routing


def _equals(got: Any, value: Tensor) -> bool:
    return isinstance(got, Tensor) and got.shape == value.shape \
        and torch.allclose(got.detach().to(value.dtype), value, atol=1e-4, rtol=0)


# --- 16.1 top-k routing -------------------------------------------------------------

#: Each case's (tokens, experts, k, shift of the logits).
_ROUTING: list[tuple[int, int, int, float]] = [
    (5, 4, 2, 0.0),
    (6, 8, 2, 0.0),  # Mixtral's 8 experts, top 2
    (4, 6, 1, 0.0),  # top 1: renormalised over one expert, every weight is 1
    (3, 3, 3, 0.0),  # every expert chosen: the weights are the full softmax, sorted
    (1, 8, 2, 0.0),  # a single token
    (4, 5, 2, 100.0),  # large logits: exp overflows
]


@exercise("16.1", "Route each token to its top-k experts",
          success="Each token now knows its k experts and how much each one counts.")
def check_top_k_routing() -> Cases:
    """(weights, indices), both (N, k): the k largest logits per row, largest first, weights = their softmax."""
    gen = torch.Generator().manual_seed(16)
    cases = []
    for n_tokens, n_experts, k, shift in _ROUTING:
        router_logits = 2 * torch.randn(n_tokens, n_experts, generator=gen) + shift
        hint = ("take the k largest logits of each row (torch.topk gives them largest first, with their indices), "
                "then a softmax over those k logits only.")
        if shift:
            hint = ("the logits are about 100 here: exp(100) overflows float32. Subtract each row's largest logit "
                    "before exp (torch.softmax does it for you).")
        cases.append(Case((router_logits, k), top_k_routing(router_logits, k), hint))

    def diagnose(got: Any, case: Case) -> str | None:
        router_logits, k = case.args
        expected_weights, expected_indices = case.expected
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(isinstance(t, Tensor) for t in got):
            return "return a tuple of two tensors: (weights, indices), each of shape (N, k)."
        weights, indices = got
        if weights.shape == (router_logits.shape[0], router_logits.shape[1]) != expected_weights.shape:
            return ("weights has one column per chosen slot, shape (N, k), not one per expert (N, n_experts): "
                    "keep only the k chosen weights, in the order of indices.")
        if not weights.dtype.is_floating_point and indices.dtype.is_floating_point:
            return "return (weights, indices) in this order: the weights first, then the expert indices."
        if weights.shape != expected_weights.shape or indices.shape != expected_indices.shape:
            return f"weights and indices are both (N, k) = {tuple(expected_weights.shape)}: one row per token."
        if torch.isnan(weights).any():
            return "your weights contain NaN: exp of a large logit overflows. Subtract each row's largest logit " \
                   "before exp, or use torch.softmax."
        probs = torch.softmax(router_logits, dim=-1)
        smallest_indices = router_logits.topk(k, dim=-1, largest=False).indices
        top_logits = router_logits.topk(k, dim=-1).values

        def reordered() -> bool:  # the right experts and weights, in another order
            return not torch.equal(indices, expected_indices) \
                and torch.equal(indices.sort(dim=-1).values, expected_indices.sort(dim=-1).values) \
                and _equals(weights.sort(dim=-1).values, expected_weights.sort(dim=-1).values)

        total = float(weights.detach().sum(dim=-1).mean())
        return first_match({
            "you picked the k smallest logits: route each token to the experts with the largest ones.":
                lambda: torch.equal(indices, smallest_indices) and not torch.equal(smallest_indices, expected_indices),
            f"your weights are the full softmax's top k: they sum to {total:.3g} per token, not 1. "
            "Take the softmax over the k chosen logits only (or divide those probabilities by their sum).":
                lambda: _equals(weights, probs.topk(k, dim=-1).values),
            "your weights are the raw logits: turn the k chosen logits into weights with a softmax.":
                lambda: _equals(weights, top_logits),
            "softmax over the k chosen experts of each token (the last axis, dim=-1), not over the tokens.":
                lambda: _equals(weights, torch.softmax(top_logits, dim=0))
                or _equals(weights, torch.softmax(router_logits, dim=0).topk(k, dim=-1).values),
            "list each token's k experts largest weight first, as torch.topk does: sort the slots.":
                reordered,
            f"each token's weights should sum to 1; yours sum to {total:.3g}. Softmax over the k chosen logits.":
                lambda: not torch.allclose(weights.detach().sum(dim=-1).float(), torch.ones(len(weights)), atol=1e-4),
        })

    return Cases(cases, diagnose, atol=1e-5, inputs_unchanged=True, library=(top_k_routing,))


# --- 16.2 the load-balancing loss ------------------------------------------------------


def _routed(gen: torch.Generator, n_tokens: int, n_experts: int, k: int) -> tuple[Tensor, Tensor]:
    """A router's probabilities for random tokens, and the top-k experts they pick."""
    router_logits = torch.randn(n_tokens, n_experts, generator=gen)
    return torch.softmax(router_logits, dim=-1), router_logits.topk(k, dim=-1).indices


@exercise("16.2", "The load-balancing loss",
          success="1 when every expert gets its share, more when a few experts get most of the tokens: the "
                  "router now has a reason to share.")
def check_load_balancing_loss() -> Cases:
    """n_experts · Σ_i f_i · P_i: f_i over all N·k (token, slot) assignments, P_i the mean over the tokens."""
    gen = torch.Generator().manual_seed(162)
    uniform = torch.full((8, 4), 0.25)
    balanced = torch.stack([torch.arange(8) % 4, (torch.arange(8) + 2) % 4], dim=1)  # each expert 4 times of 16
    one_expert = F.one_hot(torch.zeros(6, dtype=torch.long), 5).float()
    examples = [  # (router_probs, expert_indices), n_experts, what the case is
        (_routed(gen, 4, 4, 2), 4, ""),  # as many tokens as experts: averaging over the wrong axis does not raise
        (_routed(gen, 10, 8, 2), 8, ""),
        (_routed(gen, 5, 3, 1), 3, ""),
        ((uniform, balanced), 4, "perfect balance (every f_i and P_i is 1/4): the loss is exactly 1. "),
        ((one_expert, torch.zeros(6, 1, dtype=torch.long)), 5,
         "every token goes to expert 0 with probability 1: the loss is n_experts = 5. "),
        ((_routed(gen, 6, 4, 2)[0], torch.tensor([[0, 1], [1, 2], [2, 0], [0, 1], [1, 0], [2, 1]])), 4, ""),
    ]
    cases = []
    for (probs, indices), n_experts, lead in examples:
        unused = sorted(set(range(n_experts)) - set(indices.flatten().tolist()))
        if unused:
            lead += (f"expert {', '.join(map(str, unused))} gets no token here: f still has one entry per expert, "
                     "zeros included (torch.bincount(..., minlength=n_experts), or a one-hot). ")
        hint = lead + ("f_i = (assignments to expert i) / (all N · k assignments), P_i = the mean over the tokens "
                       "of router_probs[:, i]; the loss is n_experts · Σ_i f_i · P_i, a 0-dim tensor.")
        cases.append(Case((probs, indices, n_experts), load_balancing_loss(probs, indices, n_experts), hint))

    def diagnose(got: Any, case: Case) -> str | None:
        router_probs, expert_indices, n_experts = case.args
        if not isinstance(got, Tensor):
            return "return a tensor (the loss must carry its gradient back to the router), not a Python number."
        if got.dim() != 0:
            return (f"return one number, a 0-dim tensor, not shape {tuple(got.shape)}: "
                    "sum f_i · P_i over the experts.")
        n_tokens, k = expert_indices.shape
        counts = torch.bincount(expert_indices.flatten(), minlength=n_experts).float()  # (n_experts,)
        f = counts / (n_tokens * k)
        P = router_probs.mean(dim=0)
        first_slot = torch.bincount(expert_indices[:, 0], minlength=n_experts).float() / n_tokens
        return first_match({
            "multiply by n_experts: the loss is n_experts · Σ_i f_i · P_i (a sum over the experts, not a mean), "
            "so that perfect balance gives 1.":
                lambda: _equals(got, (f * P).sum()),
            "f_i is a fraction, not a count: divide the assignments to expert i by all N · k of them.":
                lambda: _equals(got, n_experts * (counts * P).sum()),
            "divide the counts by all N · k assignments (tokens × slots), not by the N tokens, so that the f_i "
            "sum to 1 (transformers divides by N: its loss is k times this one).":
                lambda: k > 1 and _equals(got, n_experts * (counts / n_tokens * P).sum()),
            "count every slot: with k = 2 each token makes two assignments, and f_i is over all N · k of them, "
            "not only the first choices.":
                lambda: k > 1 and _equals(got, n_experts * (first_slot * P).sum()),
            "P_i is a mean over the tokens (dim=0), one number per expert, not a sum.":
                lambda: _equals(got, n_experts * (f * router_probs.sum(dim=0)).sum()),
            "P_i is the mean over the tokens (dim=0) of expert i's probability, one number per expert; "
            "you averaged over the experts (dim=1).":
                lambda: _equals(got, n_experts * (f * router_probs.mean(dim=1)).sum()),
            "f_i counts the assignments in expert_indices (which expert each token went to), "
            "not the probabilities: those are P_i.":
                lambda: _equals(got, n_experts * (P * P).sum()),
        })

    return Cases(cases, diagnose, atol=1e-5, inputs_unchanged=True, library=(load_balancing_loss,))
