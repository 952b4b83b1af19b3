"""Legacy uint8 models (weights with a per-tensor zero point) on the fast kernel families.

Host part: the zero point folded the way each family folds it -- weights stored as w - zw (int16),
or int8 weights with -zw * (the window's sum) -- gives the reference's accumulator over windows that
reach into the padding, with the compiler's own packing and records; the exactness proof is made
with w - zw, and a layer it refuses takes the weight-zero-point reference; every --kernels choice
reaches a kernel for every op.
QEMU part: a plan of small uint8 QDQ networks (weight zero points 0, 1, 128 and 255 in uint8 terms,
input zero points 0 and 255, stride 1 and 2, asymmetric padding, channel counts off multiples of
4, 8 and 16, a first conv, a 5x5 depthwise, an FC head) built for cortex-m7 (--kernels auto, i.e.
arm-dsp, and arm-dsp-int8), cortex-m4 and cortex-m55 (auto: Helium), each layer on a fast kernel,
outputs byte-identical with the numpy reference. Google's uint8 MobileNetV1 0.25/128 on cortex-m7
and cortex-m55, byte-identical with the host build (the reference kernels) on three photos.
"""
from __future__ import annotations

import zlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.build import build_from_graph, build_project
from mcucompile.codegen.lower import lower
from mcucompile.compiler import compile_graph
from mcucompile.errors import McuCompileError
from mcucompile.kernels import KERNEL_SETS, REFERENCE, TABLE, arm_mve, ref, variants
from mcucompile.kernels.arm_dsp import channel_records, pack_matmul, pointwise_order
from mcucompile.kernels.arm_dsp_int8 import pack_matmul_int8, records_packed
from mcucompile.project.fit import place
from mcucompile.run import run_nhwc
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import TARGETS, get_target, resolve

from .firmware_tools import need
from .test_kernels_dsp_int8 import dsp8_dot
from .test_tflite_exact import IMAGENET, IMAGES, _need_shared, _photos, _to_int8

# --- host: the folding of the weight zero point --------------------------------------------------


def _window_case(cout, kh, kw, cin, zx, zw):
    """One output position of a conv: (its window as the kernels gather it, padded taps holding zx;
    the mask of taps inside the image; int8 weights [cout, K]; bias). A window larger than 1x1 has
    its top row and right column in the padding."""
    rng = np.random.default_rng(zlib.crc32(repr((cout, kh, kw, cin, zx, zw)).encode()))
    k = kh * kw * cin
    x = rng.integers(-128, 128, k)
    inside = np.ones((kh, kw, cin), bool)
    if kh > 1:
        inside[0], inside[:, -1] = False, False
    inside = inside.reshape(-1)
    x[~inside] = zx
    w = rng.integers(-128, 128, (cout, k))
    w[:, ::3] = -128 if zw > 0 else 127  # w - zw at its extremes
    bias = rng.integers(-5000, 5000, cout)
    return x, inside, w, bias


def _reference_acc(x, inside, w, bias, zx, zw):
    """bias + sum over the taps inside the image of (x - zx) * (w - zw), as TFLite's uint8 kernels."""
    return bias + ((x[inside] - zx) * (w[:, inside] - zw)).sum(axis=1)


@pytest.mark.parametrize("zx, zw", [(-128, 127), (127, -128), (-128, -127), (3, 100)])
def test_int8_weights_with_a_column_sum_give_the_reference_accumulator(zx, zw):
    """The int8-weight DSP kernels: packed int8 weights (widened as the kernels widen them), the
    three-word records made from w - zw, and each accumulator starting from -zw times its column's sum."""
    x, inside, w, bias = _window_case(5, 3, 3, 3, zx, zw)
    records, scale = channel_records(w - zw, bias, zx, 1 << 30, -9, 0)
    packed = records_packed(records, scale)
    start = -zw * x.sum()  # mcu_dsp8_columns: filter_offset * (the column's sum)
    np.testing.assert_array_equal(packed[:, 0] + start + dsp8_dot(pack_matmul_int8(w), x, len(w)),
                                  _reference_acc(x, inside, w, bias, zx, zw))


