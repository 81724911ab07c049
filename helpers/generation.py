"""Generating text with a GPT: decoding strategies and the KV cache (notebook 11).

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
the tokens that remain, so "filter, then softmax" is the whole recipe. Each
public function checks its arguments once, on entry; the loop itself does not.
"""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.model import GPT

__all__ = [
    "apply_temperature",
    "generate",
    "next_token_probabilities",
    "sample_next_token",
    "top_k_filter",
    "top_p_filter",
]


# --- checking the arguments ---------------------------------------------------------


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor (..., vocab_size), got {type(logits).__name__}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have a last dimension of at least one token, got shape {tuple(logits.shape)}")


def _check_settings(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not temperature >= 0:  # also catches NaN
        raise ValueError(f"temperature must be >= 0 (0 means greedy decoding), got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a whole number >= 1 (or None for no top-k), got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 keeps every token, or None for no top-p), got {top_p!r}")


# --- one step: from logits to a token -----------------------------------------------


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature``: softmax of the result is sharper below 1, flatter above 1 (notebook 11).

    ``temperature`` must be > 0 here; temperature 0 (greedy decoding) is handled
    by :func:`sample_next_token` as an arg-max, since dividing by 0 is undefined.
    """
    _check_logits(logits)
    _check_settings(temperature, None, None)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding: take the arg-max instead of scaling the logits")
    return logits / temperature


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row; set every other one to ``-inf`` (notebook 11).

    A token tied with the ``k``-th largest logit is kept too, so a row may keep
    more than ``k`` tokens when there are ties at the boundary (the same rule as
    Hugging Face's ``TopKLogitsWarper``). ``k`` larger than the vocabulary keeps
    every token.
    """
    _check_logits(logits)
    _check_settings(1.0, k, None)
    return _top_k(logits, k)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the most probable tokens until their probability reaches ``p`` (notebook 11).

    Tokens are sorted from most to least probable, and a token is kept when the
    probability of the tokens *before* it is still below ``p``. So the token that
    crosses the threshold is kept, the most probable token is always kept, and
    ``p = 1`` keeps every token. Tokens of equal probability are taken in
    vocabulary order. The rest are set to ``-inf``.
    """
    _check_logits(logits)
    _check_settings(1.0, None, p)
    return _top_p(logits, p)


def next_token_probabilities(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """The distribution the next token is drawn from: temperature, then top-k, then top-p, then softmax (notebook 11).

    ``temperature`` must be > 0 here (greedy decoding has no distribution to draw from).
    """
    _check_logits(logits)
    _check_settings(temperature, top_k, top_p)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding: there is no distribution to draw from")
    return _probabilities(logits, temperature, top_k, top_p)


def sample_next_token(
    logits: Tensor,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Choose one token per row of ``logits`` (B, V) -> (B,) (notebook 11).

    ``temperature=0`` is greedy decoding: the arg-max, and ``top_k``/``top_p``
    change nothing. Otherwise one token is drawn from
    :func:`next_token_probabilities` with ``torch.multinomial``; pass a seeded
    ``torch.Generator`` to get the same draws every run.
    """
    _check_logits(logits)
    _check_settings(temperature, top_k, top_p)
    return _choose(logits, temperature, top_k, top_p, generator)


def _top_k(logits: Tensor, k: int) -> Tensor:
    kth_largest = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def _top_p(logits: Tensor, p: float) -> Tensor:
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)  # (..., V)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # probability of the tokens ranked above
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True  # the most probable token, whatever p is
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)  # back to vocabulary order
    return logits.masked_fill(~keep, float("-inf"))


def _probabilities(logits: Tensor, temperature: float, top_k: int | None, top_p: float | None) -> Tensor:
    logits = logits / temperature
    if top_k is not None:
        logits = _top_k(logits, top_k)
    if top_p is not None:
        logits = _top_p(logits, top_p)
    return torch.softmax(logits, dim=-1)


