"""The checks of notebook 10 pass right answers and catch plausible wrong ones with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.checks.ch10_training import check_cross_entropy_by_hand, check_next_token_windows, check_translation_example
from helpers.training import next_token_windows
from helpers.translation import translation_example

# --- 10.1 next-token windows -----------------------------------------------


def windows(ids, context_length, stride):
    starts = range(0, len(ids) - context_length, stride)
    inputs = torch.tensor([ids[s : s + context_length] for s in starts])
    targets = torch.tensor([ids[s + 1 : s + context_length + 1] for s in starts])
    return inputs, targets


def test_windows_right_answer_passes(capsys):
    check_next_token_windows(windows)
    assert "Exercise 10.1" in capsys.readouterr().out


def test_windows_targets_not_shifted_are_caught():
    def same(ids, context_length, stride):
        inputs, _ = windows(ids, context_length, stride)
        return inputs, inputs.clone()

    with pytest.raises(WrongAnswer, match="targets equal your inputs"):
        check_next_token_windows(same)


def test_windows_stride_ignored_is_caught():
    def every_start(ids, context_length, stride):
        return windows(ids, context_length, 1)

    with pytest.raises(WrongAnswer, match="EVERY start"):
        check_next_token_windows(every_start)


def test_windows_last_window_dropped_is_caught():
    def short_range(ids, context_length, stride):
        starts = range(0, len(ids) - context_length - 1, stride)
        inputs = torch.tensor([ids[s : s + context_length] for s in starts])
        targets = torch.tensor([ids[s + 1 : s + context_length + 1] for s in starts])
        return inputs, targets

    with pytest.raises(WrongAnswer, match="dropped the last window"):
        check_next_token_windows(short_range)


def test_windows_shifted_the_wrong_way_is_caught():
    def backwards(ids, context_length, stride):
        inputs, targets = windows(ids, context_length, stride)
        return targets, inputs

    with pytest.raises(WrongAnswer, match="10.1"):
        check_next_token_windows(backwards)


def test_windows_stub_is_not_solved():
    def stub(ids, context_length, stride):
        raise NotImplementedError("Exercise 10.1 (Cut a text into next-token windows) is not solved yet")

    with pytest.raises(ExerciseNotSolved):
        check_next_token_windows(stub)


# --- 10.2 cross-entropy by hand --------------------------------------------


def by_hand(logits, targets):
    return -torch.log_softmax(logits, dim=-1)[torch.arange(len(targets)), targets].mean()


def test_cross_entropy_right_answers_pass(capsys):
    check_cross_entropy_by_hand(by_hand)
    check_cross_entropy_by_hand(F.cross_entropy)
    assert capsys.readouterr().out.count("Exercise 10.2") == 2


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda lg, tg: torch.log_softmax(lg, -1)[torch.arange(len(tg)), tg].mean(), "forgot to negate"),
        (lambda lg, tg: -torch.log_softmax(lg, -1)[torch.arange(len(tg)), tg].sum(), "summed over positions"),
        (lambda lg, tg: -torch.log_softmax(lg, -1)[torch.arange(len(tg)), tg], "one loss per position"),
        (lambda lg, tg: -torch.log_softmax(lg, 0)[torch.arange(len(tg)), tg].mean(), "wrong axis"),
        (lambda lg, tg: -torch.softmax(lg, -1)[torch.arange(len(tg)), tg].mean(), "skipped the log"),
        (lambda lg, tg: -torch.log(lg[torch.arange(len(tg)), tg]).mean(), "log of the logits"),
        (lambda lg, tg: -torch.log(torch.softmax(lg, -1))[torch.arange(len(tg)), tg].mean(), "use torch.log_softmax"),
    ],
)
def test_cross_entropy_plausible_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_cross_entropy_by_hand(wrong)


# --- 10.3 the loss mask -----------------------------------------------------


def example(french_ids, english_ids, sep_id, eos_id, n_masked=None):
    ids = torch.tensor(french_ids + [sep_id] + english_ids + [eos_id])
    inputs, targets = ids[:-1], ids[1:].clone()
    targets[: len(french_ids) if n_masked is None else n_masked(len(french_ids))] = -100
    return inputs, targets


def test_mask_right_answer_passes(capsys):
    check_translation_example(example)
    assert "Exercise 10.3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("n_masked", "hint"),
    [(lambda n: n - 1, "one too few"), (lambda n: n + 1, "one target too many"), (lambda n: 0, "nothing is masked")],
)
def test_mask_off_by_one_is_caught(n_masked, hint):
    with pytest.raises(WrongAnswer, match=hint):
        check_translation_example(lambda f, e, s, eos: example(f, e, s, eos, n_masked))


def test_mask_inputs_keeping_eos_are_caught():
    def keeps_eos(french_ids, english_ids, sep_id, eos_id):
        ids = torch.tensor(french_ids + [sep_id] + english_ids + [eos_id])
        targets = torch.cat([ids[1:], torch.tensor([-100])])
        targets[: len(french_ids)] = -100
        return ids, targets

    with pytest.raises(WrongAnswer, match="drop the LAST token"):
        check_translation_example(keeps_eos)


def test_mask_on_the_english_part_is_caught():
    def masks_english(french_ids, english_ids, sep_id, eos_id):
        inputs, targets = example(french_ids, english_ids, sep_id, eos_id, lambda n: 0)
        targets[len(french_ids) :] = -100
        return inputs, targets

    with pytest.raises(WrongAnswer, match="masked the English part"):
        check_translation_example(masks_english)


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    check_next_token_windows(next_token_windows)
    check_cross_entropy_by_hand(F.cross_entropy)
    check_translation_example(translation_example)
    assert capsys.readouterr().out.count("✅") == 3


def test_window_and_clone_mistakes_get_hints_that_fit():
    from helpers.checks import ch10_training

    def one_window_too_many(ids, context_length, stride):
        starts = range(0, len(ids) - context_length + 1, stride)
        return (torch.stack([torch.tensor(ids[s : s + context_length]) for s in starts]),
                torch.stack([torch.tensor(ids[s + 1 : s + context_length + 1]) for s in starts]))

    def no_clone(french_ids, english_ids, sep_id, eos_id):
        ids = torch.tensor(french_ids + [sep_id] + english_ids + [eos_id])
        inputs, targets = ids[:-1], ids[1:]
        targets[: len(french_ids)] = -100
        return inputs, targets

    with pytest.raises(WrongAnswer) as info:
        ch10_training.check_next_token_windows(one_window_too_many)
    assert "your code raised RuntimeError" in str(info.value) and "range(0, len(ids) - context_length, stride)" in str(info.value)
    with pytest.raises(WrongAnswer, match=r"ids\[1:\].clone\(\)"):
        ch10_training.check_translation_example(no_clone)
