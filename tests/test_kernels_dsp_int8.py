"""The "arm-dsp-int8" kernels (DSP kernels reading int8 weights): byte-identical with the numpy reference.

Host part: the packed int8 words, widened the way the kernels widen them, pair with the columns the
kernels build; the five-word records carry the unscaled bias and the left shift. QEMU part: a plan of
small networks (built by test_kernels_dsp's helpers) with `--kernels arm-dsp-int8` on cortex-m4, -m7
and -m33, compared byte for byte with the simulation. Build part: a model whose int16 layout does not
fit a board's flash but whose int8 layout does gets these kernels under `auto`.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.build import build_from_graph, build_project
from mcucompile.kernels.arm_dsp import channel_records, pointwise_order
from mcucompile.kernels.arm_dsp_int8 import pack_matmul_int8, records_int8
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
]
FORCED = {
    "extreme_zp": {-1: (127, None, None), 0: (-128, -128, 127), 1: (127, -128, 127), 2: (-128, -100, 90),
                   3: (-128, -128, 127)},
    "rgb_odd": {-1: (-128, None, None), 2: (-3, -3, 127)},
}
# {compute layer index: left shifts}: channel c's requantization becomes the same scale written as
# multiplier * 2^shift with shift = the c % len-th entry (>= 0, so the kernels' accumulator shift
# left = shift + 1 takes several values per layer); calibration alone gives shift < 0 (left = 1).
SHIFTED = {"rgb_odd": {0: (0, 1, 2), 2: (1, 3), 5: (0, 2)}, "gray": {0: (3, 0), 1: (0, 1, 2, 3)},
           "extreme_zp": {1: (1, 2, 0)}}


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


@pytest.mark.parametrize("cout, k, pointwise", [(5, 7, True), (4, 16, True), (1, 3, True), (6, 27, False),
                                                (3, 9, False)])
def test_packed_int8_words_pair_with_the_columns(cout, k, pointwise):
    rng = np.random.default_rng(cout * k)
    w = rng.integers(-128, 128, (cout, k))
    x = rng.integers(-128, 128, k)
    order = pointwise_order(k) if pointwise else np.arange(k)
    k4 = (k + 3) // 4 * 4
    # One pixel's column as the kernels lay it out: k-pair i holds x[order[2i]], x[order[2i + 1]].
    col = np.zeros(k4, np.int64)
    col[:k] = x[order]
    col = col.reshape(-1, 2, 2)  # [group][word lo / hi][pair]
    words = pack_matmul_int8(w, order).reshape(-1, k4 // 4, 2)  # [channel pair][group][c0 / c1]
    for c in range(cout):
        word = words[c // 2, :, c % 2]
        acc = (_sxtb16(word) * col[:, 0]).sum() + (_sxtb16(word, ror8=True) * col[:, 1]).sum()
        assert acc == int(w[c] @ x), c
    if cout % 2:
        assert not words[-1, :, 1].any()  # the odd channel's partner


def test_records_keep_the_bias_unscaled_and_carry_left():
    w = np.full((2, 4), 127)
    records, scale = channel_records(w, np.array([100, -7]), -128, [1 << 30, 1 << 30], [-3, 2], -7)
    r8 = records_int8(records, scale)
    assert r8.shape == (2, 5)
    assert list(r8[0]) == [100 + 128 * 4 * 127, 1 << 30, 8 - 7 * 16, 4, 1]
    assert list(r8[1]) == [-7 + 128 * 4 * 127, 1 << 30, 1 - 7 * 2, 1, 3]


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, layers", PLAN, ids=[p[0] for p in PLAN])
def test_dsp_int8_kernels_equal_numpy_reference(tmp_path, name, channels, size, layers):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    graph, xq, reference = plan_case(tmp_path, name, channels, size, layers, model_seed=len(name) + 1, data_seed=13,
                                     forced=FORCED.get(name, {}),
                                     adjust=lambda g: _shift(g, SHIFTED.get(name, {})))
    want = ["mcu_dwconv_s8_dsp" if kind == "dw" else "mcu_conv_s8_dsp8" if kind == "conv" else "mcu_pwconv_s8_dsp8"
            for kind, *_ in layers]
    for target_name in TARGETS:
        target, board = resolve(target_name, None)
        project = tmp_path / target_name
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True,
                                  kernels="arm-dsp-int8")
        assert [l["kernel"] for l in report["layers"] if "avgpool" not in l["kernel"]] == want
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(4, -1), reference, err_msg=f"{name} on {target_name}")


def test_auto_falls_back_to_int8_dsp_weights_where_int16_does_not_fit(tmp_path):
    # 16 * 3 * 9 + 16 * 640 + 640 * 1024 = 666,432 int8 weights: about 1.33 MB as int16 pairs, more
    # than the stm32f746's 1 MB of flash; as int8 they fit.
    model = _model(tmp_path / "between.onnx", 3, (4, 4), [("conv", 16, 3, 2, [1, 1, 1, 1]), ("pw", 640),
                                                          ("pw", 1024)], seed=5)
    logged = []
    report = build_project(model, None, tmp_path / "out", board="stm32f746", calib="random",
                           compile_firmware=False, log=logged.append)
    assert [l["kernel"] for l in report["layers"]] == ["mcu_conv_s8_dsp8", "mcu_pwconv_s8_dsp8",
                                                       "mcu_pwconv_s8_dsp8"]
    assert any("does not fit stm32f746; built with --kernels arm-dsp-int8" in line for line in logged), logged
