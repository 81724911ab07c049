"""helpers/hugging_face.py: the course's GPT, tokenizer and ModernGPT against Hugging Face transformers itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.bpe import ENDOFTEXT, BPETokenizer, _gpt2_files, gpt2_encoding, gpt2_tokenizer
from helpers.generation import generate
from helpers.hugging_face import (
    LLAMA_BLOCK_NAMES,
    llama_config,
    llama_name,
    load_llama_weights,
    modern_config,
    save_for_hugging_face,
    to_hf_gpt2,
    gpt2_config,
    to_hf_tokenizer,
)
from helpers.lora import add_lora, merge_lora
from helpers.model import GPT, GPTConfig, count_parameters, gelu
from helpers.modern import ModernConfig, ModernGPT
from helpers.pretrained import heldout_text, load_base_model, load_tokenizer
from tests.test_bpe import PROSE, TRICKY

# After helpers.hugging_face, which sets HF_HUB_OFFLINE before huggingface_hub is first imported.
import transformers  # isort: skip
from transformers.activations import ACT2FN  # isort: skip


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every network connection during the test (local Unix sockets stay allowed)."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(original):
        def call(self, address):
            if getattr(socket, "AF_UNIX", None) is not None and self.family == socket.AF_UNIX:
                return original(self, address)
            raise ConnectionRefusedError(f"this test runs offline, but something connected to {address!r}")
        return call

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))


def test_importing_the_module_makes_the_hub_offline():
    # A fresh interpreter: in this one another test may have imported huggingface_hub first.
    code = "import helpers.hugging_face, huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "True"


# --- GPT-2 -----------------------------------------------------------------------------

SMALL = dict(vocab_size=61, context_length=16, d_model=32, n_layers=2, n_heads=4, dropout=0.0)


def small_gpt(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **changes})).eval()


def max_logit_difference(ours: torch.nn.Module, theirs: torch.nn.Module, vocab_size: int, T: int = 16) -> float:
    ids = torch.randint(0, vocab_size, (2, T), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((ours(ids) - theirs(ids).logits).abs().max())


def test_gpt2_config_has_the_course_sizes_and_gpt2s_gelu():
    config = GPTConfig(vocab_size=4096, context_length=256, d_model=256, n_layers=6, n_heads=8, dropout=0.2,
                       qkv_bias=False, tie_weights=False)
    hf = gpt2_config(config, eos_token_id=4095)
    assert (hf.vocab_size, hf.n_positions, hf.n_embd, hf.n_layer, hf.n_head) == (4096, 256, 256, 6, 8)
    assert (hf.embd_pdrop, hf.resid_pdrop, hf.attn_pdrop, hf.layer_norm_epsilon) == (0.2, 0.2, 0.2, 1e-5)
    assert hf.tie_word_embeddings is False and hf.eos_token_id == hf.bos_token_id == 4095
    assert gpt2_config(GPTConfig()).eos_token_id is None
    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(ACT2FN[hf.activation_function](x), gelu(x), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="eos_token_id must be a token id 0..4095, got 4096"):
        gpt2_config(config, eos_token_id=4096)


@pytest.mark.parametrize("qkv_bias", [True, False])
@pytest.mark.parametrize("tie_weights", [True, False])
def test_to_hf_gpt2_gives_the_same_logits(qkv_bias, tie_weights):
    model = small_gpt(qkv_bias=qkv_bias, tie_weights=tie_weights)
    hf = to_hf_gpt2(model)
    assert isinstance(hf, transformers.GPT2LMHeadModel) and not hf.training
    assert max_logit_difference(model, hf, model.config.vocab_size) <= 1e-5  # measured: about 1e-7
    assert (hf.lm_head.weight is hf.transformer.wte.weight) is tie_weights
    zero_biases = 0 if qkv_bias else SMALL["n_layers"] * 3 * SMALL["d_model"]  # HF's c_attn always has a bias
    assert hf.num_parameters() == count_parameters(model) + zero_biases
    if not qkv_bias:
        assert all(torch.equal(block.attn.c_attn.bias, torch.zeros(3 * SMALL["d_model"])) for block in hf.transformer.h)


def test_a_head_that_merge_lora_untied_is_exported_untied():
    model = small_gpt()
    add_lora(model, rank=2, alpha=4, targets=("attn.W_query", "out_head"))
    with pytest.raises(ValueError, match=r"not a plain GPT.*lora_A.*helpers\.lora\.merge_lora"):
        to_hf_gpt2(model)
    for name, parameter in model.named_parameters():
        if name.endswith("lora_B"):
            torch.nn.init.normal_(parameter)  # a trained-looking update, so the merged head differs
    merge_lora(model)
    assert model.config.tie_weights and model.out_head.weight is not model.tok_emb.weight
    hf = to_hf_gpt2(model)
    assert hf.lm_head.weight is not hf.transformer.wte.weight
    assert max_logit_difference(model, hf, model.config.vocab_size) <= 1e-5


def test_to_hf_gpt2_refuses_what_is_not_a_plain_gpt():
    from helpers.classification import GPTClassifier

    with pytest.raises(TypeError, match="expected a helpers.model.GPT, got a Linear"):
        to_hf_gpt2(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="it lacks out_head.weight"):
        to_hf_gpt2(GPTClassifier(small_gpt(), pad_id=0).gpt)
    model = small_gpt()
    model.pos_emb = torch.nn.Embedding(8, SMALL["d_model"])
    with pytest.raises(ValueError, match=r"'pos_emb.weight' has shape \(8, 32\), but the config .* gives \(16, 32\)"):
        to_hf_gpt2(model)


def test_the_base_model_saved_for_hugging_face_loads_back_with_the_same_logits_and_text(tmp_path, no_network):
    model, tokenizer = load_base_model()
    folder = save_for_hugging_face(model, tokenizer, tmp_path / "base")
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} <= {p.name for p in folder.iterdir()}

    hf = transformers.GPT2LMHeadModel.from_pretrained(folder, local_files_only=True)
    prompt = "It is a truth universally acknowledged, that"
    ids = torch.tensor([tokenizer.encode(prompt)])
    long_ids = torch.tensor([tokenizer.encode(heldout_text()[:5000])[:256]])
    with torch.no_grad():
        difference = float((hf(long_ids).logits - model(long_ids)).abs().max())
    assert difference <= 1e-4  # measured: 2.1e-5 over the 256 positions

    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert hf_tokenizer.eos_token_id == tokenizer.special_tokens[ENDOFTEXT] == hf.generation_config.eos_token_id
    generator = transformers.pipeline("text-generation", model=str(folder), device="cpu")
    text = generator(prompt, max_new_tokens=40, do_sample=False)[0]["generated_text"]
    assert text == tokenizer.decode(generate(model, ids, 40)[0].tolist())  # greedy: temperature 0
    assert len(tokenizer.encode(text)) > len(ids[0]) + 30


def test_save_refuses_a_tokenizer_larger_than_the_model(tmp_path):
    with pytest.raises(ValueError, match=r"token id 4095, but the model's vocabulary has only ids 0\.\.60"):
        save_for_hugging_face(small_gpt(), load_tokenizer(), tmp_path)


# --- the tokenizer -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_tokenizers() -> tuple[BPETokenizer, transformers.PreTrainedTokenizerFast]:
    tokenizer = load_tokenizer()
    return tokenizer, to_hf_tokenizer(tokenizer, model_max_length=10**6)


def test_to_hf_tokenizer_gives_the_same_ids_on_the_heldout_novels(course_tokenizers):
    ours, theirs = course_tokenizers
    assert isinstance(theirs, transformers.PreTrainedTokenizerFast)
    text = heldout_text()
    ids = ours.encode(text)
    assert len(ids) > 40_000 and theirs(text)["input_ids"] == ids
    assert theirs.decode(ids) == text


@pytest.mark.parametrize("text", TRICKY)
def test_to_hf_tokenizer_gives_the_same_ids_on_tricky_text(course_tokenizers, text):
    ours, theirs = course_tokenizers
    assert theirs(text)["input_ids"] == ours.encode(text)


def test_to_hf_tokenizer_agrees_on_a_sample_of_every_unicode_character(course_tokenizers):
    # One code point in 97, in five contexts; all 1,112,064 code points agreed when tried once (23 s).
    ours, theirs = course_tokenizers
    chars = [chr(c) for c in range(0, 0x110000, 97) if not 0xD800 <= c <= 0xDFFF]
    text = "".join(f"a{c}b {c}1 {c}{c}  {c}\n" for c in chars)
    assert theirs(text)["input_ids"] == ours.encode_ordinary(text)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_to_hf_tokenizer_gives_the_same_ids_on_any_text(course_tokenizers, text):
    ours, theirs = course_tokenizers
    ids = ours.encode_ordinary(text)
    assert theirs(text, split_special_tokens=True)["input_ids"] == ids
    assert theirs.decode(ids) == text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 4095), max_size=12))
def test_to_hf_tokenizer_decodes_any_ids_alike_even_invalid_utf8(course_tokenizers, ids):
    ours, theirs = course_tokenizers
    assert theirs.decode(ids) == ours.decode(ids)


def test_special_tokens_keep_their_ids(course_tokenizers):
    ours, theirs = course_tokenizers
    text = f"The end.{ENDOFTEXT}Chapter 1{ENDOFTEXT}"
    assert theirs.eos_token == ENDOFTEXT and theirs.eos_token_id == 4095
    assert theirs(text)["input_ids"] == ours.encode(text, allowed_special="all")  # HF allows special tokens ...
    assert theirs(text, split_special_tokens=True)["input_ids"] == ours.encode_ordinary(text)  # ... unless told not to


def test_gpt2s_tokenizer_converted_equals_transformers_own_gpt2_tokenizer():
    encoder, merges = _gpt2_files()
    theirs = transformers.GPT2TokenizerFast(vocab=dict(encoder), merges=list(merges))  # from data/gpt2/, no download
    ours = to_hf_tokenizer(gpt2_tokenizer())
    text = PROSE[:40_000]
    assert ours(text)["input_ids"] == theirs(text)["input_ids"] == gpt2_encoding().encode(text)
    for text in TRICKY:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    assert ours(ENDOFTEXT)["input_ids"] == theirs(ENDOFTEXT)["input_ids"] == [50256]


def test_several_special_tokens_keep_their_ids_even_out_of_order_and_with_gaps():
    a, b = b"ab"
    ours = BPETokenizer({(a, b): 256}, {"<|user|>": 300, "<|end|>": 257, ENDOFTEXT: 258})
    theirs = to_hf_tokenizer(ours)
    text = f"<|user|>ab ab<|end|>{ENDOFTEXT}ba"
    assert theirs(text)["input_ids"] == ours.encode(text, allowed_special="all") == [300, 256, 32, 256, 257, 258, b, a]
    assert theirs.decode(theirs(text)["input_ids"]) == text and theirs.eos_token_id == 258


def test_the_tokenizers_own_split_pattern_is_used_not_gpt2s():
    ours = BPETokenizer({(ord("b"), ord(" ")): 256}, pattern=r"\S+\s*")  # a word and the spaces after it
    text = "ab  cd"
    assert ours.encode(text) == [ord("a"), 256, ord(" "), ord("c"), ord("d")]  # GPT-2's chunks would never merge "b "
    assert to_hf_tokenizer(ours)(text)["input_ids"] == ours.encode(text)


def test_a_vocabulary_with_two_ids_for_one_token_is_refused():
    a, b, c = b"abc"
    tokenizer = BPETokenizer({(a, b): 256, (256, c): 257, (b, c): 258, (a, 258): 259})  # 257 and 259 are both "abc"
    with pytest.raises(ValueError, match="token ids 257 and 259 are both 'abc'"):
        to_hf_tokenizer(tokenizer)


# --- Llama ------------------------------------------------------------------------------


def small_llama_config(n_kv_heads: int, tie: bool, **changes) -> transformers.LlamaConfig:
    values = dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=n_kv_heads, max_position_embeddings=48, rms_norm_eps=1e-6,
                     rope_parameters={"rope_type": "default", "rope_theta": 500.0}, tie_word_embeddings=tie,
                     initializer_range=0.1, bos_token_id=None, eos_token_id=None)
    return transformers.LlamaConfig(**{**values, **changes})


def random_llama(n_kv_heads: int, tie: bool, seed: int = 0, **changes) -> transformers.LlamaForCausalLM:
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(small_llama_config(n_kv_heads, tie, **changes)).eval()


def test_modern_config_and_llama_config_translate_both_ways():
    llama = small_llama_config(2, True)
    config = modern_config(llama)
    assert config == ModernConfig(vocab_size=97, context_length=48, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
                                  hidden_dim=96, rope_base=500.0, norm_eps=1e-6, tie_weights=True)
    assert modern_config(llama_config(config)) == config
    back = llama_config(config)
    assert (back.head_dim, back.attention_bias, back.mlp_bias, back.hidden_act) == (16, False, False, "silu")


@pytest.mark.parametrize(("changes", "message"), [
    (dict(attention_bias=True), "attention_bias=True: ModernGPT's linear layers have no biases"),
    (dict(mlp_bias=True), "mlp_bias=True"),
    (dict(hidden_act="gelu"), "hidden_act='gelu'"),
    (dict(head_dim=32), "head_dim=32, but ModernGPT's heads are hidden_size // num_attention_heads = 16"),
    (dict(rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}), "rope_type='llama3'"),
    (dict(attention_dropout=0.1), "ModernGPT has no dropout"),
])
def test_modern_config_refuses_what_modern_gpt_lacks(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        modern_config(small_llama_config(2, True, **changes))


def test_modern_config_refuses_other_model_types_and_llama_config_refuses_what_llama_lacks():
    with pytest.raises(ValueError, match="expected a transformers.LlamaConfig, got a MistralConfig"):
        modern_config(transformers.MistralConfig(sliding_window=16))
    config = modern_config(small_llama_config(2, True))
    with pytest.raises(ValueError, match="window=8: Hugging Face's Llama has no sliding-window attention"):
        llama_config(ModernConfig(**{**config.__dict__, "window": 8}))
    with pytest.raises(ValueError, match="pairing='interleaved'.*interleaved_to_half"):
        llama_config(ModernConfig(**{**config.__dict__, "pairing": "interleaved"}))


def test_llama_names_are_exactly_the_names_of_transformers_llama():
    config = ModernConfig(vocab_size=97, context_length=48, d_model=64, n_layers=12, n_heads=4, n_kv_heads=2, hidden_dim=96)
    with torch.device("meta"):
        model, hf = ModernGPT(config), transformers.LlamaForCausalLM(llama_config(config))
    ours = [llama_name(name) for name, _ in model.named_parameters(remove_duplicate=False)]
    assert sorted(ours) == sorted(hf.state_dict())
    assert llama_name("blocks.11.attn.W_key.weight") == "model.layers.11.self_attn.k_proj.weight"
    assert set(LLAMA_BLOCK_NAMES) == {name.removeprefix("blocks.0.") for name, _ in model.named_parameters()
                                      if name.startswith("blocks.0.")}
    with pytest.raises(KeyError, match="'blocks.0.ff.expand.weight' is not a ModernGPT parameter name"):
        llama_name("blocks.0.ff.expand.weight")


@pytest.mark.parametrize(("n_kv_heads", "tie"), [(2, True), (2, False), (1, True), (1, False), (4, False)],
                         ids=["GQA-tied", "GQA-untied", "MQA-tied", "MQA-untied", "MHA-untied"])
def test_a_random_llama_loaded_into_modern_gpt_gives_the_same_logits_and_greedy_text(n_kv_heads, tie):
    hf = random_llama(n_kv_heads, tie)
    model = load_llama_weights(ModernGPT(modern_config(hf.config)), hf.state_dict())
    assert count_parameters(model) == hf.num_parameters()
    assert max_logit_difference(model, hf, 97, T=48) <= 1e-4  # measured: 1.4e-6 to 3.0e-6
    prompt = torch.randint(0, 97, (1, 6), generator=torch.Generator().manual_seed(2))
    ours = generate(model, prompt, 30)
    assert torch.equal(ours, hf.generate(prompt, max_new_tokens=30, do_sample=False))
    assert len(set(ours[0, 6:].tolist())) > 3  # a real continuation, not one token repeated


def test_a_tied_checkpoint_may_leave_out_its_head_but_an_untied_model_needs_it():
    hf = random_llama(2, True)
    tensors = {name: t for name, t in hf.state_dict().items() if name != "lm_head.weight"}
    tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)  # older checkpoints' buffers: skipped
    model = load_llama_weights(ModernGPT(modern_config(hf.config)), tensors)
    assert max_logit_difference(model, hf, 97) <= 1e-4
    untied = ModernGPT(ModernConfig(**{**model.config.__dict__, "tie_weights": False}))
    with pytest.raises(KeyError, match="no tensor 'lm_head.weight'.*tie_weights=True"):
        load_llama_weights(untied, tensors)
    with pytest.raises(ValueError, match="lm_head.weight differs.*tie_weights=False"):
        load_llama_weights(ModernGPT(model.config), random_llama(2, False).state_dict())


def test_load_llama_weights_names_the_tensor_that_does_not_fit():
    hf = random_llama(2, False)
    config = modern_config(hf.config)
    state = hf.state_dict()
    with pytest.raises(ValueError, match=r"'model.layers.0.self_attn.k_proj.weight' has shape \(32, 64\).*"
                                         r"\(16, 64\): check ModernConfig.n_kv_heads"):
        load_llama_weights(ModernGPT(ModernConfig(**{**config.__dict__, "n_kv_heads": 1})), state)
    with pytest.raises(ValueError, match=r"mlp.gate_proj.weight' has shape \(96, 64\).*check ModernConfig.hidden_dim"):
        load_llama_weights(ModernGPT(ModernConfig(**{**config.__dict__, "hidden_dim": 128})), state)
    with pytest.raises(KeyError, match="no tensor 'model.layers.2.input_layernorm.weight'"):
        load_llama_weights(ModernGPT(ModernConfig(**{**config.__dict__, "n_layers": 3})), state)
    with pytest.raises(ValueError, match=r"9 tensors of the state dict have no place in the model \(n_layers=1\?\)"):
        load_llama_weights(ModernGPT(ModernConfig(**{**config.__dict__, "n_layers": 1})), state)
    with pytest.raises(ValueError, match="pairing='interleaved'"):
        load_llama_weights(ModernGPT(ModernConfig(**{**config.__dict__, "pairing": "interleaved"})), state)
    with pytest.raises(TypeError, match="expected a helpers.modern.ModernGPT, got a GPT"):
        load_llama_weights(small_gpt(), state)
