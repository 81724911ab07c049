"""Training on several processes: data, tensor and pipeline parallelism, and how to run them (notebook 19).

A model too slow (or too big) for one device is spread over ``world_size`` processes,
each with its ``rank`` (0 … world_size - 1), in three ways:

* **data parallel** (DDP, ZeRO, FSDP): every rank holds the model and trains on its
  :func:`shard` of the batch; before each update the ranks *all-reduce* their gradients,
  so that every rank steps with the mean (:func:`average_gradients`, after
  :func:`broadcast_parameters`). :func:`ring_all_reduce` simulates, in one process, the
  ring algorithm ``torch.distributed.all_reduce`` runs between processes;
  :func:`all_reduce_mean` is the gradient average built on it (exercise 19.1);
* **tensor parallel** (Megatron-LM, Shoeybi et al. 2019): one layer's weight is cut in
  pieces. :func:`split_columns` gives each rank some of the *outputs* (gather them),
  :func:`split_rows` some of the *inputs* (add the partial sums); exercise 19.2
  re-creates :func:`column_parallel_forward`;
* **pipeline parallel** (GPipe, Huang et al. 2019): consecutive layers on consecutive
  ranks (:func:`split_layers`), the batch cut into micro-batches that flow through
  them. :func:`pipeline_timeline` is GPipe's schedule, :func:`bubble_fraction` the idle
  time it cannot avoid, :func:`idle_fraction` the idle time of any timeline,
  :func:`plot_pipeline` draws a schedule or a measured run.

:func:`launch` runs a script on several processes with ``torchrun`` (the ``gloo``
backend works on any CPU); ``tools/distributed.py`` is the script notebook 19 runs.

    >>> [t.tolist() for t in ring_all_reduce([torch.tensor([1., 2.]), torch.tensor([10., 20.])])]
    [[11.0, 22.0], [11.0, 22.0]]
    >>> bubble_fraction(n_stages=4, n_microbatches=8)
    0.2727272727272727
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.paths import REPO_ROOT


def _check_world_size(world_size: int) -> None:
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size (the number of processes) must be a whole number >= 1, got {world_size!r}")


def _divisors(n: int) -> str:
    """``"1, 2, 5 or 10"``: the world sizes that divide ``n`` (the first few and the last, when there are many)."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    if len(divisors) > 6:
        divisors = divisors[:5] + divisors[-1:]
    return ", ".join(map(str, divisors[:-1])) + f" or {divisors[-1]}" if len(divisors) > 1 else str(n)


def _check_divides(world_size: int, size: int, what: str) -> None:
    _check_world_size(world_size)
    if size % world_size:
        raise ValueError(f"{what} of {size} cannot be split evenly over {world_size} processes: "
                         f"use a world size that divides it, such as {_divisors(size)}")


# --- data parallel ------------------------------------------------------------------------


def shard(batch: Tensor, rank: int, world_size: int) -> Tensor:
    """Rank ``rank``'s consecutive slice of ``batch`` along dim 0, a view: (B, ...) → (B / world_size, ...) (19).

    Rank 0 gets the first ``B / world_size`` rows, rank 1 the next ones, and so on:
    together the ranks see the whole batch once. ``world_size`` must divide B, so that
    every rank's loss is a mean over as many examples and the mean of the ranks'
    gradients is the gradient of the whole batch.
    """
    if not isinstance(batch, Tensor) or batch.dim() == 0:
        raise ValueError("batch must be a tensor with a batch axis (dim 0), got "
                         + (f"shape {tuple(batch.shape)}" if isinstance(batch, Tensor) else type(batch).__name__))
    _check_divides(world_size, batch.shape[0], "a batch")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be a whole number from 0 to world_size - 1 = {world_size - 1}, got {rank!r}")
    size = batch.shape[0] // world_size
    return batch[rank * size : (rank + 1) * size]


