"""Average pooling with the Cortex-M DSP extension (runtime_c/arm_dsp/mcu_avgpool_s8_dsp.c).

The kernel sums four channels at a time in int16 lanes and divides by a multiply and a shift; both
are exact only for windows of at most MAX_COUNT elements (the proof is at the top of the C file), and it
has no scalar tail, so a larger window, a channel count that is not a multiple of 4, or a uint8 model's
layer that rounds ties up keeps the reference kernels.
"""
from __future__ import annotations

from .ref import avgpool_layer

MAX_COUNT = 255  # 128 * 255 < 2^15 keeps an int16 lane's sum exact; 128.5 * 255^2 < 2^24 the division
CODE_BYTES = 1024  # arm-none-eabi-gcc 12 -O2, cortex-m7: 668 bytes, half again as margin


class AvgPool:
    """Average pooling, ties away from zero, windows of at most MAX_COUNT elements, channels a multiple of 4."""

    def applies(self, ctx) -> bool:
        kh, kw = ctx.geometry.kernel
        return (ctx.target.has("dsp") and kh * kw <= MAX_COUNT and ctx.geometry.out_shape[2] % 4 == 0
                and ctx.node.attrs.get("rounding", "half_away") != "half_up")

    def build(self, ctx):
        return avgpool_layer(ctx, "mcu_avgpool_s8_dsp", "Arm DSP, 4 channels a SXTAB16 pair, division by multiply",
                             "", folder="arm_dsp", code_bytes=CODE_BYTES)
