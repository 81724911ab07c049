"""The modern (Llama-style) transformer block, one change to GPT-2's at a time (notebook 15).

* :class:`RMSNorm` — scale each token's vector by its root mean square; no mean, no shift;
* :class:`SwiGLU` — the gated feed-forward: ``down(silu(gate(x)) * up(x))``;
  :func:`swiglu_hidden_dim` — its usual width, 8/3 × d_model;
* rotary position embeddings (RoPE, Su et al., 2021) — :func:`rope_angles`, then each
  pair of a query's (and key's) dimensions rotated by its angle: neighbouring pairs
  (:func:`rotate_pairs`, the RoFormer paper and Meta's Llama code) or dimension ``i``
  with ``i + head_dim/2`` (:func:`rotate_half`, GPT-NeoX and Hugging Face's Llama);
  :func:`apply_rope` chooses, :func:`interleaved_to_half` converts one into the other;
* :class:`GroupedQueryAttention` — fewer key/value heads than query heads, shared by
  :func:`repeat_kv` (one key/value head is multi-query attention), optionally within a
  sliding window (:func:`sliding_window_mask`; :func:`strided_mask` is another sparse pattern);
  :func:`kv_cache_bytes` is the memory saved;
* :class:`ModernBlock` and :class:`ModernGPT` — GPT's block and model with all of the
  above, sized by a :class:`ModernConfig`; no position table and no dropout.

    >>> with torch.device("meta"):                 # sizes only, no memory used
    ...     model = ModernGPT(ModernConfig(n_kv_heads=32, context_length=4096))  # LLaMA-2 7B's sizes
    >>> count_parameters(model)
    6738415616
    >>> kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128)  # Llama-3.1 8B, bf16: per token
    131072
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.attention import KVCache, attention_weights, causal_mask, split_heads
from helpers.model import check_token_ids, init_gpt2_weights


class RMSNorm(nn.Module):
    """Divide each token's vector by its root mean square, then scale (notebook 15).

    ``y = x / sqrt(mean(x²) + eps) * scale`` over the last axis. Unlike
    :class:`helpers.model.LayerNorm` it does not subtract the mean and has no
    shift: one reduction instead of two, one parameter vector instead of two.
    Equal to ``torch.nn.RMSNorm(d_model, eps=eps)`` (a test proves it).
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(d_model))

    def forward(self, x: Tensor) -> Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return x / rms * self.scale

    def extra_repr(self) -> str:
        return f"{self.scale.shape[0]}, eps={self.eps}"


class SwiGLU(nn.Module):
    """The gated feed-forward of Llama-style models: ``down(silu(gate(x)) * up(x))`` (notebook 15).

    Three matrices instead of two, so ``hidden_dim`` is usually about 8/3 × d_model
    (instead of GPT-2's 4 ×) to keep the parameter count: 3 · d · (8/3)d = 2 · d · 4d.
    No biases, as in Llama.
    """

    def __init__(self, d_model: int, hidden_dim: int):
        super().__init__()
        self.gate = nn.Linear(d_model, hidden_dim, bias=False)
        self.up = nn.Linear(d_model, hidden_dim, bias=False)
        self.down = nn.Linear(hidden_dim, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, d_model) -> two (B, T, hidden_dim) -> (B, T, d_model)
        return self.down(F.silu(self.gate(x)) * self.up(x))


def swiglu_hidden_dim(d_model: int, multiple_of: int = 1) -> int:
    """Llama's SwiGLU width: ``int(2 · 4·d_model / 3)`` rounded up to a multiple of ``multiple_of`` (notebook 15).

    Two thirds of GPT-2's ``4 · d_model``, so that three matrices cost what two did.

        >>> swiglu_hidden_dim(4096, multiple_of=256)   # LLaMA 7B
        11008
    """
    for name, value in (("d_model", d_model), ("multiple_of", multiple_of)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    hidden_dim = 8 * d_model // 3  # = int(2 * (4 * d_model) / 3), in exact integer arithmetic
    return multiple_of * ((hidden_dim + multiple_of - 1) // multiple_of)  # rounded up, as Meta's code writes it


# --- rotary position embeddings (RoPE) -------------------------------------------------

#: The two ways of choosing which dimensions RoPE rotates together (see :func:`apply_rope`).
PAIRINGS: tuple[str, ...] = ("half", "interleaved")


def _check_head_dim(head_dim: int) -> None:
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 2 or head_dim % 2 != 0:
        raise ValueError(f"head_dim must be a positive even integer (RoPE rotates pairs of dimensions), "
                         f"got {head_dim!r}")


def _check_pairing(pairing: str, name: str = "pairing") -> None:
    if pairing not in PAIRINGS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, PAIRINGS))}, got {pairing!r}")


