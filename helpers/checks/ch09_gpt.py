"""Checks of notebook 09 · the GPT model (references: ``helpers.model`` on the meta device, ``helpers.generation``)."""

from __future__ import annotations

from dataclasses import astuple, replace

import torch

from helpers.checks.core import Case, Cases, exercise
from helpers.generation import sample_next_token
from helpers.model import GPT, GPT_CONFIGS, GPTConfig, count_parameters, split_c_attn


@exercise("9.1", "The next token, greedily", success="Greedy decoding picks these ids.")
def check_next_token_ids() -> Cases:
    """logits (B, T, V) → the id with the largest logit at the LAST position, shape (B,)."""
    gen = torch.Generator().manual_seed(91)
    logits1 = torch.randn(2, 3, 7, generator=gen)
    logits1[:, 0, 0] = 10.0  # the first position prefers id 0: taking it is wrong
    logits2 = torch.randn(1, 1, 5, generator=gen)
    logits3 = torch.randn(3, 4, 4, generator=gen)  # T == V: a wrong axis keeps the shape
    cases = [Case((lg,), sample_next_token(lg[:, -1, :], temperature=0.0),
                  "take the logits of the last position, logits[:, -1, :], and the argmax over the "
                  "vocabulary (dim=-1).")
             for lg in (logits1, logits2, logits3)]

    def diagnose(got, case):
        logits = case.args[0]
        if not hasattr(got, "shape"):
            return "return a tensor of token ids, one per sequence: shape (B,)."
        if tuple(got.shape) == tuple(logits.shape[:2]):
            return "you picked a token at EVERY position; only the last position predicts the next token."
        if tuple(got.shape) == (logits.shape[0], 1):
            return "return shape (B,), one id per sequence: argmax without keepdim=True."
        if tuple(got.shape) == (logits.shape[0], logits.shape[2]):
            return "argmax over the vocabulary axis (dim=-1), not over the positions."
        if tuple(got.shape) == (logits.shape[0],):
            if torch.equal(got.long(), logits[:, 0, :].argmax(-1)):
                return "that is the prediction after the FIRST token; use the last position, logits[:, -1, :]."
            if torch.equal(got.long(), logits[:, -1, :].argmin(-1)):
                return "argmax, not argmin: the most likely token has the LARGEST logit."
        return None

    return Cases(cases, diagnose)


def _gpt_count_variants(c) -> list[tuple[int, str]]:
    """(count, hint) for plausible mistakes in counting a GPT's parameters."""
    e, V = c.d_model, c.vocab_size
    return [
        (V * e, "with tie_weights=True the LM head IS the token-embedding matrix: count it once."
         if c.tie_weights else "with tie_weights=False the LM head is its own (vocab_size × d_model) "
         "matrix: add vocab_size·d_model (GPT-2's head has no bias)."),
        (V, "GPT-2's LM head has no bias."),
        (c.context_length * e, "count the position embeddings too: context_length × d_model."),
        (c.n_layers * 3 * e, "count the query/key/value biases (qkv_bias), 3·d_model per block, "
         "only when config.qkv_bias is True." if not c.qkv_bias else
         "with qkv_bias=True, each block has 3·d_model query/key/value biases."),
        (c.n_layers * 4 * e, "each block has two layer norms, each with a scale AND a shift: 4·d_model per block."),
        (c.n_layers * 2 * e, "each layer norm has two vectors (scale and shift), and a block has two layer norms."),
        (2 * e, "do not forget the final layer norm (2·d_model)."),
        (c.n_layers * e, "the output projection of attention (out_proj) has a bias of d_model."),
        (c.n_layers * 5 * e, "the feed-forward layers have biases: 4·d_model for the first, d_model for the second."),
        (c.n_layers * (e * e + e), "count the attention's output projection (out_proj): d_model² + d_model per block."),
        (c.n_layers * (6 * e * e + 3 * e), "the feed-forward expands to 4·d_model: its two weight matrices have "
         "d_model × 4·d_model entries each."),
    ]


