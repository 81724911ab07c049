"""helpers.quantization: quantization from scratch, against torch's own quantized tensors and fake quantization.

torch's quantizers compute ``round(x * (1 / scale)) + zero_point`` with round-half-to-even;
helpers.quantization divides, ``round(x / scale)``. The two can differ only where x / scale
lies within float32's rounding error (3e-5 for codes up to 255) of a half-way point k + 0.5:
there, and only there, the comparisons allow a code (one step) of difference.
"""

from __future__ import annotations

import doctest
import math
import warnings

import pytest
import torch
from torch import nn

import helpers.quantization
from helpers.model import GPT, GPTConfig
from helpers.pretrained import bits_per_byte, heldout_text, load_base_model
from helpers.quantization import (Quantized, dequantize, quantize, quantize_model, quantized_size_bytes,
                                  serialized_size_bytes, torch_dynamic_int8)

GRANULARITIES = [None, 64, 16]  # per tensor, per row (rows of 64 values), groups of 16


def _data(kind: str, seed: int) -> torch.Tensor:
    """(8, 64) values: normal, or heavy-tailed (Cauchy: a few values 100 times the others)."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(8, 64, generator=gen)
    return torch.tan(math.pi * (torch.rand(8, 64, generator=gen) - 0.5))


def _per_value(q: Quantized, values: torch.Tensor) -> torch.Tensor:
    """Each value's own scale (or zero point), broadcast to the tensor's shape."""
    if q.group_size is None:
        return values.float().expand(q.shape)
    return values.float().repeat_interleave(q.group_size, dim=-1)


def _near_half_way(x: torch.Tensor, q: Quantized) -> torch.Tensor:
    """Where x / scale lies within 1e-4 of a half-way point k + 0.5, the one place rounding can go either way."""
    ratio = x / _per_value(q, q.scale)
    return (ratio - ratio.floor() - 0.5).abs() < 1e-4


def _assert_same_codes(x: torch.Tensor, q: Quantized, codes: torch.Tensor) -> None:
    """``codes`` equal ``q.codes``, except by one at a half-way value (see the module's docstring)."""
    differ = codes.int() != q.codes.int()
    assert (differ <= _near_half_way(x, q)).all() and ((codes.int() - q.codes.int()).abs() <= 1).all()


def _assert_same_values(x: torch.Tensor, q: Quantized, values: torch.Tensor) -> None:
    """``values`` equal ``dequantize(q)`` exactly, except by one step at a half-way value."""
    differ = values != dequantize(q)
    step = _per_value(q, q.scale)
    assert (differ <= _near_half_way(x, q)).all() and ((values - dequantize(q)).abs() <= step * 1.0001).all()


def test_the_docstring_examples_hold():
    assert doctest.testmod(helpers.quantization).failed == 0


@pytest.mark.parametrize("kind", ["normal", "heavy-tailed"])
@pytest.mark.parametrize("zero_point", [False, True])
def test_the_round_trip_error_is_at_most_half_a_step(kind, zero_point):
    # |x - dequantize(quantize(x))| <= scale / 2 per value; 1e-4 of a step allows float32's own rounding.
    for seed, bits in enumerate(range(2, 9)):
        x = _data(kind, seed)
        for group_size in GRANULARITIES:
            q = quantize(x, bits, group_size, zero_point=zero_point)
            error = (x - dequantize(q)).abs()
            assert (error <= _per_value(q, q.scale) * (0.5 + 1e-4)).all(), (bits, group_size)
            if kind == "normal":
                assert error.max() > 0.3 * q.scale.min()  # the bound is close to what happens, not loose


@pytest.mark.parametrize("bits", range(2, 9))
def test_codes_are_small_integers_in_their_range(bits):
    x = _data("heavy-tailed", bits)
    for group_size in GRANULARITIES:
        symmetric = quantize(x, bits, group_size)
        qmax = 2 ** (bits - 1) - 1
        assert symmetric.codes.dtype == torch.int8 and symmetric.zero_point is None
        assert symmetric.codes.min() >= -qmax and symmetric.codes.max() <= qmax
        assert symmetric.codes.abs().max() == qmax  # the largest value of the tensor gets ±qmax
        asymmetric = quantize(x, bits, group_size, zero_point=True)
        assert asymmetric.codes.dtype == asymmetric.zero_point.dtype == torch.uint8
        assert asymmetric.codes.max() <= 2**bits - 1 and asymmetric.zero_point.max() <= 2**bits - 1
        assert asymmetric.codes.min() == 0 and asymmetric.codes.max() == 2**bits - 1  # the range is used


def test_one_scale_per_tensor_per_row_or_per_group():
    x = torch.randn(4, 3, 32, generator=torch.Generator().manual_seed(1))
    assert quantize(x, 8).scale.shape == ()
    assert quantize(x, 8, 32).scale.shape == (4, 3, 1)  # per channel: one per row
    assert quantize(x, 4, 8, zero_point=True).scale.shape == (4, 3, 4)
    assert quantize(x, 4, 8, zero_point=True).zero_point.shape == (4, 3, 4)
    q = quantize(x, 4, 8)
    assert q.codes.shape == x.shape == q.shape and dequantize(q).shape == x.shape
    assert dequantize(q).dtype == torch.float32
    assert torch.allclose(q.scale[1, 2, 3], x[1, 2, 24:].abs().max() / 7)  # group 3 of row (1, 2): values 24..31


def test_symmetric_int8_per_channel_equals_torch_quantize_per_channel():
    x = torch.randn(16, 128, generator=torch.Generator().manual_seed(2)) * torch.linspace(0.1, 3, 16)[:, None]
    q = quantize(x, 8, group_size=128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's quantized tensors are deprecated in favour of torchao
        reference = torch.quantize_per_channel(x, q.scale.reshape(16).double(), torch.zeros(16, dtype=torch.long),
                                               axis=0, dtype=torch.qint8)
    _assert_same_codes(x, q, reference.int_repr())
    _assert_same_values(x, q, reference.dequantize())


def test_symmetric_and_zero_point_int8_per_tensor_equal_torch_quantize_per_tensor():
    x = torch.randn(16, 128, generator=torch.Generator().manual_seed(3)) + 0.7  # not centred: the zero point moves
    symmetric, asymmetric = quantize(x, 8), quantize(x, 8, zero_point=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signed = torch.quantize_per_tensor(x, symmetric.scale.item(), 0, torch.qint8)
        unsigned = torch.quantize_per_tensor(x, asymmetric.scale.item(), int(asymmetric.zero_point), torch.quint8)
    _assert_same_codes(x, symmetric, signed.int_repr())
    _assert_same_codes(x, asymmetric, unsigned.int_repr())
    _assert_same_values(x, asymmetric, unsigned.dequantize())
    assert 0 < int(asymmetric.zero_point) < 128  # more of the range above 0 than below


def test_half_way_values_round_to_even_as_torch_does():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -2.5, 127.0])  # scale 127 / 127 = 1: x / scale is x
    q = quantize(x, 8)
    assert q.scale.item() == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.quantize_per_tensor(x, 1.0, 0, torch.qint8).int_repr()
    assert q.codes.tolist() == reference.tolist() == [0, 2, 2, 0, -2, 127]


@pytest.mark.parametrize("zero_point", [False, True])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_every_granularity_equals_torch_fake_quantization(bits, zero_point):
    # torch.fake_quantize_per_channel_affine rounds to codes in [quant_min, quant_max] and back, for any bits:
    # with the groups as its channels, it must give what dequantize(quantize(...)) gives.
    x = _data("normal", 10 + bits)
    for group_size in GRANULARITIES:
        q = quantize(x, bits, group_size, zero_point=zero_point)
        groups = x.reshape(-1, group_size or x.numel())  # one group per row
        lowest, highest = (0, 2**bits - 1) if zero_point else (-(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1)
        zero = q.zero_point.reshape(-1).int() if zero_point else torch.zeros(groups.shape[0], dtype=torch.int32)
        reference = torch.fake_quantize_per_channel_affine(groups, q.scale.reshape(-1), zero, 0, lowest, highest)
        _assert_same_values(x, q, reference.reshape(x.shape))


@pytest.mark.parametrize("zero_point", [False, True])
def test_groups_of_zeros_and_constants_need_no_division_by_zero(zero_point):
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3], [-2.0, -2.0, -2.0, -2.0]])
    q = quantize(x, 4, group_size=4, zero_point=zero_point)
    assert q.scale[0].item() == 1.0 and torch.isfinite(q.scale).all()
    assert torch.equal(dequantize(q)[0], torch.zeros(4))
    assert torch.allclose(dequantize(q), x, atol=1e-6)  # a constant row is its own largest value: exact
    assert torch.equal(dequantize(quantize(torch.zeros(3, 5), 8)), torch.zeros(3, 5))


