"""Pre-training arithmetic: parameters, FLOPs, memory and GPU-hours of a GPT (notebooks 18 and 19).

Every number here comes from the model's sizes alone, before any training:

* :func:`matmul_parameters` — the weights a token is multiplied with (the ``N`` of "6·N·D");
* :func:`training_flops` — floating-point operations to train on ``n_tokens`` tokens
  (PaLM's formula: 6·N per token for the weights, plus the attention scores);
* :func:`gpu_hours` — those FLOPs on a GPU of a given peak speed and utilisation;
* :func:`training_memory_bytes` — weights, gradients and Adam's state in memory (18);
* :func:`zero_memory_per_device` — the same, per device, when ZeRO / FSDP shards it (19).

GPT-2 small trained on a billion tokens, 8.5e17 FLOPs:

    >>> matmul_parameters(d_model=768, n_layers=12, vocab_size=50257)
    123532032
    >>> training_flops(d_model=768, n_layers=12, context_length=1024, vocab_size=50257, n_tokens=10**9)
    854438400000000000
"""

from __future__ import annotations

import math


def _check_positive_int(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def matmul_parameters(d_model: int, n_layers: int, vocab_size: int) -> int:
    """The weights each token is multiplied with: ``12·n_layers·d_model² + d_model·vocab_size`` (notebook 18).

    Each block holds 4·d² in attention (query, key, value and output projections) and
    8·d² in its feed-forward (d → 4d → d); the output head adds d·vocab_size. Biases,
    norms and the embedding lookups are left out: they are few, or they are not
    multiplications. GPT-2 small gives 123,532,032, close to its 124M parameters.
    """
    _check_positive_int(d_model=d_model, n_layers=n_layers, vocab_size=vocab_size)
    return 12 * n_layers * d_model**2 + d_model * vocab_size


def training_flops(d_model: int, n_layers: int, context_length: int, vocab_size: int, n_tokens: int) -> int:
    """FLOPs to train on ``n_tokens`` tokens: ``n_tokens · (6·N + 12·n_layers·context_length·d_model)`` (18).

    ``N`` is :func:`matmul_parameters`. A multiply-add is 2 FLOPs, so the forward pass
    costs 2·N per token and the backward pass twice that: 6·N. Attention adds its two
    products of activations, QKᵀ and the weighted sum AV, 2·2·T·d per token per layer
    forward, ×3 for training: 12·L·T·d. This is PaLM's formula (Chowdhery et al. 2022,
    appendix B: 6N + 12·L·H·Q·T per token, with H·Q = d_model).
    """
    _check_positive_int(context_length=context_length, n_tokens=n_tokens)
    per_token = 6 * matmul_parameters(d_model, n_layers, vocab_size) + 12 * n_layers * context_length * d_model
    return n_tokens * per_token


def training_memory_bytes(n_params: int, *, mixed_precision: bool = False) -> dict[str, int]:
    """Bytes that training with Adam holds per model: ``{"weights", "gradients", "optimizer", "total"}`` (notebook 18).

    Plain float32 training keeps 4 bytes of weight, 4 of gradient and 8 of Adam state
    (momentum and variance) per parameter: 16. Mixed precision as in ZeRO
    (Rajbhandari et al. 2020) keeps float16/bfloat16 weights (2) and gradients (2), and
    an optimizer state of 12: a float32 master copy of the weights, momentum and
    variance. That is 16 bytes per parameter too: mixed precision saves time and
    activation memory, not model-state memory. Activations are not included: they
    depend on the batch size and context length.
    """
    _check_positive_int(n_params=n_params)
    weights, gradients, optimizer = (2, 2, 12) if mixed_precision else (4, 4, 8)
    memory = {"weights": weights * n_params, "gradients": gradients * n_params, "optimizer": optimizer * n_params}
    memory["total"] = sum(memory.values())
    return memory


def gpu_hours(flops: float, peak_flops_per_second: float, utilisation: float) -> float:
    """Hours of one GPU to do ``flops``: ``flops / (peak_flops_per_second · utilisation) / 3600`` (notebook 18).

    ``utilisation`` (the model FLOPs utilisation, MFU) is the fraction of the peak the
    training really reaches, in (0, 1]; 0.3 to 0.5 is typical of large runs.
    """
    for name, value in (("flops", flops), ("peak_flops_per_second", peak_flops_per_second)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if isinstance(utilisation, bool) or not isinstance(utilisation, (int, float)) or not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be a fraction in (0, 1], got {utilisation!r}")
    return flops / (peak_flops_per_second * utilisation) / 3600


def zero_memory_per_device(n_params: int, world_size: int, stage: int) -> int:
    """Bytes of model state per device of ``world_size`` under ZeRO ``stage`` 0–3, mixed-precision Adam (notebook 19).

    With Ψ = ``n_params``, N = ``world_size`` and 2 + 2 + 12 bytes per parameter (see
    :func:`training_memory_bytes`), as in the ZeRO paper (Rajbhandari et al. 2020, figure 1):

    * stage 0, plain data parallelism: every device holds everything, 16Ψ;
    * stage 1, optimizer states sharded: 4Ψ + 12Ψ/N;
    * stage 2, gradients sharded too: 2Ψ + 14Ψ/N;
    * stage 3, parameters sharded too (PyTorch FSDP's full sharding): 16Ψ/N.

    The sharded part is rounded up to whole bytes (the largest shard, when N does not
    divide it). Activations are not included.
    """
    _check_positive_int(n_params=n_params, world_size=world_size)
    if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= 3:
        raise ValueError(f"stage must be 0, 1, 2 or 3 (ZeRO's stages), got {stage!r}")
    replicated, sharded = {0: (16, 0), 1: (4, 12), 2: (2, 14), 3: (0, 16)}[stage]  # bytes per parameter
    return replicated * n_params + (sharded * n_params + world_size - 1) // world_size  # ceil, in whole numbers
