"""Tests for helpers/modern.py: each piece against torch and transformers' Llama and Mistral, the model end to end."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
from transformers.masking_utils import sliding_window_causal_mask_function
from transformers.models.llama.modeling_llama import (
    LlamaMLP,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)
from transformers.models.llama.modeling_llama import repeat_kv as hf_repeat_kv

from helpers.attention import KVCache, causal_mask
from helpers.generation import generate
from helpers.model import GPT, GPTConfig, count_parameters
from helpers.modern import (
    GroupedQueryAttention,
    ModernBlock,
    ModernConfig,
    ModernGPT,
    RMSNorm,
    SwiGLU,
    apply_rope,
    interleaved_to_half,
    kv_cache_bytes,
    repeat_kv,
    rope_angles,
    rotate_half,
    rotate_pairs,
    sliding_window_mask,
    strided_mask,
    swiglu_hidden_dim,
)
from helpers.training import NextTokenDataset, make_loader, train
from helpers.translation import WordVocabulary, translate_greedy

TINY = ModernConfig(vocab_size=40, context_length=16, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=24)


def tiny_model(seed: int = 0, **changes) -> ModernGPT:
    """A tiny ModernGPT with large random weights and norm scales: sharp attention, so that positions matter."""
    torch.manual_seed(seed)
    model = ModernGPT(replace(TINY, **changes)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("scale"):
                parameter.uniform_(0.5, 1.5)
            else:
                parameter.normal_(0.0, 0.4)
    return model


def tokens(batch: int = 2, length: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def permute_heads(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder each head's rows of a (n_heads·head_dim, d_model) projection by interleaved_to_half."""
    rows, d_model = weight.shape
    head_dim = rows // n_heads
    return weight.view(n_heads, head_dim, d_model)[:, interleaved_to_half(head_dim)].reshape(rows, d_model)


# --- RMSNorm and SwiGLU ----------------------------------------------------------------


def test_rms_norm_equals_torch_rms_norm_and_llamas():
    x = randn(2, 5, 8) + 0.7  # a mean that is not 0: layer norm would differ
    ours, theirs, llama = RMSNorm(8, eps=1e-5), nn.RMSNorm(8, eps=1e-5), LlamaRMSNorm(8, eps=1e-5)
    with torch.no_grad():
        ours.scale.copy_(randn(8, seed=1))
        theirs.weight.copy_(ours.scale)
        llama.weight.copy_(ours.scale)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours(x), llama(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours(x), F.rms_norm(x, (8,), ours.scale, eps=1e-5), atol=1e-6, rtol=0)
    assert ours(torch.zeros(3, 8)).abs().max() == 0  # eps: a zero vector stays zero, no NaN


def test_swiglu_equals_llamas_mlp_with_the_same_weights():
    torch.manual_seed(0)
    ours = SwiGLU(8, 12)
    theirs = LlamaMLP(LlamaConfig(hidden_size=8, intermediate_size=12, num_attention_heads=2))
    theirs.load_state_dict({f"{name}_proj.weight": getattr(ours, name).weight for name in ("gate", "up", "down")})
    x = randn(2, 3, 8)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)
    assert count_parameters(ours) == 3 * 8 * 12  # no biases


@pytest.mark.parametrize(("d_model", "hidden_dim"), [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)])
def test_swiglu_hidden_dim_gives_the_four_llama_sizes(d_model, hidden_dim):
    assert swiglu_hidden_dim(d_model, multiple_of=256) == hidden_dim  # LLaMA 7B, 13B, 33B, 65B


def test_swiglu_hidden_dim_is_two_thirds_of_four_d_rounded_up():
    assert swiglu_hidden_dim(12) == 32 and swiglu_hidden_dim(10) == 26  # int(8·10/3) = 26
    assert swiglu_hidden_dim(10, multiple_of=8) == 32
    assert swiglu_hidden_dim(48, multiple_of=64) == 128  # 128 already a multiple: unchanged
    with pytest.raises(ValueError, match="multiple_of must be a positive integer, got 0"):
        swiglu_hidden_dim(16, multiple_of=0)


# --- RoPE ---------------------------------------------------------------------------


