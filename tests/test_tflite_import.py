""".tflite import and the int8 MEAN, against TFLite Micro's interpreter and TFLite's reference kernels.

* MEAN over H and W: the numpy reference (mcucompile/ops/mean.py) and the C kernel
  (runtime_c/ref/mcu_mean_s8_ref.c) byte for byte against TFLite Micro on models written here, with
  equal and with different input/output parameters, several H x W and channel counts, extreme zero points.
* Op variety on models written here (tests/tflite_builder.py): PAD folded into a convolution, TFLite's
  SAME padding on odd and even sizes, depthwise, average pool, RESHAPE both ways, FULLY_CONNECTED on a
  4-D input, fused RELU / RELU6 / RELU_N1_TO_1, QUANTIZE/DEQUANTIZE edges, a uint8 model (TFLite's
  reference kernels), a float model (calibrated: numpy and host C agree).
* The real models in ../shared/models: person detection, ImageNet MobileNetV1 uint8, and the digits
  network (int8 and float in/out), byte for byte with the outputs TFLite Micro / TFLite give, on the
  host and in QEMU.
* Refusals: one line naming the operator index and opcode (or the file or tensor), also through the CLI.
"""
from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, c_int8, c_int32
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mcucompile.build import build_project
from mcucompile.compiler import compile_graph
from mcucompile.errors import McuCompileError, ModelLoadError
from mcucompile.frontend import import_model
from mcucompile.ops.mean import mean_params
from mcucompile.reference import run_int8
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph

from . import cbuild
from .firmware_tools import mcucompile, need
from .tflite_builder import TfliteBuilder

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS, IMAGES = SHARED / "models", SHARED / "images"
PERSON = MODELS / "person_detect.tflite"
IMAGENET = MODELS / "mobilenet_v1_0.25_128_quant.tflite"
IMAGENET_ONNX = MODELS / "mobilenet_v1_0.25_128_quant.onnx"
DIGITS = MODELS / "digits_keras_int8.tflite"
DIGITS_FLOATIO = MODELS / "digits_keras_int8_floatio.tflite"
DIGITS_EXPECTED = IMAGES / "digits_keras_expected.npz"
# TFLite Micro's outputs for its two example images (class 0 = no person, 1 = person).
PERSON_EXPECTED = {"person_gray96_uint8.npy": [-113, 113], "no_person_gray96_uint8.npy": [77, -77]}
PHOTOS = ("cat.bmp", "grace_hopper.bmp", "dragonfly.bmp")
SAME, VALID = 0, 1
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3


def _need_shared(*paths: Path) -> None:
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found under {SHARED} (the shared models folder beside the checkout)")


def _write(tmp_path: Path, model: bytes, name: str = "model.tflite") -> Path:
    path = tmp_path / name
    path.write_bytes(model)
    return path


# --- references ------------------------------------------------------------------------------

