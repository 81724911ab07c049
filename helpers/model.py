"""A GPT model from scratch, built so GPT-2's real weights fit it (notebooks 08–09).

Each class is one idea of the architecture:

* :class:`LayerNorm` — mean 0, variance 1 per token, then a learnable scale and shift;
* :class:`FeedForward` — expand 4×, GELU, contract back;
* :class:`TransformerBlock` — the pre-norm block
  ``x + attn(norm1(x))`` then ``x + ff(norm2(x))``;
* :class:`GPT` — token + position embeddings → dropout → blocks → final norm → LM head.

:class:`GPTConfig` holds the sizes, :data:`GPT_CONFIGS` the four GPT-2 sizes, and
:func:`load_gpt2_weights` copies a Hugging Face GPT-2 ``model.safetensors`` into a
:class:`GPT`.

    >>> with torch.device("meta"):                 # sizes only, no memory used
    ...     model = GPT(GPT_CONFIGS["gpt2-small"])
    >>> count_parameters(model)
    124439808
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from helpers.attention import KVCache, MultiHeadAttention


@dataclass
class GPTConfig:
    """The sizes of a GPT model. The defaults are GPT-2 small's."""

    vocab_size: int = 50257  # number of token ids (GPT-2's BPE vocabulary)
    context_length: int = 1024  # longest input, in tokens
    emb_dim: int = 768  # width of every token's vector
    n_layers: int = 12  # number of transformer blocks
    n_heads: int = 12  # attention heads per block (emb_dim must divide by it)
    dropout: float = 0.1  # dropout rate used while training
    qkv_bias: bool = True  # biases on the query/key/value projections (GPT-2: yes)
    tie_weights: bool = True  # the LM head reuses the token-embedding matrix (GPT-2: yes)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "emb_dim", "n_layers", "n_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.emb_dim % self.n_heads != 0:
            raise ValueError(
                f"GPTConfig.emb_dim ({self.emb_dim}) must be divisible by n_heads ({self.n_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")


#: The four GPT-2 sizes (Radford et al., 2019). All share the vocabulary and context.
GPT_CONFIGS: dict[str, GPTConfig] = {
    "gpt2-small": GPTConfig(emb_dim=768, n_layers=12, n_heads=12),
    "gpt2-medium": GPTConfig(emb_dim=1024, n_layers=24, n_heads=16),
    "gpt2-large": GPTConfig(emb_dim=1280, n_layers=36, n_heads=20),
    "gpt2-xl": GPTConfig(emb_dim=1600, n_layers=48, n_heads=25),
}


class LayerNorm(nn.Module):
    """Normalise each token's vector to mean 0 and variance 1, then scale and shift.

    ``y = (x - mean) / sqrt(var + eps) * scale + shift`` over the last axis, with the
    biased variance (divide by n, not n - 1), as ``nn.LayerNorm`` does.
    """

    def __init__(self, emb_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        normalised = (x - mean) / torch.sqrt(var + self.eps)
        return normalised * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"{self.scale.shape[0]}, eps={self.eps}"


def gelu(x: Tensor) -> Tensor:
    """GELU with GPT-2's tanh approximation (``F.gelu(x, approximate="tanh")``)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class FeedForward(nn.Module):
    """Two linear layers around a GELU: expand to ``hidden_dim`` (4 × emb_dim), contract back."""

    def __init__(self, emb_dim: int, hidden_dim: int | None = None):
        super().__init__()
        hidden_dim = hidden_dim or 4 * emb_dim
        self.expand = nn.Linear(emb_dim, hidden_dim)
        self.contract = nn.Linear(hidden_dim, emb_dim)

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, emb_dim) -> (B, T, hidden_dim) -> (B, T, emb_dim)
        return self.contract(gelu(self.expand(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + ff(norm2(x))``; shape unchanged."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = LayerNorm(config.emb_dim)
        self.attn = MultiHeadAttention(
            d_model=config.emb_dim,
            n_heads=config.n_heads,
            context_length=config.context_length,
            dropout=config.dropout,
            qkv_bias=config.qkv_bias,
        )
        self.norm2 = LayerNorm(config.emb_dim)
        self.ff = FeedForward(config.emb_dim)
        self.drop_resid = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        # x: (B, T, emb_dim) in and out
        x = x + self.drop_resid(self.attn(self.norm1(x), kv_cache=kv_cache))
        x = x + self.drop_resid(self.ff(self.norm2(x)))
        return x


class GPT(nn.Module):
    """A GPT language model: token ids (B, T) → logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.emb_dim)
        self.pos_emb = nn.Embedding(config.context_length, config.emb_dim)
        self.drop_emb = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layers))
        self.final_norm = LayerNorm(config.emb_dim)
        self.out_head = nn.Linear(config.emb_dim, config.vocab_size, bias=False)
        self.apply(init_gpt2_weights)
        if config.tie_weights:
            self.out_head.weight = self.tok_emb.weight  # one matrix, used at both ends

    def new_kv_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per block, for generating token by token."""
        return [KVCache() for _ in self.blocks]

    def forward(self, token_ids: Tensor, kv_caches: list[KVCache] | None = None) -> Tensor:
        """Logits for every position. With ``kv_caches``, ``token_ids`` are only the new tokens."""
        start = self._check_input(token_ids, kv_caches)
        T = token_ids.shape[1]
        positions = torch.arange(start, start + T, device=token_ids.device)  # (T,)
        x = self.tok_emb(token_ids) + self.pos_emb(positions)  # (B, T, emb_dim)
        x = self.drop_emb(x)
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache=None if kv_caches is None else kv_caches[i])
        x = self.final_norm(x)
        return self.out_head(x)  # (B, T, emb_dim) -> (B, T, vocab_size)

    def _check_input(self, token_ids: Tensor, kv_caches: list[KVCache] | None) -> int:
        """Raise a clear error on bad input; return the position of the first new token."""
        config = self.config
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
            if low < 0 or high >= config.vocab_size:
                bad = low if low < 0 else high
                raise IndexError(
                    f"token id {bad} is out of range: this model's vocabulary has ids "
                    f"0 to {config.vocab_size - 1}"
                )
        start = 0
        if kv_caches is not None:
            if len(kv_caches) != len(self.blocks):
                raise ValueError(
                    f"got {len(kv_caches)} kv caches for {len(self.blocks)} blocks; "
                    "use model.new_kv_caches()"
                )
            start = len(kv_caches[0])
        if start + token_ids.shape[1] > config.context_length:
            raise ValueError(
                f"input of {start + token_ids.shape[1]} tokens is longer than the context length "
                f"{config.context_length}; keep only the last {config.context_length} tokens"
            )
        return start


def init_gpt2_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: weights ~ N(0, 0.02²), biases 0 (layer norms keep 1 and 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters; a tied (shared) matrix is counted once."""
    return sum(p.numel() for p in model.parameters())


