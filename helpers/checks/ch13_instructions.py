"""Checks of notebook 13 · instruction fine-tuning (references: ``helpers.instructions``)."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor

from helpers.checks.ch10_training import masked_pair_slip, tensor_pair
from helpers.checks.core import Case, Cases, exercise
from helpers.instructions import ASSISTANT, END, USER, choice_log_likelihood, format_prompt, response_mask_example
from helpers.model import GPT, GPTConfig

# --- 13.1 the prompt format -------------------------------------------------------


@exercise("13.1", "The prompt format", success="Every example now reaches the model in the same chat template.")
def check_format_prompt() -> Cases:
    """USER + instruction + newline + input + END + ASSISTANT, the texts left exactly as they are."""
    examples = [
        ("Make this sentence negative.", "the cat eats the apple"),
        ("Read the sentence, then answer the question with yes or no.", "the cat is black\nis the cat white ?"),
        ("Say hello.", ""),  # no input: the newline stays
        ("Traduis en anglais :", "le chat a mangé la pomme"),  # accents
        ("  Répète ceci ", " 猫 🐈 "),  # spaces at the ends and characters beyond Latin: keep them
    ]
    hint = (f"compare your string with the template piece by piece: {USER!r} opens the user's turn, the "
            f"instruction and the input are on their own lines, {END!r} closes the turn and {ASSISTANT!r} opens the "
            "model's; nothing else, and the texts unchanged.")
    cases = [Case(args, format_prompt(*args), hint) for args in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        instruction, text = case.args
        expected = case.expected
        if not isinstance(got, str):
            return "return one string: the whole prompt."
        if got.startswith(expected) and len(got) > len(expected):
            return (f"your prompt goes on after {ASSISTANT!r}: it must END there. The response (and its {END!r}) "
                    "is what the model writes; format_example adds them for training.")
        if got == f"{USER}{instruction}\n{text}{ASSISTANT}":
            return f"{END!r} is missing before {ASSISTANT!r}: the user's turn ends with {END!r}, as every turn does."
        if got == f"{USER}{instruction}{text}{END}{ASSISTANT}":
            return "the instruction and the input run together: put a newline ('\\n') between them."
        if got in (f"{USER}{instruction} {text}{END}{ASSISTANT}", f"{USER}{instruction}\\n{text}{END}{ASSISTANT}"):
            return ("between the instruction and the input goes a newline character, '\\n' inside a normal "
                    "string (not a space, not a raw string r'\\n').")
        if ASSISTANT in got and USER in got and got.index(ASSISTANT) < got.index(USER):
            return (f"{ASSISTANT!r} comes before {USER!r}: the user speaks first, then the assistant; "
                    f"the prompt starts with {USER!r} and ends with {ASSISTANT!r}.")
        if got == f"{USER}{instruction.strip()}\n{text.strip()}{END}{ASSISTANT}" or got.lower() == expected.lower():
            return "keep the instruction and the input exactly as they are: no strip(), no lower()."
        if not got.startswith(USER):
            return f"the prompt starts with {USER!r}: the model must see who is speaking."
        return None

    return Cases(cases, diagnose)


# --- 13.2 mask the prompt ---------------------------------------------------------


@exercise("13.2", "Mask the prompt", success="The loss will count only the response and its end token.")
def check_response_mask_example() -> Cases:
    """inputs = (prompt + response + [end])[:-1]; targets = [1:] with the first len(prompt) - 1 set to -100."""
    examples = [
        ([10, 11, 12, 13], [20, 21], 99),
        ([10, 11, 12, 13, 14, 15], [20, 21, 22, 23], 99),
        ([30, 31, 32], [40], 7),  # a one-token response
        ([5], [6, 7, 8], 9),  # a one-token prompt: nothing to mask
        ([1, 2, 3, 4, 5], [6, 7, 8], 0),  # the end token's id is 0
    ]
    cases = [Case(args, response_mask_example(*args),
                  "inputs and targets are the same sequence shifted by one token; a target is masked (-100) "
                  "exactly when it is a token of the prompt, which is given, not predicted.")
             for args in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        prompt_ids, response_ids, end_id = case.args
        expected_inputs, expected_targets = case.expected
        slip = masked_pair_slip(got, expected_inputs)
        if slip:
            return slip
        inputs, targets = tensor_pair(got)
        if inputs.dim() != 1 or targets.dim() != 1:
            return "inputs and targets are 1-D: one sequence, not a batch."
        if len(inputs) == len(expected_inputs) - 1 and torch.equal(inputs, expected_inputs[:-1]) and \
                (len(targets) == 0 or targets[-1].item() != end_id):
            return (f"you forgot the end token: the sequence is prompt + response + [end_id], so the model learns "
                    "to stop after the response.")
        if len(inputs) == len(expected_inputs) + 1:
            return "inputs drop the LAST token (the end token): nothing comes after it to predict."
        if not torch.equal(inputs, expected_inputs):
            return "inputs are prompt_ids + response_ids, in that order: the whole sequence without its end token."
        if targets.shape != expected_targets.shape:
            return "targets are as long as inputs: the whole sequence without its FIRST token."
        n_masked = len(prompt_ids) - 1
        masked = targets == -100
        if masked[n_masked:].all() and not masked[:n_masked].any() and len(targets) > n_masked:
            return "you masked the response; mask the prompt (the first targets) instead: the response is what to learn."
        if not masked.any() and n_masked > 0:
            return "nothing is masked: set the targets of the prompt to -100 so the loss ignores them."
        count = int(masked.sum())
        if masked[:count].all():  # a mask at the start, of the wrong length
            if count == n_masked + 1:
                return ("you masked one target too many, len(prompt_ids) of them: the target at the prompt's last "
                        f"position (the {ASSISTANT!r} token) is the FIRST response token, which the model must learn.")
            if count == n_masked - 1:
                return ("you masked one target too few: the first len(prompt_ids) - 1 targets are all prompt tokens "
                        "(the target at position t is token t + 1).")
        if targets[-1].item() != end_id:
            return "the last target is end_id: the model must learn where its answer ends."
        return None

    return Cases(cases, diagnose)


# --- 13.3 score a choice by log-likelihood ------------------------------------------


class TinyGPT(GPT):
    """A seeded GPT with a vocabulary of 12 tokens, for checking a scoring function (not a trained model)."""

    def __init__(self, seed: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().__init__(GPTConfig(vocab_size=12, context_length=16, d_model=16, n_layers=1, n_heads=2,
                                       dropout=0.0, tie_weights=False))
        with torch.no_grad():
            self.out_head.weight.mul_(10)  # sharper predictions than N(0, 0.02²) gives: log-probs far apart
        self.seed = seed
        self.eval()

    def __repr__(self) -> str:
        return f"TinyGPT(seed={self.seed})"


def _as_number(answer: Any) -> Any:
    """The answer, with a one-element tensor turned into a float (both are fine answers)."""
    @functools.wraps(answer)
    def run(*args: Any) -> Any:
        got = answer(*args)
        return float(got.detach()) if isinstance(got, Tensor) and got.numel() == 1 else got
    return run


@torch.no_grad()
def _variants(model: GPT, prompt_ids: list[int], choice_ids: list[int]) -> dict[str, float]:
    """What the plausible mistakes return, hint -> value."""
    ids = torch.tensor([prompt_ids + choice_ids])
    logits = model(ids)[0]  # (P + C, V)
    P, C = len(prompt_ids), len(choice_ids)
    choice = ids[0, P:]
    log_probs = torch.log_softmax(logits, dim=-1)
    right = log_probs[P - 1 : P + C - 1].gather(1, choice.unsqueeze(1)).squeeze(1)  # (C,)
    variants = {
        "off by one: the logits at position t predict the token at t + 1, so the choice's tokens are read from "
        "positions len(prompt) - 1 … len(prompt) + len(choice) - 2 (one before each choice token).":
            float(log_probs[P : P + C].gather(1, choice.unsqueeze(1)).sum()),
        "you took the MEAN over the choice's tokens: the log-likelihood of a sequence is the SUM of its tokens' "
        "log-probabilities (log of a product of probabilities).": float(right.mean()),
        "you included the prompt's tokens: only the choice is scored, given the prompt; start at the logits of "
        "position len(prompt) - 1.":
            float(log_probs[:-1].gather(1, ids[0, 1:].unsqueeze(1)).sum()),
        "you added probabilities: take the log of each token's probability (log_softmax), then add the logs.":
            float(right.exp().sum()),
        "that is a probability (a product), not a log-likelihood: return the SUM of the log-probabilities.":
            float(right.sum().exp()),
        "softmax over the wrong axis: normalise over the vocabulary (dim=-1), not over the positions.":
            float(torch.log_softmax(logits, dim=0)[P - 1 : P + C - 1].gather(1, choice.unsqueeze(1)).sum()),
        "you returned minus the log-likelihood (a loss): a log-likelihood is negative, the sum of log-probabilities.":
            float(-right.sum()),
        "you added raw logits: turn them into log-probabilities first (torch.log_softmax over the vocabulary).":
            float(logits[P - 1 : P + C - 1].gather(1, choice.unsqueeze(1)).sum()),
    }
    return variants


@exercise("13.3", "Score a choice by log-likelihood",
          success="The model can now take a multiple-choice test without writing a word.")
def check_choice_log_likelihood() -> Cases:
    """sum over j of log_softmax(model(prompt + choice)[0])[len(prompt) - 1 + j, choice[j]], as a float."""
    examples = [
        (0, [1, 2, 3], [4, 5]),
        (1, [7, 3, 9, 2], [11, 0, 6]),
        (2, [5], [8, 8, 1, 4]),  # a one-token prompt
        (3, [2, 10, 4, 4, 6], [3]),  # a one-token choice
        (4, [0, 1], [2, 3, 4, 5, 6, 7]),
    ]
    cases = [Case((TinyGPT(seed), prompt, choice), choice_log_likelihood(TinyGPT(seed), prompt, choice),
                  "run the model once on prompt + choice; the log-probability of choice[j] is in the logits of "
                  "position len(prompt) - 1 + j (log_softmax over the vocabulary); add them up.")
             for seed, prompt, choice in examples]

    def diagnose(got: Any, case: Case) -> str | None:
        model, prompt_ids, choice_ids = case.args
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return "return one number (a float): the sum of the choice's log-probabilities."
        if math.isnan(got):
            return "your answer is NaN: did you take the log of a logit? Use torch.log_softmax on the logits."
        expected = float(case.expected)
        for hint, value in _variants(model, list(prompt_ids), list(choice_ids)).items():
            if abs(got - value) < 1e-4 and abs(value - expected) > 1e-4:
                return hint
        if got > 0:
            return "a log-likelihood is never above 0: it is a sum of logs of probabilities, each at most 1."
        return None

    return Cases(cases, diagnose, atol=1e-4, adapt=_as_number)
