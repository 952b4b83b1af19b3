"""`mcucompile verify`: build a model, run it where it runs, and hold it against its references.

1. Byte agreement between every pair of runs of the same int8 network on the same inputs, each
   required to be identical: the numpy int8 reference (simulate.simulate_graph), the C where the
   target runs it (natively, or the firmware in QEMU), and with `--tflm` also the host C and
   TensorFlow Lite's own kernels on the .tflite file (tflm.py: TFLite Micro's interpreter; TFLite's
   reference kernels for a uint8 model, which TFLite Micro does not run). Outputs are compared as the
   int8 core's bytes (a float or uint8 output of TFLite's mapped back to them exactly).
2. The float model where there is one (onnxruntime on an ONNX file; TFLite on a float .tflite):
   quantization costs accuracy, so this is measured, not required to be exact: top-1 agreement,
   cosine similarity per input (their mean must reach `min_cosine`), and the largest absolute
   error, also in output LSBs. Untrained networks quantize far worse than trained ones; lower
   `min_cosine` for them. A quantized .tflite has no float model: TFLite Micro is its reference.

The inputs are a .npy in the model's own layout, or N seeded uniform values in [-1, 1] (the range
of images normalized with the default mean and std of 0.5), or the whole integer range for an
int8/uint8 input.
"""
from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build import build_from_graph
from .compiler import compile_graph
from .errors import McuCompileError
from .frontend import is_tflite
from .inputs import REAL_DTYPES, check_array, load_array
from .project.fit import place
from .run import run_project
from .simulate import simulate_graph
from .targets import get_target, resolve

DEFAULT_MIN_COSINE = 0.99
NUMPY = "numpy int8 reference"


@dataclass
class Agreement:
    """Byte agreement of two runs' int8 outputs."""

    a: str
    b: str
    bytes_total: int
    bytes_different: int
    first_difference: tuple[int, int] | None  # (input, flat element index)

    @property
    def exact(self) -> bool:
        return self.bytes_different == 0

    def line(self) -> str:
        if self.exact:
            agreement = f"{self.bytes_total:,}/{self.bytes_total:,} output bytes identical"
        else:
            i, j = self.first_difference
            agreement = (f"{self.bytes_different:,} of {self.bytes_total:,} output bytes differ "
                         f"(first: input {i}, element {j})")
        return f"  {self.a} vs {self.b}: {agreement}  [{'ok' if self.exact else 'FAIL'}]"


@dataclass
class FloatAgreement:
    """The int8 network's dequantized outputs against the float model's."""

    reference: str  # "float model (onnxruntime)"
    top1_agree: int
    cosine: np.ndarray = field(repr=False)  # per input
    max_abs_error: float
    output_scale: float


@dataclass
class VerifyResult:
    model: str
    where: str  # "cortex-m7 in QEMU mps2-an500", "host"
    inputs: int
    pairs: list[Agreement]
    float_check: FloatAgreement | None
    min_cosine: float

    @property
    def exact(self) -> bool:
        return all(p.exact for p in self.pairs)

    @property
    def cosine_ok(self) -> bool:
        return self.float_check is None or float(self.float_check.cosine.mean()) >= self.min_cosine

    @property
    def passed(self) -> bool:
        return self.exact and self.cosine_ok

    # The float comparison's figures, for callers that read them directly.
    top1_agree = property(lambda self: self.float_check.top1_agree)
    cosine = property(lambda self: self.float_check.cosine)
    max_abs_error = property(lambda self: self.float_check.max_abs_error)
    output_scale = property(lambda self: self.float_check.output_scale)

    def summary(self) -> str:
        n = self.inputs
        lines = [f"verify {self.model} on {self.where}, {n} input(s):"] + [p.line() for p in self.pairs]
        f = self.float_check
        if f is None:
            lines.append("  vs float model: none (a quantized .tflite; its reference is TFLite's own kernels above)")
        else:
            lines.append(
                f"  vs {f.reference}: top-1 agreement {f.top1_agree}/{n}, cosine mean {f.cosine.mean():.5f} "
                f"(min {f.cosine.min():.5f}), max abs error {f.max_abs_error:.5g} "
                f"({f.max_abs_error / f.output_scale:.1f} LSB)  "
                f"[{'ok' if self.cosine_ok else f'FAIL: mean cosine < {self.min_cosine}'}]")
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