def tflm_outputs(model: bytes, xs: np.ndarray) -> np.ndarray:
    """TFLite Micro's interpreter on every sample of xs (each [H, W, C] or [F])."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="the tflite-micro package (pip install tflite-micro) is not installed")
    interpreter = runtime.Interpreter.from_bytes(model)
    out = []
    for x in xs:
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        out.append(interpreter.get_output(0)[0].copy())
    return np.stack(out)


def tflite_reference_outputs(model: bytes | str, xs: np.ndarray) -> np.ndarray:
    """TFLite's reference kernels (BUILTIN_REF; the default XNNPACK path rounds differently); they run uint8."""
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="ai-edge-litert (pip install ai-edge-litert) is not installed")
    kind = {"model_path": model} if isinstance(model, str) else {"model_content": model}
    interpreter = litert.Interpreter(**kind, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    y = []
    for x in xs:
        interpreter.set_tensor(inp, x[None])
        interpreter.invoke()
        y.append(interpreter.get_tensor(out)[0].copy())
    return np.stack(y)


def random_int8(rng, shape, count: int) -> np.ndarray:
    """count seeded samples, the first two all -128 and all 127 (the sums' extremes)."""
    x = rng.integers(-128, 128, (count, *shape), dtype=np.int8)
    x[0], x[1] = -128, 127
    return x


# --- a chain of layers with random weights, written on a TfliteBuilder --------------------------

@dataclass
class Act:
    index: int
    shape: tuple
    scale: float
    zero_point: int


def _out_size(size: int, k: int, s: int, padding: int) -> int:
    return -(-size // s) if padding == SAME else -(-(size - k + 1) // s)


class Chain:
    """Layers appended one after the other; kind "int8" (per-channel weights), "uint8" (per-tensor
    weights with zero points, uint8 activations) or "float"."""

    def __init__(self, kind: str, seed: int = 0):
        self.b, self.kind, self.rng = TfliteBuilder(), kind, np.random.default_rng(seed)
        self.act_type = {"int8": "INT8", "uint8": "UINT8", "float": "FLOAT32"}[kind]

    def activation(self, shape, scale: float, zero_point: int, type_: str | None = None) -> Act:
        type_ = type_ or self.act_type
        if type_ == "FLOAT32":
            return Act(self.b.tensor(shape, "FLOAT32"), tuple(shape), 0.0, 0)
        return Act(self.b.tensor(shape, type_, scale=scale, zero_point=zero_point), tuple(shape), scale, zero_point)

    def _out(self, shape, x: Act, w_scales, taps: int, act: int = NONE) -> Act:
        """An output whose int8 range covers about +-3 standard deviations of a sum of `taps` products
        (inputs and weights spread about 70 and 60 steps around their zero points), or the bounded
        activation's range where that is narrower."""
        scale = 0.0
        if self.kind != "float":
            scale = x.scale * float(np.max(w_scales)) * 70 * 60 * np.sqrt(taps) / 40
            scale = float(np.float32(min(scale, {RELU6: 6 / 255, RELU_N1_TO_1: 2 / 255}.get(act, scale))))
        zp = int(self.rng.integers(-20, 20)) + (128 if self.kind == "uint8" else 0)
        return self.activation(shape, scale, zp)

    def _weights(self, shape, axis: int, scale: float = 0.01):
        """(tensor index, per-channel scales), the scales in [scale / 2, 2 * scale]."""
        if self.kind == "float":
            return self.b.tensor(shape, "FLOAT32", data=self.rng.normal(0, 0.3, shape)), None
        if self.kind == "uint8":
            scale = float(np.float32(self.rng.uniform(scale / 2, 2 * scale)))
            zp = int(self.rng.integers(100, 156))
            data = self.rng.integers(0, 256, shape)
            return self.b.tensor(shape, "UINT8", data=data, scale=scale, zero_point=zp), np.array([scale], np.float32)
        scales = self.rng.uniform(scale / 2, 2 * scale, shape[axis]).astype(np.float32)
        data = self.rng.integers(-127, 128, shape)
        return self.b.tensor(shape, "INT8", data=data, scale=scales, zero_point=[0] * shape[axis], axis=axis), scales

    def _bias(self, x: Act, w_scales, channels: int):
        if self.kind == "float":
            return self.b.tensor([channels], "FLOAT32", data=self.rng.normal(0, 0.5, channels))
        scales = (np.float32(x.scale) * w_scales).astype(np.float32)
        return self.b.tensor([channels], "INT32", data=self.rng.integers(-3000, 3000, channels), scale=scales,
                             zero_point=[0] * scales.size)

    def conv(self, x: Act, cout: int, k: int, stride: int = 1, padding: int = SAME, act: int = NONE,
             depthwise: bool = False) -> Act:
        _, h, w, cin = x.shape
        cout = cin if depthwise else cout
        shape = [1, k, k, cout] if depthwise else [cout, k, k, cin]
        wt, w_scales = self._weights(shape, 3 if depthwise else 0)
        bias = self._bias(x, w_scales, cout)
        taps = k * k * (1 if depthwise else cin)
        y = self._out((1, _out_size(h, k, stride, padding), _out_size(w, k, stride, padding), cout), x, w_scales,
                      taps, act)
        options = dict(Padding=padding, StrideW=stride, StrideH=stride, FusedActivationFunction=act)
        if depthwise:
            self.b.op("DEPTHWISE_CONV_2D", [x.index, wt, bias], [y.index], "DepthwiseConv2DOptions",
                      DepthMultiplier=1, **options)
        else:
            self.b.op("CONV_2D", [x.index, wt, bias], [y.index], "Conv2DOptions", **options)
        return y

    def fc(self, x: Act, cout: int, act: int = NONE, logits: bool = False, keep_num_dims: bool = False) -> Act:
        """logits: weights small enough for real outputs of about +-2, so that a softmax after it is not one-hot;
        keep_num_dims on a [1, 1, 1, F] input gives [1, 1, 1, cout]."""
        features = int(np.prod(x.shape))
        scale = 2.0 / (x.scale * 70 * 60 * np.sqrt(features)) if logits and self.kind != "float" else 0.01
        wt, w_scales = self._weights([cout, features], 0, scale)
        bias = self._bias(x, w_scales, cout)
        y = self._out((1, 1, 1, cout) if keep_num_dims else (1, cout), x, w_scales, features)
        self.b.op("FULLY_CONNECTED", [x.index, wt, bias], [y.index], "FullyConnectedOptions",
                  FusedActivationFunction=act, KeepNumDims=keep_num_dims)
        return y

    def same_params(self, x: Act, shape) -> Act:
        return self.activation(shape, x.scale, x.zero_point)

    def pool(self, x: Act, k: int, stride: int, padding: int) -> Act:
        _, h, w, c = x.shape
        y = self.same_params(x, (1, _out_size(h, k, stride, padding), _out_size(w, k, stride, padding), c))
        self.b.op("AVERAGE_POOL_2D", [x.index], [y.index], "Pool2DOptions", Padding=padding, StrideW=stride,
                  StrideH=stride, FilterWidth=k, FilterHeight=k, FusedActivationFunction=NONE)
        return y

    def reshape(self, x: Act, shape) -> Act:
        y = self.same_params(x, tuple(shape))
        target = self.b.tensor([len(shape)], "INT32", data=np.array(shape))
        self.b.op("RESHAPE", [x.index, target], [y.index])
        return y

    def pad(self, x: Act, top: int, bottom: int, left: int, right: int) -> Act:
        _, h, w, c = x.shape
        y = self.same_params(x, (1, h + top + bottom, w + left + right, c))
        paddings = self.b.tensor([4, 2], "INT32", data=np.array([[0, 0], [top, bottom], [left, right], [0, 0]]))
        self.b.op("PAD", [x.index, paddings], [y.index], "PadOptions")
        return y

    def mean(self, x: Act, keep_dims: bool, out_scale: float, out_zp: int) -> Act:
        c = x.shape[3]
        y = self.activation((1, 1, 1, c) if keep_dims else (1, c), out_scale, out_zp)
        axes = self.b.tensor([2], "INT32", data=np.array([1, 2]))
        self.b.op("MEAN", [x.index, axes], [y.index], "ReducerOptions", KeepDims=keep_dims)
        return y

    def softmax(self, x: Act) -> Act:
        y = self.activation(x.shape, 1.0 / 256, {"int8": -128, "uint8": 0, "float": 0}[self.kind])
        self.b.op("SOFTMAX", [x.index], [y.index], "SoftmaxOptions", Beta=1.0)
        return y

    def quantize(self, x: Act, scale: float, zero_point: int) -> Act:
        y = self.activation(x.shape, scale, zero_point, "INT8")
        self.b.op("QUANTIZE", [x.index], [y.index])
        return y

    def dequantize(self, x: Act) -> Act:
        y = self.activation(x.shape, 0.0, 0, "FLOAT32")
        self.b.op("DEQUANTIZE", [x.index], [y.index])
        return y

    def build(self, x: Act, y: Act) -> bytes:
        return self.b.build([x.index], [y.index])


# --- MEAN: numpy and C against TFLite Micro -----------------------------------------------------

class McuMeanParams(Structure):
    _fields_ = [("input_offset", c_int32), ("output_offset", c_int32), ("multiplier", c_int32), ("shift", c_int32)]


def c_mean(lib, x: np.ndarray, input_zp: int, output_zp: int, multiplier: int, shift: int) -> np.ndarray:
    fn = lib.mcu_mean_s8_ref
    fn.argtypes = [POINTER(McuMeanParams), cbuild.McuShape, POINTER(c_int8), POINTER(c_int8)]
    fn.restype = None
    x = np.ascontiguousarray(x, dtype=np.int8)
    out = np.empty(x.shape[2], dtype=np.int8)
    params = McuMeanParams(-input_zp, output_zp, multiplier, shift)
    fn(ctypes.byref(params), cbuild.McuShape(*x.shape), x.ctypes.data_as(POINTER(c_int8)),
       out.ctypes.data_as(POINTER(c_int8)))
    return out


@pytest.fixture(scope="module")
def lib():
    return cbuild.load_runtime()


# (h, w, c, input scale, input zp, output scale, output zp, keep_dims)
MEAN_CASES = [
    (1, 1, 8, 0.05, -3, 0.05, -3, True),       # equal parameters, a single value: the identity
    (2, 2, 3, 0.05, -3, 0.05, -3, True),       # equal parameters, count 4 (a power of two)
    (3, 3, 16, 0.0235294, -128, 0.0235294, -128, False),
    (7, 7, 5, 0.1, 10, 0.1, 10, True),         # count 49
    (5, 4, 17, 0.02, 127, 0.02, 127, False),   # extreme zero point
    (1, 1, 4, 0.05, 0, 0.0123, -7, False),     # different parameters
    (2, 2, 8, 0.0392, -128, 0.0051, 127, True),  # extreme zero points, output scale well below the input's
    (3, 3, 3, 0.01, 127, 0.09, -128, True),    # output scale far above the input's
    (7, 7, 32, 0.0221571, -128, 0.0133, -100, False),
    (5, 4, 1, 0.3, 64, 0.25, -64, True),
    (6, 6, 12, 0.05, -1, 0.05000001, -1, True),  # nearly, not exactly, equal scales
]


@pytest.mark.parametrize("h, w, c, in_scale, in_zp, out_scale, out_zp, keep", MEAN_CASES)
def test_mean_numpy_and_c_equal_tflite_micro(tmp_path, lib, h, w, c, in_scale, in_zp, out_scale, out_zp, keep):
    chain = Chain("int8")
    x = chain.activation((1, h, w, c), in_scale, in_zp)
    model = chain.build(x, chain.mean(x, keep, out_scale, out_zp))
    xs = random_int8(np.random.default_rng(h * 100 + w * 10 + c), (h, w, c), 12)
    expected = tflm_outputs(model, xs)
    graph = compile_graph(_write(tmp_path, model), check=True)
    np.testing.assert_array_equal(simulate_graph(graph, xs, raw=True), expected)
    node = graph.nodes[0]
    assert node.op == "mean"
    got_c = np.stack([c_mean(lib, s, in_zp, out_zp, node.attrs["multiplier"], node.attrs["shift"]) for s in xs])
    np.testing.assert_array_equal(got_c, expected.reshape(len(xs), c))


def test_mean_params_fold_the_count_as_tflite_micro():
    # Equal scales: QuantizeMultiplier(1.0) = (2^30, 1); count 4: s = 2, 2^32 / 4 = 2^30, shift 1 - 2 = -1.
    assert mean_params(0.05, 0.05, 4) == (1 << 30, -1)
    # count 3: s = 1, (2^30 << 1) // 3 = 715827882 (truncated), shift 0.
    assert mean_params(0.05, 0.05, 3) == (715827882, 0)
    # count 1 is the requantization alone.
    assert mean_params(0.05, 0.05, 1) == (1 << 30, 1)
    # A tiny ratio 2^-30 = 2^30 * 2^(-29 - 31): shift -29, so s = min(log2 16, 31 - 29) = 2: (2^28, -31).
    assert mean_params(2.0 ** -30, 1.0, 16) == (1 << 28, -31)
    # The int32 sum less the zero point holds 255 * count: at most 8421504 values.
    assert mean_params(0.05, 0.1, 8421504) == ((1 << 30 << 23) // 8421504, -23)
    with pytest.raises(McuCompileError, match="at most 8,421,504"):
        mean_params(0.05, 0.1, 8421505)


def _mean_model(keep_dims: bool) -> bytes:
    """conv -> MEAN (keep_dims false) -> FC -> SOFTMAX, or conv -> MEAN (keep_dims true) as the 4-D output."""
    chain = Chain("int8", seed=3)
    x = chain.activation((1, 9, 9, 3), 0.02, -5)
    y = chain.conv(x, 16, 3, 2, SAME, RELU6)
    y = chain.mean(y, keep_dims, y.scale * 0.7, -90)
    if not keep_dims:
        y = chain.softmax(chain.fc(y, 6, logits=True))
    return chain.build(x, y)


def _check_mean_model(tmp_path: Path, target: str, keep_dims: bool) -> None:
    model = _mean_model(keep_dims)
    xs = random_int8(np.random.default_rng(5), (9, 9, 3), 6)
    expected = tflm_outputs(model, xs)
    assert len({row.tobytes() for row in expected}) > 3  # the inputs give varied outputs
    build_project(_write(tmp_path, model), target, tmp_path / "project")
    np.testing.assert_array_equal(run_project(tmp_path / "project", xs, raw=True), expected)


@pytest.mark.parametrize("keep_dims", [False, True])
def test_mean_model_on_the_host_equals_tflite_micro(tmp_path, keep_dims):
    _check_mean_model(tmp_path, "host", keep_dims)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_mean_model_on_cortex_m7_in_qemu_equals_tflite_micro(tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    _check_mean_model(tmp_path, "cortex-m7", keep_dims=False)


# --- op variety ----------------------------------------------------------------------------------

def _variety_int8() -> tuple[bytes, tuple]:
    """PAD (uneven) into a VALID conv; SAME depthwise/conv/pool on odd and even sizes; RESHAPE to [1, F] and
    back to [1, 1, 1, F]; FULLY_CONNECTED on [1, F] and on a 4-D input (keep_num_dims); RELU, RELU6,
    RELU_N1_TO_1; SOFTMAX."""
    chain = Chain("int8", seed=11)
    x = chain.activation((1, 10, 10, 3), 1 / 255, -128)
    y = chain.pad(x, top=1, bottom=2, left=2, right=1)          # -> 13x13, folded: pads (1, 2, 2, 1)
    y = chain.conv(y, 8, 3, 1, VALID, RELU)                      # -> 11x11
    y = chain.conv(y, 0, 3, 2, SAME, RELU6, depthwise=True)      # odd 11 -> 6: pads 1 / 1
    y = chain.conv(y, 12, 3, 2, SAME, RELU_N1_TO_1)              # even 6 -> 3: pads 0 / 1
    y = chain.conv(y, 0, 3, 1, SAME, NONE, depthwise=True)       # 3 -> 3
    y = chain.pool(y, 2, 2, SAME)                                # odd 3 -> 2: pads 0 / 1, not counted
    y = chain.reshape(y, (1, 48))
    y = chain.fc(y, 16, RELU)
    y = chain.reshape(y, (1, 1, 1, 16))
    y = chain.fc(y, 10, logits=True, keep_num_dims=True)         # FULLY_CONNECTED on [1, 1, 1, 16] -> [1, 1, 1, 10]
    y = chain.softmax(chain.reshape(y, (1, 10)))
    return chain.build(x, y), (10, 10, 3)


def test_op_variety_equals_tflite_micro_in_numpy_and_on_the_host(tmp_path):
    model, shape = _variety_int8()
    xs = random_int8(np.random.default_rng(1), shape, 16)
    expected = tflm_outputs(model, xs)
    assert len({row.tobytes() for row in expected}) > 8
    path = _write(tmp_path, model)
    graph = compile_graph(path, check=True)
    assert [n.op for n in graph.nodes] == ["conv2d", "depthwise_conv2d", "conv2d", "depthwise_conv2d", "avg_pool",
                                           "reshape", "fully_connected", "reshape", "reshape", "fully_connected",
                                           "reshape", "reshape", "softmax"]
    assert graph.nodes[0].attrs["pads"] == (1, 2, 2, 1)
    assert graph.nodes[1].attrs["pads"] == (1, 1, 1, 1) and graph.nodes[2].attrs["pads"] == (0, 0, 1, 1)
    assert graph.nodes[4].attrs["pads"] == (0, 0, 1, 1)
    np.testing.assert_array_equal(simulate_graph(graph, xs, raw=True), expected)
    build_project(path, "host", tmp_path / "project")
    np.testing.assert_array_equal(run_project(tmp_path / "project", xs, raw=True), expected)


def test_float_edges_give_tflite_micro_float_outputs(tmp_path):
    """float input -> QUANTIZE -> int8 core -> DEQUANTIZE -> float output: the model's interface is float."""
    chain = Chain("int8", seed=21)
    x = chain.activation((1, 8, 8, 2), 0.0, 0, "FLOAT32")
    q = chain.quantize(x, 1 / 255, -128)
    y = chain.conv(q, 8, 3, 2, SAME, RELU6)
    y = chain.mean(y, False, y.scale * 0.5, -60)
    y = chain.dequantize(chain.softmax(chain.fc(y, 5, logits=True)))
    model = chain.build(x, y)
    xs = np.random.default_rng(4).uniform(0, 1, (8, 8, 8, 2)).astype(np.float32)
    expected = tflm_outputs(model, xs)
    assert expected.dtype == np.float32
    path = _write(tmp_path, model)
    graph = compile_graph(path)
    assert graph.meta["input_dtype"] == graph.meta["output_dtype"] == "float32" and graph.meta["qdq"]
    assert np.array_equal(simulate_graph(graph, xs), expected)
    build_project(path, "host", tmp_path / "project")
    assert np.array_equal(run_project(tmp_path / "project", xs), expected)


def test_uint8_model_equals_tflite_reference_kernels(tmp_path):
    """uint8 activations, per-tensor uint8 weights with zero points, a uint8 softmax (zero point 0)."""
    chain = Chain("uint8", seed=31)
    x = chain.activation((1, 9, 9, 3), 1 / 128, 128)
    y = chain.conv(x, 8, 3, 2, SAME, RELU6)
    y = chain.conv(y, 0, 3, 1, SAME, RELU6, depthwise=True)
    y = chain.conv(y, 10, 1, 1, VALID, NONE)
    y = chain.pool(y, 5, 1, VALID)
    y = chain.softmax(chain.reshape(y, (1, 10)))
    model = chain.build(x, y)
    xs = np.random.default_rng(6).integers(0, 256, (10, 9, 9, 3), dtype=np.uint8)
    expected = tflite_reference_outputs(model, xs)
    path = _write(tmp_path, model)
    graph = compile_graph(path, check=True)
    assert graph.meta["uint8"] and any(n.attrs.get("weight_zp") for n in graph.nodes)
    build_project(path, "host", tmp_path / "project")
    got = run_project(tmp_path / "project", xs, raw=True)  # uint8 inputs as they are; int8 out = uint8 - 128
    np.testing.assert_array_equal(got.astype(np.int16) + 128, expected)
    np.testing.assert_array_equal(simulate_graph(graph, xs, raw=True), got)


def test_float_model_compiles_with_calibration_and_the_host_equals_numpy(tmp_path):
    chain = Chain("float", seed=41)
    x = chain.activation((1, 8, 8, 3), 0.0, 0)
    y = chain.pad(x, 1, 1, 1, 1)
    y = chain.conv(y, 8, 3, 2, VALID, RELU6)
    y = chain.conv(y, 0, 3, 1, SAME, RELU, depthwise=True)
    y = chain.mean(y, False, 0.0, 0)
    y = chain.softmax(chain.fc(y, 4, logits=True))
    path = _write(tmp_path, chain.build(x, y))
    graph = import_model(path)
    assert "qdq" not in graph.meta and graph.meta["input_dtype"] == "float32"
    # A float mean over H and W is a global average pool (then a flatten), as for ONNX's ReduceMean.
    assert [n.op for n in graph.nodes] == ["conv2d", "depthwise_conv2d", "avg_pool", "reshape",
                                           "fully_connected", "softmax"]
    assert graph.nodes[0].attrs["pads"] == (1, 1, 1, 1) and graph.tensor(graph.nodes[0].inputs[1]).dtype == "float32"
    xs = np.random.default_rng(8).uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32)
    compiled = compile_graph(path, calib="random", check=True)
    expected = simulate_graph(compiled, xs, raw=True)
    build_project(path, "host", tmp_path / "project", calib="random")
    np.testing.assert_array_equal(run_project(tmp_path / "project", xs, raw=True), expected)
    assert len({row.tobytes() for row in expected}) > 3


# --- the shared models -----------------------------------------------------------------------------

def _person_images() -> np.ndarray:
    return np.stack([(np.load(IMAGES / name).astype(np.int16) - 128).astype(np.int8).reshape(96, 96, 1)
                     for name in PERSON_EXPECTED])


def test_person_detect_tflite_gives_tflite_micro_outputs(tmp_path):
    _need_shared(PERSON, IMAGES)
    x = _person_images()
    assert simulate_graph(compile_graph(PERSON, check=True), x, raw=True).tolist() == list(PERSON_EXPECTED.values())
    build_project(PERSON, "host", tmp_path / "project")
    assert run_project(tmp_path / "project", x, raw=True).tolist() == list(PERSON_EXPECTED.values())


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_person_detect_tflite_on_cortex_m7_in_qemu(tmp_path):
    _need_shared(PERSON, IMAGES)
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    build_project(PERSON, "cortex-m7", tmp_path / "project")
    assert run_project(tmp_path / "project", _person_images(), raw=True).tolist() == list(PERSON_EXPECTED.values())


def _photos() -> np.ndarray:
    from PIL import Image

    out = []
    for name in PHOTOS:
        with Image.open(IMAGES / name) as im:
            out.append(np.asarray(im.convert("RGB").resize((128, 128), Image.BILINEAR), dtype=np.uint8))
    return np.stack(out)


def test_imagenet_uint8_tflite_equals_tflite_reference_kernels_and_its_onnx_twin(tmp_path):
    _need_shared(IMAGENET, IMAGENET_ONNX, IMAGES)
    x_u8 = np.concatenate([_photos(), np.random.default_rng(7).integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)])
    expected = tflite_reference_outputs(str(IMAGENET), x_u8)
    build_project(IMAGENET, "host", tmp_path / "project")
    y = run_project(tmp_path / "project", x_u8, raw=True)
    np.testing.assert_array_equal(y.astype(np.int16) + 128, expected)  # uint8 out = int8 + 128
    graph = compile_graph(IMAGENET, check=True)
    np.testing.assert_array_equal(simulate_graph(graph, x_u8, raw=True), y)
    np.testing.assert_array_equal(simulate_graph(compile_graph(IMAGENET_ONNX), x_u8, raw=True), y)


def _digits():
    _need_shared(DIGITS, DIGITS_FLOATIO, DIGITS_EXPECTED)
    with np.load(DIGITS_EXPECTED) as z:
        return {k: z[k] for k in z.files}


def _op_output_names(path: Path) -> list[str]:
    """The output tensor name of every operator, in TFLite's order (read with the `tflite` package)."""
    import tflite

    g = tflite.Model.GetRootAs(path.read_bytes(), 0).Subgraphs(0)
    return [g.Tensors(g.Operators(k).Outputs(0)).Name().decode() for k in range(g.OperatorsLength())]


def test_digits_int8_equals_tflite_micro_per_op_and_on_the_host(tmp_path):
    z = _digits()
    graph = compile_graph(DIGITS, check=True)
    np.testing.assert_array_equal(simulate_graph(graph, z["x_int8_nhwc"], raw=True), z["tflm_int8_out"])
    trace = {}
    run_int8(graph, z["x_int8_nhwc"][:1], trace=trace)
    ops = sorted(k for k in z if k.startswith("tflm_img0_op"))
    names = _op_output_names(DIGITS)
    assert len(ops) == len(names) == 18
    for key, name in zip(ops, names):  # every IR tensor has TFLite's NHWC shape, batch included
        assert trace[name].shape == z[key].shape, key
        np.testing.assert_array_equal(trace[name], z[key], err_msg=key)
    build_project(DIGITS, "host", tmp_path / "project")
    np.testing.assert_array_equal(run_project(tmp_path / "project", z["x_int8_nhwc"], raw=True), z["tflm_int8_out"])


def test_digits_float_io_equals_tflite_micro_on_the_host(tmp_path):
    z = _digits()
    build_project(DIGITS_FLOATIO, "host", tmp_path / "project")
    y = run_project(tmp_path / "project", z["x_float01_nhwc"])
    assert y.dtype == np.float32 and np.array_equal(y, z["tflm_floatio_out"])
    np.testing.assert_array_equal(run_project(tmp_path / "project", z["x_float01_nhwc"], raw=True), z["tflm_int8_out"])


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_digits_int8_and_float_io_on_cortex_m7_in_qemu(tmp_path):
    z = _digits()
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    build_project(DIGITS, "cortex-m7", tmp_path / "int8")
    np.testing.assert_array_equal(run_project(tmp_path / "int8", z["x_int8_nhwc"], raw=True), z["tflm_int8_out"])
    build_project(DIGITS_FLOATIO, "cortex-m7", tmp_path / "floatio")
    y = run_project(tmp_path / "floatio", z["x_float01_nhwc"])
    assert np.array_equal(y, z["tflm_floatio_out"])
    np.testing.assert_array_equal(run_project(tmp_path / "floatio", z["x_float01_nhwc"], raw=True),
                                  z["tflm_int8_out"])


# --- refusals --------------------------------------------------------------------------------------

def _conv_chain(kind: str = "int8"):
    chain = Chain(kind, seed=51)
    x = chain.activation((1, 6, 6, 3), 0.02, -3)
    return chain, x, chain.conv(x, 4, 3, 1, SAME, RELU)


def _unsupported_opcode():
    chain, x, y = _conv_chain()
    z = chain.same_params(y, y.shape)
    other = chain.b.tensor(y.shape, "INT8", data=np.ones(y.shape), scale=y.scale, zero_point=y.zero_point)
    chain.b.op("ADD", [y.index, other], [z.index], "AddOptions")
    return chain.build(x, z)


def _two_subgraphs():
    chain, x, y = _conv_chain()
    return chain.b.build([x.index], [y.index], subgraphs=2)


def _two_inputs():
    chain, x, y = _conv_chain()
    x2 = chain.activation((1, 6, 6, 3), 0.02, -3)
    return chain.b.build([x.index, x2.index], [y.index])


def _branch():
    chain, x, y = _conv_chain()
    chain.conv(y, 4, 1)  # a second reader of y, whose output goes nowhere
    return chain.build(x, chain.conv(y, 4, 1))


def _int16_activation():
    chain, x, y = _conv_chain()
    z = chain.activation(y.shape, y.scale, 0, "INT16")
    chain.b.op("AVERAGE_POOL_2D", [y.index], [z.index], "Pool2DOptions", Padding=SAME, StrideW=1, StrideH=1,
               FilterWidth=1, FilterHeight=1)
    return chain.build(x, z)


def _zero_scale():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.0, -3)  # scale 0
    return chain.build(x, chain.conv(x, 4, 3))


def _zero_point_out_of_range():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 200)
    return chain.build(x, chain.conv(x, 4, 3))


