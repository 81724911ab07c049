"""The checks of notebook 13 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks.ch13_instructions import check_choice_log_likelihood, check_format_prompt, check_response_mask_example
from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.instructions import ASSISTANT, END, USER, choice_log_likelihood, format_prompt, response_mask_example

# --- 13.1 the prompt format -------------------------------------------------------


def test_prompt_right_answers_pass(capsys):
    check_format_prompt(lambda instruction, input: f"{USER}{instruction}\n{input}{END}{ASSISTANT}")
    check_format_prompt(lambda instruction, input: "".join([USER, instruction, "\n", input, END, ASSISTANT]))
    check_format_prompt(lambda instruction, input: "%s%s\n%s%s%s" % (USER, instruction, input, END, ASSISTANT))
    check_format_prompt(format_prompt)
    assert capsys.readouterr().out.count("Exercise 13.1") == 4


def test_prompt_stub_is_not_solved():
    def stub(instruction, input):
        raise NotImplementedError("Exercise 13.1 (The prompt format) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        check_format_prompt(stub)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda i, x: f"{USER}{i}\n{x}{ASSISTANT}", "is missing before"),
    (lambda i, x: f"{USER}{i}{x}{END}{ASSISTANT}", "run together: put a newline"),
    (lambda i, x: f"{USER}{i} {x}{END}{ASSISTANT}", "a newline character"),
    (lambda i, x: USER + i + r"\n" + x + END + ASSISTANT, "not a raw string"),
    (lambda i, x: f"{ASSISTANT}{i}\n{x}{END}{USER}", "comes before"),
    (lambda i, x: f"{USER}{i}\n{x}{END}{ASSISTANT}{END}", "must END there"),
    (lambda i, x: f"{USER}{i}\n{x}{END}{ASSISTANT}the cat does not eat the apple", "must END there"),
    (lambda i, x: f"{USER}{i.strip()}\n{x.strip()}{END}{ASSISTANT}", "exactly as they are"),
    (lambda i, x: f"{i}\n{x}{END}{ASSISTANT}", "starts with"),
])
def test_prompt_wrong_answers_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_format_prompt(wrong)


# --- 13.2 mask the prompt ---------------------------------------------------------


def masked(prompt_ids, response_ids, end_id, n_masked=lambda n: n - 1, end=True, clone=True, keep_end=False):
    ids = torch.tensor(prompt_ids + response_ids + ([end_id] if end else []))
    inputs = ids if keep_end else ids[:-1]
    targets = ids[1:].clone() if clone else ids[1:]
    if keep_end:
        targets = torch.cat([targets, torch.tensor([-100])])
    targets[: n_masked(len(prompt_ids))] = -100
    return inputs, targets


def test_mask_right_answers_pass(capsys):
    check_response_mask_example(masked)
    check_response_mask_example(response_mask_example)

    def by_lists(prompt_ids, response_ids, end_id):  # lists first, tensors at the end
        sequence = prompt_ids + response_ids + [end_id]
        targets = [-100] * (len(prompt_ids) - 1) + sequence[len(prompt_ids):]
        return torch.tensor(sequence[:-1]), torch.tensor(targets)

    def with_where(prompt_ids, response_ids, end_id):
        ids = torch.tensor(prompt_ids + response_ids + [end_id])
        positions = torch.arange(len(ids) - 1)
        return ids[:-1], torch.where(positions < len(prompt_ids) - 1, -100, ids[1:])

    check_response_mask_example(by_lists)
    check_response_mask_example(with_where)
    assert capsys.readouterr().out.count("Exercise 13.2") == 4


def test_mask_stub_is_not_solved():
    def stub(prompt_ids, response_ids, end_id):
        raise NotImplementedError("Exercise 13.2 (Mask the prompt) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        check_response_mask_example(stub)


@pytest.mark.parametrize(("options", "hint"), [
    ({"n_masked": lambda n: n}, "one target too many"),
    ({"n_masked": lambda n: n - 2}, "one target too few"),
    ({"n_masked": lambda n: 0}, "nothing is masked"),
    ({"end": False}, "forgot the end token"),
    ({"keep_end": True}, "drop the LAST token"),
    ({"clone": False}, r"ids\[1:\]\.clone\(\)"),
])
def test_mask_wrong_answers_get_their_hint(options, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_response_mask_example(lambda p, r, e: masked(p, r, e, **options))


def test_mask_on_the_response_is_caught():
    def masks_response(prompt_ids, response_ids, end_id):
        inputs, targets = masked(prompt_ids, response_ids, end_id, n_masked=lambda n: 0)
        targets[len(prompt_ids) - 1 :] = -100
        return inputs, targets

    with pytest.raises(WrongAnswer, match="you masked the response"):
        check_response_mask_example(masks_response)


def test_mask_with_the_response_first_is_caught():
    def swapped(prompt_ids, response_ids, end_id):
        return masked(response_ids, prompt_ids, end_id)

    with pytest.raises(WrongAnswer, match="prompt_ids \\+ response_ids, in that order"):
        check_response_mask_example(swapped)


# --- 13.3 score a choice by log-likelihood ------------------------------------------


def log_likelihood(model, prompt_ids, choice_ids):
    ids = torch.tensor([prompt_ids + choice_ids])
    logits = model(ids)[0]
    P, C = len(prompt_ids), len(choice_ids)
    log_probs = torch.log_softmax(logits[P - 1 : P + C - 1], dim=-1)
    return log_probs[torch.arange(C), torch.tensor(choice_ids)].sum().item()


def test_choice_right_answers_pass(capsys):
    check_choice_log_likelihood(log_likelihood)
    check_choice_log_likelihood(choice_log_likelihood)

    def as_tensor(model, prompt_ids, choice_ids):  # a 0-d tensor is a fine answer too
        ids = torch.tensor([prompt_ids + choice_ids])
        logits = model(ids)[0, len(prompt_ids) - 1 : -1]
        return -F.cross_entropy(logits, torch.tensor(choice_ids), reduction="sum")

    def one_token_at_a_time(model, prompt_ids, choice_ids):  # one forward pass per choice token
        total, context = 0.0, list(prompt_ids)
        for token in choice_ids:
            last = model(torch.tensor([context]))[0, -1]
            total += torch.log_softmax(last, dim=-1)[token].item()
            context.append(token)
        return total

    check_choice_log_likelihood(as_tensor)
    check_choice_log_likelihood(one_token_at_a_time)
    assert capsys.readouterr().out.count("Exercise 13.3") == 4


def test_choice_stub_is_not_solved():
    def stub(model, prompt_ids, choice_ids):
        raise NotImplementedError("Exercise 13.3 (Score a choice by log-likelihood) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        check_choice_log_likelihood(stub)


@torch.no_grad()
def _picked(model, prompt_ids, choice_ids, start, dim=-1):
    """log_softmax(logits, dim)[start + j, choice[j]] for each j, and the logits."""
    logits = model(torch.tensor([prompt_ids + choice_ids]))[0]
    rows = torch.arange(start, start + len(choice_ids))
    return torch.log_softmax(logits, dim=dim)[rows, torch.tensor(choice_ids)], logits[rows, torch.tensor(choice_ids)]


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda m, p, c: float(_picked(m, p, c, len(p))[0].sum()), "off by one"),
    (lambda m, p, c: float(_picked(m, p, c, len(p) - 1)[0].mean()), "MEAN over the choice"),
    (lambda m, p, c: torch.log_softmax(m(torch.tensor([p + c]))[0, :-1], -1)[
        torch.arange(len(p) + len(c) - 1), torch.tensor(p + c)[1:]].sum().item(), "included the prompt"),
    (lambda m, p, c: float(_picked(m, p, c, len(p) - 1)[0].exp().sum()), "added probabilities"),
    (lambda m, p, c: float(_picked(m, p, c, len(p) - 1)[0].sum().exp()), "is a probability"),
    (lambda m, p, c: float(_picked(m, p, c, len(p) - 1, dim=0)[0].sum()), "wrong axis"),
    (lambda m, p, c: -float(_picked(m, p, c, len(p) - 1)[0].sum()), "minus the log-likelihood"),
    (lambda m, p, c: float(_picked(m, p, c, len(p) - 1)[1].sum()), "raw logits"),
])
def test_choice_wrong_answers_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_choice_log_likelihood(wrong)


def test_choice_answer_that_is_not_a_number_is_told_so():
    with pytest.raises(WrongAnswer, match="return one number"):
        check_choice_log_likelihood(lambda m, p, c: [0.0])


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    check_format_prompt(format_prompt)
    check_response_mask_example(response_mask_example)
    check_choice_log_likelihood(choice_log_likelihood)
    assert capsys.readouterr().out.count("✅") == 3
