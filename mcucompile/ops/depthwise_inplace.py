"""In-place depthwise convolution: the output overwrites its own input, through a ring of row buffers.

The kernel (runtime_c/ref/mcu_dwconv_s8_inplace_ref.c) gets one buffer holding the input
[H][W][C] and leaves the output [Ho][Wo][C] in it, both from byte 0. Its numbers are those of
depthwise.depthwise_conv2d_s8; what this module adds is the schedule and the scratch it needs.

The rule. Output row oy reads input rows from oy * stride_h - pad_top upwards, and that first row
never decreases with oy. So once output rows 0..j are computed, the rows still to come read no
byte below low(j) * W * C, with low(j) = max(0, (j + 1) * stride_h - pad_top). Output row y lives
at bytes [y * Wo * C, (y + 1) * Wo * C), so it may be written in place as soon as

    (y + 1) * Wo * C <= low(j) * W * C

or once no input is needed any more (every row computed, or low(j) >= H). Rows are computed
into a ring of row buffers in scratch and copied out in order as soon as the rule allows; the
ring size is the most rows ever held at once, which depends only on shapes, stride_h and pad_top
(kernel_h only bounds pad_top), so the compiler sizes the scratch ahead of time.

`simulate_inplace` replays the schedule on byte tags and fails if any write lands on an input byte
a later row still reads; the tests run it over many shapes to check the rule.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..errors import ShapeError

# rows_placeable(last, in_hw, out_hw, channels, stride_h, pad_top) -> rows that may be in place
PlaceRule = Callable[[int, tuple[int, int], tuple[int, int], int, int, int], int]


def rows_placeable(last: int, in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int, stride_h: int,
                   pad_top: int) -> int:
    """How many output rows, counting from row 0, may be in their final place once rows 0..last are computed."""
    (h, w), (ho, wo) = in_hw, out_hw
    computed = last + 1
    low = computed * stride_h - pad_top  # lowest input row a later output row reads
    if computed == ho or low >= h:
        return computed
    if low <= 0:
        return 0
    return min(computed, low * w * channels // (wo * channels))


def schedule(in_hw, out_hw, channels: int, stride_h: int, pad_top: int,
             rule: PlaceRule = rows_placeable) -> Iterator[tuple[int, range]]:
    """The kernel's steps: (output row computed into the ring, rows then copied to their place)."""
    placed = 0
    for oy in range(out_hw[0]):
        ready = rule(oy, in_hw, out_hw, channels, stride_h, pad_top)
        yield oy, range(placed, ready)
        placed = max(placed, ready)


def _check(in_hw, out_hw, channels, kernel_h, stride_h, pad_top) -> None:
    (h, w), (ho, wo) = in_hw, out_hw
    if min(h, w, ho, wo, channels, kernel_h, stride_h) < 1 or not 0 <= pad_top < kernel_h:
        raise ShapeError(f"in-place depthwise: bad geometry in {in_hw} -> out {out_hw} x {channels} channels, "
                         f"kernel_h {kernel_h}, stride_h {stride_h}, pad_top {pad_top}")


def inplace_row_buffers(in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int, kernel_h: int,
                        stride_h: int, pad_top: int) -> int:
    """Ring size of mcu_dwconv_s8_inplace_ref: the most output rows held in scratch at once (the
    row being computed included)."""
    _check(in_hw, out_hw, channels, kernel_h, stride_h, pad_top)
    most = placed = 0
    for oy, copied in schedule(in_hw, out_hw, channels, stride_h, pad_top):
        most = max(most, oy + 1 - placed)
        placed = copied.stop
    return most


def inplace_scratch_bytes(in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int, kernel_h: int,
                          stride_h: int, pad_top: int) -> int:
    """Scratch bytes of mcu_dwconv_s8_inplace_ref (the C twin is mcu_dwconv_s8_inplace_scratch_bytes)."""
    return inplace_row_buffers(in_hw, out_hw, channels, kernel_h, stride_h, pad_top) * out_hw[1] * channels


