"""helpers/bpe.py: GPT-2's encoding built offline, compared with tiktoken's own loader."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext.openai_public import r50k_pat_str

from helpers.bpe import (
    ENDOFTEXT,
    BPETokenizer,
    count_pairs,
    gpt2_tokenizer,
    merge_pair,
    tokens_html,
    train_bpe,
    train_bpe_fast,
    GPT2_ENCODER_PATH,
    GPT2_MERGES_PATH,
    GPT2_SPLIT_PATTERN,
    gpt2_encoding,
    gpt2_mergeable_ranks,
)
from helpers.paths import DATA_DIR


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


# --- the two steps ---------------------------------------------------------


def test_count_pairs_counts_overlapping_neighbours():
    assert count_pairs([1, 1, 1, 2]) == {(1, 1): 2, (1, 2): 1}
    assert count_pairs([5]) == {} and count_pairs([]) == {}


def test_merge_pair_left_to_right_without_overlap():
    ids = [1, 1, 1, 2, 1, 1]
    assert merge_pair(ids, (1, 1), 9) == [9, 1, 2, 9]
    assert ids == [1, 1, 1, 2, 1, 1]  # not changed
    assert merge_pair([1, 2], (2, 1), 9) == [1, 2]


# --- training ----------------------------------------------------------------

PROSE = (DATA_DIR / "prose_python_reference.txt").read_text(encoding="utf-8")


TRAINERS = pytest.mark.parametrize("trainer", [train_bpe, train_bpe_fast], ids=["textbook", "fast"])


@pytest.fixture(scope="module")
def small_tokenizer() -> BPETokenizer:
    return train_bpe_fast(PROSE[:60_000], 400)


@TRAINERS
def test_train_reproduces_the_compression_example(trainer):
    tokenizer = trainer("aaabdaaabac", 259, special_tokens=())
    a, b, c, d = b"abcd"
    assert tokenizer.merges == {(a, a): 256, (a, b): 257, (256, 257): 258}  # Z=aa, Y=ab, X=ZY
    assert tokenizer.encode("aaabdaaabac") == [258, d, 258, a, c]  # XdXac


def test_the_fast_trainer_learns_the_textbook_trainers_merges():
    text = PROSE[:20_000]
    assert train_bpe_fast(text, 400).merges == train_bpe(text, 400).merges


def test_trained_vocabulary_and_special_token(small_tokenizer):
    assert small_tokenizer.vocab_size == 400
    assert small_tokenizer.special_tokens == {ENDOFTEXT: 399}
    assert small_tokenizer.encode("a" + ENDOFTEXT, allowed_special="all") == [ord("a"), 399]
    # merges never include the special token's text
    assert all(b"<|" not in small_tokenizer.vocab[i] for i in range(256, 399))


@TRAINERS
def test_vocab_size_too_small(trainer):
    with pytest.raises(ValueError, match="vocab_size=256 is too small.*257"):
        trainer("hello", 256)
    trainer("hello hello", 257 + 1)


@TRAINERS
def test_text_too_short_for_the_vocabulary(trainer):
    with pytest.raises(ValueError, match="only allows 1 merges"):
        trainer("ab", 300, special_tokens=())


def test_decode_unknown_id(small_tokenizer):
    with pytest.raises(ValueError, match="token id 400 is not in the vocabulary"):
        small_tokenizer.decode([72, 400])


def test_disallowed_special_token_raises_like_tiktoken(small_tokenizer):
    text = f"end{ENDOFTEXT}"
    with pytest.raises(ValueError, match="special token"):
        small_tokenizer.encode(text)
    with pytest.raises(ValueError):
        gpt2_encoding().encode(text)
    assert small_tokenizer.decode(small_tokenizer.encode_ordinary(text)) == text
    with pytest.raises(ValueError, match="not special tokens"):
        small_tokenizer.encode(text, allowed_special={"<|pad|>"})


def test_save_and_load(small_tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    small_tokenizer.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.merges == small_tokenizer.merges
    assert loaded.vocab == small_tokenizer.vocab
    assert loaded.encode(PROSE[:2000]) == small_tokenizer.encode(PROSE[:2000])


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_round_trip_on_any_unicode(small_tokenizer, text):
    # hypothesis may generate the special token's text: it is plain text here
    assert small_tokenizer.decode(small_tokenizer.encode_ordinary(text)) == text
    assert gpt2_tokenizer().decode(gpt2_tokenizer().encode_ordinary(text)) == text


# --- GPT-2's merges in the from-scratch tokenizer ----------------------------

TRICKY = [
    "Hello, world!",
    "Hello,",
    "  leading spaces",
    "trailing spaces   ",
    "multiple    spaces   between",
    " ",
    "   ",
    "",
    "new\nlines\n\n\nand\ttabs\t\t here",
    "line end  \n  next",
    "\r\n windows",
    "it's they're we've I'll you'd I'm don't",
    "IT'S THEY'RE WE'VE I'LL YOU'D I'M DON'T 'S 'T",
    "'s'''t 're",
    "12.0*50=600 and 3.14159 and 1234567890 and 1,000,000",
    "Ⅻ ¾ ٣ 二",
    "emoji 🎵 👍🏽 👨‍👩‍👧 ❤️",
    "鸟 你好，世界。日本語のテキスト 한국어",
    "naïve café Ελληνικά русский עברית العربية",
    "show_tokens False None elif == >= else: two tabs:\"\t\t\" Three tabs: \"\t\t\t\"",
    "def f(x):\n    return x**2  # square\n",
    "English and CAPITALIZATION",
    "e\u0301 combining accent, zero\u200bwidth space, nbsp\u00a0here",
    "tab\t\n\t mixed \u3000 ideographic space",
]


@pytest.mark.parametrize("text", TRICKY)
def test_gpt2_tokenizer_equals_tiktoken_on_tricky_text(text):
    assert gpt2_tokenizer().encode(text) == gpt2_encoding().encode(text)


def test_gpt2_tokenizer_equals_tiktoken_on_the_prose_corpus():
    ids = gpt2_tokenizer().encode(PROSE)
    assert len(ids) > 100_000
    assert ids == gpt2_encoding().encode(PROSE)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_gpt2_tokenizer_equals_tiktoken_on_any_text(text):
    assert gpt2_tokenizer().encode_ordinary(text) == gpt2_encoding().encode_ordinary(text)


def test_gpt2_special_token_and_vocabulary():
    tokenizer = gpt2_tokenizer()
    assert tokenizer.vocab_size == 50257
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces"
    assert tokenizer.encode(text, allowed_special="all") == gpt2_encoding().encode(text, allowed_special="all")
    for text in ["a  <|endoftext|>  b\n<|endoftext|><|endoftext|>", "<|endoftext|>", " <|endoftext|>\n\n x"]:
        assert tokenizer.encode(text, allowed_special="all") == gpt2_encoding().encode(text, allowed_special="all")
    assert all(tokenizer.token_bytes(i) == gpt2_encoding().decode_single_token_bytes(i) for i in range(50257))


# --- seeing tokens ------------------------------------------------------------


def test_tokens_html_colours_each_token_and_escapes():
    page = tokens_html([b"<a>", b" b", "🎵".encode()[:2]], title="demo")
    assert page.count("<span") == 3
    assert "&lt;a&gt;" in page and "&lt;f0 9f&gt;" in page and "(3 tokens)" in page
