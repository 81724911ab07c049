"""The course's base model: a small GPT pretrained on English novels (notebooks 09, 11, and Parts 5–8).

``tools/pretrain.py`` (``make pretrain``) trains it, with fixed seeds, on
``data/novels/train.txt`` (Jane Austen's six novels and *Moby Dick*, public
domain; see ``data/README.md``), with the course's own BPE tokenizer trained on
the same text. The files it writes are committed in ``data/base_model/``.

    >>> model, tokenizer = load_base_model()
    >>> tokenizer.decode(tokenizer.encode("It is a truth universally acknowledged"))
    'It is a truth universally acknowledged'
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_model

from helpers.bpe import BPETokenizer
from helpers.model import GPT, GPTConfig
from helpers.paths import DATA_DIR

NOVELS_DIR: Path = DATA_DIR / "novels"
BASE_MODEL_DIR: Path = DATA_DIR / "base_model"


def training_text() -> str:
    """The prose the base model was trained on: 5.0 MB of novels (notebook 09)."""
    return (NOVELS_DIR / "train.txt").read_text(encoding="utf-8")


def heldout_text() -> str:
    """A stretch of the same novels the model never trained on: the last 3 % of each book (notebook 09)."""
    return (NOVELS_DIR / "heldout.txt").read_text(encoding="utf-8")


def load_tokenizer(folder: Path = BASE_MODEL_DIR) -> BPETokenizer:
    """The base model's BPE tokenizer (notebook 09): ``encode(str) -> list[int]``, ``decode(list[int]) -> str``."""
    return BPETokenizer.load(folder / "tokenizer.json")


def load_base_model(folder: Path = BASE_MODEL_DIR) -> tuple[GPT, BPETokenizer]:
    """A fresh copy of the pretrained base model, in eval mode, and its tokenizer (notebook 09).

    Each call reads the files again, so a notebook can fine-tune one copy and still
    compare it with an untouched one.
    """
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))["model"]
    model = GPT(GPTConfig(**config))
    load_model(model, folder / "model.safetensors")  # a tied matrix is stored once, and tied again
    return model.eval(), load_tokenizer(folder)


@torch.no_grad()
def bits_per_byte(model: GPT, token_ids: list[int], n_bytes: int, stride: int | None = None) -> float:
    """The model's cross-entropy on ``token_ids`` in bits per byte of the text they encode (notebook 09).

    The text is read in windows of ``context_length`` tokens, ``stride`` apart
    (default: half a window); each token is scored once, in the first window that
    gives it at least ``context_length - stride`` tokens of context. Dividing the
    total bits by the bytes of the text makes models with different tokenizers, and
    a compressor such as ``lzma``, comparable.
    """
    context_length = model.config.context_length
    stride = stride or context_length // 2
    if not 0 < stride <= context_length:
        raise ValueError(f"stride must be in 1..context_length={context_length}, got {stride}")
    if len(token_ids) < 2 or n_bytes < 1:
        raise ValueError("need at least two tokens and one byte to measure bits per byte")
    was_training = model.training
    model.eval()
    ids = torch.tensor(token_ids)
    nats, scored = 0.0, 1  # the first token is never predicted: it has nothing before it
    for start in range(0, len(ids) - 1, stride):
        window = ids[start : start + context_length + 1]
        logits = model(window[:-1].unsqueeze(0))[0]  # (T, vocab_size)
        first = 0 if start == 0 else context_length - stride  # targets already scored by the last window
        losses = F.cross_entropy(logits[first:], window[1:][first:], reduction="sum")
        nats += float(losses)
        scored += len(window) - 1 - first
        if start + context_length + 1 >= len(ids):
            break
    model.train(was_training)
    if scored != len(ids):
        raise AssertionError(f"scored {scored} of {len(ids)} tokens")  # every token once
    return nats / math.log(2) / n_bytes
