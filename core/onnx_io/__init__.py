"""ONNX in and out: export a run to a verified file; load, validate and run any ONNX digit model."""
