"""A GPT model from scratch, built so GPT-2's real weights fit it (notebooks 08–09).

Each class is one idea of the architecture:

* :class:`LayerNorm` — mean 0, variance 1 per token, then a learnable scale and shift (notebook 08);
* :class:`FeedForward` — expand 4×, GELU, contract back (08);
* :class:`TransformerBlock` — the pre-norm block
  ``x + attn(norm1(x))`` then ``x + ff(norm2(x))`` (08);
* :class:`GPT` — token + position embeddings → dropout → blocks → final norm → LM head (09).

:class:`GPTConfig` holds the sizes, :data:`GPT_CONFIGS` the four GPT-2 sizes (09);
:func:`load_gpt2_weights` and :func:`to_gpt2_state_dict` read and write GPT-2's own
checkpoint layout (09); :func:`save_checkpoint` / :func:`load_checkpoint` save a
model with its optimizer, to resume training (10).

    >>> with torch.device("meta"):                 # sizes only, no memory used
    ...     model = GPT(GPT_CONFIGS["gpt2-small"])
    >>> count_parameters(model)
    124439808
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from helpers.attention import KVCache, MultiHeadAttention


@dataclass
class GPTConfig:
    """The sizes of a GPT model. The defaults are GPT-2 small's (notebook 09)."""

    vocab_size: int = 50257  # number of token ids (GPT-2's BPE vocabulary)
    context_length: int = 1024  # longest input, in tokens
    d_model: int = 768  # width of every token's vector
    n_layers: int = 12  # number of transformer blocks
    n_heads: int = 12  # attention heads per block (d_model must divide by it)
    dropout: float = 0.1  # dropout rate used while training
    qkv_bias: bool = True  # biases on the query/key/value projections (GPT-2: yes)
    tie_weights: bool = True  # the LM head reuses the token-embedding matrix (GPT-2: yes)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "n_layers", "n_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"GPTConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")


#: The four GPT-2 sizes (Radford et al., 2019). All share the vocabulary and context.
GPT_CONFIGS: dict[str, GPTConfig] = {
    "gpt2-small": GPTConfig(d_model=768, n_layers=12, n_heads=12),
    "gpt2-medium": GPTConfig(d_model=1024, n_layers=24, n_heads=16),
    "gpt2-large": GPTConfig(d_model=1280, n_layers=36, n_heads=20),
    "gpt2-xl": GPTConfig(d_model=1600, n_layers=48, n_heads=25),
}


