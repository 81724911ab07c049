"""Checks of notebook 17 · Hugging Face (references: ``helpers.hugging_face.llama_name``, and
``transformers.LlamaForCausalLM`` itself for the parameter counts)."""

from __future__ import annotations

import functools
import re
from typing import Any

import torch

from helpers.checks.core import Case, Cases, exercise
from helpers.hugging_face import llama_name

# --- 17.1 translate a parameter name ----------------------------------------------------

#: Every kind of ModernGPT parameter, in several layers (two-digit ones too), and why each is there.
_NAMES: list[tuple[str, str]] = [
    ("blocks.3.ff.gate.weight", "the feed-forward is mlp in Hugging Face's Llama, and its three matrices are "
                                "gate_proj, up_proj and down_proj."),
    ("tok_emb.weight", "the token embedding is embed_tokens, inside the model's body."),
    ("blocks.0.norm1.scale", "norm1, the norm before attention, reads the block's input: input_layernorm."),
    ("blocks.0.attn.W_query.weight", "attention is self_attn; the query, key, value and output projections are "
                                     "q_proj, k_proj, v_proj and o_proj."),
    ("blocks.1.attn.W_key.weight", "attention is self_attn; the key projection is k_proj."),
    ("blocks.2.attn.W_value.weight", "attention is self_attn; the value projection is v_proj."),
    ("blocks.5.attn.out_proj.weight", "attention is self_attn; the output projection is o_proj."),
    ("blocks.3.norm2.scale", "norm2, the norm after attention (before the feed-forward), is post_attention_layernorm."),
    ("blocks.7.ff.up.weight", "the feed-forward's up matrix is mlp.up_proj."),
    ("blocks.11.ff.down.weight", "the feed-forward's down matrix is mlp.down_proj."),
    ("blocks.10.ff.gate.weight", "layer numbers can have two digits: blocks.10 is model.layers.10."),
    ("blocks.11.norm1.scale", "layer numbers can have two digits: blocks.11 is model.layers.11."),
    ("blocks.10.attn.W_query.weight", "layer numbers can have two digits: blocks.10 is model.layers.10."),
    ("final_norm.scale", "the final norm is norm, inside the model's body: model.norm."),
    ("out_head.weight", "the LM head is lm_head, and it sits outside the model's body (no 'model.' before it)."),
]

_NORMS = ("input_layernorm", "post_attention_layernorm")
_FEED_FORWARD = ("gate_proj", "up_proj")


def _swap(text: str, pair: tuple[str, str]) -> str:
    """``text`` with the two words of ``pair`` exchanged."""
    first, second = pair
    return re.sub("|".join(sorted(map(re.escape, pair), key=len, reverse=True)),
                  lambda match: second if match.group(0) == first else first, text)


@exercise("17.1", "Translate a parameter name", success="The course's names and Hugging Face's: one table apart.")
def check_llama_name() -> Cases:
    """The ModernGPT parameter name → its name in a Hugging Face Llama checkpoint (model.layers.{i}..., lm_head...)."""
    cases = [Case((name,), llama_name(name), hint) for name, hint in _NAMES]

    def diagnose(got: Any, case: Case) -> str | None:
        expected: str = case.expected
        if not isinstance(got, str):
            return f"return the Hugging Face name as a string, such as {llama_name('blocks.0.ff.up.weight')!r}."
        if "blocks." in got:
            return "Hugging Face calls the blocks layers: blocks.3 becomes model.layers.3."
        if got == "model." + expected:
            return "lm_head sits outside the model's body: it is 'lm_head.weight', with no 'model.' before it."
        if got == expected.removeprefix("model."):
            return ("Hugging Face keeps the embedding, the layers and the final norm inside the model's body: "
                    "their names start with 'model.' (only lm_head does not).")
        if got == expected.replace(".weight", ".scale") or got.endswith(".scale"):
            return "every tensor of a Llama checkpoint ends in .weight, the norms' scales too: .scale becomes .weight."
        if got == _swap(expected, _NORMS):
            return ("you swapped the two norms: norm1 (before attention) is input_layernorm, norm2 (after "
                    "attention, before the feed-forward) is post_attention_layernorm.")
        if got == _swap(expected, _FEED_FORWARD):
            return ("you swapped gate and up: the gate (the matrix that goes through SiLU) is gate_proj, "
                    "the matrix it multiplies is up_proj.")
        got_layer, expected_layer = re.search(r"layers\.(\d+)\.", got), re.search(r"layers\.(\d+)\.", expected)
        if got_layer and expected_layer and got_layer.group(1) != expected_layer.group(1) \
                and got.replace(got_layer.group(0), expected_layer.group(0)) == expected:
            if expected_layer.group(1).startswith(got_layer.group(1)):
                return "layer numbers can have two digits: read the whole number between the dots, e.g. with split('.')."
            return ("keep the layer number as it is: both count from 0, so blocks.3 is model.layers.3 "
                    f"(you wrote layers.{got_layer.group(1)}).")
        return None

    return Cases(cases, diagnose, library=(llama_name,))


