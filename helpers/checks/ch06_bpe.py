"""Checks of notebook 06 · BPE tokenization (references: ``helpers.bpe``, tested against tiktoken)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from helpers.bpe import BPETokenizer, merge_pair
from helpers.checks.core import Case, Cases, exercise


# "aaabdaaabac" as byte ids, and the compression table Z = aa, Y = ab, X = ZY.
BPE_EXAMPLE_IDS = list(b"aaabdaaabac")
BPE_EXAMPLE_MERGES = {(97, 97): 256, (97, 98): 257, (256, 257): 258}


@exercise("6.1", "Count neighbouring pairs", success="These counts pick the pair to merge.")
def check_bpe_count_pairs() -> Cases:
    """every pair of neighbours, counted each time it occurs (overlaps included)."""
    cases = [
        Case(([1, 2, 1, 2, 3],), {(1, 2): 2, (2, 1): 1, (2, 3): 1}),
        Case(([5, 5, 5],), {(5, 5): 2},
             "in [5, 5, 5] the pair (5, 5) starts at position 0 and at position 1: count both."),
        Case(([7],), {}, "one id has no neighbour: no pairs, an empty dict."),
        Case(([],), {}, "an empty list has no pairs: return an empty dict."),
        Case((BPE_EXAMPLE_IDS,), {(97, 97): 4, (97, 98): 2, (98, 100): 1, (100, 97): 1, (98, 97): 1, (97, 99): 1}),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        ids, expected = case.args[0], case.expected
        if case.hint:  # the edge cases carry their own hint
            return None
        if got == dict(Counter(zip(ids[:-1], ids[1:-1]))):
            return ("the last pair is missing: a list of n ids has n - 1 pairs, at positions "
                    "0 .. n-2 (zip(ids, ids[1:]) gives them all).")
        if got == dict(Counter(zip(ids, ids[1:] + ids[:1]))):
            return "the last id has no right neighbour: do not wrap around to the first id."
        if isinstance(got, dict) and set(got) == set(expected) and all(n == 1 for n in got.values()):
            return "count every occurrence of a pair, not only whether it occurs."
        return None

    return Cases(cases, diagnose)


@exercise("6.2", "Merge one pair", success="One merge step works.")
def check_bpe_merge_pair() -> Cases:
    """replace each occurrence of the pair, left to right, without overlaps; a new list."""
    a, b, c, d = 97, 98, 99, 100
    cases = [
        Case(([1, 2, 1, 2], (1, 2), 9), [9, 9]),
        Case(([1, 1, 1], (1, 1), 9), [9, 1],
             "after a match, jump over both ids: in [1, 1, 1] the second 1 is already used, "
             "so the answer is [9, 1], not [9, 9]."),
        Case(([3, 1, 2], (1, 2), 9), [3, 9]),
        Case(([1, 2, 3], (2, 1), 9), [1, 2, 3], "a pair is ordered: (2, 1) is not (1, 2)."),
        Case(([4], (4, 4), 9), [4]),
        Case(([], (1, 2), 9), [], "an empty list stays empty."),
        Case((BPE_EXAMPLE_IDS, (a, a), 256), [256, a, b, d, 256, a, b, a, c],
             "aaabdaaabac with Z = aa is ZabdZabac: replace every occurrence of the pair."),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if isinstance(got, list) and got == case.expected[:-1] and case.expected:
            return ("the last id is missing: when the loop stops before the end, "
                    "append the ids that are left.")
        ids, pair, new_id = case.args
        from_the_right = merge_pair(ids[::-1], pair[::-1], new_id)[::-1]
        if got == from_the_right != case.expected:
            return ("you matched the pairs from the right: scan from the LEFT, so in [1, 1, 1] the first "
                    "two 1s merge and the answer is [9, 1].")
        return None

    return Cases(cases, diagnose, inputs_unchanged=True)


@exercise("6.3", "Encode with a merge table", success="You can encode with a BPE table.")
def check_bpe_encode() -> Cases:
    """apply the merges in the order they were learned, each to the result of the earlier ones."""
    order_hint = ("apply the merge learned first (the smallest new id) before later ones, "
                  "whatever the order of the pairs in the text or their frequency.")
    cases = [
        Case(([97, 98, 99], {(98, 99): 256, (97, 98): 257}), [97, 256], order_hint),
        Case(([2, 3, 2, 3, 1, 2, 3], {(1, 2): 256, (2, 3): 257}), [257, 257, 256, 3], order_hint),
        Case(([1, 2, 3, 4, 1, 2], {(1, 2): 256, (256, 3): 257, (257, 4): 258}), [258, 256],
             "a merge can use a token made by an earlier merge: keep merging until no pair "
             "of the table is left."),
        Case((BPE_EXAMPLE_IDS, BPE_EXAMPLE_MERGES), [258, 100, 258, 97, 99],
             "aaabdaaabac with Z = aa, Y = ab, X = ZY is XdXac."),
        Case(([1, 2, 3], {}), [1, 2, 3], "with no merges the ids stay as they are."),
        Case(([5], BPE_EXAMPLE_MERGES), [5]),
        Case(([], BPE_EXAMPLE_MERGES), [], "an empty list stays empty."),
    ]
    return Cases(cases)


@exercise("6.4", "Build the vocabulary from the merges", success="Every id now has its bytes: you can decode.")
def check_bpe_vocab() -> Cases:
    """256 single bytes, then one token per merge: the two tokens' bytes, left then right."""

    def vocab_for(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
        return BPETokenizer(merges).vocab

    example = {**vocab_for({}), 256: b"aa", 257: b"ab", 258: b"aaab"}
    swapped = {(98, 99): 256, (97, 256): 257}
    cases = [
        Case((BPE_EXAMPLE_MERGES,), example,
             "a merged token is its two tokens' bytes joined, vocab[left] + vocab[right]: token 258 "
             "(256 then 257) is b'aa' + b'ab' = b'aaab', four bytes."),
        Case(({},), vocab_for({}), "with no merges the vocabulary is the 256 single bytes: bytes([i])."),
        Case((swapped,), vocab_for(swapped)),
    ]

    def diagnose(got: Any, case: Case) -> str | None:
        if not isinstance(got, dict):
            return None
        if any(isinstance(value, str) for value in got.values()):
            return "tokens are bytes, not str: bytes([i]), and b'a' + b'b' joins two tokens."
        if len(got) < 256 or got.get(0) != b"\x00":
            return "start from the 256 single bytes: vocab[i] = bytes([i]) for i in range(256)."
        merges = case.args[0]
        for (left, right), new_id in merges.items():
            if got.get(new_id) == case.expected[right] + case.expected[left]:
                return "a merged token is the LEFT token's bytes followed by the RIGHT token's bytes."
        return None

    return Cases(cases, diagnose)
