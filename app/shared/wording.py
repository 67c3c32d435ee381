"""Small helpers for the words the GUI shows."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """'1 epoch', '0 epochs', '3 runs': English plurals made with an s."""
    return f"{n} {word}{'s' * (n != 1)}"
