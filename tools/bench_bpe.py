"""Benchmark of helpers/bpe.py (run by `make bench`; prints numbers, never fails on them).

1. Training a vocabulary of 2,048 tokens on the course's English prose, with the
   textbook trainer of helpers/bpe.py (``train_bpe``: re-count every pair after every
   merge) and with its incremental trainer (``train_bpe_fast``); same merges.
2. Encoding the prose with the from-scratch GPT-2 tokenizer, against tiktoken.

    python tools/bench_bpe.py [--vocab-size 2048]
"""

from __future__ import annotations

import argparse
import time

from helpers.bpe import gpt2_encoding, gpt2_tokenizer, train_bpe, train_bpe_fast
from helpers.paths import DATA_DIR


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

    fast_s, fast = seconds(train_bpe_fast, text, args.vocab_size)
    print(f"  incremental trainer (helpers.bpe.train_bpe_fast):          {fast_s:8.2f} s")
    naive_s, naive = seconds(train_bpe, text, args.vocab_size)
    print(f"  textbook trainer (helpers.bpe.train_bpe, re-counts each merge): {naive_s:8.2f} s")
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
