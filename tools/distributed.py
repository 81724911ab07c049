"""Notebook 19's experiments on several processes, with real ``torch.distributed`` (gloo: any CPU).

Run it with torchrun, one process per rank (``helpers.distributed.launch`` does this):

    python -m torch.distributed.run --standalone --nproc-per-node=2 tools/distributed.py ddp --out /tmp/ddp.json

Each subcommand prints a few lines and, with ``--out``, rank 0 writes its numbers as JSON:

* ``all-reduce`` — ``dist.all_reduce`` equals ``helpers.distributed.ring_all_reduce`` of
  every rank's tensor; the time and bandwidth of an all-reduce of 4M floats (16 MiB);
* ``ddp`` — a small GPT trained three ways from the same start: one process on the whole
  batch, each rank on its shard with the gradients averaged by hand
  (``average_gradients``), and ``DistributedDataParallel``: the final weights agree;
* ``fsdp`` — the same model sharded with FSDP2 (``fully_shard``): the parameters each rank
  holds, and the weights after training, against one process;
* ``tensor-parallel`` — a ``Linear`` split by columns (outputs gathered) and by rows
  (partial sums all-reduced), and Megatron's feed-forward (column, then row: one
  all-reduce), against the unsplit layers;
* ``pipeline`` — layers split into one stage per rank, micro-batches sent forward and
  gradients back with ``dist.send`` / ``dist.recv`` (GPipe's schedule); the measured
  timeline and its idle fraction, the output and gradients against the unsplit model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from helpers.distributed import (  # noqa: E402
    PipelineStep,
    average_gradients,
    broadcast_parameters,
    bubble_fraction,
    column_parallel_forward,
    idle_fraction,
    ring_all_reduce,
    shard,
    split_columns,
    split_layers,
    split_rows,
)
from helpers.model import GPT, FeedForward, GPTConfig, count_parameters, gelu  # noqa: E402
from helpers.training import language_model_loss  # noqa: E402

SEED = 0
#: The model of ``ddp`` and ``fsdp``: a GPT small enough that a step takes milliseconds.
CONFIG = GPTConfig(vocab_size=64, context_length=16, d_model=32, n_layers=2, n_heads=2, dropout=0.0)


def log(*parts: Any) -> None:
    """Print on rank 0 only (every rank runs the same lines)."""
    if dist.get_rank() == 0:
        print(*parts, flush=True)


def max_difference(a: nn.Module | list[Tensor], b: nn.Module) -> float:
    """The largest |difference| between the parameters of two models of the same shape (or a list of tensors)."""
    mine = a.parameters() if isinstance(a, nn.Module) else a
    return max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(mine, b.parameters(), strict=True))


def make_gpt() -> GPT:
    """The same small GPT on every rank and every call: its weights come from ``SEED``."""
    torch.manual_seed(SEED)
    return GPT(CONFIG)


def fixed_batch(batch_size: int) -> tuple[Tensor, Tensor]:
    """(inputs, targets), (batch_size, context_length) random token ids, the same on every rank."""
    generator = torch.Generator().manual_seed(SEED + 1)
    tokens = torch.randint(CONFIG.vocab_size, (batch_size, CONFIG.context_length + 1), generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def train_steps(model: nn.Module, inputs: Tensor, targets: Tensor, steps: int, lr: float,
                after_backward: Callable[[], None] = lambda: None) -> tuple[list[float], list[float]]:
    """``steps`` steps of SGD on one batch; returns (the losses, the seconds of each step).

    ``after_backward`` runs between ``backward()`` and the update (to average gradients).
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses, seconds = [], []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = language_model_loss(model, inputs, targets)
        loss.backward()
        after_backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, seconds


def global_mean(values: list[float]) -> list[float]:
    """Each value averaged over the ranks (each rank's loss is over its shard: their mean is the batch's)."""
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return (tensor / dist.get_world_size()).tolist()


def per_step(seconds: list[float]) -> float:
    """Seconds per step, the first (warm-up) step left out when there are others."""
    return statistics.mean(seconds[1:] or seconds)


# --- the subcommands --------------------------------------------------------------------