def _scale_count():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 0)
    w = chain.b.tensor([4, 3, 3, 3], "INT8", data=np.ones((4, 3, 3, 3)), scale=[0.01] * 3, zero_point=[0] * 3)
    y = chain.activation((1, 6, 6, 4), 0.05, 0)
    chain.b.op("CONV_2D", [x.index, w, -1], [y.index], "Conv2DOptions", Padding=SAME, StrideW=1, StrideH=1)
    return chain.build(x, y)


def _wrong_channel_axis():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 0)
    w = chain.b.tensor([4, 3, 3, 3], "INT8", data=np.ones((4, 3, 3, 3)), scale=[0.01] * 3, zero_point=[0] * 3,
                       axis=3)
    y = chain.activation((1, 6, 6, 4), 0.05, 0)
    chain.b.op("CONV_2D", [x.index, w, -1], [y.index], "Conv2DOptions", Padding=SAME, StrideW=1, StrideH=1)
    return chain.build(x, y)


def _bias_scale_mismatch():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 0)
    w = chain.b.tensor([4, 1, 1, 3], "INT8", data=np.ones((4, 1, 1, 3)), scale=[0.01] * 4, zero_point=[0] * 4)
    b = chain.b.tensor([4], "INT32", data=np.zeros(4), scale=[0.0002] * 3 + [0.0003], zero_point=[0] * 4)
    y = chain.activation((1, 6, 6, 4), 0.05, 0)
    chain.b.op("CONV_2D", [x.index, w, b], [y.index], "Conv2DOptions", Padding=VALID, StrideW=1, StrideH=1)
    return chain.build(x, y)


