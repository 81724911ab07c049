"""helpers/training.py: datasets, loss, schedule, the loop, resuming from a checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.model import GPT, GPTConfig, load_checkpoint, save_checkpoint
from helpers.training import (
    IGNORE_INDEX,
    NextTokenDataset,
    available_devices,
    best_device,
    check_device,
    cross_entropy,
    learning_rate,
    make_loader,
    make_optimizer,
    next_token_windows,
    perplexity,
    train,
)


def tiny_config(vocab_size: int) -> GPTConfig:
    return GPTConfig(vocab_size=vocab_size, context_length=16, d_model=16, n_layers=1, n_heads=2, dropout=0.0)


# --- datasets ---------------------------------------------------------------


def test_windows_are_shifted_by_one_and_start_stride_apart():
    inputs, targets = next_token_windows(list(range(10)), context_length=4, stride=3)
    assert inputs.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6]]
    assert targets.tolist() == [[1, 2, 3, 4], [4, 5, 6, 7]]


def test_windows_keep_the_last_one_whose_target_exists():
    inputs, targets = next_token_windows(torch.arange(9), context_length=4, stride=1)
    assert len(inputs) == 5  # starts 0..4: the window at 4 ends with target 8
    assert targets[-1].tolist() == [5, 6, 7, 8]


def test_windows_reject_too_short_text_and_bad_sizes():
    with pytest.raises(ValueError, match="too few"):
        next_token_windows([1, 2, 3], context_length=3, stride=1)
    with pytest.raises(ValueError, match="stride"):
        next_token_windows([1, 2, 3], context_length=2, stride=0)


def test_next_token_dataset_and_loader_give_batches():
    dataset = NextTokenDataset(list(range(20)), context_length=5, stride=5)
    assert len(dataset) == 3
    x, y = next(iter(make_loader(dataset, batch_size=2, shuffle=False)))
    assert x.shape == y.shape == (2, 5)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_loader_shuffling_is_fixed_by_the_seed():
    dataset = NextTokenDataset(list(range(100)), context_length=4, stride=4)
    first = [x[:, 0].tolist() for x, _ in make_loader(dataset, batch_size=5, seed=3)]
    again = [x[:, 0].tolist() for x, _ in make_loader(dataset, batch_size=5, seed=3)]
    assert first == again
    assert first != [x[:, 0].tolist() for x, _ in make_loader(dataset, batch_size=5, seed=4)]


def test_cross_entropy_equals_torch_with_and_without_ignored_targets():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11) * 3
    targets = torch.randint(0, 11, (3, 5))
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert torch.allclose(cross_entropy(logits, targets), expected, atol=1e-6)
    targets[0, :3] = IGNORE_INDEX
    targets[2, 4] = IGNORE_INDEX
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
    assert torch.allclose(cross_entropy(logits, targets), expected, atol=1e-6)


def test_cross_entropy_is_stable_for_huge_logits_and_checks_shapes():
    logits = torch.tensor([[1000.0, 0.0, -1000.0]])
    assert torch.isfinite(cross_entropy(logits, torch.tensor([2])))
    with pytest.raises(ValueError, match="do not match"):
        cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="every target"):
        cross_entropy(torch.zeros(2, 4), torch.full((2,), IGNORE_INDEX))


def test_uniform_logits_give_loss_ln_vocab_and_perplexity_vocab():
    loss = cross_entropy(torch.zeros(4, 50), torch.arange(4))
    assert math.isclose(float(loss), math.log(50), rel_tol=1e-6)
    assert math.isclose(perplexity(loss), 50, rel_tol=1e-5)


# --- the schedule and the loop ---------------------------------------------


def test_learning_rate_warms_up_linearly_then_decays_by_cosine():
    lrs = [learning_rate(s, steps=110, lr=1.0, warmup_steps=10) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55)  # halfway down from 1.0 to 0.1
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert learning_rate(110, steps=110, lr=1.0, warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate(0, steps=5, lr=2.0) == pytest.approx(2.0)  # no warm-up


def test_training_reduces_the_loss_and_records_history():
    torch.manual_seed(0)
    text = [0, 1, 2, 3, 4, 5, 6, 7] * 21  # 160 windows: 10 full batches per epoch
    dataset = NextTokenDataset(text, context_length=8, stride=1)
    loader = make_loader(dataset, batch_size=16)
    model = GPT(tiny_config(8))
    history = train(model, loader, loader, steps=40, lr=1e-2, warmup_steps=4, eval_every=20, eval_batches=2, progress=False)
    assert len(history.train_loss) == len(history.lr) == 40
    assert history.eval_steps == [20, 40] and len(history.val_loss) == 2
    assert history.train_loss[0] > 1.8  # about ln 8 = 2.08 before training
    assert history.val_loss[-1] < 0.3  # the sequence is fully predictable
    assert history.tokens_seen == 40 * 16 * 8
    assert model.training  # as it came in


def test_training_is_deterministic_for_a_seed():
    dataset = NextTokenDataset(list(range(8)) * 10, context_length=6, stride=2)

    def run() -> list[float]:
        torch.manual_seed(1)
        model = GPT(tiny_config(8))
        return train(model, make_loader(dataset, 8, seed=1), steps=5, lr=1e-2, progress=False).train_loss

    assert run() == run()


# --- checkpoints -----------------------------------------------------------


def test_checkpoint_round_trip_gives_identical_logits(tmp_path):
    torch.manual_seed(0)
    config = tiny_config(12)
    model = GPT(config).eval()
    ids = torch.randint(0, 12, (2, 7))
    saved = load_checkpoint(save_checkpoint(tmp_path / "model.pt", model, step=3, extra={"words": ["a", "b"]}))
    assert saved.extra == {"words": ["a", "b"]} and saved.step == 3 and saved.optimizer_state is None
    assert saved.model.config == config and not saved.model.training
    assert torch.equal(saved.model(ids), model(ids))


def test_training_resumed_from_a_checkpoint_ends_where_one_run_does(tmp_path):
    dataset = NextTokenDataset(list(range(8)) * 10, context_length=6, stride=2)
    settings = dict(steps=10, lr=1e-2, warmup_steps=2, progress=False)

    def fresh() -> GPT:
        torch.manual_seed(1)
        return GPT(tiny_config(8))

    one_run = fresh()
    train(one_run, make_loader(dataset, 8, seed=1), **settings)

    first_half = fresh()
    optimizer = make_optimizer(first_half, lr=1e-2, weight_decay=0.1)
    train(first_half, make_loader(dataset, 8, seed=1), optimizer=optimizer, stop_step=5, **settings)
    saved = load_checkpoint(save_checkpoint(tmp_path / "half.pt", first_half, optimizer, step=5))
    resumed = saved.model
    optimizer = make_optimizer(resumed, lr=1e-2, weight_decay=0.1)
    optimizer.load_state_dict(saved.optimizer_state)
    history = train(resumed, make_loader(dataset, 8, seed=1), optimizer=optimizer, start_step=saved.step, **settings)

    assert len(history.train_loss) == 5
    for (name, a), b in zip(one_run.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    with pytest.raises(ValueError, match="start_step < stop_step"):
        train(resumed, make_loader(dataset, 8), start_step=10, **settings)


def test_training_leaves_the_random_state_and_the_mode_as_they_were():
    dataset = NextTokenDataset(list(range(8)) * 10, context_length=6, stride=2)
    model = GPT(tiny_config(8)).eval()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    train(model, make_loader(dataset, 8), steps=2, lr=1e-2, progress=False)
    assert torch.equal(torch.rand(3), expected) and not model.training


def test_mixed_precision_training_learns_too():
    torch.manual_seed(0)
    dataset = NextTokenDataset([0, 1, 2, 3, 4, 5, 6, 7] * 21, context_length=8, stride=1)
    model = GPT(tiny_config(8))
    history = train(model, make_loader(dataset, 16), steps=40, lr=1e-2, warmup_steps=4, progress=False,
                    mixed_precision=True)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())  # only the forward pass is bfloat16


# --- devices ---------------------------------------------------------------


def test_training_on_device_cpu_equals_training_without_a_device():
    dataset = NextTokenDataset(list(range(8)) * 10, context_length=6, stride=2)

    def run(**device) -> tuple[list[float], dict]:
        torch.manual_seed(1)
        model = GPT(tiny_config(8))
        losses = train(model, make_loader(dataset, 8, seed=1), steps=5, lr=1e-2, progress=False, **device).train_loss
        return losses, model.state_dict()

    losses, weights = run()
    for device in ("cpu", torch.device("cpu")):
        other_losses, other_weights = run(device=device)
        assert other_losses == losses
        assert all(torch.equal(weights[name], other_weights[name]) for name in weights)


@pytest.fixture
def cpu_only(monkeypatch):
    """This machine as a machine without a GPU, whatever it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_an_unavailable_device_is_a_clear_error_and_leaves_the_model_alone(cpu_only):
    dataset = NextTokenDataset(list(range(8)) * 10, context_length=6, stride=2)
    model = GPT(tiny_config(8))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    for device in ("cuda", "cuda:1", "mps"):
        with pytest.raises(ValueError, match=rf"device '{device}' is not available on this machine: use one of cpu$"):
            train(model, make_loader(dataset, 8), steps=2, lr=1e-2, progress=False, device=device)
    with pytest.raises(ValueError, match="'gpu' is not a device name: use one of cpu"):
        train(model, make_loader(dataset, 8), steps=2, lr=1e-2, progress=False, device="gpu")
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_check_device_accepts_what_the_machine_has(cpu_only, monkeypatch):
    assert check_device("cpu") == torch.device("cpu") and available_devices() == ["cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert check_device("cuda") == torch.device("cuda") and check_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match="'cuda:2' is not available on this machine: use one of cpu, cuda:0, cuda:1"):
        check_device("cuda:2")


def test_best_device_prefers_cuda_then_mps_then_the_cpu(cpu_only, monkeypatch):
    assert best_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert best_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert best_device() == torch.device("cuda")


def test_best_device_is_one_this_machine_has():
    device = best_device()
    assert check_device(device) == device
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.type == expected
