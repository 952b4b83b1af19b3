"""Build the C kernels into a shared library and call them from numpy.

    from . import cbuild                        # from a test module in tests/
    lib = cbuild.load_runtime()                        # runtime_c/ref/*.c, cached under /tmp
    y = cbuild.conv(lib, x=x, w=w, bias=b, stride=(2, 2), pads=(0, 0, 1, 1), input_zp=-128, output_zp=3,
             multiplier=m, shift=s, act_min=-128, act_max=127)

The wrappers take exactly the keyword arguments of the numpy int8 references in mcucompile.ops
(conv2d_s8, depthwise_conv2d_s8, fully_connected_s8, avgpool_s8, softmax_s8), so one case dict
drives both sides. Each wrapper has an `fn=` argument naming the C function to call, so an
optimized variant with the same signature (say mcu_dwconv3x3_s8_dsp) runs on the same cases:
build it with load_runtime(dirs=("ref", "arm_dsp")), bind(lib, name, like=...), pass fn=name.

Libraries are cached in /tmp/mcucompile-cbuild/<hash>/ keyed by the compiler, the flags and the
bytes of every source and header, and written by atomic rename, so parallel test workers share
one build and a stale library is never loaded.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from ctypes import POINTER, Structure, c_float, c_int8, c_int16, c_int32
from pathlib import Path
from typing import Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "runtime_c"
CACHE = Path(tempfile.gettempdir()) / "mcucompile-cbuild"
CC = os.environ.get("CC", "gcc")
# The kernels' own contract (portable C99, warning-free) is enforced on every test build.
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC")
# Undefined-behaviour checks, float->int conversion included; report and carry on, so a test
# can read every report from stderr instead of losing the process.
SANITIZE_CFLAGS = ("-fsanitize=undefined", "-fsanitize=float-cast-overflow", "-fno-omit-frame-pointer", "-g")


# --- the C structs of mcu_nn.h ------------------------------------------------------------------

class McuShape(Structure):
    _fields_ = [("h", c_int32), ("w", c_int32), ("c", c_int32)]


class McuQuantIo(Structure):
    _fields_ = [("input_offset", c_int32), ("output_offset", c_int32), ("act_min", c_int32), ("act_max", c_int32)]


class McuChannelQuant(Structure):
    _fields_ = [("multiplier", POINTER(c_int32)), ("shift", POINTER(c_int32))]


class McuConvParams(Structure):
    _fields_ = [("kernel_h", c_int16), ("kernel_w", c_int16), ("stride_h", c_int16), ("stride_w", c_int16),
                ("pad_top", c_int16), ("pad_left", c_int16), ("io", McuQuantIo)]


class McuPoolParams(Structure):
    _fields_ = [("kernel_h", c_int16), ("kernel_w", c_int16), ("stride_h", c_int16), ("stride_w", c_int16),
                ("pad_top", c_int16), ("pad_left", c_int16), ("act_min", c_int32), ("act_max", c_int32)]


class McuSoftmaxParams(Structure):
    _fields_ = [("input_multiplier", c_int32), ("input_left_shift", c_int32), ("diff_min", c_int32)]


_P8, _P32, _PF = POINTER(c_int8), POINTER(c_int32), POINTER(c_float)
_CONV_ARGS = [POINTER(McuConvParams), POINTER(McuChannelQuant), McuShape, _P8, McuShape, _P8, _P32, _P8]

# Every public kernel of mcu_nn.h: name -> argtypes (all return void).
SIGNATURES: dict[str, list] = {
    "mcu_conv_s8_ref": _CONV_ARGS,
    "mcu_dwconv_s8_ref": _CONV_ARGS,
    "mcu_pwconv_s8_ref": _CONV_ARGS,
    "mcu_fc_s8_ref": [POINTER(McuQuantIo), POINTER(McuChannelQuant), c_int32, c_int32, _P8, _P8, _P32, _P8],
    "mcu_avgpool_s8_ref": [POINTER(McuPoolParams), McuShape, _P8, McuShape, _P8],
    "mcu_softmax_s8_ref": [POINTER(McuSoftmaxParams), c_int32, c_int32, _P8, _P8],
    "mcu_quantize_f32_s8": [_PF, _P8, c_int32, c_float, c_int32],
    "mcu_dequantize_s8_f32": [_P8, _PF, c_int32, c_float, c_int32],
}


# --- building ----------------------------------------------------------------------------------

def _compiler_id(cc: str) -> str:
    return subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def build_library(dirs: Sequence[str] = ("ref",), *, extra_cflags: Sequence[str] = (), sanitize: bool = False,
                  cc: str = CC) -> Path:
    """Compile runtime_c/<dir>/*.c for each dir into one shared library; return its (cached) path.

    Raises subprocess.CalledProcessError carrying the compiler's messages if the build fails.
    """
    sources = sorted(p for d in dirs for p in (RUNTIME / d).glob("*.c"))
    if not sources:
        raise FileNotFoundError(f"no C sources under {[str(RUNTIME / d) for d in dirs]}")
    headers = sorted((RUNTIME / "include").glob("*.h"))
    flags = list(CFLAGS) + list(extra_cflags) + (list(SANITIZE_CFLAGS) if sanitize else [])
    key = hashlib.sha256()
    for part in [_compiler_id(cc), *flags]:
        key.update(part.encode() + b"\0")
    for path in sources + headers:
        key.update(str(path.relative_to(RUNTIME)).encode() + b"\0" + path.read_bytes() + b"\0")
    out_dir = CACHE / key.hexdigest()[:20]
    lib = out_dir / "libmcu_runtime.so"
    if lib.exists():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".build-{os.getpid()}.so"
    cmd = [cc, *flags, "-shared", "-I", str(RUNTIME / "include"), *map(str, sources), "-o", str(tmp)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)
    os.replace(tmp, lib)  # atomic: a concurrent reader sees the whole library or none
    return lib


def bind(lib: ctypes.CDLL, name: str, like: str | None = None):
    """Return lib.<name> with argtypes set, taking them from kernel `like` (default: name itself)."""
    fn = getattr(lib, name)
    fn.argtypes = SIGNATURES[like or name]
    fn.restype = None
    return fn


def load_runtime(dirs: Sequence[str] = ("ref",), *, extra_cflags: Sequence[str] = (), sanitize: bool = False,
                 cc: str = CC) -> ctypes.CDLL:
    """Build (or reuse) the library and load it with argtypes set for every kernel it exports."""
    lib = ctypes.CDLL(str(build_library(dirs, extra_cflags=extra_cflags, sanitize=sanitize, cc=cc)))
    for name in SIGNATURES:
        if hasattr(lib, name):
            bind(lib, name)
    return lib


# --- numpy-friendly wrappers -------------------------------------------------------------------

def _array(a, dtype, name: str) -> np.ndarray:
    """a as a C-contiguous array of exactly `dtype`; refuses to convert silently (an int64 array
    passed as int8 data would wrap without a word)."""
    a = np.asarray(a)
    if a.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype).name}, got {a.dtype}")
    return np.ascontiguousarray(a)


def _per_channel(values, channels: int, name: str) -> np.ndarray:
    """Per-channel int32 parameters; a scalar is repeated for every channel."""
    v = np.asarray(values, dtype=np.int64)
    v = np.broadcast_to(v, (channels,)) if v.ndim == 0 else v.reshape(-1)
    if v.shape != (channels,) or v.min() < -(1 << 31) or v.max() >= (1 << 31):
        raise ValueError(f"{name} must be {channels} int32 values, got {values!r}")
    return np.ascontiguousarray(v, dtype=np.int32)


def _ptr(a: np.ndarray | None, ctype):
    return None if a is None else a.ctypes.data_as(POINTER(ctype))


def _quant(multiplier, shift, channels: int):
    m, s = _per_channel(multiplier, channels, "multiplier"), _per_channel(shift, channels, "shift")
    return McuChannelQuant(_ptr(m, c_int32), _ptr(s, c_int32)), (m, s)  # (m, s) keeps the buffers alive


def _io(input_zp: int, output_zp: int, act_min: int, act_max: int) -> McuQuantIo:
    return McuQuantIo(-int(input_zp), int(output_zp), int(act_min), int(act_max))


def _out_size(size: int, kernel: int, stride: int, before: int, after: int) -> int:
    return (size + before + after - kernel) // stride + 1


def _window_call(lib, fn: str, x, w, bias, kh: int, kw: int, cout: int, stride, pads, input_zp, output_zp,
                 multiplier, shift, act_min, act_max) -> np.ndarray:
    x = _array(x, np.int8, "x")
    w = _array(w, np.int8, "w")
    b = None if bias is None else _array(bias, np.int32, "bias")
    h, wd, cin = x.shape
    sh, sw = map(int, stride)
    top, left, bottom, right = map(int, pads)
    out = np.empty((_out_size(h, kh, sh, top, bottom), _out_size(wd, kw, sw, left, right), cout), dtype=np.int8)
    params = McuConvParams(kh, kw, sh, sw, top, left, _io(input_zp, output_zp, act_min, act_max))
    q, _keep = _quant(multiplier, shift, cout)
    getattr(lib, fn)(ctypes.byref(params), ctypes.byref(q), McuShape(h, wd, cin), _ptr(x, c_int8),
                     McuShape(*out.shape), _ptr(w, c_int8), _ptr(b, c_int32), _ptr(out, c_int8))
    return out


def conv(lib, *, x, w, bias, stride, pads, input_zp, output_zp, multiplier, shift, act_min, act_max,
         fn: str = "mcu_conv_s8_ref") -> np.ndarray:
    """x [H, W, Cin] int8, w [Cout, kh, kw, Cin] int8, bias [Cout] int32 or None,
    stride (sh, sw), pads (top, left, bottom, right) -> [Ho, Wo, Cout] int8."""
    cout, kh, kw, _ = np.shape(w)
    return _window_call(lib, fn, x, w, bias, kh, kw, cout, stride, pads, input_zp, output_zp, multiplier, shift,
                        act_min, act_max)


def depthwise(lib, *, x, w, bias, stride, pads, input_zp, output_zp, multiplier, shift, act_min, act_max,
              fn: str = "mcu_dwconv_s8_ref") -> np.ndarray:
    """x [H, W, C] int8, w [kh, kw, C] int8, bias [C] int32 or None -> [Ho, Wo, C] int8."""
    kh, kw, c = np.shape(w)
    return _window_call(lib, fn, x, w, bias, kh, kw, c, stride, pads, input_zp, output_zp, multiplier, shift,
                        act_min, act_max)


def pointwise(lib, *, x, w, bias, input_zp, output_zp, multiplier, shift, act_min, act_max, stride=(1, 1),
              pads=(0, 0, 0, 0), fn: str = "mcu_pwconv_s8_ref") -> np.ndarray:
    """1x1 convolution: x [H, W, Cin], w [Cout, Cin] or [Cout, 1, 1, Cin] -> [H, W, Cout].
    Takes stride and pads so a conv case dict fits, but they must be the unit ones."""
    if tuple(stride) != (1, 1) or tuple(pads) != (0, 0, 0, 0):
        raise ValueError(f"pointwise kernels take stride (1, 1) and no padding, got {stride} and {pads}")
    w = np.asarray(w)
    w = w.reshape(w.shape[0], w.shape[-1])
    return _window_call(lib, fn, x, w, bias, 1, 1, w.shape[0], (1, 1), (0, 0, 0, 0), input_zp, output_zp,
                        multiplier, shift, act_min, act_max)


def fully_connected(lib, *, x, w, bias, input_zp, output_zp, multiplier, shift, act_min, act_max,
                    fn: str = "mcu_fc_s8_ref") -> np.ndarray:
    """x [N] int8, w [Out, N] int8, bias [Out] int32 or None -> [Out] int8."""
    x = _array(x, np.int8, "x").reshape(-1)
    w = _array(w, np.int8, "w")
    b = None if bias is None else _array(bias, np.int32, "bias")
    n_out, n_in = w.shape
    out = np.empty(n_out, dtype=np.int8)
    io = _io(input_zp, output_zp, act_min, act_max)
    q, _keep = _quant(multiplier, shift, n_out)
    getattr(lib, fn)(ctypes.byref(io), ctypes.byref(q), n_in, n_out, _ptr(x, c_int8), _ptr(w, c_int8),
                     _ptr(b, c_int32), _ptr(out, c_int8))
    return out


def avgpool(lib, *, x, kernel, stride, pads, act_min, act_max, fn: str = "mcu_avgpool_s8_ref") -> np.ndarray:
    """x [H, W, C] int8, kernel (kh, kw), stride (sh, sw), pads (top, left, bottom, right) -> [Ho, Wo, C] int8."""
    x = _array(x, np.int8, "x")
    h, w, c = x.shape
    kh, kw = map(int, kernel)
    sh, sw = map(int, stride)
    top, left, bottom, right = map(int, pads)
    out = np.empty((_out_size(h, kh, sh, top, bottom), _out_size(w, kw, sw, left, right), c), dtype=np.int8)
    params = McuPoolParams(kh, kw, sh, sw, top, left, int(act_min), int(act_max))
    getattr(lib, fn)(ctypes.byref(params), McuShape(h, w, c), _ptr(x, c_int8), McuShape(*out.shape),
                     _ptr(out, c_int8))
    return out


def softmax(lib, x, input_multiplier: int, input_left_shift: int, diff_min: int,
            fn: str = "mcu_softmax_s8_ref") -> np.ndarray:
    """x [rows, depth] int8 -> [rows, depth] int8 (output scale 1/256, zero point -128)."""
    x = _array(x, np.int8, "x")
    rows, depth = x.shape
    out = np.empty_like(x)
    params = McuSoftmaxParams(int(input_multiplier), int(input_left_shift), int(diff_min))
    getattr(lib, fn)(ctypes.byref(params), rows, depth, _ptr(x, c_int8), _ptr(out, c_int8))
    return out


def quantize(lib, x, scale: float, zero_point: int) -> np.ndarray:
    """float32 array -> int8 array of the same shape."""
    x = _array(x, np.float32, "x")
    out = np.empty(x.shape, dtype=np.int8)
    lib.mcu_quantize_f32_s8(_ptr(x, c_float), _ptr(out, c_int8), x.size, float(scale), int(zero_point))
    return out


def dequantize(lib, q, scale: float, zero_point: int) -> np.ndarray:
    """int8 array -> float32 array of the same shape."""
    q = _array(q, np.int8, "q")
    out = np.empty(q.shape, dtype=np.float32)
    lib.mcu_dequantize_s8_f32(_ptr(q, c_int8), _ptr(out, c_float), q.size, float(scale), int(zero_point))
    return out
