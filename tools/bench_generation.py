"""Benchmark: how much faster is generation with a KV cache? (run by ``make bench``)

A GPT with random weights (timing does not need trained ones) and a context of
1024 tokens reads a 256-token prompt and generates 256 more greedily, once
without a cache (every step runs the model on the whole sequence so far) and
once with one (every step runs only the newest token). The model is small and
the sequence long, so the work that grows with the sequence — re-reading it
every step — dominates the uncached run. The script prints both speeds and their
ratio; the target is a speed-up of 5x or more on a laptop CPU. It never fails on
a number: timings depend on the machine and on what else it is running.

    python tools/bench_generation.py [--new-tokens 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from helpers.generation import generate
from helpers.model import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=512, context_length=1024, d_model=128, n_layers=4, n_heads=4, dropout=0.0)
PROMPT_TOKENS = 256


def seconds_to_generate(model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> tuple[float, torch.Tensor]:
    """Wall-clock seconds for one greedy generation, and the tokens it produced."""
    start = time.perf_counter()
    tokens = generate(model, prompt, new_tokens, use_cache=use_cache)
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: steadiest on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = GPT(CONFIG).eval()
    prompt = torch.randint(0, CONFIG.vocab_size, (1, PROMPT_TOKENS))
    generate(model, prompt, 8)  # warm-up: first calls allocate memory

    cached_s, cached = seconds_to_generate(model, prompt, args.new_tokens, use_cache=True)
    uncached_s, uncached = seconds_to_generate(model, prompt, args.new_tokens, use_cache=False)
    same = torch.equal(cached, uncached)

    print(
        f"KV-cache benchmark: GPT d_model={CONFIG.d_model}, {CONFIG.n_layers} layers, "
        f"{CONFIG.n_heads} heads, context {CONFIG.context_length}; prompt {PROMPT_TOKENS} tokens, "
        f"{args.new_tokens} new tokens, {torch.get_num_threads()} torch threads"
    )
    print(f"  without cache: {uncached_s:6.2f} s  ({args.new_tokens / uncached_s:7.1f} tokens/s)")
    print(f"  with cache:    {cached_s:6.2f} s  ({args.new_tokens / cached_s:7.1f} tokens/s)")
    print(f"  speed-up:      {uncached_s / cached_s:.1f}x (target: 5x or more)  same tokens: {same}")


if __name__ == "__main__":
    main()
