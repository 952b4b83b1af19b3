"""A layer's geometry is read and checked once (kernels.select), before any kernel variant is asked."""
from __future__ import annotations

import dataclasses

import pytest

from mcucompile.compiler import compile_graph
from mcucompile.errors import ShapeError, UnsupportedOp
from mcucompile.kernels import TABLE, LayerContext, select
from mcucompile.targets import get_target

from .models import example_model, normal_calibration


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """MobileNetV1 alpha 0.25 at 32x32, 4 classes: stem 3 -> 8 channels at stride 2, then the paper's blocks."""
    calib = normal_calibration(tmp_path_factory.mktemp("geometry") / "calib.npy", seed=3, count=4, resolution=32)
    return compile_graph(example_model(alpha=0.25, resolution=32, classes=4), calib=str(calib))


def _ctx(graph, node, target="cortex-m7", kernels="auto"):
    return LayerContext(node=node, graph=graph, target=get_target(target), kernels=kernels, index=0, prefix="l0")


def _layers(graph, op):
    return [n for n in graph.nodes if n.op == op]


def test_each_layer_type_has_the_figures_of_the_network(graph):
    stem = _ctx(graph, _layers(graph, "conv2d")[0]).geometry
    assert (stem.kernel, stem.strides, stem.in_shape, stem.out_shape, stem.taps) == \
        ((3, 3), (2, 2), (32, 32, 3), (16, 16, 8), 27)
    assert not stem.pointwise
    dw = _ctx(graph, _layers(graph, "depthwise_conv2d")[0]).geometry
    assert (dw.kernel, dw.strides, dw.in_shape, dw.out_shape, dw.taps) == ((3, 3), (1, 1), (16, 16, 8), (16, 16, 8), 9)
    pw = _ctx(graph, _layers(graph, "conv2d")[1]).geometry
    assert (pw.kernel, pw.in_shape, pw.out_shape, pw.taps, pw.pointwise) == ((1, 1), (16, 16, 8), (16, 16, 16), 8, True)
    fc = _ctx(graph, _layers(graph, "fully_connected")[0]).geometry
    assert (fc.in_shape, fc.out_shape, fc.taps) == ((1, 1, 256), (1, 1, 4), 256)
    assert stem.text("conv") == "conv 3x3 stride 2, 32x32x3 -> 16x16x8"


class _MustNotBeAsked:
    """A variant that fails the test if select asks it anything."""

    def applies(self, ctx):
        raise AssertionError(f"variant asked about {ctx.node.name} before its geometry was checked")

    def build(self, ctx):
        raise AssertionError("built")


@pytest.mark.parametrize("target, kernels", [("cortex-m7", "auto"), ("cortex-m55", "auto"), ("cortex-a76", "auto"),
                                             ("host", "ref")])
def test_a_bad_window_is_refused_before_any_variant_on_every_family(graph, monkeypatch, target, kernels):
    node = _layers(graph, "depthwise_conv2d")[0]
    bad = dataclasses.replace(node, attrs={**node.attrs, "pads": (3, 1, 1, 1)})
    monkeypatch.setitem(TABLE, "depthwise_conv2d", [(name, _MustNotBeAsked()) for name, _ in TABLE["depthwise_conv2d"]])
    with pytest.raises(UnsupportedOp, match=f"node '{node.name}': padding \\[3, 1, 1, 1\\] is not smaller than the "
                                            "3x3 kernel"):
        select(_ctx(graph, bad, target, kernels))


def test_a_reduction_too_long_for_int32_is_refused_before_any_variant(graph, monkeypatch):
    node = _layers(graph, "fully_connected")[0]
    x = graph.tensor(node.inputs[0])
    wide = dataclasses.replace(x, shape=(1, 70000))
    monkeypatch.setitem(graph.tensors, x.name, wide)
    w = graph.tensor(node.inputs[1])
    monkeypatch.setitem(graph.tensors, w.name, dataclasses.replace(w, shape=(4, 70000)))
    monkeypatch.setitem(TABLE, "fully_connected", [(name, _MustNotBeAsked()) for name, _ in TABLE["fully_connected"]])
    with pytest.raises(ShapeError, match="a reduction of 70000 taps overflows the int32 accumulator"):
        select(_ctx(graph, node))
