"""Errors the compiler reports to its user.

Every McuCompileError carries a one-line message that names what is at fault (file, node, op,
shape); the CLI prints it and exits non-zero, never a traceback.
"""


class McuCompileError(Exception):
    """A problem with the user's input or request, explained in one line."""


class ModelLoadError(McuCompileError):
    """The model file cannot be read as ONNX."""


class UnsupportedOp(McuCompileError):
    """The graph holds an op, attribute or pattern the compiler does not support."""


class ShapeError(McuCompileError):
    """A tensor shape is dynamic, inconsistent or outside what the kernels handle."""


class QuantError(McuCompileError):
    """Quantization cannot proceed (no calibration data, bad data, bad scales)."""


class DoesNotFit(McuCompileError):
    """The model does not fit the target's flash or RAM."""
