"""A GPT that translates: French → English pairs as token sequences, and decoding them (notebook 10).

(The dictionary translators of notebooks 01–02 are in :mod:`helpers.translate`.)

A pair becomes one sequence ``f1 … fn <sep> e1 … em <eos>``, read left to right
like any text. The model is given the French, so only the English is predicted:
the targets of the French positions are :data:`~helpers.training.IGNORE_INDEX`
(:func:`translation_example`). To translate, the model continues ``french <sep>``
greedily until it writes ``<eos>`` (:func:`translate_greedy`).

- :class:`WordVocabulary` — one token per word, plus ``<pad>``, ``<sep>``, ``<eos>``;
- :func:`translation_example` — the inputs and masked targets of one pair (exercise 10.3);
- :class:`TranslationDataset` — every pair encoded, with a ``collate`` that pads a batch;
- :func:`translate_greedy` — greedy translation of many sentences at once;
- :func:`exact_match` — the share of translations equal to the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from helpers.generation import generate
from helpers.model import GPT
from helpers.training import IGNORE_INDEX, pad_pairs
from helpers.translate import UnknownWordError

PAD, SEP, EOS = "<pad>", "<sep>", "<eos>"


class WordVocabulary:
    """A word-level tokenizer: one id per word, three special tokens first (notebook 10).

    ``<pad>`` fills short sequences, ``<sep>`` separates the French from the
    English, ``<eos>`` ends the English.
    """

    def __init__(self, words: Sequence[str]):
        specials = [PAD, SEP, EOS]
        self.words: list[str] = specials + [w for w in words if w not in specials]
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("the vocabulary lists a word twice")
        self.pad_id, self.sep_id, self.eos_id = (self.index[s] for s in specials)

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> WordVocabulary:
        """Every word of ``texts`` (split on white space), sorted."""
        return cls(sorted({word for text in texts for word in text.split()}))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """The ids of the words of ``text``; a word not in the vocabulary raises ``KeyError``."""
        ids = []
        for word in text.split():
            if word not in self.index:
                raise UnknownWordError(word, self.words, "vocabulary", "Build the vocabulary from text that contains it.")
            ids.append(self.index[word])
        return ids

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The words of ``ids`` joined by spaces (special tokens included)."""
        return " ".join(self.words[int(i)] for i in ids)


def translation_example(french_ids: list[int], english_ids: list[int], sep_id: int, eos_id: int) -> tuple[Tensor, Tensor]:
    """``french <sep> english <eos>`` as (inputs, targets), the French targets masked (exercise 10.3).

    ``inputs`` is the sequence without its last token, ``targets`` without its first.
    The first ``len(french_ids)`` targets are the French words after the first and
    ``<sep>``: given in the prompt, not predicted, so they become :data:`IGNORE_INDEX`
    and the loss skips them. The target at ``<sep>``'s position, the first English
    word, is kept.
    """
    ids = torch.tensor(french_ids + [sep_id] + english_ids + [eos_id])
    inputs, targets = ids[:-1], ids[1:].clone()
    targets[: len(french_ids)] = IGNORE_INDEX
    return inputs, targets


class TranslationDataset(Dataset):
    """French → English pairs as (inputs, targets) sequences for a GPT; see :func:`translation_example` (notebook 10).

    Sequences have different lengths: use :meth:`collate` as the ``DataLoader``'s
    ``collate_fn`` to pad each batch to its longest sequence.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], vocab: WordVocabulary):
        self.vocab = vocab
        self.examples = []
        for french, english in pairs:
            french_ids, english_ids = vocab.encode(french), vocab.encode(english)
            if not french_ids or not english_ids:
                raise ValueError(f"a translation pair needs words on both sides, got {french!r} / {english!r}")
            self.examples.append(translation_example(french_ids, english_ids, vocab.sep_id, vocab.eos_id))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.examples[i]

    def collate(self, batch: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """Pad a list of (inputs, targets) to one (B, T) pair: inputs with ``<pad>``, targets ignored."""
        return pad_pairs(batch, self.vocab.pad_id)

    @property
    def longest(self) -> int:
        """The length of the longest (inputs) sequence: the context a model needs."""
        return max(len(inputs) for inputs, _ in self.examples)


def translate_greedy(model: GPT, vocab: WordVocabulary, sentences: Sequence[str], max_new_tokens: int = 32) -> list[str]:
    """Translate each French sentence greedily: continue ``french <sep>`` until ``<eos>`` (notebook 10).

    Sentences with the same number of words are decoded together, as one batch of
    prompts of equal length, by :func:`helpers.generation.generate` with
    ``temperature=0`` and ``eos_id``. A translation that would outgrow the model's
    context stops there.
    """
    by_length: dict[int, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_length.setdefault(len(sentence.split()), []).append(i)
    translations = [""] * len(sentences)
    for indices in by_length.values():
        prompts = torch.tensor([vocab.encode(sentences[i]) + [vocab.sep_id] for i in indices])  # (B, n + 1)
        room = min(max_new_tokens, model.config.context_length - prompts.shape[1])
        out = generate(model, prompts, room, temperature=0.0, eos_id=vocab.eos_id)  # (B, n + 1 + new)
        for row, i in enumerate(indices):
            words = []
            for token in out[row, prompts.shape[1]:].tolist():
                if token == vocab.eos_id:
                    break
                words.append(vocab.words[token])
            translations[i] = " ".join(words)
    return translations


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of predictions equal to their reference, word for word (notebook 10)."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (and some): {len(predictions)} vs {len(references)}")
    return sum(p.split() == r.split() for p, r in zip(predictions, references)) / len(references)
