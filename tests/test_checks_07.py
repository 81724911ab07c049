"""Notebook 07's checks: right answers pass, plausible wrong answers are caught with a hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks import ch07_embeddings as checks
from helpers.checks.core import WrongAnswer
from helpers.embeddings import sinusoidal_encoding, sliding_window
from helpers.embeddings import sinusoidal_encoding as library_encoding, sliding_window as library_window


def test_check_sliding_window_accepts_the_library_and_catches_off_by_one_and_wrong_output():
    checks.check_sliding_window(sliding_window)

    def one_short(tokens, context_size):
        return [(tuple(tokens[s : s + context_size]), tokens[s + context_size])
                for s in range(len(tokens) - context_size - 1)]

    def output_is_last_input(tokens, context_size):
        return [(tuple(tokens[s : s + context_size]), tokens[s + context_size - 1])
                for s in range(len(tokens) - context_size)]

    def lists_not_tuples(tokens, context_size):
        return [(list(tokens[s : s + context_size]), tokens[s + context_size]) for s in range(len(tokens) - context_size)]

    def fixed_two(tokens, context_size):
        return sliding_window(tokens, 2)

    for wrong, hint in [(one_short, "the last window is missing"), (output_is_last_input, "not the last input"),
                        (lists_not_tuples, "a tuple"), (fixed_two, "use context_size")]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_sliding_window(wrong)


def test_check_embed_with_one_hot_catches_missing_num_classes_transpose_and_integer_one_hot():
    checks.check_embed_with_one_hot(lambda ids, weight: F.one_hot(ids, weight.shape[0]).float() @ weight)
    with pytest.raises(WrongAnswer, match="num_classes=weight.shape"):
        checks.check_embed_with_one_hot(lambda ids, weight: F.one_hot(ids).float() @ weight)
    with pytest.raises(WrongAnswer, match="transposed"):
        checks.check_embed_with_one_hot(lambda ids, weight: (F.one_hot(ids, weight.shape[0]).float() @ weight).T)
    with pytest.raises(WrongAnswer, match="turn them into floats"):
        checks.check_embed_with_one_hot(lambda ids, weight: F.one_hot(ids, weight.shape[0]) @ weight)


def _encoding(n_positions, d_model, base=10_000.0, exponent_of_i=2, sin_first=True, interleave=True):
    positions = torch.arange(n_positions, dtype=torch.float).unsqueeze(1)
    i = torch.arange(d_model // 2, dtype=torch.float)
    angles = positions / base ** (exponent_of_i * i / d_model)
    even, odd = (torch.sin(angles), torch.cos(angles)) if sin_first else (torch.cos(angles), torch.sin(angles))
    if not interleave:
        return torch.cat([even, odd], dim=1)
    return torch.stack([even, odd], dim=-1).reshape(n_positions, d_model)


def test_check_sinusoidal_encoding_names_each_plausible_mistake():
    checks.check_sinusoidal_encoding(sinusoidal_encoding)
    checks.check_sinusoidal_encoding(_encoding)
    mistakes = [
        (dict(sin_first=False), "swapped"),
        (dict(exponent_of_i=1), "not i/d_model"),
        (dict(interleave=False), "interleaved"),
        (dict(base=1000.0), "10000"),
    ]
    for variant, hint in mistakes:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_sinusoidal_encoding(lambda n, d, variant=variant: _encoding(n, d, **variant))
    with pytest.raises(WrongAnswer, match="positions start at 0"):
        checks.check_sinusoidal_encoding(lambda n, d: _encoding(n + 1, d)[1:])


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    checks.check_sliding_window(library_window)
    checks.check_embed_with_one_hot(lambda ids, weight: torch.nn.Embedding.from_pretrained(weight)(ids))
    checks.check_sinusoidal_encoding(library_encoding)
    assert capsys.readouterr().out.count("✅") == 3


def test_one_row_too_many_shows_the_index_error_and_the_row_count():
    from helpers.checks.ch07_embeddings import check_sliding_window

    def one_too_many(tokens, context_size=2):
        return [(tuple(tokens[s : s + context_size]), tokens[s + context_size])
                for s in range(len(tokens) - context_size + 1)]

    with pytest.raises(WrongAnswer) as info:
        check_sliding_window(one_too_many)
    assert "your code raised IndexError" in str(info.value) and "len(tokens) - context_size rows" in str(info.value)
