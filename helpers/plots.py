"""The course's figures: word alignments (notebook 01) and annotated heatmaps (03, 04, 05)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def plot_alignment(
    source: Sequence[str],
    target: Sequence[str],
    links: Sequence[tuple[int, int]],
    title: str = "",
) -> Figure:
    """Draw ``source`` tokens above ``target`` tokens with a line per aligned pair (notebook 01).

    ``links`` holds ``(source_index, target_index)`` pairs. Lines that cross
    (red) show where a translation must reorder words; lines that meet on one
    target word (orange) show several words translated together.
    """
    for i, j in links:
        if not (0 <= i < len(source) and 0 <= j < len(target)):
            raise IndexError(
                f"link ({i}, {j}) is outside {len(source)} source and {len(target)} target tokens"
            )
    width = max(len(source), len(target))
    fig, ax = plt.subplots(figsize=(1.3 * width + 1, 1.8))
    for x, token in enumerate(source):
        ax.text(x, 1, token, ha="center", va="bottom", fontsize=12)
    for x, token in enumerate(target):
        ax.text(x, 0, token, ha="center", va="top", fontsize=12)
    targets = [j for _, j in links]
    for i, j in links:
        crosses = any((i - k) * (j - m) < 0 for k, m in links)
        color = "tab:red" if crosses else "tab:orange" if targets.count(j) > 1 else "tab:blue"
        ax.plot([i, j], [0.95, 0.05], color=color, linewidth=2)
    ax.set_xlim(-0.7, width - 0.3)
    ax.set_ylim(-0.4, 1.4)
    ax.axis("off")
    if title:
        ax.set_title(title)
    plt.close(fig)
    return fig


def plot_heatmap(matrix: Any, row_labels: Sequence[str], column_labels: Sequence[str], title: str = "",
                 xlabel: str = "", ylabel: str = "", ax: Axes | None = None, annotate: bool = True) -> Axes:
    """A small matrix (a tensor or array) as a heatmap on a 0–1 scale, one cell per entry (notebook 03).

    With ``annotate`` every cell shows its value. Returns the matplotlib ``Axes``.
    """
    values = np.asarray(matrix.detach() if hasattr(matrix, "detach") else matrix, dtype=float)
    if values.shape != (len(row_labels), len(column_labels)):
        raise ValueError(
            f"a matrix of shape {values.shape} needs {values.shape[0]} row labels and "
            f"{values.shape[-1]} column labels, got {len(row_labels)} and {len(column_labels)}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(column_labels) + 2, 0.45 * len(row_labels) + 1.2))
    ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(column_labels)), column_labels, rotation=45, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if annotate:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 else "black")
    return ax


def plot_attention(weights: Any, query_labels: Sequence[str], key_labels: Sequence[str],
                   title: str = "attention weights", ax: Axes | None = None, annotate: bool = True) -> Axes:
    """A ``(T_q, T_k)`` attention-weight matrix as a heatmap: one row per query, one column per key (04, 05)."""
    return plot_heatmap(weights, query_labels, key_labels, title, "key (attended to)", "query", ax, annotate)
