"""PyInstaller entry point of `digitlab-cli` inside the packaged folder."""

import sys

from core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
