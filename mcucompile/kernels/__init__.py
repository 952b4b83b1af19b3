"""Kernel variants, chosen per layer ahead of time.

Shapes are static, so the compiler decides here which C function runs each layer and lays out the
constants the way that function reads them. Every op has a list of variants, most specialised first;
the first whose `applies` accepts the layer on this target wins, and the portable reference is last
and accepts everything. A variant names the runtime_c files it needs (only those are copied into a
project) and the call template that renders its C call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import McuCompileError
from ..ir import Graph, Node
from . import ref

# Choices for `--kernels`: "auto" takes the best variant the target's ISA allows, "ref" forces the
# portable reference everywhere (for comparisons); a family's name ("arm-dsp", "mve", "cmsis-nn")
# takes only that family's variants and the reference (e.g. the DSP path on a Helium core).
KERNEL_SETS = ("auto", "ref", "arm-dsp", "mve", "cmsis-nn", "arm-dsp-int8")


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


class Variant(Protocol):
    name: str

    def applies(self, ctx: LayerContext) -> bool: ...

    def build(self, ctx: LayerContext): ...  # -> codegen.lower.Layer


# op -> variants, most specialised first. Optimised variants insert themselves ahead of ref.
VARIANTS: dict[str, list] = {op: [variant] for op, variant in ref.VARIANTS.items()}


def register(op: str, variant) -> None:
    """Put `variant` ahead of the reference for `op` (later registrations go first)."""
    VARIANTS.setdefault(op, []).insert(0, variant)


def select(ctx: LayerContext):
    if ctx.kernels not in KERNEL_SETS:
        raise McuCompileError(f"--kernels {ctx.kernels} is not known; choose from {', '.join(KERNEL_SETS)}")
    for variant in VARIANTS.get(ctx.node.op, []):
        if ctx.kernels == "ref" and variant.name != "ref":
            continue
        # A named library (not auto/ref) uses its own variants, and the reference for ops it lacks.
        if ctx.kernels not in ("auto", "ref") and variant.name not in (ctx.kernels, "ref"):
            continue
        if variant.applies(ctx):
            return variant.build(ctx)
    raise McuCompileError(f"node '{ctx.node.name}': op {ctx.node.op} has no kernel")


from . import cmsis_nn  # noqa: E402,F401  (registers --kernels cmsis-nn; needs CMSIS_NN_PATH)
from . import arm_dsp  # noqa: E402,F401  (registers the Cortex-M DSP-extension variants)
from . import arm_mve  # noqa: E402,F401  (Helium variants for cortex-m55; after arm_dsp, so they go first)
from . import arm_dsp_int8  # noqa: E402,F401  (--kernels arm-dsp-int8: DSP kernels reading int8 weights)
from . import wzp  # noqa: E402,F401  (uint8 models: weight zero points; last, so it is tried first)
