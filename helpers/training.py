"""Training a language model: next-token datasets, the loss, the loop (notebook 10).

A language model learns one thing: given the tokens so far, predict the next one.
This module holds what turns that sentence into a trained model:

- **datasets**: :func:`next_token_windows` cuts a long text into (input, target)
  windows shifted by one token (exercise 10.1); :func:`make_loader` batches them
  in a seeded order;
- **the loss**: :func:`cross_entropy` written out step by step (it equals
  ``F.cross_entropy``), :func:`language_model_loss`, :func:`perplexity`, :func:`evaluate`;
- **the loop**: :func:`train` (AdamW, linear warm-up then cosine decay, gradient
  clipping, a progress bar) returns a :class:`History` of losses and learning rates;
  ``train(..., device=best_device())`` runs it on a GPU where there is one.

Translation pairs as sequences are in :mod:`helpers.translation`; checkpoints, with
the optimizer state to resume from, in :mod:`helpers.model`.

    >>> history = train(model, train_loader, val_loader, steps=300, lr=3e-3)  # doctest: +SKIP
    >>> history.val_loss[-1]  # doctest: +SKIP
    0.0123
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from helpers.progress import ProgressBar

#: Targets equal to this are skipped by the loss (PyTorch's default ``ignore_index``).
IGNORE_INDEX: int = -100

# ---------------------------------------------------------------------------
# Next-token datasets
# ---------------------------------------------------------------------------


def next_token_windows(
    token_ids: Sequence[int] | Tensor, context_length: int, stride: int
) -> tuple[Tensor, Tensor]:
    """Cut ``token_ids`` into windows of ``context_length`` tokens, ``stride`` apart (notebook 10).

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
    """The windows of :func:`next_token_windows` as a PyTorch ``Dataset`` of (input, target) pairs (notebook 10)."""

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
    """A ``DataLoader`` whose shuffling is fixed by ``seed`` (the same batches every run) (notebook 10)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate_fn
    )


def pad_pairs(batch: Sequence[tuple[Tensor, Tensor]], pad_id: int) -> tuple[Tensor, Tensor]:
    """Right-pad (inputs, targets) pairs of different lengths to one (B, longest) pair (notebooks 10, 13).

    Inputs are padded with ``pad_id``; targets with :data:`IGNORE_INDEX`, so the loss skips the padding.
    """
    length = max(len(inputs) for inputs, _ in batch)
    inputs = torch.full((len(batch), length), pad_id, dtype=torch.long)
    targets = torch.full((len(batch), length), IGNORE_INDEX, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        inputs[row, : len(x)] = x
        targets[row, : len(y)] = y
    return inputs, targets


# ---------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------


def cross_entropy(logits: Tensor, targets: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Cross-entropy written out: softmax → probability of the right token → log → mean → negate (notebook 10).

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
    """The mean cross-entropy of ``model``'s next-token logits; ignored targets skipped (notebook 10)."""
    logits = model(inputs)  # (B, T, vocab_size)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