def test_rope_angles_follow_the_formula():
    angles = rope_angles(torch.arange(5), head_dim=8, base=100.0)
    assert angles.shape == (5, 4) and angles.dtype == torch.float32
    expected = torch.tensor([[p * 100.0 ** (-2 * i / 8) for i in range(4)] for p in range(5)])
    torch.testing.assert_close(angles, expected, atol=1e-6, rtol=1e-6)
    assert torch.equal(angles[1, 0], torch.tensor(1.0))  # pair 0 turns one radian per position


def test_rope_angles_equal_llamas_rotary_embedding():
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, rope_parameters={"rope_type": "default", "rope_theta": 500.0})
    positions = torch.tensor([0, 3, 7, 100, 2047])
    cos, sin = LlamaRotaryEmbedding(config)(torch.zeros(1), positions[None])  # (1, T, head_dim): each angle twice
    angles = rope_angles(positions, head_dim=16, base=500.0)
    assert torch.equal(torch.cat([angles, angles], dim=-1).cos(), cos[0])
    assert torch.equal(torch.cat([angles, angles], dim=-1).sin(), sin[0])


@pytest.mark.parametrize(("head_dim", "positions"), [(7, torch.arange(3)), (0, torch.arange(3)), (8, torch.zeros(2, 3))])
def test_rope_angles_refuse_an_odd_head_dim_and_2d_positions(head_dim, positions):
    with pytest.raises(ValueError, match="head_dim must be a positive even integer|positions must be a 1-D tensor"):
        rope_angles(positions, head_dim)


def test_rotate_half_equals_transformers_apply_rotary_pos_emb():
    q, k = randn(2, 3, 6, 16, seed=1), randn(2, 3, 6, 16, seed=2)  # (B, heads, T, head_dim)
    positions = torch.arange(9, 15)  # tokens after 9 cached ones
    config = LlamaConfig(hidden_size=48, num_attention_heads=3)
    cos, sin = LlamaRotaryEmbedding(config)(q, positions[None])
    q_hf, k_hf = apply_rotary_pos_emb(q, k, cos, sin)
    angles = rope_angles(positions, 16)
    torch.testing.assert_close(rotate_half(q, angles), q_hf, atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rope(k, positions, pairing="half"), k_hf, atol=1e-6, rtol=0)


def meta_llama_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Meta's Llama ``apply_rotary_emb``: each pair (x0, x1) a complex number x0 + i·x1, times e^{iθ}."""
    freqs_cis = torch.polar(torch.ones_like(angles), angles)  # (T, head_dim/2): cos θ + i sin θ
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))  # (..., T, head_dim/2)
    return torch.view_as_real(pairs * freqs_cis).flatten(-2)


def test_rotate_pairs_equals_metas_complex_multiplication():
    x = randn(2, 3, 5, 8)
    angles = rope_angles(torch.arange(3, 8), 8)
    torch.testing.assert_close(rotate_pairs(x, angles), meta_llama_rotary(x, angles), atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rope(x, torch.arange(3, 8), pairing="interleaved"), rotate_pairs(x, angles))


