"""User-facing error kinds.

Each kind is something a user can cause and fix; the message says what is wrong and what to do.
The GUI shows `str(error)` in a dialog, the CLI prints it and exits non-zero (no traceback).
"""


class DigitLabError(Exception):
    """Base of every error a user can cause and fix."""


class DatasetError(DigitLabError):
    """MNIST-format files are missing, truncated, corrupt or of the wrong kind."""


class ModelFileError(DigitLabError):
    """An ONNX or checkpoint file cannot be used (not a model, wrong shapes, truncated)."""


class ConfigError(DigitLabError):
    """A training or export setting is out of range or names something that does not exist."""


class RunNotFoundError(DigitLabError):
    """A run id or name does not match any run in the run store."""


class ImageError(DigitLabError):
    """An image file cannot be read as a drawn digit."""


class RunBusyError(DigitLabError):
    """A run is being trained (it holds its lock): it cannot be resumed, renamed or deleted now."""


class RunDamagedError(RunNotFoundError):
    """A run's folder exists but its record cannot be used; it can only be deleted."""


class StorageError(DigitLabError, OSError):
    """A file could not be written: disk full, quota, permissions, or the target is a folder.

    Also an OSError, so code that already handled OSError around writes keeps working.
    """
