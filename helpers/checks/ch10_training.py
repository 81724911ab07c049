"""Checks of notebook 10 · training (references: F.cross_entropy, ``helpers.training``, ``helpers.translation``)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from helpers.checks.core import Case, Cases, exercise
from helpers.training import next_token_windows
from helpers.translation import translation_example


def tensor_pair(got: Any) -> tuple[Any, Any] | None:
    """``(inputs, targets)`` as two tensors, or ``None`` if the answer is not such a pair (checks 10.1, 10.3, 13.2)."""
    if isinstance(got, (tuple, list)) and len(got) == 2 and all(hasattr(t, "shape") for t in got):
        return torch.as_tensor(got[0]), torch.as_tensor(got[1])
    return None


def masked_pair_slip(got: Any, expected_inputs: Any) -> str | None:
    """The two slips of a masked (inputs, targets) answer that come first: not a pair, or inputs masked too (checks 10.3, 13.2)."""
    if tensor_pair(got) is None:
        return "return a tuple (inputs, targets) of two 1-D tensors."
    inputs, _ = tensor_pair(got)
    if inputs.shape == expected_inputs.shape and (inputs == -100).any():
        return ("your inputs contain -100: a slice such as ids[1:] is a view of the same numbers, "
                "so masking the targets changed the inputs too. Mask a copy: ids[1:].clone().")
    return None


@exercise("10.1", "Cut a text into next-token windows", success="Every window now asks the model to predict its next token.")
def check_next_token_windows() -> Cases:
    """(inputs, targets), each (n_windows, context_length); targets shifted by one; starts stride apart."""
    shift_hint = "targets are the inputs shifted ONE token to the left: ids[s+1 : s+context_length+1]."
    cases = [
        Case((list(range(10)), 4, 3), next_token_windows(list(range(10)), 4, 3),
             shift_hint + " The last window must still have its final target: starts go up to "
             "len(ids) - context_length - 1, so range(0, len(ids) - context_length, stride)."),
        Case((list(range(10)), 4, 1), next_token_windows(list(range(10)), 4, 1),
             "with stride 1 every start 0, 1, 2, ... gives a window, up to the last whose final target exists."),
        Case(([5, 3, 8, 1, 9, 2, 7, 4, 6], 3, 3), next_token_windows([5, 3, 8, 1, 9, 2, 7, 4, 6], 3, 3), shift_hint),
        Case(([7, 1, 4, 2], 3, 2), next_token_windows([7, 1, 4, 2], 3, 2),
             "4 tokens and context 3: exactly one window, inputs [7, 1, 4] and targets [1, 4, 2]."),
        Case((list(range(20, 33)), 4, 4), next_token_windows(list(range(20, 33)), 4, 4), shift_hint),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        ids, context_length, stride = case.args
        expected_inputs, expected_targets = case.expected
        if tensor_pair(got) is None:
            return "return a tuple (inputs, targets) of two tensors: torch.stack the windows."
        inputs, targets = tensor_pair(got)
        n_expected = len(expected_inputs)
        if tuple(inputs.shape) == tuple(expected_inputs.shape) and torch.equal(
            torch.as_tensor(inputs), expected_inputs
        ):
            if torch.equal(torch.as_tensor(targets), expected_inputs):
                return "your targets equal your inputs: shift them by one token (the NEXT token is the target)."
            return shift_hint
        if inputs.dim() == 2 and inputs.shape[1] == context_length:
            n_got = inputs.shape[0]
            n_stride_1 = len(range(0, len(ids) - context_length))
            if stride > 1 and n_got == n_stride_1:
                return f"you made a window at EVERY start; consecutive windows start stride={stride} tokens apart."
            if n_got == n_expected - 1:
                return ("you dropped the last window: a window starting at s is valid while "
                        "s + context_length < len(ids), i.e. range(0, len(ids) - context_length, stride).")
            if n_got > n_expected:
                return ("you kept a window whose last target does not exist: stop when "
                        "s + context_length reaches len(ids).")
        if inputs.dim() == 2 and inputs.shape[1] == context_length + 1:
            return "each input window has context_length tokens; the one extra token is only in the targets."
        return None

    return Cases(cases, diagnose)


@exercise("10.2", "Cross-entropy by hand", success="It equals F.cross_entropy.")
def check_cross_entropy_by_hand() -> Cases:
    """-mean(log softmax(logits)[range(N), targets]) for logits (N, V), targets (N,)."""
    gen = torch.Generator().manual_seed(102)
    examples = [
        (torch.randn(4, 6, generator=gen) * 2, torch.tensor([0, 5, 2, 2])),
        (torch.randn(3, 3, generator=gen), torch.tensor([1, 0, 2])),  # N == V: a wrong axis keeps shapes
        (torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])),
        (torch.zeros(2, 10), torch.tensor([3, 7])),  # uniform: ln 10
        (torch.tensor([[100.0, 0.0, -100.0], [0.0, 120.0, 0.0]]), torch.tensor([2, 0])),  # huge logits
    ]
    cases = [Case((lg, tg), F.cross_entropy(lg, tg), "softmax over the vocabulary (dim=-1), pick the "
                  "probability of the right token, log, mean over the N positions, negate.")
             for lg, tg in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        logits, targets = case.args
        if not hasattr(got, "shape"):
            return "return a tensor (a scalar): the loss."
        if got.dim() != 0:
            if tuple(got.shape) == (len(targets),):
                return "you have one loss per position: take the MEAN over positions to get one number."
            return "return one number (a 0-dimensional tensor): the mean over all positions."
        got_v = float(got)
        expected = float(case.expected)
        if math.isnan(got_v) or math.isinf(got_v):
            return ("your loss is NaN or infinite. Did you take the log of the logits? Logits can be "
                    "negative: take the log of PROBABILITIES (after softmax). And for huge logits use "
                    "torch.log_softmax: softmax underflows to 0 and log(0) = -inf.")
        rows = torch.arange(len(targets))
        probs = torch.softmax(logits, dim=-1)[rows, targets]
        variants = {
            "forgot to negate: the log of a probability is negative; the loss is MINUS the mean.": -expected,
            "you summed over positions: take the mean (divide by N).": expected * len(targets),
            "you took the log of the logits, not of the probabilities: apply softmax first.":
                float(-(logits[rows, targets].clamp_min(1e-12)).log().mean()) if (logits[rows, targets] > 0).all() else None,
            "you skipped the log: the loss is the mean NEGATIVE LOG probability.": float(-probs.mean()),
            "softmax over the wrong axis: normalise over the vocabulary (dim=-1), not the positions.":
                float(-torch.log_softmax(logits, dim=0)[rows, targets].mean()),
            "you used the raw logits of the right tokens: convert them to (log) probabilities first.":
                float(-logits[rows, targets].mean()),
        }
        for hint, value in variants.items():
            if value is not None and abs(got_v - value) < 1e-4 and abs(value - expected) > 1e-4:
                return hint
        return None

    return Cases(cases, diagnose, atol=1e-4)


@exercise("10.3", "Mask the French targets", success="The loss will count only the English words.")
def check_translation_example() -> Cases:
    """inputs = (french + sep + english + eos)[:-1]; targets = [1:] with the first len(french) set to -100."""
    examples = [
        ([10, 11, 12], [20, 21, 22], 1, 2),
        ([10, 11, 12, 13, 14], [20, 21], 1, 2),
        ([30], [40, 41, 42, 43], 3, 4),
        ([7, 8], [9], 0, 1),
    ]
    cases = [Case(args, translation_example(*args),
                  "inputs: french, <sep>, english (no <eos>); targets: the same sequence shifted by one, "
                  "with the first len(french) targets set to -100.")
             for args in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        french_ids, english_ids, sep_id, eos_id = case.args
        expected_inputs, expected_targets = case.expected
        slip = masked_pair_slip(got, expected_inputs)
        if slip:
            return slip
        inputs, targets = tensor_pair(got)
        if inputs.shape != expected_inputs.shape or not torch.equal(inputs, expected_inputs):
            if len(inputs) == len(expected_inputs) + 1:
                return "inputs drop the LAST token (<eos>): nothing comes after it to predict."
            return "inputs are french + [sep_id] + english, without the final <eos>."
        if targets.shape != expected_targets.shape:
            return "targets are as long as inputs: the whole sequence without its FIRST token."
        n = len(french_ids)
        masked = (targets == -100).sum().item()
        if (targets[n:] == -100).all() and not (targets[:n] == -100).any():
            return "you masked the English part; mask the French part (the first targets) instead."
        if masked == 0:
            return "nothing is masked: set the targets of the French part to -100 so the loss ignores them."
        if masked == n - 1:
            return (f"you masked {masked} targets, one too few: the last French word's target is <sep>, "
                    "which is given in the prompt, not predicted — mask the first len(french_ids) targets.")
        if masked == n + 1:
            return ("you masked one target too many: the target of <sep> is the FIRST English word, "
                    "which the model must learn to predict.")
        if targets[-1].item() != eos_id:
            return "the last target is <eos>: the model must learn where the translation ends."
        return None

    return Cases(cases, diagnose)
