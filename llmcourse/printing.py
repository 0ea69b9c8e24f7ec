"""Printing results so that they fit the width of the book's output boxes."""

from __future__ import annotations

import textwrap

WIDTH = 76  # characters an output box of the built book shows without scrolling


def say(text: object, indent: str = "", hang: str = "  ") -> None:
    """Print `text` line by line, each wrapped to WIDTH; wrapped parts are indented by `hang` past the line's own."""
    for line in str(text).splitlines() or [""]:
        lead = indent + line[: len(line) - len(line.lstrip())]
        print(textwrap.fill(line.lstrip(), WIDTH, initial_indent=lead, subsequent_indent=lead + hang,
                            break_long_words=False, break_on_hyphens=False) or lead)
