"""DigitLab core: data, models, training, runs, ONNX export and inference. No Qt here."""

__version__ = "0.1.0"
