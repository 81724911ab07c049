"""Checks of notebook 05 · attention heads (references: nn.Linear, F.scaled_dot_product_attention,
``helpers.attention``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers.attention import MultiHeadAttention, SelfAttentionHead, causal_mask, split_heads
from helpers.checks.core import Case, Cases, exercise


@exercise("5.1", "A linear layer by hand", success="That is all nn.Linear does.")
def check_linear_by_hand() -> Cases:
    """y = x · Wᵀ + b, with W of shape (out_features, in_features), as nn.Linear computes it."""
    gen = torch.Generator().manual_seed(5)
    cases = []
    for shape, d_in, d_out in [((4, 3), 3, 2), ((2, 5, 3), 3, 4), ((3, 3), 3, 3)]:
        layer = torch.nn.Linear(d_in, d_out)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(d_out, d_in, generator=gen))
            layer.bias.copy_(torch.randn(d_out, generator=gen))
        x = torch.randn(*shape, generator=gen)
        cases.append(Case((x, layer.weight.detach(), layer.bias.detach()), layer(x).detach(),
                          "weight is (out_features, in_features): compute x @ weight.T + bias."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, weight, bias = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"weight has shape {tuple(weight.shape)} = (out_features, in_features), so the output "
                f"has {weight.shape[0]} features per row: use x @ weight.T, not x @ weight."
            )
        if torch.allclose(got, x @ weight.T, atol=1e-5):
            return "you forgot the bias: add + bias."
        if torch.allclose(got, x @ weight + bias, atol=1e-5):
            return "weight is stored as (out_features, in_features): transpose it, x @ weight.T."
        return None

    return Cases(cases, diagnose, atol=1e-5)


def _head(x: Any, W_q: Any, W_k: Any, W_v: Any, scale: float | None = None) -> Any:
    """One head with the given projections (a wrong ``scale`` names a mistake)."""
    return F.scaled_dot_product_attention(x @ W_q.T, x @ W_k.T, x @ W_v.T, scale=scale)


@exercise("5.2", "One attention head", success="One head attends.")
def check_attention_head() -> Cases:
    """q, K, V = x·W_Qᵀ, x·W_Kᵀ, x·W_Vᵀ; softmax(Q·Kᵀ/√d_k)·V (no mask)."""
    gen = torch.Generator().manual_seed(50)
    cases = []
    for shape, d_in, d_out in [((4, 3), 3, 2), ((2, 5, 6), 6, 4), ((3, 4), 4, 4)]:
        x = 2 * torch.randn(*shape, generator=gen)
        W_q, W_k, W_v = (torch.randn(d_out, d_in, generator=gen) for _ in range(3))
        cases.append(Case((x, W_q, W_k, W_v), _head(x, W_q, W_k, W_v),
                          "each W is (d_out, d_in): project with x @ W.T, then scaled dot-product attention."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, W_q, W_k, W_v = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return (
                f"the output should be {tuple(case.expected.shape)}: one row per token, "
                f"d_out = {W_v.shape[0]} features. Project with x @ W.T (W is (d_out, d_in))."
            )
        if torch.allclose(got, _head(x, W_q, W_k, W_v, scale=1.0), atol=1e-5):
            return f"you forgot the 1/√d scaling of the scores (d = {W_k.shape[0]}, the size of a key)."
        if torch.allclose(got, _head(x, W_q, W_k, W_v, scale=x.shape[-1] ** -0.5), atol=1e-5):
            return "scale by the size of the keys (d_out), not of the input (d_in)."
        if torch.allclose(got, _head(x, W_k, W_q, W_v), atol=1e-5):
            return "queries come from W_q and keys from W_k: you swapped them."
        return None

    return Cases(cases, diagnose, atol=1e-5)


@exercise("5.3", "The causal mask", success="No token can peek at the future.")
def check_causal_mask() -> Cases:
    """a boolean (T, T) mask, True on and below the diagonal (a token sees itself and the past)."""
    cases = [Case((T,), causal_mask(T)) for T in (3, 5, 1)]

    def diagnose(got: Any, case: Case) -> str | None:
        T = case.args[0]
        if not hasattr(got, "shape") or tuple(got.shape) != (T, T):
            return f"the mask is square: (T, T) = ({T}, {T})."
        if got.dtype != torch.bool:
            return f"the mask has dtype {got.dtype}; make it boolean (dtype=torch.bool), True where attention is allowed."
        got_bool = got.bool()
        ones = torch.ones(T, T, dtype=torch.bool)
        if torch.equal(got_bool, ones.tril(-1)):
            return "off by one: a token may attend to ITSELF, so the diagonal must be True (tril(), not tril(-1))."
        if torch.equal(got_bool, ones.tril(1)):
            return "off by one: the entry just above the diagonal is the NEXT token, the future: keep it False."
        if torch.equal(got_bool, ~ones.tril()):
            return (
                "you marked the future (the hidden part); True must mean 'may attend' "
                "(itself and the past): invert your mask."
            )
        if torch.equal(got_bool, ones.triu()):
            return "row i is query i, column j is key j: allow j <= i, which is the LOWER triangle."
        return None

    return Cases(cases, diagnose)


def _slides_head(x: Any, weights: dict[str, Any], scale: float | None = None, dim: int = -1,
                 causal: bool = True) -> Any:
    """The slides' causal head on ``x`` with the given key/query/value weights (variants for hints)."""
    q, k, v = (x @ weights[name].T for name in ("query", "key", "value"))
    scores = q @ k.transpose(-2, -1) * (k.shape[-1] ** -0.5 if scale is None else scale)
    if causal:
        scores = scores.masked_fill(~causal_mask(x.shape[-2]), float("-inf"))
    return F.softmax(scores, dim=dim) @ v


