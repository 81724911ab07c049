"""The checks of notebook 06 accept the right answers and catch plausible wrong ones."""

from __future__ import annotations

from collections import Counter

import pytest

from helpers.bpe import count_pairs, merge_pair
from helpers.checks.core import ExerciseNotSolved, WrongAnswer
from helpers.checks.ch06_bpe import check_bpe_count_pairs, check_bpe_encode, check_bpe_merge_pair, check_bpe_vocab
from helpers import bpe


def stub(*args):
    raise NotImplementedError("Exercise 6.1 (Count neighbouring pairs) is not solved yet — replace this line.")


def wrong(check, answer, hint: str) -> None:
    with pytest.raises(WrongAnswer) as info:
        check(answer)
    assert hint in str(info.value)


# --- 6.1 ---------------------------------------------------------------------


def test_count_pairs_right_answers_pass(capsys):
    check_bpe_count_pairs(count_pairs)

    def with_a_dict(ids):
        counts = {}
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        return counts

    check_bpe_count_pairs(with_a_dict)
    assert capsys.readouterr().out.count("✅ Exercise 6.1") == 2


def test_count_pairs_unsolved():
    with pytest.raises(ExerciseNotSolved, match="not solved yet"):
        check_bpe_count_pairs(stub)


def test_count_pairs_off_by_one_is_caught():
    wrong(check_bpe_count_pairs, lambda ids: Counter((ids[i], ids[i + 1]) for i in range(len(ids) - 2)),
          "the last pair is missing")


def test_count_pairs_wrap_around_is_caught():
    wrong(check_bpe_count_pairs, lambda ids: Counter(zip(ids, ids[1:] + ids[:1])), "do not wrap around")


def test_count_pairs_set_instead_of_counts_is_caught():
    wrong(check_bpe_count_pairs, lambda ids: {pair: 1 for pair in zip(ids, ids[1:])},
          "count every occurrence")


def test_count_pairs_without_overlaps_is_caught():
    def no_overlap(ids):
        counts, i = Counter(), 0
        while i < len(ids) - 1:
            pair = (ids[i], ids[i + 1])
            counts[pair] += 1
            i += 2 if pair[0] == pair[1] else 1
        return counts

    wrong(check_bpe_count_pairs, no_overlap, "count both")


# --- 6.2 ---------------------------------------------------------------------


def test_merge_pair_right_answer_passes(capsys):
    check_bpe_merge_pair(merge_pair)
    assert "✅ Exercise 6.2" in capsys.readouterr().out


def test_merge_pair_unsolved():
    with pytest.raises(ExerciseNotSolved):
        check_bpe_merge_pair(stub)


def test_merge_pair_overlapping_matches_are_caught():
    def overlapping(ids, pair, new_id):
        out = []
        for i in range(len(ids)):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
            elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
                out.append(ids[i])
        return out

    wrong(check_bpe_merge_pair, overlapping, "jump over both ids")


