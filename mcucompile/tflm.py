"""TensorFlow Lite's own kernels on a .tflite file: the int8 reference `verify --tflm` holds the C against.

TFLite Micro's interpreter (the `tflite-micro` package on PyPI, an optional extra:
`pip install 'mcucompile[tflm]'`) runs int8 models and models with float QUANTIZE/DEQUANTIZE edges.
It refuses legacy uint8 models ("Hybrid models are not supported on TFLite Micro"); for those, TFLite
with its reference kernels (`ai-edge-litert`, OpResolverType.BUILTIN_REF) is the reference, and the
result says which one ran. TFLite's default kernels (XNNPACK) are not bit-exact with either, so they
are never used here.

Inputs and outputs are in the model's own layout and types (NHWC, and float32 / int8 / uint8 as the
file declares them), one sample at a time (the models have batch 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import McuCompileError

TFLM = "TFLite Micro"
TFLITE_REF = "TFLite reference kernels"


@dataclass
class ReferenceRun:
    name: str  # which interpreter ran: TFLM or TFLITE_REF
    outputs: np.ndarray  # [N, ...] in the model's own output type


def _tflm_interpreter(path: Path):
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise McuCompileError("--tflm needs TFLite Micro's interpreter: pip install tflite-micro "
                              "(or 'mcucompile[tflm]')") from None
    try:
        return runtime.Interpreter.from_file(str(path))
    except Exception as exc:  # the interpreter reports allocation failures as RuntimeError
        return exc


def run_tflite(path: str | Path, x: np.ndarray) -> ReferenceRun:
    """Outputs of `path` on every sample of `x` ([N, ...], the model's input type), by TFLite Micro,
    or, for a model TFLite Micro does not run (uint8), by TFLite's reference kernels."""
    path = Path(path)
    interpreter = _tflm_interpreter(path)
    if isinstance(interpreter, Exception):
        if not _is_uint8(path):
            raise McuCompileError(f"{path}: TFLite Micro cannot run it: {str(interpreter).strip().splitlines()[0][:200]}")
        return ReferenceRun(TFLITE_REF, _run_tflite_reference(path, x))
    outputs = []
    for sample in x:
        interpreter.set_input(np.ascontiguousarray(sample[None]), 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)[0]))
    return ReferenceRun(TFLM, np.stack(outputs))


def _is_uint8(path: Path) -> bool:
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        return False
    details = litert.Interpreter(str(path)).get_input_details()[0]
    return details["dtype"] == np.uint8


def _run_tflite_reference(path: Path, x: np.ndarray) -> np.ndarray:
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        raise McuCompileError(f"{path}: a uint8 model, which TFLite Micro does not run; its reference is TFLite's "
                              "reference kernels: pip install ai-edge-litert") from None
    interpreter = litert.Interpreter(str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in x:
        interpreter.set_tensor(inp, np.ascontiguousarray(sample[None]))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out)[0].copy())
    return np.stack(outputs)
