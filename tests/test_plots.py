"""helpers/plots.py: the figures are drawn with the right labels, and bad input is refused."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no screen needed

import pytest  # noqa: E402
import torch  # noqa: E402

from helpers.plots import plot_alignment, plot_attention, plot_heatmap  # noqa: E402


def test_plot_attention_labels_and_shape_errors():
    w = torch.softmax(torch.randn(2, 3), dim=-1)
    ax = plot_attention(w, ["a", "b"], ["x", "y", "z"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert ax.get_title() == "t" and ax.get_xlabel() == "key (attended to)" and ax.get_ylabel() == "query"
    with pytest.raises(ValueError, match="2 row labels and 3 column labels"):
        plot_attention(w, ["a"], ["x", "y", "z"])


def test_plot_heatmap_writes_every_value_in_its_cell():
    ax = plot_heatmap(torch.eye(2), ["r0", "r1"], ["c0", "c1"], title="K", xlabel="word", ylabel="entry")
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.00", "1.00", "1.00"]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("K", "word", "entry")
    assert len(plot_heatmap([[0.5]], ["r"], ["c"], annotate=False).texts) == 0


def test_plot_alignment_refuses_a_link_outside_the_tokens():
    plot_alignment(["le", "chat"], ["the", "cat"], [(0, 0), (1, 1)])
    with pytest.raises(IndexError, match="outside 2 source and 2 target tokens"):
        plot_alignment(["le", "chat"], ["the", "cat"], [(0, 2)])