# --- Loading GPT-2's weights -------------------------------------------------------

#: Checkpoint tensors that are not weights (GPT-2's saved causal-mask buffers).
_BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def load_gpt2_weights(model: GPT, path: str | Path) -> GPT:
    """Copy a Hugging Face GPT-2 ``model.safetensors`` into ``model`` and return it.

    Accepts the hub file's names (``h.0.attn.c_attn.weight``, ``wte.weight``) and the
    ``transformer.``-prefixed names ``transformers`` writes. GPT-2 stores its linear
    layers as ``Conv1D`` with weights ``in × out``; ``nn.Linear`` wants ``out × in``,
    so they are transposed, and ``c_attn`` is split into query, key and value.
    """
    from safetensors.torch import load_file

    raw = load_file(str(path))
    tensors: dict[str, Tensor] = {}
    for name, tensor in raw.items():
        name = name.removeprefix("transformer.")
        if not name.endswith(_BUFFER_SUFFIXES):
            tensors[name] = tensor
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

    def copy_norm(norm: LayerNorm, prefix: str) -> None:
        copy(norm.scale, f"{prefix}.weight", take(f"{prefix}.weight"))
        copy(norm.shift, f"{prefix}.bias", take(f"{prefix}.bias"))

    def copy_conv1d(linear: nn.Linear, prefix: str) -> None:
        copy(linear.weight, f"{prefix}.weight", take(f"{prefix}.weight").T)  # (in, out) -> (out, in)
        copy(linear.bias, f"{prefix}.bias", take(f"{prefix}.bias"))

    wte = take("wte.weight")
    copy(model.tok_emb.weight, "wte.weight", wte)
    copy(model.pos_emb.weight, "wpe.weight", take("wpe.weight"))
    for i, block in enumerate(model.blocks):
        p = f"h.{i}"
        copy_norm(block.norm1, f"{p}.ln_1")
        # c_attn holds W_q, W_k, W_v side by side: (emb, 3·emb)
        qkv_weight = take(f"{p}.attn.c_attn.weight")
        qkv_bias = take(f"{p}.attn.c_attn.bias")
        if qkv_weight.dim() != 2 or qkv_weight.shape[1] % 3 != 0:
            raise ValueError(f"{path}: tensor '{p}.attn.c_attn.weight' has shape {tuple(qkv_weight.shape)}")
        linears = (block.attn.W_query, block.attn.W_key, block.attn.W_value)
        for linear, weight, bias in zip(linears, qkv_weight.chunk(3, dim=1), qkv_bias.chunk(3, dim=0)):
            copy(linear.weight, f"{p}.attn.c_attn.weight", weight.T)
            if linear.bias is None:
                raise ValueError(
                    f"{path}: the checkpoint has '{p}.attn.c_attn.bias' but the config has "
                    "qkv_bias=False; GPT-2 needs qkv_bias=True"
                )
            copy(linear.bias, f"{p}.attn.c_attn.bias", bias)
        copy_conv1d(block.attn.out_proj, f"{p}.attn.c_proj")
        copy_norm(block.norm2, f"{p}.ln_2")
        copy_conv1d(block.ff.expand, f"{p}.mlp.c_fc")
        copy_conv1d(block.ff.contract, f"{p}.mlp.c_proj")
    copy_norm(model.final_norm, "ln_f")
    if not model.config.tie_weights:  # GPT-2 ties: its head is the token-embedding matrix
        copy(model.out_head.weight, "lm_head.weight", wte if head is None else head)
    if tensors:
        left = sorted(tensors)
        raise ValueError(
            f"{path}: {len(left)} checkpoint tensors have no place in the model "
            f"(n_layers={model.config.n_layers}?): {', '.join(left[:5])}"
        )
    return model