def all_reduce_command(args: argparse.Namespace) -> dict:
    """dist.all_reduce against ring_all_reduce, then the time of a large all-reduce."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    # 1. dist.all_reduce against the ring simulated in one process, on a size the ranks do not divide
    mine = torch.randn(args.numel, generator=torch.Generator().manual_seed(100 + rank))
    reduced = mine.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)  # in place: every rank now holds the sum
    everyone = [torch.empty_like(mine) for _ in range(world_size)]
    dist.all_gather(everyone, mine)  # every rank's original tensor, to simulate the ring here
    ring = ring_all_reduce(everyone)[rank]
    difference = torch.tensor(float((ring - reduced).abs().max()))
    dist.all_reduce(difference, op=dist.ReduceOp.MAX)

    # 2. how long an all-reduce of a large tensor takes
    big = torch.ones(args.big_numel)
    dist.all_reduce(big)  # warm-up: the first call sets up the connections
    seconds = []
    for _ in range(args.repeats):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(big)
        seconds.append(time.perf_counter() - start)
    megabytes = big.numel() * big.element_size() / 1e6
    median = statistics.median(seconds)
    log(f"all_reduce of {args.numel} floats in {world_size} processes: rank {rank} holds the sum, "
        f"ring_all_reduce gives the same within {float(difference):.1e}")
    log(f"all_reduce of {big.numel():,} floats ({megabytes:.1f} MB): ⏱ {median * 1e3:.1f} ms, "
        f"⏱ {megabytes / median:,.0f} MB/s")
    return {"world_size": world_size, "numel": args.numel, "ring_vs_all_reduce_max_difference": float(difference),
            "big_numel": big.numel(), "megabytes": megabytes, "seconds": median,
            "megabytes_per_second": megabytes / median}


def ddp_command(args: argparse.Namespace) -> dict:
    """One process, gradients averaged by hand, DistributedDataParallel: the same training, the same weights."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    inputs, targets = fixed_batch(args.batch_size)
    my_inputs, my_targets = shard(inputs, rank, world_size), shard(targets, rank, world_size)

    # (a) one process on the whole batch: the reference, computed on rank 0 while the others wait
    single = make_gpt()
    single_losses, single_seconds = train_steps(single, inputs, targets, args.steps, args.lr) if rank == 0 else ([], [])
    dist.barrier()

    # (b) each rank on its shard, the gradients averaged by hand
    hand = make_gpt()
    broadcast_parameters(hand)  # the same start everywhere (the seed already gives it)
    hand_losses, hand_seconds = train_steps(hand, my_inputs, my_targets, args.steps, args.lr,
                                            after_backward=lambda: average_gradients(hand))

    # (c) DistributedDataParallel: the same, the all-reduces done during backward()
    ddp = DistributedDataParallel(make_gpt())
    ddp_losses, ddp_seconds = train_steps(ddp, my_inputs, my_targets, args.steps, args.lr)

    # the replicas of every rank stay equal: compare with rank 0's
    replicas = torch.tensor(0.0)
    for parameter in hand.parameters():
        rank0 = parameter.detach().clone()
        dist.broadcast(rank0, src=0)
        replicas = torch.maximum(replicas, (parameter.detach() - rank0).abs().max())
    dist.all_reduce(replicas, op=dist.ReduceOp.MAX)

    hand_losses, ddp_losses = global_mean(hand_losses), global_mean(ddp_losses)
    seconds = {"single": per_step(single_seconds) if rank == 0 else 0.0,  # rank 0's; the others: the ranks' mean
               "hand": global_mean([per_step(hand_seconds)])[0], "ddp": global_mean([per_step(ddp_seconds)])[0]}
    if rank != 0:
        return {}
    differences = {"hand_vs_single": max_difference(hand, single), "ddp_vs_single": max_difference(ddp.module, single),
                   "hand_vs_ddp": max_difference(hand, ddp.module)}
    log(f"{count_parameters(single):,} parameters, batch of {args.batch_size} sequences, {args.steps} SGD steps, "
        f"{world_size} processes ({args.batch_size // world_size} sequences each)")
    log(f"losses, one process:   {[round(x, 4) for x in single_losses]}")
    log(f"losses, by hand:       {[round(x, 4) for x in hand_losses]}")
    log(f"losses, DDP:           {[round(x, 4) for x in ddp_losses]}")
    log("largest weight differences: " + ", ".join(f"{k} {v:.1e}" for k, v in differences.items())
        + f"; between the ranks' replicas {float(replicas):.1e}")
    log("seconds per step: " + ", ".join(f"{k} ⏱ {v * 1e3:.1f} ms" for k, v in seconds.items()))
    return {"world_size": world_size, "parameters": count_parameters(single), "batch_size": args.batch_size,
            "steps": args.steps, "lr": args.lr, "max_difference": differences,
            "replicas_max_difference": float(replicas),
            "losses": {"single": single_losses, "hand": hand_losses, "ddp": ddp_losses},
            "seconds_per_step": seconds}