# --- 17.2 count a Llama's parameters ------------------------------------------------------

#: (vocab_size, d_model, n_layers, n_heads, n_kv_heads, hidden_dim, tie_weights), and what each case is.
_CONFIGS: list[tuple[tuple[int, int, int, int, int, int, bool], str]] = [
    ((1000, 64, 2, 4, 2, 172, False), "grouped-query attention (4 query heads, 2 key/value heads), untied head"),
    ((1000, 64, 2, 4, 2, 172, True), "the same model with its head tied to the embedding"),
    ((500, 48, 3, 6, 6, 128, False), "multi-head attention: as many key/value heads as query heads"),
    ((256, 96, 4, 8, 1, 256, True), "multi-query attention: one key/value head, tied head"),
    ((3000, 128, 5, 16, 4, 344, False), "grouped-query attention, 16 query heads, 4 key/value heads"),
    ((128256, 2048, 16, 32, 8, 8192, True), "Llama 3.2 1B: 1,235,814,400 parameters, its head tied"),
    ((128256, 4096, 32, 32, 8, 14336, False), "Llama 3.1 8B: 8,030,261,248 parameters"),
]


@functools.cache
def hf_llama_parameter_count(vocab_size: int, d_model: int, n_layers: int, n_heads: int, n_kv_heads: int,
                             hidden_dim: int, tie_weights: bool) -> int:
    """``num_parameters()`` of a ``transformers.LlamaForCausalLM`` of these sizes, built on the meta device."""
    import transformers

    config = transformers.LlamaConfig(vocab_size=vocab_size, hidden_size=d_model, num_hidden_layers=n_layers,
                                      num_attention_heads=n_heads, num_key_value_heads=n_kv_heads,
                                      intermediate_size=hidden_dim, tie_word_embeddings=tie_weights)
    with torch.device("meta"):  # sizes only, no memory used
        return transformers.LlamaForCausalLM(config).num_parameters()


def _wrong_counts(vocab_size: int, d_model: int, n_layers: int, n_heads: int, n_kv_heads: int, hidden_dim: int,
                  tie_weights: bool) -> dict[str, int]:
    """The totals that plausible mistakes give, each with its hint."""
    head_dim = d_model // n_heads
    attention = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim  # q and o full, k and v n_kv_heads wide
    feed_forward, norms = 3 * d_model * hidden_dim, 2 * d_model
    embedding = vocab_size * d_model
    head = 0 if tie_weights else embedding

    def total(attention: int = attention, feed_forward: int = feed_forward, norms: int = norms, final: int = d_model,
              head: int = head) -> int:
        return embedding + n_layers * (attention + feed_forward + norms) + final + head

    return {
        "with grouped-query attention, the key and value projections have only n_kv_heads heads: each is "
        "d_model × (n_kv_heads · head_dim), with head_dim = d_model // n_heads, not d_model × d_model.":
            total(attention=4 * d_model * d_model),
        "SwiGLU has three matrices, gate, up and down (each d_model × hidden_dim), not two.":
            total(feed_forward=2 * d_model * hidden_dim),
        "count the norms: two RMSNorms per block and one at the end, each a vector of d_model scales.":
            total(norms=0, final=0),
        "count the final norm too: one RMSNorm of d_model scales after the last block.": total(final=0),
        "count the two RMSNorms of every block (d_model scales each), not only the final one.": total(norms=0),
        "an RMSNorm has a scale and no shift: d_model parameters, not 2 · d_model.":
            total(norms=4 * d_model, final=2 * d_model),
        "a tied head IS the embedding matrix: count it once (add no vocab_size × d_model for the head).":
            total(head=embedding),
        "an untied head is its own vocab_size × d_model matrix: add it to the embedding's.": total(head=0),
    }


@exercise("17.2", "Count a Llama's parameters from its config",
          success="The same count as transformers' num_parameters(), without building the model.")
def check_llama_parameter_count() -> Cases:
    """embedding + n_layers · (attention + SwiGLU + 2 norms) + final norm (+ head when untied), as transformers counts."""
    cases = [Case(args, hf_llama_parameter_count(*args), f"{what}. Count the embedding, each block's four attention "
                  "projections, three feed-forward matrices and two norms, the final norm, and the head if untied.")
             for args, what in _CONFIGS]

    def diagnose(got: Any, case: Case) -> str | None:
        if isinstance(got, bool) or not isinstance(got, int):
            return f"return a whole number (an int), got a {type(got).__name__}."
        for hint, wrong in _wrong_counts(*case.args).items():
            if got == wrong != case.expected:
                return hint
        return None

    return Cases(cases, diagnose)
