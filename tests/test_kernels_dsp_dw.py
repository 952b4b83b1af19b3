"""mcu_dwconv3x3_s8_dsp8 (int8-weight depthwise 3x3 on the DSP extension): byte-identical with the numpy reference.

Host part: the weights are the filter's bytes; the records hold channel_records' bias unscaled and the
shifts and output zero point packed; the numpy model of the kernel's output stage
(right >= 1) equals the reference requantization; the in-place rule (dwconv3x3_inplace_ok) agrees with
a replay of the kernel's reads and writes on byte tags, both ways. QEMU part: a plan of odd shapes
(stride 1 and 2, asymmetric padding, channel counts 1 to 13, widths 1 to 40, zero points -128 and 127,
clamps narrower than int8), every depthwise layer on this kernel, on cortex-m4 and cortex-m7, compared
byte for byte with the simulation; one plan entry runs its depthwise layers in place.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.kernels.arm_dsp import (DWCONV3X3_WIDE, MAX_RIGHT, Depthwise3x3, channel_records,
                                        dwconv3x3_compact_fits, dwconv3x3_inplace_ok, dwconv3x3_records,
                                        dwconv3x3_requantize, pack_depthwise3x3_int8)
from mcucompile.project.fit import place
from mcucompile.quant.fixedpoint import requantize
from mcucompile.run import run_nhwc
from mcucompile.targets import resolve

from .firmware_tools import need
from .test_kernels_dsp import plan_case

TARGETS = ["cortex-m4", "cortex-m7"]
KERNEL = "mcu_dwconv3x3_s8_dsp8"

# (name, input channels, size, layers) as test_kernels_dsp.PLAN. Covered: the interior widening loop
# (width 40) and its edge words (pad_left 0 and 1, odd and even widths), widths 1 and 3 (all border,
# odd last output), stride 2 on odd and even widths with pads [0, 0, 1, 1] and [1, 0, 1, 0], stride 1
# with pads [1, 0, 0, 1], channel counts 1, 2, 3, 5, 6, 8, 13 (the tail channels of the widening).
PLAN = [
    ("odd", 3, (13, 11), [("conv", 5, 3, 2, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 6),
                          ("dw", 3, 2, [0, 0, 1, 1]), ("pw", 13), ("dw", 3, 1, [1, 0, 0, 1]), ("fc", 3)]),
    ("asym_s2", 1, (10, 9), [("conv", 2, 3, 1, [1, 1, 1, 1]), ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 7),
                             ("dw", 3, 2, [1, 0, 1, 0]), ("pw", 2), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 4)]),
    ("wide", 3, (6, 40), [("conv", 8, 3, 1, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 12),
                          ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 5)]),
    ("thin", 4, (7, 1), [("conv", 3, 3, 1, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 6),
                         ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 3)]),
    ("extreme_zp", 2, (5, 6), [("conv", 8, 3, 1, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("pw", 5),
                               ("dw", 3, 2, [1, 1, 1, 1]), ("pw", 6), ("dw", 3, 1, [1, 1, 1, 1])]),
]
# {compute layer index: (output zero point, act_min, act_max)}, -1 the graph input (test_kernels_dsp.FORCED).
FORCED = {
    "extreme_zp": {-1: (127, None, None), 0: (127, -128, 127), 1: (-128, -128, 127), 2: (127, -128, 127),
                   3: (-128, -100, 90), 4: (-128, -128, 127), 5: (100, 0, 127)},
    "odd": {-1: (-128, None, None), 0: (-128, -128, 127), 1: (-3, -3, 127), 3: (127, -128, 127)},
    "asym_s2": {1: (0, -128, 126)},
}


def test_weights_are_the_filter_bytes_and_records_pack_the_shifts():
    w = np.random.default_rng(1).integers(-128, 128, (3, 3, 7))
    w[0, 0, 0], w[2, 2, 6] = -128, 127
    words = pack_depthwise3x3_int8(w)
    assert words.dtype == np.int32 and len(words) == 16  # 63 bytes, padded to 64
    np.testing.assert_array_equal(words.view(np.int8)[:63], w.reshape(-1))
    assert words.view(np.int8)[63] == 0
    w2d = np.array([[1, -2, 3, 4, -5, 6, 7, -8, 127], [-128, 0, 0, 0, 0, 0, 0, 0, 1]])
    records, scale = channel_records(w2d, np.array([100, -7]), -128, [1 << 30, 1 << 29], [-3, 1], -5)
    bias = [100 + 128 * int(w2d[0].sum()), -7 + 128 * int(w2d[1].sum())]
    compact = dwconv3x3_records(records, scale, -5)
    assert compact.shape == (5,) and compact[0] == 0xFB  # header: the output zero point, compact form
    body = compact[1:].reshape(2, 2)
    assert list(body[:, 0]) == [1 << 30, 1 << 29]
    # bias << 8 | (left - 1) << 5 | right: left 1, right 3; left 2, right 0.
    assert list(body[:, 1]) == [bias[0] * 256 | 3, bias[1] * 256 | 1 << 5]
    wide = dwconv3x3_records(records, scale, -5, compact=False)
    assert wide.shape == (7,) and wide[0] == 0xFB | DWCONV3X3_WIDE
    body = wide[1:].reshape(2, 3)
    assert list(body[:, 0]) == bias and list(body[:, 1]) == [1 << 30, 1 << 29]
    assert list(body[:, 2]) == [3 | 1 << 8, 0 | 2 << 8]


def _decode_compact(word: int) -> tuple[int, int, int]:
    """(bias, right, left) of a compact record's second word, as mcu_nn_dsp.h defines it."""
    return word >> 8, word & 0x1F, (word >> 5 & 7) + 1