def make_inputs(spec, input_shape: list[int], seed: int = 0, input_dtype: str = "float32") -> np.ndarray:
    """--inputs: a count of seeded samples (uniform [-1, 1] for a float input, the whole integer range
    for an int8/uint8 one), or a .npy/.npz path (model layout)."""
    text = str(spec)
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise McuCompileError("--inputs: give at least 1")
        rng, shape = np.random.default_rng(seed), [n] + list(input_shape[1:])
        try:
            if input_dtype in ("int8", "uint8"):
                info = np.iinfo(input_dtype)
                return rng.integers(info.min, info.max + 1, size=shape).astype(input_dtype)
            return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
        except MemoryError:
            raise McuCompileError(f"--inputs {n:,}: that many inputs of shape {shape[1:]} do not fit in memory; "
                                  "give fewer") from None
    path = Path(text)
    if not path.exists():
        raise McuCompileError(f"--inputs {text}: neither a count nor an existing .npy/.npz file")
    # onnxruntime runs the float model on them too, so they are what that model takes: real values
    # for a float input, the model's own integer type for a quantized one.
    dtypes = REAL_DTYPES if input_dtype == "float32" else (input_dtype,)
    return check_array(load_array(path), input_shape, f"--inputs {text}", dtypes,
                       taker="verify (onnxruntime runs the ONNX model on them too)")


def float_reference(model, x: np.ndarray, output_q=None) -> np.ndarray:
    """The ONNX model's first output in float, one input at a time (the batch may be fixed at 1).

    A pre-quantized model takes its inputs in its own integer type; its integer outputs are
    dequantized with `output_q` (the compiler's int8 parameters, moved back by 128 for uint8)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise McuCompileError("verify needs onnxruntime (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    dtype = {"tensor(int8)": np.int8, "tensor(uint8)": np.uint8}.get(session.get_inputs()[0].type, np.float32)
    y = np.concatenate([session.run(None, {name: sample[None].astype(dtype)})[0] for sample in x])
    if y.dtype in (np.int8, np.uint8):
        q = y.astype(np.int32) - (128 if y.dtype == np.uint8 else 0)
        y = (np.float32(output_q.scalar_scale) * (q - output_q.scalar_zero_point)).astype(np.float32)
    return y


def compare_float(y_int8: np.ndarray, y_float: np.ndarray, scale: float, zero_point: int, reference: str) -> FloatAgreement:
    """The int8 outputs dequantized against the float model's (any layout, the same for both)."""
    n = len(y_int8)
    a = y_int8.reshape(n, -1)
    deq = (np.float32(scale) * (a.astype(np.float32) - np.float32(zero_point))).astype(np.float64)
    f = y_float.reshape(n, -1).astype(np.float64)
    norms = np.linalg.norm(deq, axis=1) * np.linalg.norm(f, axis=1)
    cosine = np.where(norms > 0, np.sum(deq * f, axis=1) / np.where(norms > 0, norms, 1.0),
                      np.where(np.all(deq == f, axis=1), 1.0, 0.0))
    return FloatAgreement(reference=reference, top1_agree=int(np.sum(np.argmax(deq, axis=1) == np.argmax(f, axis=1))),
                          cosine=cosine, max_abs_error=float(np.max(np.abs(deq - f))), output_scale=scale)


def agreement(a: str, ya: np.ndarray, b: str, yb: np.ndarray) -> Agreement:
    """Byte agreement of two [N, ...] int8 output arrays."""
    if ya.shape != yb.shape:
        raise McuCompileError(f"{b} gives outputs of shape {list(yb.shape)}, {a} {list(ya.shape)}")
    n = len(ya)
    diff = np.argwhere(ya.reshape(n, -1) != yb.reshape(n, -1))
    return Agreement(a, b, int(ya.size), int(len(diff)), tuple(int(v) for v in diff[0]) if len(diff) else None)


def core_outputs(graph, y: np.ndarray, who: str) -> np.ndarray:
    """Outputs in the model's own type -> the int8 core's bytes they stand for: uint8 moved by 128, a
    float output (TFLite's DEQUANTIZE of the int8 output) mapped back to its int8 values, which is
    exact: |q - zero_point| <= 255 is recovered from float32 scale * (q - zero_point) without error.
    A float value that is no such product cannot come from the int8 output and is refused."""
    if y.dtype == np.int8:
        return y
    if y.dtype == np.uint8:
        return (y.astype(np.int16) - 128).astype(np.int8)
    q = graph.tensor(graph.outputs[0]).qparams
    scale, zp = np.float32(q.scalar_scale), q.scalar_zero_point
    core = np.clip(np.rint(y.astype(np.float64) / float(scale)) + zp, -128, 127).astype(np.int8)
    if not np.array_equal((scale * (core.astype(np.float32) - np.float32(zp))).astype(np.float32), y):
        raise McuCompileError(f"{who} gives float outputs that are not the model's int8 output dequantized "
                              f"(scale {float(scale)!r}, zero point {zp})")
    return core