def test_storage_bits_and_bits_per_weight():
    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(4))
    assert quantize(x, 4, 32).bits_per_weight == 5.0  # 4 + 32 / 32
    assert quantize(x, 4, 32, zero_point=True).bits_per_weight == 4 + (32 + 4) / 32
    assert quantize(x, 8, 128).storage_bits == 8 * 64 * 128 + 32 * 64
    assert quantize(x, 8).storage_bits == 8 * 64 * 128 + 32
    assert quantize(x, 3, zero_point=True).storage_bits == 3 * 64 * 128 + 32 + 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quantize(torch.randn(4, 8), 9), "bits must be a whole number in 2..8, got 9"),
        (lambda: quantize(torch.randn(4, 8), 1), "bits must be a whole number in 2..8, got 1"),
        (lambda: quantize(torch.randn(4, 8), 4.0), "bits must be a whole number in 2..8, got 4.0"),
        (lambda: quantize(torch.randn(4, 128), 4, 48),
         "group_size 48 does not divide the rows of 128 values; use a divisor such as 32, 64 or 128"),
        (lambda: quantize(torch.randn(4, 10), 4, 4), "does not divide the rows of 10 values; .* 2, 5 or 10"),
        (lambda: quantize(torch.randn(4, 8), 4, 0), "group_size must be a positive whole number or None"),
        (lambda: quantize(torch.randn(4, 8), 4, 2.0), "group_size must be a positive whole number or None"),
        (lambda: quantize(torch.arange(8), 8), "floating-point tensor .* got torch.int64"),
        (lambda: quantize([1.0, 2.0], 8), "floating-point tensor .* got list"),
        (lambda: quantize(torch.empty(0, 4), 8), r"empty one of shape \(0, 4\)"),
        (lambda: quantize(torch.tensor([1.0, float("nan")]), 8), "finite values"),
        (lambda: quantize(torch.tensor(2.0), 8, 1), "0-dim tensor has no rows"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _tiny_gpt() -> GPT:
    torch.manual_seed(5)
    return GPT(GPTConfig(vocab_size=64, context_length=16, d_model=32, n_layers=2, n_heads=4, dropout=0.0)).eval()


def test_quantize_model_fake_quantizes_the_weight_matrices_only_and_keeps_the_tie():
    model = _tiny_gpt()
    before = {name: p.clone() for name, p in model.named_parameters()}
    quantized = quantize_model(model, 4, group_size=16)
    assert quantized.out_head.weight is quantized.tok_emb.weight  # still one matrix
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())  # the original is untouched
    matrices = {name for name, m in quantized.named_modules() if isinstance(m, (nn.Linear, nn.Embedding))}
    changed = 0
    for name, p in quantized.named_parameters():
        module = name.rsplit(".", 1)[0]
        if module in matrices and name.endswith("weight"):
            assert torch.equal(p, dequantize(quantize(before[name], 4, 16))), name
            changed += 1
        else:
            assert torch.equal(p, before[name]), name  # biases and norms as they were
    assert changed == 2 + 2 * 6  # token (= head) and position embeddings, 6 linear layers per block
    assert {name for name, _ in quantized.named_parameters()} == set(before)