def inplace_buffer_bytes(in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int) -> int:
    """Size of the shared input/output buffer: the larger of the two tensors."""
    return max(in_hw[0] * in_hw[1], out_hw[0] * out_hw[1]) * channels


def _bytes_read(oy: int, in_hw, out_w: int, channels, kernel, stride, pad_top_left) -> np.ndarray:
    """Offsets of every input byte output row oy reads (the taps inside the image)."""
    (h, w), (kh, kw), (sh, sw), (top, left) = in_hw, kernel, stride, pad_top_left
    rows = oy * sh - top + np.arange(kh)
    rows = rows[(rows >= 0) & (rows < h)]
    cols = np.unique((np.arange(out_w)[:, None] * sw - left + np.arange(kw)).ravel())
    cols = cols[(cols >= 0) & (cols < w)]
    within_row = (cols[:, None] * channels + np.arange(channels)).ravel()
    return (rows[:, None] * (w * channels) + within_row).ravel()


def simulate_inplace(in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int, kernel: tuple[int, int],
                     stride: tuple[int, int], pad_top_left: tuple[int, int], rule: PlaceRule = rows_placeable) -> int:
    """Replay the kernel's reads and writes on byte tags; return the ring rows it used.

    Every byte of the buffer carries a tag: input byte i is i, output byte k is -1 - k. The replay
    counts, for each input byte, the output rows that still have to read it, and raises
    AssertionError if a row lands on a byte with a read outstanding, if a row reads a byte no
    longer holding its input, if the ring would overwrite a row not yet placed, or if the buffer
    does not end up holding exactly the output.
    """
    (h, w), (ho, wo) = in_hw, out_hw
    kh = kernel[0]
    sh, top = stride[0], pad_top_left[0]
    _check(in_hw, out_hw, channels, kh, sh, top)
    row_bytes = wo * channels
    out_bytes = ho * row_bytes
    ring = inplace_row_buffers(in_hw, out_hw, channels, kh, sh, top)
    where = f"in {in_hw} -> out {out_hw} x {channels}, kernel {kernel}, stride {stride}, pad top/left {pad_top_left}"

    buffer = np.full(inplace_buffer_bytes(in_hw, out_hw, channels), np.iinfo(np.int64).min, dtype=np.int64)
    buffer[: h * w * channels] = np.arange(h * w * channels)
    reads = [_bytes_read(oy, in_hw, wo, channels, kernel, stride, pad_top_left) for oy in range(ho)]
    pending_reads = np.zeros(buffer.size, dtype=np.int64)
    for r in reads:
        np.add.at(pending_reads, r, 1)

    slots: list[int | None] = [None] * ring
    most = 0
    for oy, copied in schedule(in_hw, out_hw, channels, sh, top, rule):
        if not np.array_equal(buffer[reads[oy]], reads[oy]):
            bad = reads[oy][buffer[reads[oy]] != reads[oy]][0]
            raise AssertionError(f"output row {oy} reads input byte {bad}, already overwritten; {where}")
        np.subtract.at(pending_reads, reads[oy], 1)
        if slots[oy % ring] is not None:
            raise AssertionError(f"output row {oy} overwrites ring slot {oy % ring} still holding row "
                                 f"{slots[oy % ring]}; {where}")
        slots[oy % ring] = oy
        most = max(most, sum(s is not None for s in slots))
        for y in copied:
            if slots[y % ring] != y:
                raise AssertionError(f"row {y} is placed before it is computed; {where}")
            span = slice(y * row_bytes, (y + 1) * row_bytes)
            if pending_reads[span].any():
                bad = y * row_bytes + int(np.flatnonzero(pending_reads[span])[0])
                raise AssertionError(f"placing output row {y} after row {oy} overwrites input byte {bad}, "
                                     f"which {pending_reads[bad]} later row(s) still read; {where}")
            buffer[span] = -1 - np.arange(span.start, span.stop)
            slots[y % ring] = None
    if any(s is not None for s in slots) or not np.array_equal(buffer[:out_bytes], -1 - np.arange(out_bytes)):
        raise AssertionError(f"the buffer does not end up holding the whole output; {where}")
    return most
