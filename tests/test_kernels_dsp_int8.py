"""The DSP kernels reading int8 weights (the "arm-dsp" family's conv, pointwise and FC kernels, the
default on cortex-m4/m7/m33): byte-identical with the numpy reference.

Host part: a numpy model of mcu_dsp8_matmul_3cols (pixels widened by SXTB16 / SXTB16 ROR 8 into
k-pairs, the packed weight words widened the same way, one per channel) gives the reference
accumulator from the packed words; the three-word records carry the unscaled bias, the shifts and
the output zero point, and their output stage equals the reference requantization. QEMU part: a plan
of small networks (built by test_kernels_dsp's helpers) with the default kernels on cortex-m4, -m7
and -m33, compared byte for byte with the simulation. Build part: a model whose int16 layout does
not fit a board's flash gets the int8 kernels under `auto`, without a fallback.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.build import build_from_graph, build_project
from mcucompile.errors import McuCompileError
from mcucompile.kernels.arm_dsp import channel_records, requantize_dsp
from mcucompile.kernels.arm_dsp_int8 import (column_pairs, pack_matmul_int8, records_compact, records_int8,
                                             records_packed)
from mcucompile.quant.fixedpoint import requantize
from mcucompile.project.fit import place
from mcucompile.run import run_nhwc
from mcucompile.targets import resolve

from .firmware_tools import need
from .test_kernels_dsp import _model, plan_case

TARGETS = ["cortex-m4", "cortex-m7", "cortex-m33"]

# Layers and forced zero points / clamps as in test_kernels_dsp.PLAN and FORCED. Covered: the first conv
# with 1 and 3 input channels (k4 % 8 of 4 and 0), 3x3 and 5x5, odd sizes and odd out_c; pointwise
# in_c % 4 tails of 1, 2 and 3 and k4 = 4; zero points -128 and 127.
PLAN = [
    ("rgb_odd", 3, (11, 9), [("conv", 5, 3, 2, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 11), ("pw", 6),
                             ("dw", 3, 2, [0, 0, 1, 1]), ("pw", 9), ("fc", 3)]),
    ("gray", 1, (9, 7), [("conv", 7, 3, 1, [1, 0, 1, 0]), ("pw", 16), ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 5),
                         ("fc", 4)]),
    ("extreme_zp", 3, (6, 5), [("conv", 8, 5, 1, [2, 2, 2, 2]), ("pw", 13), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 6)]),
    # 35 pixels (blocks of 3 and a last one of 2), in_c 5 (k4 8) and 34 (k4 36: four turns of 8 k and
    # the 4-k step), out_c 34 and 7, the FC over 7 inputs; a 4-channel 3x3 conv (k 36).
    ("tails", 5, (5, 7), [("pw", 34), ("pw", 7), ("conv", 9, 3, 1, [1, 1, 1, 1]), ("pw", 11), ("fc", 7)]),
    # The unrolled turns of 8 k-pairs entered part way after full turns: k4 28 (6 k-pairs over one turn),
    # 24 (4 over one), 32 (two turns, none over), 20 (2 over one); out_c 29 odd, 31 pixels.
    ("turns", 3, (6, 5), [("conv", 24, 3, 1, [1, 1, 1, 1]), ("pw", 29), ("pw", 20), ("fc", 5)]),
]
FORCED = {
    "extreme_zp": {-1: (127, None, None), 0: (-128, -128, 127), 1: (127, -128, 127), 2: (-128, -100, 90),
                   3: (-128, -128, 127)},
    "rgb_odd": {-1: (-128, None, None), 2: (-3, -3, 127)},
    "tails": {-1: (127, None, None), 0: (-128, -128, 127), 1: (127, -128, 127), 3: (-128, -128, 50)},
    "turns": {-1: (-128, None, None), 0: (5, 5, 127), 1: (-128, -128, 127)},
}
# {compute layer index: left shifts}: channel c's requantization becomes the same scale written as
# multiplier * 2^shift with shift = the c % len-th entry (>= 0, so the kernels' accumulator shift
# left = shift + 1 takes several values per layer); calibration alone gives shift < 0 (left = 1).
SHIFTED = {"rgb_odd": {0: (0, 1, 2), 2: (1, 3), 5: (0, 2)}, "gray": {0: (3, 0), 1: (0, 1, 2, 3)},
           "extreme_zp": {1: (1, 2, 0)}, "tails": {0: (0, 4), 4: (2, 0, 1)}, "turns": {1: (0, 3, 1)}}


def _shift(graph, shifted):
    compute = [n for n in graph.nodes if n.op in ("conv2d", "depthwise_conv2d", "fully_connected")]
    for index, lefts in shifted.items():
        attrs = compute[index].attrs
        multiplier, shift = np.asarray(attrs["multiplier"], np.int64), np.asarray(attrs["shift"], np.int64)
        assert multiplier.shape == shift.shape and multiplier.ndim == 1 and np.all(shift < 0)
        new_shift = np.resize(np.asarray(lefts, np.int64), shift.shape)
        attrs["multiplier"] = np.round(multiplier * 2.0 ** (shift - new_shift)).astype(np.int64)
        attrs["shift"] = new_shift


def _sxtb16(words, ror8=False):
    """numpy SXTB16 (ROR 8): bytes 0 and 2 (1 and 3) of each word, sign-extended."""
    b = np.asarray(words, np.int64).astype(np.uint32).view(np.int8).reshape(-1, 4).astype(np.int64)
    return b[:, [1, 3]] if ror8 else b[:, [0, 2]]


def dsp8_dot(words: np.ndarray, x: np.ndarray, cout: int) -> np.ndarray:
    """numpy model of mcu_dsp8_matmul_3cols' products for one pixel: x (K int8 values, natural order)
    as the kernels widen it (zero padded to k4, k-pairs (4g, 4g + 2), (4g + 1, 4g + 3)), times each
    channel pair's words widened by SXTB16 (channel c0) and SXTB16 ROR 8 (c1). [cout] sums."""
    k = len(x)
    pairs = column_pairs(k)
    xp = np.where(pairs >= 0, np.concatenate([np.asarray(x, np.int64), [0]])[pairs], 0)  # [k pair][2]
    n = pairs.shape[0]
    assert len(words) == (cout + 1) // 2 * n + 1 and words[-1] == 0  # the word the loop reads ahead
    body = np.asarray(words[:-1]).reshape(-1, n)
    acc = np.zeros(cout, np.int64)
    for c in range(cout):
        wc = _sxtb16(body[c // 2], ror8=c % 2 == 1)  # [k pair][2]
        acc[c] = (wc * xp).sum()
    return acc


@pytest.mark.parametrize("cout, k", [(5, 7), (4, 16), (1, 3), (6, 27), (3, 9), (2, 4), (7, 1)])
def test_packed_int8_words_give_the_reference_products(cout, k):
    rng = np.random.default_rng(cout * k)
    w = rng.integers(-128, 128, (cout, k))
    w[0, 0], w[-1, -1] = -128, 127
    x = rng.integers(-128, 128, k)
    words = pack_matmul_int8(w)
    np.testing.assert_array_equal(dsp8_dot(words, x, cout), w @ x)
    if cout % 2:  # the odd channel's partner: zero bytes 1 and 3 of every word
        n = column_pairs(k).shape[0]
        last = np.asarray(words[-1 - n:-1], np.int64).astype(np.uint32)
        assert not np.any(last & 0xFF00FF00)


def test_records_keep_the_bias_unscaled_and_carry_left():
    w = np.full((2, 4), 127)
    records, scale = channel_records(w, np.array([100, -7]), -128, [1 << 30, 1 << 30], [-3, 2], -7)
    r8 = records_int8(records, scale)
    assert r8.shape == (2, 5)
    assert list(r8[0]) == [100 + 128 * 4 * 127, 1 << 30, 8 - 7 * 16, 4, 1]
    assert list(r8[1]) == [-7 + 128 * 4 * 127, 1 << 30, 1 - 7 * 2, 1, 3]
    packed = records_packed(records, scale)
    assert packed.shape == (2, 3)
    assert list(packed[0]) == [100 + 128 * 4 * 127, 1 << 30, -13 << 16 | 1 << 8 | 4]  # 2 zp_out + 1 = -13
    assert list(packed[1]) == [-7 + 128 * 4 * 127, 1 << 30, -13 << 16 | 3 << 8 | 1]


def _output_stage(acc, packed_record, act_min, act_max):
    """numpy model of the kernels' output stage (mcu_dsp8_store3 / mcu_dsp8_store3x2), instruction by
    instruction: q = P - 1 (low byte right, q >> 16 = 2 zp_out + 1), A = acc << left, x = SMMULR(A, m),
    N = 2x + floor(2x / 2^32) (ADD, SMMLA by 1), then SSAT #8 of ((N ASR right) + odd) ASR 1."""
    _, mult, word = (int(v) for v in packed_record)
    q = word - 1
    right, left, odd = q & 0xFF, (word >> 8) & 0xFF, q >> 16
    a = np.asarray(acc, np.int64) << left
    assert np.all(np.abs(a) < 2 ** 30)  # the compiler's bound: the shift is exact
    x = (a * mult + (1 << 31)) >> 32
    n = 2 * x + ((2 * x) >> 32)
    v = np.clip(((n >> right) + odd) >> 1, -128, 127)
    return np.clip(v, act_min, act_max)


@pytest.mark.parametrize("shift, zp_out, act", [(-9, -128, (-128, 127)), (-1, 127, (-128, 127)), (0, 5, (-20, 90)),
                                                (3, -7, (-128, 127)), (-20, 0, (0, 127)), (7, 127, (-128, 127)),
                                                (-2, -1, (-128, 127))])
def test_packed_records_requantize_as_the_reference(shift, zp_out, act):
    rng = np.random.default_rng(abs(shift) + zp_out + 300)
    w = rng.integers(-128, 128, (3, 16))
    bias = rng.integers(-5000, 5000, 3)
    mult = [1 << 30, (1 << 31) - 1, 1518500250]
    plan = channel_records(w, bias, -128, mult, shift, zp_out)
    assert plan is not None
    records, scale = plan
    packed = records_packed(records, scale)
    x = rng.integers(-128, 128, (200, 16))
    x[0], x[1] = 127, -128
    for c in range(3):
        acc = bias[c] + (x + 128) @ w[c]  # the reference's accumulator (input zero point -128)
        kernel_acc = packed[c, 0] + x @ w[c]  # the kernels': folded bias plus the raw products
        np.testing.assert_array_equal(kernel_acc, acc)
        want = requantize(acc, np.int64(mult[c]), np.int64(shift), zp_out, *act)
        np.testing.assert_array_equal(_output_stage(kernel_acc, packed[c], *act), want)
        # Every accumulator near 0 (x = 0 with acc < 0, rounding ties) and a sample of the whole range
        # the compiler's bound allows (|acc| * 2^left < 2^30).
        limit = (1 << 30) // int(scale[c]) - 1
        many = np.concatenate([np.arange(-70000, 70000), rng.integers(-limit, limit + 1, 100000), [-limit, limit]])
        want = requantize(many, np.int64(mult[c]), np.int64(shift), zp_out, *act)
        np.testing.assert_array_equal(_output_stage(many, packed[c], *act), want)


def test_compact_records_layout_and_refusals():
    w = np.full((2, 4), 127)
    records, scale = channel_records(w, np.array([100, -7]), -128, [1 << 30, (1 << 31) - 1], [-3, -1], -7)
    compact = records_compact(records, scale)
    assert list(compact) == [-13, -(1 << 31), (100 + 128 * 4 * 127) << 8 | 2, -2, (-7 + 128 * 4 * 127) << 8 | 0]
    # Refused (the 3-word records instead): a left shift above 1, right = 0, a multiplier below 2^30,
    # a bias outside 24 bits.
    low = -(1 << 23) - 1  # input zero point 0: the folded bias is the bias, one below the 24-bit range
    for mult, shift, bias in [((1 << 30, 1 << 30), (-3, 1), (0, 0)), ((1 << 30, 1 << 30), (-3, 0), (0, 0)),
                              ((1 << 30, (1 << 30) - 1), (-3, -3), (0, 0)),
                              ((1 << 30, 1 << 30), (-3, -3), (0, 1 << 23)), ((1 << 30, 1 << 30), (-3, -3), (0, low))]:
        plan = channel_records(np.ones((2, 4)), np.array(bias), 0, list(mult), list(shift), 3)
        assert plan is not None and records_compact(*plan) is None, (mult, shift, bias)
    plan = channel_records(np.ones((2, 4)), np.array([0, -(1 << 23)]), 0, [1 << 30] * 2, [-3, -3], 3)
    assert records_compact(*plan) is not None  # the most negative bias that fits


def _output_stage_compact(acc, odd, record, act_min, act_max):
    """numpy model of the compact output stage (mcu_dsp8_store3c / MCU_DSP8_PAIR_STAGE), instruction by
    instruction: x = SMMLAR(acc, m2, acc), t = x + (x ASR 31), ASR by the word's low byte (right - 1),
    then SSAT #8 of (t + odd) ASR 1. Only the low byte of the shift word is a shift: the bias above it
    is read by the kernels' accumulator start."""
    m2, word = (int(v) for v in record)
    a = np.asarray(acc, np.int64)
    x = (a * m2 + (a << 32) + (1 << 31)) >> 32
    assert np.all(np.abs(x) < 2 ** 31)
    t = (x + (x >> 31)) >> (word & 0xFF)
    return np.clip(np.clip((t + odd) >> 1, -128, 127), act_min, act_max)


@pytest.mark.parametrize("shift, zp_out, act", [(-9, -128, (-128, 127)), (-1, 127, (-128, 127)), (-5, 5, (-20, 90)),
                                                (-20, 0, (0, 127)), (-2, -1, (-128, 127)), (-12, 100, (-128, 127))])
def test_compact_records_requantize_as_the_reference(shift, zp_out, act):
    rng = np.random.default_rng(abs(shift) + zp_out + 500)
    w = rng.integers(-128, 128, (3, 16))
    bias = rng.integers(-5000, 5000, 3)
    mult = [1 << 30, (1 << 31) - 1, 1518500250]
    records, scale = channel_records(w, bias, -128, mult, shift, zp_out)
    compact = records_compact(records, scale)
    assert compact is not None and len(compact) == 1 + 2 * 3
    odd, pairs = int(compact[0]), compact[1:].reshape(3, 2)
    assert odd == 2 * zp_out + 1
    x = rng.integers(-128, 128, (200, 16))
    for c in range(3):
        acc = bias[c] + (x + 128) @ w[c]
        np.testing.assert_array_equal((int(pairs[c, 1]) >> 8) + x @ w[c], acc)  # the bias above the shift byte
        limit = (1 << 30) // int(scale[c]) - 1
        many = np.concatenate([acc, np.arange(-70000, 70000), rng.integers(-limit, limit + 1, 100000), [-limit, limit]])
        want = requantize(many, np.int64(mult[c]), np.int64(shift), zp_out, *act)
        np.testing.assert_array_equal(_output_stage_compact(many, odd, pairs[c], *act), want)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, layers", PLAN, ids=[p[0] for p in PLAN])
def test_dsp_int8_kernels_equal_numpy_reference(tmp_path, name, channels, size, layers):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    graph, xq, reference = plan_case(tmp_path, name, channels, size, layers, model_seed=len(name) + 1, data_seed=13,
                                     forced=FORCED.get(name, {}),
                                     adjust=lambda g: _shift(g, SHIFTED.get(name, {})))
    # The depthwise layers' kernels are another family's (tests of their own).
    want = ["mcu_conv_s8_dsp8" if kind == "conv" else "mcu_pwconv_s8_dsp8" for kind, *_ in layers if kind != "dw"]
    for target_name in TARGETS:
        target, board = resolve(target_name, None)
        project = tmp_path / target_name
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True,
                                  kernels="auto")
        assert [l["kernel"] for l in report["layers"] if "avgpool" not in l["kernel"] and "dwconv" not in l["kernel"]] \
            == want
        # Both record forms run: the layers with a left shift above 1 (SHIFTED) the 3-word `_rec3` twins.
        rec3 = ["3-word" in l["variant"] for l in report["layers"] if l["kernel"] in want]
        assert not all(rec3) and any(rec3) == bool(SHIFTED.get(name)), rec3
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(4, -1), reference, err_msg=f"{name} on {target_name}")


def test_auto_keeps_int8_weights_where_int16_does_not_fit(tmp_path):
    # 16 * 3 * 9 + 16 * 640 + 640 * 1024 = 666,432 int8 weights: about 1.33 MB as int16 pairs
    # (arm-dsp-int16), more than the stm32f746's 1 MB of flash; "auto" stores them int8.
    model = _model(tmp_path / "between.onnx", 3, (4, 4), [("conv", 16, 3, 2, [1, 1, 1, 1]), ("pw", 640),
                                                          ("pw", 1024)], seed=5)
    logged = []
    report = build_project(model, None, tmp_path / "out", board="stm32f746", calib="random",
                           compile_firmware=False, log=logged.append)
    assert [l["kernel"] for l in report["layers"]] == ["mcu_conv_s8_dsp8", "mcu_pwconv_s8_dsp8",
                                                       "mcu_pwconv_s8_dsp8"]
    assert not any("does not fit" in line for line in logged), logged
    with pytest.raises(McuCompileError, match="does not fit|flash"):
        build_project(model, None, tmp_path / "out16", board="stm32f746", calib="random", compile_firmware=False,
                      kernels="arm-dsp-int16")
