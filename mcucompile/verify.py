"""`mcucompile verify`: build a model, run it where it runs, and hold it against two references.

1. The numpy int8 reference (simulate.simulate_graph on the same quantized graph): the C output
   must be identical byte for byte. This is what makes the C trustworthy; any difference fails.
2. The float model, run by onnxruntime on the ONNX file: quantization costs accuracy, so this is
   measured, not required to be exact: top-1 agreement, cosine similarity per input (their mean
   must reach `min_cosine`), and the largest absolute error, also in output LSBs. Untrained
   networks quantize far worse than trained ones; lower `min_cosine` for them.

The inputs are a .npy in the model's own layout, or N seeded uniform values in [-1, 1], the range
of images normalized with the default mean and std of 0.5.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build import build_from_graph
from .compiler import compile_graph
from .errors import McuCompileError
from .inputs import REAL_DTYPES, check_array, load_array
from .project.fit import DEFAULT_STACK_BYTES, place
from .runner import run_project
from .simulate import simulate_graph
from .targets import resolve

DEFAULT_MIN_COSINE = 0.99


@dataclass
class VerifyResult:
    model: str
    where: str  # "cortex-m7 in QEMU mps2-an500", "host"
    inputs: int
    bytes_total: int
    bytes_different: int
    first_difference: tuple[int, int] | None  # (input, flat index)
    top1_agree: int
    cosine: np.ndarray = field(repr=False)  # per input
    max_abs_error: float
    output_scale: float
    min_cosine: float

    @property
    def exact(self) -> bool:
        return self.bytes_different == 0

    @property
    def passed(self) -> bool:
        return self.exact and float(self.cosine.mean()) >= self.min_cosine

    def summary(self) -> str:
        n = self.inputs
        if self.exact:
            exact = f"{self.bytes_total:,}/{self.bytes_total:,} output bytes identical"
        else:
            i, j = self.first_difference
            exact = (f"{self.bytes_different:,} of {self.bytes_total:,} output bytes differ "
                     f"(first: input {i}, element {j})")
        cos_ok = float(self.cosine.mean()) >= self.min_cosine
        lines = [
            f"verify {self.model} on {self.where}, {n} input(s):",
            f"  vs numpy int8 reference: {exact}  [{'ok' if self.exact else 'FAIL'}]",
            f"  vs float model (onnxruntime): top-1 agreement {self.top1_agree}/{n}, cosine mean "
            f"{self.cosine.mean():.5f} (min {self.cosine.min():.5f}), max abs error {self.max_abs_error:.5g} "
            f"({self.max_abs_error / self.output_scale:.1f} LSB)  "
            f"[{'ok' if cos_ok else f'FAIL: mean cosine < {self.min_cosine}'}]",
            "PASS" if self.passed else "FAIL",
        ]
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
        if input_dtype in ("int8", "uint8"):
            info = np.iinfo(input_dtype)
            return rng.integers(info.min, info.max + 1, size=shape).astype(input_dtype)
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
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


def compare(y_int8: np.ndarray, y_ref: np.ndarray, y_float: np.ndarray, scale: float, zero_point: int) -> dict:
    """Byte and float comparisons of N outputs (any layout, the same for all three)."""
    n = len(y_int8)
    a, b = y_int8.reshape(n, -1), y_ref.reshape(n, -1)
    diff = np.argwhere(a != b)
    deq = (np.float32(scale) * (a.astype(np.float32) - np.float32(zero_point))).astype(np.float64)
    f = y_float.reshape(n, -1).astype(np.float64)
    norms = np.linalg.norm(deq, axis=1) * np.linalg.norm(f, axis=1)
    cosine = np.where(norms > 0, np.sum(deq * f, axis=1) / np.where(norms > 0, norms, 1.0),
                      np.where(np.all(deq == f, axis=1), 1.0, 0.0))
    return dict(bytes_total=int(a.size), bytes_different=int(len(diff)),
                first_difference=tuple(int(v) for v in diff[0]) if len(diff) else None,
                top1_agree=int(np.sum(np.argmax(deq, axis=1) == np.argmax(f, axis=1))),
                cosine=cosine, max_abs_error=float(np.max(np.abs(deq - f))))


def verify_model(model, target_name: str | None = "cortex-m7", board: str | None = None, inputs="10", seed: int = 0,
                 min_cosine: float = DEFAULT_MIN_COSINE, out_dir: Path | None = None, calib=None, observer="minmax",
                 mean=0.5, std=0.5, weights_in=None, arena_in=None, stack_bytes=DEFAULT_STACK_BYTES,
                 io_in_arena: bool = False, kernels: str = "auto", log=None) -> VerifyResult:
    target, board_ = resolve(target_name, board)
    placement = place(board_, weights_in, arena_in, stack_bytes)
    if target.kind == "mcu" and not board_.is_qemu:
        raise McuCompileError(f"verify runs the firmware in QEMU, and board {board_.name} is real hardware; "
                              f"verify on --target {target.name} (QEMU {target.default_board}) instead")
    graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, log=log)
    x = make_inputs(inputs, graph.meta["input_shape"], seed, graph.meta.get("input_dtype", "float32"))
    y_ref = simulate_graph(graph, x, raw=True, what="--inputs")
    y_float = float_reference(model, x, graph.tensor(graph.outputs[0]).qparams)
    with tempfile.TemporaryDirectory(prefix="mcucompile-verify-") as tmp:
        project = Path(out_dir) if out_dir else Path(tmp) / "project"
        build_from_graph(graph, target, project, board_, placement, compile_firmware=True, io_in_arena=io_in_arena,
                         kernels=kernels, log=log)
        y = run_project(project, x, raw=True, what="--inputs")
    if y_float.shape != y.shape:
        raise McuCompileError(f"onnxruntime gives outputs of shape {list(y_float.shape)}, the C {list(y.shape)}")
    q = graph.tensor(graph.outputs[0]).qparams
    where = f"{target.name} in QEMU {board_.qemu_machine}" if target.kind == "mcu" else target.name
    return VerifyResult(model=Path(model).name, where=where, inputs=len(x), output_scale=q.scalar_scale,
                        min_cosine=min_cosine, **compare(y, y_ref, y_float, q.scalar_scale, q.scalar_zero_point))