def test_merge_pair_dropping_the_tail_is_caught():
    def drops_tail(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out

    wrong(check_bpe_merge_pair, drops_tail, "the last id is missing")


def test_merge_pair_in_place_is_caught():
    def in_place(ids, pair, new_id):
        i = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                ids[i : i + 2] = [new_id]
            i += 1
        return ids

    wrong(check_bpe_merge_pair, in_place, "do not change your inputs in place")


# --- 6.3 ---------------------------------------------------------------------


def right_encode(ids, merges):
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        ids = merge_pair(ids, pair, merges[pair])
    return ids


def test_encode_right_answers_pass(capsys):
    check_bpe_encode(right_encode)

    def in_table_order(ids, merges):  # also right: one pass per merge, in the order learned
        for pair, new_id in merges.items():
            ids = merge_pair(ids, pair, new_id)
        return list(ids)

    check_bpe_encode(in_table_order)
    assert capsys.readouterr().out.count("✅ Exercise 6.3") == 2


def test_encode_unsolved():
    with pytest.raises(ExerciseNotSolved):
        check_bpe_encode(stub)


def test_encode_most_frequent_pair_first_is_caught():
    def most_frequent_first(ids, merges):
        ids = list(ids)
        while True:
            counts = {p: n for p, n in count_pairs(ids).items() if p in merges}
            if not counts:
                return ids
            pair = max(counts, key=counts.get)
            ids = merge_pair(ids, pair, merges[pair])

    wrong(check_bpe_encode, most_frequent_first, "apply the merge learned first")


def test_encode_left_to_right_order_is_caught():
    def leftmost_first(ids, merges):
        ids = list(ids)
        while True:
            pairs = [p for p in zip(ids, ids[1:]) if p in merges]
            if not pairs:
                return ids
            ids = merge_pair(ids, pairs[0], merges[pairs[0]])

    wrong(check_bpe_encode, leftmost_first, "apply the merge learned first")


def test_encode_single_pass_is_caught():
    def one_pass(ids, merges):
        present = [p for p in merges if p in set(zip(ids, ids[1:]))]
        for pair in present:
            ids = merge_pair(ids, pair, merges[pair])
        return list(ids)

    wrong(check_bpe_encode, one_pass, "keep merging")


# --- 6.4 ---------------------------------------------------------------------


def right_vocab(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():
        vocab[new_id] = vocab[left] + vocab[right]
    return vocab


def test_vocab_right_answer_passes(capsys):
    check_bpe_vocab(right_vocab)
    assert "✅ Exercise 6.4" in capsys.readouterr().out


def test_vocab_unsolved():
    with pytest.raises(ExerciseNotSolved):
        check_bpe_vocab(stub)


def test_vocab_reversed_concatenation_is_caught():
    def reversed_concat(merges):
        vocab = {i: bytes([i]) for i in range(256)}
        for (left, right), new_id in merges.items():
            vocab[new_id] = vocab[right] + vocab[left]
        return vocab

    wrong(check_bpe_vocab, reversed_concat, "LEFT token's bytes followed by the RIGHT")


def test_vocab_str_tokens_are_caught():
    def as_str(merges):
        vocab = {i: chr(i) for i in range(256)}
        for (left, right), new_id in merges.items():
            vocab[new_id] = vocab[left] + vocab[right]
        return vocab

    wrong(check_bpe_vocab, as_str, "tokens are bytes, not str")


def test_vocab_without_single_bytes_is_caught():
    def merges_only(merges):
        base = {i: bytes([i]) for i in range(256)}
        vocab = {}
        for (left, right), new_id in merges.items():
            vocab[new_id] = vocab.get(left, base.get(left, b"")) + vocab.get(right, base.get(right, b""))
        return vocab

    wrong(check_bpe_vocab, merges_only, "start from the 256 single bytes")


def test_every_check_accepts_the_librarys_own_implementation(capsys):
    check_bpe_count_pairs(bpe.count_pairs)
    check_bpe_merge_pair(bpe.merge_pair)
    check_bpe_encode(bpe.apply_merges)
    check_bpe_vocab(lambda merges: bpe.BPETokenizer(merges).vocab)
    assert capsys.readouterr().out.count("✅") == 4


def merge_from_the_right(ids, pair, new_id):
    out, i = [], len(ids) - 1
    while i >= 0:
        if i > 0 and (ids[i - 1], ids[i]) == pair:
            out.append(new_id)
            i -= 2
        else:
            out.append(ids[i])
            i -= 1
    return out[::-1]


def vocab_of_two_bytes(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():
        vocab[new_id] = bytes([left, right])
    return vocab


@pytest.mark.parametrize("check, wrong, shown", [
    ("check_bpe_merge_pair", merge_from_the_right, ["you matched the pairs from the right"]),
    ("check_bpe_vocab", vocab_of_two_bytes, ["your code raised ValueError", "vocab[left] + vocab[right]"]),
])
def test_check_bpe_gives_hints_that_fit(check, wrong, shown):
    from helpers.checks import ch06_bpe

    with pytest.raises(WrongAnswer) as info:
        getattr(ch06_bpe, check)(wrong)
    assert all(text in str(info.value) for text in shown), str(info.value)
