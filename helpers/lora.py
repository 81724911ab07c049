"""LoRA from scratch: a frozen linear layer plus a small trainable update (notebook 14).

LoRA (Hu et al., 2021) keeps a pretrained weight ``W`` (out × in) frozen and learns
its change as a product of two thin matrices, ``ΔW = (α / r) · B A``, with ``A``
(r × in) and ``B`` (out × r) for a rank ``r`` far below ``in`` and ``out``:

* :class:`LoRALinear` wraps one ``nn.Linear``; ``B`` starts at zero, so a new
  layer computes exactly what its base layer does;
* :func:`add_lora` wraps a model's chosen linear layers and freezes everything else;
* :func:`merge_lora` folds each ``(α / r) · B A`` into its weight: a plain model
  again, as fast as before fine-tuning;
* :func:`trainable_parameters` counts what trains, against the total.

In :class:`~helpers.model.GPT` each block ``blocks.{i}`` holds six ``nn.Linear``
layers, ``attn.W_query``, ``attn.W_key``, ``attn.W_value``, ``attn.out_proj``,
``ff.expand`` and ``ff.contract``; the model adds ``out_head`` (tied to the token
embedding). The LoRA paper adapts the query and value projections:

    >>> with torch.device("meta"):                 # sizes only, no memory used
    ...     model = GPT(GPT_CONFIGS["gpt2-small"])
    ...     names = add_lora(model, rank=8, alpha=16, targets=("attn.W_query", "attn.W_value"))
    >>> len(names), names[:2]
    (24, ['blocks.0.attn.W_query', 'blocks.0.attn.W_value'])
    >>> trainable_parameters(model)                # 12 blocks × 2 layers × 8·(768 + 768): 0.24 %
    (294912, 124734720)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from helpers.model import count_parameters

#: Every linear layer of a :class:`~helpers.model.GPT` block: the four of attention, the two of the feed-forward.
LORA_TARGETS: tuple[str, ...] = ("attn.W_query", "attn.W_key", "attn.W_value", "attn.out_proj", "ff.expand", "ff.contract")


class LoRALinear(nn.Module):
    """``base(x) + (alpha / rank) · x Aᵀ Bᵀ``: a frozen ``nn.Linear`` and its low-rank update (notebook 14).

    ``lora_A`` (rank, in_features) starts random (Kaiming-uniform, as in the LoRA
    paper's code, drawn from torch's global generator) and ``lora_B``
    (out_features, rank) at zero. Only they train: ``base``'s weight and bias are frozen.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"LoRA wraps an nn.Linear, got a {type(base).__name__}")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        if not alpha > 0:  # also refuses NaN
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        self.base = base.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        like = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))

    def forward(self, x: Tensor) -> Tensor:
        down = x @ self.lora_A.T  # (..., in_features) -> (..., rank)
        up = down @ self.lora_B.T  # (..., rank) -> (..., out_features)
        return self.base(x) + self.scaling * up  # (..., out_features)

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain, frozen ``nn.Linear`` computing the same: weight ``W + scaling · B A``, the same bias."""
        base = self.base
        linear = nn.utils.skip_init(nn.Linear, base.in_features, base.out_features, bias=base.bias is not None,
                                    device=base.weight.device, dtype=base.weight.dtype)
        linear.weight.copy_(base.weight + self.scaling * (self.lora_B @ self.lora_A))  # (out, rank) @ (rank, in)
        if base.bias is not None:
            linear.bias.copy_(base.bias)
        return linear.requires_grad_(False)

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha}, scaling={self.scaling:g}"


def _is_target(name: str, target: str) -> bool:
    """``blocks.0.attn.W_query`` is ``attn.W_query`` and ``W_query``, not ``query``: whole dotted parts."""
    return name == target or name.endswith("." + target)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)


def add_lora(model: nn.Module, rank: int, alpha: float, targets: Sequence[str]) -> list[str]:
    """Wrap each ``nn.Linear`` whose name ends with one of ``targets`` in a :class:`LoRALinear` (notebook 14).

    A target matches whole dotted parts of a name as ``model.named_modules()`` gives
    it: ``"attn.W_query"`` matches ``blocks.3.attn.W_query`` in every block. Every
    other parameter of ``model`` is frozen (LoRA layers added earlier keep training).
    Returns the names of the wrapped layers, in the model's order.
    """
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    if not targets:
        raise ValueError("targets is empty: name the linear layers to adapt, e.g. ('attn.W_query', 'attn.W_value')")
    modules = dict(model.named_modules())
    adapted = [name for name, module in modules.items() if isinstance(module, LoRALinear)]

    def in_lora(name: str) -> bool:  # a LoRALinear, or a part of one (its ``base``)
        return any(name == lora or name.startswith(lora + ".") for lora in adapted)

    linears = [name for name, module in modules.items() if isinstance(module, nn.Linear) and not in_lora(name)]
    for target in targets:
        again = [name for name in modules if _is_target(name, target) and in_lora(name)]
        if again:
            raise ValueError(f"target {target!r} already has LoRA ({again[0]}): "
                             "add LoRA to a layer once, or merge_lora(model) first")
        if not any(_is_target(name, target) for name in linears):
            shown = list(dict.fromkeys(re.sub(r"\.\d+\.", ".{i}.", name) for name in linears))
            raise ValueError(f"target {target!r} matches no nn.Linear of the model; its linear layers are: "
                             f"{', '.join(shown[:12])}" + (" …" if len(shown) > 12 else ""))
    chosen = [name for name in linears if any(_is_target(name, target) for target in targets)]
    wrapped = [LoRALinear(modules[name], rank, alpha) for name in chosen]  # checks rank and alpha before any change
    for name, layer in zip(chosen, wrapped):
        _replace(model, name, layer)
    model.requires_grad_(False)
    for module in model.modules():
        if isinstance(module, LoRALinear):
            module.lora_A.requires_grad_(True)
            module.lora_B.requires_grad_(True)
    return chosen


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` of ``model`` by its :meth:`~LoRALinear.merged` ``nn.Linear``, in place (notebook 14).

    The outputs stay the same (up to rounding) and the model is plain again: no
    extra matrix products at inference. A tied weight (``out_head``) gets its own
    merged copy; the matrix it was tied to is unchanged. Returns ``model``.
    """
    if isinstance(model, LoRALinear):
        return model.merged()
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            _replace(model, name, module.merged())
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` numbers of parameters; a tied matrix counts once (notebook 14)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, count_parameters(model)
