"""helpers/bpe.py: GPT-2's encoding built offline, compared with tiktoken's own loader."""

from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext.openai_public import r50k_pat_str

from helpers.bpe import (
    ENDOFTEXT,
    GPT2_ENCODER_PATH,
    GPT2_MERGES_PATH,
    GPT2_SPLIT_PATTERN,
    gpt2_encoding,
    gpt2_mergeable_ranks,
)


def test_gpt2_ranks_equal_tiktoken_loader(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # read the local files, write no cache
    expected = data_gym_to_mergeable_bpe_ranks(str(GPT2_MERGES_PATH), str(GPT2_ENCODER_PATH))
    assert gpt2_mergeable_ranks() == expected


def test_gpt2_encoding_matches_tiktoken_gpt2():
    encoding = gpt2_encoding()
    assert encoding._pat_str == r50k_pat_str == GPT2_SPLIT_PATTERN
    assert encoding.n_vocab == 50257
    assert encoding.encode(ENDOFTEXT, allowed_special="all") == [50256]
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces"
    assert encoding.encode(text, allowed_special="all") == [
        15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114,
    ]
    assert encoding.decode(encoding.encode(text, allowed_special="all")) == text
    assert gpt2_encoding() is encoding  # cached
