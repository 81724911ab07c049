"""helpers.scaling: parameter, FLOP and memory counts, against torch's own counts and the papers' numbers."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import helpers.scaling
from helpers.model import GPT, GPT_CONFIGS, GPTConfig
from helpers.scaling import (gpu_hours, matmul_parameters, training_flops, training_memory_bytes,
                             zero_memory_per_device)


def test_the_docstring_examples_hold():
    assert doctest.testmod(helpers.scaling).failed == 0


def test_matmul_parameters_are_the_linear_weights_of_the_course_gpt():
    for name, config in GPT_CONFIGS.items():
        with torch.device("meta"):
            model = GPT(config)
        linear_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
        assert matmul_parameters(config.d_model, config.n_layers, config.vocab_size) == linear_weights, name
    assert matmul_parameters(768, 12, 50257) == 123_532_032


def test_training_flops_equal_torchs_flop_counter_on_a_forward_and_backward():
    config = GPTConfig(vocab_size=96, context_length=16, d_model=32, n_layers=2, n_heads=4, dropout=0.0)
    torch.manual_seed(0)
    model = GPT(config)
    for block in model.blocks:
        block.attn.keep_weights = True  # attention as explicit matmuls, which the counter sees
    token_ids = torch.randint(0, config.vocab_size, (3, config.context_length))
    with FlopCounterMode(display=False) as counter:
        model(token_ids).sum().backward()
    expected = training_flops(32, 2, 16, 96, n_tokens=3 * 16)
    assert counter.get_total_flops() == expected == 8_552_448


def test_training_flops_of_gpt3_match_its_paper():
    # GPT-3 175B on 300B tokens: 3.14e23 FLOPs (Brown et al. 2020, table D.1), which counts 6·N·D only.
    flops = training_flops(d_model=12288, n_layers=96, context_length=2048, vocab_size=50257, n_tokens=300 * 10**9)
    weights_only = 6 * matmul_parameters(12288, 96, 50257) * 300 * 10**9
    assert round(weights_only / 1e23, 2) == 3.14
    assert 1.02 < flops / weights_only < 1.03  # attention adds under 3 % at this width


def test_training_memory_is_16_bytes_per_parameter_either_way():
    plain = training_memory_bytes(1000)
    mixed = training_memory_bytes(1000, mixed_precision=True)
    assert plain == {"weights": 4000, "gradients": 4000, "optimizer": 8000, "total": 16000}
    assert mixed == {"weights": 2000, "gradients": 2000, "optimizer": 12000, "total": 16000}


def test_training_memory_matches_adam_state_in_torch():
    model = torch.nn.Linear(10, 7)  # 77 parameters
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 10)).sum().backward()
    optimizer.step()
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values()
                for key, t in s.items() if key in ("exp_avg", "exp_avg_sq"))
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    assert training_memory_bytes(77) == {"weights": weights, "gradients": grads, "optimizer": state,
                                         "total": weights + grads + state}


def test_gpu_hours():
    assert gpu_hours(3600 * 1e12, 1e12, 1.0) == pytest.approx(1.0)
    assert gpu_hours(3600 * 1e12, 1e12, 0.5) == pytest.approx(2.0)
    # GPT-3 on A100s (312 TFLOP/s bf16 peak) at 40 % utilisation: about 700,000 GPU-hours.
    assert 6.9e5 < gpu_hours(3.14e23, 312e12, 0.4) < 7.1e5


def test_zero_memory_matches_the_papers_figure_1():
    # Ψ = 7.5B parameters on N = 64 devices (Rajbhandari et al. 2020, figure 1).
    gigabytes = [round(zero_memory_per_device(7_500_000_000, 64, stage) / 1e9, 1) for stage in range(4)]
    assert gigabytes == [120.0, 31.4, 16.6, 1.9]


def test_zero_memory_rounds_the_shard_up_and_one_device_holds_everything():
    assert zero_memory_per_device(10, 3, 3) == 54  # 160 / 3 = 53.3: the largest shard
    assert zero_memory_per_device(10, 3, 1) == 40 + 40
    for stage in range(4):
        assert zero_memory_per_device(1000, 1, stage) == training_memory_bytes(1000, mixed_precision=True)["total"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: matmul_parameters(0, 12, 50257), "d_model must be a positive whole number, got 0"),
        (lambda: matmul_parameters(768, 12.0, 50257), "n_layers must be a positive whole number, got 12.0"),
        (lambda: training_flops(768, 12, 1024, 50257, 1e9), "n_tokens must be a positive whole number, got 1000000000"),
        (lambda: training_flops(768, 12, -1, 50257, 10), "context_length must be a positive whole number"),
        (lambda: training_memory_bytes(True), "n_params must be a positive whole number, got True"),
        (lambda: gpu_hours(1e20, 0, 0.5), "peak_flops_per_second must be a positive number, got 0"),
        (lambda: gpu_hours(-1.0, 1e12, 0.5), "flops must be a positive number"),
        (lambda: gpu_hours(1e20, 1e12, 40), r"utilisation must be a fraction in \(0, 1\], got 40"),
        (lambda: gpu_hours(1e20, 1e12, 0), r"utilisation must be a fraction in \(0, 1\], got 0"),
        (lambda: zero_memory_per_device(100, 8, 4), "stage must be 0, 1, 2 or 3"),
        (lambda: zero_memory_per_device(100, 0, 1), "world_size must be a positive whole number, got 0"),
    ],
)
def test_bad_sizes_are_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
