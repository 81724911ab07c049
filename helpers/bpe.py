"""Byte-pair encoding (notebook 06): train a byte-level BPE tokenizer, and GPT-2's, offline.

- :func:`count_pairs` and :func:`merge_pair` are the two steps of BPE.
- :func:`train_bpe` learns merges from text with those two steps (GPT-2's
  pre-tokenisation, UTF-8 bytes as the 256 first tokens) and returns a
  :class:`BPETokenizer`, which encodes, decodes, saves and loads;
  :func:`train_bpe_fast` learns the same merges incrementally, for large texts.
- :func:`gpt2_tokenizer` is that from-scratch tokenizer loaded with GPT-2's
  vocabulary and merges from ``data/gpt2/``; it encodes exactly like tiktoken.
- :func:`gpt2_encoding` builds ``tiktoken``'s own GPT-2 encoding from the same
  files instead of downloading them, so every notebook works without a network.
- :func:`tokens_html` shows tokens on coloured backgrounds.

    >>> gpt2_encoding().encode("Hello, world")
    [15496, 11, 995]
    >>> gpt2_tokenizer().encode("Hello, world")
    [15496, 11, 995]
"""

from __future__ import annotations

import functools
import heapq
import html
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set as AbstractSet
from pathlib import Path
from typing import Literal

import regex
import tiktoken

from helpers.paths import DATA_DIR
from helpers.progress import ProgressBar

#: GPT-2's vocabulary (``token -> id``) and its merges, in the order they were learned.
GPT2_DIR: Path = DATA_DIR / "gpt2"
GPT2_ENCODER_PATH: Path = GPT2_DIR / "encoder.json"
GPT2_MERGES_PATH: Path = GPT2_DIR / "vocab.bpe"

#: The token GPT-2 puts between documents, and its id.
ENDOFTEXT = "<|endoftext|>"
GPT2_ENDOFTEXT_ID = 50256

#: GPT-2's pre-tokenisation pattern (as in tiktoken): contractions, words with
#: their leading space, numbers, punctuation runs, white space.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def gpt2_bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table byte -> printable character, used to write bytes in ``encoder.json`` (notebook 06).

    The 188 bytes in three ranges of printable characters, ``!`` … ``~``, ``¡`` … ``¬``
    and ``®`` … ``ÿ``, stand for themselves; the 68 others (space, control
    characters, ...) are written as the characters 256, 257, ... in byte order.
    So the space byte 32 is written ``Ġ`` (chr(288)).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return dict(sorted(table.items()))


def _gpt2_token_bytes(token: str, char_to_byte: dict[str, int]) -> bytes:
    """Undo GPT-2's byte -> character table: ``'Ġthe'`` -> ``b' the'``."""
    return bytes(char_to_byte[char] for char in token)


@functools.cache
def _gpt2_files() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """``encoder.json`` (token -> id) and ``vocab.bpe`` (merges in order), as written."""
    with open(GPT2_ENCODER_PATH, encoding="utf-8") as file:
        encoder: dict[str, int] = json.load(file)
    with open(GPT2_MERGES_PATH, encoding="utf-8") as file:
        lines = file.read().split("\n")
    # The first line is a version comment and the file ends with a newline.
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    return encoder, merges  # type: ignore[return-value]


def gpt2_mergeable_ranks() -> dict[bytes, int]:
    """GPT-2's tokens as bytes -> id, as tiktoken wants them (specials excluded) (notebook 06)."""
    encoder, merges = _gpt2_files()
    char_to_byte = {char: b for b, char in gpt2_bytes_to_unicode().items()}
    ranks = {
        _gpt2_token_bytes(token, char_to_byte): token_id
        for token, token_id in encoder.items()
        if token != ENDOFTEXT
    }
    # tiktoken assumes that a token's id is also its merge priority: the 256
    # single bytes first, then one token per merge, in the order of vocab.bpe.
    for rank, (first, second) in enumerate(merges, start=256):
        merged = _gpt2_token_bytes(first + second, char_to_byte)
        if ranks.get(merged) != rank:
            raise ValueError(f"{GPT2_MERGES_PATH}: merge {rank - 256} ({first!r} + {second!r}) "
                             f"does not have id {rank} in {GPT2_ENCODER_PATH}")
    return ranks


@functools.cache
def gpt2_encoding() -> tiktoken.Encoding:
    """tiktoken's ``gpt2`` encoding, built from ``data/gpt2/`` (no download) (notebook 06)."""
    return tiktoken.Encoding(
        name="gpt2_local",
        pat_str=GPT2_SPLIT_PATTERN,
        mergeable_ranks=gpt2_mergeable_ranks(),
        special_tokens={ENDOFTEXT: GPT2_ENDOFTEXT_ID},
        explicit_n_vocab=50257,
    )


