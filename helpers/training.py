"""Training a language model: datasets, the loss, the loop, checkpoints (notebook 10).

A language model learns one thing: given the tokens so far, predict the next one.
This module holds everything that turns that sentence into a trained model:

- **datasets**: :func:`next_token_windows` cuts a long text into (input, target)
  windows shifted by one token; :class:`TranslationDataset` turns French → English
  pairs into ``french <sep> english <eos>`` sequences whose loss counts only the
  English part (the French targets are set to :data:`IGNORE_INDEX`);
- **the loss**: :func:`cross_entropy` written out step by step (it equals
  ``F.cross_entropy``), :func:`language_model_loss` and :func:`perplexity`;
- **the loop**: :func:`train` (AdamW, linear warm-up then cosine decay, gradient
  clipping, a progress bar) returns a :class:`History` of losses and learning rates;
- **checkpoints**: :func:`save_checkpoint` / :func:`load_checkpoint`;
- **translation**: :func:`translate_greedy` decodes many sentences at once and
  :func:`exact_match` scores them.

    >>> history = train(model, train_loader, val_loader, steps=300, lr=3e-3)  # doctest: +SKIP
    >>> history.val_loss[-1]  # doctest: +SKIP
    0.0123
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from helpers.progress import ProgressBar
from helpers.translate import UnknownWordError

#: Targets equal to this are skipped by the loss (PyTorch's default ``ignore_index``).
IGNORE_INDEX: int = -100

# ---------------------------------------------------------------------------
# Next-token datasets
# ---------------------------------------------------------------------------


def next_token_windows(
    token_ids: Sequence[int] | Tensor, context_length: int, stride: int
) -> tuple[Tensor, Tensor]:
    """Cut ``token_ids`` into windows of ``context_length`` tokens, ``stride`` apart.

    Returns ``(inputs, targets)``, both ``(n_windows, context_length)`` long
    tensors; ``targets[i]`` is ``inputs[i]`` shifted one token to the left, so
    ``targets[i, t]`` is the token that follows ``inputs[i, t]``. A window is kept
    only if its last target exists: ``start + context_length < len(token_ids)``.
    """
    if context_length < 1 or stride < 1:
        raise ValueError(f"context_length and stride must be 1 or more, got {context_length} and {stride}")
    ids = torch.as_tensor(token_ids, dtype=torch.long)
    if ids.dim() != 1:
        raise ValueError(f"token_ids must be one sequence (1-D), got shape {tuple(ids.shape)}")
    if len(ids) < context_length + 1:
        raise ValueError(
            f"{len(ids)} tokens are too few for one window: need context_length + 1 = {context_length + 1}"
        )
    starts = range(0, len(ids) - context_length, stride)
    inputs = torch.stack([ids[s : s + context_length] for s in starts])
    targets = torch.stack([ids[s + 1 : s + context_length + 1] for s in starts])
    return inputs, targets


class NextTokenDataset(Dataset):
    """The windows of :func:`next_token_windows` as a PyTorch ``Dataset`` of (input, target) pairs."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int):
        self.inputs, self.targets = next_token_windows(token_ids, context_length, stride)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.inputs[i], self.targets[i]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    collate_fn: Callable | None = None,
) -> DataLoader:
    """A ``DataLoader`` whose shuffling is fixed by ``seed`` (the same batches every run)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate_fn
    )


# ---------------------------------------------------------------------------
# Translation pairs as token ids, with the loss mask
# ---------------------------------------------------------------------------

PAD, SEP, EOS = "<pad>", "<sep>", "<eos>"


class WordVocabulary:
    """A word-level tokenizer: one id per word, three special tokens first.

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
    def from_texts(cls, texts: Sequence[str]) -> "WordVocabulary":
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


def encode_translation_pair(french: str, english: str, vocab: WordVocabulary) -> tuple[Tensor, Tensor]:
    """``french <sep> english <eos>`` as (inputs, targets), the French targets masked.

    The sequence ``f1 .. fn <sep> e1 .. em <eos>`` gives ``inputs`` = all but the
    last token and ``targets`` = all but the first. The first ``n`` targets are
    French words and ``<sep>``: the model is given the French, it does not have to
    predict it, so they become :data:`IGNORE_INDEX` and the loss skips them.
    """
    french_ids = vocab.encode(french)
    english_ids = vocab.encode(english)
    if not french_ids or not english_ids:
        raise ValueError(f"a translation pair needs words on both sides, got {french!r} / {english!r}")
    ids = torch.tensor(french_ids + [vocab.sep_id] + english_ids + [vocab.eos_id])
    inputs, targets = ids[:-1], ids[1:].clone()
    targets[: len(french_ids)] = IGNORE_INDEX
    return inputs, targets


