"""The portable C kernels (runtime_c/ref) against hand-worked bytes and the numpy int8 references.

Part (a) holds small cases whose expected bytes are worked out in the comments beside them:
padding, strides, extreme zero points, saturation, multipliers above one and tiny ones, and
every rounding tie. Part (b) runs a plan of random cases (seeded) through the C kernels and
the numpy references in mcucompile.ops and compares the bytes. Part (c) checks the library
itself: no undefined behaviour under UBSan, and a clean build for Cortex-M.

Notation: Q = 2^30 is the multiplier 0.5 in Q31, so (Q, shift s) means a real multiplier 2^(s-1).
"""
from __future__ import annotations

import math
import shutil
import subprocess
import zlib

import numpy as np
import pytest

from . import cbuild
from mcucompile.errors import QuantError
from mcucompile.ops.softmax import softmax_params, softmax_s8
from mcucompile.quant.fixedpoint import round_half_away

Q = 1 << 30
INT32_MAX = (1 << 31) - 1
FULL = dict(act_min=-128, act_max=127)


@pytest.fixture(scope="module")
def lib():
    return cbuild.load_runtime()


def i8(values) -> np.ndarray:
    return np.array(values, dtype=np.int8)


def i32(values) -> np.ndarray:
    return np.array(values, dtype=np.int32)


# --- (a) hand-checked cases ----------------------------------------------------------------------

# One-input fully connected layer with x = input zero point, so acc = bias exactly and the case
# isolates requantization: (acc, multiplier, shift, output_zp, expected output).
REQUANTIZE_CASES = [
    (3, Q, 0, 0, 2),          # 1.5 -> 2: a positive tie rounds up
    (-3, Q, 0, 0, -1),        # -1.5 -> -1: the high multiply rounds ties toward +inf (nudge, then truncation)
    (5, Q, 0, 0, 3),          # 2.5 -> 3
    (-5, Q, 0, 0, -2),        # -2.5 -> -2
    (6, Q, -1, 0, 2),         # 1.5: high multiply 3 exactly, then 3 / 2 -> 2 (away from zero)
    (-6, Q, -1, 0, -2),       # -1.5: high multiply -3 exactly, then -3 / 2 -> -2 (away from zero)
    (5, Q, -1, 0, 2),         # 1.25 -> 2, not 1: double rounding, 2.5 -> 3, then 1.5 -> 2
    (-7, INT32_MAX, 0, 0, -7),  # a multiplier just under 1: -6.9999999967 -> -7
    (3, Q, 2, 0, 6),          # multiplier 2: (3 << 2) * 0.5 = 6
    (100, Q, 3, 0, 127),      # multiplier 4: 400 saturates at 127
    (-100, Q, 3, 0, -128),    # -400 saturates at -128
    (100, Q, 0, 100, 127),    # 50 + 100 saturates at 127
    (-100, Q, 0, -100, -128),  # -50 - 100 saturates at -128
    (1 << 29, Q, 2, 0, -128),  # 2^29 << 2 wraps to -2^31 in int32, as in TFLite: then -2^30 -> -128
    (INT32_MAX, Q, -31, 0, 1),  # tiny: 2^31 * 2^-32 = 0.5 -> high multiply 2^30, >> 31 rounds the tie up -> 1
    (1 << 30, Q, -31, 0, 0),  # 2^30 * 2^-32 = 0.25 -> 0
    (12345, 0, 0, -7, -7),    # a flushed (zero) multiplier leaves only the zero point
]


@pytest.mark.parametrize("acc, multiplier, shift, output_zp, expected", REQUANTIZE_CASES)
def test_requantize_rounding_and_saturation(lib, acc, multiplier, shift, output_zp, expected):
    y = cbuild.fully_connected(lib, x=i8([9]), w=i8([[77]]), bias=i32([acc]), input_zp=9, output_zp=output_zp,
                               multiplier=multiplier, shift=shift, **FULL)
    assert y.tolist() == [expected]