def _check_window(window: int, name: str = "window") -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"{name} must be a whole number >= 1 (the keys a query sees, itself included), got {window!r}")


def rope_angles(positions: Tensor, head_dim: int, base: float = 10000.0) -> Tensor:
    """The angles ``θ[p, i] = p · base^(-2i / head_dim)``: (T,) positions → (T, head_dim // 2) (notebook 15).

    Pair ``i`` of a vector at position ``p`` turns by ``θ[p, i]``: pair 0 by ``p`` radians,
    the last pair almost not at all, like the hands of a clock that turn at different
    speeds. Computed in float32, as Hugging Face's ``LlamaRotaryEmbedding`` does.
    """
    _check_head_dim(head_dim)
    if not isinstance(positions, Tensor) or positions.dim() != 1:
        shape = tuple(positions.shape) if isinstance(positions, Tensor) else type(positions).__name__
        raise ValueError(f"positions must be a 1-D tensor (T,) of token positions, got {shape}")
    pair = torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32)  # (head_dim/2,): 2i
    inv_freq = 1.0 / base ** (pair / head_dim)  # (head_dim/2,): 1, ..., almost 1/base
    return positions.float()[:, None] * inv_freq[None, :]  # (T, 1) * (1, head_dim/2) -> (T, head_dim/2)


def _check_rotation(x: Tensor, angles: Tensor) -> None:
    expected = (x.shape[-2], x.shape[-1] // 2) if x.dim() >= 2 else None
    if x.dim() < 2 or x.shape[-1] % 2 != 0 or tuple(angles.shape) != expected:
        raise ValueError(
            f"x must be (..., T, head_dim) with an even head_dim, and angles (T, head_dim // 2) = {expected}; "
            f"got x {tuple(x.shape)} and angles {tuple(angles.shape)}"
        )


def rotate_pairs(x: Tensor, angles: Tensor) -> Tensor:
    """RoPE, INTERLEAVED pairing: dims (0, 1), (2, 3), ... each rotated by its angle (notebook 15, exercise 15.2).

    ``(x0, x1) → (x0·cos θ − x1·sin θ, x0·sin θ + x1·cos θ)``, a rotation by ``+θ``, for
    ``x`` (..., T, head_dim) and ``angles`` (T, head_dim // 2) (:func:`rope_angles`).
    The pairing of the RoFormer paper and of Meta's Llama code (there written as a
    product of complex numbers).
    """
    _check_rotation(x, angles)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, head_dim/2)
    first, second = x[..., 0::2], x[..., 1::2]  # (..., T, head_dim/2): dims 0, 2, 4, ... and 1, 3, 5, ...
    rotated = torch.stack([first * cos - second * sin, first * sin + second * cos], dim=-1)  # (..., T, head_dim/2, 2)
    return rotated.flatten(-2)  # (..., T, head_dim): each pair back in its place


def rotate_half(x: Tensor, angles: Tensor) -> Tensor:
    """RoPE, ROTATE-HALF pairing: dim ``i`` paired with dim ``i + head_dim/2`` (notebook 15).

    The same rotation as :func:`rotate_pairs`, pair ``i`` made of dims ``i`` and
    ``i + head_dim/2``: the pairing of GPT-NeoX and of Hugging Face's Llama (equal to
    ``transformers``' ``apply_rotary_pos_emb``; a test proves it).
    """
    _check_rotation(x, angles)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, head_dim/2)
    first, second = x.chunk(2, dim=-1)  # (..., T, head_dim/2) each: the first half and the second half
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)  # (..., T, head_dim)


def apply_rope(x: Tensor, positions: Tensor, base: float = 10000.0, pairing: str = "half") -> Tensor:
    """Rotate every query (or key) of ``x`` (..., T, head_dim) by its position (T,) (notebook 15).

    ``pairing`` is ``"half"`` (:func:`rotate_half`) or ``"interleaved"`` (:func:`rotate_pairs`).
    After it, the score of a query at position m and a key at position n depends on
    m − n only: the position is relative.
    """
    _check_pairing(pairing)
    angles = rope_angles(positions, x.shape[-1], base)  # (T, head_dim/2)
    return rotate_half(x, angles) if pairing == "half" else rotate_pairs(x, angles)


