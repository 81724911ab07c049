"""Benchmark of training (run by `make bench`; prints numbers, never fails on them).

1. Training throughput, in tokens per second, of notebook 10's translation model
   (a 2-block GPT, embeddings of 64, batches of 96 French → English pairs), on one thread.
2. The time to execute every notebook of ``solutions/``: each is copied into a
   temporary folder and run there with ``tools/execute.py``'s ``execute``, so the
   repository is not modified. (The kernel starts in the copy's folder; the
   notebooks read their data through ``helpers.paths``, so they run anywhere.)

    python tools/bench_training.py [--steps 30] [--skip-notebooks]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from helpers.corpus import load_pairs
from helpers.model import GPT, GPTConfig
from helpers.training import make_loader, train
from helpers.translation import TranslationDataset, WordVocabulary

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: tools/ is not a package on the path
from execute import REPO_ROOT, execute  # noqa: E402  (tools/execute.py)


def translation_throughput(steps: int) -> float:
    """Training tokens per second of notebook 10's translator (padding included), one thread."""
    torch.set_num_threads(1)
    pairs = load_pairs("train")
    vocab = WordVocabulary.from_texts([text for pair in pairs for text in pair])
    dataset = TranslationDataset(pairs, vocab)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=len(vocab), context_length=32, d_model=64, n_layers=2, n_heads=4,
                       dropout=0.0, qkv_bias=False, tie_weights=True)
    model = GPT(config)
    loader = make_loader(dataset, batch_size=96, seed=0, collate_fn=dataset.collate)
    train(model, loader, steps=3, lr=5e-3, progress=False)  # warm up the allocator
    start = time.perf_counter()
    history = train(model, loader, steps=steps, lr=5e-3, progress=False)
    return history.tokens_seen / (time.perf_counter() - start)


def solutions_seconds() -> dict[str, float]:
    """Seconds to execute each notebook of solutions/, run on copies in a temporary folder."""
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        for path in sorted((REPO_ROOT / "solutions").glob("*.ipynb")):
            copy = Path(folder) / path.name
            shutil.copy(path, copy)
            times[path.name] = execute(copy)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps to time (default 30)")
    parser.add_argument("--skip-notebooks", action="store_true", help="only measure the training throughput")
    args = parser.parse_args()

    print(f"translation model training: {translation_throughput(args.steps):,.0f} tokens/s (one thread)")
    if not args.skip_notebooks:
        times = solutions_seconds()
        for name, seconds in times.items():
            print(f"{seconds:7.1f} s  {name}")
        print(f"{sum(times.values()):7.1f} s  to execute all of solutions/ ({len(times)} notebooks)")


if __name__ == "__main__":
    main()
