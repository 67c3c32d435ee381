"""Shared by every tab: the background-job helper, style, settings, dialogs, image helpers."""
