"""helpers/generation.py: filters on hand-computed distributions, seeded sampling, the KV cache."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.generation import (
    apply_temperature,
    generate,
    next_token_probabilities,
    sample_next_token,
    top_k_filter,
    top_p_filter,
)
from helpers.model import GPT, GPTConfig

# Logits whose softmax is exactly [0.1, 0.5, 0.15, 0.25] (up to float rounding).
PROBS = torch.tensor([0.1, 0.5, 0.15, 0.25])
LOGITS = PROBS.log()


def probs_after(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, dim=-1)


# --- temperature --------------------------------------------------------------------


def test_temperature_divides_the_logits():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    assert torch.equal(apply_temperature(logits, 0.5), torch.tensor([4.0, 2.0, 0.0, -2.0]))
    assert torch.equal(apply_temperature(logits, 1.0), logits)


def test_temperature_sharpens_and_flattens_as_computed_by_hand():
    # softmax([log 0.1, log 0.5, log 0.15, log 0.25] / T) = p_i^(1/T) / sum_j p_j^(1/T)
    for t in (0.5, 2.0):
        by_hand = PROBS ** (1 / t) / (PROBS ** (1 / t)).sum()
        assert torch.allclose(next_token_probabilities(LOGITS, temperature=t), by_hand, atol=1e-6)
    sharp = next_token_probabilities(LOGITS, temperature=0.5)
    assert math.isclose(sharp[1].item(), 0.25 / (0.01 + 0.25 + 0.0225 + 0.0625), rel_tol=1e-5)


# --- top-k ------------------------------------------------------------------------------


def test_top_k_keeps_the_k_largest_and_renormalises():
    got = probs_after(top_k_filter(LOGITS, 2))
    assert torch.allclose(got, torch.tensor([0.0, 0.5 / 0.75, 0.0, 0.25 / 0.75]), atol=1e-6)
    assert torch.equal(probs_after(top_k_filter(LOGITS, 1)), torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_top_k_keeps_ties_with_the_kth_and_everything_when_k_is_large():
    tied = torch.tensor([0.4, 0.2, 0.2, 0.1, 0.1]).log()
    assert torch.allclose(probs_after(top_k_filter(tied, 2)), torch.tensor([0.5, 0.25, 0.25, 0.0, 0.0]), atol=1e-6)
    assert torch.equal(top_k_filter(LOGITS, 4), LOGITS)
    assert torch.equal(top_k_filter(LOGITS, 100), LOGITS)


def test_top_k_works_row_by_row_and_leaves_its_input_alone():
    batch = torch.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 0.0]])
    before = batch.clone()
    got = top_k_filter(batch, 2)
    inf = float("-inf")
    assert torch.equal(got, torch.tensor([[inf, 3.0, 2.0], [5.0, 4.0, inf]]))
    assert torch.equal(batch, before)


# --- top-p ------------------------------------------------------------------------------


def test_top_p_keeps_the_token_that_crosses_the_threshold():
    # sorted: 0.5, 0.25, 0.15, 0.1 -> mass before each: 0, 0.5, 0.75, 0.9
    assert torch.allclose(probs_after(top_p_filter(LOGITS, 0.6)), torch.tensor([0.0, 2 / 3, 0.0, 1 / 3]), atol=1e-6)
    expected_08 = torch.tensor([0.0, 0.5, 0.15, 0.25]) / 0.9
    assert torch.allclose(probs_after(top_p_filter(LOGITS, 0.8)), expected_08, atol=1e-6)


def test_top_p_always_keeps_the_top_token_and_p_one_keeps_all():
    assert torch.equal(probs_after(top_p_filter(LOGITS, 0.3)), torch.tensor([0.0, 1.0, 0.0, 0.0]))
    assert torch.equal(top_p_filter(LOGITS, 1.0), LOGITS)


def test_top_p_works_row_by_row():
    batch = torch.stack([LOGITS, torch.tensor([0.7, 0.1, 0.1, 0.1]).log()])
    got = probs_after(top_p_filter(batch, 0.6))
    assert torch.allclose(got, torch.tensor([[0.0, 2 / 3, 0.0, 1 / 3], [1.0, 0.0, 0.0, 0.0]]), atol=1e-6)


def test_temperature_then_top_k_then_top_p():
    # T = 0.5 squares the probabilities: 0.01, 0.25, 0.0225, 0.0625 (sum 0.345);
    # top-k 3 drops 0.01; top-p 0.8 of (0.25, 0.0625, 0.0225)/0.335 keeps the first two.
    got = next_token_probabilities(LOGITS, temperature=0.5, top_k=3, top_p=0.8)
    assert torch.allclose(got, torch.tensor([0.0, 0.25, 0.0, 0.0625]) / 0.3125, atol=1e-6)


# --- sampling -----------------------------------------------------------------------------


def test_greedy_is_the_argmax():
    batch = torch.tensor([[0.1, 2.0, 0.3], [5.0, -1.0, 4.9]])
    assert torch.equal(sample_next_token(batch, temperature=0.0), torch.tensor([1, 0]))


def test_seeded_sampling_is_reproducible_and_follows_the_distribution():
    logits = LOGITS.expand(20_000, 4)
    first = sample_next_token(logits, 1.0, generator=torch.Generator().manual_seed(7))
    again = sample_next_token(logits, 1.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    frequencies = torch.bincount(first, minlength=4) / len(first)
    assert torch.allclose(frequencies, PROBS, atol=0.015)
    kept = sample_next_token(logits, 1.0, top_k=2, generator=torch.Generator().manual_seed(7))
    assert set(kept.tolist()) == {1, 3}


# --- generate and the KV cache ---------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=50, context_length=40, d_model=32, n_layers=2, n_heads=4, dropout=0.1)
    return GPT(config).train()  # left in training mode: generate must switch dropout off itself


def with_logits(model, prompt, new_tokens, **kwargs):
    steps = []
    tokens = generate(model, prompt, new_tokens, record=steps, **kwargs)
    return tokens, torch.stack(steps, dim=1)


def test_cached_and_uncached_greedy_give_the_same_tokens_and_logits(model):
    prompt = torch.tensor([[3, 14, 15, 9], [2, 6, 5, 35]])
    cached, cached_logits = with_logits(model, prompt, 20, use_cache=True)
    plain, plain_logits = with_logits(model, prompt, 20, use_cache=False)
    assert torch.equal(cached, plain) and torch.equal(generate(model, prompt, 20), cached)
    assert (cached_logits - plain_logits).abs().max() < 1e-5
    assert torch.equal(cached[:, :4], prompt) and cached.shape == (2, 24)
    # The logits each token was chosen from are the model's own, re-computed in one pass.
    model.eval()
    with torch.no_grad():
        one_pass = model(cached[:, :-1])[:, 3:]
    model.train()
    assert (cached_logits - one_pass).abs().max() < 1e-5
    assert torch.equal(cached[:, 4:], cached_logits.argmax(dim=-1))


def test_seeded_sampling_is_the_same_with_and_without_cache(model):
    prompt = torch.tensor([[1, 2, 3]])
    kwargs = dict(temperature=1.2, top_k=20, top_p=0.9)
    a = generate(model, prompt, 25, generator=torch.Generator().manual_seed(3), **kwargs)
    b = generate(model, prompt, 25, generator=torch.Generator().manual_seed(3), use_cache=False, **kwargs)
    c = generate(model, prompt, 25, generator=torch.Generator().manual_seed(4), **kwargs)
    assert a.shape == (1, 28) and torch.equal(a, b)
    assert not torch.equal(a, c)


def test_generate_restores_the_training_mode(model):
    generate(model, torch.tensor([[1]]), 2)
    assert model.training
    model.eval()
    generate(model, torch.tensor([[1]]), 2)
    assert not model.training
    model.train()


def test_generate_fills_the_context_exactly_and_zero_new_tokens_is_the_prompt(model):
    assert generate(model, torch.tensor([[1, 2]]), 38).shape == (1, 40)
    assert torch.equal(generate(model, torch.tensor([[1, 2]]), 0), torch.tensor([[1, 2]]))
    steps = []
    generate(model, torch.tensor([[1, 2]]), 0, record=steps)
    assert steps == []


def test_generate_stops_each_row_at_the_end_token(model):
    prompt = torch.tensor([[3, 14, 15, 9], [2, 6, 5, 35]])
    free = generate(model, prompt, 12)
    eos = int(free[0, 6])  # the third token row 0 writes: make it the end token
    stopped = generate(model, prompt, 12, eos_id=eos)
    first_end = [int((row[4:] == eos).nonzero()[0]) + 4 for row in stopped if (row[4:] == eos).any()]
    assert first_end and first_end[0] <= 6
    for row, free_row in zip(stopped, free):
        ends = (row[4:] == eos).nonzero()
        if len(ends):  # up to its first end token a row is what it was without eos_id, then only eos
            end = int(ends[0]) + 4
            assert torch.equal(row[:end + 1], free_row[:end + 1]) and (row[end:] == eos).all()


def test_slide_keeps_the_last_context_length_tokens(model):
    prompt = torch.zeros(1, 30, dtype=torch.long)
    with pytest.raises(ValueError, match="pass slide=True"):
        generate(model, prompt, 20)
    slid = generate(model, prompt, 20, slide=True)
    assert slid.shape == (1, 50)
    model.eval()
    with torch.no_grad():  # the last token was chosen from the last 40 tokens before it
        last = model(slid[:, -41:-1])[:, -1].argmax(-1)
    model.train()
    assert int(last) == int(slid[0, -1])
    assert torch.equal(generate(model, prompt, 20, slide=True, use_cache=False), slid)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-0.5), r"temperature must be >= 0 \(0 means greedy decoding\), got -0.5"),
        (dict(temperature=1.0, top_k=0), r"top_k must be a whole number >= 1 .* got 0"),
        (dict(temperature=1.0, top_k=2.5), r"top_k must be a whole number >= 1 .* got 2.5"),
        (dict(temperature=1.0, top_p=0.0), r"top_p must be in \(0, 1\] .* got 0.0"),
        (dict(temperature=1.0, top_p=1.5), r"top_p must be in \(0, 1\] .* got 1.5"),
        (dict(max_new_tokens=-1), r"max_new_tokens must be a whole number >= 0, got -1"),
        (dict(eos_id=50), r"eos_id must be a token id 0..49, got 50"),
    ],
)
def test_generate_rejects_bad_settings(model, kwargs, message):
    arguments = dict(max_new_tokens=3) | kwargs
    with pytest.raises(ValueError, match=message):
        generate(model, torch.tensor([[1, 2]]), **arguments)


def test_generate_rejects_bad_prompts(model):
    with pytest.raises(ValueError, match=r"prompts of shape \(B, T\) with T >= 1, got \(1, 0\)"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r"= 42 tokens, more than the model's context length of 40: ask for at most 30"):
        generate(model, torch.zeros(1, 10, dtype=torch.long), 32)
    with pytest.raises(ValueError, match=r"for one prompt use ids.unsqueeze\(0\)"):
        generate(model, torch.tensor([1, 2]), 1)


def test_the_filters_reject_bad_settings_too():
    with pytest.raises(ValueError, match="top_k must be"):
        top_k_filter(LOGITS, 0)
    with pytest.raises(ValueError, match="top_p must be"):
        top_p_filter(LOGITS, -0.1)
    with pytest.raises(ValueError, match="temperature 0 means greedy decoding"):
        apply_temperature(LOGITS, 0.0)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        apply_temperature(LOGITS, float("nan"))
    with pytest.raises(TypeError, match="floating-point tensor"):
        top_k_filter(torch.tensor([1, 2, 3]), 1)


def test_prompts_follow_the_model_to_its_device():
    # a model on the "meta" device (shapes only, no numbers) stands for one on a GPU, on any machine
    config = GPTConfig(vocab_size=50, context_length=40, d_model=32, n_layers=2, n_heads=4, dropout=0.0)
    with torch.device("meta"):
        elsewhere = GPT(config)
    prompts = torch.zeros(2, 5, dtype=torch.long)  # on the CPU
    for use_cache in (True, False):
        tokens = generate(elsewhere, prompts, 3, use_cache=use_cache)
        assert tokens.device.type == "meta" and tokens.shape == (2, 8)
    assert prompts.device.type == "cpu"  # the caller's prompts stay where they were