def ring_all_reduce(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The ring all-reduce, simulated in one process: ``tensors[r]`` is rank r's; every rank gets the sum (notebook 19).

    Each rank flattens its tensor into its own buffer, cut into ``n = world_size`` chunks
    (``torch.tensor_split``: sizes differ by one at most when ``n`` does not divide the
    number of entries). The ranks stand in a ring, each sending only to the next one.

    1. *Reduce-scatter*, ``n - 1`` steps: at step ``s`` rank ``r`` sends its chunk
       ``(r - s) mod n`` to rank ``r + 1``, which adds it to its own. Afterwards rank
       ``r`` holds the complete sum of chunk ``(r + 1) mod n``.
    2. *All-gather*, ``n - 1`` steps: at step ``s`` rank ``r`` sends its complete chunk
       ``(r + 1 - s) mod n`` to rank ``r + 1``, which keeps it.

    Every rank sends ``2 (n - 1) / n`` times its tensor in all, however many ranks there
    are: that is why the ring scales. Returns one new tensor per rank, of the inputs'
    shape, all equal to the sum (to float rounding, ``torch.stack(tensors).sum(dim=0)``);
    the inputs are left as they were.
    """
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors \
            or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("tensors must be a non-empty list of tensors, one per rank")
    shape = tensors[0].shape
    if any(t.shape != shape for t in tensors):
        raise ValueError(f"every rank's tensor must have the same shape, got {[tuple(t.shape) for t in tensors]}")
    n = len(tensors)
    buffers = [t.detach().flatten().clone() for t in tensors]  # rank r's own copy, (numel,)
    chunks = [buffer.tensor_split(n) for buffer in buffers]  # chunks[r][c]: a view into rank r's buffer

    for step in range(n - 1):  # reduce-scatter
        sent = [chunks[r][(r - step) % n].clone() for r in range(n)]  # every rank sends at once
        for r in range(n):
            chunks[(r + 1) % n][(r - step) % n].add_(sent[r])  # the next rank adds what it received

    for step in range(n - 1):  # all-gather
        sent = [chunks[r][(r + 1 - step) % n].clone() for r in range(n)]
        for r in range(n):
            chunks[(r + 1) % n][(r + 1 - step) % n].copy_(sent[r])  # the next rank keeps the complete chunk

    return [buffer.reshape(shape) for buffer in buffers]


def all_reduce_mean(tensors: Sequence[Tensor]) -> list[Tensor]:
    """Every rank's own copy of the mean of ``tensors`` over the ranks: the gradient average of DDP (notebook 19).

    :func:`ring_all_reduce` (the sum), divided by ``world_size``.
    """
    return [total / len(tensors) for total in ring_all_reduce(tensors)]


def broadcast_parameters(model: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters into every rank's ``model``, in place: the replicas start equal (notebook 19).

    ``DistributedDataParallel`` does this when it wraps a model. Needs
    ``torch.distributed.init_process_group`` first.
    """
    with torch.no_grad():
        for parameter in model.parameters():
            dist.broadcast(parameter, src=src)


def average_gradients(model: nn.Module) -> None:
    """Replace every gradient of ``model`` by its mean over the ranks, in place: DDP by hand (notebook 19).

    One ``all_reduce`` (a sum) per parameter, then a division by ``world_size``:
    what ``DistributedDataParallel`` does during ``backward()``, with the gradients
    grouped in buckets and sent while the backward pass is still running. Needs
    ``torch.distributed.init_process_group`` first.
    """
    world_size = dist.get_world_size()
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= world_size


# --- tensor parallel ------------------------------------------------------------------------


def _check_linear(linear: nn.Linear, world_size: int, features: str) -> int:
    """The number of features (``out_features`` or ``in_features``) each of ``world_size`` shards gets."""
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
    _check_divides(world_size, getattr(linear, features), features)
    return getattr(linear, features) // world_size


def split_columns(linear: nn.Linear, world_size: int) -> list[nn.Linear]:
    """Column-parallel shards of ``linear``: shard r computes the outputs r·k … (r+1)·k - 1 (notebook 19).

    ``k = out_features / world_size``. ``nn.Linear`` stores its weight as (out_features,
    in_features), one row per output feature: shard ``r`` holds rows ``r·k … (r+1)·k - 1``
    (the columns of ``weight.T``) and the same slice of the bias. Each shard reads the
    whole input; ``torch.cat([s(x) for s in shards], dim=-1)`` is ``linear(x)`` (an
    all-gather, between processes). The shards are new layers holding copies of the
    weights, on ``linear``'s device and dtype.
    """
    k = _check_linear(linear, world_size, "out_features")
    shards = []
    for r in range(world_size):
        part = nn.Linear(linear.in_features, k, bias=linear.bias is not None,
                         device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            part.weight.copy_(linear.weight[r * k : (r + 1) * k])  # (k, in_features): k output rows
            if linear.bias is not None:
                part.bias.copy_(linear.bias[r * k : (r + 1) * k])
        shards.append(part)
    return shards


def split_rows(linear: nn.Linear, world_size: int) -> list[nn.Linear]:
    """Row-parallel shards of ``linear``: shard r reads the inputs r·k … (r+1)·k - 1 (notebook 19).

    ``k = in_features / world_size``. The shards split the input features (the weight's
    columns, the rows of ``weight.T``): shard ``r`` holds ``weight[:, r·k : (r+1)·k]`` and
    reads only that slice of the input, ``x[..., r·k : (r+1)·k]``. Each returns a *partial
    sum* of the whole output; their sum is ``linear(x)`` (an all-reduce, between
    processes). The bias must be added once: shard 0 holds it, the other shards have
    none (``bias is None``). The shards are new layers holding copies of the weights, on
    ``linear``'s device and dtype.
    """
    k = _check_linear(linear, world_size, "in_features")
    shards = []
    for r in range(world_size):
        part = nn.Linear(k, linear.out_features, bias=linear.bias is not None and r == 0,
                         device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            part.weight.copy_(linear.weight[:, r * k : (r + 1) * k])  # (out_features, k): k input columns
            if part.bias is not None:
                part.bias.copy_(linear.bias)
        shards.append(part)
    return shards


def column_parallel_forward(x: Tensor, weight: Tensor, bias: Tensor | None, world_size: int) -> list[Tensor]:
    """Each rank's output of a column-split linear layer: rank r's is the features r·k … (r+1)·k - 1 (notebook 19).

    ``weight`` is (out_features, in_features) and ``bias`` (out_features,) or ``None``, as
    in ``nn.Linear``; ``k = out_features / world_size``. Rank ``r`` computes
    ``x @ weight[r·k : (r+1)·k].T + bias[r·k : (r+1)·k]``, shape (..., k); concatenated
    along the last axis, the list is ``F.linear(x, weight, bias)``.
    """
    if weight.dim() != 2 or x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"weight must be (out_features, in_features) with in_features = x.shape[-1], "
                         f"got weight {tuple(weight.shape)} and x {tuple(x.shape)}")
    _check_divides(world_size, weight.shape[0], "out_features")
    k = weight.shape[0] // world_size
    return [F.linear(x, weight[r * k : (r + 1) * k], None if bias is None else bias[r * k : (r + 1) * k])
            for r in range(world_size)]


# --- pipeline parallel ----------------------------------------------------------------------


def split_layers(model: nn.Sequential, n_stages: int) -> list[nn.Sequential]:
    """Cut ``model``'s layers into ``n_stages`` consecutive stages of as many layers each (notebook 19).

    Stage ``s`` is an ``nn.Sequential`` of layers ``s·L … (s+1)·L - 1`` (``L = len(model) /
    n_stages``), the same modules (not copies): running the stages one after the other is
    running ``model``.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential (a list of layers to cut), got {type(model).__name__}")
    if isinstance(n_stages, bool) or not isinstance(n_stages, int) or n_stages < 1 or len(model) % n_stages:
        raise ValueError(f"n_stages must divide the model's {len(model)} layers, "
                         f"such as {_divisors(len(model))}, got {n_stages!r}")
    size = len(model) // n_stages
    return [model[s * size : (s + 1) * size] for s in range(n_stages)]


class PipelineStep(NamedTuple):
    """One stage's work on one micro-batch: forward ``"F"`` or backward ``"B"``, from ``start`` to ``end`` (19).

    In :func:`pipeline_timeline` the times are slots (a forward takes one); in a measured
    run, seconds.
    """

    stage: int
    microbatch: int
    kind: str  # "F" (forward) or "B" (backward)
    start: float
    end: float


def _check_pipeline(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def pipeline_timeline(n_stages: int, n_microbatches: int, backward_cost: int = 1) -> list[PipelineStep]:
    """GPipe's schedule: all the forwards, then all the backwards, each as early as it can start (notebook 19).

    A forward takes one time slot; a backward ``backward_cost`` slots (1 by default, the
    same as a forward; about 2 in a real model, which computes two gradients per weight
    multiplication). Stage ``s`` runs the forward of micro-batch ``j`` in slot ``s + j``,
    once stage ``s - 1`` has passed it on. The backwards start when the last stage has run
    every forward and go the other way, last stage first, last micro-batch first: stage
    ``s`` runs a backward once stage ``s + 1`` has passed its gradient back. Sorted by
    stage, then time.
    """
    _check_pipeline(n_stages=n_stages, n_microbatches=n_microbatches, backward_cost=backward_cost)
    forwards_done = n_stages + n_microbatches - 1  # the last stage's last forward ends here
    timeline = []
    for s in range(n_stages):
        for j in range(n_microbatches):
            timeline.append(PipelineStep(s, j, "F", s + j, s + j + 1))
        for order, j in enumerate(reversed(range(n_microbatches))):
            start = forwards_done + (n_stages - 1 - s + order) * backward_cost
            timeline.append(PipelineStep(s, j, "B", start, start + backward_cost))
    return timeline


def bubble_fraction(n_stages: int, n_microbatches: int) -> float:
    """GPipe's idle fraction, ``(p - 1) / (m + p - 1)``, p stages and m micro-batches (Huang et al. 2019) (19).

    Each stage waits ``p - 1`` slots for the first micro-batch to reach it, and as long
    for the last gradient to come back: of ``m + p - 1`` slots of forwards, ``m`` are
    work, and the same for the backwards, whatever they cost. More micro-batches shrink
    the bubble.
    """
    _check_pipeline(n_stages=n_stages, n_microbatches=n_microbatches)
    return (n_stages - 1) / (n_microbatches + n_stages - 1)


def idle_fraction(timeline: Sequence[PipelineStep]) -> float:
    """The fraction of the run the stages spend waiting: ``1 - busy time / (stages × run time)`` (notebook 19).

    The run lasts from the first start to the last end, over all stages; the busy time
    is the sum of every step's ``end - start``. For :func:`pipeline_timeline` it equals
    :func:`bubble_fraction`.
    """
    if not timeline:
        raise ValueError("the timeline is empty: give one PipelineStep per stage, micro-batch and direction")
    span = max(step.end for step in timeline) - min(step.start for step in timeline)
    busy = sum(step.end - step.start for step in timeline)
    n_stages = len({step.stage for step in timeline})
    return 1 - busy / (n_stages * span)


def plot_pipeline(timeline: Sequence[PipelineStep], ax: Any = None, title: str = "", unit: str = "time slot") -> Any:
    """A timeline as a Gantt chart: a row per stage, forwards blue, backwards orange, idle grey (notebook 19).

    Each box shows its micro-batch; ``unit`` labels the time axis ("seconds" for a
    measured run). Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt  # here, not at the top: the processes of tools/distributed.py draw nothing

    if not timeline:
        raise ValueError("the timeline is empty: give one PipelineStep per stage, micro-batch and direction")
    stages = sorted({step.stage for step in timeline})
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * len(stages) + 1.2))
    begin, finish = min(step.start for step in timeline), max(step.end for step in timeline)
    ax.barh(stages, finish - begin, left=begin, height=0.8, color="0.92", label="idle")
    for kind, label, color in (("F", "forward", "tab:blue"), ("B", "backward", "tab:orange")):
        steps = [step for step in timeline if step.kind == kind]
        if not steps:
            continue
        ax.barh([s.stage for s in steps], [s.end - s.start for s in steps], left=[s.start for s in steps],
                height=0.8, color=color, edgecolor="white", label=label)
        for step in steps:
            ax.text((step.start + step.end) / 2, step.stage, str(step.microbatch), ha="center", va="center",
                    color="white", fontsize=8)
    ax.set_yticks(stages, [f"stage {s}" for s in stages])
    ax.invert_yaxis()  # stage 0 on top
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # outside the axes: no bar hidden
    return ax