def perplexity(loss: float | Tensor) -> float:
    """``exp(loss)``: the number of tokens the model is, on average, hesitating between (notebook 10)."""
    return math.exp(float(loss))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[nn.Module, Tensor, Tensor], Tensor] = language_model_loss,
    max_batches: int | None = None,
) -> float:
    """The mean loss over the batches of ``loader`` (the first ``max_batches``), in eval mode (notebook 10).

    The batches go to the device the model's weights are on.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses = []
    for i, (inputs, targets) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        losses.append(float(loss_fn(model, inputs.to(device), targets.to(device))))
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
    """The learning rate at ``step`` (0-based): linear warm-up, then cosine decay (notebook 10).

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
    """AdamW with weight decay on the weight matrices only (not on biases and norm scales) (notebook 10)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


@dataclass
class History:
    """What :func:`train` measured: one entry per step, and one per evaluation (notebook 10)."""

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


def available_devices() -> list[str]:
    """The devices torch can use here: ``"cpu"``, ``"cuda:0"`` … for each NVIDIA GPU, ``"mps"`` on a Mac (19)."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def best_device() -> torch.device:
    """The fastest device here: a CUDA GPU, else Apple's MPS, else the CPU (notebooks 10, 19)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, or a ``ValueError`` naming the devices this machine has (notebook 19)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{device!r} is not a device name: use one of {', '.join(available_devices())}") from error
    available = available_devices()
    name = f"cuda:{device.index or 0}" if device.type == "cuda" else device.type
    if name not in available:
        raise ValueError(f"device {str(device)!r} is not available on this machine: use one of "
                         f"{', '.join(available)}")
    return device


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
    optimizer: torch.optim.Optimizer | None = None,
    start_step: int = 0,
    stop_step: int | None = None,
    mixed_precision: bool = False,
    device: str | torch.device | None = None,
) -> History:
    """Train ``model`` up to step ``steps`` with AdamW; return the :class:`History` (notebook 10).

    Each step: set the learning rate (:func:`learning_rate`), zero the gradients,
    compute ``loss_fn(model, inputs, targets)``, backpropagate, clip the gradient
    norm to ``max_grad_norm``, update. Every ``eval_every`` steps (and after the
    last) the mean loss on ``val_loader`` (its first ``eval_batches`` batches) is
    recorded. ``seed`` fixes dropout and, for loaders without their own
    generator, the shuffling; the caller's random state is left as it was, and
    the model is put back in the mode (train or eval) it came in.

    The batches go to the device the model's weights are on. ``device`` (``"cuda"``,
    ``"mps"``, ``"cpu"``, or :func:`best_device`) first moves the model there, in place
    (``model.to(device)``); a device this machine lacks is a ``ValueError``. With
    ``mixed_precision`` the forward pass runs in bfloat16 where that is safe
    (``torch.autocast``), about twice as fast on recent CPUs and GPUs; the weights and
    their updates stay float32.

    ``stop_step`` ends the run early (the schedule still spans ``steps``), e.g. to
    save a checkpoint (:func:`helpers.model.save_checkpoint`) with the optimizer;
    to resume, pass the restored ``optimizer`` and ``start_step`` = the step reached:
    training continues the same schedule and skips the batches already used.
    """
    stop_step = steps if stop_step is None else stop_step
    if steps < 1 or eval_every < 1 or not 0 <= start_step < stop_step <= steps:
        raise ValueError(f"need steps >= 1, eval_every >= 1 and 0 <= start_step < stop_step <= steps, got "
                         f"steps={steps}, eval_every={eval_every}, start_step={start_step}, stop_step={stop_step}")
    if device is not None:
        model.to(check_device(device))  # before the optimizer is made, so that its state follows the weights
    optimizer = optimizer or make_optimizer(model, lr, weight_decay)
    history = History()
    was_training = model.training
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batches = _forever(train_loader)
        for _ in range(start_step):  # the batches the earlier steps trained on
            next(batches)
        model.train()
        bar = ProgressBar(range(start_step, stop_step), desc="training", disable=not progress)
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, steps=steps, lr=lr, warmup_steps=warmup_steps)
            inputs, targets = (tensor.to(device) for tensor in next(batches))
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed_precision):
                loss = loss_fn(model, inputs, targets)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()

            history.train_loss.append(loss.item())
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.tokens_seen += inputs.numel()
            done = step + 1
            if done % eval_every == 0 or done == stop_step:
                recent = history.train_loss[-eval_every:]
                history.eval_steps.append(done)
                history.eval_train_loss.append(sum(recent) / len(recent))
                if val_loader is not None:
                    history.val_loss.append(evaluate(model, val_loader, loss_fn, eval_batches))
                    bar.set_postfix(train=f"{history.eval_train_loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}")
                else:
                    bar.set_postfix(train=f"{history.eval_train_loss[-1]:.3f}")
    model.train(was_training)
    return history