_META_COUNTS: dict[tuple, int] = {}


def _meta_parameter_count(config) -> int:
    """PyTorch's count for ``config``, from a model on the meta device (no memory; cached)."""
    key = astuple(config)
    if key not in _META_COUNTS:
        with torch.device("meta"):
            _META_COUNTS[key] = count_parameters(GPT(config))
    return _META_COUNTS[key]


@exercise("9.2", "Count a GPT's parameters", success="Exactly what PyTorch counts.")
def check_gpt_parameter_count() -> Cases:
    """the exact count for any GPTConfig: tied or untied head, with or without qkv biases."""
    tiny = dict(vocab_size=50, context_length=16, d_model=12, n_layers=2, n_heads=3, dropout=0.0)
    configs = [
        GPTConfig(**tiny),
        GPTConfig(**tiny, tie_weights=False),
        GPTConfig(**{**tiny, "n_layers": 3}, qkv_bias=False),
        GPT_CONFIGS["gpt2-small"],
        replace(GPT_CONFIGS["gpt2-medium"], tie_weights=False),
    ]
    cases = []
    for config in configs:
        cases.append(Case((config,), _meta_parameter_count(config),
                          "add up: token and position embeddings, per block (two layer norms, "
                          "q/k/v, out_proj, two feed-forward layers), the final norm, and the "
                          "head if it is not tied."))

    def diagnose(got, case):
        if not isinstance(got, int):
            return None
        delta = abs(got - case.expected)
        variants = _gpt_count_variants(case.args[0])
        for amount, hint in variants:
            if delta == amount:
                return hint
        for i, (first, first_hint) in enumerate(variants):  # two mistakes at once
            for second, second_hint in variants[i + 1:]:
                if delta in (first + second, abs(first - second)):
                    return f"two things to fix. First, {first_hint} Second, {second_hint}"
        return None

    return Cases(cases, diagnose)


@exercise("9.3", "Split GPT-2's c_attn weight", success="GPT-2's fused q/k/v weight now fits three nn.Linear layers.")
def check_split_c_attn() -> Cases:
    """(d_model, 3·d_model) Conv1D weight → three (d_model, d_model) nn.Linear weights (out × in): q, k, v."""
    cases = []
    for e in (2, 4):
        w = torch.arange(e * 3 * e, dtype=torch.float32).reshape(e, 3 * e)
        cases.append(Case((w,), split_c_attn(w), "split the columns into three blocks of d_model "
                          "(query, key, value, in that order) and transpose each one."))

    def diagnose(got, case):
        w = case.args[0]
        e = w.shape[0]
        if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(hasattr(p, "shape") for p in got):
            return "return three tensors: (W_query, W_key, W_value)."
        blocks = w.split(e, dim=1)
        if all(torch.equal(p, b) for p, b in zip(got, blocks)):
            return ("nn.Linear stores its weight as (out, in), GPT-2's Conv1D as (in, out): "
                    "transpose each block (.T).")
        if all(torch.equal(p, b.T) for p, b in zip(got, blocks[::-1])):
            return "the order is query, key, value: the first d_model columns are the query."
        if any(tuple(p.shape) != (e, e) for p in got):
            return "split along the columns (dim=1, size 3·d_model), into three (d_model, d_model) blocks."
        if all(torch.equal(p, b) for p, b in zip(got, w.reshape(3, e, e))):
            return ("reshape(3, d_model, d_model) cuts the numbers in reading order, row after row, "
                    "not into column blocks: split the columns, w.split(d_model, dim=1), then transpose each.")
        if all(torch.equal(p, b.T) for p, b in zip(got, w.reshape(3, e, e))):
            return ("reshape(3, d_model, d_model) cuts the numbers row after row, not into column blocks: "
                    "use w.split(d_model, dim=1) before transposing.")
        return None

    return Cases(cases, diagnose)