def test_fc_extreme_zero_points(lib):
    # input_zp -128: x + 128 = [0, 255]; rows [1, 1] and [-1, 2] give 255 and 510; * 0.5 -> 128 (tie up), 255;
    # output_zp -128 -> 0, 127.
    y = cbuild.fully_connected(lib, x=i8([-128, 127]), w=i8([[1, 1], [-1, 2]]), bias=None, input_zp=-128,
                               output_zp=-128, multiplier=Q, shift=0, **FULL)
    assert y.tolist() == [0, 127]
    # input_zp 127: x - 127 = [-255, 0]; rows [1, 0] and [2, 0] give -255 and -510; * 0.5 -> -127 (tie up), -255;
    # output_zp 127 -> 0, -128.
    y = cbuild.fully_connected(lib, x=i8([-128, 127]), w=i8([[1, 0], [2, 0]]), bias=None, input_zp=127,
                               output_zp=127, multiplier=Q, shift=0, **FULL)
    assert y.tolist() == [0, -128]


# One pixel, two input channels: x + 128 = [3, 5]; rows [1, 2] and [-1, 127] give 13 and 632;
# channel 0 at multiplier 1 (Q, 1), channel 1 at 1/8 (Q, -2); output_zp 100.
PER_CHANNEL = dict(x=i8([-125, -123]), w=i8([[1, 2], [-1, 127]]), input_zp=-128, output_zp=100,
                   multiplier=[Q, Q], shift=[1, -2])


@pytest.mark.parametrize("bias, act, expected", [
    ([1, -2], (-128, 127), [114, 127]),  # 14 -> 114; 630 / 8 = 78.75 -> 79 -> 179, saturates at 127
    ([1, -2], (0, 120), [114, 120]),     # the activation clamp (a fused ReLU6-like range)
    (None, (-128, 127), [113, 127]),     # no bias: 13 -> 113; 632 / 8 = 79 -> 179 -> 127
])
@pytest.mark.parametrize("layer", ["conv", "pointwise", "fully_connected"])
def test_per_channel_requantization(lib, layer, bias, act, expected):
    c = dict(PER_CHANNEL, bias=None if bias is None else i32(bias), act_min=act[0], act_max=act[1])
    if layer == "fully_connected":
        y = cbuild.fully_connected(lib, **c)
    elif layer == "pointwise":
        y = cbuild.pointwise(lib, **dict(c, x=c["x"].reshape(1, 1, 2)))
    else:
        y = cbuild.conv(lib, **dict(c, x=c["x"].reshape(1, 1, 2), w=c["w"].reshape(2, 1, 1, 2), stride=(1, 1),
                                    pads=(0, 0, 0, 0)))
    assert y.reshape(-1).tolist() == expected


# 3x3 single-channel image stored with zero point 1, so x - zp = [[0, 1, 2], [3, 4, 5], [6, 7, 8]].
IMAGE = i8(np.arange(1, 10).reshape(3, 3, 1))


def test_conv_padding_is_the_input_zero_point_and_stride_2(lib):
    # 3x3 all-ones kernel, pad 1 all round, stride 2 -> 2x2. Only in-bounds taps count:
    # (0,0) 0+1+3+4 = 8, (0,1) 1+2+4+5 = 12, (1,0) 3+4+6+7 = 20, (1,1) 4+5+7+8 = 24;
    # * 0.5 -> 4, 6, 10, 12; output_zp -128 -> -124, -122, -118, -116.
    y = cbuild.conv(lib, x=IMAGE, w=np.ones((1, 3, 3, 1), np.int8), bias=None, stride=(2, 2), pads=(1, 1, 1, 1),
                    input_zp=1, output_zp=-128, multiplier=Q, shift=0, **FULL)
    assert y[..., 0].tolist() == [[-124, -122], [-118, -116]]


