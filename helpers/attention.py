"""Attention: a soft dictionary look-up (notebooks 04 and 05).

Notebook 03 looked a query up in a dictionary with one-hot keys: ``q·Kᵀ·V``.
Attention makes that look-up *soft*: the scores ``q·Kᵀ`` are scaled by
``1/√d`` and turned into weights that are positive and sum to 1 by a softmax,
so the answer is a weighted mix of the values:

    attention(Q, K, V) = softmax(Q·Kᵀ / √d) · V

Notebook 05 makes the queries, keys and values *trainable* projections of the
same input (self-attention), hides the future (causal attention) and runs
several such heads side by side (multi-head attention).

    >>> q, k, v = torch.randn(5, 8), torch.randn(5, 8), torch.randn(5, 8)
    >>> scaled_dot_product_attention(q, k, v, mask=causal_mask(5)).shape
    torch.Size([5, 8])

Masks follow PyTorch's convention for boolean masks in
``torch.nn.functional.scaled_dot_product_attention``: ``True`` where a query
MAY attend to a key, ``False`` where it may not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def softmax(x: Tensor, dim: int = -1, beta: float = 1.0) -> Tensor:
    """``softmax(β·x)`` along ``dim``, computed without overflow (notebook 04).

    The largest entry is subtracted before ``exp`` (this changes nothing
    mathematically, since ``exp(a - m) / Σ exp(b - m) = exp(a) / Σ exp(b)``),
    so ``exp`` never sees a large positive number. Entries equal to ``-inf``
    get weight 0. A slice in which EVERY entry is ``-inf`` (nothing allowed)
    returns all zeros, where ``torch.softmax`` would return NaN.
    """
    z = beta * x
    biggest = z.amax(dim=dim, keepdim=True)
    # A slice that is all -inf has max -inf; subtracting it would give NaN.
    biggest = torch.where(torch.isfinite(biggest), biggest, torch.zeros_like(biggest))
    exps = torch.exp(z - biggest)
    total = exps.sum(dim=dim, keepdim=True)
    # total is 0 only for an all -inf slice: divide by 1 there, giving zeros.
    return exps / torch.where(total > 0, total, torch.ones_like(total))


def causal_mask(T: int, device: torch.device | str | None = None, past: int = 0) -> Tensor:
    """Boolean mask, ``True`` where a query may attend: itself and the past (notebook 05).

    Row ``i`` is query position ``i``; it may attend to key positions
    ``0, 1, ..., i``, never to the future: a ``(T, T)`` lower triangle.
    With ``past`` tokens already seen (a KV cache), the ``T`` queries sit at
    positions ``past, ..., past + T - 1`` and the mask is ``(T, past + T)``.
    """
    if T < 1 or past < 0:
        raise ValueError(f"causal_mask needs T >= 1 and past >= 0, got T={T}, past={past}")
    return torch.ones(T, past + T, dtype=torch.bool, device=device).tril(diagonal=past)


def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    """``softmax(q·kᵀ / √d)``: how much each query attends to each key (notebook 04).

    ``q`` is ``(..., T_q, d)``, ``k`` is ``(..., T_k, d)``; the result is
    ``(..., T_q, T_k)`` and every row sums to 1 (or is all zeros where the
    mask allows no key at all). ``mask`` is boolean, broadcastable to
    ``(..., T_q, T_k)``, ``True`` where attention is allowed.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same last size d, got {q.shape[-1]} and {k.shape[-1]}"
        )
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(
                f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}"
            )
        scores = scores.masked_fill(~mask, float("-inf"))
    return softmax(scores, dim=-1)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """``softmax(q·kᵀ / √d) · v`` — a soft dictionary look-up (notebook 04).

    Shapes: ``q`` ``(..., T_q, d)``, ``k`` ``(..., T_k, d)``, ``v``
    ``(..., T_k, d_v)`` → ``(..., T_q, d_v)``. ``mask`` is boolean, ``True``
    where a query may attend to a key (PyTorch's convention). A query whose
    row of the mask is all ``False`` gets an output of zeros, never NaN (the
    textbook formula with ``torch.softmax`` gives NaN there).
    """
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values must have the same number of positions, "
            f"got {k.shape[-2]} keys and {v.shape[-2]} values"
        )
    return attention_weights(q, k, mask) @ v  # (..., T_q, T_k) @ (..., T_k, d_v)


