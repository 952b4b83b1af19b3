"""Kernel variants, chosen per layer ahead of time.

Shapes are static, so the compiler decides here which C function runs each layer and lays out the
constants the way that function reads them. Every op has one table (TABLE below) of (name, variant)
in priority order; `--kernels` allows some names (KERNEL_SETS, plus the reference ones always), and
the first allowed variant whose `applies(ctx)` takes the layer on this target wins. The portable
reference is last and takes everything. A variant names the runtime_c files it needs (only those
are copied into a project) and the call template that renders its C call.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from ..errors import McuCompileError
from ..ir import Graph, Node
from . import arm_dsp, arm_dsp_int8, arm_dsp_pool, arm_mve, cmsis_nn, neon, ref, wzp
from .common import Geometry, layer_geometry

# Choices for `--kernels` -> the variant names they allow besides the reference ones (REFERENCE).
# "auto" takes the families its target lists (targets.Target.kernel_families, data), the best
# variant first (each variant's `applies` also checks the ISA and the layer);
# "ref" forces the portable reference everywhere (for comparisons); a family's name takes only that
# family's variants and the reference (e.g. the DSP path on a Helium core). The DSP family ("arm-dsp")
# keeps int8 weights in flash for conv, pointwise and FC (faster in cycles than its int16 kernels);
# "arm-dsp-int16" (those int16 kernels) and "cmsis-nn" (a library of the user's) are never chosen by
# "auto"; build.py falls back to the reference where the "auto" layout does not fit the board.
KERNEL_SETS = {
    "auto": None,  # the target's own families (Target.kernel_families)
    "ref": (),
    "arm-dsp": ("arm-dsp",),
    "mve": ("mve",),
    "cmsis-nn": ("cmsis-nn",),
    "arm-dsp-int8": ("arm-dsp",),  # the DSP family's old name (its kernels keep int8 weights)
    # int16 weights (twice the flash) for conv and FC, for comparison; the rest from the DSP family
    "arm-dsp-int16": ("arm-dsp-int16", "arm-dsp"),
    "neon": ("neon",),  # baseline Armv8-A NEON, also on a core with the dot product
    "neon-dotprod": ("neon-dotprod", "neon"),  # SDOT where a kernel has it, NEON for the rest
}
# The portable C99 kernels: every --kernels choice may use them.
REFERENCE = ("wzp-ref", "ref")
# A family named by --kernels needs its ISA: asked for on a target without it, it is refused rather
# than silently replaced by the reference.
FAMILY_NEEDS = {"mve": ("mve", "Helium (cortex-m55)"),
                "arm-dsp": ("dsp", "the DSP extension (cortex-m4, m7, m33, m55)"),
                "arm-dsp-int8": ("dsp", "the DSP extension (cortex-m4, m7, m33, m55)"),
                "arm-dsp-int16": ("dsp", "the DSP extension (cortex-m4, m7, m33, m55)"),
                "neon": ("neon", "AArch64 NEON (cortex-a53, a72, a76)"),
                "neon-dotprod": ("dotprod", "the dot-product extension (cortex-a76)")}


@dataclass
class LayerContext:
    """What a variant sees of one layer."""

    node: Node
    graph: Graph
    target: object  # targets.Target
    kernels: str  # the --kernels choice
    index: int  # layer number in execution order
    prefix: str  # C name prefix for this layer's constant arrays

    @property
    def x(self):
        return self.graph.tensor(self.node.inputs[0])

    @property
    def y(self):
        return self.graph.tensor(self.node.outputs[0])

    @cached_property
    def geometry(self) -> Geometry | None:
        """Window, shapes and reduction length, checked (common.layer_geometry); None for an op without."""
        return layer_geometry(self.node, self.graph)


class Variant(Protocol):
    def applies(self, ctx: LayerContext) -> bool: ...  # takes this layer on this target

    def build(self, ctx: LayerContext): ...  # -> codegen.lower.Layer


# op -> (name, variant), tried in this order. The Cortex-A families first (their targets have none of
# the Cortex-M ISA features, nor the reverse), SDOT before baseline NEON; Helium before the DSP
# extension (a Cortex-M55 has both); the DSP families before CMSIS-NN; the weight-zero-point reference
# before the plain one, which ignores a weight zero point. The fast variants take layers with a weight
# zero point too (uint8 models) where they can compute them exactly, and refuse the rest.
TABLE: dict[str, list[tuple[str, Variant]]] = {
    "conv2d": [("neon-dotprod", neon.Conv(dotprod=True)), ("neon", neon.Conv(dotprod=False)),
               ("mve", arm_mve.Conv()), ("arm-dsp-int16", arm_dsp.Conv()), ("arm-dsp", arm_dsp_int8.Conv()),
               ("cmsis-nn", cmsis_nn.ConvLike()), ("wzp-ref", wzp.Conv()), ("ref", ref.Conv())],
    "depthwise_conv2d": [("neon", neon.Depthwise()), ("mve", arm_mve.Depthwise()),
                         # int8 weights for 3x3 (stride_w 1, 2; no weight zero point), else int16 weights
                         ("arm-dsp", arm_dsp.Depthwise3x3()), ("arm-dsp", arm_dsp.Depthwise()),
                         ("cmsis-nn", cmsis_nn.ConvLike()),
                         ("wzp-ref", wzp.Depthwise()), ("ref", ref.Depthwise())],
    "fully_connected": [("neon-dotprod", neon.FullyConnected(dotprod=True)),
                        ("neon", neon.FullyConnected(dotprod=False)), ("mve", arm_mve.FullyConnected()),
                        ("arm-dsp-int16", arm_dsp.FullyConnected()), ("arm-dsp", arm_dsp_int8.FullyConnected()),
                        ("cmsis-nn", cmsis_nn.FullyConnected()),
                        ("wzp-ref", wzp.FullyConnected()), ("ref", ref.FullyConnected())],
    "avg_pool": [("neon", neon.AvgPool()), ("arm-dsp", arm_dsp_pool.AvgPool()), ("cmsis-nn", cmsis_nn.AvgPool()),
                 ("wzp-ref", wzp.AvgPoolHalfUp()), ("ref", ref.AvgPool())],
    "softmax": [("cmsis-nn", cmsis_nn.Softmax()), ("ref", ref.Softmax())],
}


def variants(op: str) -> list[tuple[str, Variant]]:
    """`op`'s table; an op with only a reference kernel (in ref.VARIANTS) needs no entry in TABLE."""
    if op in TABLE:
        return TABLE[op]
    return [("ref", ref.VARIANTS[op])] if op in ref.VARIANTS else []


def select(ctx: LayerContext):
    if ctx.kernels not in KERNEL_SETS:
        raise McuCompileError(f"--kernels {ctx.kernels} is not known; choose from {', '.join(KERNEL_SETS)}")
    if ctx.kernels in FAMILY_NEEDS and not ctx.target.has(FAMILY_NEEDS[ctx.kernels][0]):
        raise McuCompileError(f"--kernels {ctx.kernels} needs {FAMILY_NEEDS[ctx.kernels][1]}; target "
                              f"{ctx.target.name} has no such kernels (use --kernels auto or ref)")
    families = ctx.target.kernel_families if ctx.kernels == "auto" else KERNEL_SETS[ctx.kernels]
    allowed = tuple(families) + REFERENCE
    _ = ctx.geometry  # computed here, so that its checks refuse a layer before any variant is asked
    for name, variant in variants(ctx.node.op):
        if name in allowed and variant.applies(ctx):
            return variant.build(ctx)
    raise McuCompileError(f"node '{ctx.node.name}': op {ctx.node.op} has no kernel")