def test_rotate_pairs_by_a_quarter_turn_by_hand():
    x = torch.tensor([[1.0, 0.0, 2.0, 3.0]])  # one token, two pairs
    angles = torch.tensor([[math.pi / 2, 0.0]])  # the first pair turns by 90°, the second not at all
    torch.testing.assert_close(rotate_pairs(x, angles), torch.tensor([[0.0, 1.0, 2.0, 3.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(rotate_half(x, angles), torch.tensor([[-2.0, 0.0, 1.0, 3.0]]), atol=1e-6, rtol=0)


def test_the_two_pairings_are_one_rotation_up_to_a_permutation():
    perm = interleaved_to_half(8)
    assert perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    x, angles = randn(2, 6, 8), randn(6, 4, seed=1)
    torch.testing.assert_close(rotate_pairs(x, angles)[..., perm], rotate_half(x[..., perm], angles), atol=1e-6, rtol=0)
    assert not torch.allclose(rotate_pairs(x, angles), rotate_half(x, angles), atol=1e-3)  # but they differ


def test_permuting_the_query_and_key_rows_turns_one_pairing_into_the_other():
    interleaved = tiny_model(pairing="interleaved")
    half = ModernGPT(replace(TINY, pairing="half")).eval()
    state = interleaved.state_dict()
    for i in range(TINY.n_layers):
        for name, heads in (("W_query", TINY.n_heads), ("W_key", TINY.n_kv_heads)):
            key = f"blocks.{i}.attn.{name}.weight"
            state[key] = permute_heads(state[key], heads)
    half.load_state_dict(state)
    for model in (interleaved, half):
        model.blocks[0].attn.keep_weights = True
    ids = tokens()
    with torch.no_grad():
        torch.testing.assert_close(half(ids), interleaved(ids), atol=1e-5, rtol=0)
        torch.testing.assert_close(half.blocks[0].attn.last_weights, interleaved.blocks[0].attn.last_weights,
                                   atol=1e-6, rtol=0)
        unpermuted = ModernGPT(replace(TINY, pairing="half")).eval()
        unpermuted.load_state_dict(interleaved.state_dict())
        assert not torch.allclose(unpermuted(ids), interleaved(ids), atol=1e-3)  # the permutation is needed


@pytest.mark.parametrize("pairing", ["half", "interleaved"])
def test_a_score_after_rope_depends_only_on_the_distance(pairing):
    q, k = F.normalize(randn(16, seed=1), dim=0), F.normalize(randn(16, seed=2), dim=0)

    def score(m: int, n: int) -> float:  # query at position m, key at position n
        q_m = apply_rope(q[None], torch.tensor([m]), pairing=pairing)
        k_n = apply_rope(k[None], torch.tensor([n]), pairing=pairing)
        return float(q_m[0] @ k_n[0])

    for m, n in [(3, 1), (0, 5), (7, 7), (12, 2)]:
        for shift in (1, 5, 17):
            assert abs(score(m + shift, n + shift) - score(m, n)) < 1e-5
    assert abs(score(3, 1) - score(4, 1)) > 1e-3  # another distance, another score


@pytest.mark.parametrize("pairing", ["half", "interleaved"])
def test_rope_keeps_the_norm_and_position_zero_is_the_identity(pairing):
    x = randn(2, 4, 10, 16)
    rotated = apply_rope(x, torch.arange(100, 110), pairing=pairing)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(rotated, x, atol=1e-2)
    assert torch.equal(apply_rope(x, torch.zeros(10, dtype=torch.long), pairing=pairing), x)


def test_bad_pairing_and_mismatched_angles_are_refused():
    with pytest.raises(ValueError, match="pairing must be one of 'half', 'interleaved', got 'neox'"):
        apply_rope(randn(3, 4), torch.arange(3), pairing="neox")
    with pytest.raises(ValueError, match=r"angles \(T, head_dim // 2\) = \(3, 2\); got x \(3, 4\) and angles \(3, 4\)"):
        rotate_pairs(randn(3, 4), randn(3, 4))
    with pytest.raises(ValueError, match="even head_dim"):
        rotate_half(randn(3, 5), randn(3, 2))


# --- repeat_kv and the sliding window -------------------------------------------------


@pytest.mark.parametrize(("n_kv_heads", "n_rep"), [(2, 3), (1, 4), (3, 1)])
def test_repeat_kv_equals_repeat_interleave_and_transformers(n_kv_heads, n_rep):
    x = randn(2, n_kv_heads, 5, 4)
    out = repeat_kv(x, n_rep)
    assert out.shape == (2, n_kv_heads * n_rep, 5, 4)
    assert torch.equal(out, x.repeat_interleave(n_rep, dim=1))
    assert torch.equal(out, hf_repeat_kv(x, n_rep))
    for h in range(n_kv_heads * n_rep):
        assert torch.equal(out[:, h], x[:, h // n_rep])  # query head h reads kv head h // n_rep


def test_repeat_kv_refuses_bad_input():
    with pytest.raises(ValueError, match="n_rep must be a positive integer, got 0"):
        repeat_kv(randn(1, 2, 3, 4), 0)
    with pytest.raises(ValueError, match=r"\(B, n_kv_heads, T, head_dim\), got shape \(2, 3, 4\)"):
        repeat_kv(randn(2, 3, 4), 2)


def test_sliding_window_mask_by_hand():
    assert sliding_window_mask(4, 2).tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [False, True, True, False],
        [False, False, True, True],
    ]
    assert torch.equal(sliding_window_mask(5, 1), torch.eye(5, dtype=torch.bool))  # only itself
    with_past = sliding_window_mask(2, 3, past=4)  # queries at positions 4 and 5, keys 0..5
    assert with_past.tolist() == [[False, False, True, True, True, False], [False, False, False, True, True, True]]


@pytest.mark.parametrize(("T", "window", "past"), [(5, 5, 0), (5, 9, 0), (3, 7, 4), (1, 6, 5), (6, 3, 2)])
def test_sliding_window_mask_is_the_definition_and_a_wide_one_is_causal(T, window, past):
    mask = sliding_window_mask(T, window, past=past)
    assert mask.dtype == torch.bool and mask.shape == (T, past + T)
    expected = [[j <= past + i and past + i - j < window for j in range(past + T)] for i in range(T)]
    assert mask.tolist() == expected
    if window >= past + T:
        assert torch.equal(mask, causal_mask(T, past=past))
    else:
        assert not torch.equal(mask, causal_mask(T, past=past))


def test_sliding_window_mask_equals_transformers_sliding_window_function():
    allowed = sliding_window_causal_mask_function(3)
    expected = [[bool(allowed(0, 0, torch.tensor(q), torch.tensor(kv))) for kv in range(7)] for q in range(7)]
    assert sliding_window_mask(7, 3).tolist() == expected


@pytest.mark.parametrize("window", [0, -1, 2.0, None])
def test_sliding_window_mask_refuses_a_window_below_one(window):
    with pytest.raises(ValueError, match="window must be a whole number >= 1"):
        sliding_window_mask(4, window)



def test_strided_mask_is_the_seeds_example_and_the_definition():
    mask = strided_mask(16, 4)
    assert [j + 1 for j in range(16) if mask[15, j]] == [4, 8, 12, 13, 14, 15, 16]  # the 16th token, 1-based
    expected = [[j <= i and (i - j < 4 or (i - j) % 4 == 0) for j in range(16)] for i in range(16)]
    assert mask.tolist() == expected
    assert torch.equal(strided_mask(6, 6), causal_mask(6))  # a stride as long as the text: full causal
    assert torch.equal(strided_mask(5, 1), causal_mask(5))  # every key is a multiple of 1 step back
    with pytest.raises(ValueError, match="stride must be a whole number >= 1"):
        strided_mask(4, 0)

# --- grouped-query attention ----------------------------------------------------------


def attention_by_hand(attn: GroupedQueryAttention, x: torch.Tensor, window: int | None) -> torch.Tensor:
    """The same attention with PyTorch's own grouped-query support, on the unrepeated keys and values."""
    B, T, _ = x.shape
    hd = attn.head_dim
    q = attn.W_query(x).view(B, T, attn.n_heads, hd).transpose(1, 2)  # (B, n_heads, T, hd)
    k = attn.W_key(x).view(B, T, attn.n_kv_heads, hd).transpose(1, 2)  # (B, n_kv_heads, T, hd)
    v = attn.W_value(x).view(B, T, attn.n_kv_heads, hd).transpose(1, 2)
    positions = torch.arange(T)
    q, k = apply_rope(q, positions, attn.rope_base), apply_rope(k, positions, attn.rope_base)
    if window is None:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    else:
        band = torch.ones(T, T, dtype=torch.bool).tril().triu(-(window - 1))  # the last `window` keys
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=band, enable_gqa=True)
    return attn.out_proj(out.transpose(1, 2).reshape(B, T, -1))


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])  # multi-head, grouped-query, multi-query
@pytest.mark.parametrize("window", [None, 3])
def test_gqa_equals_sdpa_with_enable_gqa(n_kv_heads, window):
    torch.manual_seed(0)
    attn = GroupedQueryAttention(16, 4, n_kv_heads, window=window)
    assert attn.W_key.weight.shape == (n_kv_heads * 4, 16) and attn.W_query.weight.shape == (16, 16)
    x = randn(2, 9, 16)
    torch.testing.assert_close(attn(x), attention_by_hand(attn, x, window), atol=1e-6, rtol=0)


def test_gqa_keep_weights_gives_the_same_output_and_the_weights():
    torch.manual_seed(0)
    attn = GroupedQueryAttention(16, 4, 2, window=3)
    x = randn(2, 6, 16)
    fused = attn(x)
    attn.keep_weights = True
    torch.testing.assert_close(attn(x), fused, atol=1e-6, rtol=0)
    weights = attn.last_weights
    assert weights.shape == (2, 4, 6, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6), atol=1e-6, rtol=0)
    assert (weights[..., ~sliding_window_mask(6, 3)] == 0).all()


@pytest.mark.parametrize(("n_kv_heads", "window"), [(2, None), (1, None), (4, None), (2, 3), (1, 1)])
def test_generation_with_the_cache_equals_the_full_forward(n_kv_heads, window):
    torch.manual_seed(0)
    attn = GroupedQueryAttention(16, 4, n_kv_heads, window=window).eval()
    x = randn(2, 8, 16)
    cache = KVCache()
    steps = [attn(x[:, :3], kv_cache=cache)] + [attn(x[:, t : t + 1], kv_cache=cache) for t in range(3, 8)]
    torch.testing.assert_close(torch.cat(steps, dim=1), attn(x), atol=1e-5, rtol=0)
    assert cache.keys.shape == (2, n_kv_heads, 8, 4)  # only the kv heads are kept: the memory saving
    rotated = apply_rope(attn.W_key(x).view(2, 8, n_kv_heads, 4).transpose(1, 2), torch.arange(8))
    torch.testing.assert_close(cache.keys, rotated, atol=1e-6, rtol=0)  # the keys are cached rotated


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((18, 4, 2), "d_model=18 must be divisible by n_heads=4"),
        ((16, 4, 3), "n_heads=4 must be divisible by n_kv_heads=3"),
        ((12, 4, 2), "head_dim = d_model // n_heads = 3 must be even"),
        ((16, 4, 2, 1e4, "rotate"), "pairing must be one of 'half', 'interleaved'"),
        ((16, 4, 2, 1e4, "half", 0), "window must be a whole number >= 1"),
    ],
)
def test_gqa_refuses_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        GroupedQueryAttention(*args)


