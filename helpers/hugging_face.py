"""The course's models and tokenizer in Hugging Face ``transformers``, and back (notebook 17).

GPT-2's side, for :class:`~helpers.model.GPT` and :class:`~helpers.bpe.BPETokenizer`:

* :func:`gpt2_config` — a :class:`~helpers.model.GPTConfig` as a ``transformers.GPT2Config``;
* :func:`to_hf_gpt2` — the same weights in a ``GPT2LMHeadModel`` (through
  :func:`helpers.model.to_gpt2_state_dict`): the same logits;
* :func:`to_hf_tokenizer` — the same vocabulary, merges and split pattern in a
  ``PreTrainedTokenizerFast`` built with the ``tokenizers`` library: the same ids;
* :func:`save_for_hugging_face` — both into one folder that ``from_pretrained`` and
  ``transformers.pipeline`` read.

Llama's side, for :class:`~helpers.modern.ModernGPT`:

* :func:`llama_config` and :func:`modern_config` — a :class:`~helpers.modern.ModernConfig`
  as a ``transformers.LlamaConfig`` and back, refusing what one of them cannot hold;
* :func:`llama_name` (:data:`LLAMA_BLOCK_NAMES`, :data:`LLAMA_TOP_NAMES`) — a course
  parameter's name in a Hugging Face Llama checkpoint (exercise 17.1);
* :func:`load_llama_weights` — a Llama state dict copied into a ``ModernGPT``.

Everything runs offline. Importing this module sets ``HF_HUB_OFFLINE=1``, which
``huggingface_hub`` reads when it is first imported: import this module before
``transformers``, and load a saved folder with ``from_pretrained(folder,
local_files_only=True)``; nothing is ever downloaded. ``transformers`` itself is
imported inside the functions that use it (it takes seconds), so importing this
module, as the checks of notebook 17 do, stays cheap.

    >>> llama_name("blocks.3.ff.gate.weight")
    'model.layers.3.mlp.gate_proj.weight'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from helpers.bpe import ENDOFTEXT, BPETokenizer, gpt2_bytes_to_unicode
from helpers.model import GPT, GPTConfig, to_gpt2_state_dict
from helpers.modern import ModernConfig, ModernGPT

if TYPE_CHECKING:
    import transformers

os.environ["HF_HUB_OFFLINE"] = "1"  # the course never downloads; huggingface_hub reads this when first imported


# --- GPT-2 --------------------------------------------------------------------------


def gpt2_config(config: GPTConfig, eos_token_id: int | None = None) -> transformers.GPT2Config:
    """``config`` as a ``transformers.GPT2Config``: the same sizes, GELU, eps, dropout and tying (notebook 17).

    ``"gelu_new"`` is Hugging Face's name for GPT-2's tanh GELU (:func:`helpers.model.gelu`);
    the course's one ``dropout`` rate is GPT-2's three (embeddings, residual, attention
    weights). ``eos_token_id`` (the tokenizer's ``<|endoftext|>``) is also GPT-2's
    ``bos_token_id``; ``None`` (the default) leaves both unset.
    """
    import transformers

    if eos_token_id is not None and not 0 <= eos_token_id < config.vocab_size:
        raise ValueError(f"eos_token_id must be a token id 0..{config.vocab_size - 1}, got {eos_token_id}")
    return transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_length,
        n_embd=config.d_model,
        n_layer=config.n_layers,
        n_head=config.n_heads,
        n_inner=4 * config.d_model,  # helpers.model.FeedForward's width
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,  # helpers.model.LayerNorm's eps
        embd_pdrop=config.dropout,
        resid_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        tie_word_embeddings=config.tie_weights,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )


def _check_plain_gpt(model: GPT) -> None:
    """Raise a clear error unless ``model`` holds exactly the parameters of a fresh ``GPT(model.config)``."""
    if not isinstance(model, GPT):
        raise TypeError(f"expected a helpers.model.GPT, got a {type(model).__name__}")
    with torch.device("meta"):  # sizes only, no memory used
        plain = GPT(model.config)
    expected = {name: tuple(p.shape) for name, p in plain.named_parameters(remove_duplicate=False)}
    got = {name: tuple(p.shape) for name, p in model.named_parameters(remove_duplicate=False)}
    extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
    if extra or missing:
        raise ValueError(
            "the model is not a plain GPT of its config: "
            + (f"it has {', '.join(extra[:3])}, which GPT-2 has no place for; " if extra else "")
            + (f"it lacks {', '.join(missing[:3])}; " if missing else "")
            + "merge LoRA layers first (helpers.lora.merge_lora), and export the language model, not a classifier"
        )
    wrong = [name for name in expected if got[name] != expected[name]]
    if wrong:
        name = wrong[0]
        raise ValueError(f"parameter {name!r} has shape {got[name]}, but the config {model.config} gives {expected[name]}")


def to_hf_gpt2(model: GPT, eos_token_id: int | None = None) -> transformers.GPT2LMHeadModel:
    """A ``transformers.GPT2LMHeadModel`` with ``model``'s weights: the same logits (notebook 17).

    The weights are :func:`helpers.model.to_gpt2_state_dict`'s, under the names
    ``transformers`` adds (``transformer.h.0.attn.c_attn.weight``, ``lm_head.weight``).
    Hugging Face's GPT-2 always has query/key/value biases: with ``qkv_bias=False`` they
    are zeros, which adds exactly nothing (but they would train if you fine-tuned the
    copy). An untied head (``tie_weights=False``, or one that ``merge_lora`` gave its own
    matrix) becomes an untied ``lm_head``. The copy has ``model``'s dtype, device and
    train/eval mode; ``eos_token_id`` as in :func:`gpt2_config`.
    """
    import transformers

    _check_plain_gpt(model)
    tied = model.out_head.weight is model.tok_emb.weight  # what the model computes, whatever its config says
    config = dataclasses.replace(model.config, tie_weights=tied)
    hf_model = transformers.GPT2LMHeadModel(gpt2_config(config, eos_token_id))
    hf_model.generation_config.pad_token_id = eos_token_id  # GPT-2 has no padding token: pad with <|endoftext|>
    tensors = {f"transformer.{name}": tensor for name, tensor in to_gpt2_state_dict(model).items()}
    for i in range(config.n_layers):
        tensors.setdefault(f"transformer.h.{i}.attn.c_attn.bias", torch.zeros(3 * config.d_model))
    tensors["lm_head.weight"] = model.out_head.weight.detach()
    hf_model.load_state_dict(tensors, strict=True)  # every name and shape must fit
    weight = model.tok_emb.weight
    return hf_model.to(device=weight.device, dtype=weight.dtype).train(model.training)


def save_for_hugging_face(model: GPT, tokenizer: BPETokenizer, folder: str | Path) -> Path:
    """Save ``model`` and ``tokenizer`` the way Hugging Face does, in one folder, and return it (notebook 17).

    The folder then holds ``config.json``, ``model.safetensors`` and
    ``generation_config.json`` (:func:`to_hf_gpt2`) and ``tokenizer.json`` with
    ``tokenizer_config.json`` (:func:`to_hf_tokenizer`): what
    ``GPT2LMHeadModel.from_pretrained(folder)``, ``AutoTokenizer.from_pretrained(folder)``
    and ``transformers.pipeline("text-generation", model=folder)`` read. The tokenizer's
    ``<|endoftext|>``, if it has one, is the model's end-of-text (and padding) token.
    """
    largest = max(tokenizer.vocab)
    if largest >= model.config.vocab_size:
        raise ValueError(f"the tokenizer has token id {largest}, but the model's vocabulary has only "
                         f"ids 0..{model.config.vocab_size - 1}: they do not belong together")
    folder = Path(folder)
    eos_token_id = tokenizer.special_tokens.get(ENDOFTEXT)
    to_hf_gpt2(model, eos_token_id).save_pretrained(folder)
    to_hf_tokenizer(tokenizer, model_max_length=model.config.context_length).save_pretrained(folder)
    return folder


# --- the tokenizer --------------------------------------------------------------------


def to_hf_tokenizer(tokenizer: BPETokenizer, model_max_length: int | None = None) -> transformers.PreTrainedTokenizerFast:
    """The course's BPE tokenizer as a Hugging Face fast tokenizer, giving the same ids (notebook 17).

    Built with the ``tokenizers`` library: a ``BPE`` model with the course tokenizer's
    vocabulary and merges, in the order they were learned, its tokens written in GPT-2's
    byte-to-character alphabet (:func:`helpers.bpe.gpt2_bytes_to_unicode`); the course's
    split regex (``tokenizer.pattern``) as a ``Split`` pre-tokenizer, then
    ``ByteLevel(use_regex=False)`` to write each chunk's bytes in that alphabet; a
    ``ByteLevel`` decoder. Every special token is registered at its own id;
    ``<|endoftext|>`` is the ``eos_token``; ``model_max_length`` is the longest input
    (``save_for_hugging_face`` passes the model's context length).

    ``hf_tokenizer(text)["input_ids"]`` equals ``tokenizer.encode(text, allowed_special="all")``
    (tests compare them on the held-out novels, on random text and on a sample of all
    Unicode characters; all 1,112,064 of them agreed when tried once) and ``decode`` equals ``tokenizer.decode``, invalid UTF-8 included. The one
    difference is the course's default ``encode(text)``: it *refuses* a special token's
    text, where Hugging Face turns it into the special id; pass
    ``split_special_tokens=True`` to get :meth:`~helpers.bpe.BPETokenizer.encode_ordinary`'s
    ids instead. Decoding keeps spaces as they are (``clean_up_tokenization_spaces=False``).
    """
    import tokenizers
    import transformers
    from tokenizers import decoders, models, pre_tokenizers

    alphabet = gpt2_bytes_to_unicode()
    specials = {token_id: token for token, token_id in tokenizer.special_tokens.items()}

    def written(token_id: int) -> str:  # b" the" -> "Ġthe"
        return "".join(alphabet[b] for b in tokenizer.vocab[token_id])

    vocab: dict[str, int] = {}  # special tokens too, so that each keeps its own id
    for token_id in sorted(tokenizer.vocab):
        token = specials[token_id] if token_id in specials else written(token_id)
        if token in vocab:
            raise ValueError(f"token ids {vocab[token]} and {token_id} are both {token!r}: a Hugging Face "
                             "vocabulary maps each token to one id")
        vocab[token] = token_id
    merges = [(written(left), written(right)) for left, right in tokenizer.merges]  # in the order learned

    backend = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(tokenizer.pattern), behavior="isolated"),  # the course's chunks
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),  # each chunk's bytes as characters
    ])
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([tokenizers.AddedToken(token, special=True, normalized=False)
                                for token in tokenizer.special_tokens])  # already in the vocabulary: their ids stay
    hf_tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=ENDOFTEXT if ENDOFTEXT in tokenizer.special_tokens else None,
        clean_up_tokenization_spaces=False,
    )
    if model_max_length is not None:  # the model's context length (transformers' default: no limit)
        hf_tokenizer.model_max_length = model_max_length
    return hf_tokenizer


# --- Llama ----------------------------------------------------------------------------


#: :class:`~helpers.modern.ModernConfig`'s fields → ``transformers.LlamaConfig``'s names for them.
LLAMA_CONFIG_NAMES: dict[str, str] = {
    "vocab_size": "vocab_size", "context_length": "max_position_embeddings", "d_model": "hidden_size",
    "n_layers": "num_hidden_layers", "n_heads": "num_attention_heads", "n_kv_heads": "num_key_value_heads",
    "hidden_dim": "intermediate_size", "norm_eps": "rms_norm_eps", "tie_weights": "tie_word_embeddings",
}


def llama_config(config: ModernConfig) -> transformers.LlamaConfig:
    """``config`` as a ``transformers.LlamaConfig``: the same sizes, RoPE base, eps and tying (notebook 17).

    Hugging Face's Llama has no sliding window, and rotates the two halves of each head
    (``pairing="half"``): a config with a ``window`` or with ``pairing="interleaved"`` is
    refused. No token ids are set (``bos_token_id``, ``eos_token_id`` are ``None``).
    """
    import transformers

    if config.window is not None:
        raise ValueError(f"ModernConfig.window={config.window}: Hugging Face's Llama has no sliding-window "
                         "attention (Mistral's config has one); use window=None")
    if config.pairing != "half":
        raise ValueError(f"ModernConfig.pairing={config.pairing!r}: Hugging Face's Llama rotates halves "
                         "(pairing='half'); convert the query and key weights with "
                         "helpers.modern.interleaved_to_half first")
    sizes = {llama: getattr(config, course) for course, llama in LLAMA_CONFIG_NAMES.items()}
    return transformers.LlamaConfig(
        **sizes,
        head_dim=config.head_dim,
        hidden_act="silu",
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_base},
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=None,
        eos_token_id=None,
    )


def modern_config(llama: transformers.LlamaConfig) -> ModernConfig:
    """A ``transformers.LlamaConfig`` as a :class:`~helpers.modern.ModernConfig`, refusing what ModernGPT lacks (notebook 17).

    Refused, each with its own message: biases (``attention_bias``, ``mlp_bias``), an
    activation other than SiLU, RoPE scaling (``rope_type`` other than ``"default"``, such
    as Llama 3.1's ``"llama3"``), a ``head_dim`` other than ``hidden_size // num_attention_heads``,
    dropout, and configs of other model types (Mistral's sliding window, ...).
    """
    if getattr(llama, "model_type", None) != "llama":
        raise ValueError(f"expected a transformers.LlamaConfig, got a {type(llama).__name__} "
                         f"(model_type {getattr(llama, 'model_type', None)!r})")
    for name in ("attention_bias", "mlp_bias"):
        if getattr(llama, name):
            raise ValueError(f"LlamaConfig.{name}=True: ModernGPT's linear layers have no biases")
    if llama.hidden_act != "silu":
        raise ValueError(f"LlamaConfig.hidden_act={llama.hidden_act!r}: ModernGPT's SwiGLU uses 'silu'")
    rope = dict(llama.rope_parameters or {})
    if rope.get("rope_type", "default") != "default":
        raise ValueError(f"LlamaConfig.rope_parameters has rope_type={rope['rope_type']!r}: ModernGPT's RoPE has "
                         "no scaling (only rope_type 'default')")
    if llama.head_dim != llama.hidden_size // llama.num_attention_heads:
        raise ValueError(f"LlamaConfig.head_dim={llama.head_dim}, but ModernGPT's heads are hidden_size // "
                         f"num_attention_heads = {llama.hidden_size // llama.num_attention_heads} wide")
    if llama.attention_dropout:
        raise ValueError(f"LlamaConfig.attention_dropout={llama.attention_dropout}: ModernGPT has no dropout")
    sizes = {course: getattr(llama, name) for course, name in LLAMA_CONFIG_NAMES.items()}
    sizes["tie_weights"] = bool(sizes["tie_weights"])
    return ModernConfig(**sizes, rope_base=float(rope.get("rope_theta", 10000.0)), window=None, pairing="half")


#: A block's tensors: this course's names (after ``blocks.{i}.``) → Hugging Face Llama's (after ``model.layers.{i}.``).
LLAMA_BLOCK_NAMES: dict[str, str] = {
    "norm1.scale": "input_layernorm.weight",
    "attn.W_query.weight": "self_attn.q_proj.weight",
    "attn.W_key.weight": "self_attn.k_proj.weight",
    "attn.W_value.weight": "self_attn.v_proj.weight",
    "attn.out_proj.weight": "self_attn.o_proj.weight",
    "norm2.scale": "post_attention_layernorm.weight",
    "ff.gate.weight": "mlp.gate_proj.weight",
    "ff.up.weight": "mlp.up_proj.weight",
    "ff.down.weight": "mlp.down_proj.weight",
}
#: The tensors outside the blocks: this course's names → Hugging Face Llama's.
LLAMA_TOP_NAMES: dict[str, str] = {
    "tok_emb.weight": "model.embed_tokens.weight",
    "final_norm.scale": "model.norm.weight",
    "out_head.weight": "lm_head.weight",
}
#: The :class:`~helpers.modern.ModernConfig` fields that set each tensor's shape, for error messages.
_SHAPE_FIELDS: dict[str, str] = {
    "tok_emb.weight": "vocab_size or d_model", "out_head.weight": "vocab_size or d_model",
    "final_norm.scale": "d_model", "norm1.scale": "d_model", "norm2.scale": "d_model",
    "attn.W_query.weight": "d_model or n_heads", "attn.out_proj.weight": "d_model or n_heads",
    "attn.W_key.weight": "n_kv_heads (or d_model, n_heads)", "attn.W_value.weight": "n_kv_heads (or d_model, n_heads)",
    "ff.gate.weight": "hidden_dim or d_model", "ff.up.weight": "hidden_dim or d_model",
    "ff.down.weight": "hidden_dim or d_model",
}


def _split_block_name(name: str) -> tuple[str, str] | None:
    """``"blocks.3.ff.up.weight"`` → ``("3", "ff.up.weight")``; ``None`` for a name outside the blocks."""
    if not name.startswith("blocks."):
        return None
    layer, _, rest = name.removeprefix("blocks.").partition(".")
    return (layer, rest) if layer.isdigit() else None


def llama_name(name: str) -> str:
    """A :class:`~helpers.modern.ModernGPT` parameter's name in a Hugging Face Llama checkpoint (notebook 17, exercise 17.1).

        >>> llama_name("blocks.10.norm2.scale")
        'model.layers.10.post_attention_layernorm.weight'
        >>> llama_name("out_head.weight")
        'lm_head.weight'
    """
    if name in LLAMA_TOP_NAMES:
        return LLAMA_TOP_NAMES[name]
    parts = _split_block_name(name)
    if parts is None or parts[1] not in LLAMA_BLOCK_NAMES:
        raise KeyError(f"{name!r} is not a ModernGPT parameter name: expected one of {sorted(LLAMA_TOP_NAMES)} "
                       f"or blocks.<i>.<one of {sorted(LLAMA_BLOCK_NAMES)}>")
    layer, rest = parts
    return f"model.layers.{layer}.{LLAMA_BLOCK_NAMES[rest]}"


def load_llama_weights(model: ModernGPT, state_dict: Mapping[str, Tensor]) -> ModernGPT:
    """Copy a Hugging Face Llama ``state_dict`` into ``model`` (a ``ModernGPT``, pairing "half") and return it (notebook 17).

    Every parameter of ``model`` is looked up under its :func:`llama_name`, and every shape
    is checked, naming the tensor and the config field that probably differs. A tied model
    (``tie_weights=True``) needs no ``lm_head.weight``; if the state dict has one, it must
    equal the embedding. A tensor left over (more layers than the model?) is an error too;
    RoPE's ``inv_freq`` buffers of older checkpoints are not weights and are skipped.
    """
    if not isinstance(model, ModernGPT):
        raise TypeError(f"expected a helpers.modern.ModernGPT, got a {type(model).__name__}")
    if model.config.pairing != "half":
        raise ValueError(f"the model has pairing={model.config.pairing!r}, but Hugging Face's Llama weights "
                         "rotate halves: build it with pairing='half'")
    tensors = {name: tensor for name, tensor in state_dict.items() if not name.endswith("rotary_emb.inv_freq")}
    tied = model.out_head.weight is model.tok_emb.weight
    embedding = tensors.get(LLAMA_TOP_NAMES["tok_emb.weight"])
    for name, parameter in model.named_parameters(remove_duplicate=False):
        hf_name = llama_name(name)
        if name == "out_head.weight" and tied:
            head = tensors.pop(hf_name, None)  # a tied checkpoint may store the head, or leave it out
            if head is not None and embedding is not None and not torch.equal(head, embedding):
                raise ValueError("the state dict's lm_head.weight differs from model.embed_tokens.weight: "
                                 "the checkpoint is untied, so build the model with tie_weights=False")
            continue
        if hf_name not in tensors:
            hint = ("the checkpoint ties its head to the embedding: build the model with tie_weights=True"
                    if name == "out_head.weight" else "is it a Llama state dict, with as many layers as the model?")
            raise KeyError(f"the state dict has no tensor {hf_name!r} (for {name}); {hint}")
        value = tensors.pop(hf_name)
        if tuple(value.shape) != tuple(parameter.shape):
            parts = _split_block_name(name)
            field = _SHAPE_FIELDS[parts[1] if parts else name]
            raise ValueError(f"tensor {hf_name!r} has shape {tuple(value.shape)}, but the model's {name} is "
                             f"{tuple(parameter.shape)}: check ModernConfig.{field}")
        with torch.no_grad():
            parameter.copy_(value)
    if tensors:
        left = sorted(tensors)
        raise ValueError(f"{len(left)} tensors of the state dict have no place in the model "
                         f"(n_layers={model.config.n_layers}?): {', '.join(left[:5])}")
    return model