def _run_head_class(head_class: Any) -> Any:
    """The function the cases call: build ``head_class(d_in, head_size, context_length)``,
    give it the case's weights, and run it on ``x``."""
    if not isinstance(head_class, type):
        raise TypeError(f"Exercise 5.4: pass the class itself, check_head_module(Head), not {type(head_class).__name__}.")

    def Head(x: Any, weights: dict[str, Any], context_length: int) -> Any:  # noqa: N802 (named like the class)
        head = head_class(x.shape[-1], weights["query"].shape[0], context_length)
        for name, weight in weights.items():
            layer = getattr(head, name, None)
            if not isinstance(layer, nn.Linear):
                raise AttributeError(f"the head has no nn.Linear called self.{name}")
            if tuple(layer.weight.shape) != tuple(weight.shape):
                raise ValueError(f"self.{name}.weight has shape {tuple(layer.weight.shape)}; nn.Linear(d_in, head_size) "
                                 f"stores (head_size, d_in) = {tuple(weight.shape)}")
            if layer.bias is not None:
                raise ValueError(f"self.{name} has a bias: make it nn.Linear(d_in, head_size, bias=False)")
            with torch.no_grad():
                layer.weight.copy_(weight)
        with torch.no_grad():
            return head.eval()(x)

    return Head