class LayerNorm(nn.Module):
    """Normalise each token's vector to mean 0 and variance 1, then scale and shift (notebook 08).

    ``y = (x - mean) / sqrt(var + eps) * scale + shift`` over the last axis, with the
    biased variance (divide by n, not n - 1), as ``nn.LayerNorm`` does.
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(d_model))
        self.shift = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        normalised = (x - mean) / torch.sqrt(var + self.eps)
        return normalised * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"{self.scale.shape[0]}, eps={self.eps}"


def gelu(x: Tensor) -> Tensor:
    """GELU with GPT-2's tanh approximation (``F.gelu(x, approximate="tanh")``) (notebook 08)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class FeedForward(nn.Module):
    """Two linear layers around a GELU: expand to ``hidden_dim`` (4 × d_model), contract back (notebook 08)."""

    def __init__(self, d_model: int, hidden_dim: int | None = None):
        super().__init__()
        hidden_dim = hidden_dim or 4 * d_model
        self.expand = nn.Linear(d_model, hidden_dim)
        self.contract = nn.Linear(hidden_dim, d_model)

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, d_model) -> (B, T, hidden_dim) -> (B, T, d_model)
        return self.contract(gelu(self.expand(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + ff(norm2(x))``; shape unchanged (notebook 08)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = LayerNorm(config.d_model)
        self.attn = MultiHeadAttention(config.d_model, config.n_heads, config.dropout, config.qkv_bias)
        self.norm2 = LayerNorm(config.d_model)
        self.ff = FeedForward(config.d_model)
        self.drop_resid = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        # x: (B, T, d_model) in and out
        x = x + self.drop_resid(self.attn(self.norm1(x), kv_cache=kv_cache))
        x = x + self.drop_resid(self.ff(self.norm2(x)))
        return x


class GPT(nn.Module):
    """A GPT language model: token ids (B, T) → logits (B, T, vocab_size) (notebook 09)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context_length, config.d_model)
        self.drop_emb = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layers))
        self.final_norm = LayerNorm(config.d_model)
        self.out_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(init_gpt2_weights)
        if config.tie_weights:
            self.out_head.weight = self.tok_emb.weight  # one matrix, used at both ends

    def new_kv_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per block, for generating token by token."""
        return [KVCache() for _ in self.blocks]

    def forward(self, token_ids: Tensor, kv_caches: list[KVCache] | None = None) -> Tensor:
        """Logits for every position. With ``kv_caches``, ``token_ids`` are only the new tokens."""
        config = self.config
        start = check_token_ids(token_ids, kv_caches, len(self.blocks), config.vocab_size, config.context_length)
        T = token_ids.shape[1]
        positions = torch.arange(start, start + T, device=token_ids.device)  # (T,)
        x = self.tok_emb(token_ids) + self.pos_emb(positions)  # (B, T, d_model)
        x = self.drop_emb(x)
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache=None if kv_caches is None else kv_caches[i])
        x = self.final_norm(x)
        return self.out_head(x)  # (B, T, d_model) -> (B, T, vocab_size)


def check_token_ids(token_ids: Tensor, kv_caches: list[KVCache] | None, n_blocks: int, vocab_size: int,
                    context_length: int) -> int:
    """Raise a clear error on bad input to a language model; return the position of the first new token (notebook 09).

    ``token_ids`` must be a (batch, tokens) tensor of integer ids below ``vocab_size``;
    ``kv_caches``, if given, one per block; the cached and new tokens together must fit
    in ``context_length``. :class:`GPT` and :class:`helpers.modern.ModernGPT` both use it.
    """
    if not isinstance(token_ids, Tensor) or token_ids.dim() != 2:
        shape = tuple(token_ids.shape) if isinstance(token_ids, Tensor) else type(token_ids).__name__
        raise ValueError(
            f"token_ids must be a tensor of shape (batch, tokens), got {shape}; "
            "for one sequence use token_ids.unsqueeze(0)"
        )
    if token_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"token_ids must hold integers (torch.long), got {token_ids.dtype}")
    if token_ids.shape[1] == 0:
        raise ValueError("token_ids holds no tokens (shape (batch, 0))")
    if token_ids.device.type != "meta":
        low, high = int(token_ids.min()), int(token_ids.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise IndexError(
                f"token id {bad} is out of range: this model's vocabulary has ids 0 to {vocab_size - 1}"
            )
    start = 0
    if kv_caches is not None:
        if len(kv_caches) != n_blocks:
            raise ValueError(f"got {len(kv_caches)} kv caches for {n_blocks} blocks; use model.new_kv_caches()")
        start = len(kv_caches[0])
    if start + token_ids.shape[1] > context_length:
        raise ValueError(
            f"input of {start + token_ids.shape[1]} tokens is longer than the context length "
            f"{context_length}; keep only the last {context_length} tokens"
        )
    return start


def init_gpt2_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: weights ~ N(0, 0.02²), biases 0 (layer norms keep 1 and 0) (notebook 09)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters; a tied (shared) matrix is counted once (notebook 09)."""
    return sum(p.numel() for p in model.parameters())


# --- GPT-2's checkpoint layout (notebook 09) ----------------------------------------

#: GPT-2's tensor names (per block, after ``h.{i}.``) → this model's (after ``blocks.{i}.``).
#: GPT-2's linear layers are ``Conv1D`` modules whose weight is ``in × out``; ``nn.Linear``'s
#: is ``out × in``, so the names in :data:`GPT2_CONV1D` are stored transposed.
GPT2_BLOCK_NAMES: dict[str, str] = {
    "ln_1.weight": "norm1.scale", "ln_1.bias": "norm1.shift",
    "attn.c_proj.weight": "attn.out_proj.weight", "attn.c_proj.bias": "attn.out_proj.bias",
    "ln_2.weight": "norm2.scale", "ln_2.bias": "norm2.shift",
    "mlp.c_fc.weight": "ff.expand.weight", "mlp.c_fc.bias": "ff.expand.bias",
    "mlp.c_proj.weight": "ff.contract.weight", "mlp.c_proj.bias": "ff.contract.bias",
}
#: GPT-2's tensors outside the blocks → this model's.
GPT2_TOP_NAMES: dict[str, str] = {
    "wte.weight": "tok_emb.weight", "wpe.weight": "pos_emb.weight",
    "ln_f.weight": "final_norm.scale", "ln_f.bias": "final_norm.shift",
}
GPT2_CONV1D = {"attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}
#: ``c_attn`` holds the query, key and value projections side by side: (d_model, 3·d_model).
GPT2_QKV = ("attn.W_query", "attn.W_key", "attn.W_value")
#: Checkpoint tensors that are not weights (GPT-2's saved causal-mask buffers).
_BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def split_c_attn(weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """GPT-2's fused ``(d_model, 3·d_model)`` Conv1D weight → ``(W_query, W_key, W_value)``, each
    ``(d_model, d_model)`` in ``nn.Linear``'s ``out × in`` layout (notebook 09, exercise 9.3)."""
    if weight.dim() != 2 or weight.shape[1] != 3 * weight.shape[0]:
        raise ValueError(f"a c_attn weight is (d_model, 3·d_model), got shape {tuple(weight.shape)}")
    w_query, w_key, w_value = weight.split(weight.shape[0], dim=1)  # three (in, out) blocks
    return w_query.T, w_key.T, w_value.T


def _gpt2_pairs(model: GPT) -> list[tuple[str, Tensor, bool]]:
    """``(GPT-2 name, our parameter, stored transposed?)`` for every tensor but ``c_attn``."""
    ours = dict(model.named_parameters(remove_duplicate=False))
    pairs = [(gpt2, ours[mine], False) for gpt2, mine in GPT2_TOP_NAMES.items()]
    for i in range(len(model.blocks)):
        pairs += [(f"h.{i}.{gpt2}", ours[f"blocks.{i}.{mine}"], gpt2 in GPT2_CONV1D)
                  for gpt2, mine in GPT2_BLOCK_NAMES.items()]
    return pairs


def to_gpt2_state_dict(model: GPT) -> dict[str, Tensor]:
    """The model's weights under GPT-2's names and layout: what :func:`load_gpt2_weights` reads (notebook 09)."""
    tensors = {name: (p.T if transposed else p) for name, p, transposed in _gpt2_pairs(model)}
    for i, block in enumerate(model.blocks):
        linears = (block.attn.W_query, block.attn.W_key, block.attn.W_value)
        tensors[f"h.{i}.attn.c_attn.weight"] = torch.cat([linear.weight.T for linear in linears], dim=1)
        if block.attn.W_query.bias is not None:
            tensors[f"h.{i}.attn.c_attn.bias"] = torch.cat([linear.bias for linear in linears])
    return {name: tensor.detach().contiguous() for name, tensor in tensors.items()}


def load_gpt2_weights(model: GPT, path: str | Path) -> GPT:
    """Copy a Hugging Face GPT-2 ``model.safetensors`` into ``model`` and return it (notebook 09).

    Accepts the hub file's names (``h.0.attn.c_attn.weight``, ``wte.weight``) and the
    ``transformer.``-prefixed names ``transformers`` writes. Conv1D weights are
    transposed and ``c_attn`` is split into query, key and value (:func:`split_c_attn`).
    Every shape is checked against the model, naming the tensor that does not fit.
    """
    from safetensors.torch import load_file

    tensors = {name.removeprefix("transformer."): tensor for name, tensor in load_file(str(path)).items()
               if not name.endswith(_BUFFER_SUFFIXES)}
    head = tensors.pop("lm_head.weight", None)  # only in files written by transformers

    def take(name: str) -> Tensor:
        if name not in tensors:
            raise KeyError(f"{path}: the checkpoint has no tensor {name!r}; is it a GPT-2 checkpoint?")
        return tensors.pop(name)

    def copy(target: Tensor, name: str, value: Tensor) -> None:
        if tuple(target.shape) != tuple(value.shape):
            raise ValueError(
                f"{path}: tensor {name!r} has shape {tuple(value.shape)}, but the model "
                f"(config {model.config}) needs {tuple(target.shape)}"
            )
        with torch.no_grad():
            target.copy_(value)

    for name, parameter, transposed in _gpt2_pairs(model):
        value = take(name)
        copy(parameter, name, value.T if transposed else value)
    for i, block in enumerate(model.blocks):
        name = f"h.{i}.attn.c_attn"
        weight = take(f"{name}.weight")
        if weight.dim() != 2 or weight.shape[1] % 3 != 0:
            raise ValueError(f"{path}: tensor '{name}.weight' has shape {tuple(weight.shape)}")
        linears = (block.attn.W_query, block.attn.W_key, block.attn.W_value)
        for linear, part in zip(linears, weight.chunk(3, dim=1)):
            copy(linear.weight, f"{name}.weight", part.T)
        if block.attn.W_query.bias is not None:
            for linear, part in zip(linears, take(f"{name}.bias").chunk(3)):
                copy(linear.bias, f"{name}.bias", part)
        elif f"{name}.bias" in tensors:
            raise ValueError(f"{path}: the checkpoint has '{name}.bias' but the config has "
                             "qkv_bias=False; GPT-2 needs qkv_bias=True")
    if not model.config.tie_weights:  # GPT-2 ties: its head is the token-embedding matrix
        copy(model.out_head.weight, "lm_head.weight", model.tok_emb.weight if head is None else head)
    if tensors:
        left = sorted(tensors)
        raise ValueError(
            f"{path}: {len(left)} checkpoint tensors have no place in the model "
            f"(n_layers={model.config.n_layers}?): {', '.join(left[:5])}"
        )
    return model


# --- Checkpoints (notebook 10) ------------------------------------------------------


def save_checkpoint(
    path: str | Path,
    model: GPT,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    extra: dict | None = None,
) -> Path:
    """Save the model's config and weights, the optimizer's state and the step reached, and ``extra`` (notebook 10).

    With the optimizer state and ``step``, :func:`helpers.training.train` can resume
    exactly where it stopped (``train(..., optimizer=..., start_step=step)``).
    """
    path = Path(path)
    torch.save({
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "step": step,
        "extra": extra or {},
    }, path)
    return path


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns (notebook 10)."""

    model: GPT  # rebuilt from the saved config, weights loaded, in eval mode
    optimizer_state: dict | None  # for ``optimizer.load_state_dict`` (None if not saved)
    step: int  # training steps done when it was saved
    extra: dict  # anything else saved with it, e.g. a vocabulary


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the :class:`GPT` saved by :func:`save_checkpoint`, with what was saved beside it (notebook 10)."""
    saved = torch.load(Path(path), weights_only=True)
    model = GPT(GPTConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return Checkpoint(model, saved["optimizer"], saved["step"], saved["extra"])