def test_kv_cache_bytes_of_llama_3_1_8b():
    assert kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128) == 131_072  # bf16: 128 KiB per token
    assert kv_cache_bytes(32, 32, 128) == 4 * kv_cache_bytes(32, 8, 128)  # multi-head: 4 × more
    with pytest.raises(ValueError, match="n_kv_heads must be a positive integer, got 0"):
        kv_cache_bytes(32, 0, 128)


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_kv_cache_bytes_match_a_real_cache(n_kv_heads):
    model = tiny_model(n_kv_heads=n_kv_heads)
    caches = model.new_kv_caches()
    with torch.no_grad():
        model(tokens(batch=1, length=7), kv_caches=caches)
    measured = sum(cache.keys.nbytes + cache.values.nbytes for cache in caches) / 7
    assert measured == kv_cache_bytes(TINY.n_layers, n_kv_heads, TINY.head_dim, bytes_per_value=4)  # float32


# --- the model ------------------------------------------------------------------------


def expected_count(c: ModernConfig) -> int:
    """The parameter count, added up by hand from the architecture."""
    d, hd = c.d_model, c.head_dim
    attention = d * c.n_heads * hd + 2 * d * c.n_kv_heads * hd + c.n_heads * hd * d
    block = 2 * d + attention + 3 * d * c.hidden_dim
    head = 0 if c.tie_weights else c.vocab_size * d
    return c.vocab_size * d + c.n_layers * block + d + head