def test_conv_bottom_right_padding_follows_from_output_shape(lib):
    # 2x2 all-ones kernel, stride 2, pads (top 0, left 0, bottom 1, right 1) -> 2x2:
    # (0,0) 0+1+3+4 = 8, (0,1) 2+5 = 7, (1,0) 6+7 = 13, (1,1) 8; multiplier 1 (Q, 1).
    y = cbuild.conv(lib, x=IMAGE, w=np.ones((1, 2, 2, 1), np.int8), bias=None, stride=(2, 2), pads=(0, 0, 1, 1),
                    input_zp=1, output_zp=0, multiplier=Q, shift=1, **FULL)
    assert y[..., 0].tolist() == [[8, 7], [13, 8]]


def test_depthwise_channels_filtered_apart_with_top_left_padding(lib):
    # Two channels stored with zero point 5: x - 5 = [[1, 2], [3, 4]] and [[10, 20], [30, 40]].
    # Filters (2x2): channel 0 all ones, channel 1 [[1, -1], [2, -2]]. pads (1, 1, 0, 0), stride 1 -> 2x2.
    #   (0,0): only x(0,0) under tap (1,1):               ch0 1,            ch1 10*-2 = -20
    #   (0,1): x(0,0), x(0,1) under taps (1,0), (1,1):    ch0 1+2 = 3,      ch1 10*2 + 20*-2 = -20
    #   (1,0): x(0,0), x(1,0) under taps (0,1), (1,1):    ch0 1+3 = 4,      ch1 10*-1 + 30*-2 = -70
    #   (1,1): the whole image:                           ch0 10,           ch1 10-20+60-80 = -30
    x = np.stack([i8([[1, 2], [3, 4]]), i8([[10, 20], [30, 40]])], axis=-1) + np.int8(5)
    w = np.stack([np.ones((2, 2), np.int8), i8([[1, -1], [2, -2]])], axis=-1)
    y = cbuild.depthwise(lib, x=x, w=w, bias=None, stride=(1, 1), pads=(1, 1, 0, 0), input_zp=5, output_zp=0,
                         multiplier=Q, shift=1, **FULL)
    assert y.tolist() == [[[1, -20], [3, -20]], [[4, -70], [10, -30]]]


def test_avgpool_rounds_half_away_from_zero(lib):
    # 2x2 window over a 2x2 image whose channel c holds SUMS[c] in one corner and zeros elsewhere:
    # sum / 4 = 0.5, -0.5, 1.5, -1.5, 1.25, -1.25, 1.75, -1.75.
    sums = [2, -2, 6, -6, 5, -5, 7, -7]
    x = np.zeros((2, 2, len(sums)), np.int8)
    x[0, 0] = sums
    y = cbuild.avgpool(lib, x=x, kernel=(2, 2), stride=(2, 2), pads=(0, 0, 0, 0), **FULL)
    assert y.reshape(-1).tolist() == [1, -1, 2, -2, 1, -1, 2, -2]


def test_avgpool_counts_only_in_bounds_elements(lib):
    # 3x3 image 1..9, 3x3 window, stride 1, pad 1 -> 3x3; counts 4 at corners, 6 on edges, 9 in the centre:
    # 12/4=3  21/6=3.5->4  16/4=4 ; 27/6=4.5->5  45/9=5  33/6=5.5->6 ; 24/4=6  39/6=6.5->7  28/4=7
    x = i8(np.arange(1, 10).reshape(3, 3, 1))
    expected = [[3, 4, 4], [5, 5, 6], [6, 7, 7]]
    y = cbuild.avgpool(lib, x=x, kernel=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1), **FULL)
    assert y[..., 0].tolist() == expected
    y = cbuild.avgpool(lib, x=-x, kernel=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1), **FULL)
    assert y[..., 0].tolist() == (-np.array(expected)).tolist()
    y = cbuild.avgpool(lib, x=x, kernel=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1), act_min=4, act_max=6)
    assert y[..., 0].tolist() == [[4, 4, 4], [5, 5, 6], [6, 6, 6]]


