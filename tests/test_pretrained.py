"""helpers/pretrained.py: the committed base model loads, its texts are disjoint, bits per byte is right."""

from __future__ import annotations

import hashlib
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F

from helpers.model import GPT, GPTConfig
from helpers.paths import DATA_DIR
from helpers.pretrained import BASE_MODEL_DIR, bits_per_byte, heldout_text, load_base_model, training_text


@pytest.fixture(scope="module")
def base():
    return load_base_model()


def test_the_base_model_loads_with_its_tied_head_and_its_tokenizer(base):
    model, tokenizer = base
    config = json.loads((BASE_MODEL_DIR / "config.json").read_text())["model"]
    assert model.config == GPTConfig(**config) and not model.training
    assert model.out_head.weight is model.tok_emb.weight
    assert tokenizer.vocab_size == model.config.vocab_size
    text = heldout_text()[:2000]
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_each_call_gives_a_fresh_copy(base):
    model, _ = base
    other, _ = load_base_model()
    with torch.no_grad():
        other.tok_emb.weight.zero_()
    assert model.tok_emb.weight.abs().sum() > 0


def test_the_held_out_text_never_occurs_in_the_training_text():
    train = training_text()
    paragraphs = [p for p in heldout_text().split("\n\n") if len(p) > 200]
    assert len(paragraphs) > 100
    assert not any(p in train for p in paragraphs)


def test_the_committed_files_match_their_recorded_sha256():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"\| `((?:novels|base_model)/[^`]+)` \| `([0-9a-f]{64})` \|", readme))
    assert set(recorded) >= {"novels/train.txt", "novels/heldout.txt", "base_model/model.safetensors",
                             "base_model/tokenizer.json"}
    for name, digest in recorded.items():
        assert hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest() == digest, name


def test_the_committed_model_met_the_quality_bound_when_it_was_trained():
    results = json.loads((BASE_MODEL_DIR / "config.json").read_text())["results"]
    assert results["heldout_bits_per_byte"] <= 0.7 * results["lzma_bits_per_byte"]


def test_bits_per_byte_scores_every_token_once_with_enough_context():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, context_length=8, d_model=8, n_layers=1, n_heads=2, dropout=0.0)).eval()
    ids = torch.randint(0, 20, (30,)).tolist()
    with torch.no_grad():  # by hand: the full-context windows of the stride-4 scheme
        nats = F.cross_entropy(model(torch.tensor([ids[0:8]]))[0], torch.tensor(ids[1:9]), reduction="sum")
        for start in range(4, 25, 4):  # the last window, at 24, reaches the end
            window = ids[start : start + 9]
            logits = model(torch.tensor([window[:-1]]))[0]
            nats += F.cross_entropy(logits[4:], torch.tensor(window[1:][4:]), reduction="sum")
    assert bits_per_byte(model, ids, n_bytes=60, stride=4) == pytest.approx(float(nats) / math.log(2) / 60, rel=1e-5)
    short = ids[:6]  # shorter than a window: one pass, whatever the stride
    assert bits_per_byte(model, short, 10, stride=2) == pytest.approx(bits_per_byte(model, short, 10, stride=8))
    with pytest.raises(ValueError, match="stride must be in 1..context_length=8"):
        bits_per_byte(model, ids, 60, stride=9)
