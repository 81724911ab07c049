"""Tests for helpers/model.py: each piece against torch, the whole model against GPT-2's maths."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from helpers.model import (
    GPT,
    GPT_CONFIGS,
    FeedForward,
    GPTConfig,
    LayerNorm,
    TransformerBlock,
    count_parameters,
    gelu,
    load_gpt2_weights,
)

TINY = GPTConfig(vocab_size=50, context_length=16, d_model=12, n_layers=2, n_heads=3, dropout=0.0)


def expected_count(c: GPTConfig) -> int:
    """GPT-2's parameter count, added up by hand from the architecture."""
    e = c.d_model
    norm = 2 * e
    attention = 3 * (e * e + (e if c.qkv_bias else 0)) + (e * e + e)
    feed_forward = (e * 4 * e + 4 * e) + (4 * e * e + e)
    block = 2 * norm + attention + feed_forward
    head = 0 if c.tie_weights else c.vocab_size * e
    return c.vocab_size * e + c.context_length * e + c.n_layers * block + norm + head


@pytest.mark.parametrize("name", list(GPT_CONFIGS))
@pytest.mark.parametrize("tied", [True, False])
def test_parameter_counts_of_the_four_gpt2_sizes(name, tied):
    config = replace(GPT_CONFIGS[name], tie_weights=tied)
    with torch.device("meta"):
        model = GPT(config)
    assert count_parameters(model) == expected_count(config)


def test_gpt2_small_has_124_439_808_parameters_tied_and_the_sizes_are_gpt2s():
    with torch.device("meta"):
        model = GPT(GPT_CONFIGS["gpt2-small"])
    assert count_parameters(model) == 124_439_808
    sizes = {n: (c.d_model, c.n_layers, c.n_heads) for n, c in GPT_CONFIGS.items()}
    assert sizes == {"gpt2-small": (768, 12, 12), "gpt2-medium": (1024, 24, 16),
                     "gpt2-large": (1280, 36, 20), "gpt2-xl": (1600, 48, 25)}
    for c in GPT_CONFIGS.values():
        assert (c.vocab_size, c.context_length, c.qkv_bias, c.tie_weights) == (50257, 1024, True, True)


def test_tied_head_shares_the_embedding_matrix_and_untied_does_not():
    tied = GPT(TINY)
    untied = GPT(replace(TINY, tie_weights=False))
    assert tied.out_head.weight is tied.tok_emb.weight
    assert untied.out_head.weight is not untied.tok_emb.weight
    assert count_parameters(untied) - count_parameters(tied) == TINY.vocab_size * TINY.d_model


def test_layer_norm_equals_torch_layer_norm():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8) * 4 + 2
    ours, theirs = LayerNorm(8), torch.nn.LayerNorm(8, eps=1e-5)
    with torch.no_grad():
        for p in (ours.scale, ours.shift):
            p.copy_(torch.randn(8))
        theirs.weight.copy_(ours.scale)
        theirs.bias.copy_(ours.shift)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)
    # eps inside the square root matters on a nearly constant row
    flat = torch.linspace(0, 1e-3, 8).unsqueeze(0)
    torch.testing.assert_close(LayerNorm(8)(flat), F.layer_norm(flat, (8,)), atol=1e-6, rtol=0)


def test_gelu_is_the_tanh_approximation_and_feed_forward_is_expand_gelu_contract():
    x = torch.linspace(-6, 6, 101)
    torch.testing.assert_close(gelu(x), F.gelu(x, approximate="tanh"), atol=1e-6, rtol=0)
    assert (gelu(x) - F.gelu(x)).abs().max() > 1e-5  # not the exact (erf) GELU
    torch.manual_seed(1)
    ff = FeedForward(6)
    assert ff.expand.weight.shape == (24, 6) and ff.contract.weight.shape == (6, 24)
    h = torch.randn(2, 3, 6)
    reference = F.linear(F.gelu(F.linear(h, ff.expand.weight, ff.expand.bias), approximate="tanh"),
                         ff.contract.weight, ff.contract.bias)
    torch.testing.assert_close(ff(h), reference, atol=1e-6, rtol=0)