# ---------------------------------------------------------------------------
# The two steps of BPE: count neighbouring pairs, merge one pair
# ---------------------------------------------------------------------------


def count_pairs(ids: Sequence[int]) -> Counter[tuple[int, int]]:
    """How often each pair of neighbours occurs: ``[1, 2, 1, 2]`` -> ``{(1, 2): 2, (2, 1): 1}`` (notebook 06)."""
    return Counter(zip(ids, ids[1:]))


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id`` (notebook 06).

    Occurrences do not overlap: with ``pair = (a, a)``, ``[a, a, a]`` becomes
    ``[new_id, a]``. ``ids`` itself is not changed.
    """
    merged: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def apply_merges(ids: Sequence[int], merges: Mapping[tuple[int, int], int]) -> list[int]:
    """Encode with a merge table: apply the earliest-learned merge that fits, until none does (exercise 6.3).

    A later merge always has a larger new id, so the pair with the smallest new id
    is the one learned first: ``apply_merges(list(b"aaab"), {(97, 97): 256, (256, 97): 257})``
    is ``[257, 98]``.
    """
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))
        if pair not in merges:
            break
        ids = merge_pair(ids, pair, merges[pair])
    return ids


# ---------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------


class BPETokenizer:
    """A byte-level BPE tokenizer: bytes -> ids, then merges in the order they were learned (notebook 06).

    - ``byte_ids[b]`` is the id of the single byte ``b`` (0..255). A trained
      tokenizer uses ``byte_ids[b] == b``; GPT-2 numbers its bytes differently.
    - ``merges`` maps a pair of ids to the id of the merged token, in the order
      the merges were learned; a later merge always has a larger new id, so the
      new id is also the merge's priority.
    - ``special_tokens`` (``{"<|endoftext|>": 50256}``) are never split or merged.
    - ``pattern`` cuts text into chunks (words, numbers, punctuation, spaces)
      before BPE; merges never cross a chunk boundary.
    """

    def __init__(
        self,
        merges: Mapping[tuple[int, int], int],
        special_tokens: Mapping[str, int] | None = None,
        byte_ids: Sequence[int] = tuple(range(256)),
        pattern: str = GPT2_SPLIT_PATTERN,
    ):
        if sorted(byte_ids) != list(range(256)):
            raise ValueError("byte_ids must give each of the 256 bytes its own id in 0..255")
        self.byte_ids: list[int] = list(byte_ids)
        self.merges: dict[tuple[int, int], int] = dict(merges)
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        self.pattern = pattern
        self._chunk_regex = regex.compile(pattern)

        # The vocabulary: id -> the bytes it stands for.
        self.vocab: dict[int, bytes] = {token_id: bytes([b]) for b, token_id in enumerate(self.byte_ids)}
        previous_id = 255
        for (left, right), new_id in self.merges.items():
            if left not in self.vocab or right not in self.vocab:
                raise ValueError(f"merge ({left}, {right}) -> {new_id} uses an id that no earlier token has")
            if new_id <= previous_id:
                raise ValueError(f"merge ({left}, {right}) -> {new_id}: new ids must increase, "
                                 f"in the order the merges were learned (previous: {previous_id})")
            self.vocab[new_id] = self.vocab[left] + self.vocab[right]
            previous_id = new_id
        for token, token_id in self.special_tokens.items():
            if token_id in self.vocab:
                raise ValueError(f"special token {token!r} has id {token_id}, which is already a token")
            self.vocab[token_id] = token.encode("utf-8")
        self._chunk_cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={sorted(self.special_tokens)})")

    # -- encoding ----------------------------------------------------------

    def _encode_chunk(self, chunk: str) -> list[int]:
        """BPE on one chunk: its bytes' ids, then the merges (:func:`apply_merges`)."""
        return apply_merges([self.byte_ids[b] for b in chunk.encode("utf-8")], self.merges)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text``, treating special-token text like any other text."""
        ids: list[int] = []
        for chunk in self._chunk_regex.findall(text):
            # The same chunk always gives the same tokens: remember them.
            if chunk not in self._chunk_cache:
                self._chunk_cache[chunk] = self._encode_chunk(chunk)
            ids.extend(self._chunk_cache[chunk])
        return ids

    def encode(
        self, text: str, allowed_special: Literal["all"] | AbstractSet[str] = frozenset()
    ) -> list[int]:
        """Encode ``text`` to token ids; ``allowed_special`` special tokens become one id each.

        As in tiktoken, a special token in ``text`` that is not allowed raises
        ``ValueError`` (use :meth:`encode_ordinary` to encode it as plain text).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"allowed_special names {sorted(unknown)}, which are not special tokens "
                             f"of this tokenizer (it has {sorted(self.special_tokens)})")
        for token in sorted(set(self.special_tokens) - allowed):
            if token in text:
                raise ValueError(
                    f"the text contains the special token {token!r}, which is not allowed. Pass "
                    f"allowed_special={{{token!r}}} (or 'all') to encode it as id "
                    f"{self.special_tokens[token]}, or use encode_ordinary() to encode it as plain text."
                )
        if not allowed:
            return self.encode_ordinary(text)
        # Cut the text around the allowed special tokens (longest first), keeping them.
        specials = sorted(allowed, key=len, reverse=True)
        parts = regex.split("(" + "|".join(regex.escape(s) for s in specials) + ")", text)
        ids: list[int] = []
        for part in parts:
            if part in allowed:
                ids.append(self.special_tokens[part])
            else:
                ids.extend(self.encode_ordinary(part))
        return ids

    # -- decoding ----------------------------------------------------------

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for; a clear error for an id outside the vocabulary."""
        if token_id not in self.vocab:
            raise ValueError(f"token id {token_id!r} is not in the vocabulary "
                             f"({self.vocab_size} tokens, ids 0..{max(self.vocab)})")
        return self.vocab[token_id]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self.token_bytes(token_id) for token_id in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Bytes that are not valid UTF-8 become ``�`` (as tiktoken does)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # -- saving ------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the tokenizer to a JSON file that :meth:`load` reads back."""
        data = {
            "format": "llms-from-dummies-bpe-1",
            "pattern": self.pattern,
            "byte_ids": self.byte_ids,
            "merges": [[left, right, new_id] for (left, right), new_id in self.merges.items()],
            "special_tokens": self.special_tokens,
        }
        Path(path).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != "llms-from-dummies-bpe-1":
            raise ValueError(f"{path} is not a tokenizer written by BPETokenizer.save")
        merges = {(left, right): new_id for left, right, new_id in data["merges"]}
        return cls(merges, data["special_tokens"], data["byte_ids"], data["pattern"])


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def chunk_counts(text: str, pattern: str = GPT2_SPLIT_PATTERN,
                 special_tokens: Iterable[str] = ()) -> Counter[str]:
    """How often each chunk (word, number, ...) occurs; special tokens are left out (notebook 06)."""
    specials = sorted(special_tokens, key=len, reverse=True)
    pieces = regex.split("|".join(regex.escape(s) for s in specials), text) if specials else [text]
    counts: Counter[str] = Counter()
    for piece in pieces:
        counts.update(regex.findall(pattern, piece))
    return counts