def interleaved_to_half(head_dim: int) -> Tensor:
    """The permutation of a head's dims that turns one pairing into the other (notebook 15).

    ``[0, 2, 4, ..., 1, 3, 5, ...]``: each pair's first dim, then each pair's second, so that
    pair ``i``, dims (2i, 2i + 1), lands at dims ``i`` and ``i + head_dim/2``:
    ``rotate_pairs(x, a)[..., perm] == rotate_half(x[..., perm], a)``. Reordering each
    head's rows of ``W_query`` and ``W_key`` by it gives a model with the other pairing and
    the same attention scores (what Hugging Face does to Meta's Llama checkpoints).
    """
    _check_head_dim(head_dim)
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])  # (head_dim,)


# --- grouped-query attention ----------------------------------------------------------


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """Each key/value head ``n_rep`` times in a row, for its group of query heads (notebook 15, exercise 15.3).

    (B, n_kv_heads, T, head_dim) → (B, n_kv_heads · n_rep, T, head_dim): query head
    ``h`` then meets key/value head ``h // n_rep``, like
    ``x.repeat_interleave(n_rep, dim=1)`` and Hugging Face's ``repeat_kv``.
    """
    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 1:
        raise ValueError(f"n_rep must be a positive integer, got {n_rep!r}")
    if x.dim() != 4:
        raise ValueError(f"x must be (B, n_kv_heads, T, head_dim), got shape {tuple(x.shape)}")
    B, n_kv_heads, T, head_dim = x.shape
    x = x[:, :, None].expand(B, n_kv_heads, n_rep, T, head_dim)  # (B, n_kv_heads, 1, T, hd) -> n_rep views of each head
    return x.reshape(B, n_kv_heads * n_rep, T, head_dim)  # copies of head h at h·n_rep ... h·n_rep + n_rep - 1


def sliding_window_mask(T: int, window: int, past: int = 0, device: torch.device | str | None = None) -> Tensor:
    """``True`` where a query may attend: itself and the ``window - 1`` keys before it (notebook 15, exercise 15.4).

    A boolean (T, past + T) mask. The query of row ``i`` sits at position ``past + i``; it
    sees key ``j`` when ``j <= past + i`` (causal) and ``past + i - j < window``. A window
    of at least ``past + T`` is :func:`helpers.attention.causal_mask`.
    """
    _check_window(window)
    causal = causal_mask(T, device=device, past=past)  # (T, past + T): key <= query
    query = torch.arange(past, past + T, device=device)[:, None]  # (T, 1): absolute positions of the queries
    key = torch.arange(past + T, device=device)[None, :]  # (1, past + T)
    return causal & (query - key < window)  # (T, past + T)


def strided_mask(T: int, stride: int) -> Tensor:
    """Child et al.'s (2019) *strided* sparse attention: the last ``stride`` keys, and every ``stride``-th before (notebook 15).

    A boolean (T, T) mask, ``True`` where query ``i`` may attend key ``j``: ``j <= i``, and
    ``i - j < stride`` or ``(i - j) % stride == 0``. With a stride of 4, the 16th token
    (position 15) sees positions 12–15 and 11, 7, 3: tokens 13–16 and 12, 8, 4.
    """
    _check_window(stride, "stride")
    query = torch.arange(T)[:, None]  # (T, 1)
    key = torch.arange(T)[None, :]  # (1, T)
    distance = query - key  # (T, T)
    return (distance >= 0) & ((distance < stride) | (distance % stride == 0))