@pytest.mark.parametrize("scale, beta, expected", [
    (1.0, 1.0, (1 << 30, 27, -15)),          # 2^26 = 0.5 * 2^27; radius floor(31 * 2^26 / 2^27) = 15
    (1 / 256, 1.0, (1 << 30, 19, -3968)),    # 2^18; radius 31 * 2^7
    (1 / 512, 2.0, (1 << 30, 19, -3968)),    # beta folds into the same multiplier
    (16.0, 1.0, (1 << 30, 31, 0)),           # 2^30: the largest exact shift, only the maximum survives
    (100.0, 1.0, (INT32_MAX, 31, 0)),        # capped at 2^31 - 1
])
def test_softmax_params(scale, beta, expected):
    assert softmax_params(scale, beta) == expected


def test_softmax_params_rejects_a_step_below_2_pow_minus_26():
    with pytest.raises(QuantError):
        softmax_params(2.0**-27)


@pytest.mark.parametrize("depth, expected", [
    (1, 127),    # p = 1 -> 256 saturates at 127
    (2, 0),      # 128 - 128
    (3, -43),    # 85.33 -> 85
    (4, -64),
    (8, -96),
    (10, -102),  # 25.6 -> 26
])
def test_softmax_equal_logits_give_a_uniform_row(lib, depth, expected):
    x = np.full((2, depth), 17, np.int8)
    assert (cbuild.softmax(lib, x, *softmax_params(0.1)) == expected).all()


@pytest.mark.parametrize("row, scale, expected", [
    ([127] + [-128] * 9, 1.0, [127] + [-128] * 9),  # one dominant logit takes everything
    ([5, 5, -100], 1.0, [0, 0, -128]),               # two equal maxima share; -105 is below diff_min = -15
    ([1, 0], math.log(3), [64, -64]),                # e : 1 = 3 : 1 -> 0.75, 0.25 -> 192, 64
    ([1, 0, 0], math.log(2), [0, -64, -64]),         # 2 : 1 : 1 -> 0.5, 0.25, 0.25
])
def test_softmax_obvious_rows(lib, row, scale, expected):
    assert cbuild.softmax(lib, i8([row]), *softmax_params(scale)).tolist() == [expected]


def test_quantize_rounding_and_saturation(lib):
    # scale 0.5, zero point 3: the ties x / 0.5 = 0.5, -0.5, 1.5, -1.5 round away from zero;
    # 62.25 -> 124.5 -> 125 + 3 = 128 and -65.75 -> -131.5 -> -132 + 3 = -129 saturate; NaN -> the zero point.
    x = np.float32([0.25, -0.25, 0.75, -0.75, 0.0, -0.0, 62.25, -65.75, 1000.0, -1000.0, np.inf, -np.inf, np.nan])
    y = cbuild.quantize(lib, x, 0.5, 3)
    assert y.tolist() == [4, 2, 5, 1, 3, 3, 127, -128, 127, -128, 127, -128, 3]
    # 0.49999997 is the float below 0.5: roundf gives 0 (adding 0.5 in float32 would wrongly give 1).
    assert cbuild.quantize(lib, np.float32([0.49999997, -0.49999997]), 1.0, 0).tolist() == [0, 0]


def test_quantize_divides_rather_than_multiplying_by_the_reciprocal(lib):
    # 22.65f / 0.3f = 75.49999 -> 75, but 22.65f * (1 / 0.3f) = 75.5 -> 76; TFLite divides.
    assert cbuild.quantize(lib, np.float32([22.65]), 0.3, -30).tolist() == [45]


def test_dequantize(lib):
    assert cbuild.dequantize(lib, i8([-128, 0, 127]), 0.5, -128).tolist() == [0.0, 64.0, 127.5]
    assert cbuild.dequantize(lib, i8([-128, 127]), 0.25, 127).tolist() == [-63.75, 0.0]


# --- (b) random plans against the numpy references -----------------------------------------------

ZERO_POINTS = (-128, 127, 0, -3)


def requant_params(rng, channels: int):
    """Multipliers and shifts that keep outputs spread over the int8 range, with an occasional
    multiplier above one and an occasional flushed (zero) multiplier."""
    multiplier = rng.integers(1 << 30, 1 << 31, channels)
    shift = rng.integers(-14, -5, channels)
    shift[rng.random(channels) < 0.1] = 1
    multiplier[rng.random(channels) < 0.05] = 0
    return multiplier, shift