def _dilation():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 0)
    w = chain.b.tensor([4, 3, 3, 3], "INT8", data=np.ones((4, 3, 3, 3)), scale=[0.01] * 4, zero_point=[0] * 4)
    y = chain.activation((1, 6, 6, 4), 0.05, 0)
    chain.b.op("CONV_2D", [x.index, w, -1], [y.index], "Conv2DOptions", Padding=SAME, StrideW=1, StrideH=1,
               DilationWFactor=2, DilationHFactor=2)
    return chain.build(x, y)


def _pad_before_pool():
    chain = Chain("int8")
    x = chain.activation((1, 6, 6, 3), 0.02, 0)
    return chain.build(x, chain.pool(chain.pad(x, 1, 1, 1, 1), 2, 2, VALID))


def _softmax_beta():
    chain, x, y = _conv_chain()
    flat = chain.reshape(y, (1, 144))
    z = chain.activation((1, 144), 1 / 256, -128)
    chain.b.op("SOFTMAX", [flat.index], [z.index], "SoftmaxOptions", Beta=2.0)
    return chain.build(x, z)


def _mean_over_channels():
    chain, x, y = _conv_chain()
    z = chain.activation((1, 6, 6, 1), y.scale, y.zero_point)
    axes = chain.b.tensor([1], "INT32", data=np.array([3]))
    chain.b.op("MEAN", [y.index, axes], [z.index], "ReducerOptions", KeepDims=True)
    return chain.build(x, z)