class GroupedQueryAttention(nn.Module):
    """Causal attention with RoPE and ``n_kv_heads`` key/value heads shared by ``n_heads`` query heads (notebook 15).

    ``x`` (B, T, d_model) → (B, T, d_model). Each group of ``n_heads // n_kv_heads``
    query heads reads the same keys and values (:func:`repeat_kv`):
    ``n_kv_heads == n_heads`` is multi-head attention, ``n_kv_heads == 1`` multi-query
    attention. Queries and keys are rotated by their absolute positions
    (:func:`apply_rope`), so there is no position table. With ``window`` each query sees
    only the last ``window`` positions (:func:`sliding_window_mask`). No biases, no dropout.

    With a :class:`~helpers.attention.KVCache`, ``x`` holds only the new tokens; their
    ROTATED keys and their values, ``n_kv_heads`` of each, are appended to it: the cache
    is ``n_heads / n_kv_heads`` times smaller than multi-head attention's. The whole cache
    is kept (with a window, the mask hides what is too old). ``keep_weights`` and
    ``last_weights`` work as in :class:`~helpers.attention.MultiHeadAttention`.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int, rope_base: float = 10000.0,
                 pairing: str = "half", window: int | None = None):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads} "
                             "(each head gets d_model // n_heads dimensions)")
        if n_kv_heads < 1 or n_heads % n_kv_heads != 0:
            raise ValueError(f"n_heads={n_heads} must be divisible by n_kv_heads={n_kv_heads} "
                             "(each key/value head serves n_heads // n_kv_heads query heads)")
        if (d_model // n_heads) % 2 != 0:
            raise ValueError(f"head_dim = d_model // n_heads = {d_model // n_heads} must be even: "
                             "RoPE rotates pairs of dimensions")
        _check_pairing(pairing)
        if window is not None:
            _check_window(window)
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_dim = d_model // n_heads
        self.n_rep = n_heads // n_kv_heads  # query heads per key/value head
        self.rope_base, self.pairing, self.window = rope_base, pairing, window
        self.W_query = nn.Linear(d_model, n_heads * self.head_dim, bias=False)
        self.W_key = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=False)
        self.W_value = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=False)
        self.out_proj = nn.Linear(n_heads * self.head_dim, d_model, bias=False)
        self.keep_weights = False
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        B, T, d_model = x.shape
        if d_model != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        past = 0 if kv_cache is None else len(kv_cache)  # tokens already in the cache
        q = split_heads(self.W_query(x), self.n_heads)  # (B, T, n_heads·hd) -> (B, n_heads, T, head_dim)
        k = split_heads(self.W_key(x), self.n_kv_heads)  # (B, T, n_kv_heads·hd) -> (B, n_kv_heads, T, head_dim)
        v = split_heads(self.W_value(x), self.n_kv_heads)
        positions = torch.arange(past, past + T, device=x.device)  # (T,): the new tokens' absolute positions
        q = apply_rope(q, positions, self.rope_base, self.pairing)  # rotated by position, same shape
        k = apply_rope(k, positions, self.rope_base, self.pairing)
        if kv_cache is not None:
            k, v = kv_cache.append(k, v)  # (B, n_kv_heads, past + T, head_dim): only n_kv_heads are stored
        k = repeat_kv(k, self.n_rep)  # (B, n_kv_heads, past + T, hd) -> (B, n_heads, past + T, hd)
        v = repeat_kv(v, self.n_rep)
        if self.window is None:
            mask = causal_mask(T, device=x.device, past=past)  # (T, past + T)
        else:
            mask = sliding_window_mask(T, self.window, past=past, device=x.device)  # (T, past + T)
        if self.keep_weights:
            weights = attention_weights(q, k, mask)  # (B, n_heads, T, past + T)
            self.last_weights = weights.detach()
            out = weights @ v  # (B, n_heads, T, head_dim)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, n_heads, T, head_dim)
        out = out.transpose(1, 2).contiguous().view(B, T, d_model)  # (B, T, n_heads, hd) -> heads concatenated
        return self.out_proj(out)

    def extra_repr(self) -> str:
        window = "" if self.window is None else f", window={self.window}"
        return f"n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}, pairing={self.pairing!r}{window}"


def kv_cache_bytes(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2) -> int:
    """Bytes of KV cache per token: ``2 · n_layers · n_kv_heads · head_dim · bytes_per_value`` (notebook 15).

    One key and one value vector per key/value head per layer (2 bytes a number in
    bf16/fp16, 4 in float32). Multiply by the tokens kept and the batch size.
    """
    for name, value in (("n_layers", n_layers), ("n_kv_heads", n_kv_heads), ("head_dim", head_dim),
                        ("bytes_per_value", bytes_per_value)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value  # keys and values


# --- the model ------------------------------------------------------------------------


@dataclass
class ModernConfig:
    """The sizes of a :class:`ModernGPT` (notebook 15).

    The defaults are LLaMA 7B's (Touvron et al., 2023), but with 8 key/value heads
    (grouped-query attention, as in Llama 2 70B and Llama 3) where LLaMA has 32.
    """

    vocab_size: int = 32000  # number of token ids (LLaMA's SentencePiece vocabulary)
    context_length: int = 2048  # longest input, in tokens
    d_model: int = 4096  # width of every token's vector
    n_layers: int = 32  # number of blocks
    n_heads: int = 32  # query heads per block (d_model must divide by it; head_dim even)
    n_kv_heads: int = 8  # key/value heads (n_heads must divide by it): n_heads is MHA, 1 is MQA
    hidden_dim: int = 11008  # SwiGLU width: swiglu_hidden_dim(4096, multiple_of=256)
    rope_base: float = 10000.0  # RoPE's base: the slowest pair turns once in about 2π·base positions
    norm_eps: float = 1e-5  # RMSNorm's eps
    window: int | None = None  # sliding-window attention: each query sees this many keys (None: all)
    pairing: str = "half"  # RoPE's pairs: "half" (Hugging Face) or "interleaved" (Meta, RoFormer)
    tie_weights: bool = False  # the LM head reuses the token-embedding matrix (LLaMA: no)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "n_layers", "n_heads", "n_kv_heads", "hidden_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModernConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"ModernConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_heads % self.n_kv_heads != 0:
            raise ValueError(f"ModernConfig.n_heads ({self.n_heads}) must be divisible by "
                             f"n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2 != 0:
            raise ValueError(f"ModernConfig: head_dim = d_model // n_heads = {self.head_dim} must be even "
                             "(RoPE rotates pairs of dimensions)")
        for name in ("rope_base", "norm_eps"):
            if not getattr(self, name) > 0:  # also refuses NaN
                raise ValueError(f"ModernConfig.{name} must be a positive number, got {getattr(self, name)!r}")
        if self.window is not None:
            _check_window(self.window, "ModernConfig.window")
        _check_pairing(self.pairing, "ModernConfig.pairing")

    @property
    def head_dim(self) -> int:
        """The width of each attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads


