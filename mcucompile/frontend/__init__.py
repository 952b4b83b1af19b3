"""Model importers. `import_model` reads a file by what it holds, not by its name.

A TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..8 (after the root table's
offset); anything else is read as ONNX, whose loader says clearly when it is not.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelLoadError

TFLITE_IDENTIFIER = b"TFL3"


def is_tflite(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] == TFLITE_IDENTIFIER


def import_model(path: str | os.PathLike, log=None):
    """A model file (ONNX or TFLite) -> float or pre-quantized Graph in NHWC."""
    path = Path(path)
    if path.is_dir():
        raise ModelLoadError(f"{path}: a folder, not a model file (.onnx or .tflite)")
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file")
    if is_tflite(path):
        from .tflite import import_tflite

        return import_tflite(path, log=log)
    from .onnx import import_onnx

    return import_onnx(path, log=log)
