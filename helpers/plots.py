"""Small matplotlib figures shared by the notebooks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def plot_alignment(
    source: Sequence[str],
    target: Sequence[str],
    links: Sequence[tuple[int, int]],
    title: str = "",
) -> Figure:
    """Draw ``source`` tokens above ``target`` tokens with a line per aligned pair.

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
