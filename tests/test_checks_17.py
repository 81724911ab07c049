"""The checks of notebook 17 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import re

import pytest
import torch

from helpers.checks.ch17_hugging_face import check_llama_name, check_llama_parameter_count, hf_llama_parameter_count
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_llama_name"] == Exercise("17.1", "Translate a parameter name")
    assert EXERCISES["check_llama_parameter_count"] == Exercise("17.2", "Count a Llama's parameters from its config")


# --- 17.1 translate a parameter name --------------------------------------------------

BLOCK = {"norm1.scale": "input_layernorm.weight", "attn.W_query.weight": "self_attn.q_proj.weight",
         "attn.W_key.weight": "self_attn.k_proj.weight", "attn.W_value.weight": "self_attn.v_proj.weight",
         "attn.out_proj.weight": "self_attn.o_proj.weight", "norm2.scale": "post_attention_layernorm.weight",
         "ff.gate.weight": "mlp.gate_proj.weight", "ff.up.weight": "mlp.up_proj.weight",
         "ff.down.weight": "mlp.down_proj.weight"}
TOP = {"tok_emb.weight": "model.embed_tokens.weight", "final_norm.scale": "model.norm.weight",
       "out_head.weight": "lm_head.weight"}


def llama_name(name):
    if name in TOP:
        return TOP[name]
    _, layer, rest = name.split(".", 2)
    return f"model.layers.{layer}.{BLOCK[rest]}"


def by_regex(name):
    match = re.fullmatch(r"blocks\.(\d+)\.(.+)", name)
    return f"model.layers.{match[1]}.{BLOCK[match[2]]}" if match else TOP[name]


def by_replacements(name):  # unusual but right: a chain of str.replace
    if name == "out_head.weight":
        return "lm_head.weight"
    for old, new in [("blocks.", "model.layers."), ("norm1.scale", "input_layernorm.scale"),
                     ("norm2.scale", "post_attention_layernorm.scale"), ("final_norm", "model.norm"),
                     ("tok_emb", "model.embed_tokens"), ("attn.W_query", "self_attn.q_proj"),
                     ("attn.W_key", "self_attn.k_proj"), ("attn.W_value", "self_attn.v_proj"),
                     ("attn.out_proj", "self_attn.o_proj"), ("ff.gate", "mlp.gate_proj"),
                     ("ff.up", "mlp.up_proj"), ("ff.down", "mlp.down_proj"), (".scale", ".weight")]:
        name = name.replace(old, new)
    return name


def test_name_right_answers_pass(capsys):
    for answer in (llama_name, by_regex, by_replacements):
        check_llama_name(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 17.1 (Translate a parameter name): all 15 cases pass.") == 3
    assert "re-creates" not in out


def test_name_the_library_function_passes_with_a_note(capsys):
    from helpers.hugging_face import llama_name as library_llama_name

    check_llama_name(lambda name: library_llama_name(name))
    assert "helpers.hugging_face.llama_name" in capsys.readouterr().out


def test_name_stub_is_not_solved():
    def stub(name):
        raise NotImplementedError("Exercise 17.1 (Translate a parameter name) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="17.1"):
        check_llama_name(stub)


def swap(text, a, b):
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n: llama_name(n).removeprefix("model."), "inside the model's body: their names start with 'model.'"),
        (lambda n: "model." + llama_name(n).removeprefix("model."), "lm_head sits outside the model's body"),
        (lambda n: swap(llama_name(n), "input_layernorm", "post_attention_layernorm"), "you swapped the two norms"),
        (lambda n: swap(llama_name(n), "gate_proj", "up_proj"), "you swapped gate and up"),
        (lambda n: re.sub(r"layers\.(\d+)", lambda m: f"layers.{int(m[1]) + 1}", llama_name(n)),
         "keep the layer number as it is: both count from 0"),
        (lambda n: re.sub(r"layers\.(\d+)", lambda m: f"layers.{int(m[1]) - 1}", llama_name(n)),
         r"you wrote layers\.2\)"),
        (lambda n: llama_name(n).replace("norm.weight", "norm.scale"), r"\.scale becomes \.weight"),
        (lambda n: llama_name(n).removesuffix(".weight") + ".scale" if n.endswith(".scale") else llama_name(n),
         r"\.scale becomes \.weight"),
        (lambda n: f"model.layers.{n[7]}.{BLOCK[n[9:]]}" if n.startswith("blocks.") and n[8] == "." else
         f"model.layers.{n[7]}.{BLOCK[n.split('.', 2)[2]]}" if n.startswith("blocks.") else TOP[n],
         "layer numbers can have two digits: read the whole number"),
        (lambda n: llama_name(n).replace("model.layers.", "model.blocks."), "Hugging Face calls the blocks layers"),
        (lambda n: llama_name(n).replace("self_attn.", "attn."), "attention is self_attn"),
        (lambda n: None, "return the Hugging Face name as a string"),
    ],
)
def test_name_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_llama_name(wrong)


def test_name_an_answer_that_raises_gets_a_short_message():
    with pytest.raises(WrongAnswer) as info:
        check_llama_name(lambda name: {**TOP, **{f"blocks.3.{k}": f"model.layers.3.{v}" for k, v in BLOCK.items()}}[name])
    message = str(info.value)
    assert "your code raised KeyError" in message and "'blocks.0.norm1.scale'" in message and len(message.splitlines()) <= 6


# --- 17.2 count a Llama's parameters ----------------------------------------------------


def llama_parameter_count(vocab_size, d_model, n_layers, n_heads, n_kv_heads, hidden_dim, tie_weights):
    head_dim = d_model // n_heads
    attention = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim
    block = attention + 3 * d_model * hidden_dim + 2 * d_model
    return vocab_size * d_model * (1 if tie_weights else 2) + n_layers * block + d_model


def by_modern_gpt(vocab_size, d_model, n_layers, n_heads, n_kv_heads, hidden_dim, tie_weights):  # unusual but right
    from helpers.model import count_parameters
    from helpers.modern import ModernConfig, ModernGPT

    with torch.device("meta"):
        return count_parameters(ModernGPT(ModernConfig(vocab_size, 64, d_model, n_layers, n_heads, n_kv_heads,
                                                       hidden_dim, tie_weights=tie_weights)))


def by_shapes(vocab_size, d_model, n_layers, n_heads, n_kv_heads, hidden_dim, tie_weights):
    kv = n_kv_heads * (d_model // n_heads)
    shapes = [(vocab_size, d_model), (d_model,)] + ([] if tie_weights else [(vocab_size, d_model)])
    shapes += n_layers * [(d_model, d_model), (kv, d_model), (kv, d_model), (d_model, d_model),
                          (hidden_dim, d_model), (hidden_dim, d_model), (d_model, hidden_dim), (d_model,), (d_model,)]
    return sum(int(torch.tensor(shape).prod()) for shape in shapes)


def test_count_right_answers_pass(capsys):
    for answer in (llama_parameter_count, by_modern_gpt, by_shapes):
        check_llama_parameter_count(answer)
    assert capsys.readouterr().out.count(
        "✅ Exercise 17.2 (Count a Llama's parameters from its config): all 7 cases pass.") == 3


def test_count_expected_values_come_from_transformers_and_match_published_sizes():
    assert hf_llama_parameter_count(128256, 4096, 32, 32, 8, 14336, False) == 8_030_261_248  # Llama 3.1 8B
    assert hf_llama_parameter_count(128256, 2048, 16, 32, 8, 8192, True) == 1_235_814_400  # Llama 3.2 1B


def test_count_stub_is_not_solved():
    def stub(vocab_size, d_model, n_layers, n_heads, n_kv_heads, hidden_dim, tie_weights):
        raise NotImplementedError("Exercise 17.2 (Count a Llama's parameters from its config) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="17.2"):
        check_llama_parameter_count(stub)


def mistake(attention=None, ff_matrices=3, block_norms=2, final_norm=1, norm_size=1, head=None):
    def count(V, d, L, h, kv, H, tie):
        attn = 2 * d * d + 2 * d * kv * (d // h) if attention is None else attention(d, kv, h)
        block = attn + ff_matrices * d * H + block_norms * norm_size * d
        heads = (1 if tie else 2) if head is None else head(tie)
        return V * d * heads + L * block + final_norm * norm_size * d
    return count


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (mistake(attention=lambda d, kv, h: 4 * d * d), "key and value projections have only n_kv_heads heads"),
        (mistake(ff_matrices=2), "SwiGLU has three matrices"),
        (mistake(block_norms=0, final_norm=0), "count the norms: two RMSNorms per block and one at the end"),
        (mistake(final_norm=0), "count the final norm too"),
        (mistake(block_norms=0), "count the two RMSNorms of every block"),
        (mistake(norm_size=2), "an RMSNorm has a scale and no shift"),
        (mistake(head=lambda tie: 2), "a tied head IS the embedding matrix: count it once"),
        (mistake(head=lambda tie: 1), "an untied head is its own vocab_size × d_model matrix"),
        (lambda *args: float(llama_parameter_count(*args)), "return a whole number"),
    ],
)
def test_count_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_llama_parameter_count(wrong)


def test_count_a_wrong_answer_shows_the_case_and_its_description():
    with pytest.raises(WrongAnswer) as info:
        check_llama_parameter_count(lambda *args: llama_parameter_count(*args) + 1)
    message = str(info.value)
    assert "<lambda>(1000, 64, 2, 4, 2, 172, False)" in message and "grouped-query attention" in message
    assert len(message.splitlines()) <= 6