def _tflm_run(graph, tflite_file: Path, x: np.ndarray):
    """TFLite's own kernels on the .tflite file, inputs and outputs in our model's layout."""
    from .tflm import run_tflite

    if graph.meta["input_layout"] == "NCHW":
        x = x.transpose(0, 2, 3, 1)  # a .tflite is NHWC
    run = run_tflite(tflite_file, x)
    y = run.outputs
    if graph.meta.get("output_layout") == "NCHW" and y.ndim == 4:
        y = y.transpose(0, 3, 1, 2)
    return run.name, y


def float_model_outputs(model: Path, graph, x: np.ndarray) -> tuple[str, np.ndarray] | None:
    """(what ran, outputs) of the float model behind MODEL, or None for a quantized .tflite."""
    q = graph.tensor(graph.outputs[0]).qparams
    if not is_tflite(model):
        return "float model (onnxruntime)", float_reference(model, x, q)
    if graph.meta.get("qdq"):
        return None
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        raise McuCompileError("verify of a float .tflite runs it in TFLite: pip install ai-edge-litert") from None
    interpreter = litert.Interpreter(str(model))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in x:
        interpreter.set_tensor(inp, np.ascontiguousarray(sample[None], np.float32))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out)[0].copy())
    return "float model (TFLite)", np.stack(outputs)


def where_it_runs(target, board) -> str:
    """How a build for TARGET runs here, in words: "host", "cortex-m7 in QEMU mps2-an500", ..."""
    runner = target.platform.runner
    if runner == "qemu-system":
        return f"{target.name} in QEMU {board.qemu_machine}"
    if runner == "qemu-user":
        return f"{target.name} in qemu-aarch64"
    return target.name


def verify_model(model, target_name: str | None = "cortex-m7", board: str | None = None, inputs="10", seed: int = 0,
                 min_cosine: float = DEFAULT_MIN_COSINE, out_dir: Path | None = None, calib=None, observer="minmax",
                 mean=0.5, std=0.5, weights_in=None, arena_in=None, stack_bytes=None,
                 io_in_arena: bool = False, kernels: str = "auto", tflm: str | None = None, log=None,
                 memory: str = "auto") -> VerifyResult:
    """tflm: None, or the .tflite to run TFLite Micro on ("" for MODEL itself, which must then be one)."""
    model = Path(model)
    target, board_ = resolve(target_name, board)
    placement = place(board_, weights_in, arena_in, stack_bytes)
    if board_ is not None and not board_.is_qemu:
        raise McuCompileError(f"verify runs the firmware in QEMU, and board {board_.name} is real hardware; "
                              f"verify on --target {target.name} (QEMU {target.default_board}) instead")
    tflite_file = None
    if tflm is not None:
        tflite_file = Path(tflm) if tflm else model
        if not is_tflite(tflite_file):
            raise McuCompileError(f"--tflm {tflite_file}: not a .tflite file" + (
                "; give the model's .tflite twin: --tflm FILE.tflite" if not tflm else ""))
    graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, log=log)
    x = make_inputs(inputs, graph.meta["input_shape"], seed, graph.meta.get("input_dtype", "float32"))
    where = where_it_runs(target, board_)
    runs = {NUMPY: simulate_graph(graph, x, raw=True, what="--inputs")}
    with tempfile.TemporaryDirectory(prefix="mcucompile-verify-") as tmp:
        main_run = "host C" if target.name == "host" else where
        builds = [(main_run, target, board_, placement, Path(out_dir) if out_dir else Path(tmp) / "project")]
        if tflite_file is not None and target.name != "host":  # the host C as well: every pair is compared
            builds.append(("host C", get_target("host"), None, None, Path(tmp) / "host"))
        for name, t, b, p, project in builds:
            build_from_graph(graph, t, project, b, p, compile_firmware=True, io_in_arena=io_in_arena,
                             kernels=kernels, log=log, memory=memory)
            runs[name] = run_project(project, x, raw=True, what="--inputs")
    if tflite_file is not None:
        name, y = _tflm_run(graph, tflite_file, x)
        runs[name] = core_outputs(graph, y, name)
    pairs = [agreement(a, runs[a], b, runs[b]) for a, b in itertools.combinations(runs, 2)]
    floats = float_model_outputs(model, graph, x)
    float_check = None
    if floats is not None:
        reference, y_float = floats
        if y_float.shape != runs[NUMPY].shape:
            raise McuCompileError(f"the float model gives outputs of shape {list(y_float.shape)}, the int8 network "
                                  f"{list(runs[NUMPY].shape)}")
        q = graph.tensor(graph.outputs[0]).qparams
        float_check = compare_float(runs[main_run], y_float, q.scalar_scale, q.scalar_zero_point, reference)
    return VerifyResult(model=model.name, where=where, inputs=len(x), pairs=pairs, float_check=float_check,
                        min_cosine=min_cosine)
