"""Mixture of experts: many feed-forwards, a router, and each token sent to a few of them (notebook 16).

A mixture-of-experts layer (Shazeer et al., 2017; Switch Transformer, Fedus et al.,
2021; Mixtral, Jiang et al., 2024) replaces a block's one feed-forward by
``n_experts`` of them and a *router*, a linear layer that scores every expert for
every token. Each token runs through its ``top_k`` best-scored experts only, and
their outputs are added, weighted by the router:

* :func:`top_k_routing` — the router's logits → each token's ``k`` experts and their weights;
* :func:`load_balancing_loss` — Switch Transformer's auxiliary loss, 1 when every expert
  gets its share, up to ``n_experts / k`` when the same ``k`` experts get everything;
* :class:`MixtureOfExperts` — the layer: router, experts (:class:`~helpers.modern.SwiGLU`), weighted sum;
* :func:`add_experts` turns a :class:`~helpers.modern.ModernGPT` into a mixture-of-experts model;
  :func:`moe_aux_loss` and :func:`moe_language_model_loss` train it with the auxiliary loss;
* :func:`moe_parameter_counts` — total parameters (what memory holds) against active ones
  (what each token computes with);
* :func:`routing_table` — which kinds of tokens go to which expert.

Mixtral 8x7B holds 46.7B parameters, and each token uses 12.9B of them:

    >>> moe_parameter_counts(d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8, hidden_dim=14336,
    ...                      n_experts=8, top_k=2, vocab_size=32000)
    (46702792704, 12879925248)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.model import init_gpt2_weights
from helpers.modern import SwiGLU
from helpers.training import language_model_loss


def _check_k(k: int, n_experts: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_experts:
        raise ValueError(f"k (experts per token) must be an integer from 1 to n_experts={n_experts}, got {k!r}")


def top_k_routing(router_logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Each token's ``k`` best experts and their weights: ``(weights, expert_indices)``, both (N, k) (notebook 16).

    ``router_logits`` is (N, n_experts), one row per token. The chosen experts are the
    ``k`` largest logits of the row, largest first (as ``torch.topk`` lists them); their
    weights are the softmax of those ``k`` logits alone, so each row of weights sums to 1
    (Mixtral's rule). That equals the full softmax's top ``k`` probabilities divided by
    their sum. Any leading axes work: (..., n_experts) → (..., k).
    """
    _check_k(k, router_logits.shape[-1])
    top_logits, expert_indices = router_logits.topk(k, dim=-1)  # (N, k) each, largest first
    weights = torch.softmax(top_logits, dim=-1)  # (N, k): over the k chosen experts only
    return weights, expert_indices


def load_balancing_loss(router_probs: Tensor, expert_indices: Tensor, n_experts: int) -> Tensor:
    """Switch Transformer's auxiliary loss, ``n_experts · Σ_i f_i · P_i`` (Fedus et al. 2021, eq. 4) (notebook 16).

    ``router_probs`` (N, n_experts) is the router's full softmax for each token;
    ``expert_indices`` (N, k) the experts each token was sent to.

    * ``f_i`` is the fraction of all N · k (token, slot) assignments that went to
      expert ``i``: every one of the k slots counts, so the ``f_i`` sum to 1 for any k;
    * ``P_i`` is expert ``i``'s probability averaged over the N tokens.

    Evenly spread assignments (every ``f_i = 1 / n_experts``) give exactly 1, whatever
    ``P``; the more the tokens crowd onto a few experts that also get the probability,
    the larger it is: ``n_experts / k`` when every token goes to the same ``k`` experts
    with all the probability (``n_experts`` for top-1). The counts
    ``f_i`` have no gradient: the loss trains the router through ``P_i``.
    transformers' ``load_balancing_loss_func`` divides the counts by N instead of
    N · k: its value is k times this one.
    """
    if router_probs.shape[-1] != n_experts:
        raise ValueError(f"router_probs has {router_probs.shape[-1]} columns: it needs one per expert, "
                         f"n_experts={n_experts}")
    if router_probs.shape[:-1] != expert_indices.shape[:-1]:
        raise ValueError(f"router_probs {tuple(router_probs.shape)} and expert_indices {tuple(expert_indices.shape)} "
                         "need the same tokens: (N, n_experts) and (N, k)")
    if expert_indices.numel() and not 0 <= int(expert_indices.min()) <= int(expert_indices.max()) < n_experts:
        raise ValueError(f"expert_indices must lie in 0 .. {n_experts - 1} (n_experts={n_experts}), "
                         f"got values from {int(expert_indices.min())} to {int(expert_indices.max())}")
    counts = torch.bincount(expert_indices.flatten(), minlength=n_experts)  # (n_experts,): assignments per expert
    f = counts.to(router_probs.dtype) / expert_indices.numel()  # (n_experts,), sums to 1
    P = router_probs.reshape(-1, n_experts).mean(dim=0)  # (n_experts,): mean over the tokens
    return n_experts * (f * P).sum()