class TranslationDataset(Dataset):
    """French → English pairs as (inputs, targets) sequences for a GPT; see :func:`encode_translation_pair`.

    Sequences have different lengths: use :meth:`collate` as the ``DataLoader``'s
    ``collate_fn`` to pad each batch to its longest sequence.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], vocab: WordVocabulary):
        self.vocab = vocab
        self.examples = [encode_translation_pair(fr, en, vocab) for fr, en in pairs]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.examples[i]

    def collate(self, batch: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """Pad a list of (inputs, targets) to one (B, T) pair: inputs with ``<pad>``, targets ignored."""
        length = max(len(inputs) for inputs, _ in batch)
        inputs = torch.full((len(batch), length), self.vocab.pad_id, dtype=torch.long)
        targets = torch.full((len(batch), length), IGNORE_INDEX, dtype=torch.long)
        for row, (x, y) in enumerate(batch):
            inputs[row, : len(x)] = x
            targets[row, : len(y)] = y
        return inputs, targets

    @property
    def longest(self) -> int:
        """The length of the longest (inputs) sequence: the context a model needs."""
        return max(len(inputs) for inputs, _ in self.examples)


# ---------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------


def cross_entropy(logits: Tensor, targets: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Cross-entropy written out: softmax → probability of the right token → log → mean → negate.

    ``logits`` (..., vocab_size) and ``targets`` (...) of matching leading shape;
    targets equal to ``ignore_index`` are left out of the mean. Equals
    ``F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=ignore_index)``.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} do not match: "
            "logits need one more (last) axis, of size vocab_size"
        )
    logits = logits.reshape(-1, logits.shape[-1])  # (N, vocab_size)
    targets = targets.reshape(-1)  # (N,)
    keep = targets != ignore_index
    if not keep.any():
        raise ValueError(f"every target is ignore_index={ignore_index}: there is nothing to average")
    # log(softmax(x)) computed stably: x - logsumexp(x) never takes the log of 0
    log_probs = torch.log_softmax(logits[keep], dim=-1)  # (N_kept, vocab_size)
    right = log_probs.gather(1, targets[keep].unsqueeze(1)).squeeze(1)  # (N_kept,)
    return -right.mean()


def language_model_loss(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """The mean cross-entropy of ``model``'s next-token logits; ignored targets skipped."""
    logits = model(inputs)  # (B, T, vocab_size)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


def perplexity(loss: float | Tensor) -> float:
    """``exp(loss)``: the number of tokens the model is, on average, hesitating between."""
    return math.exp(float(loss))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[nn.Module, Tensor, Tensor], Tensor] = language_model_loss,
    max_batches: int | None = None,
) -> float:
    """The mean loss over the batches of ``loader`` (the first ``max_batches``), in eval mode."""
    was_training = model.training
    model.eval()
    losses = []
    for i, (inputs, targets) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        losses.append(float(loss_fn(model, inputs, targets)))
    model.train(was_training)
    if not losses:
        raise ValueError("the loader gave no batch to evaluate on")
    return sum(losses) / len(losses)


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------

#: The cosine decay ends at this fraction of the peak learning rate.
MIN_LR_RATIO: float = 0.1


