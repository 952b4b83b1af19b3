"""The in-place depthwise kernel (mcu_dwconv_s8_inplace_ref) and its schedule (ops/depthwise_inplace.py).

(a) the schedule: the numpy replay proves, shape by shape, that no row is placed over an input
byte a later row still reads; a deliberately eager rule is caught; the stated ring sizes hold.
(b) the C kernel, over a plan of shapes, against the numpy int8 reference, byte for byte, with
guard bytes around the buffer and the scratch; the C and Python scratch sizes agree.
"""
from __future__ import annotations

import ctypes
import itertools
import subprocess

import numpy as np
import pytest

from . import cbuild
from .test_kernels_c import assert_same_bytes, requant_params, seed_of
from mcucompile.errors import ShapeError
from mcucompile.ops.depthwise import depthwise_conv2d_s8
from mcucompile.ops.depthwise_inplace import (inplace_buffer_bytes, inplace_row_buffers, inplace_scratch_bytes,
                                              rows_placeable, simulate_inplace)

INPLACE = "mcu_dwconv_s8_inplace_ref"
GUARD = 16  # bytes checked on each side of the buffer and of the scratch
GUARD_BYTE = 0x5A


def out_size(size, kernel, stride, before, after):
    return (size + before + after - kernel) // stride + 1


def geometry(h, w, kernel, stride, pads):
    """(in_hw, out_hw) of a layer; pads are (top, left, bottom, right)."""
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, stride, pads
    return (h, w), (out_size(h, kh, sh, top, bottom), out_size(w, kw, sw, left, right))


def all_shapes():
    """Every small layer the kernels accept: H, W in 1..7, kernels 1/2/3/5, strides 1..3, pads below the kernel."""
    for h, w, kh, kw, sh, sw in itertools.product(range(1, 8), range(1, 8), (1, 2, 3, 5), (1, 3), (1, 2, 3), (1, 2)):
        for top, left, bottom, right in itertools.product(range(kh), range(kw), range(kh), range(kw)):
            if h + top + bottom >= kh and w + left + right >= kw:
                yield h, w, (kh, kw), (sh, sw), (top, left, bottom, right)


# --- (a) the schedule ----------------------------------------------------------------------------

def test_schedule_never_overwrites_input_still_needed():
    """The replay raises on any write over an input byte a later row reads; run it on every small shape."""
    count = 0
    for h, w, kernel, stride, pads in all_shapes():
        if (h * 7 + w + kernel[0] + pads[1]) % 5:  # a deterministic fifth of ~40k shapes keeps this fast
            continue
        in_hw, out_hw = geometry(h, w, kernel, stride, pads)
        for channels in (1, 3):
            used = simulate_inplace(in_hw, out_hw, channels, kernel, stride, pads[:2])
            assert used == inplace_row_buffers(in_hw, out_hw, channels, kernel[0], stride[0], pads[0])
            count += 1
    assert count > 5000


@pytest.mark.parametrize("h, w, c, kernel, stride, pads", [
    (7, 7, 3, (3, 3), (1, 1), (1, 1, 1, 1)),
    (9, 9, 2, (5, 5), (2, 2), (2, 2, 2, 2)),
    (9, 9, 2, (5, 5), (1, 1), (2, 2, 2, 2)),
    (3, 3, 4, (3, 3), (1, 1), (2, 2, 2, 2)),
])
def test_an_eager_rule_is_caught(h, w, c, kernel, stride, pads):
    """Placing one row more than the rule allows must trip the replay: the check has teeth."""
    in_hw, out_hw = geometry(h, w, kernel, stride, pads)

    def eager(last, *args):
        return min(last + 1, rows_placeable(last, *args) + 1)

    with pytest.raises(AssertionError, match="overwrites input byte|already overwritten"):
        simulate_inplace(in_hw, out_hw, c, kernel, stride, pads[:2], rule=eager)