class MixtureOfExperts(nn.Module):
    """``n_experts`` SwiGLU feed-forwards and a router; each token runs through its ``top_k`` best (notebook 16).

    ``router`` is a linear layer without bias, ``d_model → n_experts``: a classifier
    that scores the experts for each token. :func:`top_k_routing` picks each token's
    experts and weights; each expert then runs on the tokens sent to it and on no
    other, and a token's output is the weighted sum of its experts' outputs.

    After every forward the layer keeps ``last_expert_indices`` (..., top_k), the
    experts each token went to (detached), and ``aux_loss``, the
    :func:`load_balancing_loss` of that call (with its gradient, to add to the loss).
    """

    def __init__(self, d_model: int, hidden_dim: int, n_experts: int, top_k: int = 2):
        super().__init__()
        if isinstance(n_experts, bool) or not isinstance(n_experts, int) or n_experts < 1:
            raise ValueError(f"n_experts must be a positive integer, got {n_experts!r}")
        _check_k(top_k, n_experts)
        self.n_experts, self.top_k = n_experts, top_k
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(d_model, hidden_dim) for _ in range(n_experts))
        self.last_expert_indices: Tensor | None = None
        self.aux_loss: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        d_model = x.shape[-1]
        tokens = x.reshape(-1, d_model)  # (B, T, d_model) -> (N, d_model), N = B·T
        router_logits = self.router(tokens)  # (N, n_experts)
        weights, expert_indices = top_k_routing(router_logits, self.top_k)  # (N, top_k) each
        out = torch.zeros_like(tokens)  # (N, d_model)
        for i, expert in enumerate(self.experts):
            rows, slots = torch.where(expert_indices == i)  # the tokens (rows) sent to expert i, and in which slot
            expert_out = expert(tokens.index_select(0, rows))  # (n_i, d_model): those tokens only
            weighted = weights[rows, slots].unsqueeze(1) * expert_out  # (n_i, 1) * (n_i, d_model)
            out.index_add_(0, rows, weighted.to(out.dtype))  # added to those rows (bfloat16 under autocast: cast)
        self.last_expert_indices = expert_indices.reshape(*x.shape[:-1], self.top_k).detach()  # (B, T, top_k)
        router_probs = torch.softmax(router_logits, dim=-1)  # (N, n_experts)
        self.aux_loss = load_balancing_loss(router_probs, expert_indices, self.n_experts)
        return out.reshape(x.shape)  # (N, d_model) -> (B, T, d_model)

    def extra_repr(self) -> str:
        return f"n_experts={self.n_experts}, top_k={self.top_k}"


def add_experts(model: nn.Module, n_experts: int, top_k: int = 2, hidden_dim: int | None = None) -> nn.Module:
    """Replace the SwiGLU ``ff`` of every block in ``model.blocks`` by a :class:`MixtureOfExperts` (notebook 16).

    Each mixture has the block's ``d_model`` and, unless ``hidden_dim`` is given, its
    SwiGLU's hidden width; its router and experts are new, initialised as
    :class:`~helpers.modern.ModernGPT` initialises its weights
    (:func:`helpers.model.init_gpt2_weights`, from torch's global generator:
    ``torch.manual_seed`` fixes them), on the device and dtype of the feed-forward they
    replace (``meta`` too, to count parameters). Returns ``model``, changed in place.
    """
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or not blocks \
            or not all(isinstance(getattr(block, "ff", None), SwiGLU) for block in blocks):
        raise ValueError(f"add_experts needs a model whose blocks (model.blocks) each have a SwiGLU feed-forward "
                         f"`ff`, like helpers.modern.ModernGPT; this {type(model).__name__} has none")
    layers = []
    for block in blocks:
        weight = block.ff.gate.weight  # (hidden_dim, d_model)
        hidden, d_model = weight.shape
        with torch.device(weight.device):
            layer = MixtureOfExperts(d_model, hidden_dim or hidden, n_experts, top_k)  # checks n_experts and top_k
        layer.apply(init_gpt2_weights)
        layers.append(layer.to(dtype=weight.dtype))
    for block, layer in zip(blocks, layers):
        block.ff = layer
    return model


def moe_aux_loss(model: nn.Module) -> Tensor:
    """Sum of the ``aux_loss`` of every :class:`MixtureOfExperts` in ``model``, from its last forward (notebook 16)."""
    layers = [module for module in model.modules() if isinstance(module, MixtureOfExperts)]
    if not layers:
        raise ValueError(f"this {type(model).__name__} has no MixtureOfExperts layer: "
                         "add them with add_experts(model, n_experts)")
    if any(layer.aux_loss is None for layer in layers):
        raise ValueError("the model has not run a forward yet: its MixtureOfExperts layers have no aux_loss; "
                         "call model(token_ids) first")
    return sum(layer.aux_loss for layer in layers)


