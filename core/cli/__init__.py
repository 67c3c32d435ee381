"""`digitlab-cli`: one module per command group; `main` parses and dispatches."""

from core.cli.main import main

__all__ = ["main"]