@pytest.mark.parametrize("zx, zw", [(-128, 127), (127, -128), (0, -1)])
def test_int16_weights_minus_their_zero_point_give_the_reference_accumulator(zx, zw):
    """arm-dsp: the weights stored as (w - zw) * 2^left, widened pairs in the pointwise k order; the
    records' bias folded with w - zw, so the kernels' products need nothing else."""
    x, inside, w, bias = _window_case(3, 1, 1, 11, zx, zw)
    records, scale = channel_records(w - zw, bias, zx, 1 << 30, 1, 0)
    assert list(scale) == [4] * 3  # left = shift + 1: the weights carry 2^2
    order = pointwise_order(len(x))
    k4 = (len(x) + 3) // 4 * 4
    # Each word's two int16 (low half first): [channel pair][k pair][channel][half].
    halves = pack_matmul((w - zw) * scale[:, None], order).view(np.int16).astype(np.int64)
    halves = halves.reshape(-1, k4 // 2, 2, 2)
    assert np.abs(halves).max() == np.abs(w - zw).max() * 4 >= 128 * 4
    col = np.zeros(k4, np.int64)
    col[:len(x)] = x[order]
    for c in range(len(w)):
        weights = halves[c // 2, :, c % 2].reshape(-1)  # this channel's k pairs, in the kernel's k order
        assert records[c, 0] + (weights * col).sum() == _reference_acc(x, inside, w, bias, zx, zw)[c] * 4, c


@pytest.mark.parametrize("zx, zw", [(-128, 127), (127, -128), (5, -28)])
def test_helium_folding_gives_the_reference_accumulator(zx, zw):
    """mve: the folded bias from w - zw (fold_bias), raw int8 products over the window (padded taps
    as zx) and -zw times the window's sum; the depthwise twin's int16 weights hold w - zw exactly."""
    x, inside, w, bias = _window_case(6, 3, 3, 1, zx, zw)
    folded = arm_mve.fold_bias(w - zw, bias, zx).astype(np.int64)
    np.testing.assert_array_equal(folded + w @ x - zw * x.sum(), _reference_acc(x, inside, w, bias, zx, zw))
    dw = np.random.default_rng(1).integers(-128, 128, (3, 3, 11))
    dw[0, 0, :2] = [127, -128]
    packed = arm_mve.pack_depthwise3x3(dw - zw, np.int16)
    assert packed.dtype == np.int16 and packed.shape == (2, 9, 8)
    np.testing.assert_array_equal(packed[1, 4, :3], (dw - zw)[1, 1, 8:])
    assert not packed[1, :, 3:].any() and packed[0, 0, :2].tolist() == [127 - zw, -128 - zw]


# --- host: which variant takes a layer ---------------------------------------------------------


def _const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _pointwise_model(path, zw_u8, cin=8, cout=4):
    """uint8 NHWC input -> one 1x1 conv (uint8 weights with zero point zw_u8) -> uint8 output."""
    rng = np.random.default_rng(zw_u8)
    w = rng.integers(1, 256, (cout, cin, 1, 1), dtype=np.uint8)  # int8 -127..127: each fits int16 times 2^8
    w[0, 0] = 255
    inits = [_const("s_in", np.float32(0.05)), _const("z_in", np.uint8(128)), _const("w", w),
             _const("s_w", np.float32(0.01)), _const("z_w", np.uint8(zw_u8)),
             _const("b", rng.integers(-500, 500, cout).astype(np.int32)),
             _const("s_b", np.float32(np.float32(0.05) * np.float32(0.01))), _const("z_b", np.int32(0)),
             _const("s_out", np.float32(0.2)), _const("z_out", np.uint8(128))]
    nodes = [helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("DequantizeLinear", ["nchw", "s_in", "z_in"], ["x"]),
             helper.make_node("DequantizeLinear", ["w", "s_w", "z_w"], ["wd"]),
             helper.make_node("DequantizeLinear", ["b", "s_b", "z_b"], ["bd"]),
             helper.make_node("Conv", ["x", "wd", "bd"], ["y"]),
             helper.make_node("QuantizeLinear", ["y", "s_out", "z_out"], ["output"])]
    graph = helper.make_graph(nodes, "pw", [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 3, 3, cin])],
                              [helper.make_tensor_value_info("output", TensorProto.UINT8, [1, cout, 3, 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _kernel(graph, target: str, kernels: str) -> str:
    return lower(graph, target=get_target(target), kernels=kernels).layers[0].kernel


def _with_left_shift(graph, left: int):
    """The layer's scale rewritten as multiplier * 2^shift with shift = left - 1 (the DSP weights' 2^left)."""
    attrs = graph.nodes[0].attrs
    m, s = np.asarray(attrs["multiplier"], np.int64), np.asarray(attrs["shift"], np.int64)
    attrs["multiplier"] = np.round(m * 2.0 ** (s - (left - 1))).astype(np.int64)
    attrs["shift"] = np.full_like(s, left - 1)
    return graph


def test_the_exactness_proof_takes_the_weights_minus_their_zero_point(tmp_path):
    # left = 8: every weight times 2^8 fits int16 (127 * 256 = 32512), but w - zw reaches 255 here.
    graph = _with_left_shift(compile_graph(_pointwise_model(tmp_path / "zw0.onnx", 0)), 8)
    assert graph.nodes[0].attrs["weight_zp"] == -128
    assert _kernel(graph, "cortex-m7", "auto") == "mcu_pwconv_s8_wzp_ref"
    assert _kernel(graph, "cortex-m7", "arm-dsp-int16") == "mcu_pwconv_s8_wzp_ref"
    assert _kernel(graph, "cortex-m55", "auto") == "mcu_pwconv_s8_wzp_mve"  # no bound to prove there
    # left = 7: 255 * 128 = 32640 fits, so the DSP kernels take the layer.
    graph = _with_left_shift(compile_graph(_pointwise_model(tmp_path / "zw0.onnx", 0)), 7)
    assert _kernel(graph, "cortex-m7", "auto") == "mcu_pwconv_s8_wzp_dsp8"
    assert _kernel(graph, "cortex-m7", "arm-dsp-int16") == "mcu_pwconv_s8_dsp"
    # uint8 zero point 128 is int8 0: an ordinary int8 layer, whatever the shift.
    graph = _with_left_shift(compile_graph(_pointwise_model(tmp_path / "zw128.onnx", 128)), 8)
    assert "weight_zp" not in graph.nodes[0].attrs
    assert _kernel(graph, "cortex-m7", "auto") == "mcu_pwconv_s8_dsp8"


def test_weight_zero_points_keep_int8_weights_in_flash(tmp_path):
    # 640 * 1024 uint8 weights: 1.31 MB as int16 pairs (arm-dsp-int16), more than the stm32f746's 1 MB of
    # flash; "auto" keeps them int8 (the kernel subtracts the zero point), which fits without a fallback.
    logged = []
    model = _pointwise_model(tmp_path / "wide.onnx", 3, cin=640, cout=1024)
    report = build_project(model, None, tmp_path / "out", board="stm32f746", compile_firmware=False,
                           log=logged.append)
    assert [layer["kernel"] for layer in report["layers"]] == ["mcu_pwconv_s8_wzp_dsp8"]
    assert not any("does not fit" in line for line in logged), logged
    with pytest.raises(McuCompileError, match="does not fit|flash"):
        build_project(model, None, tmp_path / "out16", board="stm32f746", compile_firmware=False,
                      kernels="arm-dsp-int16")


def test_every_kernel_choice_reaches_a_kernel_for_every_op():
    # "auto" names no families of its own: it takes each target's (Target.kernel_families).
    families = ({name for names in KERNEL_SETS.values() if names for name in names} | set(REFERENCE)
                | {name for target in TARGETS.values() for name in target.kernel_families})
    for op in set(TABLE) | set(ref.VARIANTS):
        table = variants(op)
        assert {name for name, _ in table} <= families, op
        assert table[-1] == ("ref", table[-1][1]) and type(table[-1][1]) is type(ref.VARIANTS[op]), op
    assert variants("not_an_op") == []


# --- QEMU: small uint8 networks ------------------------------------------------------------------

# (name, input channels, (h, w), input zero point (uint8), layers); a layer is
# ("conv", out_c, k, stride, pads[t, l, b, r], weight zp, activation, output zp) |
# ("dw", k, stride, pads, weight zp, activation, output zp) | ("pw", out_c, weight zp, activation, output zp) |
# ("fc", out, weight zp, output zp) (after an average pool over the whole map); zero points in uint8
# terms (128 is int8 0: that layer takes the plain int8 kernels). Covered besides: pixel counts that
# are odd and leave remainders after groups of 4, pointwise in_c of 16 (Helium's short path), 20 and
# 33 (its long path with tails), c % 4 and c % 8 tails, a 5x5 depthwise (the DSP general path, also
# on cortex-m55), ReLU and ReLU6 clamps. Two networks end in a convolution, so that every output
# byte of a whole map is compared; the FC head's average pool would hide an early layer's error.
PLAN = [
    ("rgb_fc", 3, (11, 9), 0, [("conv", 6, 3, 2, [0, 0, 1, 1], 255, "relu6", 0),
                               ("dw", 3, 1, [1, 1, 1, 1], 0, "relu", 0), ("pw", 13, 1, "none", 255),
                               ("dw", 3, 2, [0, 0, 1, 1], 128, "none", 128), ("pw", 7, 255, "relu6", 0),
                               ("fc", 5, 0, 131)]),
    ("gray_asym", 1, (9, 10), 255, [("conv", 5, 3, 1, [1, 0, 1, 2], 1, "none", 255), ("pw", 17, 0, "none", 3),
                                    ("dw", 5, 1, [2, 2, 2, 2], 255, "relu", 0),
                                    ("dw", 3, 2, [1, 1, 1, 1], 1, "none", 200), ("pw", 9, 77, "none", 60)]),
    ("wide", 3, (11, 10), 128, [("conv", 16, 3, 2, [0, 0, 1, 1], 0, "relu", 0), ("pw", 20, 255, "none", 128),
                                ("pw", 33, 1, "relu6", 0), ("dw", 3, 1, [1, 1, 1, 1], 0, "none", 250),
                                ("pw", 19, 200, "none", 10)]),
]
CONFIGS = [("cortex-m7", "auto"), ("cortex-m7", "arm-dsp-int16"), ("cortex-m4", "auto"), ("cortex-m55", "auto")]
SAMPLES = 4


def _fast_kernel(layer, target: str, kernels: str) -> str:
    """The kernel a plan layer must get: the family's, its weight-zero-point twin where it has one."""
    kind, zw = layer[0], layer[-3] if layer[0] != "fc" else layer[2]
    wzp = "_wzp" if zw != 128 else ""
    if target == "cortex-m55":
        if kind == "dw":
            return f"mcu_dwconv3x3_s8{wzp}_mve" if layer[1] == 3 else "mcu_dwconv_s8_dsp"
        return f"mcu_conv_small_s8{wzp}_mve" if kind == "conv" else f"mcu_pwconv_s8{wzp}_mve"
    if kind == "dw":
        # int8 weights for a 3x3 layer without a zero point; otherwise int16 weights, w - zw
        return "mcu_dwconv3x3_s8_dsp8" if layer[1] == 3 and not wzp else "mcu_dwconv_s8_dsp"
    name = "mcu_conv_s8" if kind == "conv" else "mcu_pwconv_s8"
    # int16 weights take w - zw as they are; the int8 kernels (the default) subtract zw * sum(x).
    return f"{name}_dsp" if kernels == "arm-dsp-int16" else f"{name}{wzp}_dsp8"


def _correlate(x, w, stride, pads, pad_value):
    """x [C, H, W] float, w [O, C, kh, kw] -> [O, Ho, Wo]: the plain sum over each window."""
    t, l, b, r = pads
    xp = np.pad(x, ((0, 0), (t, b), (l, r)), constant_values=pad_value)
    _, kh, kw = w.shape[1:]
    ho, wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    out = np.zeros((w.shape[0], ho, wo))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, ky:ky + stride * ho:stride, kx:kx + stride * wo:stride]
            out += np.einsum("chw,oc->ohw", patch, w[:, :, ky, kx])
    return out


def _network(path, channels, size, zx, layers, rng, symmetric=False):
    """The plan entry as a uint8 QDQ ONNX model (NHWC uint8 input, a Q/DQ pair around every op).
    Biases and weight scales are chosen from a float run of the uint8 arithmetic on the test inputs,
    so that every layer's outputs spread over its uint8 range; returns (path, uint8 inputs [N, H, W, C]).
    symmetric: the layers with weight zero point 128 (int8 0) keep their weights in [-127, 127], as
    TFLite's int8 weights are (some fast kernels take only those), with both ends present."""
    nodes, inits = [], []

    def q(name, scale, zp, dtype=np.uint8):
        inits.extend([_const(f"{name}_s", np.float32(scale)), _const(f"{name}_z", dtype(zp))])
        return [f"{name}_s", f"{name}_z"]

    def dq(x, name, scale, zp):
        params = q(name, scale, zp)
        nodes.append(helper.make_node("QuantizeLinear", [x] + params, [f"{name}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q"] + params, [f"{name}_dq"]))
        return f"{name}_dq"

    x_u8 = rng.integers(0, 256, (SAMPLES, *size, channels)).astype(np.uint8)
    x_u8[:, ::2, ::3] = rng.choice(np.array([0, 255, zx], np.uint8), x_u8[:, ::2, ::3].shape)  # runs of extremes
    nodes.append(helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]))
    nodes.append(helper.make_node("DequantizeLinear", ["nchw"] + q("in", 1 / 64, zx), ["x0"]))
    x, scale, zp = "x0", 1 / 64, zx
    values = x_u8.transpose(0, 3, 1, 2).astype(np.float64)  # [N, C, H, W] uint8 values, as floats
    for i, layer in enumerate(layers):
        kind = layer[0]
        if kind == "fc":
            _, out_c, zw, zp_out = layer
            c, h, w = values.shape[1:]
            nodes.append(helper.make_node("AveragePool", [x], [f"p{i}"], kernel_shape=[h, w]))
            x = dq(f"p{i}", f"pool{i}", scale, zp)  # a pool keeps its input's parameters
            inits.append(_const(f"flat{i}", np.array([1, c], np.int64)))
            nodes.append(helper.make_node("Reshape", [x, f"flat{i}"], [f"f{i}"]))
            x = dq(f"f{i}", f"flatq{i}", scale, zp)
            values = np.floor(values.mean(axis=(2, 3)) + 0.5)[:, :, None, None]
            wshape, group, k, stride, pads, act = (out_c, c, 1, 1), 1, 1, 1, [0, 0, 0, 0], "none"
        elif kind == "dw":
            _, k, stride, pads, zw, act, zp_out = layer
            out_c = group = values.shape[1]
            wshape = (out_c, 1, k, k)
        else:
            out_c, k, stride, pads, zw, act, zp_out = layer[1:] if kind == "conv" else \
                (layer[1], 1, 1, [0, 0, 0, 0], *layer[2:])
            group, wshape = 1, (layer[1], values.shape[1], k, k)
        if symmetric and zw == 128:
            w_u8 = rng.integers(1, 256, wshape).astype(np.uint8)
            w_u8.reshape(-1)[::4], w_u8.reshape(-1)[2::8] = 1, 255  # -127 and 127
        else:
            w_u8 = rng.integers(0, 256, wshape).astype(np.uint8)
            w_u8.reshape(-1)[::4] = 0 if zw > 127 else 255  # w - zw at its extremes
        # The uint8 arithmetic in float: sum over the window of (x - zx) * (w - zw), padding as zx.
        centred_w = w_u8.astype(np.float64) - zw
        acc = np.stack([np.concatenate([_correlate(v[g * (v.shape[0] // group):(g + 1) * (v.shape[0] // group)] - zp,
                                                   centred_w[g * (out_c // group):(g + 1) * (out_c // group)],
                                                   stride, pads, 0.0) for g in range(group)]) for v in values])
        bias = -np.round(acc.mean(axis=(0, 2, 3))) + rng.integers(-20, 20, out_c)
        acc += bias[None, :, None, None]
        # The weights' scale puts the real outputs' standard deviation at 1: 40 levels, or 33 under a
        # ReLU6, whose 6 is then 200 levels (a clamp narrower than int8).
        w_scale = 1.0 / (max(float(acc.std()), 1.0) * scale)
        out_scale = 6 / 200 if act == "relu6" else 1 / 40
        inits += [_const(f"w{i}", w_u8.reshape(out_c, -1) if kind == "fc" else w_u8),
                  _const(f"b{i}", bias.astype(np.int32))]
        nodes.append(helper.make_node("DequantizeLinear", [f"w{i}"] + q(f"wq{i}", w_scale, zw), [f"w{i}_dq"]))
        bias_params = q(f"bq{i}", np.float32(scale) * np.float32(w_scale), 0, np.int32)
        nodes.append(helper.make_node("DequantizeLinear", [f"b{i}"] + bias_params, [f"b{i}_dq"]))
        if kind == "fc":
            nodes.append(helper.make_node("Gemm", [x, f"w{i}_dq", f"b{i}_dq"], [f"y{i}"], transB=1))
        else:
            nodes.append(helper.make_node("Conv", [x, f"w{i}_dq", f"b{i}_dq"], [f"y{i}"], kernel_shape=[k, k],
                                          strides=[stride, stride], pads=pads, group=group))
        real = acc * scale * w_scale
        if act == "relu":
            nodes.append(helper.make_node("Relu", [f"y{i}"], [f"a{i}"]))
            real = np.maximum(real, 0)
        elif act == "relu6":
            inits.extend([_const(f"lo{i}", np.float32(0)), _const(f"hi{i}", np.float32(6))])
            nodes.append(helper.make_node("Clip", [f"y{i}", f"lo{i}", f"hi{i}"], [f"a{i}"]))
            real = np.clip(real, 0, 6)
        y = f"a{i}" if act != "none" else f"y{i}"
        values = np.clip(np.round(real / out_scale) + zp_out, 0, 255)
        scale, zp = out_scale, zp_out
        if i + 1 < len(layers):
            x = dq(y, f"act{i}", scale, zp)
    nodes.append(helper.make_node("QuantizeLinear", [y] + q("out", scale, zp), ["output"]))
    out_shape = [1, values.shape[1]] if layers[-1][0] == "fc" else [1, *values.shape[1:]]
    graph = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("input", TensorProto.UINT8,
                                                                              [1, *size, channels])],
                              [helper.make_tensor_value_info("output", TensorProto.UINT8, out_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path, x_u8


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, zx, layers", PLAN, ids=[p[0] for p in PLAN])
def test_uint8_networks_on_the_fast_kernels_equal_numpy_reference(tmp_path, name, channels, size, zx, layers):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    path, x_u8 = _network(tmp_path / f"{name}.onnx", channels, size, zx, layers, rng)
    graph = compile_graph(path)
    compute = [n for n in graph.nodes if n.op in ("conv2d", "depthwise_conv2d", "fully_connected")]
    assert [n.attrs.get("weight_zp", 0) for n in compute] == [(layer[-3] if layer[0] != "fc" else layer[2]) - 128
                                                             for layer in layers]
    xq = _to_int8(x_u8)
    reference = simulate_graph(graph, xq, raw=True)
    if reference.ndim == 4:  # the simulation answers in the model's NCHW; the firmware writes NHWC
        reference = reference.transpose(0, 2, 3, 1)
    reference = reference.reshape(SAMPLES, -1)
    assert len({row.tobytes() for row in reference}) == SAMPLES and len(np.unique(reference)) > 8
    for target_name, kernels in CONFIGS:
        target, board = resolve(target_name, None)
        project = tmp_path / f"{target_name}-{kernels}"
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True, kernels=kernels)
        chosen = [layer["kernel"] for layer in report["layers"] if layer["op"] != "avg_pool"]
        assert chosen == [_fast_kernel(layer, target_name, kernels) for layer in layers], (target_name, kernels)
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(SAMPLES, -1), reference, err_msg=f"{name} on {target_name} {kernels}")


# --- QEMU: Google's uint8 MobileNetV1 0.25/128 -----------------------------------------------------


@pytest.fixture(scope="module")
def imagenet_host_outputs(tmp_path_factory):
    """The three photos through the host build (the weight-zero-point reference kernels)."""
    _need_shared(IMAGENET, IMAGES)
    folder = tmp_path_factory.mktemp("imagenet-host")
    report = build_project(IMAGENET, "host", folder / "project")
    assert {layer["kernel"] for layer in report["layers"] if layer["op"] == "conv2d"} == \
        {"mcu_conv_s8_wzp_ref", "mcu_pwconv_s8_wzp_ref"}
    x = _to_int8(_photos())
    return x, run_project(folder / "project", x, raw=True)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target_name, fast", [
    ("cortex-m7", {"mcu_conv_s8_wzp_dsp8", "mcu_dwconv_s8_dsp", "mcu_pwconv_s8_wzp_dsp8"}),
    ("cortex-m55", {"mcu_conv_small_s8_wzp_mve", "mcu_dwconv3x3_s8_wzp_mve", "mcu_pwconv_s8_wzp_mve"})])
def test_imagenet_uint8_on_fast_kernels_equals_the_host_build(tmp_path, imagenet_host_outputs, target_name, fast):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    x, expected = imagenet_host_outputs
    target, board = resolve(target_name, None)
    # The AN547's code memory is 512 KiB: the weights go to its DDR, as benchmarks/kernels.py puts them.
    placement = place(board, weights_in="ddr" if target_name == "cortex-m55" else None)
    report = build_from_graph(compile_graph(IMAGENET), target, tmp_path / "p", board, placement,
                              compile_firmware=True)
    assert {layer["kernel"] for layer in report["layers"] if layer["macs"]} == fast
    np.testing.assert_array_equal(run_nhwc(tmp_path / "p", x), expected)
    assert len({row.tobytes() for row in expected}) == len(x)
