"""Helium (MVE) kernels: byte-identical with the numpy int8 reference on a Cortex-M55 in QEMU.

Three parts:
- the vector requantization formula of runtime_c/include/mcu_mve.h, emulated instruction by
  instruction in numpy, against fixedpoint.py over every shift on exhaustive windows and the int32 edges;
- every case of the plans below, packed by the compiler's own functions (mcucompile.kernels.arm_mve),
  run by one firmware image in QEMU (mps3-an547) and compared byte for byte with mcucompile.ops;
- the Visual Wake Words network (MobileNetV1 0.25, 96x96, 2 classes) built for cortex-m55 with the
  MVE kernels, byte-identical with the numpy reference.

Case data comes from a seeded generator at test time; nothing generated is committed.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.kernels import arm_mve
from mcucompile.ops.conv import conv2d_s8
from mcucompile.ops.depthwise import depthwise_conv2d_s8
from mcucompile.quant.fixedpoint import (INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier,
                                         quantize_multiplier, rounding_divide_by_pot, wrap_int32)

from .firmware_tools import need

# --- the requantization formula, emulated --------------------------------------------------------


def _saturate(x):
    return np.clip(x, INT32_MIN, INT32_MAX)


def vqrdmulh(a, b):
    """VQRDMULH.S32: saturate((2ab + 2^31) >> 32), computed as (ab + 2^30) >> 31 to stay inside int64."""
    return _saturate((np.asarray(a, np.int64) * np.asarray(b, np.int64) + (1 << 30)) >> 31)


def vrshl_right(x, n):
    """VRSHL.S32 by -n (n >= 0): (x + 2^(n-1)) >> n without intermediate overflow; x itself for n = 0."""
    x = np.asarray(x, np.int64)
    n = np.asarray(n, np.int64)
    return np.where(n > 0, (x + (np.int64(1) << np.maximum(n - 1, 0))) >> n, x)


def mve_rounding_divide(x, n):
    """mcu_mve_requantize's right shift: negative lanes lowered by one (saturating) when n > 0, then VRSHL."""
    x = np.asarray(x, np.int64)
    lowered = _saturate(x + np.where((x < 0) & (np.asarray(n) > 0), -1, 0))
    return vrshl_right(lowered, n)


def mve_requantize(acc, multiplier, shift):
    left, right = np.maximum(shift, 0), np.maximum(-np.asarray(shift), 0)
    shifted = wrap_int32(np.asarray(acc, np.int64) << left)  # VSHL by a register: wraps
    return mve_rounding_divide(vqrdmulh(shifted, multiplier), right)


def _window_values() -> np.ndarray:
    span = 1 << 17
    return np.concatenate([np.arange(-span, span + 1), np.arange(INT32_MIN, INT32_MIN + span),
                           np.arange(INT32_MAX - span, INT32_MAX + 1)]).astype(np.int64)


def test_vrshl_fix_is_rounding_divide_by_pot_for_every_exponent():
    x = _window_values()
    for n in range(32):
        np.testing.assert_array_equal(mve_rounding_divide(x, n), rounding_divide_by_pot(x, n), err_msg=f"n={n}")
    # Without the fix VRSHL rounds negative ties toward +infinity: -3 / 2 gives -1, not -2.
    assert vrshl_right(-3, 1) == -1 and rounding_divide_by_pot(-3, 1) == -2 == mve_rounding_divide(-3, 1)


def test_vqrdmulh_is_saturating_rounding_doubling_high_mul():
    from mcucompile.quant.fixedpoint import saturating_rounding_doubling_high_mul as srdhm

    rng = np.random.default_rng(0)
    a = np.concatenate([_window_values(), rng.integers(INT32_MIN, INT32_MAX, 200_000, endpoint=True)])
    for b in (INT32_MIN, -1, 0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX, 1518500250):
        np.testing.assert_array_equal(vqrdmulh(a, b), srdhm(a, b), err_msg=f"b={b}")