def seed_of(plan) -> int:
    """A seed fixed by the plan entry (str hashes are salted per process, so not hash())."""
    return zlib.crc32(repr(plan).encode())


def clamp_range(rng):
    return (-128, 127) if rng.random() < 0.7 else tuple(sorted(int(v) for v in rng.integers(-128, 128, 2)))


# (H, W, Cin, Cout, kernel, stride, pads (top, left, bottom, right))
CONV_PLAN = [
    (1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (5, 7, 3, 8, (3, 3), (2, 2), (1, 1, 1, 1)),     # a first MobileNet layer, shrunk
    (6, 6, 3, 5, (3, 3), (2, 2), (0, 0, 1, 1)),     # TF "SAME" at stride 2: padding only bottom/right
    (7, 5, 1, 3, (3, 3), (1, 1), (1, 1, 1, 1)),
    (4, 9, 5, 7, (1, 3), (1, 2), (0, 1, 0, 1)),
    (9, 4, 6, 2, (3, 1), (2, 1), (1, 0, 2, 0)),
    (3, 3, 7, 9, (3, 3), (1, 1), (2, 2, 2, 2)),     # padding wider than the image's edge windows
    (8, 8, 4, 6, (2, 2), (2, 2), (0, 0, 0, 0)),
    (5, 5, 2, 3, (5, 5), (1, 1), (4, 0, 0, 4)),     # asymmetric and lopsided
    (2, 3, 9, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (6, 5, 3, 4, (3, 3), (2, 1), (1, 0, 1, 2)),
    (1, 8, 3, 2, (1, 3), (1, 3), (0, 1, 0, 1)),
]


def conv_case(rng, h, w, cin, cout, kernel, stride, pads, depthwise=False):
    x = rng.integers(-128, 128, (h, w, cin), dtype=np.int8)
    channels = cin if depthwise else cout
    wshape = (*kernel, cin) if depthwise else (cout, *kernel, cin)
    weights = rng.integers(-127, 128, wshape, dtype=np.int8)
    bias = rng.integers(-(1 << 16), 1 << 16, channels).astype(np.int32) if rng.random() < 0.8 else None
    multiplier, shift = requant_params(rng, channels)
    act_min, act_max = clamp_range(rng)
    return dict(x=x, w=weights, bias=bias, stride=stride, pads=pads, input_zp=int(rng.choice(ZERO_POINTS)),
                output_zp=int(rng.choice(ZERO_POINTS)), multiplier=multiplier, shift=shift, act_min=act_min,
                act_max=act_max)


def assert_same_bytes(c_out: np.ndarray, ref: np.ndarray, case: dict):
    assert c_out.dtype == ref.dtype == np.int8 and c_out.shape == ref.shape, (c_out.shape, ref.shape)
    if not np.array_equal(c_out, ref):
        where = np.argwhere(c_out != ref)
        shapes = {k: getattr(v, "shape", v) for k, v in case.items()}
        pytest.fail(f"{len(where)} bytes differ, first at {where[0].tolist()}: C {c_out[tuple(where[0])]} vs "
                    f"numpy {ref[tuple(where[0])]}; case {shapes}")


@pytest.mark.parametrize("plan", CONV_PLAN, ids=str)
def test_conv_matches_numpy(lib, plan):
    from mcucompile.ops.conv import conv2d_s8

    rng = np.random.default_rng(seed_of(plan))
    for _ in range(3):
        case = conv_case(rng, *plan)
        assert_same_bytes(cbuild.conv(lib, **case), conv2d_s8(**case), case)


@pytest.mark.parametrize("plan", CONV_PLAN, ids=str)
def test_depthwise_matches_numpy(lib, plan):
    from mcucompile.ops.depthwise import depthwise_conv2d_s8

    rng = np.random.default_rng(seed_of(plan))
    for _ in range(3):
        case = conv_case(rng, *plan, depthwise=True)
        assert_same_bytes(cbuild.depthwise(lib, **case), depthwise_conv2d_s8(**case), case)


@pytest.mark.parametrize("h, w, cin, cout", [(1, 1, 1, 1), (4, 5, 3, 7), (7, 3, 16, 5), (2, 2, 33, 12),
                                             (3, 1, 1, 9)])
def test_pointwise_matches_numpy_conv(lib, h, w, cin, cout):
    from mcucompile.ops.conv import conv2d_s8

    rng = np.random.default_rng([h, w, cin, cout])
    for _ in range(3):
        case = conv_case(rng, h, w, cin, cout, (1, 1), (1, 1), (0, 0, 0, 0))
        c_out = cbuild.pointwise(lib, **dict(case, w=case["w"].reshape(cout, cin)))
        assert_same_bytes(c_out, conv2d_s8(**case), case)
        # and the general conv kernel agrees on 1x1 layers
        assert_same_bytes(cbuild.conv(lib, **case), c_out, case)


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (3, 10), (17, 5), (64, 11), (1024, 7)])
def test_fully_connected_matches_numpy(lib, n_in, n_out):
    from mcucompile.ops.fully_connected import fully_connected_s8

    rng = np.random.default_rng([n_in, n_out])
    for _ in range(3):
        multiplier, shift = requant_params(rng, n_out)
        act_min, act_max = clamp_range(rng)
        case = dict(x=rng.integers(-128, 128, n_in, dtype=np.int8),
                    w=rng.integers(-127, 128, (n_out, n_in), dtype=np.int8),
                    bias=rng.integers(-(1 << 16), 1 << 16, n_out).astype(np.int32), input_zp=int(rng.choice(ZERO_POINTS)),
                    output_zp=int(rng.choice(ZERO_POINTS)), multiplier=multiplier, shift=shift, act_min=act_min,
                    act_max=act_max)
        assert_same_bytes(cbuild.fully_connected(lib, **case), fully_connected_s8(**case), case)