@pytest.mark.parametrize("config", [TINY, replace(TINY, tie_weights=True), replace(TINY, n_kv_heads=1), ModernConfig()])
def test_parameter_count_equals_the_formula(config):
    with torch.device("meta"):
        model = ModernGPT(config)
    assert count_parameters(model) == expected_count(config)


def test_parameter_counts_of_llama_2_7b_and_llama_3_8b():
    llama_2_7b = ModernConfig(n_kv_heads=32, context_length=4096)
    llama_3_8b = ModernConfig(vocab_size=128_256, context_length=8192, hidden_dim=14336, rope_base=500_000.0)
    with torch.device("meta"):
        assert count_parameters(ModernGPT(llama_2_7b)) == 6_738_415_616
        assert count_parameters(ModernGPT(llama_3_8b)) == 8_030_261_248


HF_NAMES = {"tok_emb.weight": "model.embed_tokens.weight", "final_norm.scale": "model.norm.weight",
            "out_head.weight": "lm_head.weight"}
HF_BLOCK_NAMES = {
    "norm1.scale": "input_layernorm.weight", "norm2.scale": "post_attention_layernorm.weight",
    "attn.W_query.weight": "self_attn.q_proj.weight", "attn.W_key.weight": "self_attn.k_proj.weight",
    "attn.W_value.weight": "self_attn.v_proj.weight", "attn.out_proj.weight": "self_attn.o_proj.weight",
    "ff.gate.weight": "mlp.gate_proj.weight", "ff.up.weight": "mlp.up_proj.weight", "ff.down.weight": "mlp.down_proj.weight",
}