def fsdp_command(args: argparse.Namespace) -> dict:
    """FSDP2: the parameters each rank holds, and training that matches one process (or the error, plainly)."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    try:
        from torch.distributed.fsdp import fully_shard

        inputs, targets = fixed_batch(args.batch_size)
        model = make_gpt()
        for block in model.blocks:
            fully_shard(block)  # each block's weights gathered just before it runs, then freed
        fully_shard(model)  # the rest: embeddings, final norm, head
        full = sum(p.numel() for p in model.parameters())  # DTensors: numel is the full size
        held = sum(p.to_local().numel() for p in model.parameters())  # this rank's shard only
        losses, seconds = train_steps(model, shard(inputs, rank, world_size), shard(targets, rank, world_size),
                                      args.steps, args.lr)
        weights = [p.full_tensor() for p in model.parameters()]  # gathered from every rank
        held_by_rank = [None] * world_size
        dist.all_gather_object(held_by_rank, held)
        losses = global_mean(losses)
    except Exception as error:  # FSDP may not run everywhere: say so, plainly
        log(f"FSDP2 (fully_shard) failed: {type(error).__name__}: {error}")
        return {"world_size": world_size, "works": False, "error": f"{type(error).__name__}: {error}"}
    if rank != 0:
        return {}
    single = make_gpt()
    single_losses, _ = train_steps(single, inputs, targets, args.steps, args.lr)
    difference = max_difference(weights, single)
    log(f"FSDP2 in {world_size} processes: each holds {held_by_rank} of the {full:,} parameters "
        f"({held_by_rank[0] / full:.0%} for rank 0)")
    log(f"after {args.steps} SGD steps the weights differ from one process by at most {difference:.1e}; "
        f"losses {[round(x, 4) for x in losses]} against {[round(x, 4) for x in single_losses]}")
    return {"world_size": world_size, "works": True, "error": None, "parameters": full,
            "parameters_per_rank": held_by_rank, "steps": args.steps, "max_difference": difference,
            "losses": {"fsdp": losses, "single": single_losses}, "seconds_per_step": per_step(seconds)}


def tensor_parallel_command(args: argparse.Namespace) -> dict:
    """A Linear split by columns and by rows, and Megatron's feed-forward, against the unsplit layers."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    d_model, hidden_dim = args.d_model, 4 * args.d_model
    torch.manual_seed(SEED)
    x = torch.randn(4, 6, d_model)  # (B, T, d_model), the same input on every rank
    linear = nn.Linear(d_model, hidden_dim)  # the same layer on every rank: each keeps only its shard
    feed_forward = FeedForward(d_model, hidden_dim)

    with torch.no_grad():
        # columns: each rank computes hidden_dim / world_size of the outputs; all_gather puts them side by side
        mine = split_columns(linear, world_size)[rank](x)  # (B, T, hidden_dim / world_size)
        gathered = [torch.empty_like(mine) for _ in range(world_size)]
        dist.all_gather(gathered, mine)
        by_columns = torch.cat(gathered, dim=-1)  # (B, T, hidden_dim)
        reference = column_parallel_forward(x, linear.weight, linear.bias, world_size)[rank]

        # rows: each rank reads d_model / world_size of the inputs; all_reduce adds the partial sums
        k = d_model // world_size
        by_rows = split_rows(linear, world_size)[rank](x[..., rank * k : (rank + 1) * k])  # (B, T, hidden_dim)
        dist.all_reduce(by_rows, op=dist.ReduceOp.SUM)

        # Megatron's feed-forward: expand split by columns, GELU on each rank's slice, contract split by rows
        expand = split_columns(feed_forward.expand, world_size)[rank]
        contract = split_rows(feed_forward.contract, world_size)[rank]
        partial = contract(gelu(expand(x)))  # (B, T, d_model): this rank's share of the output
        dist.all_reduce(partial, op=dist.ReduceOp.SUM)  # the one all-reduce of the forward pass

        differences = torch.tensor([float((by_columns - linear(x)).abs().max()),
                                    float((mine - reference).abs().max()),
                                    float((by_rows - linear(x)).abs().max()),
                                    float((partial - feed_forward(x)).abs().max())])
    dist.all_reduce(differences, op=dist.ReduceOp.MAX)
    columns, rank_slice, rows, mlp = differences.tolist()
    mlp_per_rank = count_parameters(expand) + count_parameters(contract)
    log(f"Linear({d_model}, {hidden_dim}) in {world_size} processes: split by columns (all_gather) differs from "
        f"the whole layer by {columns:.1e}, by rows (all_reduce) by {rows:.1e}")
    log(f"feed-forward split column then row, one all_reduce: differs by {mlp:.1e}; rank 0 holds "
        f"{mlp_per_rank:,} of its {count_parameters(feed_forward):,} parameters")
    return {"world_size": world_size, "d_model": d_model, "hidden_dim": hidden_dim,
            "max_difference": {"columns": columns, "column_parallel_forward": rank_slice, "rows": rows,
                               "feed_forward": mlp},
            "feed_forward_parameters": count_parameters(feed_forward), "feed_forward_parameters_rank_0": mlp_per_rank}


