"""helpers/distributed.py and tools/distributed.py: the pieces in one process, then real gloo processes.

The multi-process tests start ``tools/distributed.py`` in 2 processes with
``helpers.distributed.launch`` (about 5 s each, mostly importing torch three times)
and compare what rank 0 wrote with one process's results, within float rounding.
"""

from __future__ import annotations

import doctest
import json
import os
from pathlib import Path

import matplotlib
import pytest
import torch
from torch import nn

import helpers.distributed
from helpers.distributed import (
    PipelineStep,
    all_reduce_mean,
    bubble_fraction,
    column_parallel_forward,
    idle_fraction,
    launch,
    pipeline_timeline,
    plot_pipeline,
    ring_all_reduce,
    shard,
    split_columns,
    split_layers,
    split_rows,
)
from helpers.paths import REPO_ROOT

matplotlib.use("Agg")  # no screen needed


def test_the_module_examples_run():
    assert doctest.testmod(helpers.distributed).failed == 0

# --- shard ---------------------------------------------------------------------------


def test_shards_are_consecutive_views_that_cover_the_batch_once():
    batch = torch.arange(24).reshape(12, 2)
    for world_size in (1, 2, 3, 4, 6, 12):
        shards = [shard(batch, rank, world_size) for rank in range(world_size)]
        assert torch.equal(torch.cat(shards), batch)
        assert all(len(s) == 12 // world_size and s.data_ptr() == batch[rank * len(s)].data_ptr()
                   for rank, s in enumerate(shards))  # views: no copy
    assert shard(batch, 1, 3).tolist() == [[8, 9], [10, 11], [12, 13], [14, 15]]


def test_shard_rejects_what_cannot_be_split():
    with pytest.raises(ValueError, match=r"^a batch of 10 cannot be split evenly over 3 processes: use a world size "
                                         r"that divides it, such as 1, 2, 5 or 10$"):
        shard(torch.zeros(10, 4), 0, 3)
    with pytest.raises(ValueError, match="such as 1, 2, 3, 4, 5 or 120"):
        shard(torch.zeros(120), 0, 7)
    for rank in (-1, 4, True, 1.0):
        with pytest.raises(ValueError, match="rank must be a whole number from 0 to world_size - 1 = 3"):
            shard(torch.zeros(8), rank, 4)
    with pytest.raises(ValueError, match="world_size"):
        shard(torch.zeros(8), 0, 0)
    with pytest.raises(ValueError, match=r"batch axis \(dim 0\), got shape \(\)"):
        shard(torch.tensor(3.0), 0, 1)


# --- the ring all-reduce --------------------------------------------------------------


def test_ring_all_reduce_gives_every_rank_the_sum_for_any_size():
    gen = torch.Generator().manual_seed(0)
    for world_size in (1, 2, 3, 4, 5):
        for shape in ((0,), (1,), (3,), (7,), (10,), (2, 3), (4, 5)):  # fewer entries than ranks too
            tensors = [torch.randn(shape, generator=gen) for _ in range(world_size)]
            copies = [t.clone() for t in tensors]
            results = ring_all_reduce(tensors)
            assert len(results) == world_size and all(r.shape == shape for r in results)
            assert torch.allclose(results[0], torch.stack(tensors).sum(dim=0), atol=1e-6, rtol=0)
            assert all(torch.equal(r, results[0]) for r in results)  # bit for bit: the finished chunks are copied
            assert all(torch.equal(t, c) for t, c in zip(tensors, copies))  # inputs untouched
            assert all(r.data_ptr() != t.data_ptr() or r.numel() == 0 for r in results for t in tensors)


def test_ring_all_reduce_of_whole_numbers_is_exact_and_each_rank_owns_its_result():
    tensors = [torch.arange(11) * (r + 1) for r in range(4)]  # int64: no rounding at all
    results = ring_all_reduce(tensors)
    assert all(torch.equal(r, torch.arange(11) * 10) for r in results)
    results[0][0] = 99
    assert results[1][0] == 0  # every rank its own buffer


def test_all_reduce_mean_is_the_mean_over_the_ranks():
    tensors = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 4.0, 5.0]), torch.tensor([5.0, 0.0, 1.0])]
    assert [t.tolist() for t in all_reduce_mean(tensors)] == [[3.0, 2.0, 3.0]] * 3