def test_mve_requantize_equals_multiply_by_quantized_multiplier():
    rng = np.random.default_rng(1)
    acc = np.concatenate([_window_values()[::7], rng.integers(INT32_MIN, INT32_MAX, 100_000, endpoint=True)])
    for shift in range(-31, 31):
        for multiplier in (0, 1 << 30, INT32_MAX, int(rng.integers(1 << 30, 1 << 31))):
            np.testing.assert_array_equal(mve_requantize(acc, multiplier, shift),
                                          multiply_by_quantized_multiplier(acc, multiplier, shift),
                                          err_msg=f"multiplier={multiplier} shift={shift}")


# --- packing -----------------------------------------------------------------------------------


def test_packing_layouts():
    w = np.arange(2 * 3 * 3 * 3, dtype=np.int8).reshape(2, 3, 3, 3)
    small = arm_mve.pack_small_conv(w)
    assert small.shape == (4, 32) and (small[:2, :27] == w.reshape(2, 27)).all() and not small[2:].any()
    assert not small[:, 27:].any()
    dw = np.arange(9 * 11, dtype=np.int64).reshape(3, 3, 11).astype(np.int8)
    packed = arm_mve.pack_depthwise3x3(dw)
    assert packed.shape == (2, 9, 8) and packed[1, 4, 2] == dw[1, 1, 10] and not packed[1, :, 3:].any()
    assert arm_mve.even_odd_order(8).tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    rq = arm_mve.pack_requant(np.array([10, 11, 12, 13, 14], np.int32), 1 << 30, [-3, 2, 0, -1, 5])
    assert rq.reshape(-1, 4, 4)[0].tolist() == [[10, 11, 12, 13], [1 << 30] * 4, [0, 2, 0, 0], [-3, 0, 0, -1]]
    assert rq.reshape(-1, 4, 4)[1].tolist() == [[14, 0, 0, 0], [1 << 30, 0, 0, 0], [5, 0, 0, 0], [0, 0, 0, 0]]
    # The folded bias wraps as the kernels' int32 sums do.
    folded = arm_mve.fold_bias(np.full((1, 4), 127, np.int8), np.array([INT32_MAX], np.int32), -128)
    assert folded.tolist() == [int(wrap_int32(INT32_MAX + 128 * 4 * 127))]


# --- kernel cases in QEMU ----------------------------------------------------------------------
# Shapes: odd sizes, channel counts that are not multiples of 4, 8 or 16, a pixel count that leaves
# a remainder after the groups of four, strides 1 and 2, symmetric, asymmetric and one-sided padding,
# input zero points at both ends of int8, clamps for none / ReLU / ReLU6.

POINTWISE_PLAN = [
    dict(h=3, w=5, cin=8, cout=16, zp_in=-128, zp_out=5, act="none"),
    dict(h=1, w=7, cin=13, cout=6, zp_in=127, zp_out=-128, act="relu"),
    dict(h=2, w=2, cin=16, cout=5, zp_in=0, zp_out=-3, act="relu6"),
    dict(h=3, w=3, cin=17, cout=9, zp_in=-128, zp_out=0, act="none"),
    dict(h=2, w=3, cin=32, cout=4, zp_in=-7, zp_out=20, act="relu"),
    dict(h=1, w=5, cin=100, cout=3, zp_in=127, zp_out=-20, act="none"),
    dict(h=1, w=1, cin=1, cout=1, zp_in=-128, zp_out=0, act="none"),
    dict(h=1, w=1, cin=256, cout=2, zp_in=-3, zp_out=9, act="none"),  # the classifier, as fully connected
    dict(h=2, w=4, cin=64, cout=12, zp_in=-128, zp_out=-128, act="relu6", huge_bias=True),
    # The whole-loop assembly paths (mcu_mve_pwconv.h): whole chunks and tails only, the clamp at the
    # int8 edges (saturation) or narrower, odd pixel counts, out_c % 4 left to the C loop.
    dict(h=3, w=3, cin=16, cout=8, zp_in=-128, zp_out=-128, act="none"),
    dict(h=1, w=5, cin=48, cout=12, zp_in=3, zp_out=-60, act="relu6"),
    dict(h=2, w=3, cin=8, cout=7, zp_in=-128, zp_out=10, act="none"),
    dict(h=1, w=3, cin=5, cout=4, zp_in=127, zp_out=-128, act="relu"),
    dict(h=1, w=1, cin=64, cout=9, zp_in=-5, zp_out=0, act="none"),
    dict(h=3, w=5, cin=32, cout=20, zp_in=-128, zp_out=-128, act="none", huge_bias=True),
    dict(h=2, w=3, cin=32, cout=8, zp_in=-128, zp_out=0, act="none", left_shift=True),
]

