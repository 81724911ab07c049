"""Quantization from scratch: weights stored as small integers and a scale (notebook 18).

A quantized tensor keeps, instead of each float32 value ``x``, an integer *code* of
``bits`` bits and, per group of values, one float32 *scale*: ``x ≈ code · scale``.

* :func:`quantize` — symmetric (absmax) codes in ``[-qmax, qmax]``, or, with
  ``zero_point=True``, asymmetric codes in ``[0, 2**bits - 1]`` and ``x ≈ (code - zero_point) · scale``;
  one scale per tensor, per row (channel), or per group of ``group_size`` values of a row;
* :func:`dequantize` — back to float32; the error is at most ``scale / 2`` per value;
* :func:`quantize_model` — a copy of a model whose weight matrices went through both
  ("fake quantization": what the model computes with once quantized), and
  :func:`quantized_size_bytes`, the size it would take to store;
* :func:`torch_dynamic_int8` — PyTorch's own int8 (``quantize_dynamic``), to compare, and
  :func:`serialized_size_bytes`, a model's size as ``torch.save`` writes it.

    >>> q = quantize(torch.tensor([[0.5, -1.0, 0.25, 0.0]]), bits=8)
    >>> q.codes, q.scale
    (tensor([[  64, -127,   32,    0]], dtype=torch.int8), tensor(0.0079))
    >>> dequantize(q)
    tensor([[ 0.5039, -1.0000,  0.2520,  0.0000]])
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Quantized:
    """A quantized tensor: integer ``codes`` of the original ``shape`` and one ``scale`` per group (notebook 18).

    ``scale`` (and ``zero_point``) has shape ``(*shape[:-1], n_groups)``: each row of
    ``shape[-1]`` values is cut into ``n_groups`` groups of ``group_size``; with
    ``group_size=None`` there is one scale for the whole tensor, a 0-dim tensor.
    ``codes`` are torch.int8 for symmetric codes, torch.uint8 with a ``zero_point``
    (torch.uint8 too, in ``[0, 2**bits - 1]``; ``None`` when symmetric).
    """

    codes: Tensor
    scale: Tensor
    zero_point: Tensor | None
    bits: int
    group_size: int | None
    shape: torch.Size

    @property
    def storage_bits(self) -> int:
        """Bits to store it: ``bits`` per code (packed), 32 per scale, and ``bits`` per zero point.

        A zero point is an integer in the codes' range, so it is stored as one more code.
        """
        zero_point_bits = 0 if self.zero_point is None else self.bits * self.zero_point.numel()
        return self.bits * self.codes.numel() + 32 * self.scale.numel() + zero_point_bits

    @property
    def bits_per_weight(self) -> float:
        """``storage_bits`` per value: int4 with groups of 32 and a float32 scale is 4 + 32/32 = 5.0."""
        return self.storage_bits / self.codes.numel()


def _check_quantize_args(tensor: Tensor, bits: int, group_size: int | None) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be a whole number in 2..8, got {bits!r}")
    if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
        what = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise ValueError(f"quantize needs a floating-point tensor (the weights), got {what}")
    if tensor.numel() == 0:
        raise ValueError(f"quantize needs a tensor with values, got an empty one of shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError("quantize needs finite values: the tensor holds inf or NaN")
    if group_size is None:
        return
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive whole number or None (one scale per tensor), "
                         f"got {group_size!r}")
    if tensor.dim() == 0:
        raise ValueError("a 0-dim tensor has no rows to cut into groups: use group_size=None")
    row = tensor.shape[-1]
    if row % group_size:
        choices = [d for d in (32, 64, 128) if row % d == 0] or [d for d in range(1, row + 1) if row % d == 0][-3:]
        such_as = str(choices[0]) if len(choices) == 1 else f"{', '.join(map(str, choices[:-1]))} or {choices[-1]}"
        raise ValueError(f"group_size {group_size} does not divide the rows of {row} values; "
                         f"use a divisor such as {such_as}")


def quantize(tensor: Tensor, bits: int, group_size: int | None = None, *, zero_point: bool = False) -> Quantized:
    """Round ``tensor`` to ``bits``-bit integer codes with one scale per group (notebook 18).

    ``group_size=None`` gives one scale per tensor; otherwise each row (the last axis)
    is cut into consecutive groups of ``group_size`` values, each with its own scale:
    ``group_size = tensor.shape[-1]`` is one scale per row, *per channel* (per output of
    an ``nn.Linear`` weight).

    * Symmetric (absmax): ``qmax = 2**(bits-1) - 1``, ``scale = max|x| / qmax``,
      ``code = round(x / scale)`` in ``[-qmax, qmax]`` (int8 codes: 8 bits give -127..127).
    * ``zero_point=True`` (asymmetric): the group's range, widened to contain 0 (as
      PyTorch's observers do, so that 0 stays exact and the zero point fits the codes),
      is cut into ``2**bits - 1`` steps: ``scale = (max - min) / (2**bits - 1)``,
      ``zero_point = round(-min / scale)``, ``code = clamp(round(x / scale) + zero_point, 0, 2**bits - 1)``
      (uint8 codes).

    A group of zeros gets scale 1 (and zero point 0): its codes are 0 and come back as
    exact zeros, with no division by 0. ``torch.round`` rounds half-way values to the
    even integer (2.5 → 2), as ``torch.quantize_per_tensor`` does.
    """
    _check_quantize_args(tensor, bits, group_size)
    x = tensor.detach().float()
    if group_size is None:
        groups = x.reshape(1, -1)  # the whole tensor is one group
    else:
        groups = x.reshape(*x.shape[:-1], x.shape[-1] // group_size, group_size)  # (..., n_groups, group_size)
    if zero_point:
        qmax = 2**bits - 1
        low = groups.amin(dim=-1, keepdim=True).clamp(max=0)  # (..., n_groups, 1): the range contains 0
        high = groups.amax(dim=-1, keepdim=True).clamp(min=0)
        scale = (high - low) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a group of zeros: scale 1
        zero = torch.round(-low / scale)  # in [0, qmax], since low <= 0 <= high
        codes = torch.clamp(torch.round(groups / scale) + zero, 0, qmax).to(torch.uint8)
        zero = zero.to(torch.uint8)  # stored like a code
    else:
        qmax = 2 ** (bits - 1) - 1
        scale = groups.abs().amax(dim=-1, keepdim=True) / qmax  # (..., n_groups, 1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a group of zeros: scale 1
        zero = None
        codes = torch.clamp(torch.round(groups / scale), -qmax, qmax).to(torch.int8)
    scale_shape = () if group_size is None else scale.shape[:-1]  # one number, or (..., n_groups)
    return Quantized(codes=codes.reshape(tensor.shape), scale=scale.reshape(scale_shape),
                     zero_point=None if zero is None else zero.reshape(scale_shape),
                     bits=bits, group_size=group_size, shape=tensor.shape)


def dequantize(q: Quantized) -> Tensor:
    """``(code - zero_point) · scale`` for every value: a float32 tensor of the original shape (notebook 18)."""
    if q.group_size is None:
        codes = q.codes.reshape(1, -1).float()  # one group
        scale, zero = q.scale.reshape(1, 1), q.zero_point
        zero = None if zero is None else zero.reshape(1, 1)
    else:
        codes = q.codes.reshape(*q.shape[:-1], q.shape[-1] // q.group_size, q.group_size).float()
        scale = q.scale.unsqueeze(-1)  # (..., n_groups, 1): one scale for each group's values
        zero = None if q.zero_point is None else q.zero_point.unsqueeze(-1)
    values = (codes if zero is None else codes - zero.float()) * scale
    return values.reshape(q.shape)


def _weight_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The weights of every ``nn.Linear`` and ``nn.Embedding``, a tied matrix once, in module order."""
    weights: dict[int, nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            weights.setdefault(id(module.weight), module.weight)
    return list(weights.values())


@torch.no_grad()
def quantize_model(model: nn.Module, bits: int, group_size: int | None = None, *,
                   zero_point: bool = False) -> nn.Module:
    """A copy of ``model`` whose weight matrices are ``dequantize(quantize(weight, ...))`` (notebook 18).

    Every weight of an ``nn.Linear`` and an ``nn.Embedding`` (positions too) is
    quantized; biases and norms stay as they are. This is *fake quantization*: the
    copy computes in float32 with exactly the values the quantized model would hold, so
    its loss is the quantized model's. A tied matrix (the GPT's token embedding and
    output head) is quantized once and stays tied. ``model`` is left unchanged.
    """
    quantized = copy.deepcopy(model)  # the copy keeps the tie: one Parameter, used twice
    for weight in _weight_matrices(quantized):
        weight.copy_(dequantize(quantize(weight, bits, group_size, zero_point=zero_point)))
    return quantized


def quantized_size_bytes(model: nn.Module, bits: int, group_size: int | None = None, *,
                         zero_point: bool = False) -> int:
    """Bytes to store ``model`` quantized as :func:`quantize_model` does (notebook 18).

    Each ``nn.Linear`` / ``nn.Embedding`` weight takes its :attr:`Quantized.storage_bits`,
    rounded up to whole bytes; every other parameter (biases, norms) 4 bytes, float32.
    A tied matrix counts once. Buffers are not counted.
    """
    matrices = _weight_matrices(model)
    size = sum((quantize(w, bits, group_size, zero_point=zero_point).storage_bits + 7) // 8 for w in matrices)
    quantized_ids = {id(w) for w in matrices}
    return size + sum(4 * p.numel() for p in model.parameters() if id(p) not in quantized_ids)


def torch_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with PyTorch's dynamic int8 quantization of its ``nn.Linear`` layers (notebook 18).

    ``torch.ao.quantization.quantize_dynamic`` stores each linear weight as int8 with
    one scale per tensor, and quantizes the activations on the fly at every call. A
    head tied to the embedding gets its own int8 copy (the embedding stays float32).
    ``torch.ao.quantization`` is deprecated in favour of the separate ``torchao``
    package, which the course does not install: its deprecation warnings are silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=UserWarning)
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def serialized_size_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the model's size on disk (notebook 18)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes
