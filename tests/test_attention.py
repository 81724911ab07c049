"""helpers/attention.py against PyTorch's own softmax, attention and multi-head attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.attention import (
    split_heads,
    KVCache,
    MultiHeadAttention,
    SelfAttentionHead,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
    softmax,
)

SHAPES = [(7,), (3, 5), (2, 4, 6), (2, 3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_equals_torch(shape, dim):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    assert torch.allclose(softmax(x, dim=dim), torch.softmax(x, dim=dim), atol=1e-6, rtol=0)


def test_softmax_beta_is_softmax_of_beta_times_x():
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    for beta in (0.0, 0.5, 4.0):
        assert torch.allclose(softmax(x, beta=beta), torch.softmax(beta * x, dim=-1), atol=1e-6)
    assert torch.allclose(softmax(x, beta=0.0), torch.full((4, 6), 1 / 6))


def test_softmax_does_not_overflow_on_large_inputs():
    x = torch.tensor([1000.0, 1001.0, 1002.0])
    got = softmax(x)
    assert torch.isfinite(got).all()
    assert torch.allclose(got, torch.softmax(x, dim=-1), atol=1e-6)


def test_softmax_of_an_all_minus_inf_row_is_zeros_not_nan():
    x = torch.tensor([[0.0, float("-inf"), 1.0], [float("-inf")] * 3])
    got = softmax(x)
    assert torch.allclose(got[0], torch.softmax(x[0], dim=-1))
    assert torch.equal(got[1], torch.zeros(3))


def test_causal_mask():
    assert torch.equal(
        causal_mask(3),
        torch.tensor([[True, False, False], [True, True, False], [True, True, True]]),
    )
    with pytest.raises(ValueError, match="T >= 1"):
        causal_mask(0)


@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
@pytest.mark.parametrize("t_q,t_k,d,d_v", [(5, 5, 8, 8), (3, 6, 4, 7), (1, 1, 16, 2)])
def test_sdpa_equals_torch_without_mask(batch, t_q, t_k, d, d_v):
    g = torch.Generator().manual_seed(2)
    q = torch.randn(*batch, t_q, d, generator=g, dtype=torch.float64)
    k = torch.randn(*batch, t_k, d, generator=g, dtype=torch.float64)
    v = torch.randn(*batch, t_k, d_v, generator=g, dtype=torch.float64)
    expected = F.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(scaled_dot_product_attention(q, k, v), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_sdpa_equals_torch_with_masks(batch):
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(*batch, 6, 4, generator=g, dtype=torch.float64) for _ in range(3))
    random_mask = torch.rand(6, 6, generator=g) < 0.6
    random_mask[:, 0] = True  # no fully masked row here
    for mask in (causal_mask(6), random_mask):
        got = scaled_dot_product_attention(q, k, v, mask=mask)
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert torch.allclose(got, expected, atol=1e-6, rtol=0)
    causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(scaled_dot_product_attention(q, k, v, causal_mask(6)), causal, atol=1e-6)


def test_sdpa_fully_masked_row_returns_zeros_not_nan():
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(4, 3, generator=g) for _ in range(3))
    mask = causal_mask(4).clone()
    mask[2] = False  # query 2 may attend to nothing
    got = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not torch.isnan(got).any()
    assert torch.equal(got[2], torch.zeros(3))
    rows = [0, 1, 3]
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(got[rows], expected[rows], atol=1e-6)


def test_sdpa_rejects_bad_masks_and_shapes():
    q = torch.randn(3, 4)
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, q, q, mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="same last size"):
        scaled_dot_product_attention(q, torch.randn(3, 5), q)
    with pytest.raises(ValueError, match="same number of positions"):
        scaled_dot_product_attention(q, q, torch.randn(2, 4))


def test_attention_weights_rows_sum_to_one():
    q, k = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    w = attention_weights(q, k, causal_mask(5))
    assert torch.allclose(w.sum(-1), torch.ones(2, 5))
    assert torch.equal(w[0].triu(1), torch.zeros(5, 5))


def torch_twin(mha: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    """A torch.nn.MultiheadAttention holding the same weights as ``mha``."""
    twin = torch.nn.MultiheadAttention(mha.d_model, mha.n_heads, bias=True, batch_first=True)
    with torch.no_grad():
        twin.in_proj_weight.copy_(
            torch.cat([mha.W_query.weight, mha.W_key.weight, mha.W_value.weight])
        )
        if mha.W_query.bias is None:
            twin.in_proj_bias.zero_()
        else:
            twin.in_proj_bias.copy_(torch.cat([mha.W_query.bias, mha.W_key.bias, mha.W_value.bias]))
        twin.out_proj.weight.copy_(mha.out_proj.weight)
        twin.out_proj.bias.copy_(mha.out_proj.bias)
    return twin.eval()


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("qkv_bias", [True, False])
def test_multi_head_attention_equals_torch(causal, qkv_bias):
    torch.manual_seed(5)
    mha = MultiHeadAttention(12, 3, qkv_bias=qkv_bias, causal=causal).eval()
    x = torch.randn(2, 7, 12)
    twin = torch_twin(mha)
    # torch's boolean attn_mask means the opposite: True = may NOT attend.
    forbidden = ~causal_mask(7) if causal else None
    expected, _ = twin(x, x, x, attn_mask=forbidden, need_weights=False)
    assert torch.allclose(mha(x), expected, atol=1e-5, rtol=0)
    assert (mha.W_query.bias is not None) == qkv_bias
    assert mha.out_proj.bias is not None


@pytest.mark.parametrize("causal", [True, False])
def test_list_of_heads_equals_batched_heads(causal):
    torch.manual_seed(6)
    mha = MultiHeadAttention(8, 4, qkv_bias=True, causal=causal).eval()
    x = torch.randn(3, 6, 8)
    heads = mha.heads()
    assert len(heads) == 4 and all(isinstance(h, SelfAttentionHead) for h in heads)
    concatenated = torch.cat([head(x) for head in heads], dim=-1)  # (B, T, d_model)
    assert torch.allclose(mha.out_proj(concatenated), mha(x), atol=1e-6)


def test_the_last_attention_weights_are_kept_for_plotting():
    torch.manual_seed(7)
    mha = MultiHeadAttention(8, 2)
    mha(torch.randn(1, 5, 8))
    assert mha.last_weights is None  # the fused kernel keeps no weights
    mha.keep_weights = True
    mha(torch.randn(1, 5, 8))
    w = mha.last_weights
    assert not w.requires_grad
    assert w.shape == (1, 2, 5, 5)
    assert torch.allclose(w.sum(-1), torch.ones(1, 2, 5))
    assert torch.equal(w[0, 1].triu(1), torch.zeros(5, 5))


def test_gradients_reach_every_weight():
    torch.manual_seed(8)
    mha = MultiHeadAttention(8, 2, dropout=0.1, qkv_bias=True)
    mha(torch.randn(2, 5, 8)).pow(2).sum().backward()
    for name, param in mha.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_dropout_acts_on_weights_in_training_only():
    torch.manual_seed(9)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(1, 5, 8)
    assert not torch.allclose(mha.train()(x), mha.eval()(x))
    assert torch.equal(mha.eval()(x), mha.eval()(x))


def test_clear_errors():
    with pytest.raises(ValueError, match=r"d_model=10 must be divisible by n_heads=3"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        mha(torch.randn(1, 4, 6))
    cache = KVCache()
    mha(torch.randn(1, 3, 8), kv_cache=cache)
    with pytest.raises(ValueError, match="do not match"):
        mha(torch.randn(2, 2, 8), kv_cache=cache)


@pytest.mark.parametrize("causal", [True, False])
def test_kv_cache_token_by_token_equals_full_forward(causal):
    torch.manual_seed(10)
    mha = MultiHeadAttention(12, 3, qkv_bias=True, causal=causal).eval()
    x = torch.randn(2, 8, 12)
    cache = KVCache()
    steps = [mha(x[:, t : t + 1], kv_cache=cache) for t in range(8)]
    if causal:
        full = mha(x)
    else:  # not causal: through the cache, token t still sees only tokens 0..t
        full = torch.cat([mha(x[:, : t + 1])[:, t:] for t in range(8)], dim=1)
    assert len(cache) == 8
    assert cache.keys.shape == (2, 3, 8, 4) and cache.values.shape == (2, 3, 8, 4)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


def test_kv_cache_in_chunks_equals_full_forward():
    torch.manual_seed(11)
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 9, 8)
    cache = KVCache()
    chunks = [mha(x[:, a:b], kv_cache=cache) for a, b in [(0, 4), (4, 5), (5, 9)]]
    assert torch.allclose(torch.cat(chunks, dim=1), mha(x), atol=1e-5, rtol=0)


def test_kv_cache_append():
    cache = KVCache()
    assert len(cache) == 0 and cache.keys is None and cache.values is None
    k1, v1 = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    keys, values = cache.append(k1, v1)
    assert torch.equal(keys, k1) and torch.equal(values, v1) and len(cache) == 3
    k2, v2 = torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4)
    keys, values = cache.append(k2, v2)
    assert len(cache) == 4
    assert torch.equal(keys, torch.cat([k1, k2], dim=2))
    assert torch.equal(values, torch.cat([v1, v2], dim=2))
    with pytest.raises(ValueError, match="do not match"):
        cache.append(torch.randn(1, 3, 1, 4), torch.randn(1, 3, 1, 4))
    with pytest.raises(ValueError, match=r"\(B, n_heads, T_new, head_dim\)"):
        cache.append(torch.randn(2, 1, 4), torch.randn(2, 1, 4))


@pytest.mark.parametrize("past", [0, 1, 5])
def test_causal_mask_with_a_past_is_the_last_rows_of_the_full_mask(past):
    for T in (1, 2, 4):
        assert torch.equal(causal_mask(T, past=past), causal_mask(past + T)[past:])
    with pytest.raises(ValueError, match="past >= 0"):
        causal_mask(2, past=-1)


def test_split_heads_gives_each_head_a_slice_of_the_features():
    x = torch.arange(2 * 3 * 6, dtype=torch.float32).reshape(2, 3, 6)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 2)
    assert torch.equal(heads[1, 2, 0], x[1, 0, 4:6])  # batch 1, head 2, token 0: features 4..5


@pytest.mark.parametrize("causal", [True, False])
def test_the_fused_kernel_and_the_step_by_step_attention_agree(causal):
    torch.manual_seed(12)
    mha = MultiHeadAttention(12, 3, qkv_bias=True, causal=causal).eval()
    x = torch.randn(2, 7, 12)
    fused = mha(x)
    mha.keep_weights = True
    assert torch.allclose(mha(x), fused, atol=1e-6)
    cache_fused, cache_manual = KVCache(), KVCache()
    mha.keep_weights = False
    steps_fused = torch.cat([mha(x[:, t : t + 1], kv_cache=cache_fused) for t in range(7)], dim=1)
    mha.keep_weights = True
    steps_manual = torch.cat([mha(x[:, t : t + 1], kv_cache=cache_manual) for t in range(7)], dim=1)
    assert torch.allclose(steps_fused, steps_manual, atol=1e-6)
