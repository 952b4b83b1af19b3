"""The arrays a user gives `run`, `simulate`, `verify --inputs` and `--calib`: read and checked.

Files are .npy, or .npz (its array `x`, or its only array), told apart by their first bytes and
never unpickled: an object array or a pickle is refused, since unpickling runs code.

What an array means is decided here, once, by its dtype:
  * float32 / float64: real values, quantized later as TFLite quantizes the model's input;
  * int8: already quantized, the input of the int8 network (for any model);
  * uint8, for a model whose own input is uint8: its quantized input, moved to int8 by -128 as the
    compiler moved that model's zero points;
  * anything else (other integers, uint8 for another model, bool, float16, complex, strings,
    structured or object arrays) is refused, with the dtypes and shapes the model takes: an int16
    array might hold real values or a foreign quantization, and no guess is right for both.
Calibration takes real values only, and verify what onnxruntime runs the ONNX model on (real
values for a float input, the model's own integer type for a quantized one). The shape is the
model's own input, [N, ...] or one sample without N; float values must be finite in float32.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import McuCompileError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL = b"\x80"  # the first byte of a pickle of protocol 2 or later
REAL_DTYPES = ("float32", "float64")


def load_array(path: Path | str) -> np.ndarray:
    """The array of a .npy file or of a .npz archive (`x`, or its only array), without pickles."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
    except FileNotFoundError:
        raise McuCompileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise McuCompileError(f"{path}: a folder, not a .npy or .npz file") from None
    except OSError as exc:
        raise McuCompileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith(NPY_MAGIC):
        return _read(path, lambda: np.load(path, allow_pickle=False), ".npy")
    if head.startswith(ZIP_MAGIC):
        return _read(path, lambda: _npz_array(path), ".npz")
    if head.startswith(PICKLE_PROTOCOL):
        raise McuCompileError(f"{path}: a Python pickle; give a .npy or .npz array (pickles are never loaded: "
                              "unpickling runs code)")
    raise McuCompileError(f"{path}: not a .npy or .npz file" + (" (it is empty)" if not head else ""))


def _npz_array(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        if "x" in z.files:
            return z["x"]
        if len(z.files) == 1:
            return z[z.files[0]]
        raise McuCompileError(f"{path}: .npz holds {z.files}; name the inputs array 'x'")


def _read(path: Path, read, kind: str) -> np.ndarray:
    try:
        return read()
    except McuCompileError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise McuCompileError(f"{path}: an object array, which only unpickling could read; "
                                  "give numbers (unpickling runs code, so it is never done)") from None
        raise McuCompileError(f"{path}: truncated or damaged {kind} file ({_first_line(exc)})") from None
    except (EOFError, OSError, zipfile.BadZipFile, KeyError) as exc:
        raise McuCompileError(f"{path}: truncated or damaged {kind} file ({_first_line(exc)})") from None
    except MemoryError as exc:  # numpy allocates what the header claims before it reads the data
        raise McuCompileError(f"{path}: truncated or damaged {kind} file (its header describes an array too large "
                              f"to load: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_dtypes(input_dtype: str) -> tuple[str, ...]:
    """What `run` and `simulate` take for a model whose own input is `input_dtype`: real values, the
    int8 network's input, and a uint8 model's own uint8."""
    return REAL_DTYPES + ("int8",) + (("uint8",) if input_dtype == "uint8" else ())


def check_array(x, input_shape: list[int], what: str, dtypes: tuple[str, ...], taker: str = "this model") -> np.ndarray:
    """x as [N, ...model layout], unchanged, or refused in one line naming `what` (and `taker`,
    who takes `dtypes`)."""
    x = np.asarray(x)
    sample = tuple(input_shape[1:])
    takes = (f"{taker} takes {_describe_dtypes(dtypes)} of shape "
             f"[N, {', '.join(map(str, sample))}] or [{', '.join(map(str, sample))}]")
    if x.dtype.name not in dtypes or x.dtype.names:
        raise McuCompileError(f"{what}: {_describe_dtype(x.dtype)} array; {takes}")
    if x.shape == sample:
        x = x[None]
    if x.shape[1:] != sample:
        raise McuCompileError(f"{what}: shape {list(x.shape)} does not match the model input; {takes}")
    if len(x) == 0:
        raise McuCompileError(f"{what}: an empty array (shape {list(x.shape)}); give at least one sample")
    if x.dtype.kind == "f":
        with np.errstate(over="ignore"):  # float64 beyond float32's range turns infinite: refused too
            bad = ~np.isfinite(x.astype(np.float32))
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise McuCompileError(f"{what}: {int(bad.sum())} value(s) NaN, infinite or beyond float32 "
                                  f"(the first at index {list(first)}: {float(x[first])!r})")
    return x


def _describe_dtypes(dtypes: tuple[str, ...]) -> str:
    real = [d for d in dtypes if d in REAL_DTYPES]
    parts = ([f"{'/'.join(real)} (real values)"] if real else []) + \
            [f"{d} (quantized)" for d in dtypes if d not in REAL_DTYPES]
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]


def _describe_dtype(dtype: np.dtype) -> str:
    if dtype.names:
        return f"structured ({', '.join(dtype.names)})"
    return "object" if dtype.kind == "O" else str(dtype)


def model_layout_to_nhwc(x, input_shape: list[int], layout: str, what: str, input_dtype: str = "float32",
                         dtypes: tuple[str, ...] | None = None, taker: str = "this model") -> np.ndarray:
    """[N, ...model layout] or one sample -> [N, H, W, C]: float32 real values, or int8 quantized.

    dtypes: what is accepted (default: run_dtypes(input_dtype)); a uint8 model's uint8 array is
    moved to int8 (q - 128)."""
    x = check_array(x, input_shape, what, run_dtypes(input_dtype) if dtypes is None else dtypes, taker)
    if x.dtype == np.uint8:
        x = (x.astype(np.int16) - 128).astype(np.int8)
    elif x.dtype != np.int8:
        x = x.astype(np.float32)
    return x.transpose(0, 2, 3, 1) if layout == "NCHW" else x