def test_an_8_bit_base_model_computes_nearly_what_the_float_one_does():
    model, tokenizer = load_base_model()
    quantized = quantize_model(model, 8, group_size=model.config.d_model)
    assert quantized.out_head.weight is quantized.tok_emb.weight
    token_ids = torch.randint(0, model.config.vocab_size, (2, 64), generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        logits, quantized_logits = model(token_ids), quantized(token_ids)
    # Measured 0.25 on logits up to 26: each weight moved by at most half a step, 1/254 of its row's range.
    assert (quantized_logits - logits).abs().max() < 0.02 * logits.abs().max()
    text = heldout_text()[:8000]
    ids, n_bytes = tokenizer.encode(text), len(text.encode("utf-8"))
    assert abs(bits_per_byte(quantized, ids, n_bytes) - bits_per_byte(model, ids, n_bytes)) < 0.005


def test_quantized_size_counts_codes_scales_and_float_parameters_once():
    embedding, linear = nn.Embedding(10, 8), nn.Linear(8, 4)
    model = nn.Sequential(embedding, linear)
    # embedding: 80 codes · 4 bits + 20 scales · 32 = 960 bits = 120 bytes;
    # linear: 32 · 4 + 8 · 32 = 384 bits = 48 bytes; bias: 4 floats = 16 bytes.
    assert quantized_size_bytes(model, 4, group_size=4) == 120 + 48 + 16
    # with zero points, 4 bits each: embedding 960 + 80 = 1040 bits = 130 bytes, linear 384 + 32 = 416 = 52.
    assert quantized_size_bytes(model, 4, group_size=4, zero_point=True) == 130 + 52 + 16
    # per tensor at 3 bits: 240 + 32 = 272 bits = 34 bytes; 96 + 32 = 128 bits = 16 bytes.
    assert quantized_size_bytes(model, 3) == 34 + 16 + 16
    tied = nn.Sequential(nn.Embedding(8, 8), nn.Linear(8, 8, bias=False))
    tied[1].weight = tied[0].weight
    assert quantized_size_bytes(tied, 8) == 64 + 4  # one matrix of 64 codes, one scale
    tiny_odd = nn.Sequential(nn.Linear(3, 1, bias=False))
    assert quantized_size_bytes(tiny_odd, 3) == 6  # 9 + 32 = 41 bits, rounded up to 6 bytes


def test_quantized_size_of_a_float_model_shrinks_as_the_bits_do():
    model = _tiny_gpt()
    floats = 4 * sum(p.numel() for p in model.parameters())
    sizes = [quantized_size_bytes(model, bits, 16) for bits in (8, 4, 2)]
    assert floats > sizes[0] > sizes[1] > sizes[2]


def _small_model() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16)).eval()


