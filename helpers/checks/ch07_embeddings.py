"""Checks of notebook 07 · embeddings (references: nn.Embedding, ``helpers.embeddings``)."""

from __future__ import annotations

from typing import Any

import torch

from helpers.checks.core import Case, Cases, exercise
from helpers.embeddings import sinusoidal_encoding, sliding_window


SEED_SENTENCE = "thou shalt not make a machine in the likeness of a human mind".split()


def _diagnose_sliding_window(got: Any, case: Case) -> str | None:
    tokens, context_size = case.args
    expected = case.expected
    if not isinstance(got, list):
        return "return a list of rows, one (inputs, output) tuple per window position."
    if got and isinstance(got[0], (tuple, list)) and len(got[0]) == 2 and isinstance(got[0][0], list):
        return "make each row's inputs a tuple, tuple(tokens[start:start + context_size]), not a list."
    widths = {len(row[0]) for row in got if isinstance(row, tuple) and len(row) == 2 and hasattr(row[0], "__len__")}
    if expected and widths and widths != {context_size}:
        return f"each row should have context_size = {context_size} inputs, not {sorted(widths)}: use context_size."
    if len(got) == len(expected) - 1:
        return (f"{len(got)} rows instead of {len(expected)}: the last window is missing. A text of n tokens "
                "gives n - context_size rows: range(len(tokens) - context_size).")
    if len(got) == len(expected) + 1 or (not expected and got):
        return ("one row too many: the last window has no next token to predict. Stop at "
                "range(len(tokens) - context_size).")
    if got and got[0] and isinstance(got[0], tuple) and len(got[0]) == 2:
        inputs, output = got[0]
        if expected and output == expected[0][0][-1]:
            return "the output is the token AFTER the inputs (tokens[start + context_size]), not the last input."
    return None


@exercise("7.1", "Slide a window over a sentence", success="thou shalt → not, shalt not → make, ...")
def check_sliding_window() -> Cases:
    """rows (inputs, output): context_size tokens, then the token that follows them."""
    cases = [
        Case((SEED_SENTENCE, 2), sliding_window(SEED_SENTENCE, 2),
             "row i holds tokens i and i+1 as inputs and token i+2 as output; the last row's output is "
             "the last token, so there are len(tokens) - context_size rows."),
        Case((SEED_SENTENCE[:4], 1), sliding_window(SEED_SENTENCE[:4], 1),
             "with context_size = 1 each row is ((one token,), the next token)."),
        Case((SEED_SENTENCE[:6], 3), sliding_window(SEED_SENTENCE[:6], 3),
             "use context_size, not a fixed 2."),
        Case((["thou", "shalt"], 2), [], "two tokens and a window of two leave nothing to predict: no rows."),
    ]
    return Cases(cases, diagnose=_diagnose_sliding_window)


def _diagnose_embed_one_hot(got: Any, case: Case) -> str | None:
    ids, weight = case.args
    expected = case.expected
    if not hasattr(got, "shape"):
        return "return a tensor: one_hot(ids) @ weight."
    if tuple(got.shape) == tuple(expected.shape)[::-1]:
        return "your result is transposed: a one-hot ROW (1, V) times the weight (V, D) gives the row (1, D)."
    if tuple(got.shape) != tuple(expected.shape):
        return (f"the result should have shape ids.shape + (D,) = {tuple(expected.shape)}. Make the one-hot "
                f"vectors as long as the vocabulary (num_classes=weight.shape[0] = {weight.shape[0]}), "
                "not as long as the largest id + 1.")
    return None