def test_ring_sizes_stated_in_the_header():
    """Output no wider than the input: 1 row if pad_top < stride_h, at most 2 if pad_top == stride_h;
    never more than out_h rows."""
    for h, w, kernel, stride, pads in all_shapes():
        in_hw, out_hw = geometry(h, w, kernel, stride, pads)
        rows = inplace_row_buffers(in_hw, out_hw, 1, kernel[0], stride[0], pads[0])
        assert 1 <= rows <= out_hw[0]
        if out_hw[1] <= w and pads[0] < stride[0]:
            assert rows == 1, (h, w, kernel, stride, pads)
        if out_hw[1] <= w and pads[0] == stride[0]:
            assert rows <= 2, (h, w, kernel, stride, pads)


# A 3x3 "same" layer: 2 rows at stride 1, 1 row at stride 2; padding that widens the output needs more.
@pytest.mark.parametrize("in_hw, out_hw, c, kh, sh, top, rows", [
    ((48, 48), (48, 48), 8, 3, 1, 1, 2),
    ((48, 48), (24, 24), 16, 3, 2, 1, 1),
    ((48, 48), (24, 24), 16, 3, 2, 0, 1),
    ((10, 10), (8, 8), 4, 3, 1, 0, 1),
    ((1, 1), (1, 1), 5, 3, 1, 1, 1),
    ((3, 3), (5, 5), 7, 3, 1, 2, 4),   # low(j) = j - 1 rows of 3 px vs output rows of 5 px
])
def test_ring_rows_exact(in_hw, out_hw, c, kh, sh, top, rows):
    assert inplace_row_buffers(in_hw, out_hw, c, kh, sh, top) == rows
    assert inplace_scratch_bytes(in_hw, out_hw, c, kh, sh, top) == rows * out_hw[1] * c


def test_bad_geometry_is_a_shape_error():
    with pytest.raises(ShapeError, match="pad_top 3"):
        inplace_row_buffers((5, 5), (5, 5), 3, 3, 1, 3)
    with pytest.raises(ShapeError, match="stride_h 0"):
        inplace_scratch_bytes((5, 5), (5, 5), 3, 3, 0, 1)


# --- (b) the C kernel ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lib():
    return bind_inplace(cbuild.load_runtime())


def bind_inplace(lib):
    cbuild.bind(lib, INPLACE, like="mcu_dwconv_s8_ref")  # same argument types: buffer and scratch are int8 *
    scratch = lib.mcu_dwconv_s8_inplace_scratch_bytes
    scratch.argtypes = [cbuild.McuShape, cbuild.McuShape, ctypes.POINTER(cbuild.McuConvParams)]
    scratch.restype = ctypes.c_int32
    return lib


def c_scratch_bytes(lib, in_hw, out_hw, channels, kernel, stride, pads) -> int:
    params = cbuild.McuConvParams(*kernel, *stride, pads[0], pads[1], cbuild.McuQuantIo(0, 0, -128, 127))
    shapes = cbuild.McuShape(*in_hw, channels), cbuild.McuShape(*out_hw, channels)
    return lib.mcu_dwconv_s8_inplace_scratch_bytes(*shapes, ctypes.byref(params))


def run_inplace(lib, *, x, w, bias, stride, pads, input_zp, output_zp, multiplier, shift, act_min, act_max):
    """Copy x into a buffer of max(in, out) bytes, run the kernel there, return the output bytes.
    Fails if the kernel writes outside the buffer or outside the scratch it asked for."""
    h, wd, c = x.shape
    kh, kw, _ = w.shape
    in_hw, out_hw = geometry(h, wd, (kh, kw), stride, pads)
    rng = np.random.default_rng(h * 1000 + wd)
    size = inplace_buffer_bytes(in_hw, out_hw, c)
    scratch_size = c_scratch_bytes(lib, in_hw, out_hw, c, (kh, kw), stride, pads)
    # junk past the input, so a kernel that read it as input would show
    buffer = np.concatenate([np.full(GUARD, GUARD_BYTE), x.reshape(-1), rng.integers(-128, 128, size - x.size),
                             np.full(GUARD, GUARD_BYTE)]).astype(np.int8)
    scratch = np.concatenate([np.full(GUARD, GUARD_BYTE), rng.integers(-128, 128, scratch_size),
                              np.full(GUARD, GUARD_BYTE)]).astype(np.int8)
    params = cbuild.McuConvParams(kh, kw, *stride, pads[0], pads[1], cbuild._io(input_zp, output_zp, act_min, act_max))
    q, _keep = cbuild._quant(multiplier, shift, c)
    bias = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    at = lambda a, offset=0: ctypes.cast(a.ctypes.data + offset, ctypes.POINTER(ctypes.c_int8))  # noqa: E731
    getattr(lib, INPLACE)(ctypes.byref(params), ctypes.byref(q), cbuild.McuShape(h, wd, c), at(buffer, GUARD),
                          cbuild.McuShape(*out_hw, c), at(np.ascontiguousarray(w)),
                          None if bias is None else bias.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                          at(scratch, GUARD))
    for name, a in (("buffer", buffer), ("scratch", scratch)):
        assert (a[:GUARD] == GUARD_BYTE).all() and (a[-GUARD:] == GUARD_BYTE).all(), f"wrote outside the {name}"
    return buffer[GUARD: GUARD + out_hw[0] * out_hw[1] * c].reshape(*out_hw, c)