def check_vocab_size(vocab_size: int, special_tokens: Sequence[str]) -> int:
    """The number of merges ``vocab_size`` leaves room for; a clear error if it is too small (notebook 06)."""
    if len(set(special_tokens)) != len(special_tokens) or "" in special_tokens:
        raise ValueError(f"special tokens must be distinct and non-empty, got {list(special_tokens)}")
    smallest = 256 + len(special_tokens)
    if vocab_size < smallest:
        raise ValueError(f"vocab_size={vocab_size} is too small: the 256 single bytes and "
                         f"{len(special_tokens)} special token(s) already need {smallest}")
    return vocab_size - smallest


def train_bpe(text: str, vocab_size: int, special_tokens: Sequence[str] = (ENDOFTEXT,),
              pattern: str = GPT2_SPLIT_PATTERN, progress: bool = False) -> BPETokenizer:
    """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``: the textbook loop (notebook 06).

    Cut the text into chunks (:func:`chunk_counts`), start from each chunk's bytes,
    then repeat: count every pair of neighbours (:func:`count_pairs`, weighted by
    how often the chunk occurs), merge the most frequent one everywhere
    (:func:`merge_pair`; ties: the smallest pair of ids). :func:`train_bpe_fast`
    learns the same merges much faster.

        >>> train_bpe("aaabdaaabac", 259, special_tokens=()).merges
        {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    """
    n_merges = check_vocab_size(vocab_size, special_tokens)
    counts = chunk_counts(text, pattern, special_tokens)
    chunks = [list(chunk.encode("utf-8")) for chunk in counts]  # each distinct chunk as byte ids
    merges: dict[tuple[int, int], int] = {}
    for new_id in ProgressBar(range(256, 256 + n_merges), desc="BPE merges", disable=not progress):
        pair_counts: Counter[tuple[int, int]] = Counter()
        for ids, count in zip(chunks, counts.values()):
            for pair, n in count_pairs(ids).items():
                pair_counts[pair] += n * count
        if not pair_counts:
            raise _too_few_merges(len(merges), special_tokens)
        pair = min(pair_counts, key=lambda p: (-pair_counts[p], p))  # most frequent, then smallest
        merges[pair] = new_id
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
    specials = {token: 256 + n_merges + i for i, token in enumerate(special_tokens)}
    return BPETokenizer(merges, specials, pattern=pattern)