def test_compact_records_only_where_every_channel_fits():
    """The 24-bit bias edges, left up to 8, right up to MAX_RIGHT: compact, decoded back exactly; one
    channel out of range (bias 2^23 or -2^23 - 1, left 9) sends the whole layer to the wide form."""
    def records_of(bias, shift):
        w2d = np.array([[1, 0, 0, 0, 0, 0, 0, 0, 0]] * len(bias))
        return channel_records(w2d, np.array(bias), 0, [1 << 30] * len(bias), shift, 7)

    edge = [(1 << 23) - 1, -(1 << 23), 0, -1]
    for shift in ([-MAX_RIGHT] * 4, [-1, 0, 1, -12], [7, -3, 0, 2]):
        records, scale = records_of([b >> int(max(s, 0)) for b, s in zip(edge, shift)], shift)
        got = dwconv3x3_records(records, scale, 7)
        assert got[0] == 7, shift
        for ch, (mult, word) in enumerate(got[1:].reshape(-1, 2)):
            s = shift[ch]
            assert mult == 1 << 30
            assert _decode_compact(int(word)) == (edge[ch] >> int(max(s, 0)), max(-s, 0), max(s, 0) + 1)
    for bias, shift in (([1 << 23, 0], [0, 0]), ([0, -(1 << 23) - 1], [0, 0]), ([0, 1], [-1, 8])):
        records, scale = records_of(bias, shift)
        if records is None:  # channel_records refuses left 9 with these weights: no layer either way
            continue
        got = dwconv3x3_records(records, scale, 7)
        assert got[0] == 7 | DWCONV3X3_WIDE and list(got[1:].reshape(-1, 3)[:, 0]) == bias
    assert not dwconv3x3_compact_fits([0], [0], [9]) and not dwconv3x3_compact_fits([0], [32], [1])
    assert dwconv3x3_compact_fits([0], [31], [8])


def _replay_inplace(in_hw, out_hw, stride_h, pad_top) -> bool:
    """The kernel's order on one buffer: before output row oy it widens (reads) input rows up to
    oy * stride_h - pad_top + 2, then writes row oy. True when no read meets a byte already written."""
    (h, w), (ho, wo) = in_hw, out_hw
    written = np.zeros(max(h * w, ho * wo), bool)  # one byte per pixel: channels scale both sides alike
    widened = -1
    for oy in range(ho):
        last = min(oy * stride_h - pad_top + 2, h - 1)
        for iy in range(widened + 1, last + 1):
            if written[iy * w:(iy + 1) * w].any():
                return False
        widened = max(widened, last)
        written[oy * wo:(oy + 1) * wo] = True
    return True