# (H, W, C, kernel, stride, pads (top, left, bottom, right))
INPLACE_PLAN = [
    (1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (1, 1, 5, (3, 3), (1, 1), (1, 1, 1, 1)),       # 1x1 spatial, all but the centre tap padded
    (1, 1, 3, (3, 3), (2, 2), (0, 0, 2, 2)),
    (7, 7, 3, (3, 3), (1, 1), (1, 1, 1, 1)),       # "same" at stride 1: a 2-row ring
    (12, 12, 4, (3, 3), (1, 1), (1, 1, 1, 1)),
    (8, 8, 5, (3, 3), (2, 2), (0, 0, 1, 1)),       # TF "SAME" at stride 2: bottom/right padding only
    (8, 8, 6, (3, 3), (2, 2), (1, 1, 1, 1)),       # PyTorch padding=1 at stride 2
    (9, 7, 7, (3, 3), (2, 2), (1, 1, 1, 1)),       # odd sizes at stride 2
    (9, 7, 7, (3, 3), (2, 2), (0, 0, 0, 0)),
    (6, 5, 3, (3, 3), (1, 1), (0, 0, 0, 0)),       # "valid": output smaller than input
    (5, 6, 2, (3, 3), (1, 2), (1, 0, 1, 2)),       # mixed strides, lopsided pads
    (6, 6, 3, (3, 3), (2, 1), (1, 0, 0, 2)),       # bottom/right differ from top/left
    (7, 6, 3, (1, 1), (1, 1), (0, 0, 0, 0)),
    (7, 6, 9, (1, 1), (2, 2), (0, 0, 0, 0)),
    (9, 9, 3, (5, 5), (1, 1), (2, 2, 2, 2)),       # pad_top > stride: a 3-row ring
    (9, 8, 3, (5, 5), (2, 2), (2, 2, 2, 2)),
    (6, 6, 3, (5, 5), (2, 2), (1, 1, 2, 2)),
    (5, 5, 2, (5, 5), (1, 1), (4, 0, 0, 4)),       # output rows wider than input rows
    (3, 3, 7, (3, 3), (1, 1), (2, 2, 2, 2)),       # output larger than input: buffer sized by the output
    (2, 1, 3, (3, 3), (1, 1), (2, 0, 2, 2)),
    (1, 9, 3, (3, 3), (1, 1), (1, 1, 1, 1)),
    (9, 1, 3, (3, 3), (2, 1), (1, 1, 1, 1)),
    (4, 9, 5, (1, 3), (1, 2), (0, 1, 0, 1)),
    (9, 4, 6, (3, 1), (2, 1), (1, 0, 2, 0)),
    (6, 6, 3, (2, 2), (2, 2), (0, 0, 0, 0)),
    (11, 10, 13, (3, 3), (1, 1), (1, 1, 1, 1)),
]

# (input zero point, output zero point) for the three cases of each plan entry: the int8 extremes
# both ways round, then an ordinary pair.
ZERO_POINT_PAIRS = ((-128, 127), (127, -128), (0, -3))


def inplace_case(rng, h, w, c, kernel, stride, pads, input_zp, output_zp):
    multiplier, shift = requant_params(rng, c)
    act_min, act_max = (-128, 127) if rng.random() < 0.7 else (-128, int(rng.integers(-20, 127)))
    return dict(x=rng.integers(-128, 128, (h, w, c), dtype=np.int8),
                w=rng.integers(-127, 128, (*kernel, c), dtype=np.int8),
                bias=rng.integers(-(1 << 16), 1 << 16, c).astype(np.int32) if rng.random() < 0.8 else None,
                stride=stride, pads=pads, input_zp=input_zp, output_zp=output_zp, multiplier=multiplier,
                shift=shift, act_min=act_min, act_max=act_max)


@pytest.mark.parametrize("plan", INPLACE_PLAN, ids=str)
def test_inplace_matches_numpy(lib, plan):
    rng = np.random.default_rng(seed_of(plan))
    for input_zp, output_zp in ZERO_POINT_PAIRS:
        case = inplace_case(rng, *plan, input_zp, output_zp)
        expected = depthwise_conv2d_s8(**case)
        assert_same_bytes(run_inplace(lib, **case), expected, case)
        # and the out-of-place kernel gives the same bytes (they share the row routine)
        assert_same_bytes(cbuild.depthwise(lib, **case), expected, case)


@pytest.mark.parametrize("plan", INPLACE_PLAN, ids=str)
def test_schedule_holds_on_the_plan(plan):
    h, w, c, kernel, stride, pads = plan
    in_hw, out_hw = geometry(h, w, kernel, stride, pads)
    simulate_inplace(in_hw, out_hw, c, kernel, stride, pads[:2])


def test_c_and_python_scratch_sizes_agree(lib):
    checked = 0
    for h, w, kernel, stride, pads in all_shapes():
        in_hw, out_hw = geometry(h, w, kernel, stride, pads)
        c = 1 + (h * 3 + w) % 6
        expected = inplace_scratch_bytes(in_hw, out_hw, c, kernel[0], stride[0], pads[0])
        assert c_scratch_bytes(lib, in_hw, out_hw, c, kernel, stride, pads) == expected, (h, w, c, kernel, stride, pads)
        checked += 1
    assert checked > 20000


# MobileNetV1 alpha 0.25 at 96x96 (PyTorch padding=1): the 13 depthwise layers, deduplicated.
MOBILENET_025_96 = [
    # (in_hw, channels, stride, scratch rows, scratch bytes)
    ((48, 48), 8, 1, 2, 768),
    ((48, 48), 16, 2, 1, 384),
    ((24, 24), 32, 1, 2, 1536),
    ((24, 24), 32, 2, 1, 384),
    ((12, 12), 64, 1, 2, 1536),
    ((12, 12), 64, 2, 1, 384),
    ((6, 6), 128, 1, 2, 1536),
    ((6, 6), 128, 2, 1, 384),
    ((3, 3), 256, 1, 2, 1536),
]


@pytest.mark.parametrize("in_hw, c, stride, rows, scratch", MOBILENET_025_96, ids=str)
def test_mobilenet_scratch(lib, in_hw, c, stride, rows, scratch):
    pads = (1, 1, 1, 1)
    in_hw, out_hw = geometry(*in_hw, (3, 3), (stride, stride), pads)
    assert inplace_row_buffers(in_hw, out_hw, c, 3, stride, 1) == rows
    assert inplace_scratch_bytes(in_hw, out_hw, c, 3, stride, 1) == scratch
    assert c_scratch_bytes(lib, in_hw, out_hw, c, (3, 3), (stride, stride), pads) == scratch
    # TF "SAME" padding at stride 2 (bottom/right only) needs the same ring
    if stride == 2:
        assert inplace_scratch_bytes(in_hw, out_hw, c, 3, stride, 0) == scratch


def test_no_undefined_behaviour_under_ubsan(capfd):
    try:
        lib = bind_inplace(cbuild.load_runtime(sanitize=True))
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no UBSan runtime for {cbuild.CC}: {e}")
    rng = np.random.default_rng(7)
    for plan in INPLACE_PLAN:
        for input_zp, output_zp in ZERO_POINT_PAIRS:
            run_inplace(lib, **inplace_case(rng, *plan, input_zp, output_zp))
    err = capfd.readouterr().err
    assert "runtime error" not in err, err