def _choose(logits: Tensor, temperature: float, top_k: int | None, top_p: float | None,
            generator: torch.Generator | None) -> Tensor:
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    probs = _probabilities(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


# --- the loop -----------------------------------------------------------------------


@torch.no_grad()
def generate(
    model: GPT,
    token_ids: Tensor,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
    slide: bool = False,
    record: list[Tensor] | None = None,
) -> Tensor:
    """Extend the prompts ``token_ids`` (B, T) by up to ``max_new_tokens`` tokens each: (B, T + new) (notebook 11).

    ``temperature=0`` (the default) is greedy decoding; otherwise each token is
    drawn as in :func:`sample_next_token`. With ``use_cache=True`` the prompt is run
    once and every later step feeds only the newest token, reusing the keys and
    values kept in a :class:`~helpers.attention.KVCache` per block; with
    ``use_cache=False`` every step runs the model on the whole sequence so far.
    Both give the same tokens.

    With ``eos_id``, a row that has produced that token keeps producing it, and the
    loop stops early once every row has. The sequence may not grow beyond the
    model's context length: that is an error before any work is done, unless
    ``slide=True``, which keeps only the last ``context_length`` tokens as input
    (the model then forgets the start; the cache is dropped once it is full).
    ``record``, a list, receives the logits (B, V) each new token was chosen from:
    ``torch.stack(record, dim=1)`` is (B, new, V).
    The model runs in eval mode (no dropout) and is put back in its mode afterwards.
    The prompts are moved to the model's device, where the result is too.
    """
    context_length, vocab_size = model.config.context_length, model.config.vocab_size
    if not isinstance(token_ids, Tensor) or token_ids.dim() != 2 or token_ids.shape[1] == 0:
        shape = tuple(token_ids.shape) if isinstance(token_ids, Tensor) else type(token_ids).__name__
        raise ValueError(f"token_ids must be prompts of shape (B, T) with T >= 1, got {shape}; "
                         "for one prompt use ids.unsqueeze(0)")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a whole number >= 0, got {max_new_tokens!r}")
    _check_settings(temperature, top_k, top_p)
    if eos_id is not None and not 0 <= eos_id < vocab_size:
        raise ValueError(f"eos_id must be a token id 0..{vocab_size - 1}, got {eos_id}")
    prompt_length = token_ids.shape[1]
    if not slide and prompt_length + max_new_tokens > context_length:
        raise ValueError(
            f"prompt ({prompt_length} tokens) + max_new_tokens ({max_new_tokens}) = "
            f"{prompt_length + max_new_tokens} tokens, more than the model's context length of "
            f"{context_length}: ask for at most {max(0, context_length - prompt_length)} new tokens, "
            "or pass slide=True to keep only the last context_length tokens"
        )

    was_training = model.training
    model.eval()
    weights = next(model.parameters(), None)  # prompts on the CPU, model on a GPU: the prompts follow the model
    tokens = token_ids if weights is None else token_ids.to(weights.device)
    finished = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
    kv_caches = model.new_kv_caches() if use_cache else None
    new_input = tokens[:, -context_length:]  # the first step reads the whole prompt (or its end)
    try:
        for _ in range(max_new_tokens):
            if kv_caches is not None and len(kv_caches[0]) + new_input.shape[1] > context_length:
                kv_caches = None  # the cache is full: slide the window from now on
            if kv_caches is None:
                logits = model(tokens[:, -context_length:])  # (B, T_window, V): everything, every step
            else:
                logits = model(new_input, kv_caches=kv_caches)  # (B, len(new_input), V)
            last = logits[:, -1, :]  # (B, V): only the last position predicts the next token
            next_token = _choose(last, temperature, top_k, top_p, generator)  # (B,)
            if eos_id is not None:
                next_token = next_token.masked_fill(finished, eos_id)  # finished rows repeat <eos>
                finished |= next_token == eos_id
            tokens = torch.cat([tokens, next_token.unsqueeze(1)], dim=1)  # (B, T_so_far + 1)
            new_input = next_token.unsqueeze(1)  # (B, 1)
            if record is not None:
                record.append(last)
            if eos_id is not None and finished.all():
                break
    finally:
        model.train(was_training)
    return tokens