def pipeline_model(n_stages: int, width: int) -> nn.Sequential:
    """Two (Linear, Tanh) layers per stage, the same weights on every rank."""
    torch.manual_seed(SEED)
    return nn.Sequential(*(nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(2 * n_stages)))


def pipeline_command(args: argparse.Namespace) -> dict:
    """GPipe over one stage per rank: the measured timeline, and the result against the unsplit model."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    first, last = rank == 0, rank == world_size - 1
    width, m = args.width, args.microbatches
    stage = split_layers(pipeline_model(world_size, width), world_size)[rank]  # this rank's layers only
    generator = torch.Generator().manual_seed(SEED + 2)
    inputs = torch.randn(args.microbatch_size * m, width, generator=generator)
    targets = torch.randn(args.microbatch_size * m, width, generator=generator)
    micro_inputs, micro_targets = inputs.tensor_split(m), targets.tensor_split(m)

    # Each stage's work is its real computation plus a sleep of --stage-ms per forward (twice that per
    # backward). The sleep stands for a large layer: it makes every stage take the same, known time and
    # leaves the cores free, so the timeline shows the schedule even with more processes than cores,
    # on a machine busy with other work, where timing real matmuls would mostly measure the competition.
    timeline, received, outputs, sends = [], [], [], []  # sends: (request, tensor), kept until it is sent
    warm_up = stage(micro_inputs[0])  # a process's first backward(gradient) imports code: about 0.4 s
    warm_up.backward(torch.zeros_like(warm_up))
    stage.zero_grad(set_to_none=True)
    dist.barrier()
    t0 = torch.tensor(time.perf_counter(), dtype=torch.float64)
    dist.broadcast(t0, src=0)  # one machine, one monotonic clock: rank 0's start is everyone's time 0
    t0 = t0.item()
    for j in range(m):  # forwards: receive from the previous stage, compute, send to the next one
        if first:
            x = micro_inputs[j]
        else:
            x = torch.empty(args.microbatch_size, width)
            dist.recv(x, src=rank - 1)
            x.requires_grad_(True)  # its gradient goes back to the previous stage
        start = time.perf_counter() - t0
        y = stage(x)
        time.sleep(args.stage_ms / 1000)
        timeline.append(PipelineStep(rank, j, "F", start, time.perf_counter() - t0))
        if not last:
            activation = y.detach()
            sends.append((dist.isend(activation, dst=rank + 1), activation))  # no waiting: on to the next one
        received.append(x)
        outputs.append(y)
    for j in reversed(range(m)):  # backwards, last micro-batch first: gradients flow back
        if last:
            start = time.perf_counter() - t0
            loss = nn.functional.mse_loss(outputs[j], micro_targets[j]) / m  # mean of m equal micro-batches
            loss.backward()
        else:
            grad = torch.empty(args.microbatch_size, width)
            dist.recv(grad, src=rank + 1)
            start = time.perf_counter() - t0
            outputs[j].backward(grad)
        time.sleep(args.backward_cost * args.stage_ms / 1000)
        timeline.append(PipelineStep(rank, j, "B", start, time.perf_counter() - t0))
        if not first:
            sends.append((dist.isend(received[j].grad, dst=rank - 1), received[j].grad))
    for request, _ in sends:
        request.wait()

    # against the unsplit model on the whole batch, computed on every rank
    reference = pipeline_model(world_size, width)
    expected = reference(inputs)
    nn.functional.mse_loss(expected, targets).backward()
    reference_stage = split_layers(reference, world_size)[rank]
    gradient_difference = max(float((p.grad - q.grad).abs().max())
                              for p, q in zip(stage.parameters(), reference_stage.parameters(), strict=True))
    output_difference = float((torch.cat(outputs) - expected).detach().abs().max()) if last else 0.0
    reports: list[Any] = [None] * world_size
    dist.all_gather_object(reports, ([tuple(step) for step in timeline], gradient_difference, output_difference))
    if rank != 0:
        return {}
    steps = [PipelineStep(*step) for report in reports for step in report[0]]
    measured, formula = idle_fraction(steps), bubble_fraction(world_size, m)
    differences = {"output": max(r[2] for r in reports), "gradients": max(r[1] for r in reports)}
    log(f"{world_size} stages, {m} micro-batches of {args.microbatch_size}: ⏱ {max(s.end for s in steps):.3f} s, "
        f"idle ⏱ {measured:.1%} of the time (GPipe's bubble (p - 1) / (m + p - 1) = {formula:.1%})")
    log(f"output against the unsplit model: {differences['output']:.1e}; "
        f"gradients: {differences['gradients']:.1e}")
    return {"world_size": world_size, "n_stages": world_size, "n_microbatches": m,
            "microbatch_size": args.microbatch_size, "stage_ms": args.stage_ms, "backward_cost": args.backward_cost,
            "timeline": [list(step) for step in steps], "seconds": max(s.end for s in steps),
            "measured_idle_fraction": measured, "bubble_fraction": formula, "max_difference": differences}


COMMANDS = {"all-reduce": all_reduce_command, "ddp": ddp_command, "fsdp": fsdp_command,
            "tensor-parallel": tensor_parallel_command, "pipeline": pipeline_command}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        command = commands.add_parser(name)
        command.add_argument("--out", type=Path, help="rank 0 writes its results here, as JSON")
    commands.choices["all-reduce"].add_argument("--numel", type=int, default=1001)
    commands.choices["all-reduce"].add_argument("--big-numel", type=int, default=4 * 2**20)
    commands.choices["all-reduce"].add_argument("--repeats", type=int, default=5)
    for name in ("ddp", "fsdp"):
        commands.choices[name].add_argument("--batch-size", type=int, default=8)
        commands.choices[name].add_argument("--steps", type=int, default=5)
        commands.choices[name].add_argument("--lr", type=float, default=0.5)
    commands.choices["tensor-parallel"].add_argument("--d-model", type=int, default=24)
    pipeline = commands.choices["pipeline"]
    pipeline.add_argument("--microbatches", type=int, default=4)
    pipeline.add_argument("--microbatch-size", type=int, default=8)
    pipeline.add_argument("--width", type=int, default=64)
    pipeline.add_argument("--stage-ms", type=float, default=20.0, help="milliseconds of work per forward")
    pipeline.add_argument("--backward-cost", type=float, default=2.0, help="a backward's work / a forward's")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        result = COMMANDS[args.command](args)
        if dist.get_rank() == 0 and args.out is not None:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        dist.barrier()  # no process leaves while another may still be talking to it
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