class ModernBlock(nn.Module):
    """The Llama block: ``x + attn(norm1(x))``, then ``x + ff(norm2(x))``; shape unchanged (notebook 15).

    :class:`helpers.model.TransformerBlock` with :class:`RMSNorm` for LayerNorm,
    :class:`GroupedQueryAttention` (with RoPE) for multi-head attention, :class:`SwiGLU`
    for the GELU feed-forward, and no dropout.
    """

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.norm1 = RMSNorm(config.d_model, eps=config.norm_eps)
        self.attn = GroupedQueryAttention(config.d_model, config.n_heads, config.n_kv_heads,
                                          config.rope_base, config.pairing, config.window)
        self.norm2 = RMSNorm(config.d_model, eps=config.norm_eps)
        self.ff = SwiGLU(config.d_model, config.hidden_dim)

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        # x: (B, T, d_model) in and out
        x = x + self.attn(self.norm1(x), kv_cache=kv_cache)
        x = x + self.ff(self.norm2(x))
        return x


class ModernGPT(nn.Module):
    """A Llama-style language model: token ids (B, T) → logits (B, T, vocab_size) (notebook 15).

    Token embeddings → :class:`ModernBlock` s → final :class:`RMSNorm` → LM head. There is
    no position table: positions enter each attention layer through RoPE. Weights start
    as GPT-2's (:func:`helpers.model.init_gpt2_weights`). The interface is
    :class:`helpers.model.GPT`'s (``config``, ``new_kv_caches()``,
    ``forward(token_ids, kv_caches)``, the same checks of the input), so
    :func:`~helpers.generation.generate`, :func:`~helpers.translation.translate_greedy`
    and :func:`~helpers.training.train` use it unchanged.
    """

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(ModernBlock(config) for _ in range(config.n_layers))
        self.final_norm = RMSNorm(config.d_model, eps=config.norm_eps)
        self.out_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(init_gpt2_weights)
        if config.tie_weights:
            self.out_head.weight = self.tok_emb.weight  # one matrix, used at both ends

    def new_kv_caches(self) -> list[KVCache]:
        """One empty :class:`~helpers.attention.KVCache` per block, for generating token by token."""
        return [KVCache() for _ in self.blocks]

    def forward(self, token_ids: Tensor, kv_caches: list[KVCache] | None = None) -> Tensor:
        """Logits for every position. With ``kv_caches``, ``token_ids`` are only the new tokens."""
        config = self.config
        check_token_ids(token_ids, kv_caches, len(self.blocks), config.vocab_size, config.context_length)
        x = self.tok_emb(token_ids)  # (B, T, d_model): no position embedding, RoPE does that inside attention
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache=None if kv_caches is None else kv_caches[i])
        x = self.final_norm(x)
        return self.out_head(x)  # (B, T, d_model) -> (B, T, vocab_size)