def to_hf_state_dict(model: ModernGPT) -> dict[str, torch.Tensor]:
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("blocks."):
            _, i, rest = name.split(".", 2)
            state[f"model.layers.{i}.{HF_BLOCK_NAMES[rest]}"] = tensor
        else:
            state[HF_NAMES[name]] = tensor
    return state


def hf_sizes(c: ModernConfig) -> dict:
    return dict(vocab_size=c.vocab_size, hidden_size=c.d_model, intermediate_size=c.hidden_dim,
                num_hidden_layers=c.n_layers, num_attention_heads=c.n_heads, num_key_value_heads=c.n_kv_heads,
                max_position_embeddings=c.context_length, rms_norm_eps=c.norm_eps, tie_word_embeddings=c.tie_weights,
                rope_parameters={"rope_type": "default", "rope_theta": c.rope_base}, attn_implementation="eager")


@pytest.mark.parametrize("n_kv_heads", [2, 1])
def test_the_model_equals_transformers_llama_with_the_same_weights(n_kv_heads):
    model = tiny_model(n_kv_heads=n_kv_heads, rope_base=500.0)
    llama = LlamaForCausalLM(LlamaConfig(**hf_sizes(model.config))).eval()
    llama.load_state_dict(to_hf_state_dict(model))  # strict: every tensor has its place, and no other
    ids = tokens()
    with torch.no_grad():
        torch.testing.assert_close(model(ids), llama(ids).logits, atol=1e-5, rtol=1e-5)  # logits up to about 5
    assert count_parameters(model) == count_parameters(llama)


def test_the_windowed_model_equals_transformers_mistral():
    model = tiny_model(window=3)
    mistral = MistralForCausalLM(MistralConfig(**hf_sizes(model.config), sliding_window=3)).eval()
    mistral.load_state_dict(to_hf_state_dict(model))
    ids = tokens()
    with torch.no_grad():
        torch.testing.assert_close(model(ids), mistral(ids).logits, atol=1e-5, rtol=1e-5)
        model.config.window = None  # the window matters: without it the logits differ
        for block in model.blocks:
            block.attn.window = None
        assert not torch.allclose(model(ids), mistral(ids).logits, atol=1e-3)


def test_the_model_has_no_position_table_no_dropout_no_bias_and_gpt2s_init():
    torch.manual_seed(0)
    model = ModernGPT(replace(TINY, d_model=64, n_heads=4, n_kv_heads=2, hidden_dim=128, vocab_size=300))
    assert [name for name, _ in model.named_children()] == ["tok_emb", "blocks", "final_norm", "out_head"]
    assert not any(isinstance(m, (nn.Dropout, nn.LayerNorm)) for m in model.modules())
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))
    assert isinstance(model.blocks[0], ModernBlock) and isinstance(model.blocks[0].ff, SwiGLU)
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 2e-3
    assert abs(model.blocks[0].ff.up.weight.std().item() - 0.02) < 2e-3
    assert torch.equal(model.final_norm.scale, torch.ones(64))
    assert model.out_head.weight is not model.tok_emb.weight
    tied = ModernGPT(replace(TINY, tie_weights=True))
    assert tied.out_head.weight is tied.tok_emb.weight