def test_inplace_rule_equals_the_replay():
    seen = set()
    for h in range(1, 9):
        for w in range(1, 7):
            for sh in (1, 2, 3):
                for top in (0, 1, 2):
                    for left, right, bottom in ((0, 0, 0), (1, 1, 1), (2, 2, 2), (0, 2, 1)):
                        ho, wo = (h + top + bottom - 3) // sh + 1, (w + left + right - 3) // 1 + 1
                        if ho < 1 or wo < 1:
                            continue
                        want = _replay_inplace((h, w), (ho, wo), sh, top)
                        assert dwconv3x3_inplace_ok((h, w), (ho, wo), sh, top) == want, (h, w, sh, top, left)
                        seen.add(want)
    assert seen == {True, False}  # the plan has layers of both kinds


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, layers", PLAN, ids=[p[0] for p in PLAN])
def test_dwconv3x3_dsp8_equals_numpy_reference(tmp_path, name, channels, size, layers):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    _check_plan(tmp_path, name, channels, size, layers)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name", ["odd", "extreme_zp"])
def test_dwconv3x3_dsp8_wide_records_equal_numpy_reference(tmp_path, monkeypatch, name):
    """The wide (12-byte) records, which a layer whose values leave the compact form takes: forced here
    on every layer of two plan entries."""
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    monkeypatch.setattr(Depthwise3x3, "COMPACT", False)
    _check_plan(tmp_path, *next(p for p in PLAN if p[0] == name))


def _check_plan(tmp_path, name, channels, size, layers):
    """Builds one PLAN entry for each of TARGETS, all its depthwise layers on KERNEL, and compares the
    device's output with the simulation."""
    graph, xq, reference = plan_case(tmp_path, name, channels, size, layers, model_seed=len(name) + 7,
                                     data_seed=5, forced=FORCED.get(name, {}))
    for target_name in TARGETS:
        target, board = resolve(target_name, None)
        project = tmp_path / target_name
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True)
        dw = [l["kernel"] for l in report["layers"] if l["op"] == "depthwise_conv2d"]
        assert dw == [KERNEL] * sum(layer[0] == "dw" for layer in layers), dw
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(4, -1), reference, err_msg=f"{name} on {target_name}")


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_dwconv3x3_dsp8_in_place_equals_numpy_reference(tmp_path):
    """A depthwise layer between two buffers the arena can share only if it runs in place (the
    layer-by-layer schedule: the patch stage would run these layers band by band instead)."""
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    layers = [("conv", 16, 3, 1, [1, 1, 1, 1]), ("dw", 3, 1, [1, 1, 1, 1]), ("dw", 3, 2, [0, 0, 1, 1]),
              ("pw", 6)]
    graph, xq, reference = plan_case(tmp_path, "inplace", 3, (12, 10), layers, model_seed=3, data_seed=8,
                                     forced={})
    target, board = resolve("cortex-m7", None)
    report = build_from_graph(graph, target, tmp_path / "m7", board, place(board), compile_firmware=True,
                              memory="layer")
    by_index = {l["index"]: l for l in report["layers"]}
    inplace = [i for i in report["inplace_layers"] if by_index[i]["kernel"] == KERNEL]
    assert inplace, report["inplace_layers"]
    y = run_nhwc(tmp_path / "m7", xq)
    np.testing.assert_array_equal(y.reshape(4, -1), reference)


def test_output_stage_equals_the_reference():
    """DW3_STAGE's rewriting of the output stage for right >= 1, over edge cases and exact ties."""
    rng = np.random.default_rng(4)
    for shift in list(range(-12, 0)) + [-MAX_RIGHT]:
        for multiplier in (1 << 30, (1 << 31) - 1, 1518500250, 0):
            for zp in (0, -128, 127, -5):
                records, scale = channel_records(np.array([[1, -3, 7]]), np.array([5]), 0, multiplier, shift, zp)
                bound = (1 << 30) // int(scale[0]) - 1
                acc = np.concatenate([np.arange(-300, 300), rng.integers(-bound, bound, 5000), [bound, -bound],
                                      (np.arange(-50, 50) * 2 + 1) << (-shift - 1)]).astype(np.int64)
                got = dwconv3x3_requantize(acc * scale[0], records[0], -128, 127)
                want = requantize(acc, np.int64(multiplier), np.int64(shift), zp, -128, 127)
                np.testing.assert_array_equal(got, want, err_msg=f"shift {shift} multiplier {multiplier} zp {zp}")