def learning_rate(step: int, *, steps: int, lr: float, warmup_steps: int = 0) -> float:
    """The learning rate at ``step`` (0-based): linear warm-up, then cosine decay.

    Steps ``0 .. warmup_steps-1`` climb linearly to ``lr`` (``lr / warmup_steps`` at
    step 0); from ``warmup_steps`` on, it falls along half a cosine from ``lr`` to
    ``MIN_LR_RATIO * lr`` at step ``steps``.
    """
    if not 0 <= warmup_steps <= steps:
        raise ValueError(f"warmup_steps must be between 0 and steps={steps}, got {warmup_steps}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)  # 0 → 1
    min_lr = MIN_LR_RATIO * lr
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only (not on biases and norm scales)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


@dataclass
class History:
    """What :func:`train` measured: one entry per step, and one per evaluation."""

    train_loss: list[float] = field(default_factory=list)  # the loss of each step's batch
    lr: list[float] = field(default_factory=list)  # the learning rate of each step
    eval_steps: list[int] = field(default_factory=list)  # steps done when each evaluation ran
    val_loss: list[float] = field(default_factory=list)  # the validation loss at each eval_steps
    eval_train_loss: list[float] = field(default_factory=list)  # train loss (recent steps) at each eval
    tokens_seen: int = 0  # input tokens processed (padding included)

    def plot(self, title: str = "Training", ax: Any = None) -> Any:
        """Train loss per step (light), its running mean, and validation loss (dots)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3))
        steps = range(1, len(self.train_loss) + 1)
        ax.plot(steps, self.train_loss, color="tab:blue", alpha=0.25, lw=0.8, label="train (each batch)")
        if self.eval_steps:
            ax.plot(self.eval_steps, self.eval_train_loss, color="tab:blue", label="train (recent mean)")
            if self.val_loss:
                ax.plot(self.eval_steps, self.val_loss, "o-", color="tab:orange", ms=3, label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy loss")
        ax.set_title(title)
        ax.legend()
        return ax


def _forever(loader: DataLoader) -> Iterator[tuple[Tensor, Tensor]]:
    """The loader's batches, epoch after epoch (each epoch reshuffled if the loader shuffles)."""
    while True:
        yield from loader


def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    steps: int,
    lr: float,
    warmup_steps: int = 0,
    weight_decay: float = 0.1,
    eval_every: int = 50,
    eval_batches: int | None = None,
    loss_fn: Callable[[nn.Module, Tensor, Tensor], Tensor] = language_model_loss,
    max_grad_norm: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``steps`` batches with AdamW; return the :class:`History`.

    Each step: set the learning rate (:func:`learning_rate`), zero the gradients,
    compute ``loss_fn(model, inputs, targets)``, backpropagate, clip the gradient
    norm to ``max_grad_norm``, update. Every ``eval_every`` steps (and after the
    last) the mean loss on ``val_loader`` (its first ``eval_batches`` batches) is
    recorded. ``seed`` fixes dropout and, for loaders without their own
    generator, the shuffling. The model is left in eval mode.
    """
    if steps < 1 or eval_every < 1:
        raise ValueError(f"steps and eval_every must be 1 or more, got {steps} and {eval_every}")
    torch.manual_seed(seed)
    optimizer = make_optimizer(model, lr, weight_decay)
    history = History()
    batches = _forever(train_loader)
    model.train()
    bar = ProgressBar(range(steps), desc="training", disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps=steps, lr=lr, warmup_steps=warmup_steps)
        inputs, targets = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, inputs, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()

        history.train_loss.append(loss.item())
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.tokens_seen += inputs.numel()
        done = step + 1
        if done % eval_every == 0 or done == steps:
            recent = history.train_loss[-eval_every:]
            history.eval_steps.append(done)
            history.eval_train_loss.append(sum(recent) / len(recent))
            if val_loader is not None:
                history.val_loss.append(evaluate(model, val_loader, loss_fn, eval_batches))
                bar.set_postfix(train=f"{history.eval_train_loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}")
            else:
                bar.set_postfix(train=f"{history.eval_train_loss[-1]:.3f}")
    model.eval()
    return history


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def save_checkpoint(model: nn.Module, config: Any, path: str | Path, extra: dict | None = None) -> Path:
    """Save ``model``'s weights, its config (a dataclass) and ``extra`` (e.g. a vocabulary) to ``path``."""
    path = Path(path)
    torch.save({"config": asdict(config), "state_dict": model.state_dict(), "extra": extra or {}}, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the ``GPT`` saved by :func:`save_checkpoint`; return ``(model, extra)``, model in eval mode."""
    from helpers.model import GPT, GPTConfig

    saved = torch.load(Path(path), weights_only=True)
    model = GPT(GPTConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved["extra"]


# ---------------------------------------------------------------------------
# Translating with a trained model
# ---------------------------------------------------------------------------


@torch.no_grad()
def translate_greedy(
    model: nn.Module, vocab: WordVocabulary, sentences: Sequence[str], max_new_tokens: int = 32
) -> list[str]:
    """Translate each French sentence: feed ``french <sep>``, then append the most likely token until ``<eos>``.

    Sentences with the same number of words are decoded together, as one batch,
    so no padding is needed. The context length is read from ``model.pos_emb``.
    """
    was_training = model.training
    model.eval()
    context_length = model.pos_emb.num_embeddings
    by_length: dict[int, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_length.setdefault(len(sentence.split()), []).append(i)
    translations = [""] * len(sentences)
    for indices in by_length.values():
        prompts = [vocab.encode(sentences[i]) + [vocab.sep_id] for i in indices]
        ids = torch.tensor(prompts)  # (B, n_french + 1)
        prompt_length = ids.shape[1]
        finished = torch.zeros(len(indices), dtype=torch.bool)
        for _ in range(max_new_tokens):
            if ids.shape[1] >= context_length:
                break
            logits = model(ids)  # (B, T, vocab_size)
            next_ids = logits[:, -1].argmax(dim=-1)  # (B,)
            next_ids[finished] = vocab.eos_id  # finished rows only repeat <eos>
            ids = torch.cat([ids, next_ids.unsqueeze(1)], dim=1)
            finished |= next_ids == vocab.eos_id
            if finished.all():
                break
        for row, i in enumerate(indices):
            words = []
            for token in ids[row, prompt_length:].tolist():
                if token == vocab.eos_id:
                    break
                words.append(vocab.words[token])
            translations[i] = " ".join(words)
    model.train(was_training)
    return translations


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of predictions equal to their reference, word for word."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (and some): {len(predictions)} vs {len(references)}")
    return sum(p.split() == r.split() for p, r in zip(predictions, references)) / len(references)