# --- running on several processes -----------------------------------------------------------


def launch(script: str | Path, nproc: int, *args: str, timeout: float = 120) -> str:
    """Run ``script args...`` in ``nproc`` processes with ``torchrun``; return what they printed (notebook 19).

    The command is ``python -m torch.distributed.run --standalone --nproc-per-node=nproc
    script args...``, with this Python: torchrun starts the processes and gives each its
    ``RANK``, ``WORLD_SIZE`` and a free port on this machine to meet on, where
    ``init_process_group("gloo")`` connects them. A relative ``script`` is taken from the
    repository root, so the same call works from ``notebooks/``, ``solutions/`` or the
    root; the processes run in the caller's working directory. Each process uses one
    thread (``OMP_NUM_THREADS=1``), so that they do not fight over the cores.

    On Windows ``USE_LIBUV=0`` is set too: PyTorch's Windows wheels are built without
    libuv, which the rendezvous store uses by default (pytorch/pytorch#139990). Where
    torchrun still fails with "use_libuv was requested" (pytorch/pytorch#148283), WSL
    runs the Linux build.

    A failed run raises ``RuntimeError`` with the last lines the processes wrote to
    stderr (their error); a run longer than ``timeout`` seconds is stopped and raises too.
    """
    path = Path(script)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        raise FileNotFoundError(f"no script at {path}: give a path relative to the repository root, "
                                "such as 'tools/distributed.py'")
    _check_world_size(nproc)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               str(path), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if sys.platform == "win32":
        env["USE_LIBUV"] = "0"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()  # torchrun stops its worker processes when it is terminated
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        raise RuntimeError(f"{path.name} {' '.join(map(str, args))} in {nproc} processes did not finish in "
                           f"{timeout:g} s; the end of its stderr:\n{_last_lines(stderr)}") from None
    if process.returncode != 0:
        raise RuntimeError(f"{path.name} {' '.join(map(str, args))} failed in {nproc} processes (exit status "
                           f"{process.returncode}); the end of its stderr:\n{_last_lines(stderr)}")
    return stdout


def _last_lines(stderr: str, n: int = 15) -> str:
    """The last ``n`` lines the processes wrote (torchrun marks them ``[rank0]:`` …), else the last of all."""
    lines = stderr.rstrip().splitlines()
    from_ranks = [line for line in lines if line.startswith("[rank")]
    return "\n".join((from_ranks or lines)[-n:])
