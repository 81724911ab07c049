"""helpers/translation.py: the word vocabulary, masked pair encoding, padding, greedy translation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.attention import KVCache
from helpers.model import GPTConfig
from helpers.training import IGNORE_INDEX
from helpers.translation import TranslationDataset, WordVocabulary, exact_match, translate_greedy, translation_example

PAIRS = [("le chat dort", "the cat sleeps"), ("la souris blanche dort", "the white mouse sleeps")]


def test_translation_example_masks_the_french_targets():
    inputs, targets = translation_example([10, 11, 12], [20, 21], sep_id=1, eos_id=2)
    assert inputs.tolist() == [10, 11, 12, 1, 20, 21]
    assert targets.tolist() == [IGNORE_INDEX] * 3 + [20, 21, 2]


def test_a_dataset_pair_is_its_translation_example():
    vocab = WordVocabulary.from_texts([t for pair in PAIRS for t in pair])
    inputs, targets = TranslationDataset(PAIRS, vocab)[0]
    assert vocab.decode(inputs) == "le chat dort <sep> the cat sleeps"
    assert targets[:3].tolist() == [IGNORE_INDEX] * 3  # chat, dort, <sep> are given, not predicted
    assert vocab.decode(targets[3:]) == "the cat sleeps <eos>"


def test_vocabulary_specials_come_first_and_unknown_words_raise():
    vocab = WordVocabulary.from_texts(["b a", "c"])
    assert vocab.words == ["<pad>", "<sep>", "<eos>", "a", "b", "c"]
    assert vocab.encode("c a") == [5, 3]
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        vocab.encode("a z")


def test_collate_pads_inputs_and_ignores_padded_targets():
    vocab = WordVocabulary.from_texts([t for pair in PAIRS for t in pair])
    dataset = TranslationDataset(PAIRS, vocab)
    inputs, targets = dataset.collate([dataset[0], dataset[1]])
    assert inputs.shape == targets.shape == (2, dataset.longest) == (2, 9)
    assert inputs[0, -1] == vocab.pad_id and targets[0, -1] == IGNORE_INDEX
    assert (targets[1] != IGNORE_INDEX).sum() == 5  # the white mouse sleeps <eos>



class CopyModel(nn.Module):
    """A fake model that 'translates' by copying the French words after <sep>, then <eos>.

    It keeps the ids it has read in a real KVCache, so it works with generate's cache too.
    """

    def __init__(self, vocab: WordVocabulary):
        super().__init__()
        self.vocab = vocab
        self.config = GPTConfig(vocab_size=len(vocab), context_length=32, d_model=1, n_layers=1, n_heads=1)

    def new_kv_caches(self) -> list[KVCache]:
        return [KVCache()]

    def forward(self, ids: torch.Tensor, kv_caches: list[KVCache] | None = None) -> torch.Tensor:
        if kv_caches is not None:  # the cache holds every id read so far
            seen, _ = kv_caches[0].append(ids[:, None, :, None].float(), ids[:, None, :, None].float())
            ids = seen[:, 0, :, 0].long()
        logits = torch.zeros(*ids.shape, len(self.vocab))
        for row, seq in enumerate(ids.tolist()):
            sep = seq.index(self.vocab.sep_id)
            done = len(seq) - sep - 1
            logits[row, -1, seq[done] if done < sep else self.vocab.eos_id] = 1.0
        return logits


def test_translate_greedy_decodes_batches_of_different_lengths_in_order():
    sentences = ["le chat dort", "la souris blanche dort", "le chat", "dort"]
    vocab = WordVocabulary.from_texts(sentences)
    assert translate_greedy(CopyModel(vocab), vocab, sentences) == sentences


def test_exact_match_compares_whole_sentences():
    assert exact_match(["the cat", "a dog", "x"], ["the cat", "the dog", "x"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        exact_match(["a"], ["a", "b"])
