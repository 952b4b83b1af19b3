"""Pre-quantized (QDQ) models: uint8 -> int8 mapping, per-axis weight scales, and the kernels for
weights with a zero point (C against numpy, zero points at their extremes)."""
from __future__ import annotations

import ctypes
import zlib
from ctypes import POINTER, c_int8, c_int32

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.compiler import compile_graph
from mcucompile.ops.conv import conv2d_s8
from mcucompile.ops.depthwise import depthwise_conv2d_s8
from mcucompile.ops.fully_connected import fully_connected_s8
from mcucompile.passes.adopt_qdq import layer_multipliers
from mcucompile.quant.fixedpoint import quantize_multiplier, requantize
from mcucompile.reference import run_int8

from . import cbuild

# --- small QDQ models written here ---------------------------------------------------------------


def _const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _uint8_model(path, rng):
    """uint8 NHWC input -> Transpose -> 3x3 conv (uint8 weights, zero point 100) + ReLU6 -> 3x3 depthwise
    (zero point 3) -> average pool -> 1x1 conv -> reshape -> softmax, with a Q/DQ pair around every op."""
    nodes, inits = [], []

    def q(name, scale, zp, dtype=np.uint8):
        inits.extend([_const(f"{name}_s", np.float32(scale)), _const(f"{name}_z", dtype(zp))])
        return [f"{name}_s", f"{name}_z"]

    def qdq(x, name, scale, zp):
        params = q(name, scale, zp)
        nodes.append(helper.make_node("QuantizeLinear", [x] + params, [f"{name}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q"] + params, [f"{name}_dq"]))
        return f"{name}_dq"

    def weight(name, shape, scale, zp, in_scale):
        inits.append(_const(name, rng.integers(0, 256, shape, dtype=np.uint8)))
        nodes.append(helper.make_node("DequantizeLinear", [name] + q(f"{name}_p", scale, zp), [f"{name}_dq"]))
        bias = rng.integers(-2000, 2000, shape[0]).astype(np.int32)
        inits.append(_const(f"{name}_b", bias))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_b"] + q(f"{name}_bp", np.float32(in_scale) * np.float32(scale),
                                                                          0, np.int32), [f"{name}_bdq"]))
        return [f"{name}_dq", f"{name}_bdq"]

    nodes.append(helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]))
    nodes.append(helper.make_node("DequantizeLinear", ["nchw"] + q("in", 1 / 128, 128), ["x0"]))
    nodes.append(helper.make_node("Conv", ["x0"] + weight("w1", (4, 3, 3, 3), 0.02, 100, 1 / 128), ["c1"],
                                  pads=[1, 1, 1, 1], strides=[2, 2]))
    inits.extend([_const("zero", np.float32(0)), _const("six", np.float32(6))])
    nodes.append(helper.make_node("Clip", ["c1", "zero", "six"], ["r1"]))
    x1 = qdq("r1", "a1", 6 / 255, 0)
    nodes.append(helper.make_node("Conv", [x1] + weight("w2", (4, 1, 3, 3), 0.05, 3, 6 / 255), ["c2"],
                                  pads=[1, 1, 1, 1], group=4))
    x2 = qdq("c2", "a2", 0.1, 120)
    nodes.append(helper.make_node("AveragePool", [x2], ["p"], kernel_shape=[3, 3]))
    x3 = qdq("p", "a3", 0.1, 120)
    nodes.append(helper.make_node("Conv", [x3] + weight("w3", (5, 4, 1, 1), 0.01, 250, 0.1), ["c3"]))
    x4 = qdq("c3", "a4", 0.2, 130)
    inits.append(_const("flat", np.array([1, 5], dtype=np.int64)))
    nodes.append(helper.make_node("Reshape", [x4, "flat"], ["f"]))
    nodes.append(helper.make_node("Softmax", ["f"], ["sm"]))
    params = q("out", 1 / 256, 0)
    nodes.append(helper.make_node("QuantizeLinear", ["sm"] + params, ["output"]))
    graph = helper.make_graph(nodes, "uint8_qdq", [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 6, 6, 3])],
                              [helper.make_tensor_value_info("output", TensorProto.UINT8, [1, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _tflite_uint8_conv(x_u8, w_u8, bias, zx, zw, stride, pad):
    """The uint8 arithmetic written out plainly: sum over in-image taps of (x - zx) * (w - zw) + bias.
    x [H, W, Cin] uint8, w [Cout, Cin, kh, kw] uint8 (ONNX order)."""
    h, wd, _ = x_u8.shape
    cout, _, kh, kw = w_u8.shape
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    acc = np.zeros((ho, wo, cout), dtype=np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * stride - pad + ky, ox * stride - pad + kx
                    if 0 <= iy < h and 0 <= ix < wd:
                        acc[oy, ox] += (x_u8[iy, ix].astype(np.int64) - zx) @ (w_u8[:, :, ky, kx].astype(np.int64) - zw).T
    return acc + bias


def test_uint8_model_maps_to_int8_by_moving_zero_points(tmp_path):
    rng = np.random.default_rng(5)
    path = _uint8_model(tmp_path / "u8.onnx", rng)
    graph = compile_graph(path)
    model = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    inp = graph.tensor(graph.inputs[0])
    assert graph.meta["input_layout"] == "NHWC" and graph.meta["input_dtype"] == "uint8"
    assert inp.shape == (1, 6, 6, 3) and inp.qparams.scalar_zero_point == 0  # 128 - 128
    conv, dw = graph.nodes[0], graph.nodes[1]
    assert (conv.op, dw.op) == ("conv2d", "depthwise_conv2d")
    w = graph.tensor(conv.inputs[1])
    np.testing.assert_array_equal(w.data, (inits["w1"].astype(np.int16) - 128).transpose(0, 2, 3, 1))
    assert conv.attrs["weight_zp"] == 100 - 128 and dw.attrs["weight_zp"] == 3 - 128
    np.testing.assert_array_equal(graph.tensor(conv.inputs[2]).data, inits["w1_b"])
    # The ReLU6 output (zero point 0 in uint8) has int8 zero point -128, which is also its clamp.
    assert graph.tensor(conv.outputs[0]).qparams.scalar_zero_point == -128
    assert (conv.attrs["act_min"], conv.attrs["act_max"]) == (-128, 127)
    # uint8 layers take TFLite's float32 product of the input and weight scales.
    real = float(np.float32(np.float32(1 / 128) * np.float32(0.02))) / float(np.float32(6 / 255))
    assert (int(conv.attrs["multiplier"][0]), int(conv.attrs["shift"][0])) == quantize_multiplier(real)
    assert graph.nodes[2].attrs["rounding"] == "half_up"

    # The first layer in int8 equals the uint8 arithmetic written out plainly.
    x_u8 = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    trace = {}
    run_int8(graph, (x_u8.astype(np.int16) - 128).astype(np.int8)[None], trace)
    acc = _tflite_uint8_conv(x_u8, inits["w1"], inits["w1_b"], 128, 100, 2, 1)
    expected_u8 = requantize(acc, conv.attrs["multiplier"], conv.attrs["shift"], 0, 0, 255)
    np.testing.assert_array_equal(trace[conv.outputs[0]][0].astype(np.int16) + 128, expected_u8.astype(np.uint8))


def _per_axis_model(path, rng):
    """float NCHW input -> Q/DQ -> conv with int8 per-channel weights -> depthwise per-channel -> Q."""
    inits = [_const("s_in", np.float32(0.05)), _const("z_in", np.int8(-3)),
             _const("w1", rng.integers(-127, 128, (6, 2, 3, 3), dtype=np.int8)),
             _const("s_w1", rng.uniform(0.001, 0.01, 6).astype(np.float32)), _const("z_w1", np.zeros(6, np.int8)),
             _const("w2", rng.integers(-127, 128, (6, 1, 3, 3), dtype=np.int8)),
             _const("s_w2", rng.uniform(0.001, 0.01, 6).astype(np.float32)), _const("z_w2", np.zeros(6, np.int8)),
             _const("s_1", np.float32(0.03)), _const("z_1", np.int8(5)),
             _const("s_2", np.float32(0.04)), _const("z_2", np.int8(-7))]
    nodes = [helper.make_node("QuantizeLinear", ["input", "s_in", "z_in"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["x"]),
             helper.make_node("DequantizeLinear", ["w1", "s_w1", "z_w1"], ["w1d"], axis=0),
             helper.make_node("Conv", ["x", "w1d"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c1", "s_1", "z_1"], ["c1q"]),
             helper.make_node("DequantizeLinear", ["c1q", "s_1", "z_1"], ["c1d"]),
             helper.make_node("DequantizeLinear", ["w2", "s_w2", "z_w2"], ["w2d"], axis=0),
             helper.make_node("Conv", ["c1d", "w2d"], ["c2"], group=6),
             helper.make_node("QuantizeLinear", ["c2", "s_2", "z_2"], ["output"])]
    graph = helper.make_graph(nodes, "per_axis", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 7, 7])],
                              [helper.make_tensor_value_info("output", TensorProto.INT8, [1, 6, 5, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path, {t.name: numpy_helper.to_array(t) for t in inits}


def test_per_axis_scales_land_on_the_output_channel_axis(tmp_path):
    path, inits = _per_axis_model(tmp_path / "axis.onnx", np.random.default_rng(6))
    graph = compile_graph(path)
    assert graph.meta["input_layout"] == "NCHW" and graph.meta["input_dtype"] == "float32"
    assert (graph.tensor(graph.inputs[0]).qparams.scalar_scale, graph.tensor(graph.inputs[0]).qparams.scalar_zero_point) \
        == (np.float32(0.05), -3)
    conv, dw = graph.nodes
    w1, w2 = graph.tensor(conv.inputs[1]), graph.tensor(dw.inputs[1])
    assert w1.qparams.axis == 0 and w2.qparams.axis == 2 and w2.shape == (3, 3, 6)
    np.testing.assert_array_equal(w1.data, inits["w1"].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(w2.data, inits["w2"][:, 0].transpose(1, 2, 0))
    np.testing.assert_array_equal(w2.qparams.scale, inits["s_w2"])
    assert "weight_zp" not in conv.attrs and "weight_zp" not in dw.attrs
    m, s = layer_multipliers(0.03, w2.qparams, 0.04, 6, uint8=False)
    expected = [quantize_multiplier(float(np.float32(0.03)) * float(ws) / float(np.float32(0.04))) for ws in inits["s_w2"]]
    assert list(zip(m.tolist(), s.tolist())) == expected
    assert dw.attrs["multiplier"].tolist() == m.tolist()


# --- weight-zero-point kernels: C against numpy -----------------------------------------------------

_P8, _P32 = POINTER(c_int8), POINTER(c_int32)
_WZP_CONV = [POINTER(cbuild.McuConvParams), POINTER(cbuild.McuChannelQuant), c_int32, cbuild.McuShape, _P8,
             cbuild.McuShape, _P8, _P32, _P8]
_WZP_FC = [POINTER(cbuild.McuQuantIo), POINTER(cbuild.McuChannelQuant), c_int32, c_int32, c_int32, _P8, _P8, _P32, _P8]


@pytest.fixture(scope="module")
def lib():
    lib = cbuild.load_runtime()
    for name in ("mcu_conv_s8_wzp_ref", "mcu_dwconv_s8_wzp_ref", "mcu_pwconv_s8_wzp_ref"):
        getattr(lib, name).argtypes, getattr(lib, name).restype = _WZP_CONV, None
    lib.mcu_fc_s8_wzp_ref.argtypes, lib.mcu_fc_s8_wzp_ref.restype = _WZP_FC, None
    cbuild.bind(lib, "mcu_avgpool_s8_halfup_ref", like="mcu_avgpool_s8_ref")
    return lib


def _ptr(a, ctype):
    return None if a is None else a.ctypes.data_as(POINTER(ctype))


def _c_window(lib, fn, case, kh, kw, cout):
    x, w, b = case["x"], np.ascontiguousarray(case["w"]), case["bias"]
    h, wd, cin = x.shape
    (sh, sw), (top, left, bottom, right) = case["stride"], case["pads"]
    out = np.empty(((h + top + bottom - kh) // sh + 1, (wd + left + right - kw) // sw + 1, cout), dtype=np.int8)
    io = cbuild.McuQuantIo(-case["input_zp"], case["output_zp"], case["act_min"], case["act_max"])
    params = cbuild.McuConvParams(kh, kw, sh, sw, top, left, io)
    m, s = (np.ascontiguousarray(case[k], dtype=np.int32) for k in ("multiplier", "shift"))
    q = cbuild.McuChannelQuant(_ptr(m, c_int32), _ptr(s, c_int32))
    getattr(lib, fn)(ctypes.byref(params), ctypes.byref(q), -case["weight_zp"], cbuild.McuShape(h, wd, cin),
                     _ptr(x, c_int8), cbuild.McuShape(*out.shape), _ptr(w, c_int8), _ptr(b, c_int32), _ptr(out, c_int8))
    return out


# (H, W, Cin, Cout, kernel, stride, pads, input zero point, weight zero point)
WZP_PLAN = [
    (5, 7, 3, 8, (3, 3), (2, 2), (1, 1, 1, 1), -128, 127),
    (6, 6, 3, 5, (3, 3), (2, 2), (0, 0, 1, 1), 127, -128),
    (7, 5, 4, 3, (3, 3), (1, 1), (1, 1, 1, 1), 127, 127),
    (4, 4, 6, 7, (3, 3), (1, 1), (2, 2, 2, 2), -128, -128),
    (5, 5, 2, 3, (5, 5), (1, 1), (4, 0, 0, 4), 0, -28),
    (3, 4, 5, 6, (1, 1), (1, 1), (0, 0, 0, 0), -3, 100),
]


def _wzp_case(plan, depthwise=False):
    h, w, cin, cout, kernel, stride, pads, zx, zw = plan
    rng = np.random.default_rng(zlib.crc32(repr((plan, depthwise)).encode()))
    channels = cin if depthwise else cout
    wshape = (*kernel, cin) if depthwise else (cout, *kernel, cin)
    # The full int8 range (-128 included: uint8 0 - 128), and runs of extreme values.
    x = rng.choice(np.array([-128, 127, zx], np.int8), (h, w, cin)) if zx in (-128, 127) else \
        rng.integers(-128, 128, (h, w, cin), dtype=np.int8)
    weights = rng.integers(-128, 128, wshape, dtype=np.int8)
    weights.reshape(-1)[::3] = -128 if zw > 0 else 127  # w - zw at its extremes, +-255
    return dict(x=x, w=weights, bias=rng.integers(-(1 << 16), 1 << 16, channels).astype(np.int32),
                stride=stride, pads=pads, input_zp=zx, output_zp=int(rng.integers(-128, 128)),
                multiplier=rng.integers(1 << 30, 1 << 31, channels), shift=rng.integers(-16, -8, channels),
                act_min=-128, act_max=127, weight_zp=zw)


@pytest.mark.parametrize("plan", WZP_PLAN, ids=str)
def test_conv_with_weight_zero_point_c_matches_numpy(lib, plan):
    case = _wzp_case(plan)
    ref = conv2d_s8(**case)
    assert len(np.unique(ref)) > 3  # the outputs spread, or equality would prove little
    _, kh, kw, _ = case["w"].shape
    np.testing.assert_array_equal(_c_window(lib, "mcu_conv_s8_wzp_ref", case, kh, kw, case["w"].shape[0]), ref)
    if kh == kw == 1 and case["stride"] == (1, 1) and not any(case["pads"]):
        flat = dict(case, w=case["w"].reshape(case["w"].shape[0], -1))
        np.testing.assert_array_equal(_c_window(lib, "mcu_pwconv_s8_wzp_ref", flat, 1, 1, case["w"].shape[0]), ref)
    # A weight zero point of 0 must give exactly the plain reference.
    plain = dict(case, weight_zp=0)
    np.testing.assert_array_equal(conv2d_s8(**plain), conv2d_s8(**{k: v for k, v in plain.items() if k != "weight_zp"}))


@pytest.mark.parametrize("plan", WZP_PLAN, ids=str)
def test_depthwise_with_weight_zero_point_c_matches_numpy(lib, plan):
    case = _wzp_case(plan, depthwise=True)
    kh, kw, c = case["w"].shape
    np.testing.assert_array_equal(_c_window(lib, "mcu_dwconv_s8_wzp_ref", case, kh, kw, c), depthwise_conv2d_s8(**case))


@pytest.mark.parametrize("zx,zw", [(-128, 127), (127, -128), (5, -28)])
def test_fully_connected_with_weight_zero_point_c_matches_numpy(lib, zx, zw):
    rng = np.random.default_rng((zx + 128) * 1000 + zw + 128)
    n_in, n_out = 300, 9
    case = dict(x=rng.integers(-128, 128, n_in, dtype=np.int8), w=rng.integers(-128, 128, (n_out, n_in), dtype=np.int8),
                bias=rng.integers(-9999, 9999, n_out).astype(np.int32), input_zp=zx, output_zp=-4,
                multiplier=rng.integers(1 << 30, 1 << 31, n_out), shift=rng.integers(-18, -10, n_out),
                act_min=-128, act_max=127, weight_zp=zw)
    out = np.empty(n_out, dtype=np.int8)
    io = cbuild.McuQuantIo(-zx, -4, -128, 127)
    m, s = (np.ascontiguousarray(case[k], dtype=np.int32) for k in ("multiplier", "shift"))
    q = cbuild.McuChannelQuant(_ptr(m, c_int32), _ptr(s, c_int32))
    lib.mcu_fc_s8_wzp_ref(ctypes.byref(io), ctypes.byref(q), -zw, n_in, n_out, _ptr(case["x"], c_int8),
                          _ptr(case["w"], c_int8), _ptr(case["bias"], c_int32), _ptr(out, c_int8))
    np.testing.assert_array_equal(out, fully_connected_s8(**case))


def test_avgpool_half_up_differs_from_half_away_only_on_negative_ties(lib):
    from mcucompile.ops.avgpool import avgpool_s8

    # Windows of 4 summing to -10 (-2.5), -6 (-1.5), 10 (2.5) and -9 (-2.25).
    x = np.array([[[-4], [-2], [-1], [-1]], [[-2], [-2], [-1], [-3]],
                  [[4], [2], [-3], [-3]], [[2], [2], [-2], [-1]]], dtype=np.int8)
    case = dict(x=x, kernel=(2, 2), stride=(2, 2), pads=(0, 0, 0, 0), act_min=-128, act_max=127)
    up = avgpool_s8(**case, rounding="half_up")
    assert up[:, :, 0].tolist() == [[-2, -1], [3, -2]]
    assert avgpool_s8(**case)[:, :, 0].tolist() == [[-3, -2], [3, -2]]
    np.testing.assert_array_equal(cbuild.avgpool(lib, **case, fn="mcu_avgpool_s8_halfup_ref"), up)
