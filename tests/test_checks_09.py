"""Notebook 09's checks: the right answers pass, plausible wrong ones are caught with a useful hint."""

from __future__ import annotations

import pytest
import torch

from helpers.checks import ch09_gpt as checks
from helpers.checks.core import WrongAnswer
from helpers.generation import sample_next_token
from helpers.model import GPT, count_parameters, split_c_attn


def test_check_next_token_ids(capsys):
    checks.check_next_token_ids(lambda logits: logits[:, -1, :].argmax(dim=-1))
    assert "Exercise 9.1" in capsys.readouterr().out
    for wrong, hint in [
        (lambda lg: lg.argmax(dim=-1), "EVERY position"),
        (lambda lg: lg[:, 0, :].argmax(dim=-1), "FIRST token"),
        (lambda lg: lg[:, -1, :].argmin(dim=-1), "argmax, not argmin"),
        (lambda lg: lg.argmax(dim=1), "vocabulary axis"),
        (lambda lg: lg[:, -1, :].argmax(dim=-1, keepdim=True), "without keepdim"),
        (lambda lg: lg[:, -1, :].softmax(-1).argmax(dim=0), "last position"),
    ]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_next_token_ids(wrong)


def count(c, tied_head_counted=False, head_bias=False, pos=True, qkv_bias=None, final_norm=True,
          norms_per_block=2, out_proj=True, hidden=4):
    e = c.d_model
    qkv_bias = c.qkv_bias if qkv_bias is None else qkv_bias
    block = norms_per_block * 2 * e + 3 * (e * e + (e if qkv_bias else 0))
    block += (e * e + e) if out_proj else 0
    block += (e * hidden * e + hidden * e) + (hidden * e * e + e)
    total = c.vocab_size * e + (c.context_length * e if pos else 0) + c.n_layers * block
    total += 2 * e if final_norm else 0
    if not c.tie_weights or tied_head_counted:
        total += c.vocab_size * e + (c.vocab_size if head_bias else 0)
    return total


def test_check_gpt_parameter_count(capsys):
    checks.check_gpt_parameter_count(count)
    assert "Exercise 9.2" in capsys.readouterr().out
    for kwargs, hint in [
        (dict(tied_head_counted=True), "count it once"),
        (dict(head_bias=True), "no bias"),
        (dict(pos=False), "position embeddings"),
        (dict(qkv_bias=True), "only when config.qkv_bias is True"),
        (dict(final_norm=False), "final layer norm"),
        (dict(out_proj=False), "out_proj"),
        (dict(hidden=1), "expands to 4·d_model"),
    ]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_gpt_parameter_count(lambda c, kw=kwargs: count(c, **kw))
    with pytest.raises(WrongAnswer, match="its own"):  # forgot the untied head
        checks.check_gpt_parameter_count(lambda c: count(c) - (0 if c.tie_weights else c.vocab_size * c.d_model))


def test_check_split_c_attn(capsys):
    checks.check_split_c_attn(lambda w: tuple(part.T for part in w.chunk(3, dim=1)))
    assert "Exercise 9.3" in capsys.readouterr().out
    e_of = lambda w: w.shape[0]  # noqa: E731
    for wrong, hint in [
        (lambda w: tuple(w.chunk(3, dim=1)), "transpose each block"),
        (lambda w: tuple(part.T for part in w.chunk(3, dim=1))[::-1], "query, key, value"),
        (lambda w: tuple(w.T.reshape(3, e_of(w), e_of(w)).transpose(1, 2)), "split along the columns|not quite"),
        (lambda w: (w.T,), "three tensors"),
    ]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_split_c_attn(wrong)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    def parameter_count(config):
        with torch.device("meta"):
            return count_parameters(GPT(config))

    checks.check_next_token_ids(lambda logits: sample_next_token(logits[:, -1], temperature=0.0))
    checks.check_gpt_parameter_count(parameter_count)
    checks.check_split_c_attn(split_c_attn)
    assert capsys.readouterr().out.count("✅") == 3


def test_two_counting_mistakes_and_a_reshape_split_get_hints_that_fit():
    from helpers.checks import ch09_gpt
    from helpers.model import count_parameters

    def no_position_embeddings_no_final_norm(config):
        with torch.device("meta"):
            model = GPT(config)
        return count_parameters(model) - config.context_length * config.d_model - 2 * config.d_model

    def reshaped(w):
        e = w.shape[0]
        return tuple(block.T for block in w.reshape(3, e, e))

    with pytest.raises(WrongAnswer) as info:
        ch09_gpt.check_gpt_parameter_count(no_position_embeddings_no_final_norm)
    assert "two things to fix" in str(info.value) and "position embeddings" in str(info.value)
    with pytest.raises(WrongAnswer, match=r"reshape\(3, d_model, d_model\) cuts the numbers"):
        ch09_gpt.check_split_c_attn(reshaped)
