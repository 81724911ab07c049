"""The checks of notebook 18 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from helpers.checks.ch18_precision import _examples, check_absmax_quantize, check_training_flops
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_training_flops"] == Exercise("18.1", "Count the FLOPs of training")
    assert EXERCISES["check_absmax_quantize"] == Exercise("18.2", "Quantize to int8 and back")


# --- 18.1 the FLOPs of training ---------------------------------------------------


def training_flops(d_model, n_layers, context_length, vocab_size, n_tokens):
    n_params = 12 * n_layers * d_model**2 + d_model * vocab_size
    return n_tokens * (6 * n_params + 12 * n_layers * context_length * d_model)


def as_floats(d_model, n_layers, context_length, vocab_size, n_tokens):
    return 6.0 * n_tokens * (12 * n_layers * d_model**2 + d_model * vocab_size) \
        + 12.0 * n_layers * context_length * d_model * n_tokens


def forward_then_backward(d_model, n_layers, context_length, vocab_size, n_tokens):
    block = 2 * (4 * d_model**2 + 8 * d_model**2) + 2 * 2 * context_length * d_model  # forward, per token
    forward = n_layers * block + 2 * d_model * vocab_size
    return (forward + 2 * forward) * n_tokens


def as_a_float64_tensor(d_model, n_layers, context_length, vocab_size, n_tokens):
    sizes = torch.tensor([d_model, n_layers, context_length, vocab_size, n_tokens], dtype=torch.float64)
    d, L, T, V, D = sizes
    return D * (6 * (12 * L * d**2 + d * V) + 12 * L * T * d)


def as_numpy_float(d_model, n_layers, context_length, vocab_size, n_tokens):
    return np.float64(n_tokens) * (6 * (12 * n_layers * d_model**2 + d_model * vocab_size)
                                   + 12 * n_layers * context_length * d_model)


def test_flops_right_answers_pass(capsys):
    for answer in (training_flops, as_floats, forward_then_backward, as_a_float64_tensor, as_numpy_float):
        check_training_flops(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 18.1 (Count the FLOPs of training): all 4 cases pass.") == 5


def test_flops_stub_is_not_solved():
    def stub(d_model, n_layers, context_length, vocab_size, n_tokens):
        raise NotImplementedError("Exercise 18.1 (Count the FLOPs of training) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="18.1"):
        check_training_flops(stub)


def per_token(d, L, T, V, weights=None, attention=None):
    weights = 6 * (12 * L * d * d + d * V) if weights is None else weights
    return weights + (12 * L * T * d if attention is None else attention)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda d, L, T, V, D: D * (2 * (12 * L * d * d + d * V) + 4 * L * T * d), "forward pass only"),
        (lambda d, L, T, V, D: 6 * (12 * L * d * d + d * V) * D, "add the attention products"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, attention=4 * L * T * d), "have a backward pass too"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, attention=6 * L * T * d), "the whole T × T score matrix"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, weights=6 * (12 * L * d * d + 2 * d * V)),
         "count d_model · vocab_size once"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, weights=6 * (12 * L * d * d + 2 * d * V + T * d)),
         "the embeddings .* are lookups"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, weights=6 * (8 * L * d * d + d * V)), "d → 4d → d, 8·d² per block"),
        (lambda d, L, T, V, D: D * per_token(d, L, T, V, weights=6 * 12 * L * d * d), "count the output head"),
        (lambda d, L, T, V, D: per_token(d, L, T, V), "per token: multiply by n_tokens"),
        (lambda d, L, T, V, D: torch.tensor(D) * per_token(d, L, T, V), "overflowed"),  # int64: 1e19 wraps
        (lambda d, L, T, V, D: f"{training_flops(d, L, T, V, D):.3e}", "return a number .* got a str"),
    ],
)
def test_flops_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_training_flops(wrong)


def test_flops_off_by_a_little_more_than_the_tolerance_is_wrong():
    with pytest.raises(WrongAnswer) as info:
        check_training_flops(lambda *sizes: training_flops(*sizes) * (1 + 1e-7))
    message = str(info.value)
    assert message.startswith("Exercise 18.1 (Count the FLOPs of training): not quite.")
    assert "GPT-2 small on a billion tokens" in message and len(message.splitlines()) <= 6


# --- 18.2 int8 absmax quantization --------------------------------------------------


def absmax_quantize(x):
    scales = x.abs().amax(dim=1, keepdim=True) / 127
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    return torch.round(x / scales).clamp(-127, 127).to(torch.int8), scales


def with_an_epsilon(x):
    scales = x.abs().max(dim=1, keepdim=True).values.clamp(min=1e-8) / 127
    return torch.clamp(torch.round(x / scales), min=-127, max=127).to(torch.int8), scales


def by_multiplying(x):
    absmax = x.abs().max(dim=-1).values.unsqueeze(-1)  # (rows, 1)
    safe = absmax.masked_fill(absmax == 0, 127.0)
    codes = (x * (127 / safe)).round().to(torch.int8)  # |x · 127 / max| <= 127: no clamp needed
    return codes, safe / 127


def row_by_row(x):
    codes, scales = [], []
    for row in x.tolist():
        scale = max(abs(v) for v in row) / 127 or 1.0
        scales.append([scale])
        codes.append([int(torch.round(torch.tensor(v / scale))) for v in row])
    return torch.tensor(codes, dtype=torch.int8), torch.tensor(scales)


def with_torch_quantize_per_channel(x):
    scales = (x.abs().amax(dim=1) / 127).clamp(min=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.quantize_per_channel(x, scales.double(), torch.zeros(len(x), dtype=torch.long), 0, torch.qint8)
    return q.int_repr(), scales[:, None]


def test_the_cases_have_no_value_half_way_between_two_codes():
    # Where x / scale is k + 0.5, roundings (and x / s against x · (1 / s)) can differ: the cases stay clear of it.
    for x, _ in _examples():
        _, scales = absmax_quantize(x)
        ratio = x / scales
        assert ((ratio - ratio.floor() - 0.5).abs() > 1e-3).all()


def test_quantize_right_answers_pass(capsys):
    for answer in (absmax_quantize, with_an_epsilon, by_multiplying, row_by_row, with_torch_quantize_per_channel):
        check_absmax_quantize(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 18.2 (Quantize to int8 and back): all 5 cases pass.") == 5


def test_quantize_stub_is_not_solved():
    def stub(x):
        raise NotImplementedError("Exercise 18.2 (Quantize to int8 and back) is not solved yet")

    with pytest.raises(ExerciseNotSolved, match="18.2"):
        check_absmax_quantize(stub)


def with_scales(x, scales, rounding=torch.round):
    """Codes from the scales (a zero scale read as 1), clamped, int8; returned with the scales as given."""
    safe = torch.where(scales != 0, scales, torch.ones_like(scales))
    return rounding(x / safe).clamp(-127, 127).to(torch.int8), scales


def right_scales(x):
    return absmax_quantize(x)[1]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x: with_scales(x, (x.abs().max() / 127).reshape(1, 1)), "not one for the whole tensor"),
        (lambda x: with_scales(x, (x.abs().max() / 127).expand(len(x), 1)), "not one for the whole tensor"),
        (lambda x: with_scales(x, right_scales(x) * 127 / 128), r"not / 128"),
        (lambda x: with_scales(x, right_scales(x) * 127 / 255), "255 steps are for unsigned codes"),
        (lambda x: with_scales(x, (x.amax(1, keepdim=True) - x.amin(1, keepdim=True)) / 255), r"\(max - min\) / 255"),
        (lambda x: with_scales(x, x.amax(dim=1, keepdim=True) / 127), r"not from max x"),
        (lambda x: with_scales(x, 127 / x.abs().amax(dim=1, keepdim=True)), r"not 127 / max\|x\|"),
        (lambda x: with_scales(x, right_scales(x), rounding=torch.floor), r"not down \(floor\)"),
        (lambda x: with_scales(x, right_scales(x), rounding=torch.ceil), r"not up \(ceil\)"),
        (lambda x: ((x / right_scales(x)).to(torch.int8), right_scales(x)), "truncates toward zero"),
        (lambda x: (torch.round(x / right_scales(x)), right_scales(x)), r"convert the codes to integers"),
        (lambda x: (torch.round(x / right_scales(x)).long(), right_scales(x)), "the codes are torch.int64"),
        (lambda x: (absmax_quantize(x)[0], right_scales(x)[:, 0]), r"as a column, shape \(\d, 1\)"),
        (lambda x: with_scales(x, x.abs().amax(dim=0, keepdim=True) / 127), "not per column"),
        (lambda x: with_scales(x, x.abs().amax(dim=1, keepdim=True) / 127), "a row of zeros has max|x| = 0"),
        (lambda x: (torch.round(x / (x.abs().amax(1, keepdim=True) / 127)).to(torch.int8),
                    x.abs().amax(1, keepdim=True) / 127), "a row of zeros"),  # NaN codes, scale 0
        (lambda x: absmax_quantize(x)[::-1], "the codes first, then the scales"),
        (lambda x: absmax_quantize(x)[0], r"a tuple of two tensors: \(codes, scales\)"),
        (lambda x: (torch.round(x / x.amax(dim=1, keepdim=True) * 127).to(torch.int8), right_scales(x)),
         "wrapped around"),  # codes from max x, no clamp; the right scales
    ],
)
def test_quantize_plausible_mistakes_get_their_hint(wrong, hint):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # casting NaN to int8
        with pytest.raises(WrongAnswer, match=hint):
            check_absmax_quantize(wrong)


def test_quantize_that_changes_its_input_or_raises_gets_a_short_message():
    def broken(x):
        return x @ torch.ones(3)

    with pytest.raises(WrongAnswer) as info:
        check_absmax_quantize(broken)
    message = str(info.value)
    assert message.startswith("Exercise 18.2 (Quantize to int8 and back): not quite.")
    assert "your code raised RuntimeError" in message and len(message.splitlines()) <= 6


def test_the_checks_leave_the_global_random_numbers_alone():
    torch.manual_seed(0)
    check_training_flops(training_flops)
    check_absmax_quantize(absmax_quantize)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