def _too_few_merges(done: int, special_tokens: Sequence[str]) -> ValueError:
    return ValueError(f"the text only allows {done} merges (every chunk is one token): "
                      f"ask for vocab_size <= {256 + done + len(special_tokens)}")


def train_bpe_fast(text: str, vocab_size: int, special_tokens: Sequence[str] = (ENDOFTEXT,),
                   pattern: str = GPT2_SPLIT_PATTERN, progress: bool = False) -> BPETokenizer:
    """The merges of :func:`train_bpe`, learned incrementally (notebook 06).

    The pair counts are kept between steps: after each merge only the chunks that
    contain the merged pair are re-counted, and a heap finds the most frequent
    pair, so a step costs time in proportion to what it changes, not to the size
    of the text (``make bench`` measures the difference).
    """
    n_merges = check_vocab_size(vocab_size, special_tokens)
    counts = chunk_counts(text, pattern, special_tokens)
    chunks = sorted(counts)                          # distinct chunks, in a fixed order
    words = [list(chunk.encode("utf-8")) for chunk in chunks]   # each chunk as token ids
    freq = [counts[chunk] for chunk in chunks]

    pair_counts: Counter[tuple[int, int]] = Counter()
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks holding it
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            pair_counts[pair] += freq[w]
            where[pair].add(w)
    # A heap of (-count, pair): the top is the most frequent pair. Counts change,
    # so stale entries stay in the heap and are skipped when they come up.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: dict[tuple[int, int], int] = {}
    for new_id in ProgressBar(range(256, 256 + n_merges), desc="BPE merges", disable=not progress):
        while heap and pair_counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)
        if not heap:
            raise _too_few_merges(len(merges), special_tokens)
        _, pair = heapq.heappop(heap)
        merges[pair] = new_id
        for w in sorted(where.pop(pair)):
            old, new = words[w], merge_pair(words[w], pair, new_id)
            for p in zip(old, old[1:]):              # take the chunk's old pairs out ...
                pair_counts[p] -= freq[w]
                where[p].discard(w)
            for p in zip(new, new[1:]):              # ... and put its new pairs in
                pair_counts[p] += freq[w]
                where[p].add(w)
            words[w] = new
            for p in set(zip(old, old[1:])) | set(zip(new, new[1:])):
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], p))
                else:
                    del pair_counts[p]
                    where.pop(p, None)
    specials = {token: 256 + n_merges + i for i, token in enumerate(special_tokens)}
    return BPETokenizer(merges, specials, pattern=pattern)


# ---------------------------------------------------------------------------
# GPT-2's merges in the from-scratch tokenizer
# ---------------------------------------------------------------------------


@functools.cache
def gpt2_tokenizer() -> BPETokenizer:
    """The from-scratch :class:`BPETokenizer` with GPT-2's vocabulary and merges (from ``data/gpt2/``) (notebook 06)."""
    encoder, merge_lines = _gpt2_files()
    table = gpt2_bytes_to_unicode()
    byte_ids = [encoder[table[b]] for b in range(256)]
    merges = {(encoder[first], encoder[second]): encoder[first + second] for first, second in merge_lines}
    return BPETokenizer(merges, {ENDOFTEXT: GPT2_ENDOFTEXT_ID}, byte_ids, GPT2_SPLIT_PATTERN)


# ---------------------------------------------------------------------------
# Seeing tokens
# ---------------------------------------------------------------------------

#: Background colours of consecutive tokens (red;green;blue).
TOKEN_COLOURS = ("102,194,165", "252,141,98", "141,160,203", "231,138,195", "166,216,84", "255,217,47")


def token_label(piece: bytes) -> str:
    """A token's text for display: its characters, or its bytes in hex (``<f0 9f>``) when (notebook 06)
    it is only part of a character; a newline shows as ``↵``."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "<" + piece.hex(" ") + ">"
    return text.replace("\n", "↵\n")


def tokens_html(pieces: Sequence[bytes], title: str = "") -> str:
    """HTML that shows each token on its own coloured background (for ``IPython.display.HTML``) (notebook 06)."""
    spans = []
    for i, piece in enumerate(pieces):
        colour = TOKEN_COLOURS[i % len(TOKEN_COLOURS)]
        label = html.escape(token_label(piece))  # white-space: pre-wrap keeps new lines
        spans.append(f'<span style="background: rgb({colour}); color: black; '
                     f'border-radius: 3px; padding: 1px 0;">{label}</span>')
    heading = f"<b>{html.escape(title)}</b> ({len(pieces)} tokens)<br>" if title else ""
    return (f'<div style="font-family: monospace; white-space: pre-wrap; line-height: 1.9; '
            f'margin-bottom: 8px;">{heading}{"".join(spans)}</div>')
