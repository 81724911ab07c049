"""helpers/source.py: show() displays a helper's own source under its file's name."""

from __future__ import annotations

import inspect

import pytest

from helpers.attention import MultiHeadAttention
from helpers.source import show


def test_show_displays_the_source_as_python_markdown(monkeypatch):
    shown = []
    monkeypatch.setattr("helpers.source.display", shown.append)
    show(MultiHeadAttention)
    (markdown,) = shown
    assert markdown.data.startswith("`helpers/attention.py` · `MultiHeadAttention`\n\n```python\nclass MultiHeadAttention")
    assert inspect.getsource(MultiHeadAttention).rstrip() in markdown.data


def test_show_refuses_what_has_no_source():
    with pytest.raises(TypeError, match="source of a function or class, got 3"):
        show(3)
