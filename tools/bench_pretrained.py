"""Benchmark of the course's base model (run by `make bench`; prints numbers, never fails on them).

1. Bits per byte of the base model on ``heldout_text()`` (190 KB of the novels it never
   trained on), what ``lzma`` (preset 9, extreme) achieves on the same text — alone,
   and after reading the training text — and the ratios.
2. Loading the model, and generating 100 new tokens with the KV cache.
3. Greedy and sampled continuations of a few prompts, to read.

    python tools/bench_pretrained.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/ is a folder of scripts
from pretrain import lzma_bits_per_byte  # noqa: E402  (tools/pretrain.py)

from helpers.generation import generate  # noqa: E402
from helpers.pretrained import bits_per_byte, heldout_text, load_base_model, training_text  # noqa: E402

PROMPTS = ("It is a truth universally acknowledged", "The captain looked at the sea, and", "She could not help thinking")


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    model, tokenizer = load_base_model()
    load_s = time.perf_counter() - start
    heldout = heldout_text()
    n_bytes = len(heldout.encode())
    model_bpb = bits_per_byte(model, tokenizer.encode(heldout), n_bytes)
    lzma_alone = lzma_bits_per_byte(heldout.encode())
    lzma_after = lzma_bits_per_byte(heldout.encode(), before=training_text().encode())
    print(f"base model on the held-out novels ({n_bytes:,} bytes):")
    print(f"  base model: {model_bpb:.3f} bits per byte")
    print(f"  lzma:       {lzma_alone:.3f} bits per byte alone, {lzma_after:.3f} after reading the training text")
    print(f"  ratio to lzma: {model_bpb / lzma_alone:.3f} (target: 0.7 or less); "
          f"to lzma after the training text: {model_bpb / lzma_after:.3f}")

    prompt = torch.tensor([tokenizer.encode(PROMPTS[1])])
    generate(model, prompt, 5)  # warm-up
    start = time.perf_counter()
    generate(model, prompt, 100)
    print(f"loading the model: {load_s:.2f} s; 100 new tokens with the KV cache: {time.perf_counter() - start:.2f} s "
          f"(one thread; target: under 2 s each)")
    for text in PROMPTS:
        ids = torch.tensor([tokenizer.encode(text)])
        greedy = tokenizer.decode(generate(model, ids, 40)[0].tolist())
        sampled = tokenizer.decode(generate(model, ids, 40, temperature=0.8, top_k=50,
                                            generator=torch.Generator().manual_seed(0))[0].tolist())
        print(f"  greedy:  {greedy!r}\n  sampled: {sampled!r}")


if __name__ == "__main__":
    main()
