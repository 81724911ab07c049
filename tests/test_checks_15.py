"""The checks of notebook 15 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import modern
from helpers.attention import causal_mask
from helpers.checks.ch15_modern import check_repeat_kv, check_rms_norm, check_rotate_pairs, check_sliding_window_mask
from helpers.checks.core import EXERCISES, Exercise, ExerciseNotSolved, WrongAnswer


def test_the_checks_are_registered_under_their_headings():
    assert EXERCISES["check_rms_norm"] == Exercise("15.1", "RMSNorm")
    assert EXERCISES["check_rotate_pairs"] == Exercise("15.2", "Rotate pairs of dimensions")
    assert EXERCISES["check_repeat_kv"] == Exercise("15.3", "Share key/value heads")
    assert EXERCISES["check_sliding_window_mask"] == Exercise("15.4", "A sliding-window mask")


@pytest.mark.parametrize("check", [check_rms_norm, check_rotate_pairs, check_repeat_kv, check_sliding_window_mask])
def test_a_stub_is_not_solved_and_a_crash_is_reported_in_short(check):
    which = check.exercise

    def stub(*args):
        raise NotImplementedError(f"{which} is not solved yet")

    with pytest.raises(ExerciseNotSolved, match=rf"Exercise {which.number} \(.*\) is not solved yet: your function still raises"):
        check(stub)
    with pytest.raises(WrongAnswer) as info:
        check(lambda *args: undefined_name)  # noqa: F821
    message = str(info.value)
    assert "your code raised NameError: name 'undefined_name' is not defined" in message
    assert len(message.splitlines()) <= 5 and "Traceback" not in message


def test_the_checks_leave_the_global_random_numbers_alone():
    torch.manual_seed(0)
    check_rms_norm(rms_norm)
    check_rotate_pairs(rotate_pairs)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))


# --- 15.1 RMSNorm --------------------------------------------------------------


def rms_norm(x, scale, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * scale


def with_rsqrt(x, scale, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * scale


def from_the_length(x, scale, eps):
    length = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # sqrt(sum x²) = sqrt(d · mean x²)
    return scale * x / (length**2 / x.shape[-1] + eps).sqrt()


def with_einsum(x, scale, eps):
    mean_square = torch.einsum("...i,...i->...", x, x)[..., None] / x.shape[-1]
    return torch.einsum("...i,i->...i", x / (mean_square + eps) ** 0.5, scale)


def test_rms_norm_right_answers_pass(capsys):
    for answer in (rms_norm, with_rsqrt, from_the_length, with_einsum):
        check_rms_norm(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 15.1 (RMSNorm): all 6 cases pass. One reduction, no mean and no shift") == 4
    assert "re-creates" not in out


def by_torch_module(x, scale, eps):
    norm = nn.RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(scale)
    return norm(x).detach()


def by_the_library(x, scale, eps):
    norm = modern.RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.scale.copy_(scale)
    return norm(x).detach()


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (lambda x, scale, eps: F.rms_norm(x, (x.shape[-1],), scale, eps=eps), "F.rms_norm"),
        (by_torch_module, "torch.nn.modules.normalization.RMSNorm"),
        (by_the_library, "helpers.modern.RMSNorm"),
    ],
)
def test_rms_norm_by_the_library_passes_with_a_note(capsys, answer, named):
    check_rms_norm(answer)
    out = capsys.readouterr().out
    assert "✅ Exercise 15.1" in out and f"Your answer calls {named}, which this exercise re-creates" in out


def ms(x):
    return x.pow(2).mean(-1, keepdim=True)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, s, e: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + e) * s,
         "that is layer norm"),
        (lambda x, s, e: F.layer_norm(x, (x.shape[-1],), s, eps=e), "that is layer norm"),
        (lambda x, s, e: x / torch.sqrt(x.var(-1, keepdim=True) + e) * s, r"standard deviation \(x.std or x.var\)"),
        (lambda x, s, e: x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + e) * s, "not the spread around the mean"),
        (lambda x, s, e: x / (x.std(-1, keepdim=True) + e) * s, r"x.std\(...\) \+ eps"),
        (lambda x, s, e: x / (torch.sqrt(ms(x)) + e) * s, "eps goes INSIDE the square root"),
        (lambda x, s, e: x / torch.sqrt(ms(x)) * s, "eps is missing"),
        (lambda x, s, e: x / torch.sqrt(ms(x) + e), "forgot to multiply by scale"),
        (lambda x, s, e: x / torch.sqrt(ms(x) + e) + s, "do not add it"),
        (lambda x, s, e: x / (ms(x) + e) * s, "forgot the square root"),
        (lambda x, s, e: x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + e) * s, "SUM of squares"),
        (lambda x, s, e: x / torch.sqrt(x.mean(-1, keepdim=True) ** 2 + e) * s, r"mean\(x²\), not mean\(x\)²"),
        (lambda x, s, e: x / torch.sqrt(x.pow(2).mean(0, keepdim=True) + e) * s, "wrong axis"),
        (lambda x, s, e: x / torch.sqrt(x.pow(2).mean(-2, keepdim=True) + e) * s, "raised IndexError"),
        (lambda x, s, e: x / torch.sqrt(x.pow(2).mean() + e) * s, "averaged over the whole tensor"),
        (lambda x, s, e: ms(x), "keeps x's shape"),
    ],
)
def test_rms_norm_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_rms_norm(wrong)


def test_rms_norm_without_keepdim_raises_and_is_told_the_rule():
    with pytest.raises(WrongAnswer) as info:
        check_rms_norm(lambda x, s, e: x / torch.sqrt(x.pow(2).mean(-1) + e) * s)  # fine for one vector, not for rows
    assert "your code raised RuntimeError" in str(info.value) and "the last axis" in str(info.value)


def test_rms_norm_that_divides_zero_by_zero_is_told_about_eps():
    def eps_only_where_not_zero(x, scale, eps):
        nonzero = x.abs().sum(-1, keepdim=True) > 0
        return x / torch.sqrt(ms(x) + eps * nonzero) * scale

    with pytest.raises(WrongAnswer, match="a row of zeros has mean"):
        check_rms_norm(eps_only_where_not_zero)


# --- 15.2 rotate pairs --------------------------------------------------------------


def rotate_pairs(x, angles):
    cos, sin = angles.cos(), angles.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)


def as_complex_numbers(x, angles):  # Meta's Llama code
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).reshape(x.shape)


def into_a_copy(x, angles):
    out = x.clone()
    out[..., 0::2] = x[..., 0::2] * angles.cos() - x[..., 1::2] * angles.sin()
    out[..., 1::2] = x[..., 0::2] * angles.sin() + x[..., 1::2] * angles.cos()
    return out


def by_rotation_matrices(x, angles):
    c, s = angles.cos(), angles.sin()
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (T, pairs, 2, 2)
    pairs = x.unflatten(-1, (-1, 2))  # (..., T, pairs, 2)
    return torch.einsum("tpij,...tpj->...tpi", R, pairs).flatten(-2)


def through_the_other_pairing(x, angles):
    perm = modern.interleaved_to_half(x.shape[-1])
    return modern.rotate_half(x[..., perm], angles)[..., perm.argsort()]


def test_rotate_pairs_right_answers_pass(capsys):
    for answer in (rotate_pairs, as_complex_numbers, into_a_copy, by_rotation_matrices, through_the_other_pairing):
        check_rotate_pairs(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 15.2 (Rotate pairs of dimensions): all 6 cases pass.") == 5
    assert "re-creates" not in out


def test_rotate_pairs_by_the_library_passes_with_a_note(capsys):
    check_rotate_pairs(lambda x, angles: modern.rotate_pairs(x, angles))
    assert "calls helpers.modern.rotate_pairs, which this exercise re-creates" in capsys.readouterr().out


def interleave(a, b):
    return torch.stack([a, b], dim=-1).flatten(-2)


def first_pairs(x, angles, n):
    out = rotate_pairs(x, angles).clone()
    out[..., 2 * n:] = x[..., 2 * n:]
    return out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, a: interleave(x[..., 0::2] * a.cos() + x[..., 1::2] * a.sin(),
                                 -x[..., 0::2] * a.sin() + x[..., 1::2] * a.cos()), "turns the wrong way"),
        (lambda x, a: rotate_pairs(x, -a), "turns the wrong way"),
        (lambda x, a: modern.rotate_half(x, a), "rotate-half pairing"),
        (lambda x, a: interleave(x[..., 0::2] * a.sin() - x[..., 1::2] * a.cos(),
                                 x[..., 0::2] * a.cos() + x[..., 1::2] * a.sin()), "cos and sin are swapped"),
        (lambda x, a: interleave(x[..., 0::2] * a.cos() - x[..., 1::2] * a.sin(), x[..., 1::2]), "both numbers of a pair"),
        (lambda x, a: torch.cat([x[..., 0::2] * a.cos() - x[..., 1::2] * a.sin(),
                                 x[..., 0::2] * a.sin() + x[..., 1::2] * a.cos()], dim=-1), r"\(torch.cat\)"),
        (lambda x, a: x, "x came back unchanged"),
        (lambda x, a: first_pairs(x, a, 1), r"dims 2, 3 came back as they were"),
        (lambda x, a: rotate_pairs(x, a[..., :1]), "every pair turned by the first angle"),
        (lambda x, a: rotate_pairs(x, a)[..., : x.shape[-1] // 2], "keeps x's shape"),
    ],
)
def test_rotate_pairs_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_rotate_pairs(wrong)


def test_rotate_pairs_first_case_shows_the_turn_by_60_degrees():
    with pytest.raises(WrongAnswer) as info:
        check_rotate_pairs(lambda x, a: rotate_pairs(x, -a))
    message = str(info.value)
    assert "expected: Tensor of shape (1, 2), dtype torch.float32: [[0.5, 0.866]]" in message
    assert "got:      Tensor of shape (1, 2), dtype torch.float32: [[0.5, -0.866]]" in message


# --- 15.3 repeat_kv -------------------------------------------------------------------


def repeat_kv(x, n_rep):
    return x.repeat_interleave(n_rep, dim=1)


def by_expand(x, n_rep):
    B, H, T, D = x.shape
    return x[:, :, None].expand(B, H, n_rep, T, D).reshape(B, H * n_rep, T, D)


def by_indexing(x, n_rep):
    return x[:, torch.arange(x.shape[1] * n_rep) // n_rep]


def by_a_loop(x, n_rep):
    return torch.cat([x[:, h : h + 1] for h in range(x.shape[1]) for _ in range(n_rep)], dim=1)


def test_repeat_kv_right_answers_pass(capsys):
    for answer in (repeat_kv, by_expand, by_indexing, by_a_loop):
        check_repeat_kv(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 15.3 (Share key/value heads): all 5 cases pass.") == 4
    assert "re-creates" not in out  # repeat_interleave is a tool, not what the exercise re-creates


def test_repeat_kv_by_the_library_passes_with_a_note(capsys):
    check_repeat_kv(lambda x, n_rep: modern.repeat_kv(x, n_rep))
    assert "calls helpers.modern.repeat_kv" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, n: x.repeat(1, n, 1, 1), r"you tiled the heads .* repeat_interleave, not repeat"),
        (lambda x, n: torch.cat([x] * n, dim=1), "you tiled the heads"),
        (lambda x, n: x.repeat_interleave(n, dim=2), r"along the positions \(axis 2\); the heads are axis 1"),
        (lambda x, n: x.repeat_interleave(n, dim=0), r"along the batch \(axis 0\)"),
        (lambda x, n: x.repeat_interleave(n, dim=-1), r"along head_dim \(axis 3\)"),
        (lambda x, n: x.repeat_interleave(n + 1, dim=1), r"off by one: you made 2 × 3 heads"),
        (lambda x, n: x, "you returned x's shape"),
        (lambda x, n: x[:, :, None].expand(-1, -1, n, -1, -1), "you have 5 axes"),
        (lambda x, n: x.repeat_interleave(n, dim=1)[0], "return 4 axes"),
    ],
)
def test_repeat_kv_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_repeat_kv(wrong)


def test_repeat_kv_that_forgets_n_rep_one_is_caught_on_that_case():
    def always_twice(x, n_rep):
        return x.repeat_interleave(2, dim=1)

    with pytest.raises(WrongAnswer, match=r"off by one: you made 3 × 2 heads; each kv head is there n_rep = 1 times"):
        check_repeat_kv(lambda x, n: x.repeat_interleave(2, dim=1) if n == 1 else x.repeat_interleave(n, dim=1))
    with pytest.raises(WrongAnswer):
        check_repeat_kv(always_twice)


# --- 15.4 the sliding-window mask ------------------------------------------------------


def sliding_window_mask(T, window):
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    return (j <= i) & (i - j < window)


def by_two_triangles(T, window):
    return torch.ones(T, T, dtype=torch.bool).tril().triu(1 - window)


def by_python_lists(T, window):
    return torch.tensor([[0 <= q - k < window for k in range(T)] for q in range(T)])


def by_causal_masks(T, window):
    too_old = causal_mask(T).tril(-window)  # keys window or more positions back
    return causal_mask(T) & ~too_old


def test_sliding_window_right_answers_pass(capsys):
    for answer in (sliding_window_mask, by_two_triangles, by_python_lists, by_causal_masks):
        check_sliding_window_mask(answer)
    out = capsys.readouterr().out
    assert out.count("✅ Exercise 15.4 (A sliding-window mask): all 7 cases pass.") == 4
    assert "re-creates" not in out


def test_sliding_window_by_the_library_passes_with_a_note(capsys):
    check_sliding_window_mask(lambda T, window: modern.sliding_window_mask(T, window))
    assert "calls helpers.modern.sliding_window_mask" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda T, w: torch.ones(T, T).tril().triu(1 - w), r"return booleans \(dtype torch.bool"),
        (lambda T, w: sliding_window_mask(T, w).int(), "not torch.int32"),
        (lambda T, w: torch.zeros(T, T).masked_fill(~sliding_window_mask(T, w), float("-inf")), "additive mask"),
        (lambda T, w: ~sliding_window_mask(T, w), "True means MAY attend"),
        (lambda T, w: sliding_window_mask(T, w + 1), "not <="),
        (lambda T, w: sliding_window_mask(T, w - 1), "yours sees window - 1"),
        (lambda T, w: (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs() < w, "the future is visible"),
        (lambda T, w: causal_mask(T), "the window is missing"),
        (lambda T, w: sliding_window_mask(T, w).T, "the mask is transposed"),
        (lambda T, w: torch.ones(T, T + 1, dtype=torch.bool).tril(), r"the mask is \(T, T\)"),
    ],
)
def test_sliding_window_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_sliding_window_mask(wrong)


def test_sliding_window_first_failure_shows_the_cases_hint_when_no_mistake_is_recognised():
    def random_mask(T, window):
        return torch.rand(T, T, generator=torch.Generator().manual_seed(T)) > 0.5

    with pytest.raises(WrongAnswer, match=r"j <= i \(not the future\) and i - j < window"):
        check_sliding_window_mask(random_mask)
