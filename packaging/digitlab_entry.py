"""PyInstaller entry point of the DigitLab app (the same `main` as the `digitlab` command)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