def test_block_keeps_the_shape_and_every_parameter_gets_a_gradient():
    torch.manual_seed(2)
    block = TransformerBlock(TINY)
    x = torch.randn(2, 7, TINY.d_model, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_block_is_pre_norm_with_residuals():
    torch.manual_seed(3)
    block = TransformerBlock(TINY).eval()
    x = torch.randn(1, 5, TINY.d_model)
    h = x + block.attn(block.norm1(x))
    torch.testing.assert_close(block(x), h + block.ff(block.norm2(h)), atol=1e-6, rtol=0)


def test_kv_cache_forward_equals_full_forward():
    torch.manual_seed(4)
    model = GPT(TINY).eval()
    ids = torch.randint(0, TINY.vocab_size, (2, 11))
    full = model(ids)
    caches = model.new_kv_caches()
    assert len(caches) == TINY.n_layers
    pieces = [model(ids[:, :4], caches)]
    for t in range(4, 11):
        pieces.append(model(ids[:, t : t + 1], caches))
    assert len(caches[0]) == 11
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_clear_errors_on_bad_input():
    model = GPT(TINY).eval()
    with pytest.raises(ValueError, match="17 tokens is longer than the context length 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(IndexError, match="token id 50 is out of range.*0 to 49"):
        model(torch.tensor([[1, 50]]))
    with pytest.raises(IndexError, match="token id -1"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match=r"shape \(batch, tokens\)"):
        model(torch.tensor([1, 2]))
    caches = model.new_kv_caches()
    model(torch.zeros(1, 10, dtype=torch.long), caches)
    with pytest.raises(ValueError, match="17 tokens is longer than the context length 16"):
        model(torch.zeros(1, 7, dtype=torch.long), caches)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        GPTConfig(d_model=10, n_heads=3)


# --- loading GPT-2 weights ---------------------------------------------------------


def gpt2_checkpoint(c: GPTConfig, seed: int = 5) -> dict[str, torch.Tensor]:
    """Random tensors with the names and layouts of Hugging Face's GPT-2 model.safetensors."""
    g = torch.Generator().manual_seed(seed)
    e = c.d_model

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.3

    t = {"wte.weight": r(c.vocab_size, e), "wpe.weight": r(c.context_length, e),
         "ln_f.weight": 1 + r(e), "ln_f.bias": r(e)}
    for i in range(c.n_layers):
        p = f"h.{i}."
        t |= {p + "ln_1.weight": 1 + r(e), p + "ln_1.bias": r(e),
              p + "attn.c_attn.weight": r(e, 3 * e), p + "attn.c_attn.bias": r(3 * e),
              p + "attn.c_proj.weight": r(e, e), p + "attn.c_proj.bias": r(e),
              p + "ln_2.weight": 1 + r(e), p + "ln_2.bias": r(e),
              p + "mlp.c_fc.weight": r(e, 4 * e), p + "mlp.c_fc.bias": r(4 * e),
              p + "mlp.c_proj.weight": r(4 * e, e), p + "mlp.c_proj.bias": r(e),
              # buffers GPT-2 checkpoints carry: not weights
              p + "attn.bias": torch.tril(torch.ones(1, 1, c.context_length, c.context_length)),
              p + "attn.masked_bias": torch.tensor(-1e4)}
    return t


def reference_logits(t: dict[str, torch.Tensor], ids: torch.Tensor, c: GPTConfig) -> torch.Tensor:
    """GPT-2's forward pass with plain tensor operations, straight from the checkpoint."""

    def norm(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * t[p + ".weight"] + t[p + ".bias"]

    def conv1d(x, p):
        return x @ t[p + ".weight"] + t[p + ".bias"]

    B, T = ids.shape
    e, H = c.d_model, c.n_heads
    x = t["wte.weight"][ids] + t["wpe.weight"][:T]
    for i in range(c.n_layers):
        p = f"h.{i}."
        q, k, v = conv1d(norm(x, p + "ln_1"), p + "attn.c_attn").split(e, dim=-1)
        q, k, v = (z.reshape(B, T, H, e // H).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // H)
        scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
        heads = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, e)
        x = x + conv1d(heads, p + "attn.c_proj")
        h = conv1d(norm(x, p + "ln_2"), p + "mlp.c_fc")
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
        x = x + conv1d(h, p + "mlp.c_proj")
    return norm(x, "ln_f") @ t["wte.weight"].T


@pytest.mark.parametrize("prefix", ["", "transformer."])
def test_loaded_weights_give_the_reference_logits(tmp_path, prefix):
    tensors = gpt2_checkpoint(TINY)
    named = {prefix + name: tensor for name, tensor in tensors.items()}
    if prefix:  # transformers also writes the (tied) head
        named["lm_head.weight"] = tensors["wte.weight"].clone()
    path = tmp_path / "model.safetensors"
    save_file(named, str(path))
    torch.manual_seed(6)
    model = load_gpt2_weights(GPT(TINY), path).eval()
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]])
    expected = reference_logits(tensors, ids, TINY)
    torch.testing.assert_close(model(ids), expected, atol=1e-4, rtol=1e-5)
    assert (model(ids) - GPT(TINY).eval()(ids)).abs().max() > 1e-2  # the load changed the model


def test_untied_model_takes_the_head_from_the_embedding_when_there_is_none(tmp_path):
    tensors = gpt2_checkpoint(TINY)
    save_file(tensors, str(tmp_path / "m.safetensors"))
    untied = GPT(replace(TINY, tie_weights=False))
    load_gpt2_weights(untied, tmp_path / "m.safetensors")
    assert torch.equal(untied.out_head.weight, tensors["wte.weight"])


def test_a_checkpoint_that_does_not_fit_names_the_tensor(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file(gpt2_checkpoint(TINY), str(path))
    wider = replace(TINY, context_length=32)
    with pytest.raises(ValueError, match=r"'wpe.weight' has shape \(16, 12\).*needs \(32, 12\)"):
        load_gpt2_weights(GPT(wider), path)
    deeper = replace(TINY, n_layers=3)
    with pytest.raises(KeyError, match="h.2.ln_1.weight"):
        load_gpt2_weights(GPT(deeper), path)
    shallower = replace(TINY, n_layers=1)
    with pytest.raises(ValueError, match="no place in the model.*h.1.attn.c_attn.bias"):
        load_gpt2_weights(GPT(shallower), path)


def test_the_gpt2_name_table_works_both_ways(tmp_path):
    """to_gpt2_state_dict writes what load_gpt2_weights reads: one table, used in both directions."""
    from safetensors.torch import save_file

    from helpers.model import to_gpt2_state_dict

    torch.manual_seed(3)
    source = GPT(TINY).eval()
    tensors = to_gpt2_state_dict(source)
    assert tensors["h.0.attn.c_attn.weight"].shape == (12, 36)  # (d_model, 3·d_model), in × out
    save_file(tensors, str(tmp_path / "m.safetensors"))
    torch.manual_seed(4)
    copy = load_gpt2_weights(GPT(TINY), tmp_path / "m.safetensors").eval()
    ids = torch.randint(0, 50, (1, 6))
    assert torch.equal(copy(ids), source(ids))


def test_split_c_attn_gives_linear_weights_and_refuses_other_shapes():
    from helpers.model import split_c_attn

    weight = torch.arange(2 * 6, dtype=torch.float32).reshape(2, 6)
    w_query, w_key, w_value = split_c_attn(weight)
    assert torch.equal(w_query, weight[:, :2].T) and torch.equal(w_value, weight[:, 4:].T)
    with pytest.raises(ValueError, match=r"\(d_model, 3·d_model\), got shape \(2, 5\)"):
        split_c_attn(torch.zeros(2, 5))
