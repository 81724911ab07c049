"""The rank sweep of notebook 14: LoRA at ranks 1 … 32 on notebook 12's word-order task (``make lora-sweep``).

Each rank is fine-tuned exactly as notebook 14 fine-tunes rank 8 (all six linear
layers of every block adapted, alpha = 2 · rank, the new head trained too, 200
steps at lr 2e-3, seed 0), and tested on both test splits. The results go to
``data/lora_rank_sweep.json``, which the notebook plots: six runs take about four
minutes on two cores, more than a notebook may. The notebook reruns rank 8 itself
and checks it against this file.

    python tools/sweep_lora.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from helpers.classification import ClassificationDataset, GPTClassifier, accuracy, fine_tune, word_order_splits
from helpers.lora import LORA_TARGETS, add_lora, trainable_parameters
from helpers.paths import DATA_DIR
from helpers.pretrained import load_base_model
from helpers.training import make_loader

RANKS = (1, 2, 4, 8, 16, 32)
SWEEP_PATH = DATA_DIR / "lora_rank_sweep.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, tokenizer = load_base_model()
    pad_id = tokenizer.special_tokens["<|endoftext|>"]
    splits = word_order_splits(n_train=1600, n_test=300)
    datasets = {name: ClassificationDataset(*split, tokenizer, pad_id, max_length=64) for name, split in splits.items()}
    tests = {name: make_loader(datasets[name], 300, shuffle=False, collate_fn=datasets[name].collate)
             for name in ("test_combinations", "test_new_words")}
    runs = []
    for rank in RANKS:
        torch.manual_seed(0)
        classifier = GPTClassifier(load_base_model()[0], pad_id)
        add_lora(classifier, rank=rank, alpha=2 * rank, targets=LORA_TARGETS)
        classifier.head.requires_grad_(True)
        start = time.perf_counter()
        fine_tune(classifier, datasets["train"], lr=2e-3, progress=False)
        seconds = time.perf_counter() - start
        run = {"rank": rank, "trainable": trainable_parameters(classifier)[0], "seconds": round(seconds, 1),
               **{name: round(accuracy(classifier, loader), 4) for name, loader in tests.items()}}
        print(run, flush=True)
        runs.append(run)
    SWEEP_PATH.write_text(json.dumps({"made_by": "tools/sweep_lora.py", "threads": args.threads,
                                      "machine": platform.machine(), "runs": runs}, indent=1) + "\n")
    print(f"wrote {SWEEP_PATH}")


if __name__ == "__main__":
    main()