def test_the_block_is_pre_norm_with_two_residuals():
    torch.manual_seed(0)
    block = ModernBlock(TINY)
    x = randn(2, 5, 16)
    h = x + block.attn(block.norm1(x))
    torch.testing.assert_close(block(x), h + block.ff(block.norm2(h)), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_layers": 0}, "ModernConfig.n_layers must be a positive integer, got 0"),
        ({"hidden_dim": 2.5}, "ModernConfig.hidden_dim must be a positive integer, got 2.5"),
        ({"d_model": 18}, r"ModernConfig.d_model \(18\) must be divisible by n_heads \(4\)"),
        ({"n_kv_heads": 3}, r"ModernConfig.n_heads \(4\) must be divisible by n_kv_heads \(3\)"),
        ({"d_model": 12}, "head_dim = d_model // n_heads = 3 must be even"),
        ({"pairing": "neox"}, "ModernConfig.pairing must be one of 'half', 'interleaved', got 'neox'"),
        ({"window": 0}, "ModernConfig.window must be a whole number >= 1"),
        ({"rope_base": 0.0}, "ModernConfig.rope_base must be a positive number"),
        ({"norm_eps": -1e-5}, "ModernConfig.norm_eps must be a positive number"),
    ],
)
def test_config_refuses_bad_sizes(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(TINY, **changes)


BAD_INPUTS = {
    "one sequence without a batch axis": (torch.tensor([1, 2, 3]), None),
    "floats": (torch.tensor([[1.0, 2.0]]), None),
    "no tokens": (torch.zeros(1, 0, dtype=torch.long), None),
    "an id too large": (torch.tensor([[1, 40]]), None),
    "a negative id": (torch.tensor([[-1, 2]]), None),
    "longer than the context": (torch.zeros(1, 17, dtype=torch.long), None),
    "a list": ([[1, 2]], None),
    "too few caches": (torch.tensor([[1, 2]]), [KVCache()]),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_bad_input_gets_the_same_error_as_gpt(bad):
    token_ids, caches = BAD_INPUTS[bad]
    gpt = GPT(GPTConfig(vocab_size=40, context_length=16, d_model=16, n_layers=2, n_heads=4, dropout=0.0))
    with pytest.raises(Exception) as ours:
        tiny_model()(token_ids, kv_caches=caches)
    with pytest.raises(Exception) as theirs:
        gpt(token_ids, kv_caches=caches)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_a_full_cache_plus_new_tokens_beyond_the_context_is_refused_like_gpt():
    model = tiny_model()
    caches = model.new_kv_caches()
    with torch.no_grad():
        model(tokens(batch=1, length=15), kv_caches=caches)
        with pytest.raises(ValueError, match="input of 17 tokens is longer than the context length 16"):
            model(tokens(batch=1, length=2), kv_caches=caches)


@pytest.mark.parametrize("changes", [{}, {"n_kv_heads": 1, "pairing": "interleaved"}, {"window": 4}])
def test_generate_with_and_without_the_cache_gives_the_same_tokens(changes):
    model = tiny_model(**changes)
    prompt = tokens(batch=2, length=3)
    cached = generate(model, prompt, max_new_tokens=10)
    assert cached.shape == (2, 13)
    assert torch.equal(cached, generate(model, prompt, max_new_tokens=10, use_cache=False))
    record: list[torch.Tensor] = []
    generate(model, prompt, max_new_tokens=10, record=record)
    with torch.no_grad():
        full = model(cached[:, :-1])[:, 2:]  # the logits each new token was chosen from, in one forward
    torch.testing.assert_close(torch.stack(record, dim=1), full, atol=1e-5, rtol=0)


def test_translate_greedy_runs_the_model_unchanged():
    vocab = WordVocabulary(["le", "chat", "dort", "the", "cat", "sleeps"])
    model = tiny_model(vocab_size=len(vocab))
    sentences = ["le chat dort", "le chat", "chat"]
    translations = translate_greedy(model, vocab, sentences, max_new_tokens=5)
    assert len(translations) == 3 and all(isinstance(t, str) for t in translations)
    prompt = torch.tensor([vocab.encode("le chat") + [vocab.sep_id]])
    new = generate(model, prompt, 5, use_cache=False)[0, prompt.shape[1]:].tolist()  # greedy, no cache
    words = new[: new.index(vocab.eos_id)] if vocab.eos_id in new else new
    assert translations[1] == vocab.decode(words)


def test_a_few_training_steps_lower_the_loss():
    model = tiny_model().train()
    loader = make_loader(NextTokenDataset(list(range(10)) * 12, context_length=8, stride=2), batch_size=8)
    history = train(model, loader, loader, steps=30, lr=1e-2, eval_every=10, eval_batches=2, progress=False)
    assert history.train_loss[0] > 3.0  # about ln 40 = 3.7 before training
    assert history.val_loss[-1] < history.val_loss[0] - 1.0 and history.val_loss[-1] < 1.5
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision runs too (RoPE keeps bf16)
        assert model(tokens()).shape == (2, 12, TINY.vocab_size)
