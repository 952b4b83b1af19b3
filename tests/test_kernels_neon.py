"""AArch64 NEON kernels (runtime_c/neon): byte-identical with the numpy int8 reference under qemu-aarch64.

Two parts:
- the vector requantization of runtime_c/include/mcu_neon.h (SSHL, SQRDMULH, SSRA, SRSHL), emulated
  instruction by instruction in numpy, against fixedpoint.py over every shift and the int32 edges;
- one shared plan of layers (odd sizes, channel counts not multiples of 8 or 16, strides 1 and 2,
  asymmetric paddings, zero points -128 and 127, narrow clamps, 1- and 3-channel first convs, FC
  widths not multiples of 16, both average-pool roundings), each built by the compiler's own variant
  (mcucompile.kernels.neon) for cortex-a72 (baseline NEON) and cortex-a76 (with SDOT), run in one
  executable per family (tests/neon_harness.py) and compared with mcucompile.ops byte for byte.
Case data comes from a seeded generator at test time.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from mcucompile.ir import Graph, Node, QParams, Tensor
from mcucompile.kernels import LayerContext, neon, select
from mcucompile.ops import OPS
from mcucompile.ops._windows import conv_output_size
from mcucompile.quant.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier, wrap_int32
from mcucompile.targets import get_target

from .firmware_tools import need
from .neon_harness import layer_call, run_calls

# --- the requantization sequence, emulated ---------------------------------------------------------


def _sqrdmulh(a, b):
    """SQRDMULH (32-bit lanes): saturate((2ab + 2^31) >> 32)."""
    return np.clip((2 * np.asarray(a, np.int64) * np.asarray(b, np.int64) + (1 << 31)) >> 32, INT32_MIN, INT32_MAX)


def _srshl(x, n):
    """SRSHL by a register amount n <= 0: (x + 2^(-n-1)) >> -n, computed wide (no overflow); x for n = 0."""
    x, n = np.asarray(x, np.int64), np.asarray(n, np.int64)
    return np.where(n < 0, (x + (np.int64(1) << np.maximum(-n - 1, 0))) >> -n, x)


def neon_requantize(acc, multiplier, shift, right_only: bool):
    """mcu_neon_requantize on int32 lanes, as the kernels execute it."""
    acc = np.asarray(acc, np.int64)
    left, right = np.maximum(shift, 0), np.minimum(shift, 0)
    if right_only:
        v = _sqrdmulh(acc, multiplier)
        v = v + (v >> 31)  # SSRA v, v, #31
    else:
        v = _sqrdmulh(wrap_int32(acc << left), multiplier)  # SSHL wraps
        v = v + (wrap_int32(v & right) >> 31)  # SSRA v, (v AND right), #31
    return _srshl(v, right)


EDGES = np.array([INT32_MIN, INT32_MIN + 1, -(1 << 30), -12345, -3, -2, -1, 0, 1, 2, 3, 12345, 1 << 30,
                  INT32_MAX - 1, INT32_MAX], np.int64)


@pytest.mark.parametrize("shift", range(-31, 31))
def test_requantization_sequence_equals_the_reference(shift):
    rng = np.random.default_rng(shift + 100)
    # Every window of 2^|shift| consecutive accumulators around a few points holds ties of both signs.
    span = np.arange(-(1 << min(abs(shift), 12)) - 2, (1 << min(abs(shift), 12)) + 3, dtype=np.int64)
    acc = np.concatenate([EDGES, span, rng.integers(INT32_MIN, INT32_MAX, 4000, dtype=np.int64)])
    for multiplier in (1 << 30, (1 << 31) - 1, 1518500250, int(rng.integers(1 << 30, 1 << 31))):
        expected = multiply_by_quantized_multiplier(acc, multiplier, shift)
        np.testing.assert_array_equal(neon_requantize(acc, multiplier, shift, right_only=False), expected)
        if shift < 0:
            np.testing.assert_array_equal(neon_requantize(acc, multiplier, shift, right_only=True), expected)


# --- the shared plan --------------------------------------------------------------------------------

# ("pw", h, w, cin, cout) | ("fc", cin, cout) | ("dw", h, w, c, stride, pads) |
# ("conv", h, w, cin, cout, (kh, kw), stride, pads) | ("pool", h, w, c, (kh, kw), stride, pads, rounding);
# each with (input zero point, output zero point, act_min, act_max).
PLAN = [
    (("pw", 3, 5, 8, 16), (-128, 127, -128, 127)),
    (("pw", 1, 7, 13, 6), (127, -128, -128, 127)),
    (("pw", 3, 3, 17, 9), (5, -3, -20, 90)),
    (("pw", 2, 4, 64, 12), (-1, 0, -128, 127)),
    (("pw", 3, 3, 40, 40), (127, 127, 0, 127)),
    (("pw", 1, 6, 5, 24), (-128, -128, -128, 127)),
    (("pw", 1, 1, 1, 1), (0, 0, -128, 127)),
    (("fc", 256, 2), (-128, 3, -128, 127)),
    (("fc", 100, 3), (7, -128, -128, 127)),
    (("fc", 19, 33), (127, 0, -100, 100)),
    (("dw", 5, 7, 8, (1, 1), (1, 1, 1, 1)), (-128, 127, -128, 127)),
    (("dw", 6, 6, 13, (2, 2), (0, 0, 1, 1)), (127, -128, -128, 127)),
    (("dw", 7, 5, 3, (2, 2), (1, 1, 1, 1)), (3, 4, -128, 127)),
    (("dw", 9, 4, 20, (2, 1), (2, 0, 0, 2)), (-7, 9, -50, 127)),
    (("dw", 12, 11, 33, (2, 2), (1, 1, 1, 1)), (-128, -128, -128, 127)),
    (("dw", 1, 1, 5, (1, 1), (1, 1, 1, 1)), (127, 127, -128, 127)),
    (("dw", 4, 4, 16, (1, 1), (0, 0, 0, 0)), (0, 0, 0, 6)),
    (("conv", 13, 13, 3, 32, (3, 3), (2, 2), (0, 0, 1, 1)), (-128, 127, -128, 127)),
    (("conv", 9, 10, 1, 8, (3, 3), (2, 2), (1, 1, 1, 1)), (127, -128, -128, 127)),
    (("conv", 6, 11, 3, 7, (2, 5), (1, 2), (1, 2, 0, 1)), (5, 5, -128, 127)),
    (("conv", 9, 9, 7, 20, (3, 3), (1, 1), (1, 1, 1, 1)), (-128, 0, -30, 127)),
    (("pool", 3, 3, 16, (3, 3), (1, 1), (0, 0, 0, 0), "half_away"), (0, 0, -128, 127)),
    (("pool", 7, 7, 40, (7, 7), (1, 1), (0, 0, 0, 0), "half_away"), (0, 0, -128, 127)),
    (("pool", 5, 6, 9, (3, 3), (2, 2), (1, 1, 1, 1), "half_away"), (0, 0, -100, 100)),
    (("pool", 4, 4, 33, (2, 2), (2, 2), (0, 0, 0, 0), "half_up"), (0, 0, -128, 127)),
    (("pool", 3, 3, 20, (3, 3), (1, 1), (0, 0, 0, 0), "half_up"), (0, 0, -128, 127)),
]


def _multipliers(rng, n: int, taps: int):
    from mcucompile.quant.fixedpoint import quantize_multiplier

    # Outputs spread over the int8 range: the accumulators' spread is about sqrt(taps) * 128 * 73.
    real = 60.0 / (np.sqrt(taps) * 128 * 73) * rng.uniform(0.5, 2.0, n)
    pairs = [quantize_multiplier(float(r)) for r in real]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def _graph(case, rng, weight_low: int = -127):
    """A one-layer quantized graph for a plan case: (graph, node, int8 input [1, H, W, C])."""
    (kind, *shape), (zx, zy, lo, hi) = case
    if kind == "fc":
        cin, cout = shape
        x_shape, y_shape, w_shape, op = (1, cin), (1, cout), (cout, cin), "fully_connected"
        attrs, taps = {}, cin
    elif kind == "pool":
        h, w, c, k, stride, pads, rounding = shape
        ho, wo = conv_output_size(h, k[0], stride[0], pads[0], pads[2]), conv_output_size(w, k[1], stride[1], pads[1], pads[3])
        x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
        q = QParams.per_tensor(0.1, 0)
        tensors = {"x": Tensor("x", (1, h, w, c), "int8", qparams=q), "y": Tensor("y", (1, ho, wo, c), "int8", qparams=q)}
        node = Node("pool", "avg_pool", ["x"], ["y"], dict(kernel=k, strides=stride, pads=pads, act_min=lo, act_max=hi,
                                                            **({"rounding": "half_up"} if rounding == "half_up" else {})))
        return Graph(tensors, [node], ["x"], ["y"], quantized=True), node, x
    else:
        if kind == "pw":
            h, w, cin, cout = shape
            k, stride, pads = (1, 1), (1, 1), (0, 0, 0, 0)
        elif kind == "dw":
            h, w, cin, stride, pads = shape
            cout, k = cin, (3, 3)
        else:
            h, w, cin, cout, k, stride, pads = shape
        ho, wo = conv_output_size(h, k[0], stride[0], pads[0], pads[2]), conv_output_size(w, k[1], stride[1], pads[1], pads[3])
        x_shape, y_shape = (1, h, w, cin), (1, ho, wo, cout)
        op = "depthwise_conv2d" if kind == "dw" else "conv2d"
        w_shape = (3, 3, cin) if kind == "dw" else (cout, *k, cin)
        attrs, taps = dict(strides=stride, pads=pads), k[0] * k[1] * (1 if kind == "dw" else cin)
    x = rng.integers(-128, 128, x_shape).astype(np.int8)
    x.reshape(-1)[::7] = zx  # runs of the zero point: the folded bias must cancel them exactly
    weights = rng.integers(weight_low, 128, w_shape).astype(np.int8)
    bias = rng.integers(-30000, 30000, cout).astype(np.int32)
    multiplier, shift = _multipliers(rng, cout, taps)
    tensors = {"x": Tensor("x", x_shape, "int8", qparams=QParams.per_tensor(0.1, zx)),
               "w": Tensor("w", w_shape, "int8", data=weights), "b": Tensor("b", (cout,), "int32", data=bias),
               "y": Tensor("y", y_shape, "int8", qparams=QParams.per_tensor(0.1, zy))}
    node = Node(kind, op, ["x", "w", "b"], ["y"], dict(attrs, multiplier=multiplier, shift=shift, act_min=lo, act_max=hi))
    return Graph(tensors, [node], ["x"], ["y"], quantized=True), node, x


def _context(graph, node, target: str, index: int) -> LayerContext:
    return LayerContext(node=node, graph=graph, target=get_target(target), kernels="auto", index=index,
                        prefix=f"case{index}")


def _reference(graph, node, x):
    inputs = [x] + [graph.tensor(t).data for t in node.inputs[1:]]
    return OPS[node.op].run_int8(node, graph, inputs)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target", ["cortex-a72", "cortex-a76"])
def test_every_neon_variant_equals_the_reference(target, tmp_path):
    need("aarch64-linux-gnu-gcc", "qemu-aarch64")
    dotprod = get_target(target).has("dotprod")
    calls, expected, kernels = [], [], set()
    for i, case in enumerate(PLAN):
        rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
        # SDOT takes the whole int8 range; the baseline kernels (the depthwise one on every core) need
        # weights in [-127, 127], which is what int8 quantization gives.
        graph, node, x = _graph(case, rng, weight_low=-128 if dotprod and case[0][0] != "dw" else -127)
        layer = select(_context(graph, node, target, i))
        assert "_neon" in layer.kernel or "_sdot" in layer.kernel, (case, layer.kernel)
        kernels.add(layer.kernel)
        calls.append(layer_call(layer, f"x{i}", x))
        expected.append(_reference(graph, node, x))
    outputs = run_calls(calls, tmp_path / "neon", dotprod)
    for case, out, ref in zip(PLAN, outputs, expected):
        # The outputs spread (or equality would prove little), where there are enough of them.
        assert len(np.unique(ref)) > 2 or ref.size < 8, case
        np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(ref.shape), ref, err_msg=str(case))
    family = "sdot" if dotprod else "neon"
    assert {f"mcu_pwconv_s8_{family}", f"mcu_conv_small_s8_{family}", "mcu_dwconv3x3_s8_neon",
            "mcu_avgpool_s8_neon", "mcu_avgpool_s8_halfup_neon"} <= kernels


def test_baseline_kernels_leave_weights_of_minus_128_and_weight_zero_points_to_others():
    rng = np.random.default_rng(3)
    graph, node, _ = _graph((("pw", 2, 2, 16, 8), (0, 0, -128, 127)), rng, weight_low=-127)
    graph.tensor("w").data[0, 0, 0, 0] = -128  # two such products could overflow the kernels' int16 pair sums
    assert not neon.Conv(dotprod=False).applies(_context(graph, node, "cortex-a72", 0))
    assert select(_context(graph, node, "cortex-a72", 0)).kernel == "mcu_pwconv_s8_ref"
    assert select(_context(graph, node, "cortex-a76", 0)).kernel == "mcu_pwconv_s8_sdot"
    node.attrs["weight_zp"] = 5
    assert select(_context(graph, node, "cortex-a76", 0)).kernel == "mcu_pwconv_s8_wzp_ref"
