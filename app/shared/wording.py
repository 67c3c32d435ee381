"""Small helpers for the words the GUI shows (the rules live in core.text: one owner)."""

from __future__ import annotations

from core.text import plural

__all__ = ["plural"]