class KVCache:
    """Keys and values of the tokens seen so far, for ONE attention layer (notebook 11).

    During generation each new token needs the keys and values of every
    earlier token; the cache keeps them so they are computed only once.
    ``keys`` and ``values`` are ``None`` (empty) or ``(B, n_heads, T_cached, head_dim)``.
    """

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def __len__(self) -> int:
        """The number of cached positions."""
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new tokens' ``(B, n_heads, T_new, head_dim)`` keys and values.

        Returns all keys and values so far, ``(B, n_heads, T_cached + T_new, head_dim)``.
        """
        if keys.dim() != 4 or keys.shape != values.shape:
            raise ValueError(
                "keys and values must both be (B, n_heads, T_new, head_dim), "
                f"got {tuple(keys.shape)} and {tuple(values.shape)}"
            )
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            if keys.shape[:2] != self.keys.shape[:2] or keys.shape[3] != self.keys.shape[3]:
                raise ValueError(
                    f"new keys {tuple(keys.shape)} do not match the cached "
                    f"{tuple(self.keys.shape)} in batch size, heads or head_dim"
                )
            self.keys = torch.cat([self.keys, keys], dim=2)
            self.values = torch.cat([self.values, values], dim=2)
        return self.keys, self.values

    def __repr__(self) -> str:
        shape = None if self.keys is None else tuple(self.keys.shape)
        return f"KVCache(positions={len(self)}, keys shape={shape})"


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """``(B, T, d_model)`` → ``(B, n_heads, T, head_dim)``: head ``h`` gets features ``h·head_dim …``.

    Notebook 05, exercise 5.4.
    """
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)  # (B, T, nh, hd) -> (B, nh, T, hd)


class SelfAttentionHead(nn.Module):
    """One attention head: ``softmax(Q·Kᵀ/√d_out)·V`` with ``Q, K, V = x·W_Qᵀ, x·W_Kᵀ, x·W_Vᵀ`` (notebook 05).

    ``x`` ``(B, T, d_in)`` → ``(B, T, d_out)``. Causal by default.
    """

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0, qkv_bias: bool = False, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.W_query(x), self.W_key(x), self.W_value(x)  # each (B, T, d_out)
        mask = causal_mask(x.shape[1], device=x.device) if self.causal else None  # (T, T)
        weights = self.dropout(attention_weights(q, k, mask))  # (B, T, T)
        return weights @ v  # (B, T, d_out)


class MultiHeadAttention(nn.Module):
    """``n_heads`` attention heads computed in one batch, then an output projection (notebook 05).

    ``x`` ``(B, T, d_model)`` → ``(B, T, d_model)``. Each head works in
    ``head_dim = d_model // n_heads`` dimensions; the heads' outputs are
    concatenated along the last axis and mixed by ``out_proj``. Causal by
    default. ``dropout`` is applied to the attention weights.

    By default the attention itself runs in PyTorch's fused kernel,
    ``F.scaled_dot_product_attention`` (the same maths as notebook 04's, much
    faster; a test proves them equal). With ``keep_weights = True`` it is computed
    step by step instead, and after each call ``last_weights`` holds the attention
    weights ``(B, n_heads, T, T_total)`` (before dropout), for plotting.

    With a :class:`KVCache`, ``x`` holds only the NEW tokens: their keys and
    values are appended to the cache, and their queries attend to every cached
    position and the new ones, causally by absolute position.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, qkv_bias: bool = False, causal: bool = True):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads} "
                "(each head gets d_model // n_heads dimensions)"
            )
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.causal = causal
        self.W_query = nn.Linear(d_model, d_model, bias=qkv_bias)
        self.W_key = nn.Linear(d_model, d_model, bias=qkv_bias)
        self.W_value = nn.Linear(d_model, d_model, bias=qkv_bias)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.keep_weights = False
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        B, T, d_model = x.shape
        if d_model != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        past = 0 if kv_cache is None else len(kv_cache)  # tokens already in the cache
        q = split_heads(self.W_query(x), self.n_heads)  # (B, T, d_model) -> (B, n_heads, T, head_dim)
        k = split_heads(self.W_key(x), self.n_heads)
        v = split_heads(self.W_value(x), self.n_heads)
        if kv_cache is not None:
            k, v = kv_cache.append(k, v)  # (B, n_heads, past + T, head_dim)
        # The new queries sit at absolute positions past .. past + T - 1.
        mask = causal_mask(T, device=x.device, past=past) if self.causal else None  # (T, past + T)
        if self.keep_weights:
            weights = attention_weights(q, k, mask)  # (B, n_heads, T, past + T)
            self.last_weights = weights.detach()
            out = self.dropout(weights) @ v  # (B, n_heads, T, head_dim)
        else:
            dropout = self.dropout.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)  # (B, n_heads, T, head_dim)
        out = out.transpose(1, 2).contiguous().view(B, T, d_model)  # (B, T, n_heads, head_dim) -> concatenated
        return self.out_proj(out)

    def heads(self) -> list[SelfAttentionHead]:
        """The same computation as ``n_heads`` separate :class:`SelfAttentionHead` s.

        Head ``h`` owns rows ``h·head_dim … (h+1)·head_dim`` of each of ``W_query``,
        ``W_key``, ``W_value``. Concatenating the heads' outputs along the last axis
        and applying ``out_proj`` gives exactly ``forward``'s result. The heads hold
        copies of the weights (changing them does not change this module).
        """
        heads = []
        for h in range(self.n_heads):
            rows = slice(h * self.head_dim, (h + 1) * self.head_dim)
            head = SelfAttentionHead(
                self.d_model, self.head_dim, dropout=self.dropout.p,
                qkv_bias=self.W_query.bias is not None, causal=self.causal,
            )
            with torch.no_grad():
                for name in ("W_query", "W_key", "W_value"):
                    mine, theirs = getattr(self, name), getattr(head, name)
                    theirs.weight.copy_(mine.weight[rows])
                    if mine.bias is not None:
                        theirs.bias.copy_(mine.bias[rows])
            heads.append(head)
        return heads