@exercise("5.4", "An attention head as a module", success="A head is an nn.Module now: the one GPTs are made of.")
def check_head_module() -> Cases:
    """``Head(d_in, head_size, context_length)``: key, query, value ``nn.Linear`` without bias; causal
    attention scaled by √head_size."""
    gen = torch.Generator().manual_seed(54)
    cases = []
    for (B, T, d_in, head_size, context_length) in [(1, 4, 6, 3, 8), (2, 5, 8, 4, 5), (1, 1, 4, 2, 4)]:
        x = torch.randn(B, T, d_in, generator=gen)
        weights = {name: torch.randn(head_size, d_in, generator=gen) for name in ("query", "key", "value")}
        cases.append(Case((x, weights, context_length), _slides_head(x, weights),
                          "q = self.query(x), k = self.key(x); weights = softmax(q @ kᵀ · head_size^-0.5) with the "
                          "future masked; return weights @ self.value(x)."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, weights, _ = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return f"forward returns one vector of head_size numbers per token: shape {tuple(case.expected.shape)}."
        variants = [
            (dict(scale=1.0), "scale the scores by head_size ** -0.5 (k.shape[-1] ** -0.5), as in notebook 04."),
            (dict(scale=x.shape[-1] ** -0.5), "scale by the size of a KEY (head_size = k.shape[-1]), not by d_in = x.shape[-1]."),
            (dict(causal=False), "mask the future: scores.masked_fill(tril[:T, :T] == 0, float('-inf')) before the softmax."),
            (dict(dim=-2), "the softmax runs over the keys of each query: dim=-1."),
        ]
        for settings, hint in variants:
            if torch.allclose(got, _slides_head(x, weights, **settings), atol=1e-5):
                return hint
        return None

    return Cases(cases, diagnose, atol=1e-5, adapt=_run_head_class)


def _run_multi_head_class(multi_head_class: Any) -> Any:
    """The function the cases call: build ``multi_head_class(d_model, n_heads)``, give its heads
    and projection the weights of the library's ``MultiHeadAttention``, and run it on ``x``."""
    if not isinstance(multi_head_class, type):
        raise TypeError("Exercise 5.5: pass the class itself, check_multi_head(MultiHead), "
                        f"not {type(multi_head_class).__name__}.")

    def MultiHead(x: Any, reference: MultiHeadAttention) -> Any:  # noqa: N802 (named like the class)
        multi = multi_head_class(reference.d_model, reference.n_heads)
        heads, proj = getattr(multi, "heads", None), getattr(multi, "proj", None)
        if not isinstance(heads, nn.ModuleList) or len(heads) != reference.n_heads:
            raise AttributeError(f"self.heads should be an nn.ModuleList of n_heads = {reference.n_heads} heads")
        if not isinstance(proj, nn.Linear) or tuple(proj.weight.shape) != (reference.d_model,) * 2:
            raise AttributeError(f"self.proj should be nn.Linear(d_model, d_model) = nn.Linear({reference.d_model}, "
                                 f"{reference.d_model})")
        for mine, theirs in zip(heads, reference.heads()):
            if not isinstance(mine, SelfAttentionHead) or mine.W_query.out_features != reference.head_dim:
                raise ValueError(f"each head is a SelfAttentionHead(d_model, d_model // n_heads) = "
                                 f"SelfAttentionHead({reference.d_model}, {reference.head_dim})")
            mine.load_state_dict(theirs.state_dict())
        proj.load_state_dict(reference.out_proj.state_dict())
        with torch.no_grad():
            return multi.eval()(x)

    return MultiHead


@exercise("5.5", "Multi-head attention from heads", success="Several heads, one layer: multi-head attention.")
def check_multi_head() -> Cases:
    """``MultiHead(d_model, n_heads)``: ``self.heads`` (an ``nn.ModuleList`` of causal ``SelfAttentionHead`` s of
    ``d_model // n_heads``), their outputs concatenated on the last axis, then ``self.proj``; compared with
    ``MultiHeadAttention`` (which a test proves equal to ``nn.MultiheadAttention``)."""
    gen = torch.Generator().manual_seed(55)
    cases = []
    for B, T, d_model, n_heads in [(1, 4, 8, 2), (2, 5, 12, 3), (1, 3, 6, 1)]:
        torch.manual_seed(d_model)
        reference = MultiHeadAttention(d_model, n_heads).eval()
        x = torch.randn(B, T, d_model, generator=gen)
        with torch.no_grad():
            cases.append(Case((x, reference), reference(x),
                              "run every head on x, torch.cat their outputs along the LAST axis (dim=-1), "
                              "then apply self.proj."))

    def diagnose(got: Any, case: Case) -> str | None:
        x, reference = case.args
        if not hasattr(got, "shape") or tuple(got.shape) != tuple(case.expected.shape):
            return ("concatenate the heads along the last axis (dim=-1): each token keeps its place and gets "
                    f"every head's features, shape {tuple(case.expected.shape)}.")
        with torch.no_grad():
            concatenated = torch.cat([head(x) for head in reference.heads()], dim=-1)
        if torch.allclose(got, concatenated, atol=1e-5):
            return "you forgot the output projection: return self.proj(concatenated)."
        return None

    return Cases(cases, diagnose, atol=1e-5, adapt=_run_multi_head_class)


@exercise("5.6", "Split into heads", success="Every head gets its own slice of the features.")
def check_split_heads() -> Cases:
    """(B, T, d_model) -> (B, n_heads, T, head_dim): head h gets features h·head_dim … (h+1)·head_dim."""
    gen = torch.Generator().manual_seed(54)

    x1 = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    x2 = torch.randn(1, 4, 6, generator=gen)
    x3 = torch.randn(2, 5, 6, generator=gen)
    cases = [
        Case((x1, 2), split_heads(x1, 2)),
        Case((x2, 3), split_heads(x2, 3)),
        Case((x3, 2), split_heads(x3, 2)),
        Case((x3, 1), split_heads(x3, 1), "one head holds all the features: (B, 1, T, d_model)."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        x, n_heads = case.args
        B, T, C = x.shape
        if not hasattr(got, "shape") or tuple(got.shape) != (B, n_heads, T, C // n_heads):
            return (
                f"expected (B, n_heads, T, head_dim) = ({B}, {n_heads}, {T}, {C // n_heads}): "
                "view as (B, T, n_heads, head_dim), then swap axes 1 and 2."
            )
        if torch.allclose(got, x.reshape(B, n_heads, T, C // n_heads)):
            return (
                "you cut along the wrong axis: a plain reshape to (B, n_heads, T, head_dim) mixes "
                "tokens between heads. Each head takes a slice of the FEATURES (the last axis) of "
                "every token: view(B, T, n_heads, head_dim).transpose(1, 2)."
            )
        return "head h must hold features h*head_dim to (h+1)*head_dim of every token."

    return Cases(cases, diagnose)