DEPTHWISE_PLAN = [
    dict(h=5, w=7, c=8, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=3, act="none"),
    dict(h=6, w=6, c=13, stride=(2, 2), pads=(0, 0, 1, 1), zp_in=127, zp_out=-128, act="relu"),
    dict(h=7, w=5, c=3, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=0, act="relu6"),
    dict(h=4, w=4, c=16, stride=(1, 1), pads=(0, 0, 0, 0), zp_in=5, zp_out=-9, act="none"),
    dict(h=3, w=3, c=24, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="relu"),
    dict(h=1, w=1, c=5, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=127, zp_out=0, act="none"),
    dict(h=9, w=4, c=20, stride=(2, 1), pads=(2, 0, 0, 2), zp_in=-128, zp_out=7, act="none"),
    dict(h=12, w=11, c=33, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-1, zp_out=-128, act="relu6"),
    # The interior runs' assembly loop (c % 8 == 0): saturation and clamp, strides 1 and 2.
    dict(h=6, w=5, c=16, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="none"),
    dict(h=5, w=6, c=8, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=7, zp_out=-128, act="relu6"),
    dict(h=4, w=9, c=24, stride=(1, 2), pads=(0, 1, 2, 0), zp_in=-128, zp_out=11, act="none"),
    dict(h=5, w=5, c=16, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=0, act="none", left_shift=True),
    # The sixteen-channel layout (c % 16 == 0, arm_mve.depthwise_lanes): saturation and clamp, strides 1
    # and 2, border windows of one and two chunks (64 + 16 channels), the extreme input zero points.
    dict(h=5, w=6, c=32, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="none"),
    dict(h=5, w=4, c=80, stride=(2, 2), pads=(0, 0, 1, 1), zp_in=127, zp_out=4, act="relu6"),
    dict(h=3, w=3, c=128, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=3, zp_out=-7, act="relu"),
    dict(h=2, w=7, c=16, stride=(1, 2), pads=(1, 2, 1, 0), zp_in=-128, zp_out=-128, act="none"),
    # ... refused: a bias too large for the doubled sums, a weight -128 (the eight-channel layout, its
    # border by windows from 64 channels).
    dict(h=4, w=4, c=32, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-5, zp_out=0, act="none", huge_bias=True),
    dict(h=4, w=5, c=64, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="none", minus128=True,
         lanes=8),
    dict(h=3, w=4, c=72, stride=(2, 1), pads=(1, 1, 1, 1), zp_in=9, zp_out=2, act="relu6", minus128=True, lanes=8),
    # The pixel-pair form (c == 8, stride_w 1): interior runs of even and odd lengths, saturation and
    # clamp, stride_h 2; c == 8 at stride_w 2 keeps the eight-channel layout.
    dict(h=6, w=9, c=8, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="none"),
    dict(h=5, w=8, c=8, stride=(2, 1), pads=(0, 1, 1, 1), zp_in=127, zp_out=-3, act="relu6"),
    dict(h=4, w=4, c=8, stride=(1, 1), pads=(0, 0, 0, 0), zp_in=2, zp_out=1, act="relu"),
    dict(h=6, w=7, c=8, stride=(1, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=0, act="none"),
]

CONV_PLAN = [
    dict(h=9, w=9, cin=3, cout=8, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=0, act="relu6"),
    dict(h=8, w=10, cin=3, cout=5, stride=(2, 2), pads=(0, 0, 1, 1), zp_in=127, zp_out=-128, act="none"),
    dict(h=7, w=6, cin=1, cout=6, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=4, act="relu"),
    dict(h=5, w=5, cin=1, cout=3, stride=(1, 1), pads=(1, 0, 1, 2), zp_in=3, zp_out=-5, act="none"),
    dict(h=6, w=7, cin=3, cout=16, stride=(1, 1), pads=(0, 0, 0, 0), zp_in=-128, zp_out=-128, act="relu"),
    dict(h=2, w=3, cin=3, cout=2, stride=(2, 2), pads=(2, 2, 2, 2), zp_in=127, zp_out=0, act="none"),
    dict(h=6, w=11, cin=3, cout=7, kernel=(2, 5), stride=(1, 2), pads=(1, 2, 0, 1), zp_in=-128, zp_out=2, act="none"),
    dict(h=7, w=7, cin=1, cout=4, kernel=(5, 5), stride=(2, 2), pads=(2, 2, 2, 2), zp_in=127, zp_out=-1, act="relu"),
    # The assembly loop of mcu_mve_conv_small.h (out_c % 8 == 0): saturation, clamp, a short window.
    dict(h=9, w=9, cin=3, cout=8, stride=(2, 2), pads=(1, 1, 1, 1), zp_in=-128, zp_out=-128, act="none"),
    dict(h=7, w=8, cin=1, cout=16, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=5, zp_out=-128, act="relu6"),
    dict(h=6, w=7, cin=3, cout=8, kernel=(2, 5), stride=(1, 2), pads=(1, 2, 0, 1), zp_in=-128, zp_out=3, act="none"),
    dict(h=5, w=6, cin=3, cout=8, stride=(1, 1), pads=(1, 1, 1, 1), zp_in=0, zp_out=-2, act="none", left_shift=True),
]


def _clamp(act: str, zp_out: int) -> tuple[int, int]:
    if act == "relu":
        return zp_out, 127
    if act == "relu6":
        return zp_out, min(127, zp_out + 90)
    return -128, 127


def _requant_params(rng, acc_spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel multiplier and shift that spread each channel's accumulators over about +-50."""
    pairs = [quantize_multiplier(50.0 / max(float(s), 1.0) * rng.uniform(0.5, 2.0)) for s in acc_spread]
    return np.array([m for m, _ in pairs], np.int64), np.array([s for _, s in pairs], np.int64)


def _finish(rng, case, acc_float, out_c) -> dict:
    bias = rng.integers(-3000, 3000, out_c).astype(np.int32)
    spread = np.sqrt(((acc_float.reshape(-1, out_c) + bias) ** 2).mean(axis=0)) + 1
    multiplier, shift = _requant_params(rng, spread)
    if case.get("left_shift"):
        shift[::3] = 1  # a left shift in some channels: the kernels' general requantization, not `fast`
    if case.get("huge_bias"):
        bias[::2] = rng.choice([INT32_MIN + 5, INT32_MAX - 5], len(bias[::2]))  # the folded bias wraps
    act_min, act_max = _clamp(case["act"], case["zp_out"])
    return dict(bias=bias, input_zp=case["zp_in"], output_zp=case["zp_out"], multiplier=multiplier, shift=shift,
                act_min=act_min, act_max=act_max)


def _ints(rng, shape, low=-128, high=127):
    return rng.integers(low, high, shape, endpoint=True).astype(np.int8)


def _io_init(q) -> str:
    return f"{{{-q['input_zp']}, {q['output_zp']}, {q['act_min']}, {q['act_max']}}}"


def pointwise_call(rng, i, case):
    from .mve_firmware import KernelCall

    x = _ints(rng, (case["h"], case["w"], case["cin"]))
    w = _ints(rng, (case["cout"], 1, 1, case["cin"]), -127)
    acc = (x.astype(np.float64) - case["zp_in"]).reshape(-1, case["cin"]) @ w.reshape(case["cout"], -1).T
    q = _finish(rng, case, acc, case["cout"])
    expected = conv2d_s8(x=x, w=w, stride=(1, 1), pads=(0, 0, 0, 0), **q)
    folded = arm_mve.fold_bias(w, q["bias"], q["input_zp"])
    arrays = [(f"x{i}", "int8_t", x), (f"w{i}", "int8_t", arm_mve.pack_pointwise(w)),
              (f"rq{i}", "int32_t", arm_mve.pack_requant_pairs(folded, q["multiplier"], q["shift"]))]
    call = KernelCall(f"mcu_pwconv_s8_mve(&io, {case['h'] * case['w']}, {case['cin']}, {case['cout']}, x{i}, w{i}, "
                      f"rq{i}, out)", arrays, expected.size,
                      setup=f"        static const mcu_quant_io io = {_io_init(q)};")
    return call, expected


def _window_call(i, kernel, kernel_hw, x, packed_w, requant, q, stride, pads, expected):
    from .mve_firmware import KernelCall

    h, w, c = x.shape
    ho, wo, co = expected.shape
    kh, kw = kernel_hw
    setup = (f"        static const mcu_conv_params p = {{{kh}, {kw}, {stride[0]}, {stride[1]}, {pads[0]}, {pads[1]}, "
             f"{_io_init(q)}}};\n"
             f"        const mcu_shape in_shape = {{{h}, {w}, {c}}};\n"
             f"        const mcu_shape out_shape = {{{ho}, {wo}, {co}}};")
    arrays = [(f"x{i}", "int8_t", x), (f"w{i}", "int8_t", packed_w), (f"rq{i}", "int32_t", requant)]
    return KernelCall(f"{kernel}(&p, in_shape, x{i}, out_shape, w{i}, rq{i}, out)", arrays, expected.size, setup)


def depthwise_call(rng, i, case):
    x = _ints(rng, (case["h"], case["w"], case["c"]))
    w = _ints(rng, (3, 3, case["c"]), -127)
    if case.get("minus128"):
        w[1, 1, ::5] = -128
    from mcucompile.ops.depthwise import _correlate

    acc = _correlate(x.astype(np.float64) - case["zp_in"], w.astype(np.float64), case["stride"], case["pads"])
    q = _finish(rng, case, acc, case["c"])
    expected = depthwise_conv2d_s8(x=x, w=w, stride=case["stride"], pads=case["pads"], **q)
    folded = arm_mve.fold_bias(w.reshape(9, -1).T, q["bias"], q["input_zp"])
    lanes = arm_mve.depthwise_lanes(w, folded, q["shift"], stride_w=case["stride"][1])
    plain = not case.get("left_shift") and not case.get("huge_bias")
    assert lanes == case.get("lanes", 16 if case["c"] % 16 == 0 and plain else
                             2 if case["c"] == 8 and case["stride"][1] == 1 and plain else 8)
    if lanes == 16:
        packed = arm_mve.pack_depthwise3x3(w, lanes=16)
        requant = arm_mve.pack_requant_depthwise16(folded, q["multiplier"], q["shift"])
    elif lanes == 2:
        packed, requant = arm_mve.pack_depthwise_pairs(w, folded, q["bias"], q["multiplier"], q["shift"])
    else:
        packed = arm_mve.pack_depthwise3x3(w)
        requant = arm_mve.pack_requant_depthwise(folded, q["bias"], q["multiplier"], q["shift"])
    return _window_call(i, "mcu_dwconv3x3_s8_mve", (3, 3), x, packed, requant, q, case["stride"], case["pads"],
                        expected), expected


def conv_call(rng, i, case):
    x = _ints(rng, (case["h"], case["w"], case["cin"]))
    w = _ints(rng, (case["cout"], *case.get("kernel", (3, 3)), case["cin"]), -127)
    from mcucompile.ops.conv import _correlate

    acc = _correlate(x.astype(np.float64) - case["zp_in"], w.astype(np.float64), case["stride"], case["pads"])
    q = _finish(rng, case, acc, case["cout"])
    expected = conv2d_s8(x=x, w=w, stride=case["stride"], pads=case["pads"], **q)
    requant = arm_mve.pack_requant_small(arm_mve.fold_bias(w, q["bias"], q["input_zp"]), q["multiplier"],
                                         q["shift"])
    return _window_call(i, "mcu_conv_small_s8_mve", w.shape[1:3], x, arm_mve.pack_small_conv(w), requant, q, case["stride"],
                        case["pads"], expected), expected


def ties_call(i):
    """Every int8 accumulator through every small shift: the rounding ties of RoundingDivideByPOT,
    negative ones included, and left shifts, on the hardware's VRSHL/VSHL (QEMU)."""
    from .mve_firmware import KernelCall

    shifts = np.array([0, -1, -2, -3, -7, -31, 1, 2], np.int64)
    x = np.arange(-128, 128, dtype=np.int64).astype(np.int8).reshape(1, 256, 1)
    w = np.ones((len(shifts), 1, 1, 1), np.int8)
    q = dict(bias=np.zeros(len(shifts), np.int32), input_zp=0, output_zp=0, multiplier=np.full(len(shifts), 1 << 30),
             shift=shifts, act_min=-128, act_max=127)
    expected = conv2d_s8(x=x, w=w, stride=(1, 1), pads=(0, 0, 0, 0), **q)
    arrays = [(f"x{i}", "int8_t", x), (f"w{i}", "int8_t", arm_mve.pack_pointwise(w)),
              (f"rq{i}", "int32_t", arm_mve.pack_requant_pairs(q["bias"], q["multiplier"], q["shift"]))]
    call = KernelCall(f"mcu_pwconv_s8_mve(&io, 256, 1, {len(shifts)}, x{i}, w{i}, rq{i}, out)", arrays,
                      expected.size, setup=f"        static const mcu_quant_io io = {_io_init(q)};")
    return call, expected


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_mve_kernels_equal_numpy_reference(tmp_path):
    need("arm-none-eabi-gcc", "qemu-system-arm")
    from .mve_firmware import run_calls

    rng = np.random.default_rng(2026)
    cases = [("ties", ties_call(0))]
    for kind, plan, make in (("pointwise", POINTWISE_PLAN, pointwise_call), ("depthwise", DEPTHWISE_PLAN, depthwise_call),
                             ("conv", CONV_PLAN, conv_call)):
        cases += [(f"{kind} {case}", make(rng, len(cases) + j, case)) for j, case in enumerate(plan)]
    # The expected outputs must not be constant, or byte equality proves little.
    assert all(len(np.unique(expected)) > min(2, expected.size - 1) for _, (_, expected) in cases)
    outputs = run_calls([call for _, (call, _) in cases], tmp_path)
    for (name, (_, expected)), raw in zip(cases, outputs):
        got = np.frombuffer(raw, np.int8).reshape(expected.shape)
        mismatch = np.argwhere(got != expected)
        assert not len(mismatch), f"{name}: {len(mismatch)} bytes differ, first at {mismatch[0].tolist()}"


# --- the whole network -------------------------------------------------------------------------


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_visual_wake_words_on_cortex_m55_equals_numpy_reference(tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    from mcucompile.build import build_from_graph
    from mcucompile.compiler import compile_graph, quantize_input
    from mcucompile.project.fit import place
    from mcucompile.run import run_nhwc
    from mcucompile.quant.calibration import model_layout_to_nhwc
    from mcucompile.simulate import simulate_graph
    from mcucompile.targets import resolve

    from .models import example_model

    model = example_model(alpha=0.25, resolution=96, classes=2)
    rng = np.random.default_rng(11)
    # The untrained example's BatchNorm statistics were set for standard-normal inputs.
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((16, 3, 96, 96)).astype(np.float32))
    graph = compile_graph(model, calib=str(calib))
    x = rng.standard_normal((4, 3, 96, 96)).astype(np.float32)
    reference = simulate_graph(graph, x, raw=True).reshape(len(x), -1)
    assert len({row.tobytes() for row in reference}) > 1
    target, board = resolve("cortex-m55", None)
    report = build_from_graph(graph, target, tmp_path / "vww", board, place(board), compile_firmware=True)
    kernels = {layer["op"]: layer["kernel"] for layer in report["layers"] if layer["op"] != "avg_pool"}
    assert {kernels["depthwise_conv2d"]} == {"mcu_dwconv3x3_s8_mve"}
    assert {layer["kernel"] for layer in report["layers"] if layer["op"] == "conv2d"} == \
        {"mcu_conv_small_s8_mve", "mcu_pwconv_s8_mve"}
    x_nhwc = model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], "x")
    y = run_nhwc(tmp_path / "vww", quantize_input(graph, x_nhwc))
    np.testing.assert_array_equal(y.reshape(len(x), -1), reference)
