"""Pretrain the course's base model (``make pretrain``): the notebook-10 loop, at a larger scale.

    python tools/pretrain.py                     # the committed model: about 40 minutes on 2 cores
    python tools/pretrain.py --device cuda       # the same run on a GPU
    python tools/pretrain.py --steps 50 --out /tmp/try   # a quick trial
    python tools/pretrain.py --stop-step 250 --out /tmp/check   # the committed run's first 250 steps

1. Train the course's BPE tokenizer (``helpers.bpe.train_bpe_fast``, 4,096 tokens)
   on ``data/novels/train.txt``.
2. Cut the encoded text into windows of 256 tokens; keep the last 0.5 % as a
   validation set the model does not train on.
3. Train a GPT (``helpers.model``) with ``helpers.training.train``: AdamW, warm-up
   and cosine decay, weight decay, bfloat16 mixed precision, every seed fixed.
4. Measure bits per byte on ``data/novels/heldout.txt`` (never trained on) and
   what ``lzma`` achieves on the same text, and write into ``--out``:
   ``tokenizer.json``, ``model.safetensors``, ``config.json`` (model and training
   settings, measured results) and ``training_log.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import save_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from helpers.bpe import ENDOFTEXT, train_bpe_fast  # noqa: E402
from helpers.model import GPT, GPTConfig, count_parameters  # noqa: E402
from helpers.pretrained import BASE_MODEL_DIR, bits_per_byte, heldout_text, training_text  # noqa: E402
from helpers.training import NextTokenDataset, evaluate, make_loader, train  # noqa: E402

VOCAB_SIZE = 4096
CONFIG = GPTConfig(vocab_size=VOCAB_SIZE, context_length=256, d_model=256, n_layers=6, n_heads=8,
                   dropout=0.0, qkv_bias=False, tie_weights=True)
TRAINING = dict(steps=3000, batch_size=16, lr=1e-3, warmup_steps=200, weight_decay=0.1, eval_every=250)
SEED = 0


def lzma_bits_per_byte(text: bytes, before: bytes = b"") -> float:
    """What ``lzma`` (preset 9, extreme) needs per byte of ``text``, optionally having seen ``before``."""
    def size(data: bytes) -> int:
        return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))

    return 8 * (size(before + text) - (size(before) if before else 0)) / len(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    parser.add_argument("--out", type=Path, default=BASE_MODEL_DIR)
    parser.add_argument("--stop-step", type=int, default=None,
                        help="stop after this step of the same schedule: its losses must equal the committed log's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = {**TRAINING, "steps": args.steps, "warmup_steps": min(TRAINING["warmup_steps"], args.steps // 10)}
    args.out.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        log_lines.append(line)

    started = time.perf_counter()
    text, heldout = training_text(), heldout_text()
    log(f"data: {len(text.encode()):,} bytes of training prose, {len(heldout.encode()):,} held out "
        f"(sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}…)")

    tokenizer = train_bpe_fast(text, VOCAB_SIZE, special_tokens=[ENDOFTEXT])
    tokenizer.save(args.out / "tokenizer.json")
    ids = tokenizer.encode_ordinary(text)
    heldout_ids = tokenizer.encode_ordinary(heldout)
    log(f"tokenizer: {tokenizer.vocab_size:,} tokens, {len(text.encode()) / len(ids):.2f} bytes per token; "
        f"{len(ids):,} training tokens ({time.perf_counter() - started:.0f} s)")

    split = int(0.995 * len(ids))
    context = CONFIG.context_length
    train_set = NextTokenDataset(ids[:split], context, stride=context)
    val_set = NextTokenDataset(ids[split:], context, stride=context)
    torch.manual_seed(SEED)
    model = GPT(CONFIG).to(args.device)
    log(f"model: {count_parameters(model):,} parameters, {CONFIG}")
    log(f"training: {settings}, seed {SEED}, bfloat16 mixed precision, {args.device} "
        f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), torch {torch.__version__}")
    history = train(
        model, make_loader(train_set, settings["batch_size"], seed=SEED), make_loader(val_set, 32, shuffle=False),
        steps=settings["steps"], lr=settings["lr"], warmup_steps=settings["warmup_steps"],
        weight_decay=settings["weight_decay"], eval_every=settings["eval_every"], seed=SEED, mixed_precision=True,
        stop_step=args.stop_step,
    )
    minutes = (time.perf_counter() - started) / 60
    for step, tr, va in zip(history.eval_steps, history.eval_train_loss, history.val_loss):
        log(f"step {step:5}: train loss {tr:.3f}, validation loss {va:.3f}")
    epochs = history.tokens_seen / (len(train_set) * context)
    log(f"trained on {history.tokens_seen:,} tokens ({epochs:.1f} passes over the training text) "
        f"in {minutes:.1f} minutes")

    model = model.to("cpu").eval()
    save_model(model, str(args.out / "model.safetensors"))
    bpb = bits_per_byte(model, heldout_ids, len(heldout.encode()))
    lzma_alone = lzma_bits_per_byte(heldout.encode())
    lzma_after_training = lzma_bits_per_byte(heldout.encode(), before=text.encode())
    val_loss = evaluate(model, make_loader(val_set, 32, shuffle=False))
    results = {
        "heldout_bits_per_byte": round(bpb, 4),
        "lzma_bits_per_byte": round(lzma_alone, 4),
        "lzma_after_training_text_bits_per_byte": round(lzma_after_training, 4),
        "ratio_to_lzma": round(bpb / lzma_alone, 4),
        "validation_loss": round(val_loss, 4),
        "tokens_seen": history.tokens_seen,
        "passes_over_the_text": round(epochs, 1),
        "minutes": round(minutes, 1),
    }
    log(f"held-out text: {bpb:.3f} bits per byte; lzma {lzma_alone:.3f} alone, {lzma_after_training:.3f} "
        f"after reading the training text; ratio to lzma {bpb / lzma_alone:.3f}")
    (args.out / "config.json").write_text(json.dumps(
        {"model": asdict(CONFIG), "training": {**settings, "seed": SEED, "mixed_precision": "bfloat16"},
         "results": results}, indent=1) + "\n", encoding="utf-8")
    (args.out / "training_log.txt").write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
