"""Generating text with a GPT: decoding strategies and the KV cache.

A language model gives, for every position, one *logit* per token of the
vocabulary. Generating text repeats one step: take the logits of the last
position, turn them into a choice of next token, append it, and run again.
This module holds the pieces of that step and the loop around it:

``apply_temperature(logits, temperature)``
    Divide the logits by the temperature: below 1 sharpens, above 1 flattens.
``top_k_filter(logits, k)``
    Keep the ``k`` largest logits (and any tied with the ``k``-th), set the rest to ``-inf``.
``top_p_filter(logits, p)``
    Keep the smallest set of most probable tokens whose probabilities add up to
    at least ``p`` (nucleus sampling), set the rest to ``-inf``.
``next_token_probabilities(logits, temperature, top_k, top_p)``
    The three above, then softmax: the distribution the next token is drawn from.
``sample_next_token(logits, temperature, top_k, top_p, generator)``
    Greedy (``temperature=0``: the arg-max) or one draw from that distribution.
``generate(model, token_ids, max_new_tokens, ...)``
    The loop, with or without a KV cache.

The filters work on logits and leave their input untouched. A token set to
``-inf`` gets probability exactly 0 after softmax, and softmax renormalises
the tokens that remain, so "filter, then softmax" is the whole recipe.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "apply_temperature",
    "generate",
    "next_token_probabilities",
    "sample_next_token",
    "top_k_filter",
    "top_p_filter",
]


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor (..., vocab_size), got {type(logits).__name__}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have a last dimension of at least one token, got shape {tuple(logits.shape)}")


def _check_temperature(temperature: float) -> None:
    if not temperature >= 0:  # also catches NaN
        raise ValueError(
            f"temperature must be >= 0 (0 means greedy decoding), got {temperature}"
        )


def _check_top_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be a whole number >= 1 (or None for no top-k), got {k!r}")


def _check_top_p(p: float) -> None:
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 keeps every token, or None for no top-p), got {p!r}")


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature``: softmax of the result is sharper below 1, flatter above 1.

    ``temperature`` must be > 0 here; temperature 0 (greedy decoding) is handled
    by :func:`sample_next_token` as an arg-max, since dividing by 0 is undefined.
    """
    _check_logits(logits)
    _check_temperature(temperature)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding: take the arg-max instead of scaling the logits")
    return logits / temperature


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row; set every other one to ``-inf``.

    A token tied with the ``k``-th largest logit is kept too, so a row may keep
    more than ``k`` tokens when there are ties at the boundary (the same rule as
    Hugging Face's ``TopKLogitsWarper``). ``k`` larger than the vocabulary keeps
    every token.
    """
    _check_logits(logits)
    _check_top_k(k)
    k = min(k, logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the most probable tokens until their probability reaches ``p``.

    Tokens are sorted from most to least probable, and a token is kept when the
    probability of the tokens *before* it is still below ``p``. So the token that
    crosses the threshold is kept, the most probable token is always kept, and
    ``p = 1`` keeps every token. Tokens of equal probability are taken in
    vocabulary order. The rest are set to ``-inf``.
    """
    _check_logits(logits)
    _check_top_p(p)
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)  # (..., V)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # probability of the tokens ranked above
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True  # the most probable token, whatever p is
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)  # back to vocabulary order
    return logits.masked_fill(~keep, float("-inf"))