def moe_language_model_loss(aux_weight: float = 0.01) -> Callable[[nn.Module, Tensor, Tensor], Tensor]:
    """A ``loss_fn`` for :func:`~helpers.training.train`: cross-entropy + ``aux_weight`` · aux loss (notebook 16).

    The cross-entropy is :func:`helpers.training.language_model_loss`, the auxiliary
    loss :func:`moe_aux_loss`; Switch Transformer uses ``aux_weight = 0.01``. The auxiliary loss is the one of
    the forward the cross-entropy just ran.
    """
    if not aux_weight >= 0:  # also refuses NaN
        raise ValueError(f"aux_weight must be a number >= 0, got {aux_weight!r}")

    def loss_fn(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
        return language_model_loss(model, inputs, targets) + aux_weight * moe_aux_loss(model)

    return loss_fn


def moe_parameter_counts(d_model: int, n_layers: int, n_heads: int, n_kv_heads: int, hidden_dim: int,
                         n_experts: int, top_k: int, vocab_size: int, tie_weights: bool = False) -> tuple[int, int]:
    """``(total, active)`` parameters of a Llama-shaped mixture-of-experts model, from its sizes (notebook 16).

    Each of the ``n_layers`` blocks holds grouped-query attention (query and output
    ``d_model × d_model``; key and value ``d_model × n_kv_heads · head_dim``, with
    ``head_dim = d_model // n_heads``), ``n_experts`` SwiGLU experts of ``3 · d_model ·
    hidden_dim``, a router ``d_model × n_experts`` and two RMSNorms; outside the blocks
    come the token embedding, a final RMSNorm and the LM head (unless tied). No biases.
    *Active* parameters are those one token computes with: everything but the experts
    it is not sent to, i.e. ``top_k`` experts per block instead of ``n_experts``.
    """
    for name, value in (("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads),
                        ("n_kv_heads", n_kv_heads), ("hidden_dim", hidden_dim), ("n_experts", n_experts),
                        ("vocab_size", vocab_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if d_model % n_heads or n_heads % n_kv_heads:
        raise ValueError(f"d_model ({d_model}) must divide by n_heads ({n_heads}), "
                         f"and n_heads by n_kv_heads ({n_kv_heads})")
    _check_k(top_k, n_experts)
    head_dim = d_model // n_heads
    attention = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim  # query, output; key, value
    expert = 3 * d_model * hidden_dim  # gate, up, down
    shared = attention + d_model * n_experts + 2 * d_model  # + router + two RMSNorms: every token uses them
    outside = vocab_size * d_model * (1 if tie_weights else 2) + d_model  # embedding, LM head, final RMSNorm
    total = n_layers * (shared + n_experts * expert) + outside
    active = n_layers * (shared + top_k * expert) + outside
    return total, active


def routing_table(expert_indices: Tensor, groups: Sequence[str], n_experts: int) -> tuple[list[str], Tensor]:
    """Which kinds of tokens go to which expert: ``(names, table)`` (notebook 16).

    ``groups`` gives each token's label ("French noun", "English verb", …), in the
    order of the tokens; ``expert_indices`` gives each token's experts, either one per
    token (N,) or k per token (N, k) — a layer's ``last_expert_indices`` (B, T, k) works
    as it is, with the B·T labels in order. ``names`` lists the labels in the order
    they first appear; row ``r`` of ``table`` (len(names), n_experts) is the fraction of
    group ``names[r]``'s assignments (all k slots) that went to each expert: rows sum
    to 1. Pass ``expert_indices[..., 0]`` to count only each token's first choice.
    """
    labels = list(groups)
    if not labels:
        raise ValueError("groups is empty: give one label per token")
    if expert_indices.numel() == len(labels):
        per_token = expert_indices.reshape(len(labels), 1)  # (N, 1): one expert per token
    elif expert_indices.dim() >= 2 and expert_indices.shape[:-1].numel() == len(labels):
        per_token = expert_indices.reshape(len(labels), -1)  # (N, k)
    else:
        raise ValueError(f"expert_indices {tuple(expert_indices.shape)} does not fit {len(labels)} labels: "
                         "give one expert per token (N,) or k per token (N, k)")
    if not 0 <= int(per_token.min()) <= int(per_token.max()) < n_experts:
        raise ValueError(f"expert_indices must lie in 0 .. {n_experts - 1} (n_experts={n_experts})")
    names = list(dict.fromkeys(labels))
    table = torch.zeros(len(names), n_experts)
    for row, name in enumerate(names):
        chosen = per_token[torch.tensor([label == name for label in labels])]  # (N_group, k)
        table[row] = torch.bincount(chosen.flatten(), minlength=n_experts) / chosen.numel()
    return names, table