def test_ring_all_reduce_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match=r"the same shape, got \[\(2,\), \(3,\)\]"):
        ring_all_reduce([torch.zeros(2), torch.zeros(3)])
    for bad in ([], torch.zeros(2, 3), [torch.zeros(2), [0.0, 1.0]]):
        with pytest.raises(TypeError, match="a non-empty list of tensors, one per rank"):
            ring_all_reduce(bad)


# --- tensor parallel -----------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_split_layers_equal_the_whole_linear(bias):
    torch.manual_seed(0)
    linear = nn.Linear(12, 8, bias=bias)
    x = torch.randn(3, 5, 12)
    with torch.no_grad():
        for world_size in (1, 2, 4):
            columns = split_columns(linear, world_size)
            assert [tuple(s.weight.shape) for s in columns] == [(8 // world_size, 12)] * world_size
            assert torch.allclose(torch.cat([s(x) for s in columns], dim=-1), linear(x), atol=1e-6, rtol=0)
            rows = split_rows(linear, world_size)
            assert [tuple(s.weight.shape) for s in rows] == [(8, 12 // world_size)] * world_size
            assert [s.bias is not None for s in rows] == [bias] + [False] * (world_size - 1)  # the bias once
            k = 12 // world_size
            partial_sums = [s(x[..., r * k : (r + 1) * k]) for r, s in enumerate(rows)]
            assert torch.allclose(sum(partial_sums), linear(x), atol=1e-6, rtol=0)
            slices = column_parallel_forward(x, linear.weight, linear.bias, world_size)
            assert all(torch.allclose(a, s(x), atol=1e-6, rtol=0) for a, s in zip(slices, columns))


def test_shards_hold_copies_of_the_weights():
    linear = nn.Linear(4, 4)
    before = linear.weight.detach().clone()
    for shards in (split_columns(linear, 2), split_rows(linear, 2)):
        with torch.no_grad():
            shards[0].weight.fill_(7.0)
    assert torch.equal(linear.weight, before)


def test_splits_reject_sizes_that_do_not_divide():
    with pytest.raises(ValueError, match="out_features of 6 cannot be split evenly over 4 processes: "
                                         "use a world size that divides it, such as 1, 2, 3 or 6"):
        split_columns(nn.Linear(8, 6), 4)
    with pytest.raises(ValueError, match="in_features of 5 cannot be split evenly over 2 processes"):
        split_rows(nn.Linear(5, 8), 2)
    with pytest.raises(ValueError, match="out_features of 6 cannot be split evenly over 4"):
        column_parallel_forward(torch.zeros(2, 8), torch.zeros(6, 8), None, 4)
    with pytest.raises(ValueError, match=r"in_features = x.shape\[-1\], got weight \(6, 8\) and x \(2, 6\)"):
        column_parallel_forward(torch.zeros(2, 6), torch.zeros(6, 8), None, 2)
    with pytest.raises(TypeError, match="must be an nn.Linear, got Conv1d"):
        split_columns(nn.Conv1d(2, 2, 1), 1)
    with pytest.raises(ValueError, match="world_size"):
        split_rows(nn.Linear(4, 4), 0)


# --- pipeline parallel -------------------------------------------------------------------


def test_split_layers_run_one_after_the_other_is_the_model():
    torch.manual_seed(0)
    model = nn.Sequential(*(nn.Linear(4, 4) for _ in range(6)))
    x = torch.randn(2, 4)
    for n_stages in (1, 2, 3, 6):
        stages = split_layers(model, n_stages)
        out = x
        for stage in stages:
            out = stage(out)
        assert torch.equal(out, model(x)) and sum(len(s) for s in stages) == 6
    assert split_layers(model, 2)[1][0] is model[3]  # the same modules
    with pytest.raises(ValueError, match="n_stages must divide the model's 6 layers, such as 1, 2, 3 or 6, got 4"):
        split_layers(model, 4)


def occupied(timeline: list[PipelineStep], stage: int) -> list[int]:
    """The time slots a stage works in, one entry per slot."""
    return [slot for step in timeline if step.stage == stage for slot in range(step.start, step.end)]


@pytest.mark.parametrize(("n_stages", "n_microbatches", "backward_cost"),
                         [(1, 4, 1), (2, 4, 1), (4, 8, 1), (4, 4, 2), (3, 7, 2), (5, 1, 1)])
def test_gpipe_timeline_follows_the_dependencies_and_its_idle_slots_are_the_bubble(n_stages, n_microbatches,
                                                                                   backward_cost):
    timeline = pipeline_timeline(n_stages, n_microbatches, backward_cost)
    assert len(timeline) == 2 * n_stages * n_microbatches
    when = {(s.stage, s.microbatch, s.kind): s for s in timeline}
    for s in range(n_stages):
        slots = occupied(timeline, s)
        assert len(slots) == len(set(slots)) == n_microbatches * (1 + backward_cost)  # one thing at a time
        for j in range(n_microbatches):
            forward, backward = when[s, j, "F"], when[s, j, "B"]
            assert forward.end - forward.start == 1 and backward.end - backward.start == backward_cost
            if s > 0:
                assert forward.start >= when[s - 1, j, "F"].end  # the activation must have arrived
            if s < n_stages - 1:
                assert backward.start >= when[s + 1, j, "B"].end  # and the gradient come back
        assert max(when[s, j, "F"].end for j in range(n_microbatches)) \
            <= min(when[s, j, "B"].start for j in range(n_microbatches))  # GPipe: all forwards first
    total = max(step.end for step in timeline)
    assert total == (n_microbatches + n_stages - 1) * (1 + backward_cost)  # no slot wasted beyond the bubble
    idle_slots = sum(total - len(occupied(timeline, s)) for s in range(n_stages))
    assert idle_slots / (n_stages * total) == pytest.approx(bubble_fraction(n_stages, n_microbatches), abs=1e-12)
    assert idle_fraction(timeline) == pytest.approx(bubble_fraction(n_stages, n_microbatches), abs=1e-12)


def test_bubble_fraction_by_hand_and_its_errors():
    assert bubble_fraction(1, 8) == 0.0  # one stage never waits
    assert bubble_fraction(4, 1) == 0.75  # one micro-batch: each stage works one slot in four
    assert bubble_fraction(4, 8) == 3 / 11
    assert bubble_fraction(4, 32) < bubble_fraction(4, 8)
    for bad in ((0, 4), (2, 0), (2.0, 4)):
        with pytest.raises(ValueError, match="must be a whole number >= 1"):
            bubble_fraction(*bad)
    with pytest.raises(ValueError, match="backward_cost"):
        pipeline_timeline(2, 2, backward_cost=0)
    with pytest.raises(ValueError, match="the timeline is empty"):
        idle_fraction([])


def test_plot_pipeline_draws_a_row_per_stage_and_a_box_per_step():
    timeline = pipeline_timeline(3, 4)
    ax = plot_pipeline(timeline, title="GPipe")
    assert [label.get_text() for label in ax.get_yticklabels()] == ["stage 0", "stage 1", "stage 2"]
    assert len(ax.patches) == 3 + len(timeline)  # a grey row behind each stage, then a box per step
    assert sorted(text.get_text() for text in ax.texts) == sorted(str(s.microbatch) for s in timeline)
    assert ax.get_title() == "GPipe" and ax.get_xlabel() == "time slot"
    measured = [PipelineStep(0, 0, "F", 0.0, 0.02), PipelineStep(1, 0, "F", 0.021, 0.04)]
    assert plot_pipeline(measured, unit="seconds").get_xlabel() == "seconds"
    with pytest.raises(ValueError, match="the timeline is empty"):
        plot_pipeline([])


# --- launch, and the processes of tools/distributed.py ------------------------------------

SCRIPT = "tools/distributed.py"


def run(command: str, out: Path, *args: str) -> dict:
    launch(SCRIPT, 2, command, "--out", str(out), *args)
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("distributed")


def test_launch_from_another_folder_finds_the_script_and_returns_what_rank_0_printed(results_dir):
    cwd = os.getcwd()
    os.chdir(results_dir)  # not the repository root, as a notebook in notebooks/ is not
    try:
        printed = launch(SCRIPT, 2, "all-reduce", "--out", "all-reduce.json", "--big-numel", "1000000")
        result = json.loads(Path("all-reduce.json").read_text())  # relative to the caller's folder
    finally:
        os.chdir(cwd)
    assert Path.cwd() != REPO_ROOT / "tools" and (REPO_ROOT / SCRIPT).is_file()
    assert printed.count("all_reduce of") == 2  # rank 0's lines only
    assert result["world_size"] == 2 and result["numel"] == 1001
    # the ring simulated in one process equals gloo's all-reduce between the two processes
    assert result["ring_vs_all_reduce_max_difference"] <= 1e-6
    assert result["megabytes"] == 4.0 and result["megabytes_per_second"] > 0


def test_data_parallel_by_hand_and_by_ddp_equal_one_process(results_dir):
    result = run("ddp", results_dir / "ddp.json")
    assert result["world_size"] == 2 and result["batch_size"] == 8
    assert max(result["max_difference"].values()) <= 1e-5
    assert result["replicas_max_difference"] == 0.0  # every rank's model stays the same
    single = result["losses"]["single"]
    assert single[-1] < single[0]
    for way in ("hand", "ddp"):  # each rank's loss is over its shard: their mean is the batch's loss
        assert result["losses"][way] == pytest.approx(single, abs=1e-5)
    assert all(seconds > 0 for seconds in result["seconds_per_step"].values())


def test_fsdp_shards_the_parameters_and_trains_as_one_process(results_dir):
    result = run("fsdp", results_dir / "fsdp.json", "--steps", "3")
    assert result["works"], result["error"]
    assert sum(result["parameters_per_rank"]) == result["parameters"] == 28_032
    assert max(result["parameters_per_rank"]) <= result["parameters"] // 2 + 64  # about half each
    assert result["max_difference"] <= 1e-5


def test_tensor_parallel_layers_equal_the_whole_layers(results_dir):
    result = run("tensor-parallel", results_dir / "tp.json")
    assert result["max_difference"]["column_parallel_forward"] == 0.0  # the same slices, the same products
    assert max(result["max_difference"].values()) <= 1e-5
    d_model, hidden_dim = result["d_model"], result["hidden_dim"]
    # each rank: half of expand (weight and bias) and half of contract's weight; contract's bias on rank 0 only
    assert result["feed_forward_parameters_rank_0"] == (d_model * hidden_dim + hidden_dim) // 2 \
        + hidden_dim // 2 * d_model + d_model


def test_the_pipeline_follows_gpipe_and_computes_the_unsplit_model(results_dir):
    result = run("pipeline", results_dir / "pipeline.json")
    assert result["max_difference"]["output"] <= 1e-6 and result["max_difference"]["gradients"] <= 1e-6
    timeline = [PipelineStep(*step) for step in result["timeline"]]
    n_stages, m = result["n_stages"], result["n_microbatches"]
    assert len(timeline) == 2 * n_stages * m
    when = {(s.stage, s.microbatch, s.kind): s for s in timeline}
    for j in range(m):  # measured: a stage starts a micro-batch only once its neighbour has finished it
        assert when[1, j, "F"].start >= when[0, j, "F"].end
        assert when[0, j, "B"].start >= when[1, j, "B"].end
    assert result["bubble_fraction"] == bubble_fraction(n_stages, m) == 0.2
    assert result["measured_idle_fraction"] == pytest.approx(idle_fraction(timeline))
    assert result["bubble_fraction"] - 0.02 <= result["measured_idle_fraction"] <= result["bubble_fraction"] + 0.2


def test_launch_reports_the_processes_error_and_stops_a_run_that_is_too_long():
    with pytest.raises(RuntimeError, match=r"(?s)tensor-parallel --d-model 25 failed in 2 processes.*"
                                           r"in_features of 25 cannot be split evenly over 2 processes"):
        launch(SCRIPT, 2, "tensor-parallel", "--d-model", "25")
    with pytest.raises(RuntimeError, match="did not finish in 1 s"):
        launch(SCRIPT, 2, "pipeline", timeout=1)


def test_launch_checks_its_arguments_before_starting_anything():
    with pytest.raises(FileNotFoundError, match="relative to the repository root"):
        launch("tools/no_such_script.py", 2)
    with pytest.raises(ValueError, match="world_size"):
        launch(SCRIPT, 0)