# (H, W, C, kernel, stride, pads)
POOL_PLAN = [
    (7, 7, 5, (7, 7), (1, 1), (0, 0, 0, 0)),    # global average pool, MobileNet's head
    (5, 6, 3, (2, 2), (2, 2), (0, 0, 1, 0)),
    (6, 5, 1, (3, 3), (2, 2), (1, 1, 1, 1)),
    (4, 4, 6, (3, 3), (1, 1), (1, 1, 1, 1)),
    (9, 3, 2, (3, 2), (3, 1), (2, 0, 2, 1)),
    (3, 8, 7, (1, 4), (1, 2), (0, 3, 0, 3)),
    (1, 1, 4, (1, 1), (1, 1), (0, 0, 0, 0)),
]


@pytest.mark.parametrize("plan", POOL_PLAN, ids=str)
def test_avgpool_matches_numpy(lib, plan):
    from mcucompile.ops.avgpool import avgpool_s8

    h, w, c, kernel, stride, pads = plan
    rng = np.random.default_rng(seed_of(plan))
    for _ in range(3):
        act_min, act_max = clamp_range(rng)
        case = dict(x=rng.integers(-128, 128, (h, w, c), dtype=np.int8), kernel=kernel, stride=stride, pads=pads,
                    act_min=act_min, act_max=act_max)
        assert_same_bytes(cbuild.avgpool(lib, **case), avgpool_s8(**case), case)


@pytest.mark.parametrize("scale", [1e-5, 0.004, 0.03, 0.0625, 0.1, 0.27, 1.0, 7.5, 20.0])
def test_softmax_matches_numpy(lib, scale):
    rng = np.random.default_rng(int(scale * 1e6))
    params = softmax_params(scale)
    for depth in (1, 2, 5, 10, 37, 100, 1000):
        uniform = rng.integers(-128, 128, (40, depth), dtype=np.int8)
        # logits within a few steps of each other, so many terms survive diff_min
        narrow = np.clip(rng.integers(-128, 100, (40, 1)) + rng.integers(0, 28, (40, depth)), -128, 127).astype(np.int8)
        for x in (uniform, narrow):
            case = dict(x=x, params=params)
            assert_same_bytes(cbuild.softmax(lib, x, *params), softmax_s8(x, *params), case)