def next_token_probabilities(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """The distribution the next token is drawn from: temperature, then top-k, then top-p, then softmax.

    ``temperature`` must be > 0 here (greedy decoding has no distribution to draw from).
    """
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def sample_next_token(
    logits: Tensor,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Choose one token per row of ``logits`` (B, V) -> (B,).

    ``temperature=0`` is greedy decoding: the arg-max, and ``top_k``/``top_p``
    change nothing. Otherwise one token is drawn from
    :func:`next_token_probabilities` with ``torch.multinomial``; pass a seeded
    ``torch.Generator`` to get the same draws every run.
    """
    _check_logits(logits)
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    probs = next_token_probabilities(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def context_length_of(model: nn.Module) -> int:
    """The longest sequence ``model`` accepts: the number of rows of its position embedding."""
    return model.pos_emb.num_embeddings


@torch.no_grad()
def generate(
    model: nn.Module,
    token_ids: Tensor,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    return_logits: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Extend ``token_ids`` by ``max_new_tokens`` tokens, one at a time.

    ``token_ids`` is a prompt of shape (T,) or (B, T); the result has the same
    number of dimensions and holds the prompt followed by the new tokens:
    (T + max_new_tokens,) or (B, T + max_new_tokens).

    ``temperature=0`` (the default) is greedy decoding; otherwise each token is
    drawn as in :func:`sample_next_token`. With ``use_cache=True`` the prompt is run
    once and every later step feeds only the newest token, reusing the keys and
    values stored in a :class:`~helpers.attention.KVCache` per block; with
    ``use_cache=False`` every step runs the model on the whole sequence so far.
    Both give the same tokens.

    The sequence never slides: if prompt + new tokens would exceed the model's
    context length, a ``ValueError`` is raised before any work is done.
    With ``return_logits=True`` it also returns the logits each new token was
    chosen from, (B, max_new_tokens, vocab_size) (or without B for a 1-D prompt).
    The model is run in eval mode (no dropout) and put back in its mode afterwards.
    """
    if not isinstance(token_ids, Tensor) or token_ids.dim() not in (1, 2):
        shape = tuple(token_ids.shape) if isinstance(token_ids, Tensor) else type(token_ids).__name__
        raise ValueError(f"token_ids must be a tensor of shape (T,) or (B, T), got {shape}")
    if token_ids.shape[-1] == 0:
        raise ValueError("the prompt is empty: give at least one token to start from")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a whole number >= 0, got {max_new_tokens!r}")
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    context_length = context_length_of(model)
    prompt_length = token_ids.shape[-1]
    if prompt_length > context_length:
        raise ValueError(
            f"the prompt has {prompt_length} tokens, longer than the model's context length of {context_length}"
        )
    if prompt_length + max_new_tokens > context_length:
        raise ValueError(
            f"prompt ({prompt_length} tokens) + max_new_tokens ({max_new_tokens}) = "
            f"{prompt_length + max_new_tokens} tokens, more than the model's context length of "
            f"{context_length}: ask for at most {context_length - prompt_length} new tokens"
        )

    one_sequence = token_ids.dim() == 1
    tokens = token_ids.unsqueeze(0) if one_sequence else token_ids  # (B, T)
    was_training = model.training
    model.eval()
    chosen_logits = []
    try:
        kv_caches = model.new_kv_caches() if use_cache else None
        new_input = tokens  # the first step always reads the whole prompt
        for _ in range(max_new_tokens):
            if use_cache:
                logits = model(new_input, kv_caches=kv_caches)  # (B, len(new_input), V)
            else:
                logits = model(tokens)  # (B, T_so_far, V): everything, every step
            last = logits[:, -1, :]  # (B, V): only the last position predicts the next token
            next_token = sample_next_token(last, temperature, top_k, top_p, generator)  # (B,)
            tokens = torch.cat([tokens, next_token.unsqueeze(1)], dim=1)  # (B, T_so_far + 1)
            new_input = next_token.unsqueeze(1)  # (B, 1)
            chosen_logits.append(last)
    finally:
        model.train(was_training)

    result = tokens[0] if one_sequence else tokens
    if not return_logits:
        return result
    if chosen_logits:
        stacked = torch.stack(chosen_logits, dim=1)  # (B, max_new_tokens, V)
    else:
        stacked = torch.empty(tokens.shape[0], 0, model.out_head.out_features)
    return result, (stacked[0] if one_sequence else stacked)