def _truncated():
    return _variety_int8()[0][:2000]


def _garbage_with_identifier():
    rng = np.random.default_rng(99)
    return b"\x10\x00\x00\x00TFL3" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes()


# (model factory, text the one-line error must hold)
REFUSALS = [
    (_unsupported_opcode, "operator 1 (ADD): not supported; supported: CONV_2D, DEPTHWISE_CONV_2D"),
    (_two_subgraphs, "2 subgraphs; exactly one is supported"),
    (_two_inputs, "2 inputs and 1 outputs"),
    (_branch, "operator 2 (CONV_2D): reads 't"),
    (_int16_activation, "(operator 1 (AVERAGE_POOL_2D)): type INT16 is not supported"),
    (_zero_scale, "tensor 0 't0': scale [0] is not finite and positive"),
    (_zero_point_out_of_range, "tensor 0 't0': zero point [200] lies outside INT8 [-128, 127]"),
    (_scale_count, "3 per-axis scales on axis 0 of shape [4, 3, 3, 3]"),
    (_wrong_channel_axis, "per-channel parameters on axis 3, not the output-channel axis 0"),
    (_bias_scale_mismatch, "operator 0 (CONV_2D): bias scale [0.0002, 0.0002, 0.0002, 0.0003] is not input scale"),
    (_dilation, "operator 0 (CONV_2D): dilation [2, 2] is not supported"),
    (_pad_before_pool, "operator 0 (PAD): only a PAD read by a CONV_2D or DEPTHWISE_CONV_2D"),
    (_softmax_beta, "operator 2 (SOFTMAX): beta 2 is not supported"),
    (_mean_over_channels, "operator 1 (MEAN): a mean over axes [3]"),
    (_truncated, "not a readable TFLite model"),
    (_garbage_with_identifier, "not a readable TFLite model"),
]


@pytest.mark.parametrize("factory, needle", REFUSALS, ids=[f.__name__.strip("_") for f, _ in REFUSALS])
def test_refusals_name_the_operator_or_tensor_in_one_line(tmp_path, factory, needle):
    path = _write(tmp_path, factory())
    with pytest.raises(McuCompileError) as info:
        compile_graph(path, calib="random")
    message = str(info.value)
    assert needle in message and "\n" not in message, message
    assert message.startswith(f"{path}: "), message


def test_refusals_through_the_cli(tmp_path):
    for factory, needle in (REFUSALS[0], REFUSALS[3], REFUSALS[14], REFUSALS[15]):
        path = _write(tmp_path, factory(), f"{factory.__name__}.tflite")
        result = mcucompile("inspect", path)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
        assert needle in lines[0] and str(path) in lines[0], lines[0]


def test_truncated_and_garbage_files_are_model_load_errors(tmp_path):
    for factory in (_truncated, _garbage_with_identifier):
        with pytest.raises(ModelLoadError, match="not a readable TFLite model"):
            import_model(_write(tmp_path, factory()))
