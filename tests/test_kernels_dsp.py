"""Cortex-M DSP-extension kernels (runtime_c/arm_dsp): byte-identical with the numpy reference.

Host part: the per-channel records and the numpy model of the short requantization sequence equal
mcucompile's reference requantization over edge cases. QEMU part: a plan of small networks, each
layer a DSP variant (odd sizes, channel counts not multiples of 4, stride 1/2, asymmetric padding,
1 and 3 input channels), run on every DSP target and compared byte for byte with the simulation.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph, quantize_input
from mcucompile.ir.graph import QParams
from mcucompile.kernels.arm_dsp import MAX_RIGHT, channel_records, requantize_dsp
from mcucompile.project.fit import place
from mcucompile.run import run_nhwc
from mcucompile.quant.calibration import model_layout_to_nhwc
from mcucompile.quant.fixedpoint import requantize
from mcucompile.simulate import simulate_graph
from mcucompile.targets import resolve

from .firmware_tools import need

# cortex-m55 has the DSP extension too, but "auto" picks its Helium variants there (tests of their own).
DSP_TARGETS = ["cortex-m4", "cortex-m7", "cortex-m33"]

# (name, input channels, size (h, w), layers, forced); a layer is
# ("conv", out_c, k, stride, pads[t, l, b, r]) | ("dw", k, stride, pads) | ("pw", out_c) | ("fc", out);
# forced: {compute layer index: (output zero point, act_min, act_max)} written into the quantized
# graph, for zero points and clamps calibration does not give (extremes, narrower than int8);
# layer -1 is the graph input (its zero point only).
# Paths covered: 3x3 depthwise interior and border windows (stride 1 and 2, asymmetric padding,
# whole-border 3x3 images), c % 4 tails, a 5x5 depthwise (general path), pointwise with k4 % 8 of
# 0 and 4 and k4 = 4, odd pixel counts and odd out_c, conv with 1, 3 and 4 input channels.
PLAN = [
    ("rgb_odd", 3, (13, 11), [("conv", 6, 3, 2, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 10),
                              ("dw", 3, 2, [0, 0, 1, 1]), ("pw", 7), ("fc", 5)]),
    ("gray_asym", 1, (9, 10), [("conv", 5, 3, 2, [0, 1, 1, 0]), ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 13),
                               ("dw", 3, 1, [1, 0, 0, 1]), ("pw", 9)]),
    ("wide", 3, (8, 8), [("conv", 16, 3, 1, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 20),
                         ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 3), ("fc", 2)]),
    ("extreme_zp", 4, (7, 6), [("conv", 8, 3, 1, [1, 1, 1, 1]), ("dw", 5, 1, [2, 2, 2, 2]), ("pw", 12),
                               ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 6), ("dw", 3, 1, [1, 1, 1, 1]), ("fc", 3)]),
]
FORCED = {
    "extreme_zp": {-1: (127, None, None), 0: (-128, -128, 127), 1: (127, -128, 127), 2: (-128, -100, 90),
                   3: (100, 0, 127), 4: (-128, -128, 127), 5: (127, -128, 127), 6: (-128, -128, 10)},
    "rgb_odd": {-1: (-128, None, None), 1: (-3, -3, 127)},
}


def _model(path, channels, size, layers, seed):
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    c, (h, w), x = channels, size, "x"
    for i, layer in enumerate(layers):
        y = f"t{i}"
        kind = layer[0]
        if kind == "fc":
            if not nodes or nodes[-1].op_type != "Flatten":
                nodes.append(helper.make_node("GlobalAveragePool", [x], [f"{y}p"], name=f"pool{i}"))
                nodes.append(helper.make_node("Flatten", [f"{y}p"], [f"{y}f"], name=f"flat{i}"))
                x = f"{y}f"
            inits += [numpy_helper.from_array(rng.normal(0, 0.3, (layer[1], c)).astype(np.float32), f"w{i}"),
                      numpy_helper.from_array(rng.normal(0, 0.1, layer[1]).astype(np.float32), f"b{i}")]
            nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"fc{i}", transB=1))
            c, x = layer[1], y
            out_shape = [1, c]
            continue
        if kind == "conv":
            _, oc, k, s, pads = layer
            group = 1
        elif kind == "dw":
            _, k, s, pads = layer
            oc, group = c, c
        else:
            oc, k, s, pads, group = layer[1], 1, 1, [0, 0, 0, 0], 1
        wshape = (oc, c // group, k, k)
        scale = 1.0 / np.sqrt(k * k * c / group)
        inits += [numpy_helper.from_array(rng.normal(0, scale, wshape).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.2, oc).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"{y}c"], name=f"conv{i}", kernel_shape=[k, k],
                                      strides=[s, s], pads=pads, group=group))
        nodes.append(helper.make_node("Relu" if i % 2 else "Identity", [f"{y}c"], [y], name=f"act{i}"))
        h = (h + pads[0] + pads[2] - k) // s + 1
        w = (w + pads[1] + pads[3] - k) // s + 1
        c, x = oc, y
        out_shape = [1, c, h, w]
    graph = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                              [1, channels, *size])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, out_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _force(graph, forced):
    """Write the forced zero points and clamps into the quantized graph (see FORCED)."""
    compute = [n for n in graph.nodes if n.op in ("conv2d", "depthwise_conv2d", "fully_connected")]
    for index, (zp, act_min, act_max) in forced.items():
        tensor = graph.tensor(graph.inputs[0] if index < 0 else compute[index].outputs[0])
        tensor.qparams = QParams.per_tensor(tensor.qparams.scalar_scale, zp)
        if index >= 0:
            compute[index].attrs["act_min"], compute[index].attrs["act_max"] = act_min, act_max


def test_fast_requantization_equals_the_reference():
    rng = np.random.default_rng(3)
    for shift in list(range(-12, 3)) + [-MAX_RIGHT]:
        for multiplier in (1 << 30, (1 << 31) - 1, 1518500250, 0):
            w = rng.integers(-127, 128, (1, 5))
            bias = np.array([rng.integers(-5000, 5000)])
            # Output zero points at both ends of int8 (they join the rounding constant).
            for zp, lo, hi in ((0, -128, 127), (-128, -128, 127), (127, -128, 127), (-5, 0, 20), (-128, -128, -100)):
                records, scale = channel_records(w, bias, 0, multiplier, shift, zp)
                bound = (1 << 30) // int(scale[0]) - 1
                acc = np.concatenate([np.arange(-300, 300), rng.integers(-bound, bound, 20000),
                                      [bound, -bound, 1 << (-shift - 1) if shift < 0 else 1]]).astype(np.int64)
                # Exact ties of the second rounding, both signs, at every step of 2^right.
                if shift < 0:
                    acc = np.concatenate([acc, (np.arange(-50, 50) * 2 + 1) << (-shift - 1)])
                got = requantize_dsp(acc * scale[0], records[0], lo, hi)
                want = requantize(acc, np.int64(multiplier), np.int64(shift), zp, lo, hi)
                np.testing.assert_array_equal(got, want, err_msg=f"shift {shift} multiplier {multiplier} zp {zp}")


def test_records_refuse_what_the_fast_sequence_cannot_do_exactly():
    w = np.full((1, 4), 127)
    assert channel_records(w, np.array([0]), 0, 1 << 30, -1, 0) is not None
    assert channel_records(w, np.array([(1 << 29) - 128 * 4 * 127]), 0, 1 << 30, -1, 0) is None  # |acc| * 2 = 2^30
    assert channel_records(w, np.array([0]), 0, 1 << 30, -MAX_RIGHT - 1, 0) is None  # right shift too large
    assert channel_records(w, np.array([0]), 0, 1 << 30, 8, 0) is None  # 127 * 2^9 leaves int16
    records, scale = channel_records(w, np.array([100]), -128, 1 << 30, -3, -7)
    assert list(scale) == [2]
    assert list(records[0]) == [2 * (100 + 128 * 4 * 127), 1 << 30, 8 - 7 * 16, 4]
    records, scale = channel_records(w, np.array([100]), 0, 1 << 30, 2, 5)
    assert list(scale) == [8] and list(records[0]) == [800, 1 << 30, 1 + 5 * 2, 1]


def plan_case(tmp_path, name, channels, size, layers, model_seed, data_seed, forced, adjust=None):
    """One plan entry (also test_kernels_dsp_int8's) -> (graph, 4 quantized NHWC inputs, their 4
    reference outputs from the simulation, NHWC rows). adjust(graph) runs after `_force`."""
    model = _model(tmp_path / f"{name}.onnx", channels, size, layers, seed=model_seed)
    rng = np.random.default_rng(data_seed)
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((8, channels, *size)).astype(np.float32))
    graph = compile_graph(model, calib=str(calib))
    _force(graph, forced)
    if adjust is not None:
        adjust(graph)
    x = rng.standard_normal((4, channels, *size)).astype(np.float32) * 1.5
    x_nhwc = model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], "x")
    xq = quantize_input(graph, x_nhwc)
    reference = simulate_graph(graph, x, raw=True)
    if reference.ndim == 4:  # the simulation answers in the model's NCHW; the firmware writes NHWC
        reference = reference.transpose(0, 2, 3, 1)
    reference = reference.reshape(4, -1)
    assert len({row.tobytes() for row in reference}) > 1  # the inputs tell the outputs apart
    return graph, xq, reference


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, layers", PLAN, ids=[p[0] for p in PLAN])
def test_dsp_kernels_equal_numpy_reference(tmp_path, name, channels, size, layers):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    graph, xq, reference = plan_case(tmp_path, name, channels, size, layers, model_seed=len(name), data_seed=11,
                                     forced=FORCED.get(name, {}))
    # The default (int8 weights for conv, pointwise and FC) on every DSP target; the int16-weight
    # kernels (--kernels arm-dsp-int16) on one.
    for target_name, kernel_set in [(t, "auto") for t in DSP_TARGETS] + [("cortex-m7", "arm-dsp-int16")]:
        target, board = resolve(target_name, None)
        project = tmp_path / f"{target_name}-{kernel_set}"
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True,
                                  kernels=kernel_set)
        kernels = [l["kernel"] for l in report["layers"] if l["op"] != "avg_pool"]
        assert all("_dsp" in k for k in kernels) and len(kernels) == len(layers), kernels
        if kernel_set == "arm-dsp-int16":
            assert {k for k in kernels if "dwconv" not in k} <= {"mcu_conv_s8_dsp", "mcu_pwconv_s8_dsp"}, kernels
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(4, -1), reference, err_msg=f"{name} on {target_name}, {kernel_set}")
