"""Benchmark of helpers/bpe.py (run by `make bench`; prints numbers, never fails on them).

1. Training a vocabulary of 2,048 tokens on the course's English prose, with the
   incremental trainer of helpers/bpe.py and with a naive trainer that re-counts
   every pair of the corpus after every merge (same chunks, same merges; it
   takes minutes).
2. Encoding the prose with the from-scratch GPT-2 tokenizer, against tiktoken.

    python tools/bench_bpe.py [--vocab-size 2048]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence

from helpers.bpe import (
    ENDOFTEXT,
    BPETokenizer,
    check_vocab_size,
    chunk_counts,
    count_pairs,
    gpt2_encoding,
    gpt2_tokenizer,
    merge_pair,
    train_bpe,
)
from helpers.paths import DATA_DIR


def train_bpe_naive(text: str, vocab_size: int, special_tokens: Sequence[str] = (ENDOFTEXT,)) -> BPETokenizer:
    """The textbook loop: count every pair of the whole corpus, merge the most frequent, repeat."""
    n_merges = check_vocab_size(vocab_size, special_tokens)
    counts = chunk_counts(text, special_tokens=special_tokens)
    chunks = sorted(counts)
    words = [list(chunk.encode("utf-8")) for chunk in chunks]
    merges: dict[tuple[int, int], int] = {}
    for new_id in range(256, 256 + n_merges):
        pair_counts: Counter[tuple[int, int]] = Counter()
        for chunk, ids in zip(chunks, words):
            for pair, n in count_pairs(ids).items():
                pair_counts[pair] += n * counts[chunk]
        pair = min(pair_counts, key=lambda p: (-pair_counts[p], p))  # most frequent, then smallest
        merges[pair] = new_id
        words = [merge_pair(ids, pair, new_id) for ids in words]
    specials = {token: 256 + n_merges + i for i, token in enumerate(special_tokens)}
    return BPETokenizer(merges, specials)


def seconds(func, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=2048)
    args = parser.parse_args()
    text = (DATA_DIR / "prose_python_reference.txt").read_text(encoding="utf-8")
    print(f"BPE benchmark: {len(text.encode()):,} bytes of prose, vocabulary {args.vocab_size:,}")

    fast_s, fast = seconds(train_bpe, text, args.vocab_size)
    print(f"  incremental trainer (helpers.bpe.train_bpe): {fast_s:8.2f} s")
    naive_s, naive = seconds(train_bpe_naive, text, args.vocab_size)
    print(f"  naive trainer (re-count after every merge):  {naive_s:8.2f} s")
    same = "same merges" if fast.merges == naive.merges else "DIFFERENT MERGES"
    print(f"  speed-up of the incremental trainer: {naive_s / fast_s:.1f}x ({same})")

    gpt2_tokenizer(), gpt2_encoding()  # load both before timing
    ours_s, ours = seconds(gpt2_tokenizer().encode_ordinary, text)
    tiktoken_s, theirs = seconds(gpt2_encoding().encode_ordinary, text)
    agree = "same tokens" if ours == theirs else "DIFFERENT TOKENS"
    print(f"GPT-2 encoding of the prose ({len(theirs):,} tokens, {agree}):")
    print(f"  from scratch: {len(ours) / ours_s:12,.0f} tokens/s")
    print(f"  tiktoken:     {len(theirs) / tiktoken_s:12,.0f} tokens/s")
    print(f"  from scratch / tiktoken throughput: {tiktoken_s / ours_s:.3f}")


if __name__ == "__main__":
    main()