def test_softmax_runs_in_place(lib):
    x = np.random.default_rng(3).integers(-128, 128, (4, 37), dtype=np.int8)
    params = softmax_params(0.07)
    expected = softmax_s8(x, *params)
    buf = x.copy()
    ptr = buf.ctypes.data_as(cbuild.POINTER(cbuild.c_int8))
    lib.mcu_softmax_s8_ref(cbuild.ctypes.byref(cbuild.McuSoftmaxParams(*params)), 4, 37, ptr, ptr)
    assert np.array_equal(buf, expected)


def test_softmax_sum_above_512_gives_minus_128(lib):
    # 1000 near-equal logits: every probability is about 1/1000, under half a step of 1/256. TFLite's
    # reference stops on a check here (its final shift would exceed 31); both of ours write -128.
    x = np.random.default_rng(5).integers(120, 128, (10, 1000), dtype=np.int8)
    params = softmax_params(0.01)
    assert (cbuild.softmax(lib, x, *params) == -128).all()
    assert (softmax_s8(x, *params) == -128).all()


def test_quantize_and_dequantize_match_numpy(lib):
    rng = np.random.default_rng(11)
    for _ in range(20):
        scale = np.float32(10 ** rng.uniform(-4, 1))
        zp = int(rng.choice(ZERO_POINTS))
        # values around the grid, exact ties between grid points, and far outside the int8 range
        x = np.concatenate([rng.normal(0, 60 * scale, 500), (rng.integers(-300, 300, 200) + 0.5) * scale,
                            rng.uniform(-1e6, 1e6, 20) * scale]).astype(np.float32)
        steps = (x / scale).astype(np.float64)  # float32 division, as the kernel does, then exact rounding
        expected = np.clip(round_half_away(steps) + zp, -128, 127).astype(np.int8)
        assert_same_bytes(cbuild.quantize(lib, x, scale, zp), expected, dict(scale=scale, zp=zp))
        q = rng.integers(-128, 128, 300, dtype=np.int8)
        assert np.array_equal(cbuild.dequantize(lib, q, scale, zp),
                              scale * (q.astype(np.float32) - np.float32(zp)))


# --- (c) the library itself ----------------------------------------------------------------------