def test_torch_dynamic_int8_is_close_to_the_float_model_and_quiet():
    model = _small_model()
    x = torch.randn(8, 32, generator=torch.Generator().manual_seed(8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = torch_dynamic_int8(model)
        with torch.no_grad():
            got, expected = quantized(x), model(x)
    assert caught == []
    assert str(quantized[0]).startswith("DynamicQuantizedLinear(") and isinstance(model[0], nn.Linear)
    # int8 weights and activations, one scale each: errors of about 1 % of the outputs.
    assert (got - expected).abs().max() < 0.02 * expected.abs().max()
    assert serialized_size_bytes(quantized) < serialized_size_bytes(model)


def test_torch_dynamic_int8_works_on_the_base_model_with_its_tied_head():
    model, tokenizer = load_base_model()
    quantized = torch_dynamic_int8(model)
    assert str(quantized.out_head).startswith("DynamicQuantizedLinear(in_features=256, out_features=4096")
    assert model.out_head.weight is model.tok_emb.weight  # the original keeps its tie
    text = heldout_text()[:8000]
    ids, n_bytes = tokenizer.encode(text), len(text.encode("utf-8"))
    assert abs(bits_per_byte(quantized, ids, n_bytes) - bits_per_byte(model, ids, n_bytes)) < 0.01


def test_serialized_size_is_about_four_bytes_per_float_parameter():
    model = _small_model()
    n_params = sum(p.numel() for p in model.parameters())
    assert 4 * n_params < serialized_size_bytes(model) < 4 * n_params + 4096  # + the file's names and layout
