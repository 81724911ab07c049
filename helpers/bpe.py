"""Byte-pair encoding (notebook 06): GPT-2's tokenizer, offline.

:func:`gpt2_encoding` builds ``tiktoken``'s GPT-2 encoding from the files in
``data/gpt2/`` instead of downloading them, so every notebook can tokenise text
the way GPT-2 does without a network.

    >>> gpt2_encoding().encode("Hello, world")
    [15496, 11, 995]
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import tiktoken

from helpers.paths import DATA_DIR

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
    """GPT-2's table byte -> printable character, used to write bytes in ``encoder.json``.

    The 188 printable bytes (except space) stand for themselves; the 68 others
    (space, control characters, ...) are written as the characters 256, 257, ...
    in byte order. So the space byte 32 is written ``Ġ`` (chr(288)).
    """
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


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
    """GPT-2's tokens as bytes -> id, as tiktoken wants them (specials excluded)."""
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
    """tiktoken's ``gpt2`` encoding, built from ``data/gpt2/`` (no download)."""
    return tiktoken.Encoding(
        name="gpt2_local",
        pat_str=GPT2_SPLIT_PATTERN,
        mergeable_ranks=gpt2_mergeable_ranks(),
        special_tokens={ENDOFTEXT: GPT2_ENDOFTEXT_ID},
        explicit_n_vocab=50257,
    )