def test_no_undefined_behaviour_under_ubsan(capfd):
    """The random plans again, on a build with -fsanitize=undefined: every shift, overflow and
    float conversion the kernels do must be defined. UBSan reports on stderr and carries on."""
    try:
        lib = cbuild.load_runtime(sanitize=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no UBSan runtime for {cbuild.CC}: {e}")
    rng = np.random.default_rng(99)
    for plan in CONV_PLAN:
        case = conv_case(rng, *plan)
        cbuild.conv(lib, **case)
        cbuild.depthwise(lib, **conv_case(rng, *plan, depthwise=True))
        if plan[4] == (1, 1) and plan[5] == (1, 1) and plan[6] == (0, 0, 0, 0):
            cbuild.pointwise(lib, **dict(case, w=case["w"].reshape(plan[3], plan[2])))
        cbuild.fully_connected(lib, x=case["x"].reshape(-1), w=rng.integers(-127, 128, (3, case["x"].size), dtype=np.int8),
                               bias=i32([INT32_MAX, -INT32_MAX - 1, 0]), input_zp=-128, output_zp=-128,
                               multiplier=[Q, INT32_MAX, Q], shift=[30, 0, -31], **FULL)
    for h, w, c, kernel, stride, pads in POOL_PLAN:
        cbuild.avgpool(lib, x=rng.integers(-128, 128, (h, w, c), dtype=np.int8), kernel=kernel, stride=stride,
                       pads=pads, **FULL)
    for scale in (1e-5, 0.1, 16.0, 100.0):
        for depth in (1, 7, 1000, 4095):
            cbuild.softmax(lib, rng.integers(-128, 128, (3, depth), dtype=np.int8), *softmax_params(scale))
        cbuild.softmax(lib, np.full((1, 4095), 127, np.int8), *softmax_params(scale))
    cbuild.quantize(lib, np.float32([1e30, -1e30, np.inf, -np.inf, np.nan, 3.5]), 1e-3, -128)
    cbuild.dequantize(lib, i8([-128, 127]), 1e-3, 127)
    err = capfd.readouterr().err
    assert "runtime error" not in err, err


def test_requantize_extremes_match_numpy(lib):
    """The int32 edges: biases at INT32_MAX / INT32_MIN, the largest multiplier, shifts 30 and -31."""
    from mcucompile.quant.fixedpoint import requantize

    accs = np.array([INT32_MAX, -INT32_MAX - 1, 1, -1, 0, 1 << 29, -(1 << 29), 12345, -54321], dtype=np.int64)
    for multiplier in (0, Q, Q + 1, INT32_MAX):
        for shift in (-31, -30, -17, -1, 0, 1, 2, 7, 30):
            y = [cbuild.fully_connected(lib, x=i8([0]), w=i8([[1]]), bias=i32([a]), input_zp=0, output_zp=-5,
                                        multiplier=multiplier, shift=shift, **FULL)[0] for a in accs]
            assert y == requantize(accs, multiplier, shift, -5, -128, 127).tolist(), (multiplier, shift)


def _compile_for(cc: str, flags: list[str], tmp_path) -> list[str]:
    """Compile every ref kernel with cc; return the symbols they leave undefined."""
    undefined = set()
    for src in sorted((cbuild.RUNTIME / "ref").glob("*.c")):
        obj = tmp_path / (src.stem + ".o")
        subprocess.run([cc, *flags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-I", str(cbuild.RUNTIME / "include"), "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True, text=True)
        nm = cc.replace("gcc", "nm") if cc.endswith("gcc") else "nm"
        out = subprocess.run([nm, "-u", str(obj)], check=True, capture_output=True, text=True).stdout
        undefined |= {line.split()[-1] for line in out.splitlines() if line.strip()}
    return sorted(undefined)


@pytest.mark.parametrize("cpu, flags", [
    ("cortex-m4", ["-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]),
    ("cortex-m0", ["-mthumb"]),
])
def test_builds_for_cortex_m_with_no_dependencies_beyond_roundf(tmp_path, cpu, flags):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    undefined = _compile_for("arm-none-eabi-gcc", [f"-mcpu={cpu}", *flags], tmp_path)
    # The compiler's own runtime (libgcc's __aeabi_* helpers: soft float, division and 64-bit
    # multiply on a Cortex-M0) comes with every toolchain; of the C library only roundf is used.
    library_calls = {name for name in undefined if not name.startswith("__aeabi_")}
    assert library_calls <= {"roundf"}, undefined


@pytest.mark.parametrize("profile", [False, True])
def test_header_profiling_hooks(tmp_path, profile):
    """MCU_LAYER_BEGIN/END are statements that vanish without MCU_PROFILE and call the hooks with it."""
    src = tmp_path / "model.c"
    src.write_text('#include "mcu_nn.h"\n'
                   "void run(void);\n"
                   "void run(void) { MCU_LAYER_BEGIN(0); MCU_LAYER_END(0); }\n")
    flags = ["-DMCU_PROFILE"] if profile else []
    obj = tmp_path / "model.o"
    subprocess.run([cbuild.CC, *flags, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I",
                    str(cbuild.RUNTIME / "include"), "-c", str(src), "-o", str(obj)], check=True)
    undefined = subprocess.run(["nm", "-u", str(obj)], check=True, capture_output=True, text=True).stdout.split()
    hooks = {"mcu_profile_layer_begin", "mcu_profile_layer_end"}
    assert (hooks <= set(undefined)) == profile