@exercise("7.2", "Embed with a one-hot vector", success="An embedding layer is a one-hot vector times a matrix.")
def check_embed_with_one_hot() -> Cases:
    """one_hot(ids, V).float() @ weight equals nn.Embedding's look-up, for any shape of ids."""
    generator = torch.Generator().manual_seed(7)
    weight = torch.randn(6, 3, generator=generator)
    table = torch.nn.Embedding.from_pretrained(weight)
    cases = [
        Case((torch.tensor([2]), weight), table(torch.tensor([2])),
             "one id gives one row of the weight. F.one_hot(ids, num_classes=weight.shape[0]) makes one-hot "
             "vectors as long as the vocabulary; turn them into floats (.float()) before the product."),
        Case((torch.tensor([0, 3, 3, 1]), weight), table(torch.tensor([0, 3, 3, 1])),
             "the largest id here is 3, but the vocabulary has 6 words: one_hot needs num_classes=weight.shape[0]."),
        Case((torch.tensor([5, 0, 2]), weight), table(torch.tensor([5, 0, 2])),
             "row i of the result is row ids[i] of the weight."),
        Case((torch.tensor([[1, 2], [4, 5]]), weight), table(torch.tensor([[1, 2], [4, 5]])),
             "a batch of ids (B, T) gives (B, T, D): the one-hot tensor (B, T, V) @ weight (V, D) does this "
             "without any reshaping."),
    ]
    return Cases(cases, diagnose=_diagnose_embed_one_hot, atol=1e-6)


def _sinusoidal_variant(n_positions: int, d_model: int, base: float = 10_000.0, exponent: str = "2i",
                           first: str = "sin", layout: str = "interleaved") -> Any:
    """Plausible wrong encodings, to name what a wrong answer did (the defaults give the right one)."""
    positions = torch.arange(n_positions, dtype=torch.float).unsqueeze(1)
    i = torch.arange(d_model // 2, dtype=torch.float)
    power = (2 * i if exponent == "2i" else i) / d_model
    angles = positions / base**power
    sin, cos = torch.sin(angles), torch.cos(angles)
    even, odd = (sin, cos) if first == "sin" else (cos, sin)
    if layout == "halves":
        return torch.cat([even, odd], dim=1)
    encoding = torch.zeros(n_positions, d_model)
    encoding[:, 0::2] = even
    encoding[:, 1::2] = odd
    return encoding


def _diagnose_sinusoidal(got: Any, case: Case) -> str | None:
    n_positions, d_model = case.args
    if not hasattr(got, "shape") or tuple(got.shape) != (n_positions, d_model):
        return f"return a tensor of shape (n_positions, d_model) = ({n_positions}, {d_model})."
    got = torch.as_tensor(got, dtype=torch.float)
    wrong = {
        "sine and cosine are swapped: the EVEN columns 0, 2, 4, ... hold sin, the odd ones cos.":
            dict(first="cos"),
        "the exponent is 2i/d_model, where 2i is the even column index (0, 2, 4, ...), not i/d_model.":
            dict(exponent="i"),
        "the columns are interleaved: sin in columns 0, 2, 4, ..., cos in 1, 3, 5, ... — not all the sines "
        "first and then all the cosines.": dict(layout="halves"),
        "the base of the exponent is 10000 (1e4), as in the paper.": dict(base=1000.0),
    }
    for hint, variant in wrong.items():
        if torch.allclose(got, _sinusoidal_variant(n_positions, d_model, **variant), atol=1e-5):
            return hint
    if torch.allclose(got[:, 0], torch.sin(torch.arange(n_positions) + 1.0), atol=1e-5):
        return "positions start at 0: the first row is sin(0) = 0, cos(0) = 1."
    return None


@exercise("7.3", "The sinusoidal position encoding", success="Every position now has its own fingerprint.")
def check_sinusoidal_encoding() -> Cases:
    """pE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    cases = [
        Case((1, 2), sinusoidal_encoding(1, 2), "position 0 is sin(0) = 0, cos(0) = 1."),
        Case((4, 2), sinusoidal_encoding(4, 2), "with d_model = 2 the columns are sin(pos) and cos(pos)."),
        Case((6, 8), sinusoidal_encoding(6, 8), "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), "
             "PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))."),
        Case((50, 16), sinusoidal_encoding(50, 16), "check the formula for every column, not only the first two."),
    ]
    return Cases(cases, diagnose=_diagnose_sinusoidal, atol=1e-5)
